"""schedule_one.go: numFeasibleNodesToFind, filtering with a rotating start index, selectHost's
reservoir sampling, FitError messages and an end-to-end schedule_pod."""

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8slab.scheduler.algorithm import (
    Diagnosis, EmptyPriorityListError, FitError, NodeToStatus, NoNodesAvailableError, num_feasible_nodes_to_find,
    schedule_pod, select_host,
)
from k8slab.scheduler.framework import (
    Code, CycleState, Framework, NodePluginScores, Plugin, PluginEntry, Profile, SchedulerError, Status,
    build_node_infos,
)
from k8slab.scheduler.plugins import REGISTRY

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def make_node(name, cpu="4", memory="8Gi", taints=(), **spec):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {}},
            "spec": {"taints": list(taints), **spec},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}}}


def make_pod(name, cpu=None, memory=None, node=None, nominated=None):
    requests = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": name},
           "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": requests}}]},
           "status": {}}
    if node:
        pod["spec"]["nodeName"] = node
    if nominated:
        pod["status"]["nominatedNodeName"] = nominated
    return pod


# --- numFeasibleNodesToFind ------------------------------------------------------------------

@pytest.mark.parametrize("nodes,percentage,expected", [
    (10, None, 10), (10, 40, 10), (100, None, 100), (500, None, 230), (1000, None, 420), (1000, 40, 400),
    (5000, None, 500), (6000, None, 300), (6000, 40, 2400), (15000, None, 750),
])
def test_num_feasible_nodes_to_find(nodes, percentage, expected):
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


def test_num_feasible_nodes_to_find_uses_global_percentage_when_profile_unset():
    assert num_feasible_nodes_to_find(None, 1000, global_percentage=40) == 400
    assert num_feasible_nodes_to_find(10, 1000, global_percentage=40) == 100  # at least 100


# --- selectHost ------------------------------------------------------------------------------

def nps(name, total):
    return NodePluginScores(name, [], total)


def test_select_host_ties_are_uniform_with_a_seeded_rng():
    rng = random.Random(42)
    trials = 30000
    wins = Counter()
    for _ in range(trials):
        host, _ = select_host([nps("a", 300), nps("low", 10), nps("b", 300), nps("c", 300)], 3, rng)
        wins[host] += 1
    assert set(wins) == {"a", "b", "c"}
    for name in "abc":
        assert abs(wins[name] / trials - 1 / 3) < 0.015


def test_select_host_is_deterministic_for_a_seed():
    scores = [nps(f"n{i}", 100) for i in range(6)]
    picks = lambda seed: [select_host(scores, 3, r)[0] for r in [random.Random(seed)] for _ in range(20)]  # noqa: E731
    assert picks(7) == picks(7)
    assert len(set(picks(7))) > 1


def test_select_host_returns_the_top_three_chosen_first():
    rng = random.Random(0)
    host, top = select_host([nps("a", 5), nps("b", 9), nps("c", 7), nps("d", 1), nps("e", 8)], 3, rng)
    assert host == "b"
    assert [(n.name, n.total_score) for n in top] == [("b", 9), ("e", 8), ("c", 7)]
    with pytest.raises(EmptyPriorityListError, match="^empty priorityList$"):
        select_host([], 3, rng)
    assert select_host([nps("only", 0)], 3, rng)[0] == "only"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=12), st.integers(0, 2 ** 32))
def test_select_host_always_picks_a_maximum(totals, seed):
    scores = [nps(f"n{i}", t) for i, t in enumerate(totals)]
    host, top = select_host(scores, 3, random.Random(seed))
    best = max(totals)
    assert dict((s.name, s.total_score) for s in scores)[host] == best
    assert top[0].name == host
    assert len(top) == min(3, len(totals))
    assert [t.total_score for t in top] == sorted((t.total_score for t in top), reverse=True)


# --- FitError --------------------------------------------------------------------------------

def test_fit_error_message_is_a_sorted_histogram():
    d = Diagnosis()
    d.node_to_status.set("cp", Status(Code.UnschedulableAndUnresolvable,
                                      ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]))
    d.node_to_status.set("w1", Status(Code.Unschedulable, ["Insufficient cpu"]))
    d.node_to_status.set("w2", Status(Code.Unschedulable, ["Insufficient cpu"]))
    err = FitError({}, 3, d)
    assert str(err) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")
    d.post_filter_msg = ("preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                         "2 No preemption victims found for incoming pod.")
    assert str(err).endswith("2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not "
                             "helpful for scheduling, 2 No preemption victims found for incoming pod.")


def test_fit_error_counts_absent_nodes_and_prefers_prefilter_message():
    d = Diagnosis(NodeToStatus({"n1": Status(Code.Unschedulable, ["Insufficient memory"])},
                               Status(Code.UnschedulableAndUnresolvable, ["node(s) didn't satisfy plugin(s) [X]"])))
    assert str(FitError({}, 4, d)) == ("0/4 nodes are available: 1 Insufficient memory, "
                                       "3 node(s) didn't satisfy plugin(s) [X].")
    d.pre_filter_msg = "pod has unbound immediate PersistentVolumeClaims"
    assert str(FitError({}, 4, d)) == "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims."


# --- schedule_pod ----------------------------------------------------------------------------

def three_node_cluster():
    nodes = [make_node("control-plane", taints=[CONTROL_PLANE_TAINT]), make_node("node-1"), make_node("node-2")]
    existing = [make_pod("busy", cpu="1", memory="1Gi", node="node-1")]
    return build_node_infos(nodes, existing)


def test_schedule_pod_picks_the_least_loaded_worker_and_records_everything():
    infos = three_node_cluster()
    result = schedule_pod(Framework(), CycleState(), make_pod("web", "500m", "256Mi"), infos, random.Random(1))
    assert result.suggested_host == "node-2"
    assert (result.evaluated_nodes, result.feasible_nodes, result.next_start_node_index) == (3, 2, 0)
    assert result.scored
    rows = {r["node"]: r for r in result.table_rows()}
    cp = rows["control-plane"]
    assert cp["NodeUnschedulable"] == "pass" and cp["NodeName"] == "pass"
    assert cp["TaintToleration"] == "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    assert cp["NodeResourcesFit"] == ""  # not run: the first rejection decides
    assert cp["total"] is None and cp["chosen"] is False
    # TaintToleration: no PreferNoSchedule taints -> 100 x 3. LeastAllocated: node-1 cpu 62, memory 84 -> 73;
    # node-2 cpu 87, memory 96 -> 91. Balanced: node-1 |0.375-0.15625|/2 -> 89; node-2 -> 95.
    expected = {"node-1": (73, 89, 462), "node-2": (91, 95, 486)}
    for node, (fit, balanced, total) in expected.items():
        row = rows[node]
        assert all(row[p] in ("pass", "skip") for p in result.filter_plugins)
        assert row["NodeAffinity"] == "skip" and row["NodeResourcesFit"] == "pass"
        assert (row["TaintToleration raw"], row["TaintToleration normalized"], row["TaintToleration weighted"]) == \
            (0, 100, 300)
        assert row["NodeResourcesFit normalized"] == fit and row["NodeResourcesFit weighted"] == fit
        assert row["NodeResourcesBalancedAllocation weighted"] == balanced
        assert row["total"] == total
    assert rows["node-2"]["chosen"] and not rows["node-1"]["chosen"]
    assert [n.name for n in result.top_nodes] == ["node-2", "node-1"]


def test_schedule_pod_fit_error_keeps_the_record_and_message():
    nodes = [make_node("control-plane", taints=[CONTROL_PLANE_TAINT]), make_node("node-1"), make_node("node-2")]
    existing = [make_pod("busy-1", cpu="1", node="node-1"), make_pod("busy-2", cpu="1", node="node-2")]
    infos = build_node_infos(nodes, existing)
    with pytest.raises(FitError) as err:
        schedule_pod(Framework(), CycleState(), make_pod("huge", "3500m"), infos, random.Random(0),
                     next_start_index=1)
    assert str(err.value) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")
    assert err.value.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}
    result = err.value.result
    assert result.next_start_node_index == 1  # (1 + 3 processed) % 3
    rows = {r["node"]: r for r in result.table_rows()}
    assert rows["node-1"]["NodeResourcesFit"] == rows["node-2"]["NodeResourcesFit"] == "Insufficient cpu"
    assert rows["node-1"]["TaintToleration"] == "pass"


def test_single_feasible_node_is_chosen_without_scoring():
    infos = build_node_infos([make_node("control-plane", taints=[CONTROL_PLANE_TAINT]), make_node("node-1")])
    result = schedule_pod(Framework(), CycleState(), make_pod("web", "100m"), infos, random.Random(0))
    assert result.suggested_host == "node-1" and not result.scored
    assert result.evaluated_nodes == 2 and result.feasible_nodes == 1
    assert result.node("node-1").total_score is None


def test_nominated_node_is_tried_first():
    infos = three_node_cluster()
    pod = make_pod("preemptor", "500m", nominated="node-1")
    result = schedule_pod(Framework(), CycleState(), pod, infos, random.Random(0))
    assert result.suggested_host == "node-1"
    assert result.evaluated_nodes == 1


def test_start_index_rotates_in_large_clusters():
    infos = build_node_infos([make_node(f"n{i:03}") for i in range(200)])
    fw = Framework()
    pod = make_pod("web", "100m")
    first = schedule_pod(fw, CycleState(), pod, infos, random.Random(0))
    # 200 nodes: adaptive 50 - 200/125 = 49% -> 98, raised to the minimum of 100 nodes.
    assert first.evaluated_nodes == first.feasible_nodes == 100
    assert first.next_start_node_index == 100
    assert int(first.suggested_host[1:]) < 100
    second = schedule_pod(fw, CycleState(), pod, infos, random.Random(0), first.next_start_node_index)
    assert int(second.suggested_host[1:]) >= 100
    assert second.next_start_node_index == 0
    assert [r.evaluated for r in second.nodes] == [False] * 100 + [True] * 100


def test_without_score_plugins_the_first_feasible_node_wins():
    fw = Framework(Profile(plugins=[PluginEntry("NodeUnschedulable"), PluginEntry("NodeName")]), REGISTRY)
    assert not fw.has_score_plugins()
    infos = build_node_infos([make_node("a"), make_node("b"), make_node("c")])
    result = schedule_pod(fw, CycleState(), make_pod("p", "1"), infos, random.Random(0), next_start_index=1)
    assert result.suggested_host == "b"
    assert result.evaluated_nodes == 1 and result.next_start_node_index == 2


def test_plugin_errors_and_empty_clusters_raise():
    class Bad(Plugin):
        NAME = "Bad"

        def score(self, state, pod, node_info):
            return 101, None

    fw = Framework(Profile(plugins=[PluginEntry("Bad", 1)]), {"Bad": Bad})
    infos = build_node_infos([make_node("a"), make_node("b")])
    with pytest.raises(SchedulerError, match='plugin "Bad" returns an invalid score 101'):
        schedule_pod(fw, CycleState(), make_pod("p"), infos, random.Random(0))
    with pytest.raises(NoNodesAvailableError, match="^no nodes available to schedule pods$"):
        schedule_pod(Framework(), CycleState(), make_pod("p"), [], random.Random(0))


def test_prefilter_restriction_and_rejection_are_explained():
    from k8slab.scheduler.framework import PreFilterResult

    class OnlyB(Plugin):
        NAME = "OnlyB"

        def pre_filter(self, state, pod, nodes):
            return PreFilterResult({"b"}), None

    class Refuse(Plugin):
        NAME = "Refuse"

        def pre_filter(self, state, pod, nodes):
            return None, Status(Code.UnschedulableAndUnresolvable, ["pod has unbound immediate PersistentVolumeClaims"])

    infos = build_node_infos([make_node("a"), make_node("b"), make_node("c")])
    fw = Framework(Profile(plugins=[PluginEntry("OnlyB"), PluginEntry("NodeName")]), dict(REGISTRY, OnlyB=OnlyB))
    result = schedule_pod(fw, CycleState(), make_pod("p"), infos, random.Random(0))
    assert result.suggested_host == "b" and result.evaluated_nodes == 1
    assert result.node("a").status.message() == "node(s) didn't satisfy plugin(s) [OnlyB]"

    fw = Framework(Profile(plugins=[PluginEntry("Refuse"), PluginEntry("NodeName")]), dict(REGISTRY, Refuse=Refuse))
    with pytest.raises(FitError) as err:
        schedule_pod(fw, CycleState(), make_pod("p"), infos, random.Random(0))
    assert str(err.value) == "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    assert err.value.diagnosis.unschedulable_plugins == {"Refuse"}
    assert err.value.result.table_rows()[0] == {
        "node": "a", "PreFilter": "pod has unbound immediate PersistentVolumeClaims", "NodeName": "",
        "total": None, "chosen": False}
