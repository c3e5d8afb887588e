"""Mirrors: etcd-io/raft (raft.go, log.go, tracker/, quorum/, raftpb/)

Raft consensus as etcd uses it: each member a pure state machine stepped by messages and ticks
(:class:`Raft`), and a simulated network that delivers their messages with delays and faults
(:class:`RaftNetwork`).
"""

from .log import RaftLog
from .network import RaftNetwork
from .raft import (ELECTION_TICK, HEARTBEAT_TICK, TICK_MS, Config, ProposalDropped, Raft, ReadState, Ready,
                   StateCandidate, StateFollower, StateLeader, StatePreCandidate)
from .raftpb import Entry, HardState, Message

__all__ = ["Config", "ELECTION_TICK", "Entry", "HEARTBEAT_TICK", "HardState", "Message", "ProposalDropped", "Raft",
           "RaftLog", "RaftNetwork", "ReadState", "Ready", "StateCandidate", "StateFollower", "StateLeader",
           "StatePreCandidate", "TICK_MS"]
