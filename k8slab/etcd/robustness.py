"""Mirrors: etcd-io/etcd tests/robustness (traffic + failpoints + validation), in the spirit of Jepsen

One *schedule*: a Raft cluster of 3 to 5 members on a :class:`~k8slab.etcd.raft.RaftNetwork`, a few clients
sending puts and linearizable gets to random members, and faults at random moments (crash, restart, isolate a
member or the leader, partition, lossy links, heal). Each member applies committed entries to its own key-value
state machine; a put is acknowledged when the member the client talked to has applied it (as etcd's server waits
for its own apply), a linearizable get when that member has a read index (ReadIndex) and has applied up to it.
A request that gets no answer in time is abandoned: a put then has an unknown outcome, a get is dropped.

At the end every fault is healed and the cluster catches up. The history must be linearizable
(:func:`~k8slab.etcd.linearizability.check_history`), and every acknowledged put must be in every member's log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..sim.rng import component_rng
from .linearizability import INF, CheckResult, Operation, check_history
from .raft import ProposalDropped, RaftNetwork

REQUEST_TIMEOUT_MS = 1500
KEYS = ("a", "b", "c")


@dataclass
class ScheduleResult:
    seed: int
    members: int
    history: list
    faults: list
    check: CheckResult
    lost_writes: list = field(default_factory=list)
    leaders: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.check) and not self.lost_writes


class _Pending:
    __slots__ = ("op", "member", "deadline", "read_index")

    def __init__(self, op, member, deadline):
        self.op, self.member, self.deadline, self.read_index = op, member, deadline, None


class KVCluster:
    """Members with their own state machine (a dict) on a RaftNetwork, serving client puts and gets."""

    def __init__(self, n: int, seed: int, serializable_reads: bool = False, **net_kw):
        self.serializable_reads = serializable_reads
        self.net = RaftNetwork(n, seed, on_apply=self._apply, on_read_state=self._read_state, **net_kw)
        self.kv = {i: {} for i in self.net.ids}
        self.pending: dict[int, _Pending] = {}  # op id -> waiting request
        self.reads_waiting: dict[int, list[_Pending]] = {i: [] for i in self.net.ids}
        self.done: list[tuple[_Pending, object]] = []

    def _apply(self, member, entry):
        if entry.data is None:  # a new leader's empty entry
            self._serve_reads(member)
            return
        op_id, key, value = entry.data
        self.kv[member][key] = value
        p = self.pending.get(op_id)
        if p is not None and p.member == member:
            del self.pending[op_id]
            p.op.ret = self.net.now
            self.done.append((p, None))
        self._serve_reads(member)

    def _read_state(self, member, rs):
        p = self.pending.get(rs.request_ctx)
        if p is None or p.member != member:
            return
        p.read_index = rs.index
        self.reads_waiting[member].append(p)
        self._serve_reads(member)

    def _serve_reads(self, member):
        waiting = self.reads_waiting[member]
        if not waiting:
            return
        r = self.net.members[member]
        applied = r.raft_log.applied if r is not None else -1
        keep = []
        for p in waiting:
            if p.op.id not in self.pending:
                continue
            # served once this member's state machine has caught up with the read index
            if p.read_index <= applied:
                del self.pending[p.op.id]
                p.op.value = self.kv[member].get(p.op.key)
                p.op.ret = self.net.now
                self.done.append((p, p.op.value))
            else:
                keep.append(p)
        self.reads_waiting[member] = keep

    def submit(self, op: Operation, member: int) -> bool:
        """Start a request at ``member``; False if the member refused it at once (down, or no leader known)."""
        p = _Pending(op, member, self.net.now + REQUEST_TIMEOUT_MS)
        if op.kind == "get" and self.serializable_reads:
            # Serializable: the member answers from its own state machine, without asking the leader.
            if self.net.members[member] is None:
                return False
            op.value = self.kv[member].get(op.key)
            op.ret = self.net.now
            self.done.append((p, op.value))
            return True
        self.pending[op.id] = p
        try:
            if op.kind == "put":
                self.net.propose(member, (op.id, op.key, op.value))
            else:
                self.net.read_index(member, op.id)
        except (ProposalDropped, ConnectionError):
            self.pending.pop(op.id, None)
            return False
        return True

    def expire(self) -> list[_Pending]:
        """Abandon requests past their deadline and those at a crashed member."""
        now = self.net.now
        gone = [p for p in self.pending.values() if p.deadline <= now or self.net.members[p.member] is None]
        for p in gone:
            del self.pending[p.op.id]
        return gone

    def crash(self, member):
        self.net.crash(member)
        self.reads_waiting[member] = []

    def restart(self, member):
        self.kv[member] = {}
        self.net.restart(member)


def run_schedule(seed: int, *, steps: int = 24, clients: int = 3, serializable_reads: bool = False) -> ScheduleResult:
    """Run one seeded fault schedule and check its history. With ``serializable_reads`` gets are answered from
    the member's own state, as ``etcdctl get --consistency=s`` is: fast, but possibly stale."""
    rng = component_rng(seed, "robustness")
    n = rng.choice((3, 3, 4, 5))
    c = KVCluster(n, seed, serializable_reads, max_delay_ms=rng.choice((2, 10, 40)))
    net = c.net
    history: list[Operation] = []
    faults: list[tuple[int, str]] = []
    busy: dict[int, _Pending | None] = dict.fromkeys(range(clients))
    next_id = 1
    net.run_until_leader(5000)
    for _ in range(steps):
        # faults
        roll = rng.random()
        who = rng.choice(net.ids)
        if roll < 0.12:
            c.crash(who)
            faults.append((net.now, f"crash {net.name(who)}"))
        elif roll < 0.24:
            down = [i for i in net.ids if net.members[i] is None]
            if down:
                back = rng.choice(down)
                c.restart(back)
                faults.append((net.now, f"restart {net.name(back)}"))
        elif roll < 0.32:
            lead = net.leader()
            if lead is not None:
                net.isolate(lead)
                faults.append((net.now, f"isolate leader {net.name(lead)}"))
        elif roll < 0.38:
            group = rng.sample(net.ids, rng.randint(1, max(1, n // 2)))
            net.partition(group)
            faults.append((net.now, "partition " + ",".join(net.name(i) for i in group)))
        elif roll < 0.44:
            a, b = rng.sample(net.ids, 2)
            net.drop(a, b, 0.5)
            faults.append((net.now, f"drop 50% {net.name(a)}->{net.name(b)}"))
        elif roll < 0.56:
            net.heal()
            faults.append((net.now, "heal"))
        # traffic: each idle client starts one request at a random member
        for cl in busy:
            if busy[cl] is not None:
                continue
            key = rng.choice(KEYS)
            if rng.random() < 0.5:
                op = Operation(cl, "put", key, next_id, call=net.now, id=next_id)
            else:
                op = Operation(cl, "get", key, None, call=net.now, id=next_id)
            next_id += 1
            if c.submit(op, rng.choice(net.ids)):
                busy[cl] = c.pending.get(op.id)
                history.append(op)
        net.run(rng.randint(20, 400))
        _collect(c, busy)
    # heal everything and let the cluster catch up
    net.heal()
    for i in net.ids:
        if net.members[i] is None:
            c.restart(i)
    net.run(REQUEST_TIMEOUT_MS + 3000)
    _collect(c, busy)
    for p in c.expire():
        busy[p.op.client] = None
    # abandoned gets say nothing; abandoned puts stay with an unknown outcome (ret = INF)
    history = [op for op in history if not (op.kind == "get" and op.ret == INF)]
    lost = []
    acked = {op.id for op in history if op.kind == "put" and op.ret != INF}
    for i in net.ids:
        log = net.members[i].raft_log
        have = {e.data[0] for e in log.entries[1:log.committed + 1] if e.data is not None}
        lost.extend((net.name(i), x) for x in sorted(acked - have))
    leaders = len({term for _, _, state, term in net.history if state == "StateLeader"})
    return ScheduleResult(seed, n, history, faults, check_history(history), lost, leaders)


def _collect(c: KVCluster, busy: dict) -> None:
    for p, _ in c.done:
        busy[p.op.client] = None
    c.done.clear()
    for p in c.expire():
        busy[p.op.client] = None


def run_schedules(seeds, **kw) -> list[ScheduleResult]:
    return [run_schedule(s, **kw) for s in seeds]
