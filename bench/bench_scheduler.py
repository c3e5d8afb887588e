"""kube-scheduler throughput on upstream's SchedulingBasic shape (test/integration/scheduler_perf: 5,000 nodes,
10,000 pods), with the default profile, through the API: the API server, etcd and the watch cache are real; the
scheduler learns about nodes and pods by informers and writes each binding (POST pods/binding). No kubelets run,
as in scheduler_perf (its nodes are fake too).

Prints: pods/s (target >= 1,000/s; upstream's CI threshold for SchedulingBasic is 680/s), the same per CPU second
of this process (the machine is often shared, so wall time also counts waiting for the CPU), and the cost per pod
against a bare numpy computation of the same filter and score arrays (NodeResourcesFit fit check,
LeastAllocated, BalancedAllocation on cpu/memory, over the nodes the real scheduler examines per pod).

    python bench/bench_scheduler.py [nodes] [pods]
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


def run(num_nodes: int, num_pods: int) -> dict:
    loop = Loop(Trace())
    etcd = MVCCStore()
    server = APIServer(loop, etcd, 0, trace_stages=False)
    server.bootstrap()
    admin = Client(server, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
    sched = KubeScheduler(server, component_rng(0, "kube-scheduler"), events=False)
    sched.start()
    loop.settle(60_000)
    # the ServiceAccount admission plugin needs the namespace's default ServiceAccount (no controller manager here)
    admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "default", "namespace": "default"}})
    for i in range(num_nodes):
        admin.create("nodes", node(i))
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


if __name__ == "__main__":
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
