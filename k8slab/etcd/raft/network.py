"""Mirrors: etcd-io/raft rafttest/interaction_env*.go and the shape of etcd's rafthttp transport (one ordered stream
per pair of members)

A simulated network for Raft members, with its own virtual clock in integer milliseconds. Each member ticks every
``tick_ms`` (etcd's heartbeat interval, 100 ms) with its own phase; each message takes a random delay on its link and
links are FIFO, like etcd's streams. Faults: ``drop`` (a probability per link), ``cut`` (both directions of a link),
``isolate`` (every link of a member), ``partition`` (groups that cannot reach each other), ``heal`` (undo all of
them), ``crash`` and ``restart`` (the member loses everything but what it persisted: log, term, vote, commit).

Each member is a :class:`~k8slab.etcd.raft.raft.Raft` state machine; after each event the network takes the member's
Ready: it sends the messages, hands committed entries to ``on_apply(id, entry)`` and read states to
``on_read_state(id, read_state)``. Everything is seeded, so a run replays exactly.
"""

from __future__ import annotations

import heapq
import random

from ...sim.rng import component_rng
from .log import RaftLog
from .raft import TICK_MS, Config, ProposalDropped, Raft, StateLeader
from .raftpb import Entry, HardState, Message, MsgProp

_TICK, _MSG = 0, 1


class RaftNetwork:
    def __init__(self, n: int = 3, seed: int = 0, *, election_tick: int = 10, heartbeat_tick: int = 1,
                 pre_vote: bool = True, check_quorum: bool = True, tick_ms: int = TICK_MS,
                 min_delay_ms: int = 1, max_delay_ms: int = 10, on_apply=None, on_read_state=None):
        if n < 1:
            raise ValueError("a Raft cluster needs at least one member")
        self.ids = tuple(range(1, n + 1))
        self.seed = seed
        self.rng = component_rng(seed, "raft-network")
        self.tick_ms = tick_ms
        self.min_delay_ms, self.max_delay_ms = min_delay_ms, max_delay_ms
        self._cfg = dict(election_tick=election_tick, heartbeat_tick=heartbeat_tick, pre_vote=pre_vote,
                         check_quorum=check_quorum)
        self.on_apply = on_apply
        self.on_read_state = on_read_state
        self.now = 0
        self._seq = 0
        self._heap: list = []
        self.members: dict[int, Raft | None] = {}
        self._stable: dict[int, tuple[RaftLog, HardState]] = {}
        self._gen = dict.fromkeys(self.ids, 0)
        self._link_free: dict[tuple[int, int], int] = {}
        self.cut_links: set[tuple[int, int]] = set()
        self.drop_rate: dict[tuple[int, int], float] = {}
        self.delivered = 0
        self.dropped = 0
        self.history: list[tuple[int, int, str, int]] = []  # (time ms, id, state, term) at every role change
        self._last_role: dict[int, tuple[str, int]] = {}
        for id in self.ids:
            self._start(id, RaftLog(), HardState())

    # -- members ---------------------------------------------------------------------------------------------------
    @staticmethod
    def name(id: int) -> str:
        return f"etcd-{id}"

    def id_of(self, member) -> int:
        if isinstance(member, int):
            if member not in self.members:
                raise KeyError(f"no etcd member {member}")
            return member
        if isinstance(member, str) and member.startswith("etcd-") and member[5:].isdigit() \
                and int(member[5:]) in self.members:
            return int(member[5:])
        raise KeyError(f"no etcd member {member!r} (members: {', '.join(self.name(i) for i in self.ids)})")

    def _start(self, id: int, log: RaftLog, hs: HardState) -> None:
        gen = self._gen[id] = self._gen[id] + 1
        rng = component_rng(self.seed, f"{self.name(id)}#{gen}")
        r = Raft(Config(id, self.ids, **self._cfg), rng, log=log, hard_state=hs)
        self.members[id] = r
        self._stable[id] = (log, hs)
        self._record(r)
        phase = rng.randrange(self.tick_ms)
        self._push(self.now + phase + 1, _TICK, id, gen)

    def crash(self, member) -> None:
        """Stop a member. What it persisted (its log, term, vote and commit index) survives; everything else (its
        role, who it thinks leads, its progress tracking, messages it had not sent) is lost."""
        id = self.id_of(member)
        r = self.members[id]
        if r is None:
            return
        self._stable[id] = (r.raft_log, r.hard_state())
        self.members[id] = None
        self.history.append((self.now, id, "Crashed", r.term))
        self._last_role[id] = ("Crashed", r.term)

    def restart(self, member) -> None:
        id = self.id_of(member)
        if self.members[id] is not None:
            return
        log, hs = self._stable[id]
        self._start(id, RaftLog(log.entries[1:], committed=hs.commit, applied=0), hs)

    def alive(self, member) -> bool:
        return self.members[self.id_of(member)] is not None

    def leader(self) -> int | None:
        """The live leader with the highest term (during a partition an old leader may still believe it leads)."""
        best = None
        for id, r in self.members.items():
            if r is not None and r.state == StateLeader and (best is None or r.term > self.members[best].term):
                best = id
        return best

    # -- faults ----------------------------------------------------------------------------------------------------
    def cut(self, a, b) -> None:
        a, b = self.id_of(a), self.id_of(b)
        self.cut_links.add((a, b))
        self.cut_links.add((b, a))

    def isolate(self, member) -> None:
        id = self.id_of(member)
        for other in self.ids:
            if other != id:
                self.cut(id, other)

    def partition(self, *groups) -> None:
        """Cut every link between members of different groups; members not named form one more group."""
        groups = [{self.id_of(m) for m in g} for g in groups]
        named = set().union(*groups) if groups else set()
        rest = set(self.ids) - named
        if rest:
            groups.append(rest)
        for i, g in enumerate(groups):
            for h in groups[i + 1:]:
                for a in g:
                    for b in h:
                        self.cut(a, b)

    def drop(self, frm, to, rate: float) -> None:
        """Drop each message from ``frm`` to ``to`` with probability ``rate``."""
        self.drop_rate[(self.id_of(frm), self.id_of(to))] = float(rate)

    def heal(self) -> None:
        self.cut_links.clear()
        self.drop_rate.clear()

    def reachable(self, a: int, b: int) -> bool:
        return (a, b) not in self.cut_links

    # -- clock -----------------------------------------------------------------------------------------------------
    def _push(self, time: int, kind: int, a, b) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, self._seq, kind, a, b))

    def send(self, m: Message) -> None:
        link = (m.frm, m.to)
        if link in self.cut_links:
            self.dropped += 1
            return
        rate = self.drop_rate.get(link)
        rng = self.rng
        if rate and rng.random() < rate:
            self.dropped += 1
            return
        t = self.now + rng.randint(self.min_delay_ms, self.max_delay_ms)
        free = self._link_free.get(link, 0)
        if t < free:
            t = free
        self._link_free[link] = t
        self._push(t, _MSG, m, None)

    def in_flight(self) -> list[tuple[int, Message]]:
        """Messages on the wire, as (delivery time, message), earliest first."""
        return sorted(((t, a) for t, _, k, a, _ in self._heap if k == _MSG), key=lambda x: x[0])

    def next_time(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def step(self):
        """Run the next event (a tick or a delivery). Returns ("tick", id) or ("msg", message), or None if a crashed
        member's tick or a message to a crashed member was skipped."""
        time, _, kind, a, b = heapq.heappop(self._heap)
        if time > self.now:
            self.now = time
        if kind == _TICK:
            if self._gen[a] != b or self.members[a] is None:
                return None
            r = self.members[a]
            self._push(time + self.tick_ms, _TICK, a, b)
            r.tick()
            self._handle(r)
            return ("tick", a)
        r = self.members.get(a.to)
        if r is None or (a.frm, a.to) in self.cut_links:
            self.dropped += 1
            return None
        self.delivered += 1
        try:
            r.step(a)
        except ProposalDropped:  # a forwarded proposal reached a member that has no leader either
            self.dropped += 1
        self._handle(r)
        return ("msg", a)

    def run_until(self, time_ms: int) -> int:
        steps = 0
        heap = self._heap
        while heap and heap[0][0] <= time_ms:
            self.step()
            steps += 1
        if time_ms > self.now:
            self.now = time_ms
        return steps

    def shift(self, delta_ms: int) -> None:
        """Move the clock and everything pending ``delta_ms`` later, as if the whole network had paused: every
        member's elapsed ticks and every message in flight stay as they were."""
        self._heap = [(t + delta_ms, s, k, a, b) for t, s, k, a, b in self._heap]
        heapq.heapify(self._heap)
        self._link_free = {k: v + delta_ms for k, v in self._link_free.items()}
        self.now += delta_ms

    def run(self, ms: int) -> int:
        return self.run_until(self.now + ms)

    def run_until_leader(self, max_ms: int = 60_000) -> int | None:
        end = self.now + max_ms
        while self._heap and self._heap[0][0] <= end:
            self.step()
            lead = self.leader()
            if lead is not None and self.members[lead].committed_entry_in_current_term():
                return lead
        return self.leader()

    # -- client side -----------------------------------------------------------------------------------------------
    def propose(self, member, data) -> None:
        """Propose ``data`` at a member (raises ProposalDropped when it has no leader to forward to)."""
        r = self.members[self.id_of(member)]
        if r is None:
            raise ConnectionError(f"{self.name(member)} is down")
        r.propose(data)
        self._handle(r)

    def propose_batch(self, member, datas) -> None:
        """Propose several commands in one MsgProp, as an etcd server does with the proposals it collected since
        its last Ready."""
        r = self.members[self.id_of(member)]
        if r is None:
            raise ConnectionError(f"{self.name(member)} is down")
        r.step(Message(MsgProp, frm=r.id, entries=[Entry(0, 0, d) for d in datas]))
        self._handle(r)

    def read_index(self, member, ctx) -> None:
        r = self.members[self.id_of(member)]
        if r is None:
            raise ConnectionError(f"{self.name(member)} is down")
        r.read_index(ctx)
        self._handle(r)

    def _handle(self, r: Raft) -> None:
        key = (r.state, r.term)
        if self._last_role.get(r.id) != key:
            self._record(r)
        if not (r.msgs or r.read_states or r.raft_log.committed > r.raft_log.applied):
            return
        rd = r.ready()
        for m in rd.messages:
            self.send(m)
        if rd.committed_entries:
            if self.on_apply is not None:
                for e in rd.committed_entries:
                    self.on_apply(r.id, e)
            r.advance(rd)
        if rd.read_states and self.on_read_state is not None:
            for rs in rd.read_states:
                self.on_read_state(r.id, rs)

    def _record(self, r: Raft) -> None:
        self._last_role[r.id] = (r.state, r.term)
        self.history.append((self.now, r.id, r.state, r.term))

    def status(self) -> list[dict]:
        """One row per member: role, term, vote, leader, last index, commit and applied index."""
        rows = []
        for id in self.ids:
            r = self.members[id]
            if r is None:
                log, hs = self._stable[id]
                rows.append({"member": self.name(id), "state": "Crashed", "term": hs.term, "vote": hs.vote,
                             "lead": 0, "last_index": log.last_index(), "commit": hs.commit, "applied": 0})
            else:
                rows.append({"member": self.name(id), "state": r.state.replace("State", ""), "term": r.term,
                             "vote": r.vote, "lead": r.lead, "last_index": r.raft_log.last_index(),
                             "commit": r.raft_log.committed, "applied": r.raft_log.applied})
        return rows
