"""The scenarios of the Raft paper, as etcd-io/raft's raft_paper_test.go checks them, against k8slab.etcd.raft.

Members are built as upstream's newTestRaft does: election 10 ticks, heartbeat 1 tick, pre-vote and check-quorum
off (the paper's plain protocol)."""

from __future__ import annotations

import random

import pytest

from k8slab.etcd.raft.log import RaftLog
from k8slab.etcd.raft.raft import Config, Raft, StateCandidate, StateFollower, StateLeader
from k8slab.etcd.raft.raftpb import (NONE, Entry, HardState, Message, MsgApp, MsgAppResp, MsgHeartbeat, MsgHup,
                                     MsgProp, MsgVote, MsgVoteResp)


def new_test_raft(id, peers=(1, 2, 3), election=10, heartbeat=1, ents=(), hs=None, seed=None):
    log = RaftLog([Entry(e.term, e.index, e.data) for e in ents])
    cfg = Config(id, tuple(peers), election_tick=election, heartbeat_tick=heartbeat, pre_vote=False,
                 check_quorum=False)
    return Raft(cfg, random.Random(id if seed is None else seed), log=log, hard_state=hs)


def terms(start, *ts):
    return [Entry(t, start + i) for i, t in enumerate(ts)]


def read(r):
    msgs, r.msgs = r.msgs, []
    return sorted(msgs, key=lambda m: (m.to, m.type))


def accept_and_reply(m):
    assert m.type == MsgApp
    return Message(MsgAppResp, frm=m.to, to=m.frm, term=m.term, index=m.index + len(m.entries))


def commit_noop_entry(r):
    assert r.state == StateLeader
    r.bcast_append()
    for m in read(r):
        assert m.type == MsgApp and len(m.entries) == 1 and m.entries[0].data is None
        r.step(accept_and_reply(m))
    read(r)
    r.raft_log.applied_to(r.raft_log.committed)


def leader(peers=(1, 2, 3)):
    r = new_test_raft(1, peers)
    r.become_candidate()
    r.become_leader()
    return r


# -- §5.1 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [StateFollower, StateCandidate, StateLeader])
def test_update_term_from_message(state):
    r = new_test_raft(1)
    if state == StateFollower:
        r.become_follower(1, 2)
    else:
        r.become_candidate()
        if state == StateLeader:
            r.become_leader()
    r.step(Message(MsgApp, term=2))
    assert r.term == 2
    assert r.state == StateFollower


def test_reject_stale_term_message():
    called = []
    r = new_test_raft(1)
    r._step = lambda m: called.append(m)
    r.load_state(HardState(term=2))
    r.step(Message(MsgApp, term=r.term - 1))
    assert called == []


# -- §5.2 ---------------------------------------------------------------------------------------------------------
def test_start_as_follower():
    assert new_test_raft(1).state == StateFollower


def test_leader_bcast_beat():
    r = leader()
    for i in range(10):
        r.append_entry([Entry(0, 0, i)])
    read(r)
    r.tick()
    msgs = read(r)
    assert [(m.frm, m.to, m.term, m.type, m.commit, m.entries) for m in msgs] == [
        (1, 2, 1, MsgHeartbeat, 0, []), (1, 3, 1, MsgHeartbeat, 0, [])]


@pytest.mark.parametrize("state", [StateFollower, StateCandidate])
def test_nonleader_start_election(state):
    et = 10
    r = new_test_raft(1)
    if state == StateFollower:
        r.become_follower(1, 2)
    else:
        r.become_candidate()
    for _ in range(1, 2 * et):
        r.tick()
    assert r.term == 2
    assert r.state == StateCandidate
    assert r.trk.votes[r.id] is True
    assert [(m.to, m.term, m.type, m.index, m.log_term) for m in read(r)] == [
        (2, 2, MsgVote, 0, 0), (3, 2, MsgVote, 0, 0)]


@pytest.mark.parametrize("size,votes,state", [
    (1, {}, StateLeader), (3, {2: True, 3: True}, StateLeader), (3, {2: True}, StateLeader),
    (5, {2: True, 3: True, 4: True, 5: True}, StateLeader), (5, {2: True, 3: True, 4: True}, StateLeader),
    (5, {2: True, 3: True}, StateLeader),
    (3, {2: False, 3: False}, StateFollower), (5, {2: False, 3: False, 4: False, 5: False}, StateFollower),
    (5, {2: True, 3: False, 4: False, 5: False}, StateFollower),
    (3, {}, StateCandidate), (5, {2: True}, StateCandidate), (5, {2: False, 3: False}, StateCandidate),
    (5, {}, StateCandidate),
    # even sizes: a quorum of 4 is 3, of 2 is 2
    (2, {2: True}, StateLeader), (2, {}, StateCandidate), (4, {2: True}, StateCandidate),
    (4, {2: True, 3: True}, StateLeader), (4, {2: False, 3: False}, StateFollower),
])
def test_leader_election_in_one_round_rpc(size, votes, state):
    r = new_test_raft(1, range(1, size + 1))
    r.step(Message(MsgHup, frm=1, to=1))
    for id, vote in votes.items():
        r.step(Message(MsgVoteResp, frm=id, to=1, term=r.term, reject=not vote))
    assert r.state == state
    assert r.term == 1


@pytest.mark.parametrize("vote,nvote,wreject", [
    (NONE, 2, False), (NONE, 3, False), (2, 2, False), (3, 3, False), (2, 3, True), (3, 2, True)])
def test_follower_vote(vote, nvote, wreject):
    r = new_test_raft(1)
    r.load_state(HardState(term=1, vote=vote))
    r.step(Message(MsgVote, frm=nvote, to=1, term=1))
    assert [(m.frm, m.to, m.term, m.type, m.reject) for m in read(r)] == [(1, nvote, 1, MsgVoteResp, wreject)]


@pytest.mark.parametrize("term", [1, 2])
def test_candidate_fallback(term):
    r = new_test_raft(1)
    r.step(Message(MsgHup, frm=1, to=1))
    assert r.state == StateCandidate
    r.step(Message(MsgApp, frm=2, to=1, term=term))
    assert r.state == StateFollower
    assert r.term == term


@pytest.mark.parametrize("state", [StateFollower, StateCandidate])
def test_nonleader_election_timeout_randomized(state):
    et = 10
    r = new_test_raft(1)
    timeouts = set()
    for _ in range(50 * et):
        if state == StateFollower:
            r.become_follower(r.term + 1, 2)
        else:
            r.become_candidate()
        time = 0
        while not read(r):
            r.tick()
            time += 1
        timeouts.add(time)
    assert timeouts == set(range(et, 2 * et))  # every timeout in [et, 2et) happens, and nothing else


@pytest.mark.parametrize("state", [StateFollower, StateCandidate])
def test_nonleaders_election_timeout_nonconflict(state):
    et, size = 10, 5
    ids = tuple(range(1, size + 1))
    rs = [new_test_raft(i, ids) for i in ids]
    conflicts = 0
    for _ in range(1000):
        for r in rs:
            if state == StateFollower:
                r.become_follower(r.term + 1, NONE)
            else:
                r.become_candidate()
        timeout_num = 0
        while timeout_num == 0:
            for r in rs:
                r.tick()
                if read(r):
                    timeout_num += 1
        if timeout_num > 1:
            conflicts += 1
    assert conflicts / 1000 <= 0.3


# -- §5.3 ---------------------------------------------------------------------------------------------------------
def test_leader_start_replication():
    r = leader()
    commit_noop_entry(r)
    li = r.raft_log.last_index()
    r.step(Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0, "some data")]))
    assert r.raft_log.last_index() == li + 1
    assert r.raft_log.committed == li
    assert [(m.to, m.term, m.type, m.index, m.log_term, [(e.term, e.index, e.data) for e in m.entries], m.commit)
            for m in read(r)] == [(to, 1, MsgApp, li, 1, [(1, li + 1, "some data")], li) for to in (2, 3)]


def test_leader_commit_entry():
    r = leader()
    commit_noop_entry(r)
    li = r.raft_log.last_index()
    r.step(Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0, "some data")]))
    for m in read(r):
        r.step(accept_and_reply(m))
    assert r.raft_log.committed == li + 1
    assert [(e.term, e.index, e.data) for e in r.raft_log.next_committed_ents()] == [(1, li + 1, "some data")]
    msgs = read(r)
    assert [(m.to, m.type, m.commit) for m in msgs] == [(2, MsgApp, li + 1), (3, MsgApp, li + 1)]


@pytest.mark.parametrize("size,acceptors,wack", [
    (1, set(), True), (3, set(), False), (3, {2}, True), (3, {2, 3}, True), (5, set(), False), (5, {2}, False),
    (5, {2, 3}, True), (5, {2, 3, 4}, True), (5, {2, 3, 4, 5}, True),
    (2, set(), False), (2, {2}, True), (4, {2}, False), (4, {2, 3}, True), (6, {2, 3}, False), (6, {2, 3, 4}, True)])
def test_leader_acknowledge_commit(size, acceptors, wack):
    r = leader(tuple(range(1, size + 1)))
    commit_noop_entry(r)
    li = r.raft_log.last_index()
    r.step(Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0, "some data")]))
    for m in read(r):
        if m.to in acceptors:
            r.step(accept_and_reply(m))
    assert (r.raft_log.committed > li) == wack


@pytest.mark.parametrize("ents", [[], terms(1, 2), terms(1, 1, 2), terms(1, 1)])
def test_leader_commit_preceding_entries(ents):
    r = new_test_raft(1, ents=ents)
    r.load_state(HardState(term=2))
    r.become_candidate()
    r.become_leader()
    r.step(Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0, "some data")]))
    for m in read(r):
        r.step(accept_and_reply(m))
    li = len(ents)
    want = [(e.term, e.index, None) for e in ents] + [(3, li + 1, None), (3, li + 2, "some data")]
    assert [(e.term, e.index, e.data) for e in r.raft_log.next_committed_ents()] == want


@pytest.mark.parametrize("ents,commit", [
    ([Entry(1, 1, "some data")], 1),
    ([Entry(1, 1, "some data"), Entry(1, 2, "some data2")], 2),
    ([Entry(1, 1, "some data2"), Entry(1, 2, "some data")], 2),
    ([Entry(1, 1, "some data"), Entry(1, 2, "some data2")], 1)])
def test_follower_commit_entry(ents, commit):
    r = new_test_raft(1)
    r.become_follower(1, 2)
    r.step(Message(MsgApp, frm=2, to=1, term=1, entries=ents, commit=commit))
    assert r.raft_log.committed == commit
    assert r.raft_log.next_committed_ents() == ents[:commit]


@pytest.mark.parametrize("term,index,windex,wreject,whint,wlogterm", [
    (0, 0, 1, False, 0, 0),  # match with committed entries
    (1, 1, 1, False, 0, 0),
    (2, 2, 2, False, 0, 0),  # match with uncommitted entries
    (1, 2, 2, True, 1, 1),  # unmatch with existing entry
    (3, 3, 3, True, 2, 2),  # unexisting entry
])
def test_follower_check_msg_app(term, index, windex, wreject, whint, wlogterm):
    r = new_test_raft(1, ents=terms(1, 1, 2))
    r.load_state(HardState(commit=1))
    r.become_follower(2, 2)
    r.step(Message(MsgApp, frm=2, to=1, term=2, log_term=term, index=index))
    assert [(m.to, m.type, m.term, m.index, m.reject, m.reject_hint, m.log_term) for m in read(r)] == [
        (2, MsgAppResp, 2, windex, wreject, whint, wlogterm)]


@pytest.mark.parametrize("index,term,ents,wents", [
    (2, 2, terms(3, 3), terms(1, 1, 2, 3)),
    (1, 1, terms(2, 3, 4), terms(1, 1, 3, 4)),
    (0, 0, terms(1, 1), terms(1, 1, 2)),
    (0, 0, terms(1, 3), terms(1, 3)),
])
def test_follower_append_entries(index, term, ents, wents):
    r = new_test_raft(1, ents=terms(1, 1, 2))
    r.become_follower(2, 2)
    r.step(Message(MsgApp, frm=2, to=1, term=2, log_term=term, index=index, entries=ents))
    assert [(e.term, e.index) for e in r.raft_log.entries[1:]] == [(e.term, e.index) for e in wents]


def _deliver(rafts, msgs):
    """Deliver messages (and everything they cause) among ``rafts``; messages to others are dropped."""
    q = list(msgs)
    while q:
        m = q.pop(0)
        r = rafts.get(m.to)
        if r is None:
            continue
        r.step(m)
        for x in rafts.values():
            q.extend(read(x))


@pytest.mark.parametrize("follower_terms", [
    (1, 1, 1, 4, 4, 5, 5, 6, 6), (1, 1, 1, 4, 4), (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
    (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7), (1, 1, 1, 4, 4, 4, 4), (1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3)])
def test_leader_sync_follower_log(follower_terms):
    """Figure 7: whatever the follower's log, the leader brings it into line with its own."""
    term = 8
    lead = new_test_raft(1, ents=terms(1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6))
    lead.load_state(HardState(commit=lead.raft_log.last_index(), term=term))
    follower = new_test_raft(2, ents=terms(1, *follower_terms))
    follower.load_state(HardState(term=term - 1))
    rafts = {1: lead, 2: follower}
    _deliver(rafts, [Message(MsgHup, frm=1, to=1)])
    _deliver(rafts, [Message(MsgVoteResp, frm=3, to=1, term=term + 1)])
    _deliver(rafts, [Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0)])])
    assert lead.state == StateLeader
    assert [(e.term, e.index) for e in follower.raft_log.entries] == [(e.term, e.index) for e in lead.raft_log.entries]


# -- §5.4 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ents,wterm", [(terms(1, 1), 2), (terms(1, 1, 2), 3)])
def test_vote_request(ents, wterm):
    r = new_test_raft(1)
    r.step(Message(MsgApp, frm=2, to=1, term=wterm - 1, log_term=0, index=0, entries=ents))
    read(r)
    for _ in range(1, r.election_timeout * 2):
        r.tick_election()
    msgs = read(r)
    assert [(m.type, m.to, m.term, m.index, m.log_term) for m in msgs] == [
        (MsgVote, to, wterm, ents[-1].index, ents[-1].term) for to in (2, 3)]


@pytest.mark.parametrize("ents,logterm,index,wreject", [
    (terms(1, 1), 1, 1, False), (terms(1, 1), 1, 2, False), (terms(1, 1, 1), 1, 1, True),
    (terms(1, 1), 2, 1, False), (terms(1, 1), 2, 2, False), (terms(1, 1, 1), 2, 1, False),
    (terms(1, 2), 1, 1, True), (terms(1, 2), 1, 2, True), (terms(1, 2, 2), 1, 1, True),
    (terms(1, 1, 1), 1, 1, True)])
def test_voter(ents, logterm, index, wreject):
    r = new_test_raft(1, peers=(1, 2), ents=ents)
    r.step(Message(MsgVote, frm=2, to=1, term=3, log_term=logterm, index=index))
    msgs = read(r)
    assert len(msgs) == 1 and msgs[0].type == MsgVoteResp and msgs[0].reject == wreject


@pytest.mark.parametrize("index,wcommit", [(1, 0), (2, 0), (3, 3)])
def test_leader_only_commits_log_from_current_term(index, wcommit):
    r = new_test_raft(1, peers=(1, 2), ents=terms(1, 1, 2))
    r.load_state(HardState(term=2))
    r.become_candidate()
    r.become_leader()
    read(r)
    r.step(Message(MsgProp, frm=1, to=1, entries=[Entry(0, 0)]))
    r.step(Message(MsgAppResp, frm=2, to=1, term=r.term, index=index))
    assert r.raft_log.committed == wcommit
