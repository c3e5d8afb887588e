"""Import time of k8slab in a fresh interpreter: ``import k8slab`` and ``from k8slab import Cluster`` (which loads
every core component), each best of 5, minus the interpreter's own start-up. Target: under 0.3 s.

Measured twice: with compiled bytecode cached in ``__pycache__`` (how Python normally runs, after the first
import), and compiling every module from source each time (what happens when ``PYTHONDONTWRITEBYTECODE`` is set
and no bytecode was ever written)."""

import os
import subprocess
import sys
import tempfile
import time


def best(code: str, env: dict, runs: int = 5) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        out.append(time.perf_counter() - t)
    return min(out)


if __name__ == "__main__":
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import k8slab.cluster"], check=True, env=cached)  # writes the bytecode
    # an empty bytecode directory that is never written to: every module is compiled from source
    source = dict(cached, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=tempfile.mkdtemp())
    for label, env, note in (("bytecode cached", cached, " (target < 300 ms)"), ("compiled from source", source, "")):
        base = best("pass", env)
        for code in ("import k8slab", "from k8slab import Cluster"):
            print(f"import ({label}): {code!r}: {max(0.0, best(code, env) - base) * 1000:.0f} ms{note}")
