"""Cascading deletion through the garbage collector: Background, Foreground and Orphan."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _cluster(seed=0):
    c = Cluster(nodes=2, seed=seed)
    c.apply(WEB)
    c.settle()
    return c


def _deleted_order(c, since):
    return [e.ref.split("/")[0] for e in c.trace if e.kind == "etcd.delete" and e.time >= since
            and e.ref.split("/")[0] in ("deployments", "replicasets", "pods")]


def test_background_deletes_owner_at_once_then_dependents():
    c = _cluster()
    t0 = c.now
    c.delete("deployment", "web", propagation_policy="Background")
    with pytest.raises(StatusError):
        c.get("deployment", "web")
    c.settle()
    assert len(c.get("rs")) == 0 and len(c.get("pods")) == 0
    order = _deleted_order(c, t0)
    assert order[0] == "deployments" and order.count("pods") == 2


def test_foreground_keeps_owner_until_blocking_dependents_are_gone():
    c = _cluster()
    t0 = c.now
    c.delete("deployment", "web", propagation_policy="Foreground")
    d = c.get("deployment", "web")
    assert d["metadata"]["deletionTimestamp"] and d["metadata"]["finalizers"] == ["foregroundDeletion"]
    c.run(seconds=0.01)
    assert c.get("deployment", "web")["metadata"]["deletionTimestamp"]
    rs = c.admin.list("replicasets", namespace="default")["items"]
    assert rs and rs[0]["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    c.settle()
    with pytest.raises(StatusError):
        c.get("deployment", "web")
    order = _deleted_order(c, t0)
    assert order == ["pods", "pods", "replicasets", "deployments"]


def test_orphan_removes_owner_references_and_keeps_dependents():
    c = _cluster()
    t0 = c.now
    c.delete("deployment", "web", cascade="orphan")
    d = c.admin.get("deployments", "web", namespace="default")
    assert d["metadata"]["finalizers"] == ["orphan"] and d["metadata"]["deletionTimestamp"]
    c.settle()
    with pytest.raises(StatusError):
        c.get("deployment", "web")
    rs = c.get("rs")
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]
    pods = c.get("pods")
    assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    assert _deleted_order(c, t0) == ["deployments"]
    patches = [e for e in c.trace if e.time >= t0 and e.kind == "request" and e.component.endswith(
        "garbagecollector") and e.data["verb"] == "patch"]
    assert [p.ref.split("/")[0] for p in patches] == ["replicasets", "deployments"]


def test_invalid_propagation_policy_is_rejected_and_changes_nothing():
    c = _cluster()
    rev = c.etcd.revision
    with pytest.raises(StatusError) as e:
        c.delete("deployment", "web", propagation_policy="Sideways")
    assert e.value.code == 422
    assert 'propagationPolicy: Unsupported value: "Sideways"' in str(e.value)
    assert c.etcd.revision == rev and c.get("deployment", "web")
