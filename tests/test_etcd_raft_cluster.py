"""A Cluster whose etcd has several Raft members: API server writes become Raft entries committed by a quorum, then
applied to the MVCC store (and come back as watch events); without quorum writes fail with the API server's real
error and nothing changes; after healing everything catches up."""

from __future__ import annotations

import pytest

from k8slab import Cluster
from k8slab.api import errors
from k8slab.etcd import ErrTimeout

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""


def cm(name, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"v": value}}


def running(c):
    return sorted(p["metadata"]["name"] for p in c.get("pods")
                  if p["metadata"].get("namespace") == "default" and p.get("status", {}).get("phase") == "Running")


@pytest.fixture(scope="module")
def base():
    c = Cluster(nodes=2, seed=5, etcd_members=3)
    c.apply(WEB)
    c.settle()
    return c


def test_default_cluster_keeps_a_single_store():
    c = Cluster(nodes=1, seed=0)
    assert c.etcd_cluster is None and c.apiserver.etcd is c.etcd


def test_invalid_member_count_is_refused():
    with pytest.raises(ValueError, match="etcd_members"):
        Cluster(nodes=1, etcd_members=0)


def test_apply_becomes_a_committed_raft_entry(base):
    c = base
    ec = c.etcd_cluster
    assert len(running(c)) == 2
    c.apply(cm("raft-entry"))
    key = "/registry/configmaps/default/raft-entry"
    lead = ec.net.members[ec.net.id_of(ec.leader())]
    idx = max(e.index for e in lead.raft_log.entries[1:]
              if e.data and e.data[1] == "txn" and any(op.key == key for op in e.data[2][1]))
    # committed: on a quorum of members, and applied to the store the API server watches
    assert sum(1 for r in ec.net.members.values() if r.raft_log.last_index() >= idx) >= 2
    assert lead.raft_log.committed >= idx
    assert c.etcd.get(key) is not None
    assert c.get("configmap", "raft-entry")["data"] == {"v": "1"}


def test_losing_quorum_fails_writes_and_keeps_pods_running():
    c = Cluster(nodes=2, seed=1, etcd_members=3)
    c.apply(WEB)
    c.settle()
    before = running(c)
    ec = c.etcd_cluster
    lead = ec.leader()
    for m in ec.members:
        if m != lead:
            ec.crash(m)
    rev = c.etcd.revision
    with pytest.raises(errors.StatusError) as e:
        c.apply(cm("during-outage"))
    assert e.value.code == 500 and e.value.reason == "" and e.value.message == "etcdserver: request timed out"
    assert c.etcd.revision == rev and c.etcd.get("/registry/configmaps/default/during-outage") is None
    c.run(120)
    assert running(c) == before  # the kubelets keep their containers running
    assert c.etcd.revision == rev
    with pytest.raises(ErrTimeout):
        ec.range("/registry/pods/", "/registry/pods0")  # a linearizable read needs the quorum too
    assert ec.range("/registry/pods/", "/registry/pods0", serializable=True).count >= 2
    ec.restart()
    c.run(10)
    c.scale("deployment", "web", 4)
    c.settle()
    assert len(running(c)) == 4
    status = ec.status()
    assert len({row["commit"] for row in status}) <= 2 and all(row["state"] != "Crashed" for row in status)


def test_partitioned_leader_is_replaced_and_rejoins():
    c = Cluster(nodes=1, seed=2, etcd_members=3)
    ec = c.etcd_cluster
    old = ec.leader()
    rest = [m for m in ec.members if m != old]
    ec.partition([old], rest)
    c.run(5)
    c.apply(cm("after-partition"))  # the majority side elects a leader and commits
    new = ec.leader()
    assert new in rest and ec.term >= 2
    ec.heal()
    c.run(5)
    c.apply(cm("after-heal"))
    logs = [[(e.term, e.index) for e in r.raft_log.entries] for r in ec.net.members.values()]
    shortest = min(len(x) for x in logs)
    assert all(x[:shortest] == logs[0][:shortest] for x in logs)
    assert c.get("configmap", "after-partition") and c.get("configmap", "after-heal")


def test_even_member_count_needs_a_majority():
    c = Cluster(nodes=1, seed=3, etcd_members=4)
    ec = c.etcd_cluster
    followers = [m for m in ec.members if m != ec.leader()]
    ec.crash(followers[0])
    c.apply(cm("three-of-four"))  # 3 of 4 is a quorum
    ec.crash(followers[1])
    with pytest.raises(errors.StatusError, match="request timed out"):
        c.apply(cm("two-of-four"))  # 2 of 4 is not


def test_linearizable_read_sees_the_last_write():
    c = Cluster(nodes=1, seed=4, etcd_members=3)
    c.apply(cm("read-me", "42"))
    res = c.etcd_cluster.range("/registry/configmaps/default/read-me")
    assert res.count == 1 and '"42"' in res.kvs[0].value


def test_same_seed_same_trace():
    a = Cluster(nodes=1, seed=9, etcd_members=3)
    b = Cluster(nodes=1, seed=9, etcd_members=3)
    for c in (a, b):
        c.apply(WEB)
        c.settle()
    assert a.trace.fingerprint() == b.trace.fingerprint()
    assert a.etcd_cluster.status() == b.etcd_cluster.status()
