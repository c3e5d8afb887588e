"""Mirrors: etcd-io/raft quorum/majority.go, quorum/quorum.go

Majority arithmetic for any number of voters, odd or even: a quorum is ``n // 2 + 1`` voters.
"""

from __future__ import annotations

VotePending = "VotePending"
VoteLost = "VoteLost"
VoteWon = "VoteWon"


def quorum_size(n: int) -> int:
    return n // 2 + 1


class MajorityConfig:
    """A set of voter IDs (quorum.MajorityConfig)."""

    def __init__(self, ids=()):
        self.ids = frozenset(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def committed_index(self, acked: dict) -> int:
        """CommittedIndex: the largest index acknowledged by a quorum. ``acked`` maps voter -> highest index it
        has; voters missing from it count as 0. With no voters the result is unbounded (upstream returns
        math.MaxUint64); here a large integer."""
        n = len(self.ids)
        if n == 0:
            return 2 ** 63 - 1
        srt = sorted(acked.get(i, 0) for i in self.ids)
        # the quorum-th largest: position n - (n//2 + 1) in ascending order
        return srt[n - (n // 2 + 1)]

    def vote_result(self, votes: dict) -> str:
        """VoteResult: VoteWon with a quorum of yes votes, VoteLost once that is impossible, else VotePending."""
        if not self.ids:
            return VoteWon
        granted = missing = 0
        for i in self.ids:
            v = votes.get(i)
            if v is None:
                missing += 1
            elif v:
                granted += 1
        q = quorum_size(len(self.ids))
        if granted >= q:
            return VoteWon
        if granted + missing >= q:
            return VotePending
        return VoteLost
