"""kube-scheduler throughput on upstream's SchedulingBasic shape (test/integration/scheduler_perf: 5,000 nodes,
10,000 pods), with the default profile, through the API: the API server, etcd and the watch cache are real; the
scheduler learns about nodes and pods by informers and writes each binding (POST pods/binding). No kubelets run,
as in scheduler_perf (its nodes are fake too).

Prints: pods/s (target >= 1,000/s; upstream's CI threshold for SchedulingBasic is 680/s), the same per CPU second
of this process (the machine is often shared, so wall time also counts waiting for the CPU), and the cost per pod
against a bare numpy computation of the same filter and score arrays (NodeResourcesFit fit check,
LeastAllocated, BalancedAllocation on cpu/memory, over the nodes the real scheduler examines per pod).

    python bench/bench_scheduler.py [nodes] [pods]
    python bench/bench_scheduler.py spread [nodes ...]

``spread`` runs the shape of bench_settle and bench_controllers for the scheduler alone: nodes that hold the
nginx image, Deployments' ReplicaSets of 100 pods (30 pods per node) behind one Service each, so every pod gets
PodTopologySpread's system default constraints (DefaultSelector) and ImageLocality scores; pods arrive in waves
of 20 per ReplicaSet. Prints CPU microseconds per step for scheduleOne, bindingCycle and the watch handlers.
"""

from __future__ import annotations

import sys
import time

from k8slab.apiserver import APIServer
from k8slab.apiserver.authn import Credentials
from k8slab.client import Client
from k8slab.etcd import MVCCStore
from k8slab.scheduler.algorithm import num_feasible_nodes_to_find
from k8slab.scheduler.scheduler import KubeScheduler
from k8slab.sim import Loop, Trace, component_rng

from bench_settle import time_by_component  # bench/ is the script's directory, first on sys.path


def node(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
            "spec": {},
            "status": {"capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(i: int) -> dict:
    # scheduler_perf's pod-default.yaml: one container, requests cpu 100m memory 500Mi
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i}", "namespace": "default"},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


def scheduler_only(num_nodes: int, images: list | None = None) -> tuple:
    """An API server, a scheduler and ``num_nodes`` Nodes (with ``images`` in their status), nothing else."""
    loop = Loop(Trace())
    server = APIServer(loop, MVCCStore(), 0, trace_stages=False)
    server.bootstrap()
    admin = Client(server, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
    sched = KubeScheduler(server, component_rng(0, "kube-scheduler"), events=False)
    sched.start()
    loop.settle(60_000)
    # the ServiceAccount admission plugin needs the namespace's default ServiceAccount (no controller manager here)
    admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "default", "namespace": "default"}})
    for i in range(num_nodes):
        n = node(i)
        if images:
            n["status"]["images"] = images
        admin.create("nodes", n)
    return loop, server, admin, sched


def run(num_nodes: int, num_pods: int) -> dict:
    loop, server, admin, sched = scheduler_only(num_nodes)
    loop.settle(60_000)
    for i in range(num_pods):
        admin.create("pods", pod(i))
    start, cpu_start = time.perf_counter(), time.process_time()
    loop.settle(3_600_000)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    bound = sum(1 for p in server.cache.get("pods", {}).values() if p["spec"].get("nodeName"))
    return {"elapsed": elapsed, "cpu": cpu, "bound": bound, "scheduled": sched.scheduled, "attempts": sched.attempts}


def numpy_baseline(num_nodes: int, num_pods: int) -> float:
    """The same per-pod arithmetic, vectorized: fit check, LeastAllocated and BalancedAllocation over the
    nodes examined per pod, then argmax, with the chosen node's requests updated."""
    import numpy as np

    examined = num_feasible_nodes_to_find(0, num_nodes)
    alloc_cpu = np.full(num_nodes, 4000, dtype=np.int64)
    alloc_mem = np.full(num_nodes, 32 * 2**30, dtype=np.int64)
    req_cpu = np.zeros(num_nodes, dtype=np.int64)
    req_mem = np.zeros(num_nodes, dtype=np.int64)
    pods_on = np.zeros(num_nodes, dtype=np.int64)
    pc, pm = 100, 500 * 2**20
    start_index = 0
    t, c = time.perf_counter(), time.process_time()
    for _ in range(num_pods):
        idx = (start_index + np.arange(num_nodes)) % num_nodes
        fits = (req_cpu[idx] + pc <= alloc_cpu[idx]) & (req_mem[idx] + pm <= alloc_mem[idx]) & (pods_on[idx] < 110)
        cand = idx[fits][:examined]
        start_index = (start_index + examined) % num_nodes
        rc, rm = req_cpu[cand] + pc, req_mem[cand] + pm
        least = ((alloc_cpu[cand] - rc) * 100 // alloc_cpu[cand] + (alloc_mem[cand] - rm) * 100 // alloc_mem[cand]) // 2
        fc, fm = rc / alloc_cpu[cand], rm / alloc_mem[cand]
        balanced = ((1 - np.abs(fc - fm) / 2) * 100).astype(np.int64)
        total = least + balanced + 300  # TaintToleration: no taints, 100 x 3
        best = cand[int(np.argmax(total))]
        req_cpu[best] += pc
        req_mem[best] += pm
        pods_on[best] += 1
    return time.perf_counter() - t, time.process_time() - c


def run_spread(num_nodes: int, pods_per_node: int = 30, per_replicaset: int = 100, wave: int = 20) -> dict:
    """The settle shape (see the module docstring): returns CPU seconds and steps per scheduler step label."""
    import collections

    loop, server, admin, sched = scheduler_only(
        num_nodes, [{"names": ["docker.io/library/nginx:1.27", "nginx:1.27"], "sizeBytes": 72_000_000}])
    total = num_nodes * pods_per_node
    owners = []
    for d in range(max(1, total // per_replicaset)):
        app = f"app-{d}"
        labels = {"app": app, "pod-template-hash": "5d8f7c9b4"}
        owners.append(admin.create("replicasets", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{app}-5d8f7c9b4", "namespace": "default"},
            "spec": {"replicas": per_replicaset, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}))
        admin.create("services", {"apiVersion": "v1", "kind": "Service",
                                  "metadata": {"name": app, "namespace": "default"},
                                  "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}})
    loop.settle(60_000)
    spent, counts = time_by_component(loop, time.process_time)
    k = 0
    for _ in range(per_replicaset // wave):
        for rs in owners:
            labels = rs["spec"]["selector"]["matchLabels"]
            for _ in range(wave):
                admin.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": f"{rs['metadata']['name']}-{k}", "namespace": "default", "labels": dict(labels),
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                         "uid": rs["metadata"]["uid"], "controller": True}]},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                             "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}]}})
                k += 1
        loop.settle(3_600_000)
    bound = sum(1 for p in server.cache.get("pods", {}).values() if p["spec"].get("nodeName"))
    sched = {k.split(": ", 1)[1]: k for k in counts if k.startswith("kube-scheduler: ")}
    return {"nodes": num_nodes, "pods": k, "bound": bound,
            "spent": {label: spent[k] for label, k in sched.items()},
            "counts": collections.Counter({label: counts[k] for label, k in sched.items()})}


if __name__ == "__main__" and sys.argv[1:2] == ["spread"]:
    for n in [int(a) for a in sys.argv[2:]] or [100, 300, 1000]:
        r = run_spread(n)
        print(f"scheduler, settle shape: {n} nodes, {r['pods']} pods behind Services, {r['bound']} bound; "
              + ", ".join(f"{label} {r['spent'][label] / r['counts'][label] * 1e6:.0f} us CPU x {r['counts'][label]}"
                          for label in ("scheduleOne", "bindingCycle", "watch") if r["counts"][label]), flush=True)
elif __name__ == "__main__":
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    pods = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    r = run(nodes, pods)
    rate = r["bound"] / r["elapsed"]
    base, base_cpu = numpy_baseline(nodes, pods)
    print(f"scheduler: {nodes} nodes, {pods} pods, default profile, through the API: {r['bound']} bound in "
          f"{r['elapsed']:.1f} s -> {rate:.0f} pods/s (target >= 1000; upstream CI threshold 680)")
    print(f"scheduler: CPU time of this process {r['cpu']:.1f} s -> {r['bound'] / r['cpu']:.0f} pods/s per CPU second "
          f"(wall time above includes waiting for the CPU when other processes share the machine)")
    print(f"scheduler: {r['elapsed'] / max(1, r['bound']) * 1e3:.2f} ms per pod; bare numpy filter+score arrays: "
          f"{base / pods * 1e3:.3f} ms per pod; ratio {r['elapsed'] / max(1, r['bound']) / (base / pods):.0f}x")
    print(f"scheduler: in CPU time {r['cpu'] / max(1, r['bound']) * 1e3:.2f} ms per pod against "
          f"{base_cpu / pods * 1e3:.3f} ms; ratio {r['cpu'] / max(1, r['bound']) / (base_cpu / pods):.0f}x")
