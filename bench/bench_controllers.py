"""Controllers at scale. (1) A rolling update of a 1,000-replica Deployment on 100 nodes, from the new template to
every pod replaced (target < 10 s wall). (2) Settle time for Deployments of 30 pods per node at 100, 300 and
1,000 nodes (target: 1,000 nodes / 30,000 pods < 60 s), to show how it grows. Prints wall times, and the
settle's CPU time (which other processes on the machine do not inflate).

    python bench/bench_controllers.py            # everything
    python bench/bench_controllers.py rollout    # only the rolling update
    python bench/bench_controllers.py 100 300    # only these cluster sizes
"""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster  # noqa: E402


def deployment(name: str, replicas: int, image: str = "nginx:1.27") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: {image}
        resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
"""


def rollout(nodes: int = 100, replicas: int = 1000, seed: int = 0) -> dict:
    c = Cluster(nodes=nodes, seed=seed, events=False, trace_stages=False)
    c.apply(deployment("big", replicas))
    t0 = time.perf_counter()
    c.settle(timeout=3600)
    t_create = time.perf_counter() - t0
    v0 = c.now
    c.apply(deployment("big", replicas, "nginx:1.28"))
    t1 = time.perf_counter()
    steps = c.settle(timeout=3600)
    t_roll = time.perf_counter() - t1
    pods = [p for p in c.apiserver.cache["pods"].values() if (p["metadata"].get("labels") or {}).get("app") == "big"]
    updated = sum(1 for p in pods if p["spec"]["containers"][0]["image"] == "nginx:1.28"
                  and p["status"].get("phase") == "Running")
    return {"replicas": replicas, "nodes": nodes, "create_s": t_create, "rollout_s": t_roll, "steps": steps,
            "virtual_s": (c.now - v0) / 1000, "updated_running": updated, "pods": len(pods)}


def settle(nodes: int, pods_per_node: int = 30, per_deployment: int = 100, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    # a /24 per node: the default 10.244.0.0/16 has room for 256 nodes, so larger clusters get a /11
    pod_cidr = "10.244.0.0/16" if nodes <= 250 else "10.64.0.0/11"
    c = Cluster(nodes=nodes, seed=seed, events=False, trace_stages=False, coredns_replicas=2, pod_cidr=pod_cidr)
    t_build = time.perf_counter() - t0
    total = nodes * pods_per_node
    t1, cpu1 = time.perf_counter(), time.process_time()
    for i in range(total // per_deployment):
        c.apply(deployment(f"app-{i}", per_deployment))
    steps = c.settle(timeout=7200)
    t_settle, cpu_settle = time.perf_counter() - t1, time.process_time() - cpu1
    running = sum(1 for p in c.apiserver.cache["pods"].values()
                  if p["metadata"]["namespace"] == "default" and p["status"].get("phase") == "Running")
    return {"nodes": nodes, "pods": total, "running": running, "build_s": t_build, "settle_s": t_settle,
            "settle_cpu_s": cpu_settle,
            "steps": steps, "virtual_s": c.now / 1000}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv if a.isdigit()] or ([] if "rollout" in argv else [100, 300, 1000])
    if not argv or "rollout" in argv:
        r = rollout()
        print(f"rolling update: {r['replicas']} replicas on {r['nodes']} nodes: created in {r['create_s']:.1f} s, "
              f"rolled in {r['rollout_s']:.1f} s wall ({r['virtual_s']:.0f} s virtual, {r['steps']} steps); "
              f"{r['updated_running']}/{r['pods']} pods on the new image and Running (target < 10 s)", flush=True)
    for n in sizes:
        r = settle(n)
        print(f"settle: {r['nodes']:>5} nodes, {r['pods']:>6} pods: build {r['build_s']:.1f} s, settle "
              f"{r['settle_s']:.1f} s wall, {r['settle_cpu_s']:.1f} s CPU ({r['virtual_s']:.0f} s virtual, "
              f"{r['steps']} steps, {r['settle_s'] / r['pods'] * 1e3:.2f} ms per pod); {r['running']} Running",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
