"""Pod networking: NetworkPolicy evaluation and the hop-by-hop walk. Prints wall times.

1. The e2e-style reachability matrix (every pod to every pod, one port) for 100 pods in 10 namespaces under 40
   policies: 10,000 connections, each checked for egress at the source and ingress at the destination.
2. ``Cluster.trace_route`` (DNS lookup, kube-proxy DNAT, routes, VXLAN, policy) in a 4-worker cluster running
   80 pods behind 20 Services, with 20 policies.
"""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster  # noqa: E402
from k8slab.api.defaults import apply_defaults  # noqa: E402
from k8slab.cni.policy import reachability  # noqa: E402


def policy(name: str, ns: str, spec: dict) -> dict:
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": ns}, "spec": spec}
    apply_defaults(obj)
    return obj


def matrix_bench() -> None:
    pods, labels = [], {}
    for n in range(10):
        ns = f"ns-{n}"
        labels[ns] = {"kubernetes.io/metadata.name": ns, "tier": "a" if n % 2 else "b"}
        for i in range(10):
            pods.append({"metadata": {"name": f"p{i}", "namespace": ns, "uid": f"{ns}-{i}",
                                      "labels": {"app": f"app-{i % 3}", "role": "db" if i == 0 else "web"}},
                         "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 80}]}]},
                         "status": {"podIP": f"10.244.{n}.{i + 2}", "phase": "Running"}})
    pols = []
    for n in range(10):
        ns = f"ns-{n}"
        pols.append(policy("deny", ns, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
        pols.append(policy("web", ns, {"podSelector": {"matchLabels": {"role": "web"}}, "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {"tier": "a"}}}], "ports": [{"port": "http"}]}]}))
        pols.append(policy("db", ns, {"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"role": "web"}}}], "ports": [{"port": 80}]}]}))
        pols.append(policy("egress", ns, {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"10.244.{n}.0/24"]}}]}]}))
    t = time.perf_counter()
    m = reachability(pols, pods, labels, 80)
    dt = time.perf_counter() - t
    allowed = sum(m.values())
    print(f"reachability: {len(pods)} pods, {len(pols)} policies, {len(m)} connections in {dt * 1000:.0f} ms "
          f"({dt / len(m) * 1e6:.1f} us each); {allowed} allowed")


def trace_bench() -> None:
    c = Cluster(nodes=4, seed=0)
    docs = []
    for i in range(20):
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}"},
                     "spec": {"replicas": 4, "selector": {"matchLabels": {"app": f"app-{i}"}},
                              "template": {"metadata": {"labels": {"app": f"app-{i}"}},
                                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"app-{i}"},
                     "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80}]}})
        prev = {"podSelector": {"matchLabels": {"app": f"app-{(i + 19) % 20}"}}}
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"p-{i}"},
                     "spec": {"podSelector": {"matchLabels": {"app": f"app-{i}"}}, "ingress": [{"from": [prev]}]}})
    c.apply(docs)
    c.run(seconds=90)
    client = next(p["metadata"]["name"] for p in c.get("pods") if p["metadata"]["name"].startswith("app-0-"))
    n = 200
    t = time.perf_counter()
    ok = sum(c.trace_route(f"app-{i % 20}", 80, from_pod=client).ok for i in range(n))
    dt = time.perf_counter() - t
    print(f"trace_route: {len(c.get('pods'))} pods, 20 Services, 20 policies: {dt / n * 1000:.2f} ms per walk "
          f"({ok}/{n} connected)")


if __name__ == "__main__":
    matrix_bench()
    trace_bench()
