"""Mirrors: etcd-io/raft raftpb/raft.proto

The messages Raft members exchange and the entries of the replicated log. Message types keep their upstream
names (``MsgHup``, ``MsgApp``, ...); ``NONE`` (0) means "no member", as ``raft.None`` does upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NONE = 0

MsgHup = "MsgHup"
MsgBeat = "MsgBeat"
MsgProp = "MsgProp"
MsgApp = "MsgApp"
MsgAppResp = "MsgAppResp"
MsgVote = "MsgVote"
MsgVoteResp = "MsgVoteResp"
MsgHeartbeat = "MsgHeartbeat"
MsgHeartbeatResp = "MsgHeartbeatResp"
MsgCheckQuorum = "MsgCheckQuorum"
MsgPreVote = "MsgPreVote"
MsgPreVoteResp = "MsgPreVoteResp"
MsgReadIndex = "MsgReadIndex"
MsgReadIndexResp = "MsgReadIndexResp"

#: Messages that never leave the member that created them (IsLocalMsg).
LOCAL_MSGS = frozenset({MsgHup, MsgBeat, MsgCheckQuorum})
#: Responses (IsResponseMsg).
RESPONSE_MSGS = frozenset({MsgAppResp, MsgVoteResp, MsgHeartbeatResp, MsgPreVoteResp, MsgReadIndexResp})


def vote_resp_msg_type(t: str) -> str:
    """voteRespMsgType: the response type for MsgVote / MsgPreVote."""
    if t == MsgVote:
        return MsgVoteResp
    if t == MsgPreVote:
        return MsgPreVoteResp
    raise ValueError(f"not a vote message: {t}")


@dataclass(slots=True)
class Entry:
    """One log entry: its term, its index and the opaque command it carries (``data``; None for the empty entry a
    new leader appends)."""

    term: int
    index: int
    data: object = None

    def __repr__(self) -> str:
        return f"{self.term}/{self.index}" + ("" if self.data is None else f" {self.data!r}")


@dataclass(slots=True)
class Message:
    type: str
    to: int = NONE
    frm: int = NONE  # upstream "From"
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    context: object = None

    def describe(self) -> str:
        """One line as etcd-io/raft's DescribeMessage prints it (abridged)."""
        s = f"{self.frm}->{self.to} {self.type} Term:{self.term} Log:{self.log_term}/{self.index}"
        if self.reject:
            s += f" Rejected (Hint: {self.reject_hint})"
        if self.commit:
            s += f" Commit:{self.commit}"
        if self.entries:
            s += " Entries:[" + ", ".join(f"{e.term}/{e.index}" for e in self.entries) + "]"
        return s


@dataclass(slots=True)
class HardState:
    """What a member persists besides its log: current term, its vote in that term, the commit index."""

    term: int = 0
    vote: int = NONE
    commit: int = 0
