"""Import time of k8slab in a fresh interpreter: ``import k8slab`` and ``from k8slab import Cluster`` (which loads
every core component), each best of 5, minus the interpreter's own start-up. Target: under 0.3 s."""

import subprocess
import sys
import time


def best(code: str, runs: int = 5) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        out.append(time.perf_counter() - t)
    return min(out)


if __name__ == "__main__":
    base = best("pass")
    for code in ("import k8slab", "from k8slab import Cluster"):
        print(f"import: {code!r}: {(best(code) - base) * 1000:.0f} ms (target < 300 ms)")
