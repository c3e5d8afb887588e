"""Run every bench/bench_*.py script in turn and print its output.

Each script runs in its own interpreter (the one running this file), from the repository root, and
prints its own figures. Exits non-zero if any script fails.

    python bench/run_all.py            # all benchmarks
    python bench/run_all.py scheduler  # only those whose file name contains "scheduler"
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def main(argv: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(word in s.name for word in argv)]
    if not scripts:
        print("no bench/bench_*.py scripts found")
        return 0
    failed = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=REPO_ROOT)
        elapsed = time.perf_counter() - start
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"--- {script.name}: {status} in {elapsed:.1f} s\n", flush=True)
        if code:
            failed.append(script.name)
    print(f"{len(scripts) - len(failed)} of {len(scripts)} benchmark scripts ran successfully")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
