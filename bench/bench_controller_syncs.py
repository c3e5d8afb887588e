"""Per-sync cost of the ReplicaSet, Deployment, EndpointSlice and Endpoints controllers while a cluster settles,
split into the time inside API calls (``client.create/update/...``: the API server's validation, admission, storage
and watch fan-out) and the controller's own code. CPU time of this process, so other processes on the machine do
not inflate it. Prints one line per controller.

    python bench/bench_controller_syncs.py             # bench_settle: 100 nodes, 30 Deployments + Services
    python bench/bench_controller_syncs.py 300         # bench_controllers.settle(300): Deployments only
"""

import collections
import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
sys.path.insert(0, __file__.rsplit("/", 1)[0])

import bench_controllers  # noqa: E402
import bench_settle  # noqa: E402
from k8slab.controllers import base  # noqa: E402

NAMES = ("replicaset", "deployment", "endpointslice", "endpoints")
API_METHODS = ("create", "update", "update_status", "patch", "delete")


def measure(run) -> tuple[dict, dict]:
    total: collections.Counter = collections.Counter()
    api: collections.Counter = collections.Counter()
    syncs: collections.Counter = collections.Counter()
    writes: collections.Counter = collections.Counter()
    depth = [0]
    wrapped = set()

    def wrap_client(ctrl) -> None:
        for m in API_METHODS:
            f = getattr(ctrl.client, m)

            def call(*a, _f=f, _m=m, **kw):
                depth[0] += 1
                t0 = time.process_time()
                try:
                    return _f(*a, **kw)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:  # update_status calls update: count the outer call only
                        api[ctrl.NAME] += time.process_time() - t0
                        writes[ctrl.NAME, _m] += 1
            setattr(ctrl.client, m, call)

    orig = base.Controller.process_next_work_item

    def process_next_work_item(self, key):
        if self.NAME not in NAMES:
            return orig(self, key)
        if id(self) not in wrapped:
            wrapped.add(id(self))
            wrap_client(self)
        t0 = time.process_time()
        try:
            return orig(self, key)
        finally:
            total[self.NAME] += time.process_time() - t0
            syncs[self.NAME] += 1

    base.Controller.process_next_work_item = process_next_work_item
    try:
        result = run()
    finally:
        base.Controller.process_next_work_item = orig
    rows = {}
    for k in NAMES:
        if syncs[k]:
            rows[k] = {"syncs": syncs[k], "us_per_sync": total[k] / syncs[k] * 1e6,
                       "api_us": api[k] / syncs[k] * 1e6, "own_us": (total[k] - api[k]) / syncs[k] * 1e6,
                       "writes": {m: n for (c, m), n in sorted(writes.items()) if c == k}}
    return result, rows


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()]
    run = (lambda: bench_controllers.settle(sizes[0])) if sizes else bench_settle.run
    result, rows = measure(run)
    print(f"{'bench_controllers.settle(%d)' % sizes[0] if sizes else 'bench_settle'}: {result['nodes']} nodes, "
          f"{result['pods']} pods, settled in {result['settle_s']:.1f} s wall")
    for k, r in rows.items():
        w = " ".join(f"{m}={n}" for m, n in r["writes"].items())
        print(f"  {k:14s} {r['syncs']:6d} syncs {r['us_per_sync']:6.0f} us/sync CPU: in API calls "
              f"{r['api_us']:5.0f} us, own code {r['own_us']:5.0f} us   ({w})")
