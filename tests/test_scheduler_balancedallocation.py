"""NodeResourcesBalancedAllocation: upstream vectors (balanced_allocation_test.go), the best-effort
Skip, and args validation."""

import pytest

from k8slab.scheduler.framework import Code, CycleState, build_node_infos
from k8slab.scheduler.plugins.balancedallocation import BalancedAllocation, balanced_resource_scorer
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError

GPU = "nvidia.com/gpu"


def make_node(name, allocatable):
    return {"metadata": {"name": name}, "status": {"allocatable": dict(allocatable)}}


def make_pod(name, *requests, node=None):
    spec = {"containers": [{"name": f"c{i}", "resources": {"requests": dict(r)}} for i, r in enumerate(requests)]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec}


def scores(plugin, pod, nodes, existing=()):
    infos = build_node_infos(nodes, existing)
    state = CycleState()
    assert plugin.pre_score(state, pod, infos) is None
    return [plugin.score(state, pod, ni)[0] for ni in infos]


CPU_ONLY = {"cpu": "3000", "memory": "0"}
CPU_AND_MEMORY = {"cpu": "3000", "memory": "5000"}


def test_nothing_scheduled_differently_sized_nodes():
    nodes = [make_node("n1", {"cpu": "4000", "memory": "10000"}), make_node("n2", {"cpu": "6000", "memory": "10000"})]
    assert scores(BalancedAllocation(), make_pod("p", CPU_AND_MEMORY), nodes) == [87, 100]


@pytest.mark.parametrize("n2_memory,expected", [("20000", [82, 95]), ("50000", [82, 80])])
def test_scheduled_pods_with_resources(n2_memory, expected):
    nodes = [make_node("n1", {"cpu": "10000", "memory": "20000"}),
             make_node("n2", {"cpu": "10000", "memory": n2_memory})]
    existing = [make_pod("a", CPU_ONLY, node="n1"), make_pod("b", CPU_AND_MEMORY, node="n2")]
    assert scores(BalancedAllocation(), make_pod("p", CPU_AND_MEMORY), nodes, existing) == expected


def test_requested_fraction_is_capped_at_one():
    nodes = [make_node("n1", {"cpu": "6000", "memory": "10000"}), make_node("n2", {"cpu": "6000", "memory": "10000"})]
    existing = [make_pod("a", CPU_ONLY, node="n1"), make_pod("b", CPU_AND_MEMORY, node="n2")]
    assert scores(BalancedAllocation(), make_pod("p", CPU_ONLY), nodes, existing) == [50, 75]


def test_three_resources_use_population_standard_deviation():
    plugin = BalancedAllocation({"resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1},
                                               {"name": GPU, "weight": 1}]})
    alloc = {"cpu": "3500", "memory": "40000", GPU: "8"}
    existing = [make_pod("a", {"cpu": "3000", "memory": "5000", GPU: "3"}, node="n1"),
                make_pod("b", {"cpu": "3000", "memory": "5000"}, node="n2")]
    pod = make_pod("p", {"memory": "0", GPU: "1"})
    assert scores(plugin, pod, [make_node("n1", alloc), make_node("n2", alloc)], existing) == [70, 65]


def test_best_effort_pod_is_skipped_at_prescore():
    plugin = BalancedAllocation()
    (ni,) = build_node_infos([make_node("n1", {"cpu": "4", "memory": "4Gi"})])
    state = CycleState()
    status = plugin.pre_score(state, make_pod("p", {}), [ni])
    assert status.code == Code.Skip
    # Without PreScore, Score gives best-effort pods 0.
    assert plugin.score(CycleState(), make_pod("p", {}), ni) == (0, None)


def test_scorer_edge_cases():
    assert balanced_resource_scorer([1, 0], [0, 0]) == 100  # fewer than two fractions: std 0
    assert balanced_resource_scorer([10, 0], [10, 10]) == 50


def test_args_weights_must_be_one_and_names_unique():
    with pytest.raises(InvalidPluginArgsError) as err:
        BalancedAllocation({"resources": [{"name": "cpu", "weight": 2}, {"name": "cpu", "weight": 1}]})
    assert str(err.value) == ('[resources[0].weight: Invalid value: 2: must be 1, '
                              'resources[1].name: Duplicate value: "cpu"]')
