"""The linearizability checker (Porcupine-style) and the randomized fault schedules run against the Raft model:
no acknowledged write is lost and no stale read is served as linearizable."""

from __future__ import annotations

import pytest

from k8slab.etcd.linearizability import INF, Operation, check_history, check_operations
from k8slab.etcd.robustness import run_schedule, run_schedules

O = Operation


def test_sequential_history_is_linearizable():
    assert check_history([O(1, "put", "x", 1, 0, 1), O(1, "get", "x", 1, 2, 3), O(2, "put", "x", 2, 4, 5),
                          O(2, "get", "x", 2, 6, 7)])


def test_stale_read_after_acknowledged_write_is_rejected():
    """The write returned before the read started, yet the read saw the old value: a stale read."""
    res = check_history([O(1, "put", "x", 1, 0, 10), O(2, "get", "x", None, 11, 12)])
    assert not res and res.key == "x"
    assert "not linearizable" in repr(res)


def test_stale_read_of_an_overwritten_value_is_rejected():
    ops = [O(1, "put", "x", 1, 0, 1), O(1, "put", "x", 2, 2, 3), O(2, "get", "x", 2, 4, 5),
           O(3, "get", "x", 1, 6, 7)]
    assert not check_history(ops)


def test_concurrent_read_may_see_either_value():
    assert check_history([O(1, "put", "x", 1, 0, 10), O(2, "get", "x", None, 5, 6)])
    assert check_history([O(1, "put", "x", 1, 0, 10), O(2, "get", "x", 1, 5, 6)])


def test_reads_cannot_go_back_in_time_during_a_write():
    """Two reads during one write: once a read has seen the new value, a later read must too."""
    assert check_history([O(1, "put", "x", 1, 0, 10), O(2, "get", "x", None, 1, 2), O(3, "get", "x", 1, 3, 4)])
    assert not check_history([O(1, "put", "x", 1, 0, 10), O(2, "get", "x", 1, 1, 2), O(3, "get", "x", None, 3, 4)])


def test_unknown_outcome_write_may_or_may_not_have_happened():
    assert check_history([O(1, "put", "x", 1, 0, INF), O(2, "get", "x", None, 5, 6)])
    assert check_history([O(1, "put", "x", 1, 0, INF), O(2, "get", "x", 1, 5, 6)])
    # but once seen, it has happened
    assert not check_history([O(1, "put", "x", 1, 0, INF), O(2, "get", "x", 1, 5, 6), O(3, "get", "x", None, 7, 8)])


def test_read_of_a_value_never_written_is_rejected():
    assert not check_operations([O(1, "put", "x", 1, 0, 1), O(2, "get", "x", 3, 2, 3)])


def test_keys_are_checked_independently():
    ops = [O(1, "put", "x", 1, 0, 1), O(2, "get", "y", None, 2, 3), O(2, "get", "x", 1, 4, 5)]
    assert check_history(ops)
    res = check_history(ops + [O(3, "get", "y", 7, 6, 7)])
    assert not res and res.key == "y"


def test_thousand_random_fault_schedules_are_linearizable():
    results = run_schedules(range(1000))
    bad = [(r.seed, r.check, r.lost_writes) for r in results if not r.ok]
    assert bad == []
    # the schedules really exercised faults: leader changes, abandoned writes, every cluster size
    assert sum(r.leaders for r in results) > 1500
    assert sum(1 for r in results for op in r.history if op.ret == INF) > 500
    assert {r.members for r in results} == {3, 4, 5}
    assert sum(len(r.history) for r in results) > 20_000


def test_serializable_reads_can_be_stale_and_the_checker_sees_it():
    """Reads answered from a member's own state (``--consistency=s``) skip ReadIndex: under partitions some of them
    return old values, and the checker rejects those histories."""
    results = run_schedules(range(60), serializable_reads=True)
    rejected = [r for r in results if not r.check]
    assert rejected
    assert all(not r.lost_writes for r in results)  # writes still go through Raft


def test_schedule_is_deterministic():
    a, b = run_schedule(11), run_schedule(11)
    assert [repr(o) for o in a.history] == [repr(o) for o in b.history] and a.faults == b.faults
