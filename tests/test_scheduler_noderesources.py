"""NodeResourcesFit: upstream filter messages, scoring-strategy vectors and args validation
(least_allocated_test.go, most_allocated_test.go, requested_to_capacity_ratio_test.go, fit_test.go)."""

import pytest

from k8slab.scheduler.framework import Code, CycleState, build_node_infos
from k8slab.scheduler.plugins.noderesources import (
    Fit, FunctionShapePoint, InvalidPluginArgsError, build_broken_linear_function, go_div, go_round,
)

GPU = "nvidia.com/gpu"


def make_node(name, allocatable):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"capacity": dict(allocatable), "allocatable": dict(allocatable)}}


def make_pod(name, *requests, node=None):
    containers = [{"name": f"c{i}", "image": "pause", "resources": {"requests": dict(r)}}
                  for i, r in enumerate(requests)]
    spec = {"containers": containers}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": spec}


def scores(plugin, pod, nodes, existing=()):
    infos = build_node_infos(nodes, existing)
    state = CycleState()
    assert plugin.pre_score(state, pod, infos) is None
    out = []
    for ni in infos:
        s, status = plugin.score(state, pod, ni)
        assert status is None
        out.append(s)
    return out


def fit(strategy=None, resources=None, shape=None):
    if strategy is None:
        return Fit()
    ss = {"type": strategy}
    if resources is not None:
        ss["resources"] = resources
    if shape is not None:
        ss["requestedToCapacityRatio"] = {"shape": shape}
    return Fit({"scoringStrategy": ss})


N4_10 = {"cpu": "4000", "memory": "10000"}
N6_10 = {"cpu": "6000", "memory": "10000"}
N10_20 = {"cpu": "10000", "memory": "20000"}
POD_3_5 = ({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"})


def existing_cpu_only_and_mixed(n1_count=1):
    pods = [make_pod(f"a{i}", {"cpu": "3000", "memory": "0"}, node="node1") for i in range(n1_count)]
    pods.append(make_pod("b", {"cpu": "3000", "memory": "5000"}, node="node2"))
    return pods


# --- LeastAllocated --------------------------------------------------------------------------

def test_least_allocated_differently_sized_nodes():
    pod = make_pod("p", *POD_3_5)
    assert scores(fit(), pod, [make_node("node1", N4_10), make_node("node2", N6_10)]) == [37, 50]


def test_least_allocated_no_request_pods_scheduled_with_resources():
    existing = [make_pod("a", {"cpu": "3000", "memory": "0"}, node="node1"),
                make_pod("b", {"cpu": "3000", "memory": "0"}, node="node1"),
                make_pod("c", {"cpu": "3000", "memory": "0"}, node="node2"),
                make_pod("d", {"cpu": "3000", "memory": "5000"}, node="node2")]
    pod = make_pod("p")
    assert scores(fit(), pod, [make_node("node1", N10_20), make_node("node2", N10_20)], existing) == [70, 57]


def test_least_allocated_requested_and_scheduled():
    pod = make_pod("p", *POD_3_5)
    nodes = [make_node("node1", N10_20), make_node("node2", {"cpu": "10000", "memory": "50000"})]
    assert scores(fit(), pod, nodes, existing_cpu_only_and_mixed()) == [57, 60]
    nodes = [make_node("node1", N10_20), make_node("node2", N10_20)]
    assert scores(fit(), pod, nodes, existing_cpu_only_and_mixed()) == [57, 45]


def test_least_allocated_requests_exceed_capacity_score_zero_for_that_resource():
    pod = make_pod("p", {"cpu": "3000", "memory": "0"})
    nodes = [make_node("node1", N4_10), make_node("node2", N4_10)]
    assert scores(fit(), pod, nodes, existing_cpu_only_and_mixed()) == [50, 25]


def test_least_allocated_zero_allocatable_scores_zero():
    pod = make_pod("p")
    nodes = [make_node("node1", {}), make_node("node2", {})]
    assert scores(fit(), pod, nodes, existing_cpu_only_and_mixed()) == [0, 0]


def test_least_allocated_weighted_memory_2_cpu_1():
    plugin = fit("LeastAllocated", [{"name": "memory", "weight": 2}, {"name": "cpu", "weight": 1}])
    pod = make_pod("p", *POD_3_5)
    assert scores(plugin, pod, [make_node("node1", N4_10), make_node("node2", N6_10)]) == [41, 50]


def test_least_allocated_extended_resource_bypassed_or_honoured():
    resources = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": GPU, "weight": 1}]
    nodes = [make_node("node1", {"cpu": "6000", "memory": "10000", GPU: "4"}),
             make_node("node2", {"cpu": "6000", "memory": "10000", GPU: "10"})]
    plain = make_pod("p", *POD_3_5)
    assert scores(fit("LeastAllocated", resources), plain, nodes) == [50, 50]
    with_gpu = make_pod("q", {"cpu": "1000", "memory": "2000", GPU: "2"}, {"cpu": "2000", "memory": "3000"})
    assert scores(fit("LeastAllocated", resources), with_gpu, nodes) == [50, 60]


# --- MostAllocated ---------------------------------------------------------------------------

def test_most_allocated_vectors():
    pod = make_pod("p", *POD_3_5)
    assert scores(fit("MostAllocated"), pod, [make_node("node1", N4_10), make_node("node2", N6_10)]) == [62, 50]
    existing = [make_pod("a", {"cpu": "3000", "memory": "0"}, node="node1"),
                make_pod("b", {"cpu": "3000", "memory": "0"}, node="node1"),
                make_pod("c", {"cpu": "3000", "memory": "0"}, node="node2"),
                make_pod("d", {"cpu": "3000", "memory": "5000"}, node="node2")]
    assert scores(fit("MostAllocated"), make_pod("e"), [make_node("node1", N10_20), make_node("node2", N10_20)],
                  existing) == [30, 42]


def test_most_allocated_at_capacity():
    pod = make_pod("p", {"cpu": "2000", "memory": "4000"}, {"cpu": "3000", "memory": "5000"})
    nodes = [make_node("node1", {"cpu": "5000", "memory": "10000"}),
             make_node("node2", {"cpu": "10000", "memory": "9000"})]
    assert scores(fit("MostAllocated"), pod, nodes) == [95, 75]


def test_most_allocated_uses_non_zero_defaults_and_clamps_to_capacity():
    nodes = [make_node("node1", {"cpu": "250m", "memory": "1000Mi"}),
             make_node("node2", {"cpu": "250m", "memory": "1000Mi"})]
    existing = [make_pod("a", {}, node="node1"), make_pod("b", {}, node="node1")]
    assert scores(fit("MostAllocated"), make_pod("p", {}), nodes, existing) == [80, 30]


# --- RequestedToCapacityRatio ----------------------------------------------------------------

def test_rtcr_least_shape_rounds_half_up():
    shape = [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
    existing = [make_pod("e1", node="node1"), make_pod("e2", node="node1")]
    pod = make_pod("p", {"cpu": "3000", "memory": "5000"})
    assert scores(fit("RequestedToCapacityRatio", shape=shape), pod,
                  [make_node("node1", N4_10), make_node("node2", N6_10)], existing) == [38, 50]


def test_rtcr_bin_packing_single_extended_resource():
    foo = "intel.com/foo"
    plugin = fit("RequestedToCapacityRatio", [{"name": foo, "weight": 1}],
                 [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 1}])
    nodes = [make_node("node1", {"cpu": "4000", "memory": "10000", foo: "8"}),
             make_node("node2", {"cpu": "4000", "memory": "10000", foo: "4"})]
    existing = [make_pod("e", {foo: "2"}, node="node2")]
    assert scores(plugin, make_pod("p", {foo: "2"}), nodes, existing) == [2, 10]


def test_rtcr_bin_packing_two_weighted_extended_resources():
    foo, bar = "intel.com/foo", "intel.com/bar"
    plugin = fit("RequestedToCapacityRatio", [{"name": foo, "weight": 3}, {"name": bar, "weight": 5}],
                 [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 1}])
    nodes = [make_node("node1", {"cpu": "4000", "memory": "10000", foo: "8", bar: "4"}),
             make_node("node2", {"cpu": "4000", "memory": "10000", foo: "4", bar: "8"})]
    existing = [make_pod("e", {foo: "2", bar: "2"}, node="node2")]
    # node1: (2*3 + 5*5) / 8 = 3.875 -> 4; node2: (10*3 + 5*5) / 8 = 6.875 -> 7
    assert scores(plugin, make_pod("p", {foo: "2", bar: "2"}), nodes, existing) == [4, 7]


@pytest.mark.parametrize("shape,points", [
    ([(10, 1), (90, 9)], {-10: 1, 0: 1, 9: 1, 10: 1, 15: 1, 19: 1, 20: 2, 89: 8, 90: 9, 99: 9, 100: 9, 110: 9}),
    ([(0, 2), (40, 10), (100, 0)], {-10: 2, 0: 2, 20: 6, 30: 8, 40: 10, 70: 5, 100: 0, 110: 0}),
])
def test_broken_linear_function(shape, points):
    f = build_broken_linear_function([FunctionShapePoint(u, s) for u, s in shape])
    assert {p: f(p) for p in points} == points


def test_go_integer_division_and_rounding():
    assert go_div(-7, 2) == -3 and go_div(7, 2) == 3 and go_div(7, -2) == -3
    assert go_round(37.5) == 38 and go_round(2.5) == 3 and go_round(-2.5) == -3 and go_round(2.4) == 2


# --- Filter ----------------------------------------------------------------------------------

def run_filter(plugin, pod, node, existing=()):
    (ni,) = build_node_infos([node], existing)
    state = CycleState()
    result, status = plugin.pre_filter(state, pod, [ni])
    assert result is None and status is None
    return plugin.filter(state, pod, ni)


def test_filter_fits_and_insufficient_messages():
    node = make_node("n", {"cpu": "10", "memory": "20", "pods": "32"})
    existing = [make_pod("e", {"cpu": "5", "memory": "19"}, node="n")]
    assert run_filter(Fit(), make_pod("p", {"cpu": "5", "memory": "1"}), node, existing) is None
    status = run_filter(Fit(), make_pod("p", {"cpu": "8", "memory": "2"}), node, existing)
    assert status.code == Code.Unschedulable
    assert status.reasons == ["Insufficient cpu", "Insufficient memory"]


def test_filter_too_many_pods_even_without_requests():
    node = make_node("n", {"cpu": "10", "memory": "20", "pods": "1"})
    status = run_filter(Fit(), make_pod("p"), node, [make_pod("e", node="n")])
    assert status.reasons == ["Too many pods"]


def test_filter_uses_real_requests_not_non_zero_defaults():
    node = make_node("n", {"cpu": "100m", "memory": "1Mi", "pods": "110"})
    existing = [make_pod(f"e{i}", {}, node="n") for i in range(5)]  # no requests: 0 for the filter
    assert run_filter(Fit(), make_pod("p", {}), node, existing) is None


def test_filter_init_container_max_rule_and_extended_resources():
    pod = make_pod("p", {"cpu": "2", "memory": "1G"}, {"cpu": "1", "memory": "1G"})
    pod["spec"]["initContainers"] = [{"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                                     {"name": "i2", "resources": {"requests": {"cpu": "2", "memory": "3G"}}}]
    assert run_filter(Fit(), pod, make_node("n", {"cpu": "3", "memory": "3G", "pods": "1"})) is None
    assert run_filter(Fit(), pod, make_node("n", {"cpu": "3", "memory": "2G", "pods": "1"})).reasons == \
        ["Insufficient memory"]
    gpu_pod = make_pod("g", {GPU: "2"})
    assert run_filter(Fit(), gpu_pod, make_node("n", {"pods": "1", GPU: "1"})).reasons == [f"Insufficient {GPU}"]
    ignored = Fit({"ignoredResources": [GPU]})
    assert run_filter(ignored, gpu_pod, make_node("n", {"pods": "1", GPU: "1"})) is None


def test_filter_without_prefilter_is_an_error():
    (ni,) = build_node_infos([make_node("n", {"pods": "1"})])
    status = Fit().filter(CycleState(), make_pod("p"), ni)
    assert status.code == Code.Error
    assert status.message() == 'error reading "PreFilterNodeResourcesFit" from cycleState: not found'


# --- Args ------------------------------------------------------------------------------------

def test_defaults_are_least_allocated_on_cpu_and_memory():
    plugin = Fit()
    assert plugin.args["scoringStrategy"] == {
        "type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}
    # A weight left at 0 in a versioned config is defaulted to 1 before validation.
    assert fit("MostAllocated", [{"name": "cpu", "weight": 0}]).resources == [{"name": "cpu", "weight": 1}]


@pytest.mark.parametrize("weight,index", [(-1, 0), (101, 1)])
def test_weight_out_of_range_is_rejected(weight, index):
    resources = [{"name": "memory", "weight": 1}, {"name": "cpu", "weight": 1}]
    resources[index]["weight"] = weight
    with pytest.raises(InvalidPluginArgsError) as err:
        fit("LeastAllocated", resources)
    name = resources[index]["name"]
    assert str(err.value) == (f"scoringStrategy.resources[{index}].weight: Invalid value: {weight}: "
                              f"resource weight of {name} not in valid range (0, 100]")


def test_unsupported_strategy_and_bad_shape_are_rejected():
    with pytest.raises(InvalidPluginArgsError) as err:
        fit("Random")
    assert str(err.value) == ('scoringStrategy.type: Unsupported value: "Random": supported values: '
                              '"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"')
    with pytest.raises(InvalidPluginArgsError) as err:
        fit("RequestedToCapacityRatio", shape=[{"utilization": 50, "score": 1}, {"utilization": 10, "score": 11}])
    assert err.value.errors[0].error() == \
        "scoringStrategy.shape[1].utilization: Invalid value: 10: values must be sorted in increasing order"
    assert err.value.errors[1].error() == \
        "scoringStrategy.shape[1].score: Invalid value: 11: not in valid range [0, 10]"
