"""Mirrors: etcd-io/etcd server/etcdserver/server.go, v3_server.go (processInternalRaftRequestOnce, linearizableReadLoop),
server/etcdserver/apply, and server/embed/config.go (defaults)

An etcd cluster of several members on a simulated network: the API server's writes become Raft proposals,
committed by a quorum and then applied, in log order, to the MVCC store (so the watch events the API server's
watch cache consumes come out of the commit). Reads are linearizable (ReadIndex) or serializable.

The members agree on every committed entry (that is what Raft guarantees), so the model keeps one copy of the
applied state, :attr:`store`: an entry is applied to it when the first member applies it.

Time: the Raft network has its own millisecond clock, kept in step with the cluster's virtual clock. A request
runs the network until its entry is applied, or for etcd's request timeout (``ReqTimeout`` = 5 s + 2 x election
timeout = 7 s), after which it fails with ``etcdserver: request timed out``. Messages between members take 0 ms by
default (members on one LAN, well below the clock's 1 ms resolution). A long idle stretch of the cluster's clock
is simulated for at most :data:`MAX_SYNC_MS` of Raft time; the rest is skipped as if the network had paused.
"""

from __future__ import annotations

from typing import Any, Sequence

from .errors import ErrTimeout, EtcdError
from .mvcc import Compare, MVCCStore, Op, TxnResult
from .raft import ELECTION_TICK, TICK_MS, ProposalDropped, RaftNetwork, StateLeader

#: ReqTimeout() in server/config/config.go: 5 s + 2 x ElectionMs.
REQUEST_TIMEOUT_MS = 5000 + 2 * ELECTION_TICK * TICK_MS
#: The longest stretch of Raft time one catch-up with the cluster's clock simulates.
MAX_SYNC_MS = 5000
#: How often (virtual ms) the cluster's loop lets the etcd members run when nobody is writing.
RAFT_LOOP_MS = 1000


class EtcdCluster:
    """A multi-member etcd. Offers the MVCC store's interface (``txn``, ``put``, ``range``, ``watch``, ...): writes
    go through Raft, reads and watches are served from the applied state."""

    def __init__(self, members: int = 3, seed: int = 0, store: MVCCStore | None = None, *, loop=None,
                 min_delay_ms: int = 0, max_delay_ms: int = 0):
        self.store = store if store is not None else MVCCStore()
        self.loop = loop
        self.net = RaftNetwork(members, seed, on_apply=self._on_apply, on_read_state=self._on_read_state,
                               min_delay_ms=min_delay_ms, max_delay_ms=max_delay_ms)
        self.applied_index = 0
        self._next_id = 0
        self._results: dict[int, Any] = {}
        self._reads: dict[int, int] = {}  # request id -> read index
        self.endpoint = 1  # the member the client talks to; it fails over to the next live member
        self.failed_requests = 0
        self.net.run_until_leader()
        self._emit("etcd.leader", {"leader": self.net.name(self.net.leader()), "term": self.term})

    # -- members ---------------------------------------------------------------------------------------------------
    @property
    def members(self) -> list[str]:
        return [self.net.name(i) for i in self.net.ids]

    @property
    def term(self) -> int:
        return max((r.term for r in self.net.members.values() if r is not None), default=0)

    def leader(self) -> str | None:
        lead = self.net.leader()
        return None if lead is None else self.net.name(lead)

    def has_quorum(self) -> bool:
        """Can a write commit now? (a leader that a quorum of live, connected members follows)."""
        lead = self.net.leader()
        if lead is None:
            return False
        n = len(self.net.ids)
        reach = sum(1 for i in self.net.ids if self.net.members[i] is not None and
                    (i == lead or (self.net.reachable(lead, i) and self.net.reachable(i, lead))))
        return reach >= n // 2 + 1

    def status(self) -> list[dict]:
        """``etcdctl endpoint status``-like rows: member, role, term, log index, commit and applied index."""
        self.sync()
        return self.net.status()

    # -- faults ----------------------------------------------------------------------------------------------------
    def crash(self, member) -> None:
        self.sync()
        self.net.crash(member)
        self._emit("etcd.fault", {"fault": f"crash {self.net.name(self.net.id_of(member))}"})

    def restart(self, member=None) -> None:
        """Restart one member, or every crashed member."""
        self.sync()
        ids = [self.net.id_of(member)] if member is not None else [i for i in self.net.ids
                                                                      if self.net.members[i] is None]
        for i in ids:
            self.net.restart(i)
            self._emit("etcd.fault", {"fault": f"restart {self.net.name(i)}"})

    def isolate(self, member) -> None:
        self.sync()
        self.net.isolate(member)
        self._emit("etcd.fault", {"fault": f"isolate {self.net.name(self.net.id_of(member))}"})

    def partition(self, *groups) -> None:
        """``partition(["etcd-1"], ["etcd-2", "etcd-3"])``: members in different groups cannot talk."""
        self.sync()
        self.net.partition(*groups)
        self._emit("etcd.fault", {"fault": "partition " + " | ".join(",".join(map(str, g)) for g in groups)})

    def heal(self) -> None:
        self.sync()
        self.net.heal()
        self._emit("etcd.fault", {"fault": "heal"})

    # -- time ------------------------------------------------------------------------------------------------------
    def sync(self) -> None:
        """Bring the Raft network's clock up to the cluster's clock."""
        if self.loop is None:
            return
        target = self.loop.now
        net = self.net
        if net.now >= target:
            return
        if target - net.now > MAX_SYNC_MS:
            net.run_until(net.now + MAX_SYNC_MS)
            delta = target - net.now
            net.shift(delta)
        else:
            net.run_until(target)

    def background(self) -> None:
        """The periodic run the cluster's loop schedules, so members catch up even when nobody writes."""
        self.sync()

    # -- applying --------------------------------------------------------------------------------------------------
    def _on_apply(self, member: int, entry) -> None:
        if entry.index <= self.applied_index:
            return  # already applied (by a member that got there first)
        self.applied_index = entry.index
        r = self.net.members[member]
        self.store.raft_term = r.term if r is not None else self.store.raft_term
        if entry.data is None:
            return
        req_id, op, args = entry.data
        try:
            result = getattr(self.store, op)(*args)
        except EtcdError as e:
            result = e
        self._results[req_id] = result

    def _on_read_state(self, member: int, rs) -> None:
        self._reads[rs.request_ctx] = rs.index

    def _endpoint(self) -> int:
        ids = self.net.ids
        start = ids.index(self.endpoint)
        for k in range(len(ids)):
            i = ids[(start + k) % len(ids)]
            if self.net.members[i] is not None:
                self.endpoint = i
                return i
        raise ErrTimeout()

    def _propose(self, op: str, *args) -> Any:
        self.sync()
        self._next_id += 1
        req = self._next_id
        data = (req, op, args)
        net = self.net
        deadline = net.now + REQUEST_TIMEOUT_MS
        member = self._endpoint()
        waiting = not self._try(net.propose, member, data)
        while req not in self._results:
            t = net.next_time()
            if t is None or t > deadline:
                net.run_until(deadline)
                self.failed_requests += 1
                self._emit("etcd.timeout", {"op": op, "member": net.name(member), "leader": self.leader()})
                raise ErrTimeout()
            net.step()
            if waiting and net.members[member] is not None and net.members[member].lead:
                waiting = not self._try(net.propose, member, data)
        result = self._results.pop(req)
        if isinstance(result, EtcdError):
            raise result
        return result

    def _try(self, fn, member, arg) -> bool:
        """Hand a proposal or read to a member. With no leader known, etcd's raft node does not take proposals
        (they wait until a leader appears or the request times out): False then."""
        try:
            fn(member, arg)
            return True
        except (ProposalDropped, ConnectionError):
            return False

    # -- the KV interface ------------------------------------------------------------------------------------------
    def txn(self, compares: Sequence[Compare] = (), success: Sequence[Op] = (),
            failure: Sequence[Op] = ()) -> TxnResult:
        return self._propose("txn", list(compares), list(success), list(failure))

    def put(self, key: str, value: str, lease: int = 0, prev_kv: bool = False):
        return self._propose("put", key, value, lease, prev_kv)

    def delete_range(self, key: str, range_end: str | None = None, prev_kv: bool = False):
        return self._propose("delete_range", key, range_end, prev_kv)

    def compact(self, revision: int) -> None:
        return self._propose("compact", revision)

    def range(self, key: str, range_end: str | None = None, revision: int = 0, limit: int = 0,
              keys_only: bool = False, count_only: bool = False, serializable: bool = False):
        """Range. Linearizable by default: the member asks the leader for a read index (ReadIndex) and answers
        once the state has applied up to it; ``serializable=True`` answers from the applied state at once."""
        if not serializable:
            self.read_index()
        return self.store.range(key, range_end, revision, limit, keys_only, count_only)

    def read_index(self) -> int:
        """Confirm, through a heartbeat round with a quorum, that the leader still leads; return the commit index
        a linearizable read must wait for (etcd's linearizableReadLoop)."""
        self.sync()
        self._next_id += 1
        ctx = ("read", self._next_id)
        net = self.net
        deadline = net.now + REQUEST_TIMEOUT_MS
        member = self._endpoint()
        waiting = not self._try(net.read_index, member, ctx)
        while ctx not in self._reads or self.applied_index < self._reads[ctx]:
            t = net.next_time()
            if t is None or t > deadline:
                net.run_until(deadline)
                self._reads.pop(ctx, None)
                self.failed_requests += 1
                raise ErrTimeout()
            net.step()
            if waiting and net.members[member] is not None and net.members[member].lead:
                waiting = not self._try(net.read_index, member, ctx)
        return self._reads.pop(ctx)

    def __getattr__(self, name: str) -> Any:
        # everything else (revision, get, keys, watch, etcdctl_get, leases, ...) is served by the applied state
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.store, name)

    def _emit(self, kind: str, data: dict) -> None:
        if self.loop is not None:
            self.loop.emit("etcd", kind, "", data, target="etcd")

    def __repr__(self) -> str:
        return f"<EtcdCluster members={len(self.net.ids)} leader={self.leader()} term={self.term}>"
