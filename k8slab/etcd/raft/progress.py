"""Mirrors: etcd-io/raft tracker/progress.go, tracker/inflights.go, tracker/tracker.go, tracker/state.go

The leader's view of each follower: ``match`` (highest index known replicated there), ``next`` (next index to
send), and a state. *Probe*: the leader does not know the follower's log, sends one MsgApp at a time and waits.
*Replicate*: the follower is in step, the leader streams entries optimistically, bounded by ``inflights``.
"""

from __future__ import annotations

from collections import deque

from .quorum import MajorityConfig

StateProbe = "StateProbe"
StateReplicate = "StateReplicate"
StateSnapshot = "StateSnapshot"

#: etcd's server sets MaxInflightMsgs = 4096 / 8 (server/etcdserver/raft.go).
MAX_INFLIGHT_MSGS = 512


class Inflights:
    """Indexes of the last entry of each MsgApp in flight to one follower (tracker.Inflights)."""

    __slots__ = ("size", "buf")

    def __init__(self, size: int = MAX_INFLIGHT_MSGS):
        self.size = size
        self.buf: deque = deque()

    def add(self, index: int) -> None:
        self.buf.append(index)

    def free_le(self, to: int) -> None:
        buf = self.buf
        while buf and buf[0] <= to:
            buf.popleft()

    def full(self) -> bool:
        return len(self.buf) >= self.size

    def reset(self) -> None:
        self.buf.clear()

    def count(self) -> int:
        return len(self.buf)


class Progress:
    __slots__ = ("match", "next", "state", "msg_app_flow_paused", "recent_active", "inflights")

    def __init__(self, match: int = 0, next: int = 1, inflights: int = MAX_INFLIGHT_MSGS):
        self.match = match
        self.next = next
        self.state = StateProbe
        self.msg_app_flow_paused = False
        self.recent_active = False
        self.inflights = Inflights(inflights)

    def reset_state(self, state: str) -> None:
        self.msg_app_flow_paused = False
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        self.reset_state(StateProbe)
        self.next = self.match + 1

    def become_replicate(self) -> None:
        self.reset_state(StateReplicate)
        self.next = self.match + 1

    def update_on_entries_send(self, entries: int, next_index: int) -> None:
        """UpdateOnEntriesSend: in Replicate, advance ``next`` optimistically and record the message in flight;
        in Probe, pause until the follower answers."""
        if self.state == StateReplicate:
            if entries:
                last = next_index + entries - 1
                self.next = last + 1
                self.inflights.add(last)
        elif self.state == StateProbe:
            if entries:
                self.msg_app_flow_paused = True
        else:
            raise AssertionError(f"sending append in unhandled state {self.state}")

    def maybe_update(self, n: int) -> bool:
        """MaybeUpdate: the follower acknowledged index ``n``; returns False if the ack is stale."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.msg_app_flow_paused = False  # ProbeAcked
        self.next = max(self.next, n + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """MaybeDecrTo: the follower rejected a MsgApp at index ``rejected``; move ``next`` back."""
        if self.state == StateReplicate:
            if rejected <= self.match:
                return False  # stale
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False  # stale: not the probe we sent last
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.msg_app_flow_paused = False
        return True

    def is_paused(self) -> bool:
        if self.state == StateProbe:
            return self.msg_app_flow_paused
        if self.state == StateReplicate:
            return self.inflights.full()
        return True

    def __repr__(self) -> str:
        return f"{self.state} match={self.match} next={self.next}" + (" paused" if self.is_paused() else "")


class ProgressTracker:
    """The voters, their progress and the votes of the current election (tracker.ProgressTracker)."""

    def __init__(self, voters, max_inflight: int = MAX_INFLIGHT_MSGS):
        self.voters = MajorityConfig(voters)
        self.max_inflight = max_inflight
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def committed(self) -> int:
        return self.voters.committed_index({i: pr.match for i, pr in self.progress.items()})

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, id: int, v: bool) -> None:
        if id not in self.votes:
            self.votes[id] = v

    def tally_votes(self) -> tuple[int, int, str]:
        granted = sum(1 for i in self.voters.ids if self.votes.get(i) is True)
        rejected = sum(1 for i in self.voters.ids if self.votes.get(i) is False)
        return granted, rejected, self.voters.vote_result(self.votes)

    def quorum_active(self) -> bool:
        """QuorumActive: has a quorum of voters been heard from since the last check?"""
        votes = {i: pr.recent_active for i, pr in self.progress.items()}
        return self.voters.vote_result(votes) == "VoteWon"
