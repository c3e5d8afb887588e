"""The default plugins added to the default profile: SchedulingGates, NodeAffinity, NodePorts,
ImageLocality, PodTopologySpread, InterPodAffinity. Cases follow the upstream _test.go files
(node_affinity_test.go, node_ports_test.go, image_locality_test.go, podtopologyspread/*_test.go,
interpodaffinity/*_test.go); expected scores are worked out from the formulas in each module."""

import random

import pytest

from k8slab.scheduler.algorithm import schedule_pod
from k8slab.scheduler.framework import (
    Code, CycleState, Framework, NodeScore, Profile, PluginEntry, build_node_infos,
)
from k8slab.scheduler.plugins.imagelocality import MB, ImageLocality, calculate_priority, normalized_image_name
from k8slab.scheduler.plugins.interpodaffinity import InterPodAffinity
from k8slab.scheduler.plugins.nodeaffinity import ERR_REASON_CONFLICT, ERR_REASON_ENFORCED, ERR_REASON_POD, NodeAffinity
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError
from k8slab.scheduler.plugins.nodeports import ERR_REASON as PORTS_REASON, NodePorts
from k8slab.scheduler.plugins.podtopologyspread import PodTopologySpread
from k8slab.scheduler.plugins.schedulinggates import SchedulingGates


class Handle:
    """The slice of the framework handle plugins read: the cycle's snapshot and object listers."""

    def __init__(self, infos=(), objects=None):
        self.snapshot = list(infos)
        self._objects = objects or {}

    def list_objects(self, resource, namespace):
        return [o for o in self._objects.get(resource, []) if o["metadata"].get("namespace", "default") == namespace]


def node(name, labels=None, taints=None, images=None):
    n = {"metadata": {"name": name, "labels": dict(labels or {})}, "spec": {"taints": taints or []},
         "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}
    if images:
        n["status"]["images"] = images
    return n


def pod(name="p", labels=None, node_name=None, ns="default", **spec):
    s = {"containers": spec.pop("containers", [{"name": "c", "image": "nginx"}])}
    s.update(spec)
    if node_name:
        s["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": ns, "uid": f"{ns}-{name}", "labels": dict(labels or {})},
            "spec": s}


def run_filter(plugin, p, infos):
    """PreFilter then Filter on every node; returns name -> (code, message) or "pass", or the
    PreFilter status when it rejects."""
    state = CycleState()
    result, status = plugin.pre_filter(state, p, infos) if hasattr(plugin, "pre_filter") else (None, None)
    if status is not None and status.code == Code.Skip:
        return "skip", result
    if status is not None and not status.is_success():
        return status, result
    out = {}
    for ni in infos:
        s = plugin.filter(state, p, ni)
        out[ni.name] = "pass" if s is None else (s.code, s.message())
    return out, result


def run_score(plugin, p, infos):
    state = CycleState()
    s = plugin.pre_score(state, p, infos) if hasattr(plugin, "pre_score") else None
    if s is not None and s.code == Code.Skip:
        return "skip"
    scores = [NodeScore(ni.name, plugin.score(state, p, ni)[0]) for ni in infos]
    raw = [x.score for x in scores]
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, p, scores)
    return raw, [x.score for x in scores]


# --- SchedulingGates ---------------------------------------------------------------------------

def test_scheduling_gates_pre_enqueue():
    pl = SchedulingGates()
    assert pl.pre_enqueue(pod()) is None
    s = pl.pre_enqueue(pod(schedulingGates=[{"name": "foo"}, {"name": "bar"}]))
    assert s.code == Code.UnschedulableAndUnresolvable
    assert s.message() == "waiting for scheduling gates: [foo bar]"


# --- NodeAffinity --------------------------------------------------------------------------------

def affinity(required_terms=None, preferred=None):
    na = {}
    if required_terms is not None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": required_terms}
    if preferred is not None:
        na["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": na}


def expr(key, op, *values):
    e = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


@pytest.mark.parametrize("spec,labels,fits", [
    ({"nodeSelector": {"foo": "bar"}}, {}, False),                                          # missing labels
    ({"nodeSelector": {"foo": "bar"}}, {"foo": "bar"}, True),
    ({"nodeSelector": {"foo": "bar"}}, {"foo": "bar", "baz": "blah"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "In", "bar", "value2")]}])}, {"foo": "bar"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("kernel-version", "Gt", "0204")]}])},
     {"kernel-version": "0206"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}])},
     {"mem-type": "DDR3"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("GPU", "Exists")]}])}, {"GPU": "NVIDIA-GRID-K1"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "In", "value1", "value2")]}])}, {"foo": "bar"}, False),
    ({"affinity": affinity([])}, {"foo": "bar"}, False),                                   # no terms: nothing
    ({"affinity": affinity([{}])}, {"foo": "bar"}, False),                                 # empty term: nothing
    ({"affinity": affinity([{"matchExpressions": []}])}, {"foo": "bar"}, False),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "In", "bar")]},             # terms are ORed
                            {"matchExpressions": [expr("diffkey", "In", "wrong")]}])}, {"foo": "bar"}, True),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "In", "bar"),                # inside: ANDed
                                                  expr("diffkey", "In", "wrong")]}])}, {"foo": "bar"}, False),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "Exists")]}]), "nodeSelector": {"foo": "bar"}},
     {"foo": "bar"}, True),                                                                # both must hold
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "Exists")]}]), "nodeSelector": {"foo": "qux"}},
     {"foo": "bar"}, False),
    ({"affinity": affinity([{"matchExpressions": [expr("foo", "Gt", "1", "2")]}])}, {"foo": "3"}, False),  # bad term
])
def test_node_affinity_filter(spec, labels, fits):
    infos = build_node_infos([node("node1", labels)])
    out, _ = run_filter(NodeAffinity(), pod(**spec), infos)
    assert out["node1"] == ("pass" if fits else (Code.UnschedulableAndUnresolvable, ERR_REASON_POD))


def test_node_affinity_prefilter_skips_pods_without_affinity():
    assert run_filter(NodeAffinity(), pod(), build_node_infos([node("n")]))[0] == "skip"


def test_node_affinity_match_fields_restrict_nodes_at_prefilter():
    infos = build_node_infos([node("node1"), node("node2")])
    p = pod(affinity=affinity([{"matchFields": [expr("metadata.name", "In", "node1")]}]))
    out, result = run_filter(NodeAffinity(), p, infos)
    assert result.node_names == {"node1"}
    assert out == {"node1": "pass", "node2": (Code.UnschedulableAndUnresolvable, ERR_REASON_POD)}
    # two terms: the union of their names
    p = pod(affinity=affinity([{"matchFields": [expr("metadata.name", "In", "node1")]},
                               {"matchFields": [expr("metadata.name", "In", "node2")]}]))
    assert run_filter(NodeAffinity(), p, infos)[1].node_names == {"node1", "node2"}
    # one term without a name requirement: every node is eligible
    p = pod(affinity=affinity([{"matchFields": [expr("metadata.name", "In", "node1")]},
                               {"matchExpressions": [expr("foo", "Exists")]}]))
    assert run_filter(NodeAffinity(), p, infos)[1] is None
    # conflicting name requirements inside a term
    p = pod(affinity=affinity([{"matchFields": [expr("metadata.name", "In", "node1"),
                                                expr("metadata.name", "In", "node2")]}]))
    status, _ = run_filter(NodeAffinity(), p, infos)
    assert status.code == Code.UnschedulableAndUnresolvable and status.message() == ERR_REASON_CONFLICT


def test_node_affinity_added_affinity_is_enforced():
    args = {"addedAffinity": affinity([{"matchExpressions": [expr("zone", "In", "foo")]}])["nodeAffinity"]}
    infos = build_node_infos([node("node1", {"zone": "foo"}), node("node2", {"zone": "bar"})])
    out, _ = run_filter(NodeAffinity(args), pod(), infos)
    assert out == {"node1": "pass", "node2": (Code.UnschedulableAndUnresolvable, ERR_REASON_ENFORCED)}


def test_node_affinity_score_upstream_vectors():
    preferred = [{"weight": 2, "preference": {"matchExpressions": [expr("foo", "In", "bar")]}},
                 {"weight": 4, "preference": {"matchExpressions": [expr("key", "In", "value")]}},
                 {"weight": 5, "preference": {"matchExpressions": [expr("foo", "In", "bar"), expr("key", "In", "value"),
                                                                   expr("az", "In", "az1")]}}]
    infos = build_node_infos([node("node1", {"foo": "bar"}), node("node2", {"foo": "bar", "key": "value", "az": "az1"}),
                              node("node3", {"key": "value"})])
    p = pod(affinity=affinity(preferred=preferred))
    assert run_score(NodeAffinity(), p, infos) == ([2, 11, 4], [18, 100, 36])
    # the pod's term plus the plugin's addedAffinity term
    infos = build_node_infos([node("node1", {"foo": "bar"}), node("node2", {"key": "value"}),
                              node("node3", {"foo": "bar", "key": "value"})])
    args = {"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 3, "preference": {"matchExpressions": [expr("key", "In", "value")]}}]}}
    p = pod(affinity=affinity(preferred=preferred[:1]))
    assert run_score(NodeAffinity(args), p, infos) == ([2, 3, 5], [40, 60, 100])
    assert run_score(NodeAffinity(), pod(), infos) == "skip"


def test_node_affinity_args_validation():
    with pytest.raises(InvalidPluginArgsError, match="addedAffinity.requiredDuringSchedulingIgnoredDuringExecution"):
        NodeAffinity({"addedAffinity": affinity([{"matchExpressions": [expr("a", "Gt", "x")]}])["nodeAffinity"]})


# --- NodePorts ------------------------------------------------------------------------------------

def port_pod(name, *ports, node_name=None):
    return pod(name, node_name=node_name, containers=[{"name": "c", "image": "nginx", "ports": [
        {"containerPort": 80, "hostPort": port, "protocol": proto, **({"hostIP": ip} if ip else {})}
        for proto, ip, port in ports]}])


@pytest.mark.parametrize("wanted,existing,fits", [
    ([], [], "skip"),                                                                   # nothing running
    ([("UDP", "127.0.0.1", 8080)], [("UDP", "127.0.0.1", 9090)], True),                 # other port
    ([("UDP", "127.0.0.1", 8080)], [("UDP", "127.0.0.1", 8080)], False),                # same port
    ([("TCP", "127.0.0.1", 8080)], [("UDP", "127.0.0.1", 8080)], True),                 # other protocol
    ([("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8080)], [("UDP", "127.0.0.1", 8080)], False),
    ([("TCP", "127.0.0.1", 8001)], [("TCP", "127.0.0.2", 8001)], True),                 # other IP
    ([("TCP", "0.0.0.0", 8001)], [("TCP", "127.0.0.1", 8001)], False),                  # 0.0.0.0 covers all IPs
    ([("TCP", "127.0.0.1", 8001)], [("TCP", "0.0.0.0", 8001)], False),
    ([("TCP", "", 8001)], [("TCP", "10.0.0.10", 8001)], False),                          # empty hostIP = 0.0.0.0
    ([("UDP", "0.0.0.0", 8001)], [("TCP", "0.0.0.0", 8001)], True),
])
def test_node_ports_filter(wanted, existing, fits):
    infos = build_node_infos([node("n")], [port_pod("old", *existing, node_name="n")] if existing else [])
    out, _ = run_filter(NodePorts(), port_pod("new", *wanted), infos)
    assert out == ("skip" if fits == "skip" else {"n": "pass" if fits else (Code.Unschedulable, PORTS_REASON)})


# --- ImageLocality --------------------------------------------------------------------------------

NODE_40_300_2000 = [{"names": ["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], "sizeBytes": 40 * MB},
                    {"names": ["gcr.io/300:latest", "gcr.io/300:v1"], "sizeBytes": 300 * MB},
                    {"names": ["gcr.io/2000:latest"], "sizeBytes": 2000 * MB}]
NODE_250_10 = [{"names": ["gcr.io/250:latest"], "sizeBytes": 250 * MB},
               {"names": ["gcr.io/10:latest", "gcr.io/10:v1"], "sizeBytes": 10 * MB}]


def image_pod(*images, init=()):
    return pod(containers=[{"name": f"c{i}", "image": im} for i, im in enumerate(images)],
               initContainers=[{"name": f"i{i}", "image": im} for i, im in enumerate(init)])


@pytest.mark.parametrize("images,init,three_nodes,expected", [
    # 40 MB on 1 of 2 nodes -> 20 MB < 23 MB: 0; 250 MB x 1/2 = 125 MB -> 100 x 102/1977 = 5
    (["gcr.io/40", "gcr.io/250"], (), False, [0, 5]),
    # (20 + 150) MB -> 100 x 147/1977 = 7
    (["gcr.io/40", "gcr.io/300"], (), False, [7, 0]),
    # 2000 MB x 1/2 = 1000 MB -> 100 x 977/1977 = 49 (the cap is 1000 MB per container: 2000 MB)
    (["gcr.io/2000", "gcr.io/10"], (), False, [49, 0]),
    # on 1 of 3 nodes: 2000/3 MB -> 32
    (["gcr.io/2000", "gcr.io/10"], (), True, [32, 0, 0]),
    # init containers count too: 300/2 MB over a cap of 3000 MB -> 100 x 127/2977 = 4
    (["gcr.io/10"], ["gcr.io/300", "gcr.io/40"], False, [4, 0]),
])
def test_image_locality_score(images, init, three_nodes, expected):
    nodes = [node("machine1", images=NODE_40_300_2000), node("machine2", images=NODE_250_10)]
    if three_nodes:
        nodes.append(node("machine3"))
    infos = build_node_infos(nodes)
    pl = ImageLocality(None, Handle(infos))
    assert [pl.score(CycleState(), image_pod(*images, init=init), ni)[0] for ni in infos] == expected


@pytest.mark.parametrize("name,out", [("root", "root:latest"), ("gcr.io:5000/root", "gcr.io:5000/root:latest"),
                                      ("root:tag", "root:tag"), ("root@sha256:abcd", "root@sha256:abcd")])
def test_normalized_image_name(name, out):
    assert normalized_image_name(name) == out


def test_calculate_priority_clamps():
    assert calculate_priority(0, 1) == 0
    assert calculate_priority(5000 * MB, 1) == 100
    assert calculate_priority(5000 * MB, 10) == 100 * (5000 - 23) // (10000 - 23)


# --- PodTopologySpread ---------------------------------------------------------------------------

def spread(key, max_skew=1, when="DoNotSchedule", selector=None, **extra):
    c = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
         "labelSelector": selector if selector is not None else {"matchExpressions": [expr("foo", "Exists")]}}
    c.update(extra)
    return c


def zoned(*names_zones, extra_labels=None):
    return [node(n, {"zone": z, "kubernetes.io/hostname": n, **(extra_labels or {}).get(n, {})})
            for n, z in names_zones]


FOUR_NODES = [("node-a", "zone1"), ("node-b", "zone1"), ("node-x", "zone2"), ("node-y", "zone2")]


def existing(*placements, labels=None):
    return [pod(f"p{i}", labels if labels is not None else {"foo": ""}, node_name=n) for i, n in enumerate(placements)]


def test_spread_filter_zone_3_1_only_zone2_fits():
    infos = build_node_infos(zoned(*FOUR_NODES), existing("node-a", "node-a", "node-b", "node-y"))
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone")]),
                        infos)
    nope = (Code.Unschedulable, "node(s) didn't match pod topology spread constraints")
    assert out == {"node-a": nope, "node-b": nope, "node-x": "pass", "node-y": "pass"}


def test_spread_filter_node_missing_label_and_non_matching_pod():
    nodes = zoned(*FOUR_NODES) + [node("node-z", {"kubernetes.io/hostname": "node-z"})]
    infos = build_node_infos(nodes, existing("node-a", "node-a", "node-b", "node-y"))
    # the incoming pod does not match its own selector: skew = count - min (2+? per zone: 3 vs 1) -> 3-1 = 2 > 1
    out, _ = run_filter(PodTopologySpread(), pod("new", {"bar": ""}, topologySpreadConstraints=[spread("zone")]), infos)
    assert out["node-z"] == (Code.UnschedulableAndUnresolvable,
                             "node(s) didn't match pod topology spread constraints (missing required label)")
    assert out["node-a"][0] == Code.Unschedulable and out["node-x"] == "pass"


def test_spread_filter_two_constraints():
    infos = build_node_infos(zoned(*FOUR_NODES), existing("node-a", "node-a", "node-b", "node-x", "node-y", "node-y"))
    p = pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone"), spread("kubernetes.io/hostname")])
    out, _ = run_filter(PodTopologySpread(), p, infos)
    # zones 3/3 fine; hosts a:2 b:1 x:1 y:2, min 1: only b and x keep skew <= 1
    assert [n for n, v in out.items() if v == "pass"] == ["node-b", "node-x"]


def test_spread_filter_min_domains():
    infos = build_node_infos(zoned(*FOUR_NODES), existing("node-a", "node-b", "node-x"))
    p = pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone", max_skew=2, minDomains=3)])
    out, _ = run_filter(PodTopologySpread(), p, infos)
    # only 2 domains < minDomains 3: global minimum is 0; zone1: 2+1-0 = 3 > 2; zone2: 1+1 = 2
    assert out["node-a"][0] == Code.Unschedulable and out["node-x"] == "pass"
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[
        spread("zone", max_skew=2)]), infos)
    assert out["node-a"] == "pass"   # minDomains 1: min 1, 2+1-1 = 2


def test_spread_filter_node_affinity_and_taints_policies():
    nodes = zoned(*FOUR_NODES, ("node-c", "zone3"), extra_labels={n: {"ok": "1"} for n, _ in FOUR_NODES})
    nodes[4]["spec"]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    infos = build_node_infos(nodes, existing("node-a", "node-x"))
    base = dict(nodeSelector={"ok": "1"})
    # Honor (default): node-c (zone3, not selected) is not a domain, min is 1: every zone gets skew 1
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone")],
                                                 **base), infos)
    assert out["node-a"] == "pass"
    # Ignore: zone3 counts with 0 pods, min 0: zone1 1+1 = 2 > 1
    c = spread("zone", nodeAffinityPolicy="Ignore")
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[c], **base), infos)
    assert out["node-a"][0] == Code.Unschedulable
    # without a nodeSelector, the taint policy decides: Honor drops the untolerated tainted node-c
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[
        spread("zone", nodeTaintsPolicy="Honor")]), infos)
    assert out["node-a"] == "pass"
    out, _ = run_filter(PodTopologySpread(), pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone")]),
                        infos)
    assert out["node-a"][0] == Code.Unschedulable


def test_spread_score_hostname():
    infos = build_node_infos(zoned(*FOUR_NODES), existing("node-a", "node-a", "node-b"))
    p = pod("new", {"foo": ""}, topologySpreadConstraints=[spread("kubernetes.io/hostname", when="ScheduleAnyway")])
    # weight ln(4 + 2) = 1.79: raw round(2 x 1.79) = 4, round(1.79) = 2, 0, 0;
    # normalized 100 x (max + min - s) / max
    assert run_score(PodTopologySpread(None, Handle(infos)), p, infos) == ([4, 2, 0, 0], [0, 50, 100, 100])


def test_spread_score_zone_with_max_skew_and_ignored_nodes():
    nodes = zoned(*FOUR_NODES) + [node("node-z", {"kubernetes.io/hostname": "node-z"})]
    infos = build_node_infos(nodes, existing("node-a", "node-a", "node-b", "node-x"))
    p = pod("new", {"foo": ""}, topologySpreadConstraints=[spread("zone", max_skew=2, when="ScheduleAnyway")])
    # weight ln(2 + 2) = 1.386: zone1 3 x 1.386 + 1 = 5.16 -> 5; zone2 1.386 + 1 -> 2; node-z ignored -> 0
    assert run_score(PodTopologySpread(None, Handle(infos)), p, infos) == ([5, 5, 2, 2, 0], [40, 40, 100, 100, 0])


def test_spread_system_default_constraints_use_the_service_selector():
    nodes = [node(n, {"topology.kubernetes.io/zone": z, "kubernetes.io/hostname": n}) for n, z in FOUR_NODES]
    infos = build_node_infos(nodes, existing("node-a", "node-a", labels={"app": "web"}))
    svc = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
    pl = PodTopologySpread(None, Handle(infos, {"services": [svc]}))
    # hostname (maxSkew 3, weight ln 6) + zone (maxSkew 5, weight ln 4):
    # node-a 2 x 1.79 + 2 + 2 x 1.39 + 4 = 12.4; node-b 2 + 2.77 + 4 = 8.8; zone2 2 + 4 = 6
    assert run_score(pl, pod("new", {"app": "web"}), infos) == ([12, 9, 6, 6], [50, 75, 100, 100])
    # nodes without the zone label still take part in hostname spreading (system defaults only)
    infos = build_node_infos(zoned(*FOUR_NODES), existing("node-a", "node-a", labels={"app": "web"}))
    pl = PodTopologySpread(None, Handle(infos, {"services": [svc]}))
    assert run_score(pl, pod("new", {"app": "web"}), infos) == ([6, 2, 2, 2], [33, 100, 100, 100])
    # no Service/owner selects the pod: the defaults do not apply
    assert run_score(pl, pod("new", {"other": "x"}), infos) == "skip"
    # and system defaults never filter
    assert run_filter(pl, pod("new", {"app": "web"}), infos)[0] == "skip"


def test_spread_args_validation():
    with pytest.raises(InvalidPluginArgsError, match=r'defaultConstraints.*when \.defaultingType is "System"'):
        PodTopologySpread({"defaultingType": "System", "defaultConstraints": [spread("zone", selector={})]})
    with pytest.raises(InvalidPluginArgsError, match=r"defaultConstraints\[0\].labelSelector"):
        PodTopologySpread({"defaultingType": "List", "defaultConstraints": [spread("zone")]})
    with pytest.raises(InvalidPluginArgsError, match=r"defaultConstraints\[0\].maxSkew"):
        PodTopologySpread({"defaultingType": "List", "defaultConstraints": [
            {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]})


# --- InterPodAffinity ----------------------------------------------------------------------------

def pod_affinity(kind, term_list=None, preferred=None):
    a = {}
    if term_list is not None:
        a["requiredDuringSchedulingIgnoredDuringExecution"] = term_list
    if preferred is not None:
        a["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {kind: a}


def term(key, op, values, topology="region"):
    return {"labelSelector": {"matchExpressions": [expr(key, op, *values)]}, "topologyKey": topology}


LABELS_RGN_CHINA = {"region": "China", "kubernetes.io/hostname": "machine1"}


def test_inter_pod_affinity_filter_satisfied_and_not():
    infos = build_node_infos([node("machine1", LABELS_RGN_CHINA)], [pod("p1", {"service": "securityscan"},
                                                                          node_name="machine1")])
    p = pod("new", {"foo": "bar"}, affinity=pod_affinity("podAffinity", [term("service", "In", ["securityscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0] == {"machine1": "pass"}
    p = pod("new", affinity=pod_affinity("podAffinity", [term("service", "In", ["antivirusscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0] == {
        "machine1": (Code.UnschedulableAndUnresolvable, "node(s) didn't match pod affinity rules")}
    p = pod("new", affinity=pod_affinity("podAntiAffinity", [term("service", "In", ["securityscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0] == {
        "machine1": (Code.Unschedulable, "node(s) didn't match pod anti-affinity rules")}


def test_inter_pod_affinity_first_pod_of_a_group_matching_itself():
    infos = build_node_infos([node("machine1", LABELS_RGN_CHINA)])
    p = pod("new", {"service": "securityscan"},
            affinity=pod_affinity("podAffinity", [term("service", "In", ["securityscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0] == {"machine1": "pass"}
    p = pod("new", {"service": "other"},
            affinity=pod_affinity("podAffinity", [term("service", "In", ["securityscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0]["machine1"][0] == \
        Code.UnschedulableAndUnresolvable


def test_inter_pod_affinity_existing_pods_anti_affinity_is_symmetric():
    nodes = [node("machine1", {"region": "r1", "kubernetes.io/hostname": "machine1"}),
             node("machine2", {"region": "r1", "kubernetes.io/hostname": "machine2"}),
             node("machine3", {"region": "r2", "kubernetes.io/hostname": "machine3"})]
    guard = pod("guard", {"app": "guard"}, node_name="machine1",
                affinity=pod_affinity("podAntiAffinity", [term("app", "In", ["web"])]))
    infos = build_node_infos(nodes, [guard])
    out, _ = run_filter(InterPodAffinity(None, Handle(infos)), pod("new", {"app": "web"}), infos)
    nope = (Code.Unschedulable, "node(s) didn't satisfy existing pods anti-affinity rules")
    assert out == {"machine1": nope, "machine2": nope, "machine3": "pass"}
    # a pod the guard does not select is not affected (and the plugin skips: nothing to check)
    assert run_filter(InterPodAffinity(None, Handle(infos)), pod("new", {"app": "db"}), infos)[0] == "skip"


def test_inter_pod_affinity_namespaces():
    infos = build_node_infos([node("machine1", LABELS_RGN_CHINA)],
                             [pod("p1", {"service": "securityscan"}, node_name="machine1", ns="other")])
    p = pod("new", affinity=pod_affinity("podAntiAffinity", [term("service", "In", ["securityscan"])]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0] == {"machine1": "pass"}  # own ns only
    t = dict(term("service", "In", ["securityscan"]), namespaceSelector={})
    p = pod("new", affinity=pod_affinity("podAntiAffinity", [t]))
    assert run_filter(InterPodAffinity(None, Handle(infos)), p, infos)[0]["machine1"][0] == Code.Unschedulable


def three_regions():
    return [node("machine1", {"region": "China", "kubernetes.io/hostname": "machine1"}),
            node("machine2", {"region": "India", "kubernetes.io/hostname": "machine2"}),
            node("machine3", {"region": "China", "kubernetes.io/hostname": "machine3"}),
            node("machine4", {"az": "az1", "kubernetes.io/hostname": "machine4"})]


def test_inter_pod_affinity_score_preferred_affinity_and_anti_affinity():
    infos = build_node_infos(three_regions(), [pod("s1", {"security": "S1"}, node_name="machine1"),
                                               pod("s2", {"security": "S2"}, node_name="machine2")])
    pref = [{"weight": 5, "podAffinityTerm": term("security", "In", ["S1"])}]
    p = pod("new", affinity=pod_affinity("podAffinity", preferred=pref))
    # region China holds an S1 pod: machine1 and machine3 score 5, the rest 0
    assert run_score(InterPodAffinity(None, Handle(infos)), p, infos) == ([5, 0, 5, 0], [100, 0, 100, 0])
    p = pod("new", affinity=pod_affinity("podAntiAffinity", preferred=pref))
    assert run_score(InterPodAffinity(None, Handle(infos)), p, infos) == ([-5, 0, -5, 0], [0, 100, 0, 100])


def test_inter_pod_affinity_score_hard_pod_affinity_weight():
    existing_pod = pod("e", {"x": "y"}, node_name="machine2",
                       affinity=pod_affinity("podAffinity", [term("security", "In", ["S1"])]))
    infos = build_node_infos(three_regions(), [existing_pod])
    incoming = pod("new", {"security": "S1"})
    assert run_score(InterPodAffinity(None, Handle(infos)), incoming, infos) == ([0, 1, 0, 0], [0, 100, 0, 0])
    assert run_score(InterPodAffinity({"hardPodAffinityWeight": 5}, Handle(infos)), incoming, infos)[0] == \
        [0, 5, 0, 0]
    assert run_score(InterPodAffinity({"hardPodAffinityWeight": 0}, Handle(infos)), incoming, infos) == "skip"
    with pytest.raises(InvalidPluginArgsError, match=r"hardPodAffinityWeight: Invalid value: 101"):
        InterPodAffinity({"hardPodAffinityWeight": 101})


# --- the default profile end to end ---------------------------------------------------------------

def test_default_profile_places_a_pod_by_node_affinity_weight():
    nodes = [node("node-1", {"disk": "hdd"}), node("node-2", {"disk": "ssd"})]
    p = pod("web", affinity=affinity(preferred=[{"weight": 10, "preference": {
        "matchExpressions": [expr("disk", "In", "ssd")]}}]))
    result = schedule_pod(Framework(), CycleState(), p, build_node_infos(nodes), random.Random(0))
    assert result.suggested_host == "node-2"
    row = {r["node"]: r for r in result.table_rows()}["node-2"]
    assert (row["NodeAffinity raw"], row["NodeAffinity normalized"], row["NodeAffinity weighted"]) == (10, 100, 200)


def test_custom_profile_of_new_plugins_only():
    fw = Framework(Profile(plugins=[PluginEntry("PrioritySort"), PluginEntry("NodePorts"),
                                    PluginEntry("ImageLocality", 1), PluginEntry("DefaultBinder")]))
    assert fw.filter_plugin_names == ["NodePorts"] and fw.score_plugin_names == ["ImageLocality"]
