"""TaintToleration and the toleration matching helpers (taint_toleration_test.go,
component-helpers scheduling/corev1, api/core/v1 toleration.go)."""

import pytest

from k8slab.scheduler.framework import Code, CycleState, NodeScore, build_node_infos
from k8slab.scheduler.plugins.tainttoleration import (
    TaintToleration, do_not_schedule_taints_filter, find_matching_untolerated_taint, toleration_tolerates_taint,
)


def node(name, *taints):
    return {"metadata": {"name": name}, "spec": {"taints": list(taints)}, "status": {"allocatable": {"pods": "110"}}}


def pod(*tolerations):
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [], "tolerations": list(tolerations)}}


def taint(key, value="", effect="NoSchedule"):
    t = {"key": key, "effect": effect}
    if value:
        t["value"] = value
    return t


@pytest.mark.parametrize("toleration,tolerated", [
    ({"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"}, True),
    ({"key": "foo", "value": "bar"}, True),                        # empty operator means Equal, empty effect all
    ({"key": "foo", "operator": "Equal", "value": "baz"}, False),
    ({"key": "foo", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                                 # empty key with Exists matches every taint
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "foo", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "foo", "operator": "Gt", "value": "1"}, False),        # unknown operators never match
])
def test_toleration_tolerates_taint(toleration, tolerated):
    assert toleration_tolerates_taint(toleration, taint("foo", "bar")) is tolerated


def test_find_matching_untolerated_taint_applies_the_filter():
    taints = [taint("soft", effect="PreferNoSchedule"), taint("hard"), taint("evict", effect="NoExecute")]
    assert find_matching_untolerated_taint(taints, [], do_not_schedule_taints_filter) == taint("hard")
    assert find_matching_untolerated_taint(taints, [{"key": "hard", "operator": "Exists"}],
                                           do_not_schedule_taints_filter) == taint("evict", effect="NoExecute")
    assert find_matching_untolerated_taint(taints, [{"operator": "Exists"}], do_not_schedule_taints_filter) is None


def run_filter(p, n):
    (ni,) = build_node_infos([n])
    return TaintToleration().filter(CycleState(), p, ni)


def test_filter_rejects_untolerated_no_schedule_taint_with_upstream_message():
    status = run_filter(pod(), node("cp", taint("node-role.kubernetes.io/control-plane")))
    assert status.code == Code.UnschedulableAndUnresolvable
    assert status.message() == "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    status = run_filter(pod(), node("n", taint("dedicated", "user1")))
    assert status.message() == "node(s) had untolerated taint {dedicated: user1}"


def test_filter_passes_tolerated_and_prefer_no_schedule_taints():
    tolerated = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
    assert run_filter(pod(tolerated), node("cp", taint("node-role.kubernetes.io/control-plane"))) is None
    assert run_filter(pod(), node("n", taint("soft", effect="PreferNoSchedule"))) is None


def score_all(p, nodes):
    infos = build_node_infos(nodes)
    plugin = TaintToleration()
    state = CycleState()
    assert plugin.pre_score(state, p, infos) is None
    scores = [NodeScore(ni.name, plugin.score(state, p, ni)[0]) for ni in infos]
    raw = [s.score for s in scores]
    assert plugin.normalize_score(state, p, scores) is None
    return raw, [s.score for s in scores]


def test_score_counts_untolerated_prefer_no_schedule_taints_reversed():
    soft = lambda k: taint(k, "v", "PreferNoSchedule")  # noqa: E731
    raw, normalized = score_all(pod(), [node("n0"), node("n1", soft("a")), node("n2", soft("a"), soft("b"))])
    assert raw == [0, 1, 2]
    assert normalized == [100, 50, 0]


def test_score_matching_toleration_wins():
    toleration = {"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}
    nodes = [node("tolerated", taint("foo", "bar", "PreferNoSchedule")),
             node("not", taint("foo", "blah", "PreferNoSchedule"))]
    assert score_all(pod(toleration), nodes)[1] == [100, 0]


def test_no_schedule_toleration_does_not_tolerate_prefer_no_schedule_taint():
    toleration = {"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"}
    nodes = [node("n1"), node("n2", taint("cpu-type", "arm64", "PreferNoSchedule"))]
    assert score_all(pod(toleration), nodes) == ([0, 1], [100, 0])


def test_score_without_prescore_is_an_error():
    (ni,) = build_node_infos([node("n")])
    score, status = TaintToleration().score(CycleState(), pod(), ni)
    assert status.code == Code.Error
    assert status.message() == 'failed to read "PreScoreTaintToleration" from cycleState: not found'
