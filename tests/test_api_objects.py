"""Object helpers: copies, keys, timestamps, selectors, conditions, owner refs, pod requests."""

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from k8slab.api import objects as o


def test_deepcopy_is_independent():
    a = {"metadata": {"labels": {"x": "1"}}, "spec": {"containers": [{"name": "c", "ports": [1]}]}}
    b = o.deepcopy(a)
    assert a == b
    b["spec"]["containers"][0]["ports"].append(2)
    b["metadata"]["labels"]["y"] = "2"
    assert a["spec"]["containers"][0]["ports"] == [1] and "y" not in a["metadata"]["labels"]


def test_keys():
    assert o.key({"metadata": {"name": "web", "namespace": "default"}}) == "default/web"
    assert o.key({"metadata": {"name": "node-1"}}) == "node-1"
    assert o.split_key("default/web") == ("default", "web")
    assert o.split_key("node-1") == ("", "node-1")


def test_rfc3339():
    assert o.rfc3339(0) == "2026-01-01T00:00:00Z"
    assert o.rfc3339(5999) == "2026-01-01T00:00:05Z"
    assert o.rfc3339(86_400_000) == "2026-01-02T00:00:00Z"
    assert o.rfc3339_micro(1234) == "2026-01-01T00:00:01.234000Z"
    assert o.parse_rfc3339("2026-01-01T00:00:05Z") == 5000
    assert o.parse_rfc3339("2026-01-01T00:00:01.234000Z") == 1234


@given(st.integers(min_value=0, max_value=10**12))
def test_rfc3339_round_trip(ms):
    assert o.parse_rfc3339(o.rfc3339(ms)) == ms - ms % 1000


def test_selector_matches():
    labels = {"app": "web", "tier": "fe"}
    assert o.selector_matches({}, labels)
    assert not o.selector_matches(None, labels)
    assert o.selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert not o.selector_matches({"matchLabels": {"app": "db"}}, labels)
    expr = lambda op, *vals: {"matchExpressions": [{"key": "tier", "operator": op, "values": list(vals)}]}
    assert o.selector_matches(expr("In", "fe", "be"), labels)
    assert not o.selector_matches(expr("NotIn", "fe"), labels)
    assert o.selector_matches(expr("NotIn", "fe"), {"app": "web"})  # missing key satisfies NotIn
    assert o.selector_matches(expr("Exists"), labels)
    assert not o.selector_matches(expr("DoesNotExist"), labels)


def test_parse_selector():
    sel = o.parse_selector("app=web,tier!=db,env in (a,b),!foo,release")
    assert sel.matches({"app": "web", "env": "a", "release": "1"})
    assert not sel.matches({"app": "web", "env": "c", "release": "1"})
    assert not sel.matches({"app": "web", "env": "a", "release": "1", "foo": "x"})
    assert not sel.matches({"app": "web", "env": "a", "release": "1", "tier": "db"})
    assert not sel.matches({"app": "web", "env": "a"})
    assert o.parse_selector("").matches({"anything": "x"})
    assert o.parse_selector("app==web").matches({"app": "web"})
    assert o.parse_selector("env notin (prod)").matches({})
    assert o.parse_selector("x>5").matches({"x": "6"}) and not o.parse_selector("x<5").matches({"x": "6"})
    assert o.parse_selector("app=web,env in (a,b)").to_label_selector() == {
        "matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}
    with pytest.raises(ValueError):
        o.parse_selector("env in a,b")


def test_label_selector_as_selector_agrees_with_selector_matches():
    sel = {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["2"]}]}
    for labels in ({"a": "1"}, {"a": "1", "b": "2"}, {"a": "2"}, {}):
        assert o.label_selector_as_selector(sel).matches(labels) == o.selector_matches(sel, labels)
    assert o.label_selector_as_selector(None).matches({}) is False
    assert o.label_selector_as_selector({}).empty()


def test_conditions():
    status = {}
    assert o.set_condition(status, {"type": "Ready", "status": "False", "lastTransitionTime": "t0"})
    assert not o.set_condition(status, {"type": "Ready", "status": "False", "lastTransitionTime": "t1"})
    assert o.get_condition(status, "Ready")["lastTransitionTime"] == "t0"
    assert o.set_condition(status, {"type": "Ready", "status": "True", "lastTransitionTime": "t2"})
    assert o.get_condition(status, "Ready") == {"type": "Ready", "status": "True", "lastTransitionTime": "t2"}
    pod = {"status": status}
    assert o.get_condition(pod, "Ready")["status"] == "True"
    assert o.is_pod_ready(pod)
    assert not o.is_pod_ready({"status": {}})
    assert o.get_condition(status, "Missing") is None


def test_owner_references():
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "uid": "u1"}}
    ref = o.owner_reference(rs)
    assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1",
                   "controller": True, "blockOwnerDeletion": True}
    pod = {"metadata": {"ownerReferences": [dict(ref, controller=False), ref]}}
    assert o.get_controller_of(pod) is ref
    assert o.get_controller_of({"metadata": {}}) is None


def _c(name, **requests):
    return {"name": name, "resources": {"requests": requests}}


def test_pod_requests_sum_max_and_overhead():
    pod = {"spec": {
        "containers": [_c("a", cpu="100m", memory="64Mi"), _c("b", cpu="200m")],
        "initContainers": [_c("i1", cpu="500m"), _c("i2", memory="1Gi")],
        "overhead": {"cpu": "10m"},
    }}
    req = o.pod_requests(pod)
    assert req["cpu"] == Fraction(510, 1000)  # max(300m, 500m) + 10m overhead
    assert req["memory"] == 2**30
    assert o.pod_requests(pod, exclude_overhead=True)["cpu"] == Fraction(1, 2)


def test_pod_requests_remembered_per_template_are_equal_to_a_fresh_computation():
    pod = {"spec": {"containers": [_c("a", cpu="100m", memory="64Mi")], "overhead": {"cpu": "10m"}}}
    first = o.pod_requests(pod)
    first["cpu"] = Fraction(99)  # the caller's own dict: the remembered result is not touched
    again = o.pod_requests({"metadata": {"name": "other"}, "spec": pod["spec"]})
    assert again == {"cpu": Fraction(110, 1000), "memory": 64 * 2**20}
    assert o.pod_requests(pod, exclude_overhead=True)["cpu"] == Fraction(1, 10)
    # a number and a bool hash alike, but only the number is a quantity
    assert o.pod_requests({"spec": {"containers": [_c("n", cpu=1)]}})["cpu"] == 1
    with pytest.raises(ValueError):
        o.pod_requests({"spec": {"containers": [_c("n", cpu=True)]}})


def test_pod_requests_sidecars_add_up():
    # upstream TestPodResourceRequests "restartable init container" style case
    pod = {"spec": {
        "containers": [_c("c", cpu="1")],
        "initContainers": [dict(_c("side", cpu="1"), restartPolicy="Always"), _c("init", cpu="2")],
    }}
    # sidecar runs with the app: 1 + 1 = 2; the plain init runs with the sidecar: 2 + 1 = 3
    assert o.pod_requests(pod)["cpu"] == 3


def test_pod_requests_non_missing_defaults():
    pod = {"spec": {"containers": [{"name": "a"}, _c("b", cpu="250m")]}}
    req = o.pod_requests(pod, non_missing={"cpu": "100m", "memory": "200Mi"})
    assert req["cpu"] == Fraction(350, 1000) and req["memory"] == 2 * 200 * 2**20
    assert o.pod_requests(pod) == {"cpu": Fraction(1, 4)}
