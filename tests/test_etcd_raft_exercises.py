"""The etcd notebook's exercise checks accept the right answers and explain typical wrong ones."""

from __future__ import annotations

import pytest

from k8slab import Cluster
from k8slab.exercises import check, exercises
from k8slab.exercises.etcd import DEMO_KEY, etcd_cluster, max_failures, partition_outcome


def test_five_exercises_with_hints():
    ex = exercises("02.")
    assert [e.id for e in ex] == ["02.1", "02.2", "02.3", "02.4", "02.5"] and all(e.hints for e in ex)


def test_registry_keys():
    c = etcd_cluster()
    assert "/registry/minions/node-1" in c.etcd.keys("/registry/")
    assert check("02.1", ("/registry/deployments/default/web", "/registry/minions/node-1"), cluster=c)
    r = check("02.1", ("/registry/deployments/web", "/registry/minions/node-1"), cluster=c)
    assert not r and "namespaced" in r.message
    r = check("02.1", ("/registry/deployments/default/web", "/registry/nodes/node-1"), cluster=c)
    assert not r and "old name" in r.message and "/registry/m" in r.message
    assert not check("02.1", None, cluster=c)


@pytest.fixture(scope="module")
def demo():
    c = Cluster(nodes=1, seed=0, etcd_members=3)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo", "namespace": "default"},
          "data": {"v": "1"}}
    c.apply(cm)
    c.settle()
    for v in ("2", "3"):
        cm["data"]["v"] = v
        c.apply(cm)
        c.settle()
    return c


def test_mvcc_revisions(demo):
    kv = demo.etcd.get(DEMO_KEY)
    assert kv.version == 3 and kv.mod_revision > kv.create_revision
    assert check("02.2", (kv.create_revision, kv.mod_revision, kv.version), cluster=demo)
    r = check("02.2", (kv.mod_revision, kv.create_revision, kv.version), cluster=demo)
    assert not r and "swapped" in r.message
    r = check("02.2", (kv.create_revision, kv.mod_revision, 2), cluster=demo)
    assert not r and "version counts" in r.message
    r = check("02.2", (kv.create_revision, demo.etcd.revision + 5, 3), cluster=demo)
    assert not r and "mod_revision" in r.message
    assert "run the cells above" in check("02.2", (1, 2, 3)).message


def test_fault_tolerance():
    assert [max_failures(n) for n in (3, 4, 5)] == [1, 1, 2]
    assert check("02.3", [0, 0, 1, 1, 2, 2, 3])
    r = check("02.3", [0, 1, 1, 2, 2, 3, 3])
    assert not r and "even member adds no fault tolerance" in r.message
    assert "list of 7" in check("02.3", [1, 2]).message


def test_partitioned_leader():
    want = partition_outcome()
    assert want["leader"] != want["old_leader"] and want["old_leader_state"] == "Follower"
    right = {k: want[k] for k in ("leader", "term", "old_leader_state")}
    assert check("02.4", right)
    r = check("02.4", dict(right, old_leader_state="Leader"))
    assert not r and "check-quorum" in r.message
    r = check("02.4", dict(right, leader=want["old_leader"]))
    assert not r and "quorum" in r.message
    r = check("02.4", dict(right, term=want["term"] + 1))
    assert not r and "term" in r.message


def test_linearizable_or_not():
    assert check("02.5", {"A": False, "B": True, "C": True})
    r = check("02.5", {"A": True, "B": True, "C": True})
    assert not r and "stale read" in r.message
    r = check("02.5", {"A": False, "B": True, "C": False})
    assert not r and "without an answer" in r.message
    r = check("02.5", {"A": False, "B": False, "C": True})
    assert not r and "history B is linearizable" in r.message
    assert "answer with a dict" in check("02.5", [False, True, True]).message
