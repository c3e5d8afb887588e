"""Mirrors: etcd-io/raft raft.go, read_only.go, node.go (Ready), util.go

One Raft member as a pure state machine. Nothing happens unless the caller steps it: ``tick()`` advances its logical
clock by one tick, ``step(msg)`` hands it one message. Both only change the member's state and append outgoing
messages to ``msgs``; ``ready()`` collects them with the newly committed entries, and the caller (the network, the
etcd server) delivers the messages and applies the entries.

Roles: follower, pre-candidate, candidate, leader. With etcd's settings (heartbeat 100 ms = 1 tick, election
1000 ms = 10 ticks, ``pre_vote`` and ``check_quorum`` on) a follower that hears nothing from a leader for its
randomized election timeout (drawn from [10, 20) ticks) first asks for *pre-votes* without raising its term; only
if a quorum would vote for it does it become a candidate, raise its term and ask for real votes. A leader that has
not heard from a quorum for an election timeout steps down (check-quorum), and a member that has heard from a leader
recently ignores vote requests (the leader lease), so a member on the wrong side of a partition cannot disrupt the
cluster when it comes back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .log import RaftLog
from .progress import Progress, ProgressTracker, StateProbe, StateReplicate
from .quorum import VoteLost, VoteWon
from .raftpb import (NONE, Entry, HardState, Message, MsgApp, MsgAppResp, MsgBeat, MsgCheckQuorum, MsgHeartbeat,
                     MsgHeartbeatResp, MsgHup, MsgPreVote, MsgPreVoteResp, MsgProp, MsgReadIndex, MsgReadIndexResp,
                     MsgVote, MsgVoteResp, vote_resp_msg_type)

StateFollower = "StateFollower"
StateCandidate = "StateCandidate"
StateLeader = "StateLeader"
StatePreCandidate = "StatePreCandidate"

campaignPreElection = "CampaignPreElection"
campaignElection = "CampaignElection"

#: etcd's server defaults (server/embed/config.go): heartbeat 100 ms, election 1000 ms, one tick per heartbeat.
TICK_MS = 100
HEARTBEAT_TICK = 1
ELECTION_TICK = 10
#: etcd's server sends at most this many bytes of entries per MsgApp (MaxSizePerMsg = 1 MiB); here a count.
MAX_ENTRIES_PER_MSG = 4096


class ProposalDropped(Exception):
    """ErrProposalDropped: the member cannot take the proposal (no leader known, or not the leader)."""

    def __init__(self):
        super().__init__("raft proposal dropped")


@dataclass
class Config:
    id: int
    peers: tuple = ()
    election_tick: int = ELECTION_TICK
    heartbeat_tick: int = HEARTBEAT_TICK
    pre_vote: bool = True
    check_quorum: bool = True
    max_inflight_msgs: int = 512

    def validate(self) -> None:
        if self.id == NONE:
            raise ValueError("cannot use none as id")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat tick must be greater than 0")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election tick must be greater than heartbeat tick")


@dataclass
class ReadState:
    """A linearizable read may be served once the state machine has applied ``index`` (ReadState)."""

    index: int
    request_ctx: object


@dataclass
class SoftState:
    lead: int
    raft_state: str


@dataclass
class Ready:
    soft_state: SoftState
    hard_state: HardState
    committed_entries: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    read_states: list = field(default_factory=list)


class _ReadIndexStatus:
    __slots__ = ("req", "index", "acks")

    def __init__(self, req, index):
        self.req = req
        self.index = index
        self.acks: dict[int, bool] = {}


class ReadOnly:
    """readOnly with ReadOnlySafe: a read request gets the leader's commit index and waits until a quorum has
    answered a heartbeat sent after it, which proves the leader was still the leader when the read arrived."""

    def __init__(self):
        self.pending: dict[object, _ReadIndexStatus] = {}
        self.queue: list = []

    def add_request(self, index: int, m: Message) -> None:
        ctx = m.context
        if ctx in self.pending:
            return
        self.pending[ctx] = _ReadIndexStatus(m, index)
        self.queue.append(ctx)

    def recv_ack(self, id: int, ctx) -> dict:
        rs = self.pending.get(ctx)
        if rs is None:
            return {}
        rs.acks[id] = True
        return rs.acks

    def advance(self, ctx) -> list[_ReadIndexStatus]:
        if ctx not in self.pending:
            return []
        out, i = [], 0
        for i, c in enumerate(self.queue):
            out.append(self.pending.pop(c))
            if c == ctx:
                break
        self.queue = self.queue[i + 1:]
        return out

    def last_pending_request_ctx(self):
        return self.queue[-1] if self.queue else None


class Raft:
    def __init__(self, config: Config, rng: random.Random | None = None, log: RaftLog | None = None,
                 hard_state: HardState | None = None):
        config.validate()
        self.id = config.id
        self.rng = rng or random.Random(config.id)
        self.raft_log = log if log is not None else RaftLog()
        self.trk = ProgressTracker(config.peers or (config.id,), config.max_inflight_msgs)
        self.election_timeout = config.election_tick
        self.heartbeat_timeout = config.heartbeat_tick
        self.pre_vote = config.pre_vote
        self.check_quorum = config.check_quorum
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.state = StateFollower
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.pending_read_index_messages: list[Message] = []
        self.read_only = ReadOnly()
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.election_timeout
        if hard_state is not None:
            self.load_state(hard_state)
        self.become_follower(self.term, NONE)
        self._prev_hs = self.hard_state()

    # -- state -----------------------------------------------------------------------------------------------------
    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.raft_log.committed)

    def soft_state(self) -> SoftState:
        return SoftState(self.lead, self.state)

    def load_state(self, hs: HardState) -> None:
        if hs.commit < self.raft_log.committed or hs.commit > self.raft_log.last_index():
            raise AssertionError(f"{self.id} state.commit {hs.commit} is out of range "
                                 f"[{self.raft_log.committed}, {self.raft_log.last_index()}]")
        self.raft_log.committed = hs.commit
        self.term = hs.term
        self.vote = hs.vote

    def promotable(self) -> bool:
        return self.id in self.trk.voters.ids

    def past_election_timeout(self) -> bool:
        return self.election_elapsed >= self.randomized_election_timeout

    def reset_randomized_election_timeout(self) -> None:
        self.randomized_election_timeout = self.election_timeout + self.rng.randrange(self.election_timeout)

    def committed_entry_in_current_term(self) -> bool:
        return self.raft_log.term(self.raft_log.committed) == self.term

    # -- sending ---------------------------------------------------------------------------------------------------
    def send(self, m: Message) -> None:
        if m.frm == NONE:
            m.frm = self.id
        if m.type in (MsgVote, MsgVoteResp, MsgPreVote, MsgPreVoteResp):
            if m.term == 0:
                raise AssertionError(f"term should be set when sending {m.type}")
        elif m.type not in (MsgProp, MsgReadIndex):
            m.term = self.term
        self.msgs.append(m)

    def send_append(self, to: int) -> None:
        self.maybe_send_append(to, True)

    def maybe_send_append(self, to: int, send_if_empty: bool) -> bool:
        pr = self.trk.progress[to]
        if pr.is_paused():
            return False
        log = self.raft_log
        prev_index = pr.next - 1
        prev_term = log.term(prev_index)
        ents = log.entries_from(pr.next, MAX_ENTRIES_PER_MSG)
        if not ents and not send_if_empty:
            return False
        self.send(Message(MsgApp, to=to, index=prev_index, log_term=prev_term, entries=ents, commit=log.committed))
        pr.update_on_entries_send(len(ents), pr.next)
        return True

    def send_heartbeat(self, to: int, ctx=None) -> None:
        commit = min(self.trk.progress[to].match, self.raft_log.committed)
        self.send(Message(MsgHeartbeat, to=to, commit=commit, context=ctx))

    def bcast_append(self) -> None:
        for id in self.trk.progress:
            if id != self.id:
                self.send_append(id)

    def bcast_heartbeat(self) -> None:
        ctx = self.read_only.last_pending_request_ctx()
        self.bcast_heartbeat_with_ctx(ctx)

    def bcast_heartbeat_with_ctx(self, ctx) -> None:
        for id in self.trk.progress:
            if id != self.id:
                self.send_heartbeat(id, ctx)

    # -- role changes ----------------------------------------------------------------------------------------------
    def reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.reset_randomized_election_timeout()
        self.trk.reset_votes()
        last = self.raft_log.last_index()
        progress = {}
        for id in self.trk.voters.ids:
            pr = Progress(0, last + 1, self.trk.max_inflight)
            if id == self.id:
                pr.match = last
            progress[id] = pr
        self.trk.progress = progress
        self.read_only = ReadOnly()

    def become_follower(self, term: int, lead: int) -> None:
        self._step = self.step_follower
        self.reset(term)
        self._tick = self.tick_election
        self.lead = lead
        self.state = StateFollower

    def become_candidate(self) -> None:
        if self.state == StateLeader:
            raise AssertionError("invalid transition [leader -> candidate]")
        self._step = self.step_candidate
        self.reset(self.term + 1)
        self._tick = self.tick_election
        self.vote = self.id
        self.state = StateCandidate

    def become_pre_candidate(self) -> None:
        if self.state == StateLeader:
            raise AssertionError("invalid transition [leader -> pre-candidate]")
        # Becoming a pre-candidate changes neither the term nor the vote.
        self._step = self.step_candidate
        self.trk.reset_votes()
        self._tick = self.tick_election
        self.lead = NONE
        self.state = StatePreCandidate

    def become_leader(self) -> None:
        if self.state == StateFollower:
            raise AssertionError("invalid transition [follower -> leader]")
        self._step = self.step_leader
        self.reset(self.term)
        self._tick = self.tick_heartbeat
        self.lead = self.id
        self.state = StateLeader
        pr = self.trk.progress[self.id]
        pr.become_replicate()
        pr.recent_active = True  # the leader is always active; MsgCheckQuorum keeps it so
        # An empty entry of the new term: committing it commits everything before it (Raft §5.4.2, §8).
        self.append_entry([Entry(0, 0, None)])

    def append_entry(self, es: list[Entry]) -> None:
        li = self.raft_log.last_index()
        for i, e in enumerate(es):
            e.term = self.term
            e.index = li + 1 + i
        li = self.raft_log.append(es)
        self.trk.progress[self.id].maybe_update(li)  # the leader's own log is durable at once
        self.maybe_commit()

    def maybe_commit(self) -> bool:
        return self.raft_log.maybe_commit(self.trk.committed(), self.term)

    # -- ticks -----------------------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._tick()

    def tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.past_election_timeout():
            self.election_elapsed = 0
            self.step(Message(MsgHup, frm=self.id))

    def tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum:
                self.step(Message(MsgCheckQuorum, frm=self.id))
        if self.state != StateLeader:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.step(Message(MsgBeat, frm=self.id))

    # -- elections -------------------------------------------------------------------------------------------------
    def hup(self, t: str) -> None:
        if self.state == StateLeader or not self.promotable():
            return
        self.campaign(t)

    def campaign(self, t: str) -> None:
        if t == campaignPreElection:
            self.become_pre_candidate()
            vote_msg = MsgPreVote
            term = self.term + 1  # the term we would campaign in, without raising ours yet
        else:
            self.become_candidate()
            vote_msg = MsgVote
            term = self.term
        if self.poll(self.id, vote_resp_msg_type(vote_msg), True) == VoteWon:
            # a single-member cluster wins at once
            if t == campaignPreElection:
                self.campaign(campaignElection)
            else:
                self.become_leader()
            return
        for id in sorted(self.trk.voters.ids):
            if id == self.id:
                continue
            self.send(Message(vote_msg, to=id, term=term, index=self.raft_log.last_index(),
                              log_term=self.raft_log.last_term()))

    def poll(self, id: int, t: str, v: bool) -> str:
        self.trk.record_vote(id, v)
        return self.trk.tally_votes()[2]

    # -- step ------------------------------------------------------------------------------------------------------
    def step(self, m: Message) -> None:
        if m.term == 0:
            pass  # local message
        elif m.term > self.term:
            if m.type in (MsgVote, MsgPreVote):
                in_lease = self.check_quorum and self.lead != NONE and self.election_elapsed < self.election_timeout
                if in_lease:
                    # We heard from a leader within the minimum election timeout: ignore the request and keep
                    # our term (the leader lease that check-quorum gives).
                    return
            if m.type == MsgPreVote:
                pass  # never change our term in response to a pre-vote
            elif m.type == MsgPreVoteResp and not m.reject:
                pass  # the term in the response is the one we will campaign in, once we have a quorum
            elif m.type in (MsgApp, MsgHeartbeat):
                self.become_follower(m.term, m.frm)
            else:
                self.become_follower(m.term, NONE)
        elif m.term < self.term:
            if (self.check_quorum or self.pre_vote) and m.type in (MsgHeartbeat, MsgApp):
                # A leader cut off by a partition: tell it there is a newer term so it steps down (otherwise,
                # with check-quorum and pre-vote, nobody would ever raise its term).
                self.send(Message(MsgAppResp, to=m.frm))
            elif m.type == MsgPreVote:
                self.send(Message(MsgPreVoteResp, to=m.frm, term=self.term, reject=True))
            return

        t = m.type
        if t == MsgHup:
            self.hup(campaignPreElection if self.pre_vote else campaignElection)
        elif t in (MsgVote, MsgPreVote):
            can_vote = (self.vote == m.frm or (self.vote == NONE and self.lead == NONE)
                        or (t == MsgPreVote and m.term > self.term))
            if can_vote and self.raft_log.is_up_to_date(m.index, m.log_term):
                # The response carries the term of the request (for a pre-vote, the future term).
                self.send(Message(vote_resp_msg_type(t), to=m.frm, term=m.term))
                if t == MsgVote:
                    self.election_elapsed = 0
                    self.vote = m.frm
            else:
                self.send(Message(vote_resp_msg_type(t), to=m.frm, term=self.term, reject=True))
        else:
            self._step(m)

    def step_leader(self, m: Message) -> None:
        t = m.type
        if t == MsgBeat:
            self.bcast_heartbeat()
            return
        if t == MsgCheckQuorum:
            if not self.trk.quorum_active():
                self.become_follower(self.term, NONE)
                return
            for id, pr in self.trk.progress.items():
                if id != self.id:
                    pr.recent_active = False
            return
        if t == MsgProp:
            if not m.entries:
                raise AssertionError("stepped empty MsgProp")
            if self.id not in self.trk.progress:
                raise ProposalDropped()
            self.append_entry([Entry(0, 0, e.data) for e in m.entries])
            self.bcast_append()
            return
        if t == MsgReadIndex:
            if len(self.trk.voters) == 1:
                self._respond_read_index(m, self.raft_log.committed)
                return
            if not self.committed_entry_in_current_term():
                # Postpone: our commit index may be behind until an entry of our term commits.
                self.pending_read_index_messages.append(m)
                return
            self._send_msg_read_index_response(m)
            return

        pr = self.trk.progress.get(m.frm)
        if pr is None:
            return
        if t == MsgAppResp:
            pr.recent_active = True
            if m.reject:
                next_probe_idx = m.reject_hint
                if m.log_term > 0:
                    next_probe_idx, _ = self.raft_log.find_conflict_by_term(m.reject_hint, m.log_term)
                if pr.maybe_decr_to(m.index, next_probe_idx):
                    if pr.state == StateReplicate:
                        pr.become_probe()
                    self.send_append(m.frm)
            else:
                old_paused = pr.is_paused()
                if pr.maybe_update(m.index):
                    if pr.state == StateProbe:
                        pr.become_replicate()
                    elif pr.state == StateReplicate:
                        pr.inflights.free_le(m.index)
                    if self.maybe_commit():
                        self._release_pending_read_index_messages()
                        self.bcast_append()
                    elif old_paused:
                        self.send_append(m.frm)
                    while self.maybe_send_append(m.frm, False):
                        pass
        elif t == MsgHeartbeatResp:
            pr.recent_active = True
            pr.msg_app_flow_paused = False
            if pr.match < self.raft_log.last_index():
                self.send_append(m.frm)
            if m.context is None:
                return
            if self.trk.voters.vote_result(self.read_only.recv_ack(m.frm, m.context)) != VoteWon:
                return
            for rs in self.read_only.advance(m.context):
                self._respond_read_index(rs.req, rs.index)

    def step_candidate(self, m: Message) -> None:
        my_vote_resp = MsgPreVoteResp if self.state == StatePreCandidate else MsgVoteResp
        t = m.type
        if t == MsgProp:
            raise ProposalDropped()
        if t == MsgApp:
            self.become_follower(m.term, m.frm)
            self.handle_append_entries(m)
        elif t == MsgHeartbeat:
            self.become_follower(m.term, m.frm)
            self.handle_heartbeat(m)
        elif t == my_vote_resp:
            res = self.poll(m.frm, t, not m.reject)
            if res == VoteWon:
                if self.state == StatePreCandidate:
                    self.campaign(campaignElection)
                else:
                    self.become_leader()
                    self.bcast_append()
            elif res == VoteLost:
                self.become_follower(self.term, NONE)
        elif t == MsgReadIndex:
            raise ProposalDropped()

    def step_follower(self, m: Message) -> None:
        t = m.type
        if t == MsgProp:
            if self.lead == NONE:
                raise ProposalDropped()
            m.to = self.lead
            self.send(m)
        elif t == MsgApp:
            self.election_elapsed = 0
            self.lead = m.frm
            self.handle_append_entries(m)
        elif t == MsgHeartbeat:
            self.election_elapsed = 0
            self.lead = m.frm
            self.handle_heartbeat(m)
        elif t == MsgReadIndex:
            if self.lead == NONE:
                raise ProposalDropped()
            m.to = self.lead
            self.send(m)
        elif t == MsgReadIndexResp:
            self.read_states.append(ReadState(m.index, m.context))

    # -- followers' handlers ---------------------------------------------------------------------------------------
    def handle_append_entries(self, m: Message) -> None:
        log = self.raft_log
        if m.index < log.committed:
            self.send(Message(MsgAppResp, to=m.frm, index=log.committed))
            return
        mlast, ok = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if ok:
            self.send(Message(MsgAppResp, to=m.frm, index=mlast))
            return
        # Log-matching check failed: reject with a hint, the last index that could match (findConflictByTerm).
        hint_index = min(m.index, log.last_index())
        hint_index, hint_term = log.find_conflict_by_term(hint_index, m.log_term)
        self.send(Message(MsgAppResp, to=m.frm, index=m.index, reject=True, reject_hint=hint_index,
                          log_term=hint_term))

    def handle_heartbeat(self, m: Message) -> None:
        self.raft_log.commit_to(m.commit)
        self.send(Message(MsgHeartbeatResp, to=m.frm, context=m.context))

    # -- read index ------------------------------------------------------------------------------------------------
    def _send_msg_read_index_response(self, m: Message) -> None:
        self.read_only.add_request(self.raft_log.committed, m)
        self.read_only.recv_ack(self.id, m.context)
        self.bcast_heartbeat_with_ctx(m.context)

    def _release_pending_read_index_messages(self) -> None:
        if not self.pending_read_index_messages or not self.committed_entry_in_current_term():
            return
        msgs, self.pending_read_index_messages = self.pending_read_index_messages, []
        for m in msgs:
            self._send_msg_read_index_response(m)

    def _respond_read_index(self, req: Message, read_index: int) -> None:
        if req.frm in (NONE, self.id):
            self.read_states.append(ReadState(read_index, req.context))
        else:
            self.send(Message(MsgReadIndexResp, to=req.frm, index=read_index, context=req.context))

    # -- the node interface ----------------------------------------------------------------------------------------
    def propose(self, data) -> None:
        """node.Propose: raises ProposalDropped if this member cannot take it."""
        self.step(Message(MsgProp, frm=self.id, entries=[Entry(0, 0, data)]))

    def read_index(self, ctx) -> None:
        """node.ReadIndex: ask for a read index; a ReadState with ``ctx`` appears in a later Ready."""
        self.step(Message(MsgReadIndex, frm=self.id, context=ctx))

    def has_ready(self) -> bool:
        return bool(self.msgs or self.read_states or self.raft_log.has_next_committed_ents())

    def ready(self) -> Ready:
        """Collect what the application must do: send ``messages``, apply ``committed_entries``, serve
        ``read_states``. Call ``advance(rd)`` after applying."""
        rd = Ready(self.soft_state(), self.hard_state(), self.raft_log.next_committed_ents(), self.msgs,
                   self.read_states)
        self.msgs = []
        self.read_states = []
        return rd

    def advance(self, rd: Ready) -> None:
        if rd.committed_entries:
            self.raft_log.applied_to(rd.committed_entries[-1].index)

    def __repr__(self) -> str:
        return (f"<raft {self.id} {self.state} term={self.term} lead={self.lead} "
                f"last={self.raft_log.last_index()} commit={self.raft_log.committed}>")
