"""Raft throughput and the linearizability run.

1. Committed entries per second of wall time on a 3-member RaftNetwork with no faults: a client keeps proposing
   batches of entries at the leader (as an etcd server hands Raft the proposals it collected since its last Ready),
   and the network runs; counted when the leader applies them. Target: >= 50,000 entries/s.
2. The wall time of the full 1,000-schedule linearizability run of tests/test_linearizability.py (randomized fault
   schedules, each history checked). Target: < 60 s.
3. For scale: a 3-member etcd behind the API server, Cluster(etcd_members=3), settling a 30-pod Deployment.
"""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab import Cluster  # noqa: E402
from k8slab.etcd.raft import RaftNetwork  # noqa: E402
from k8slab.etcd.robustness import run_schedules  # noqa: E402

ENTRIES = 200_000
BATCH = 100
SCHEDULES = 1000


def throughput(entries: int = ENTRIES, batch: int = BATCH) -> tuple[float, int]:
    net = RaftNetwork(3, seed=1)
    lead = net.run_until_leader()
    applied = [0]

    def on_apply(member, entry):
        if member == lead and entry.data is not None:
            applied[0] += 1

    net.on_apply = on_apply
    t0 = time.perf_counter()
    sent = 0
    while sent < entries:
        net.propose_batch(lead, range(sent, sent + batch))
        sent += batch
        net.run(2)
    net.run(100)
    dt = time.perf_counter() - t0
    return applied[0] / dt, applied[0]


def linearizability_run(n: int = SCHEDULES) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    results = run_schedules(range(n))
    dt = time.perf_counter() - t0
    return dt, sum(1 for r in results if r.ok), sum(len(r.history) for r in results)


def cluster_settle() -> tuple[float, float]:
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 30
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""
    Cluster(nodes=3, seed=0)  # warm up
    out = []
    for members in (1, 3):
        t0 = time.perf_counter()
        c = Cluster(nodes=3, seed=0, etcd_members=members)
        c.apply(manifest)
        c.settle()
        out.append(time.perf_counter() - t0)
    return out[0], out[1]


if __name__ == "__main__":
    rate, n = throughput()
    print(f"raft: {n} entries committed and applied on 3 members, no faults: {rate:,.0f} entries/s wall "
          f"(target >= 50,000)")
    dt, ok, ops = linearizability_run()
    print(f"raft: {SCHEDULES} fault schedules, {ops} client operations checked: {dt:.2f} s wall, "
          f"{ok}/{SCHEDULES} linearizable with no lost write (target < 60 s)")
    one, three = cluster_settle()
    print(f"raft: Cluster(nodes=3) + 30-pod Deployment settled: etcd_members=1 {one:.2f} s, "
          f"etcd_members=3 {three:.2f} s wall")
