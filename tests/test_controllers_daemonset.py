"""DaemonSet controller: upstream helper cases (daemon_controller_test.go TestNodeShouldRunDaemonPod shapes,
daemonset_util_test.go ReplaceDaemonSetPodNodeNameNodeAffinity / AddOrUpdateDaemonPodTolerations) and behaviour
through the Cluster."""

import importlib.util

import pytest

from k8slab import Cluster
from k8slab.controllers.daemonset import (add_or_update_daemon_pod_tolerations, find_updated_pods_on_node,
                                          get_target_node_name, node_should_run_daemon_pod,
                                          replace_daemon_set_pod_node_name_node_affinity)

# Daemon pods are placed by the scheduler through their matchFields node affinity; without the scheduler's
# NodeAffinity plugin they land anywhere and the controller keeps replacing them, so the behaviour tests need it.
needs_node_affinity = pytest.mark.skipif(importlib.util.find_spec("k8slab.scheduler.plugins.nodeaffinity") is None,
                                         reason="the scheduler has no NodeAffinity plugin")

DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: a, image: "redis:7"}
"""


def _node(name="n1", labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _ds(spec=None):
    return {"metadata": {"name": "ds"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}},
                                                             "spec": spec or {}}}}


@pytest.mark.parametrize("node,spec,want", [
    (_node(), {}, (True, True)),
    (_node(labels={"disk": "ssd"}), {"nodeSelector": {"disk": "ssd"}}, (True, True)),
    (_node(labels={"disk": "hdd"}), {"nodeSelector": {"disk": "ssd"}}, (False, False)),
    (_node(), {"nodeName": "other"}, (False, False)),
    # untolerated NoSchedule: do not start, but keep a running pod
    (_node(taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]), {}, (False, True)),
    # untolerated NoExecute: neither
    (_node(taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]), {}, (False, False)),
    (_node(taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]),
     {"tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}]}, (True, True)),
    # the tolerations the controller adds itself
    (_node(taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                   {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), {}, (True, True)),
    (_node(taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]), {}, (False, True)),
    (_node(taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
     {"hostNetwork": True}, (True, True)),
    # required node affinity
    (_node(labels={"zone": "a"}), {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                              {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}}}}, (True, True)),
    (_node(labels={"zone": "a"}), {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}},
     (False, False)),
])
def test_node_should_run_daemon_pod(node, spec, want):
    assert node_should_run_daemon_pod(node, _ds(spec)) == want


def test_replace_node_affinity_and_target_node():
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}
    out = replace_daemon_set_pod_node_name_node_affinity(aff, "node-2")
    assert out["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]}
    assert out["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]  # kept
    assert aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0].get(
        "matchExpressions")  # input untouched
    assert replace_daemon_set_pod_node_name_node_affinity(None, "n")["nodeAffinity"]
    assert get_target_node_name({"spec": {"affinity": out}}) == "node-2"
    assert get_target_node_name({"spec": {"nodeName": "x", "affinity": out}}) == "x"


def test_daemon_pod_tolerations_added_once():
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 30}]}
    add_or_update_daemon_pod_tolerations(spec)
    add_or_update_daemon_pod_tolerations(spec)
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert len(keys) == len(set(keys)) == 6
    assert "tolerationSeconds" not in spec["tolerations"][0]  # replaced: daemons are never evicted for this


def test_find_updated_pods_on_node():
    def pod(h, name, deleting=False):
        md = {"name": name, "labels": {"controller-revision-hash": h}}
        if deleting:
            md["deletionTimestamp"] = "x"
        return {"metadata": md}
    assert find_updated_pods_on_node([pod("new", "a"), pod("old", "b")], "new", None)[2]
    assert not find_updated_pods_on_node([pod("new", "a"), pod("new", "b")], "new", None)[2]
    new, old, ok = find_updated_pods_on_node([pod("old", "a", True), pod("new", "b")], "new", None)
    assert ok and old is None and new["metadata"]["name"] == "b"


def _daemon_pods(c):
    return [p for p in c.apiserver.cache["pods"].values()
            if (p["metadata"].get("labels") or {}).get("app") == "agent"]


def _ready(p):
    return any(x["type"] == "Ready" and x["status"] == "True" for x in p.get("status", {}).get("conditions", []))


@needs_node_affinity
def test_one_pod_per_eligible_node_with_history_and_status():
    c = Cluster(nodes=3, seed=0)
    c.apply(DS)
    c.settle()
    pods = _daemon_pods(c)
    assert sorted(get_target_node_name(p) for p in pods) == ["node-1", "node-2", "node-3"]  # not the control plane
    for p in pods:
        assert p["metadata"]["labels"]["controller-revision-hash"]
        assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"} in \
            p["spec"]["tolerations"]
    st = c.get("daemonset", "agent")["status"]
    assert st == {"currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3,
                  "numberReady": 3, "updatedNumberScheduled": 3, "numberAvailable": 3, "observedGeneration": 1}
    revs = c.get("controllerrevisions")
    assert len(revs) == 1 and revs[0]["revision"] == 1
    assert revs[0]["metadata"]["name"] == "agent-" + pods[0]["metadata"]["labels"]["controller-revision-hash"]
    # a daemon pod that is killed comes back on the same node
    victim = pods[0]
    c.delete("pod", victim["metadata"]["name"])
    c.settle()
    again = _daemon_pods(c)
    assert len(again) == 3 and victim["metadata"]["name"] not in {p["metadata"]["name"] for p in again}
    assert sorted(get_target_node_name(p) for p in again) == ["node-1", "node-2", "node-3"]


@needs_node_affinity
def test_placement_by_the_scheduler_follows_the_node_affinity():
    c = Cluster(nodes=3, seed=1)
    c.apply(DS)
    c.settle()
    assert all(p["spec"]["nodeName"] == get_target_node_name({"spec": {"affinity": p["spec"]["affinity"]}})
               for p in _daemon_pods(c))


@needs_node_affinity
def test_node_selector_labels_and_control_plane_toleration():
    c = Cluster(nodes=3, seed=2)
    c.apply(DS.replace("    spec:\n      containers:", "    spec:\n      nodeSelector: {disk: ssd}\n"
                                                       "      containers:"))
    c.settle()
    assert _daemon_pods(c) == [] and c.get("daemonset", "agent")["status"]["desiredNumberScheduled"] == 0
    c.admin.patch("nodes", "node-2", {"metadata": {"labels": {"disk": "ssd"}}})
    c.settle()
    assert [get_target_node_name(p) for p in _daemon_pods(c)] == ["node-2"]
    c.admin.patch("nodes", "node-2", {"metadata": {"labels": {"disk": None}}})
    c.settle()
    assert [p for p in _daemon_pods(c) if not p["metadata"].get("deletionTimestamp")] == []
    c2 = Cluster(nodes=2, seed=2)
    c2.apply(DS.replace("    spec:\n      containers:", "    spec:\n      tolerations:\n"
                                                        "      - {key: node-role.kubernetes.io/control-plane, "
                                                        "operator: Exists, effect: NoSchedule}\n      containers:"))
    c2.settle()
    assert sorted(get_target_node_name(p) for p in _daemon_pods(c2)) == ["control-plane", "node-1", "node-2"]


@needs_node_affinity
@pytest.mark.parametrize("strategy,max_down,max_extra", [
    ("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}", 1, 0),
    ("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}", 2, 0),
    ("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}", 0, 1),
])
def test_rolling_update_bounds_at_every_step(strategy, max_down, max_extra):
    c = Cluster(nodes=4, seed=3)
    spec = DS.replace("  selector:", f"  updateStrategy: {strategy}\n  selector:")
    c.apply(spec)
    c.settle()
    c.apply(spec.replace("redis:7", "redis:8"))
    worst_down = worst_extra = 0
    steps = 0
    while c.loop.pending and steps < 100_000:
        c.step()
        steps += 1
        live = [p for p in _daemon_pods(c) if not p["metadata"].get("deletionTimestamp")]
        avail_nodes = {get_target_node_name(p) for p in live if _ready(p)}
        worst_down = max(worst_down, 4 - len(avail_nodes))
        worst_extra = max(worst_extra, len(live) - 4)
        assert 4 - len(avail_nodes) <= max_down
        assert len(live) - 4 <= max_extra
    live = _daemon_pods(c)
    assert len(live) == 4 and {p["spec"]["containers"][0]["image"] for p in live} == {"redis:8"}
    assert worst_down == max_down and worst_extra == max_extra  # it used exactly the room it had
    st = c.get("daemonset", "agent")["status"]
    assert st["updatedNumberScheduled"] == 4 and st["numberAvailable"] == 4
    assert sorted(h["revision"] for h in c.get("controllerrevisions")) == [1, 2]


@needs_node_affinity
def test_on_delete_replaces_only_deleted_pods():
    c = Cluster(nodes=2, seed=4)
    spec = DS.replace("  selector:", "  updateStrategy: {type: OnDelete}\n  selector:")
    c.apply(spec)
    c.settle()
    c.apply(spec.replace("redis:7", "redis:8"))
    c.settle()
    assert {p["spec"]["containers"][0]["image"] for p in _daemon_pods(c)} == {"redis:7"}
    assert c.get("daemonset", "agent")["status"].get("updatedNumberScheduled", 0) == 0  # omitempty
    c.delete("pod", _daemon_pods(c)[0]["metadata"]["name"])
    c.settle()
    assert sorted(p["spec"]["containers"][0]["image"] for p in _daemon_pods(c)) == ["redis:7", "redis:8"]
    assert c.get("daemonset", "agent")["status"]["updatedNumberScheduled"] == 1


def test_flowcontrol_backoff():
    from k8slab.controllers.daemonset import Backoff

    b = Backoff(1000, 8000)
    assert not b.is_in_back_off_since_update("k", 0)
    b.next("k", 0)
    assert b.get("k") == 1000 and b.is_in_back_off_since_update("k", 999)
    assert not b.is_in_back_off_since_update("k", 1000)
    for t in (1000, 3000, 7000, 15000):
        b.next("k", t)
    assert b.get("k") == 8000  # 2, 4, 8, then capped
    b.next("k", 15000 + 16001)  # quiet for more than twice the maximum: start again
    assert b.get("k") == 1000


def test_failed_daemon_pod_is_deleted_then_backed_off():
    c = Cluster(nodes=1, seed=7)
    ctrl = c.controller_manager["daemonset"]
    ds = {"metadata": {"name": "agent", "namespace": "default", "uid": "u1"}, "status": {"observedGeneration": 1},
          "spec": {"template": {"spec": {}}}}
    node = c.get("node", "node-1")
    failed = {"metadata": {"name": "agent-x", "namespace": "default", "labels": {}}, "spec": {"nodeName": "node-1"},
              "status": {"phase": "Failed"}}
    create, delete = ctrl.pods_should_be_on_node(node, {"node-1": [failed]}, ds, "h")
    assert (create, delete) == (False, ["agent-x"])
    create, delete = ctrl.pods_should_be_on_node(node, {"node-1": [failed]}, ds, "h")
    assert (create, delete) == (False, [])  # within the 1 s backoff: not yet
    assert "default/agent" in ctrl.queue._waiting


@pytest.mark.parametrize("change,message", [
    (("  selector:", "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 0}}\n"
                     "  selector:"),
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"),
    (("  selector:", "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}\n"
                     "  selector:"),
     "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"),
    (("    metadata: {labels: {app: agent}}", "    metadata: {labels: {app: other}}"),
     "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match "
     "template `labels`"),
])
def test_invalid_daemonsets_are_rejected_with_field_paths(change, message):
    c = Cluster(nodes=1, seed=8)
    with pytest.raises(Exception) as e:
        c.apply(DS.replace(*change))
    assert e.value.code == 422 and message in str(e.value)
    assert c.get("daemonsets").names == []
