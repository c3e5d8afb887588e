"""k8slab.etcd.raft: the log and quorum helpers (after etcd-io/raft log_test.go, quorum tests), pre-vote and
check-quorum (raft_test.go), and the Raft safety properties checked on a simulated network under faults."""

from __future__ import annotations

import random

import pytest

from k8slab.etcd.raft.log import RaftLog
from k8slab.etcd.raft.network import RaftNetwork
from k8slab.etcd.raft.progress import Progress, StateProbe, StateReplicate
from k8slab.etcd.raft.quorum import MajorityConfig, VoteLost, VotePending, VoteWon
from k8slab.etcd.raft.raft import (Config, ProposalDropped, Raft, StateFollower, StateLeader, StatePreCandidate)
from k8slab.etcd.raft.raftpb import Entry, HardState, Message, MsgHup, MsgPreVote, MsgPreVoteResp, MsgVote


def terms(start, *ts):
    return [Entry(t, start + i) for i, t in enumerate(ts)]


# -- quorum -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ids,acked,want", [
    ((1,), {1: 5}, 5), ((1, 2), {1: 5, 2: 3}, 3), ((1, 2, 3), {1: 5, 2: 3, 3: 1}, 3),
    ((1, 2, 3), {1: 5}, 0), ((1, 2, 3, 4), {1: 9, 2: 8, 3: 7, 4: 1}, 7), ((1, 2, 3, 4), {1: 9, 2: 8}, 0),
    ((1, 2, 3, 4, 5), {1: 9, 2: 8, 3: 7, 4: 2, 5: 1}, 7)])
def test_committed_index(ids, acked, want):
    assert MajorityConfig(ids).committed_index(acked) == want


@pytest.mark.parametrize("ids,votes,want", [
    ((1, 2, 3), {1: True, 2: True}, VoteWon), ((1, 2, 3), {1: True}, VotePending),
    ((1, 2, 3), {1: True, 2: False, 3: False}, VoteLost), ((1, 2, 3, 4), {1: True, 2: True}, VotePending),
    ((1, 2, 3, 4), {1: True, 2: False, 3: False}, VoteLost), ((1, 2, 3, 4), {1: True, 2: True, 3: True}, VoteWon),
    ((), {}, VoteWon)])
def test_vote_result(ids, votes, want):
    assert MajorityConfig(ids).vote_result(votes) == want


# -- log (log_test.go) --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ents,want", [
    ([], 0), (terms(1, 1, 2, 3), 0), (terms(2, 2, 3), 0), (terms(3, 3), 0),
    (terms(1, 1, 2, 3, 4, 4), 4), (terms(2, 2, 3, 4, 4), 4), (terms(3, 3, 4, 4), 4), (terms(4, 4, 4), 4),
    (terms(1, 4, 4), 1), (terms(2, 1, 4, 4), 2), (terms(3, 1, 2, 4, 4), 3)])
def test_find_conflict(ents, want):
    assert RaftLog(terms(1, 1, 2, 3)).find_conflict(ents) == want


@pytest.mark.parametrize("index,term,want", [
    (10, 3, (10, 3)), (10, 2, (8, 2)), (6, 2, (6, 2)), (6, 1, (5, 1)), (3, 0, (0, 0)), (12, 4, (10, 3))])
def test_find_conflict_by_term(index, term, want):
    log = RaftLog(terms(1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3))  # indexes 1..5 term 1, 6..8 term 2, 9..10 term 3
    assert log.find_conflict_by_term(index, term) == want


@pytest.mark.parametrize("lasti,term,want", [
    (2, 4, True), (3, 4, True), (4, 4, True), (2, 2, False), (3, 2, False), (4, 2, False),
    (2, 3, False), (3, 3, True), (4, 3, True)])
def test_is_up_to_date(lasti, term, want):
    assert RaftLog(terms(1, 1, 2, 3)).is_up_to_date(lasti, term) is want


@pytest.mark.parametrize("log_term,index,committed,ents,wlast,wappend,wcommit", [
    (2, 3, 3, [], 0, False, 1),  # no match: term mismatch
    (3, 4, 3, [], 0, False, 1),  # no match: beyond the log
    (3, 3, 3, [], 3, True, 3),
    (3, 3, 4, [], 3, True, 3),  # commit only up to the last new entry
    (3, 3, 2, [], 3, True, 2),
    (3, 3, 3, terms(4, 4), 4, True, 3),
    (3, 3, 4, terms(4, 4), 4, True, 4),
    (3, 3, 4, terms(4, 4, 4), 5, True, 4),
    (2, 2, 3, terms(3, 4), 3, True, 3),  # conflict: truncate index 3 and append
    (1, 1, 3, terms(2, 4), 2, True, 2),
])
def test_maybe_append(log_term, index, committed, ents, wlast, wappend, wcommit):
    log = RaftLog(terms(1, 1, 2, 3), committed=1)
    last, ok = log.maybe_append(index, log_term, committed, ents)
    assert (last, ok, log.committed) == (wlast, wappend, wcommit)
    if ok and ents:
        assert [(e.term, e.index) for e in log.entries[ents[0].index:]] == [(e.term, e.index) for e in ents]


def test_conflict_with_committed_entry_is_refused():
    log = RaftLog(terms(1, 1, 2, 3), committed=3)
    with pytest.raises(AssertionError, match="conflicts with committed"):
        log.maybe_append(1, 1, 3, terms(2, 4))


def test_maybe_commit_needs_current_term():
    log = RaftLog(terms(1, 1, 2, 3))
    assert not log.maybe_commit(2, 3) and log.committed == 0
    assert log.maybe_commit(3, 3) and log.committed == 3


# -- progress -----------------------------------------------------------------------------------------------------
def test_progress_maybe_decr_to_probe_and_replicate():
    pr = Progress(match=5, next=10)
    pr.become_replicate()
    assert pr.next == 6
    assert not pr.maybe_decr_to(5, 5)  # stale: already matched
    pr.next = 10
    assert pr.maybe_decr_to(9, 9) and pr.next == 6
    pr = Progress(match=0, next=10)
    assert pr.state == StateProbe
    assert not pr.maybe_decr_to(5, 5)  # not the probe we sent
    assert pr.maybe_decr_to(9, 3) and pr.next == 4  # jumps to the hint + 1


def test_progress_probe_pauses_until_ack():
    pr = Progress(match=0, next=1)
    pr.update_on_entries_send(3, 1)
    assert pr.is_paused()
    assert pr.maybe_update(3) and not pr.is_paused() and pr.next == 4
    pr.become_replicate()
    for i in range(pr.inflights.size):
        pr.update_on_entries_send(1, pr.next)
    assert pr.is_paused() and pr.state == StateReplicate
    pr.inflights.free_le(pr.next)
    assert not pr.is_paused()


# -- pre-vote and check-quorum (raft_test.go) ---------------------------------------------------------------------
def etcd_raft(id, peers=(1, 2, 3), ents=(), hs=None):
    return Raft(Config(id, peers), random.Random(id), log=RaftLog(ents), hard_state=hs)


def test_randomized_election_timeout_range():
    r = etcd_raft(1)
    seen = set()
    for _ in range(500):
        r.reset_randomized_election_timeout()
        seen.add(r.randomized_election_timeout)
    assert seen == set(range(10, 20))


def test_pre_vote_does_not_raise_term():
    r = etcd_raft(1)
    r.step(Message(MsgHup, frm=1, to=1))
    assert r.state == StatePreCandidate and r.term == 0
    msgs = r.ready().messages
    assert {(m.type, m.term) for m in msgs} == {(MsgPreVote, 1)}
    r.step(Message(MsgPreVoteResp, frm=2, to=1, term=1))
    assert r.state.endswith("Candidate") and r.term == 1 and r.vote == 1
    assert {m.type for m in r.ready().messages} == {MsgVote}


def test_leader_lease_ignores_vote_requests():
    """A follower that heard from its leader within the election timeout ignores a higher-term vote request."""
    r = etcd_raft(1)
    r.become_follower(1, 2)
    r.step(Message(MsgVote, frm=3, to=1, term=2, index=5, log_term=1))
    assert r.term == 1 and r.ready().messages == []


def test_check_quorum_leader_steps_down():
    r = etcd_raft(1)
    r.become_candidate()
    r.become_leader()
    for _ in range(r.election_timeout):
        r.tick()
    assert r.state == StateFollower and r.term == 1


def test_follower_drops_proposal_without_leader():
    r = etcd_raft(1)
    with pytest.raises(ProposalDropped):
        r.propose("x")


def test_stale_term_pre_vote_rejected():
    r = etcd_raft(1, hs=HardState(term=5))
    r.step(Message(MsgPreVote, frm=2, to=1, term=3, index=0, log_term=0))
    (m,) = r.ready().messages
    assert m.type == MsgPreVoteResp and m.reject and m.term == 5


# -- the network: safety under faults -----------------------------------------------------------------------------
def check_safety(net: RaftNetwork, applied: dict):
    """Election safety (one leader per term), log matching, and state machine safety (all members applied the
    same entries at each index)."""
    leaders = {}
    for _t, id, state, term in net.history:
        if state == StateLeader:
            assert leaders.setdefault(term, id) == id, f"two leaders in term {term}"
    logs = [net._stable[i][0] if net.members[i] is None else net.members[i].raft_log for i in net.ids]
    for a in logs:
        for b in logs:
            n = min(a.last_index(), b.last_index())
            for i in range(n, 0, -1):
                if a.entries[i].term == b.entries[i].term:
                    assert [(e.term, e.data) for e in a.entries[1:i + 1]] == [(e.term, e.data) for e in b.entries[1:i + 1]]
                    break
    seqs = list(applied.values())
    for s in seqs:
        for t in seqs:
            n = min(len(s), len(t))
            assert s[:n] == t[:n]
    return leaders


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_elects_one_leader_any_size(n):
    net = RaftNetwork(n, seed=n)
    lead = net.run_until_leader()
    assert lead is not None
    net.run(5000)
    assert net.leader() == lead  # stable: heartbeats keep it
    assert sum(1 for r in net.members.values() if r.state == StateLeader) == 1


def test_partitioned_leader_is_replaced_and_catches_up():
    applied = {}
    net = RaftNetwork(3, seed=7, on_apply=lambda i, e: applied.setdefault(i, []).append((e.index, e.data)))
    old = net.run_until_leader()
    net.propose(old, "a")
    net.run(200)
    net.isolate(old)
    net.run(3000)
    new = net.leader()
    assert new is not None and new != old
    assert net.members[old].state == StateFollower  # check-quorum made it step down
    net.propose(new, "b")
    net.run(500)
    net.heal()
    net.run(1000)
    assert [d for _, d in applied[old] if d] == ["a", "b"]
    assert net.leader() == new  # pre-vote: the rejoining member did not disrupt the leader
    check_safety(net, applied)


def test_crash_restart_keeps_persisted_log_and_term():
    applied = {}
    net = RaftNetwork(3, seed=3, on_apply=lambda i, e: applied.setdefault(i, []).append(e.data))
    lead = net.run_until_leader()
    net.propose_batch(lead, ["x", "y"])
    net.run(300)
    follower = next(i for i in net.ids if i != lead)
    term = net.members[follower].term
    net.crash(follower)
    net.propose(lead, "z")
    net.run(300)
    net.restart(follower)
    assert net.members[follower].term == term and net.members[follower].raft_log.last_index() >= 3
    applied[follower] = []  # a restarted member re-applies its log from the start
    net.run(1000)
    assert [d for d in applied[follower] if d] == ["x", "y", "z"]


def test_no_quorum_no_commit():
    net = RaftNetwork(5, seed=2)
    lead = net.run_until_leader()
    others = [i for i in net.ids if i != lead]
    for i in others[:3]:
        net.crash(i)
    before = net.members[lead].raft_log.committed
    net.propose(lead, "lost?")
    net.run(300)
    assert net.members[lead].raft_log.committed == before
    net.run(3000)
    assert net.leader() is None  # check-quorum: nobody leads a minority


@pytest.mark.parametrize("seed", range(40))
def test_safety_under_random_faults(seed):
    rng = random.Random(seed)
    n = rng.choice([3, 4, 5])
    applied = {}
    net = RaftNetwork(n, seed=seed, on_apply=lambda i, e: applied.setdefault(i, []).append((e.index, e.term)),
                      max_delay_ms=rng.choice([5, 30, 120]))
    crashed = set()
    for step in range(30):
        op = rng.random()
        who = rng.choice(net.ids)
        if op < 0.15 and who not in crashed and len(crashed) < n - 1:
            net.crash(who)
            crashed.add(who)
            applied.pop(who, None)
        elif op < 0.3 and crashed:
            back = rng.choice(sorted(crashed))
            net.restart(back)
            crashed.discard(back)
        elif op < 0.4:
            net.isolate(who)
        elif op < 0.5:
            net.drop(who, rng.choice(net.ids), 0.5)
        elif op < 0.6:
            net.heal()
        else:
            lead = net.leader()
            if lead is not None:
                net.propose(lead, step)
        net.run(rng.randint(50, 600))
    check_safety(net, applied)
