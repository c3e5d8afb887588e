"""Node lifecycle and taint eviction: a node that stops renewing its Lease is marked Unknown after the grace
period, tainted unreachable:NoExecute on the next pass, and its pods are evicted tolerationSeconds later."""

import pytest

from k8slab import Cluster
from k8slab.controllers.nodelifecycle import (NODE_MONITOR_GRACE_PERIOD_MS, NODE_MONITOR_PERIOD_MS,
                                              RateLimitedTimedQueue, TokenBucket, compute_zone_state,
                                              get_zone_key, reduced_qps_func)
from k8slab.controllers.tainteviction import get_matching_tolerations, get_min_toleration_time

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _events(c, kind, since=0):
    return [e for e in c.trace if e.kind == kind and e.time >= since]


@pytest.fixture(scope="module")
def dead_node():
    c = Cluster(nodes=2, seed=0)
    c.apply(WEB)
    c.settle()
    t0 = c.now
    on_node2 = sorted(p["metadata"]["name"] for p in c.get("pods") if p["spec"]["nodeName"] == "node-2")
    c.node("node-2").kubelet.stop()
    c.run(seconds=400)
    return c, t0, on_node2


def test_defaults_match_upstream():
    assert NODE_MONITOR_GRACE_PERIOD_MS == 50_000 and NODE_MONITOR_PERIOD_MS == 5_000


def test_node_goes_unknown_after_grace_period(dead_node):
    c, t0, _ = dead_node
    lc = c.controller_manager["nodelifecycle"]
    unknown = [e for e in _events(c, "node.unknown", t0) if e.ref == "nodes/node-2"]
    assert len(unknown) == 1
    ev = unknown[0]
    # the last Lease renewal the controller noticed, plus 50 s, rounded up to the next 5 s monitor pass
    assert ev.data["probe_timestamp_ms"] <= t0 + NODE_MONITOR_PERIOD_MS
    assert ev.data["probe_timestamp_ms"] + 50_000 < ev.time <= ev.data["probe_timestamp_ms"] + 55_000
    node = c.get("node", "node-2")
    ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    mem = next(x for x in node["status"]["conditions"] if x["type"] == "MemoryPressure")
    assert mem["status"] == "Unknown"
    assert lc.node_health["node-1"].probe_timestamp > ev.time  # node-1 keeps renewing


def test_node_tainted_on_next_pass_and_pods_evicted_after_300s(dead_node):
    c, t0, on_node2 = dead_node
    unknown = [e for e in _events(c, "node.unknown", t0) if e.ref == "nodes/node-2"][0]
    taints = {(t["key"], t["effect"]) for t in c.get("node", "node-2")["spec"]["taints"]}
    assert taints == {("node.kubernetes.io/unreachable", "NoExecute"),
                      ("node.kubernetes.io/unreachable", "NoSchedule")}
    noexec = [e for e in _events(c, "node.taints", t0)
              if "node.kubernetes.io/unreachable:NoExecute" in e.data["added"]]
    assert len(noexec) == 1 and noexec[0].time == unknown.time + NODE_MONITOR_PERIOD_MS
    evictions = [e for e in _events(c, "eviction", t0) if e.ref.startswith("pods/default/")]
    assert sorted(e.ref.rsplit("/", 1)[1] for e in evictions) == on_node2
    for e in evictions:
        assert noexec[0].time + 300_000 <= e.time <= noexec[0].time + 300_000 + 10
    # evicted pods are Terminating (the kubelet is gone) with DisruptionTarget; replacements run on node-1
    pods = c.get("pods")
    for name in on_node2:
        p = c.get("pod", name)
        assert p["metadata"]["deletionTimestamp"]
        dt = next(x for x in p["status"]["conditions"] if x["type"] == "DisruptionTarget")
        assert (dt["reason"], dt["message"]) == ("DeletionByTaintManager",
                                                 "Taint manager: deleting due to NoExecute taint")
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 4 and all(p["spec"]["nodeName"] == "node-1" for p in running)
    reasons = {e["reason"] for e in c.events(namespace="default")}
    assert "TaintManagerEviction" in reasons


def test_restarted_kubelet_clears_taints_and_terminating_pods(dead_node):
    c, _, on_node2 = dead_node
    c.node("node-2").kubelet.start()
    c.run(seconds=60)
    assert not c.get("node", "node-2")["spec"].get("taints")
    names = set(c.get("pods").names)
    assert not names & set(on_node2)
    ready = next(x for x in c.get("node", "node-2")["status"]["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "True"


def test_toleration_without_seconds_keeps_pod_and_taint_removal_cancels():
    c = Cluster(nodes=2, seed=4)
    forever = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stay"},
               "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "nginx"}],
                        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                         "effect": "NoExecute"}]}}
    short = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "short"},
             "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "nginx"}],
                      "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                       "effect": "NoExecute", "tolerationSeconds": 20}]}}
    c.apply(forever)
    c.apply(short)
    c.settle()
    t0 = c.now
    c.node("node-2").kubelet.stop()
    c.run(seconds=200)
    assert c.get("pod", "stay")["metadata"].get("deletionTimestamp") is None
    assert c.get("pod", "short")["metadata"].get("deletionTimestamp")
    ev = [e for e in _events(c, "eviction", t0)]
    assert [e.ref for e in ev] == ["pods/default/short"]
    # a pod scheduled eviction is cancelled when the taint goes away first
    c2 = Cluster(nodes=2, seed=5)
    c2.apply(WEB)
    c2.settle()
    c2.node("node-2").kubelet.stop()
    c2.run(seconds=120)
    c2.node("node-2").kubelet.start()
    c2.run(seconds=400)
    assert not _events(c2, "eviction")
    assert _events(c2, "eviction.cancelled")


def test_zone_state_and_rate_limited_tainting():
    ready = {"type": "Ready", "status": "True"}
    bad = {"type": "Ready", "status": "Unknown"}
    assert compute_zone_state([ready, ready, bad]) == (1, "Normal")
    assert compute_zone_state([bad, bad]) == (2, "FullDisruption")
    assert compute_zone_state([ready, bad, bad, bad]) == (3, "PartialDisruption")
    assert compute_zone_state([ready, ready, bad, bad]) == (2, "Normal")  # needs more than 2 not ready
    assert reduced_qps_func(51) == 0.01 and reduced_qps_func(50) == 0
    assert get_zone_key({"metadata": {"labels": {"topology.kubernetes.io/region": "r",
                                                 "topology.kubernetes.io/zone": "z"}}}) == "r:\x00:z"
    q = RateLimitedTimedQueue(TokenBucket(0.1, 1, 0))
    for n in ("a", "b", "c"):
        assert q.add(n, n, 0)
    done = []
    q.try_(0, lambda n, uid: done.append((n, 0)) or True)
    q.try_(5_000, lambda n, uid: done.append((n, 5_000)) or True)
    q.try_(10_000, lambda n, uid: done.append((n, 10_000)) or True)
    assert done == [("a", 0), ("b", 10_000)]  # 0.1 node/s: one node every 10 s
    assert not q.add("a", "a", 11_000)  # processed names stay in the set until removed
    q.remove("a")
    assert q.add("a", "a", 11_000)


def test_matching_tolerations_and_min_time():
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    t300 = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300}
    t60 = dict(t300, tolerationSeconds=60)
    assert get_matching_tolerations([taint], [t300, t60]) == (True, [t300, t60])
    assert get_matching_tolerations([taint], [{"key": "other", "operator": "Exists"}]) == (False, [])
    assert get_min_toleration_time([t300, t60]) == 60_000
    assert get_min_toleration_time([{"key": "x", "operator": "Exists"}]) == -1
    assert get_min_toleration_time([]) == 0
    assert get_min_toleration_time([dict(t300, tolerationSeconds=-5)]) == 0


@pytest.mark.parametrize("tolerations,expected", [
    ([], 0),
    ([{"tolerationSeconds": None}], -1),
    ([{"tolerationSeconds": 1}, {"tolerationSeconds": 2}], 1000),
    ([{"tolerationSeconds": 1}, {"tolerationSeconds": None}], 1000),
    ([{"tolerationSeconds": None}, {"tolerationSeconds": 1}], 1000),
])
def test_get_min_toleration_time_upstream_cases(tolerations, expected):
    # taint_eviction_test.go TestGetMinTolerationTime (durations in ms here)
    tols = [{k: v for k, v in t.items() if v is not None} for t in tolerations]
    assert get_min_toleration_time(tols) == expected
