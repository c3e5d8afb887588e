"""The Stepper's step time on the tour scenario: Cluster(nodes=3, seed=0), then the 3-replica nginx Deployment and
its Service applied, then ~200 Step clicks. Each timing covers one whole Step: the loop step plus the re-render of
every panel (architecture SVG, events table, changed object). Also prints the time of ``import k8slab`` in a fresh
interpreter. Target: p95 under 20 ms per step.
"""

import statistics
import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster, widgets  # noqa: E402
from k8slab.examples import NGINX  # noqa: E402

STEPS = 200
TARGET_P95_MS = 20.0


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import k8slab; print(time.perf_counter() - t)"
    root = __file__.rsplit("/bench/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    return float(out.stdout.strip())


def run(steps: int = STEPS) -> dict:
    c = Cluster(nodes=3, seed=0)
    c.apply(NGINX)
    t0 = time.perf_counter()
    s = widgets.Stepper(c)
    t_first = time.perf_counter() - t0
    times, renders = [], []
    for _ in range(steps):
        t = time.perf_counter()
        s.step_once()
        times.append((time.perf_counter() - t) * 1000)
        renders.append(s.render_ms)
    pods = c.apiserver.cache["pods"].values()
    running = sum(1 for p in pods if p["metadata"]["namespace"] == "default"
                  and p.get("status", {}).get("phase") == "Running")
    return {"steps": steps, "first_render_s": t_first, "p50": statistics.median(times),
            "p95": percentile(times, 95), "max": max(times), "render_p95": percentile(renders, 95),
            "layouts": s.view.layouts, "running": running, "virtual_s": c.now / 1000}


if __name__ == "__main__":
    r = run()
    imp = min(import_time() for _ in range(3))
    print(f"stepper: {r['steps']} steps of the tour scenario (ends at t={r['virtual_s']:.3f} s virtual, "
          f"{r['running']} nginx pods Running); first layout + render {r['first_render_s'] * 1000:.0f} ms, "
          f"layouts {r['layouts']}")
    print(f"stepper: step + re-render p50 {r['p50']:.2f} ms, p95 {r['p95']:.2f} ms, max {r['max']:.2f} ms "
          f"(re-render alone p95 {r['render_p95']:.2f} ms); target p95 < {TARGET_P95_MS:.0f} ms: "
          f"{'met' if r['p95'] < TARGET_P95_MS else 'MISSED'}")
    print(f"import k8slab (fresh interpreter, best of 3): {imp * 1000:.0f} ms")
