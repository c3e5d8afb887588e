"""Kubelets at scale: ``NODES`` nodes running ``PODS`` pods, each with a readiness and a liveness probe (httpGet,
period 10 s), for one virtual hour. Prints the wall time of the set-up (build, schedule, start every pod) and of
the virtual hour, the probe, CRI and trace counts, and how many pod-worker syncs and status updates each pod took
to start. Target: the virtual hour in under 60 s of wall time.

Probes are background timers, so ``settle()`` still terminates; the hour is run with ``run(seconds=3600)``.
The kubelets log at the default ``-v=0`` (``verbosity``): a successful probe is then counted (prober_probe_total)
but not traced, as upstream logs it only at V(3); failures, Unhealthy events and result changes are always traced.

    python bench/bench_kubelet.py [nodes] [pods] [virtual seconds] [verbosity]
"""

import sys
import time

from k8slab import Cluster


def probe_total(c) -> int:
    """prober_probe_total summed over every kubelet's probe workers."""
    return sum(pw.probes for n in c.nodes for w in c.node(n).kubelet.workers.values() for r in w.containers
               for pw in r.probes.values())


def count_kubelet_steps(loop) -> dict:
    """Count the kubelets' pod-worker syncs and status-manager updates while pods start (``loop.step`` is
    wrapped; the original is kept under ``"_step"``)."""
    counts = {"sync": 0, "status": 0}
    orig = counts["_step"] = loop.step

    def step():
        t = orig()
        if t is not None and t.component.startswith("kubelet/"):
            if t.label.startswith("sync pod "):
                counts["sync"] += 1
            elif t.label.startswith("status update "):
                counts["status"] += 1
        return t

    loop.step = step
    return counts


def main(nodes: int = 100, pods: int = 3000, seconds: int = 3600, verbosity: int = 0) -> None:
    t = time.perf_counter()
    c = Cluster(nodes=nodes, seed=1, node_cpu="32", node_memory="128Gi", events=False, trace_stages=False,
                coredns_replicas=2)
    for n in c.nodes:
        c.node(n).kubelet.log_verbosity = verbosity
    built = time.perf_counter() - t
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": pods, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                          "name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                          "readinessProbe": dict(probe), "livenessProbe": dict(probe)}]}}}})
    counts = count_kubelet_steps(c.loop)
    t = time.perf_counter()
    c.settle(timeout=1800)
    started = time.perf_counter() - t
    c.loop.step = counts.pop("_step")
    running = sum(1 for p in c.admin.list("pods", "default")["items"] if p["status"].get("phase") == "Running")
    steps0, seq0, probes0 = c.loop.steps, c.trace.last_seq, probe_total(c)
    t, cpu = time.perf_counter(), time.process_time()
    c.run(seconds=seconds)
    hour, hour_cpu = time.perf_counter() - t, time.process_time() - cpu
    probes = probe_total(c) - probes0
    print(f"kubelet: {nodes} nodes, {pods} pods with readiness+liveness probes")
    print(f"kubelet: build {built:.1f} s, schedule and start every pod {started:.1f} s ({running} Running); "
          f"per pod {counts['sync'] / pods:.1f} pod-worker syncs and {counts['status'] / pods:.1f} status updates")
    print(f"kubelet: {seconds} virtual s in {hour:.1f} s wall, {hour_cpu:.1f} s CPU (target < 60 s); "
          f"{c.loop.steps - steps0} steps, {c.trace.last_seq - seq0} trace events, {probes} probes "
          f"(kubelet -v={verbosity})")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
