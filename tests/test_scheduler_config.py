"""KubeSchedulerConfiguration: defaulting, plugin merging, validation with field paths
(defaults_test.go, validation_test.go cases), custom plugins, and a second scheduler."""

import pytest

from k8slab import Cluster
from k8slab.scheduler import register_plugin
from k8slab.scheduler.config import InvalidConfigurationError, load_config, merge_plugin_set
from k8slab.scheduler.framework import Framework, Plugin
from k8slab.scheduler.plugins import REGISTRY

HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


def cfg(**fields):
    return {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", **fields}


def errors_of(config):
    with pytest.raises(InvalidConfigurationError) as err:
        load_config(config)
    return [e.error() for e in err.value.errors], str(err.value)


# --- defaulting ------------------------------------------------------------------------------------

def test_empty_configuration_gets_the_default_profile_and_args():
    c = load_config(cfg())
    assert (c.percentage_of_nodes_to_score, c.pod_initial_backoff_seconds, c.pod_max_backoff_seconds,
            c.parallelism) == (0, 1, 10, 16)
    [p] = c.profiles()
    assert p.scheduler_name == "default-scheduler"
    assert [(e.name, e.weight) for e in p.plugins][:6] == [
        ("SchedulingGates", 0), ("PrioritySort", 0), ("NodeUnschedulable", 0), ("NodeName", 0),
        ("TaintToleration", 3), ("NodeAffinity", 2)]
    assert p.plugin_config["NodeResourcesFit"]["scoringStrategy"] == {
        "type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}
    assert p.plugin_config["InterPodAffinity"] == {"hardPodAffinityWeight": 1,
                                                   "ignorePreferredTermsOfExistingPods": False}
    assert p.plugin_config["PodTopologySpread"] == {"defaultingType": "System"}
    fw = Framework(p)
    assert fw.score_plugin_weight["TaintToleration"] == 3 and fw.score_plugin_weight["ImageLocality"] == 1


def test_merge_plugin_set_replaces_in_place_and_appends():
    default = {"enabled": [{"name": "A"}, {"name": "B", "weight": 2}, {"name": "C"}]}
    merged = merge_plugin_set(default, {"enabled": [{"name": "X", "weight": 4}, {"name": "B", "weight": 7}],
                                        "disabled": [{"name": "C"}]})
    assert merged["enabled"] == [{"name": "A"}, {"name": "B", "weight": 7}, {"name": "X", "weight": 4}]
    assert merge_plugin_set(default, {"disabled": [{"name": "*"}], "enabled": [{"name": "X"}]})["enabled"] == \
        [{"name": "X"}]


def test_score_extension_point_overrides_multipoint():
    c = load_config(HEAD + """
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit, weight: 5}, {name: ImageLocality, weight: 2}]
""")
    fw = Framework(c.profiles()[0])
    assert fw.score_plugin_names == ["NodeResourcesFit", "ImageLocality"]
    # getScoreWeights: the Score entry wins over the MultiPoint one
    assert (fw.score_plugin_weight["NodeResourcesFit"], fw.score_plugin_weight["ImageLocality"]) == (5, 2)
    assert "TaintToleration" in fw.filter_plugin_names            # Filter untouched


def test_multipoint_weight_and_disable_one_plugin_everywhere():
    c = load_config(cfg(profiles=[{"plugins": {"multiPoint": {
        "enabled": [{"name": "NodeResourcesBalancedAllocation", "weight": 4}],
        "disabled": [{"name": "TaintToleration"}]}}}]))
    fw = Framework(c.profiles()[0])
    assert "TaintToleration" not in fw.filter_plugin_names and "TaintToleration" not in fw.score_plugin_names
    assert fw.score_plugin_weight["NodeResourcesBalancedAllocation"] == 4
    # re-enabled defaults keep their place
    assert fw.score_plugin_names[-2:] == ["NodeResourcesBalancedAllocation", "ImageLocality"]


def test_plugin_config_is_defaulted_and_used():
    c = load_config(cfg(profiles=[{"pluginConfig": [
        {"name": "NodeResourcesFit", "args": {"kind": "NodeResourcesFitArgs",
                                              "scoringStrategy": {"type": "MostAllocated"}}}]}]))
    args = c.profiles()[0].plugin_config["NodeResourcesFit"]
    assert args["scoringStrategy"]["resources"] == [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
    assert Framework(c.profiles()[0]).plugins["NodeResourcesFit"].args["scoringStrategy"]["type"] == "MostAllocated"


# --- validation ----------------------------------------------------------------------------------

def test_unknown_plugin_names_the_field():
    errs, msg = errors_of(cfg(profiles=[{"plugins": {"score": {"enabled": [{"name": "Foo", "weight": 1}]}}}]))
    assert errs == ['profiles[0].plugins.score.enabled[0].name: Invalid value: "Foo": ScorePlugin "Foo" does not exist']
    assert msg.startswith("invalid KubeSchedulerConfiguration: profiles[0].plugins.score")


def test_plugin_at_an_extension_point_it_does_not_implement():
    errs, _ = errors_of(cfg(profiles=[{"plugins": {"score": {"enabled": [{"name": "NodeName"}]}}}]))
    assert errs == ['profiles[0].plugins.score.enabled[0].name: Invalid value: "NodeName": '
                    'plugin "NodeName" does not extend Score plugin']


def test_weight_out_of_range():
    errs, _ = errors_of(cfg(profiles=[{"plugins": {"multiPoint": {"enabled": [{"name": "ImageLocality",
                                                                               "weight": -1}]}}}]))
    assert errs == ["profiles[0].plugins.multiPoint.enabled[0].weight: Invalid value: -1: "
                    "not in valid range [0, 2147483647]"]


def test_percentage_over_100_global_and_per_profile():
    errs, _ = errors_of(cfg(percentageOfNodesToScore=120, profiles=[{"percentageOfNodesToScore": 101}]))
    assert errs == ["profiles[0].percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]",
                    "percentageOfNodesToScore: Invalid value: 120: not in valid range [0-100]"]


def test_bad_scoring_strategy():
    errs, _ = errors_of(cfg(profiles=[{"pluginConfig": [{"name": "NodeResourcesFit", "args": {
        "scoringStrategy": {"type": "Cheapest"}}}]}]))
    assert errs == ['profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: "Cheapest": '
                    'supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"']
    errs, _ = errors_of(cfg(profiles=[{"pluginConfig": [{"name": "NodeResourcesFit", "args": {
        "scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 101}]}}}]}]))
    assert errs == ["profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight: Invalid value: 101: "
                    "resource weight of cpu not in valid range (0, 100]"]


def test_other_plugin_args_and_profile_errors_together():
    errs, _ = errors_of(cfg(podInitialBackoffSeconds=5, podMaxBackoffSeconds=2, profiles=[
        {"schedulerName": "a", "pluginConfig": [{"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 101}},
                                                {"name": "DefaultPreemption", "args": {
                                                    "minCandidateNodesPercentage": 150}}]},
        {"schedulerName": "a", "plugins": {"queueSort": {"enabled": [{"name": "PrioritySort"}]}}}]))
    assert errs == [
        "profiles[0].pluginConfig[0].args.hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]",
        "profiles[0].pluginConfig[1].args.minCandidateNodesPercentage: Invalid value: 150: not in valid range [0, 100]",
        'profiles[1].schedulerName: Duplicate value: "profiles[0].schedulerName"',
        'profiles[1].plugins.queueSort: Invalid value: {"enabled":[{"name":"PrioritySort"}]}: '
        "must be the same for all profiles",
        "podMaxBackoffSeconds: Invalid value: 2: must be greater than or equal to PodInitialBackoffSeconds"]


def test_wrong_kind_and_bad_yaml():
    errs, _ = errors_of({"apiVersion": "v1", "kind": "Pod"})
    assert errs[0] == 'apiVersion: Unsupported value: "v1": supported values: "kubescheduler.config.k8s.io/v1"'
    with pytest.raises(InvalidConfigurationError, match="could not decode YAML"):
        load_config("profiles: [")


def test_cluster_refuses_an_invalid_configuration():
    with pytest.raises(InvalidConfigurationError, match="percentageOfNodesToScore"):
        Cluster(nodes=1, scheduler_config=cfg(percentageOfNodesToScore=150))


# --- custom plugins and a second scheduler --------------------------------------------------------

def pod(name, scheduler=None, cpu="100m", labels=None):
    spec = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]}
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


@pytest.fixture
def registry_guard():
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_custom_score_plugin_decides_placement(registry_guard):
    @register_plugin
    class PreferNode2(Plugin):
        NAME = "PreferNode2"

        def score(self, state, pod, node_info):
            return (100 if node_info.name == "node-2" else 0), None

    c = Cluster(nodes=3, scheduler_config=cfg(profiles=[{"plugins": {"multiPoint": {"enabled": [
        {"name": "PreferNode2", "weight": 50}]}}}]))
    c.apply(pod("web"))
    c.settle()
    assert c.get("pod", "web")["spec"]["nodeName"] == "node-2"
    table = c.scheduler.explain("web")
    assert table.loc["node-2", "PreferNode2 weighted"] == 5000


def test_register_plugin_needs_a_name():
    with pytest.raises(ValueError, match="NAME"):
        register_plugin(type("Nameless", (Plugin,), {}))


def test_plugin_that_raises_fails_the_cycle_and_the_pod_is_retried(registry_guard):
    calls = []

    @register_plugin
    class Flaky(Plugin):
        NAME = "Flaky"

        def score(self, state, pod, node_info):
            if pod["metadata"]["name"] != "web":
                return 0, None
            calls.append(node_info.name)
            if len(calls) <= 2:
                raise ZeroDivisionError("division by zero")
            return 10, None

    c = Cluster(nodes=2, scheduler_config=cfg(profiles=[{"plugins": {"multiPoint": {"enabled": [{"name": "Flaky"}]}}}]))
    c.apply(pod("web"))
    c.run(seconds=0.5)
    msgs = [e["message"] for e in c.get("events") if e["reason"] == "FailedScheduling"]
    assert msgs == ['running Score plugin "Flaky": ZeroDivisionError: division by zero']
    assert c.get("pod", "web")["status"]["conditions"][-1]["reason"] == "SchedulerError"
    c.settle()
    assert c.get("pod", "web")["spec"].get("nodeName")          # retried after backoff, not lost


def test_score_out_of_range_is_an_error_with_upstreams_message(registry_guard):
    @register_plugin
    class TooHigh(Plugin):
        NAME = "TooHigh"

        def score(self, state, pod, node_info):
            return (150 if pod["metadata"]["name"] == "web" else 0), None

    c = Cluster(nodes=2, scheduler_config=cfg(profiles=[{"plugins": {"multiPoint": {"enabled": [
        {"name": "TooHigh"}]}}}]))
    c.apply(pod("web"))
    c.run(seconds=3)
    msgs = {e["message"] for e in c.get("events") if e["reason"] == "FailedScheduling"}
    assert msgs == {'applying score defaultWeights on Score plugins: plugin "TooHigh" returns an invalid score 150, '
                    "it should in the range of [0, 100] after normalizing"}
    assert not c.get("pod", "web")["spec"].get("nodeName")
    assert "default/web" in c.scheduler.queue.pending_pods()["backoffQ"] + \
        c.scheduler.queue.pending_pods()["activeQ"]


def test_second_scheduler_serves_its_own_scheduler_name():
    c = Cluster(nodes=3)
    second = c.add_scheduler(HEAD + """
profiles:
- schedulerName: bin-packer
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
""")
    for i in range(3):
        c.apply(pod(f"packed-{i}", "bin-packer", cpu="500m"))
    c.apply(pod("nobody", "no-such-scheduler"))
    c.settle()
    nodes = {c.get("pod", f"packed-{i}")["spec"]["nodeName"] for i in range(3)}
    assert len(nodes) == 1                                          # MostAllocated packs them together
    assert not c.get("pod", "nobody")["spec"].get("nodeName")        # no scheduler serves it
    sources = {e["source"]["component"] for e in c.get("events") if e["reason"] == "Scheduled"
               and e["involvedObject"]["name"].startswith("packed")}
    assert sources == {"bin-packer"}
    assert second.scheduled == 3
    with pytest.raises(ValueError, match="already served"):
        c.add_scheduler(cfg(profiles=[{"schedulerName": "bin-packer"}]))
