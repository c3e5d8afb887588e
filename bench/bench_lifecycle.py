"""Lifecycle controllers at scale. (1) A node failure on clusters of 100, 300 and 1,000 nodes, each running
2 pods per node: one kubelet stops, and the cluster runs 400 s of virtual time, through Unknown (about 55 s),
the NoExecute taint and the eviction of the node's pods (about 360 s); prints wall time per virtual second of node
monitoring. (2) Deleting a namespace holding 500 ConfigMaps and a 100-pod Deployment. (3) Creating 1,000 custom
objects validated against a CRD schema."""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster  # noqa: E402
from k8slab.exercises.lifecycle import WIDGET_CRD  # noqa: E402


def deployment(name: str, replicas: int, namespace: str = "default") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx",
                                                           "resources": {"requests": {"cpu": "10m"}}}]}}}}


def node_failure(nodes: int) -> None:
    t = time.perf_counter()
    # a /12 cluster CIDR: the default /16 has room for only 256 node /24s, and nodes without a pod CIDR stay
    # NotReady (and, rate-limited, get tainted not-ready:NoExecute ahead of the node under test)
    c = Cluster(nodes=nodes, seed=0, events=False, trace_stages=False, pod_cidr="10.128.0.0/12")
    c.apply(deployment("app", nodes * 2))
    c.settle()
    built = time.perf_counter() - t
    t0 = c.now
    t = time.perf_counter()
    c.node("node-1").kubelet.stop()
    c.run(seconds=400)
    wall = time.perf_counter() - t
    ev = [e for e in c.trace if e.time >= t0 and e.kind == "eviction"]
    unknown = next(e.time for e in c.trace if e.kind == "node.unknown" and e.ref == "nodes/node-1")
    print(f"node failure, {nodes} nodes / {nodes * 2} pods: build+settle {built:.1f} s; 400 virtual s after "
          f"kubelet.stop() in {wall:.1f} s wall; Unknown at {(unknown - t0) / 1000:.0f} s, {len(ev)} pods evicted "
          f"at {(ev[0].time - t0) / 1000:.0f} s" if ev else "no eviction", flush=True)


def namespace_deletion() -> None:
    c = Cluster(nodes=10, seed=0, events=False, trace_stages=False)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}})
    c.settle()
    for i in range(500):
        c.admin.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": f"cm-{i}", "namespace": "big"}, "data": {"i": str(i)}})
    c.apply(deployment("app", 100, "big"))
    c.settle()
    t = time.perf_counter()
    c.delete("namespace", "big")
    c.run(seconds=120)
    gone = not any(ns["metadata"]["name"] == "big" for ns in c.get("namespaces"))
    print(f"namespace with 500 ConfigMaps and 100 pods deleted: {gone}, 120 virtual s in "
          f"{time.perf_counter() - t:.2f} s wall", flush=True)


def custom_objects() -> None:
    c = Cluster(nodes=1, seed=0, events=False, trace_stages=False)
    c.apply(WIDGET_CRD)
    c.settle()
    t = time.perf_counter()
    for i in range(1000):
        c.admin.create("widgets", {"apiVersion": "example.com/v1", "kind": "Widget",
                                   "metadata": {"name": f"w-{i}", "namespace": "default"},
                                   "spec": {"size": 1 + i % 10}}, namespace="default")
    dt = time.perf_counter() - t
    print(f"1,000 Widgets created through schema validation, defaulting and pruning: {dt:.2f} s "
          f"({dt:.2f} ms each)", flush=True)


if __name__ == "__main__":
    for n in (100, 300, 1000):
        node_failure(n)
    namespace_deletion()
    custom_objects()
