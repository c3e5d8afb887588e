"""The scheduling framework: Status/Code, CycleState, NodeInfo accounting, pod requests, score
normalization and the runtime that runs plugins per extension point (runtime/framework.go)."""

from fractions import Fraction

import pytest

from k8slab.scheduler.framework import (
    DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Code, CycleState, Framework, NodeInfo, NodeScore,
    NotFoundError, Plugin, PluginEntry, PreFilterResult, Profile, QueuedPodInfo, SchedulerError, Status,
    as_status, build_node_infos, default_normalize_score, default_profile, get_non_zero_requests, pod_requests,
)
from k8slab.scheduler.plugins import REGISTRY


def make_node(name, allocatable=None, **spec):
    alloc = allocatable or {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"metadata": {"name": name}, "spec": spec, "status": {"allocatable": alloc}}


def make_pod(name, *requests, node=None, uid=None, **spec):
    containers = [{"name": f"c{i}", "resources": {"requests": dict(r)}} for i, r in enumerate(requests)]
    s = {"containers": containers, **spec}
    if node:
        s["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default", "uid": uid or name}, "spec": s}


# --- Code and Status -------------------------------------------------------------------------

def test_codes_match_upstream_order_and_names():
    assert [c.name for c in Code] == ["Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable",
                                      "Wait", "Skip", "Pending"]
    assert [int(c) for c in Code] == list(range(7))
    assert str(Code.UnschedulableAndUnresolvable) == "UnschedulableAndUnresolvable"


def test_status_message_rejection_and_error():
    s = Status(Code.Unschedulable, ["Insufficient cpu", "Insufficient memory"])
    assert s.message() == "Insufficient cpu, Insufficient memory"
    assert s.is_rejected() and not s.is_success()
    assert str(s.as_error()) == "Insufficient cpu, Insufficient memory"
    assert Status(Code.Pending).is_rejected() and not Status(Code.Error).is_rejected()
    assert Status(Code.Skip).as_error() is None
    err = as_status(ValueError("boom"))
    assert err.code == Code.Error and err.reasons == ["boom"]
    assert as_status(None) is None


# --- CycleState ------------------------------------------------------------------------------

def test_cycle_state_read_write_clone():
    class Data:
        def __init__(self, n):
            self.n = n

        def clone(self):
            return Data(self.n)

    state = CycleState()
    with pytest.raises(NotFoundError, match="^not found$"):
        state.read("missing")
    state.write("k", Data(1))
    state.skip_filter_plugins.add("X")
    copy = state.clone()
    copy.read("k").n = 2
    assert state.read("k").n == 1
    assert copy.skip_filter_plugins == {"X"}


# --- Requests and NodeInfo -------------------------------------------------------------------

def test_non_zero_defaults_apply_only_when_the_key_is_absent():
    assert (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST) == (100, 200 * 1024 * 1024)
    assert get_non_zero_requests({}) == (100, 209715200)
    assert get_non_zero_requests({"cpu": "0", "memory": "0"}) == (0, 0)
    assert get_non_zero_requests({"cpu": "250m"}) == (250, 209715200)


def test_pod_requests_containers_init_sidecars_and_overhead():
    pod = make_pod("p", {"cpu": "1"}, overhead={"cpu": "100m"})
    pod["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
        {"name": "init", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}},
    ]
    # containers + sidecar = 2; the init container runs beside the sidecar: 3 + 1 = 4; then overhead.
    assert pod_requests(pod) == {"cpu": Fraction(41, 10), "memory": Fraction(1024 ** 3)}


def test_node_info_add_and_remove_pods():
    ni = NodeInfo(make_node("n1"))
    assert ni.allocatable.milli_cpu == 4000 and ni.allocatable.allowed_pod_number == 110
    web = make_pod("web", {"cpu": "500m", "memory": "1Gi"}, node="n1")
    empty = make_pod("empty", {}, {}, node="n1")
    web["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    ni.add_pod(web)
    ni.add_pod(empty)
    assert (ni.requested.milli_cpu, ni.requested.memory) == (500, 1024 ** 3)
    assert ni.non_zero_requested.milli_cpu == 500 + 2 * 100
    assert ni.non_zero_requested.memory == 1024 ** 3 + 2 * DEFAULT_MEMORY_REQUEST
    assert ni.used_ports == {"0.0.0.0": {("TCP", 8080)}}
    ni.remove_pod(web)
    assert (ni.requested.milli_cpu, ni.non_zero_requested.milli_cpu) == (0, 200)
    assert ni.used_ports == {} and [p.pod["metadata"]["name"] for p in ni.pods] == ["empty"]
    with pytest.raises(SchedulerError, match="^no corresponding pod web in pods of node n1$"):
        ni.remove_pod(web)


def test_build_node_infos_assigns_pods_and_counts_images():
    nodes = [make_node("a"), make_node("b")]
    nodes[0]["status"]["images"] = [{"names": ["nginx:1.27"], "sizeBytes": 100}]
    nodes[1]["status"]["images"] = [{"names": ["nginx:1.27", "redis:7"], "sizeBytes": 50}]
    infos = build_node_infos(nodes, [make_pod("x", {"cpu": "1"}, node="b"), make_pod("pending", {"cpu": "1"})])
    assert [len(ni.pods) for ni in infos] == [0, 1]
    assert infos[1].image_states["nginx:1.27"].num_nodes == 2
    assert infos[1].image_states["redis:7"].num_nodes == 1


# --- DefaultNormalizeScore -------------------------------------------------------------------

@pytest.mark.parametrize("scores,expected,expected_reverse", [
    ([1, 2, 3, 4], [25, 50, 75, 100], [75, 50, 25, 0]),
    ([1000, 10, 20, 30], [100, 1, 2, 3], [0, 99, 98, 97]),
    ([1, 1, 1, 1], [100, 100, 100, 100], [0, 0, 0, 0]),
    ([1000, 1, 1, 1], [100, 0, 0, 0], [0, 100, 100, 100]),
    ([0, 1, 1, 1], [0, 100, 100, 100], [100, 0, 0, 0]),
    ([0, 0, 0], [0, 0, 0], [100, 100, 100]),
])
def test_default_normalize_score(scores, expected, expected_reverse):
    for reverse, want in ((False, expected), (True, expected_reverse)):
        lst = [NodeScore(f"n{i}", s) for i, s in enumerate(scores)]
        assert default_normalize_score(100, reverse, lst) is None
        assert [s.score for s in lst] == want


# --- Framework -------------------------------------------------------------------------------

def test_default_profile_order_and_weights():
    fw = Framework()
    assert [e.name for e in default_profile().plugins] == [
        "SchedulingGates", "PrioritySort", "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
        "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "DefaultPreemption",
        "NodeResourcesBalancedAllocation", "ImageLocality", "DefaultBinder"]
    assert fw.filter_plugin_names == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                                      "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
    # default_plugins.go: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, the rest 1
    assert fw.score_plugin_weight == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
                                      "PodTopologySpread": 2, "InterPodAffinity": 2,
                                      "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    assert fw.list_plugins()["PreEnqueue"] == ["SchedulingGates"]
    assert fw.list_plugins()["PostFilter"] == ["DefaultPreemption"]
    assert fw.list_plugins()["Bind"] == ["DefaultBinder"]
    assert fw.list_plugins()["QueueSort"] == ["PrioritySort"]


class ConstScore(Plugin):
    NAME = "ConstScore"

    def score(self, state, pod, node_info):
        return (self.args or {}).get("score", 0), None


def framework_with(*entries, registry=None, client=None):
    reg = dict(REGISTRY, **(registry or {}))
    return Framework(Profile(plugins=[PluginEntry(n, w) for n, w in entries],
                             plugin_config={"ConstScore": {"score": 101}}), reg, client)


def test_score_out_of_range_is_an_error_naming_the_plugin():
    fw = framework_with(("ConstScore", 2), registry={"ConstScore": ConstScore})
    infos = build_node_infos([make_node("n1")])
    scores, status = fw.run_score_plugins(CycleState(), make_pod("p"), infos)
    assert scores is None and status.code == Code.Error
    assert status.message() == ('applying score defaultWeights on Score plugins: plugin "ConstScore" returns an '
                                'invalid score 101, it should in the range of [0, 100] after normalizing')


def test_score_weights_and_totals():
    class Half(Plugin):
        NAME = "Half"

        def score(self, state, pod, node_info):
            return 50, None

    fw = Framework(Profile(plugins=[PluginEntry("Half", 3), PluginEntry("NodeResourcesFit", 0)]),
                   dict(REGISTRY, Half=Half))
    infos = build_node_infos([make_node("n1")])
    state = CycleState()
    assert fw.run_pre_score_plugins(state, make_pod("p", {"cpu": "2", "memory": "4Gi"}), infos) is None
    (nps,), status = fw.run_score_plugins(state, make_pod("p", {"cpu": "2", "memory": "4Gi"}), infos)
    assert status is None
    assert [(s.name, s.raw, s.normalized, s.weight, s.score) for s in nps.scores] == [
        ("Half", 50, 50, 3, 150), ("NodeResourcesFit", 50, 50, 1, 50)]  # weight 0 counts as 1
    assert nps.total_score == 200


def test_failing_score_plugin_is_wrapped():
    class Broken(Plugin):
        NAME = "Broken"

        def score(self, state, pod, node_info):
            return 0, Status(Code.Error, ["disk on fire"])

    fw = Framework(Profile(plugins=[PluginEntry("Broken", 1)]), {"Broken": Broken})
    _, status = fw.run_score_plugins(CycleState(), make_pod("p"), build_node_infos([make_node("n")]))
    assert status.message() == 'running Score plugins: plugin "Broken" failed with: disk on fire'


def test_filter_plugin_error_is_wrapped_and_names_the_plugin():
    class Flaky(Plugin):
        NAME = "Flaky"

        def filter(self, state, pod, node_info):
            return Status(Code.Error, ["timeout"])

    fw = Framework(Profile(plugins=[PluginEntry("NodeName"), PluginEntry("Flaky")]), dict(REGISTRY, Flaky=Flaky))
    (ni,) = build_node_infos([make_node("n")])
    status = fw.run_filter_plugins(CycleState(), make_pod("p"), ni)
    assert status.code == Code.Error and status.plugin == "Flaky"
    assert status.message() == 'running "Flaky" filter plugin: timeout'


def test_filter_stops_at_first_rejection_unless_evaluating_all():
    fw = Framework()
    node = make_node("n", {"cpu": "1", "memory": "1Gi", "pods": "110"}, unschedulable=True)
    (ni,) = build_node_infos([node])
    pod = make_pod("p", {"cpu": "2"})
    state = CycleState()
    fw.run_pre_filter_plugins(state, pod, [ni])
    status, verdicts = fw.run_filter_plugins_with_verdicts(state, pod, ni)
    assert status.plugin == "NodeUnschedulable" and status.message() == "node(s) were unschedulable"
    assert [v.plugin for v in verdicts] == ["NodeUnschedulable"]
    status, verdicts = fw.run_filter_plugins_with_verdicts(state, pod, ni, evaluate_all=True)
    assert status.plugin == "NodeUnschedulable"
    assert [(v.plugin, v.status.message() if v.status else None) for v in verdicts] == [
        ("NodeUnschedulable", "node(s) were unschedulable"), ("NodeName", None), ("TaintToleration", None),
        ("NodeResourcesFit", "Insufficient cpu")]


def test_prefilter_results_are_intersected():
    def only(name, nodes):
        class P(Plugin):
            NAME = name

            def pre_filter(self, state, pod, all_nodes):
                return PreFilterResult(set(nodes)), None
        return P

    fw = Framework(Profile(plugins=[PluginEntry("A"), PluginEntry("B")]),
                   {"A": only("A", {"n1", "n2"}), "B": only("B", {"n3"})})
    result, status, plugins = fw.run_pre_filter_plugins(CycleState(), make_pod("p"), [])
    assert result.node_names == set() and plugins == {"A", "B"}
    assert status.code == Code.UnschedulableAndUnresolvable
    assert status.message() == "node(s) didn't satisfy plugin(s) [A B] simultaneously"


def test_queue_sort_func_is_priority_then_timestamp():
    less = Framework().queue_sort_func()
    high = QueuedPodInfo(make_pod("high", priority=1000), timestamp=5)
    low = QueuedPodInfo(make_pod("low"), timestamp=1)
    later = QueuedPodInfo(make_pod("later"), timestamp=2)
    assert less(high, low) and not less(low, high)
    assert less(low, later) and not less(later, low)


class FakeClient:
    def __init__(self, fail=None):
        self.bound = []
        self.fail = fail

    def bind(self, pod, node_name):
        if self.fail:
            raise self.fail
        self.bound.append((pod["metadata"]["name"], node_name))


def test_default_binder_binds_through_the_client():
    client = FakeClient()
    fw = Framework(client=client)
    assert fw.run_bind_plugins(CycleState(), make_pod("web"), "node-2") is None
    assert client.bound == [("web", "node-2")]
    failing = Framework(client=FakeClient(fail=RuntimeError('pods "web" not found')))
    status = failing.run_bind_plugins(CycleState(), make_pod("web"), "node-2")
    assert status.code == Code.Error
    assert status.message() == 'binding "DefaultBinder": pods "web" not found'
    assert Framework(Profile(plugins=[])).run_bind_plugins(CycleState(), make_pod("w"), "n").code == Code.Skip


def test_reserve_permit_and_unreserve_order():
    calls = []

    def plugin(name, permit_status=None):
        class P(Plugin):
            NAME = name

            def reserve(self, state, pod, node_name):
                calls.append(f"reserve {name}")

            def unreserve(self, state, pod, node_name):
                calls.append(f"unreserve {name}")

            def permit(self, state, pod, node_name):
                return permit_status, 60 * 60 * 1000
        return P

    fw = Framework(Profile(plugins=[PluginEntry("A"), PluginEntry("B")]),
                   {"A": plugin("A"), "B": plugin("B", Status(Code.Wait))})
    state, pod = CycleState(), make_pod("web")
    assert fw.run_reserve_plugins_reserve(state, pod, "n") is None
    fw.run_reserve_plugins_unreserve(state, pod, "n")
    assert calls == ["reserve A", "reserve B", "unreserve B", "unreserve A"]
    waits, status = fw.run_permit_plugins(state, pod, "n")
    assert waits == {"B": 15 * 60 * 1000}
    assert status.code == Code.Wait
    assert status.message() == 'one or more plugins asked to wait and no plugin rejected pod "web"'


def test_unknown_plugin_in_profile_is_rejected():
    with pytest.raises(SchedulerError, match='^PreFilterPlugin "VolumeBinding" does not exist$'):
        Framework(Profile(plugins=[PluginEntry("VolumeBinding", 0)]))
