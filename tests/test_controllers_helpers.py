"""Upstream helper test vectors: deployment_util_test.go, controller_utils_test.go, replica_set_test.go."""

import json

import pytest

from k8slab.controllers.deployment import (compute_hash, get_proportion, new_rs_new_replicas, resolve_fenceposts)
from k8slab.controllers.nodeipam import CIDRSet
from k8slab.controllers.replicaset import active_pods_with_ranks_less, get_pods_to_delete, slow_start_batch
from k8slab.api import errors


@pytest.mark.parametrize("surge,unavail,desired,expected", [
    ("0%", "0%", 0, (0, 1)),
    ("39%", "39%", 10, (4, 3)),
    (None, "39%", 10, (0, 3)),
    ("39%", None, 10, (4, 0)),
    (None, None, 10, (0, 1)),
    (2, 0, 5, (2, 0)),
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 4, (1, 1)),
])
def test_resolve_fenceposts(surge, unavail, desired, expected):
    assert resolve_fenceposts(surge, unavail, desired) == expected


@pytest.mark.parametrize("surge,unavail", [("oops", None), (None, "urg")])
def test_resolve_fenceposts_invalid(surge, unavail):
    with pytest.raises(ValueError):
        resolve_fenceposts(surge, unavail, 10)


def _d(replicas, surge, strategy="RollingUpdate"):
    spec = {"replicas": replicas, "strategy": {"type": strategy}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": 1}
    return {"metadata": {}, "spec": spec}


def _rs(replicas, name="rs"):
    return {"metadata": {"name": name}, "spec": {"replicas": replicas}}


def test_new_rs_new_replicas_vectors():
    # TestNewRSNewReplicas
    assert new_rs_new_replicas(_d(1, 1), [_rs(5)], _rs(5)) == 5
    assert new_rs_new_replicas(_d(6, 10), [_rs(2), _rs(5, "old")], _rs(2)) == 6
    assert new_rs_new_replicas(_d(1, 1, "Recreate"), [_rs(5)], _rs(5)) == 1


def test_slow_start_batch_sizes():
    calls = []
    assert slow_start_batch(10, 1, lambda: calls.append(1)) == 10 and len(calls) == 10
    n = 0

    def fail_on_fourth():
        nonlocal n
        n += 1
        if n == 4:
            raise errors.new_internal_error("boom")

    # batches of 1 and 2 succeed; in the batch of 4 one call fails, the other three still run (upstream runs a
    # batch concurrently), and no further batch starts: 1 + 2 + 3 successes out of 7 calls
    assert slow_start_batch(10, 1, fail_on_fourth) == 6
    assert n == 7


def _pod(name, node="", phase="Running", ready=True, created="2026-01-01T00:00:00Z", restarts=0):
    conds = [{"type": "Ready", "status": "True" if ready else "False",
              "lastTransitionTime": "2026-01-01T00:00:10Z"}]
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": conds,
                       "containerStatuses": [{"restartCount": restarts}]}}


def test_pod_deletion_ranking_order():
    unassigned = _pod("a", node="", phase="Pending", ready=False)
    pending = _pod("b", node="n1", phase="Pending", ready=False)
    not_ready = _pod("c", node="n1", ready=False)
    ready = _pod("d", node="n1")
    assert active_pods_with_ranks_less(unassigned, pending, 0, 0, 60_000)
    assert active_pods_with_ranks_less(pending, not_ready, 0, 0, 60_000)
    assert active_pods_with_ranks_less(not_ready, ready, 0, 0, 60_000)
    # doubled-up pods are deleted first
    assert active_pods_with_ranks_less(_pod("e", "n1"), _pod("f", "n2"), 2, 1, 60_000)
    # more restarts first
    assert active_pods_with_ranks_less(_pod("g", "n1", restarts=5), _pod("h", "n1"), 0, 0, 60_000)


def test_get_pods_to_delete_prefers_doubled_up_node():
    pods = [_pod("a", "n1"), _pod("b", "n1"), _pod("c", "n2")]
    victims = get_pods_to_delete(pods, pods, 1, 60_000)
    assert victims[0]["spec"]["nodeName"] == "n1"


def test_proportion_scales_replica_sets_by_their_share():
    d = {"metadata": {}, "spec": {"replicas": 20, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 0, "maxUnavailable": 1}}}, "status": {"replicas": 10}}
    rs = {"metadata": {"name": "x", "annotations": {"deployment.kubernetes.io/max-replicas": "10"}},
          "spec": {"replicas": 5}}
    assert get_proportion(rs, d, 10, 0) == 5


def test_pod_template_hash_is_stable_and_safe_encoded():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "n", "image": "nginx"}]}}
    h = compute_hash(t)
    assert h == compute_hash(t) and h != compute_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_cidrset_allocates_in_order_and_exhausts():
    s = CIDRSet("10.244.0.0/22", 24)
    assert [s.allocate_next() for _ in range(4)] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24",
                                                      "10.244.3.0/24"]
    with pytest.raises(RuntimeError, match="no remaining CIDRs"):
        s.allocate_next()
    s.release("10.244.1.0/24")
    assert s.allocate_next() == "10.244.1.0/24"


def test_pod_endpoints_changed_only_for_what_endpoints_show():
    from k8slab.controllers.endpointslice import pod_endpoints_changed

    base = {"metadata": {"labels": {"app": "web"}}, "status": {"podIP": "10.244.1.2", "conditions": [
        {"type": "Ready", "status": "False"}]}}
    same = json.loads(json.dumps(base))
    same["status"]["conditions"].append({"type": "Initialized", "status": "True"})
    assert pod_endpoints_changed(base, same) == (False, False)
    ready = json.loads(json.dumps(base))
    ready["status"]["conditions"][0]["status"] = "True"
    assert pod_endpoints_changed(base, ready) == (True, False)
    moved = json.loads(json.dumps(base))
    moved["status"]["podIP"] = "10.244.1.3"
    assert pod_endpoints_changed(base, moved) == (True, False)
    relabelled = json.loads(json.dumps(base))
    relabelled["metadata"]["labels"] = {"app": "api"}
    assert pod_endpoints_changed(base, relabelled) == (False, True)
    deleting = json.loads(json.dumps(base))
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:10Z"
    assert pod_endpoints_changed(base, deleting) == (True, False)
