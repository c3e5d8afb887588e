"""A 100-node cluster, 30 Deployments of 100 pods (3,000 pods) behind 30 Services, from apply to settled:
every pod Running, every EndpointSlice complete and every kube-proxy's rules current. Prints wall time."""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster  # noqa: E402


def manifest(i: int, replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{{name: http, containerPort: 80}}]
        resources: {{requests: {{cpu: 50m, memory: 32Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


def run(nodes: int = 100, deployments: int = 30, replicas: int = 100, seed: int = 0, **cluster_args) -> dict:
    t0 = time.perf_counter()
    c = Cluster(nodes=nodes, seed=seed, **cluster_args)
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(deployments):
        c.apply(manifest(i, replicas))
    steps = c.settle(timeout=3600)
    t_settle = time.perf_counter() - t1
    pods = c.apiserver.cache["pods"].values()
    running = sum(1 for p in pods if p["status"].get("phase") == "Running" and
                  p["metadata"]["namespace"] == "default")
    endpoints = sum(len(s.get("endpoints") or []) for s in c.apiserver.cache["endpointslices"].values()
                    if s["metadata"]["namespace"] == "default")
    stale = sum(1 for n in c.nodes if c.node(n).kube_proxy.pending_changes)
    return {"nodes": nodes, "pods": deployments * replicas, "running": running, "endpoints": endpoints,
            "proxies_with_pending_changes": stale, "build_s": t_build, "settle_s": t_settle, "steps": steps,
            "virtual_s": c.now / 1000, "trace_events": len(c.trace)}


def time_by_component(loop, clock=time.perf_counter) -> tuple:
    """Wrap ``loop.step`` to add up time (wall time unless another ``clock`` is given) per (component, callback
    label) family."""
    import collections

    spent: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    orig = loop.step

    def step():
        t0 = clock()
        t = orig()
        if t is not None:
            comp = t.component.split("/")[0]
            if comp == "kube-controller-manager" and "/" in t.component:
                comp = t.component
            k = f"{comp}: {t.label.split(' ')[0]}"
            spent[k] += clock() - t0
            counts[k] += 1
        return t

    loop.step = step
    return spent, counts


if __name__ == "__main__":
    if "--by-component" in sys.argv:
        import k8slab.sim.loop as _loop

        _orig_init = _loop.Loop.__init__
        tallies = []

        def _init(self, *a, **kw):
            _orig_init(self, *a, **kw)
            tallies.append(time_by_component(self))

        _loop.Loop.__init__ = _init
        r = run()
        spent, counts = tallies[-1]
        for k, v in spent.most_common(12):
            print(f"  {v:7.2f} s  {counts[k]:7d} steps  {v / counts[k] * 1e6:7.0f} us/step  {k}")
    else:
        r = run()
    print(f"settle: {r['nodes']} nodes, {r['pods']} pods: cluster built in {r['build_s']:.2f} s, "
          f"apply+settle {r['settle_s']:.2f} s wall ({r['steps']} steps, {r['virtual_s']:.1f} s virtual, "
          f"{r['trace_events']} trace events); running {r['running']}, endpoints {r['endpoints']}, "
          f"kube-proxies with pending changes {r['proxies_with_pending_changes']}")
