"""The resource registry: names kubectl accepts, etcd keys, errors for unknown types."""

import pytest

from k8slab.api import resources as r
from k8slab.api.errors import StatusError


@pytest.mark.parametrize("name", ["deployments", "deployment", "Deployment", "DEPLOYMENT", "deploy",
                                  "deployments.apps", "deployment.apps", "deployments.v1.apps"])
def test_lookup_forms(name):
    info = r.lookup(name)
    assert (info.group, info.version, info.kind, info.resource) == ("apps", "v1", "Deployment", "deployments")


@pytest.mark.parametrize("short,resource", [
    ("po", "pods"), ("svc", "services"), ("deploy", "deployments"), ("rs", "replicasets"), ("ds", "daemonsets"),
    ("sts", "statefulsets"), ("no", "nodes"), ("ns", "namespaces"), ("ep", "endpoints"), ("cm", "configmaps"),
    ("sa", "serviceaccounts"), ("ev", "events"), ("cj", "cronjobs"), ("pv", "persistentvolumes"),
    ("pvc", "persistentvolumeclaims"), ("netpol", "networkpolicies"), ("ing", "ingresses"),
    ("pdb", "poddisruptionbudgets"), ("hpa", "horizontalpodautoscalers"), ("pc", "priorityclasses"),
    ("crd", "customresourcedefinitions"),
])
def test_short_names(short, resource):
    assert r.lookup(short).resource == resource


def test_unknown_resource_type():
    with pytest.raises(StatusError) as info:
        r.lookup("foo")
    assert info.value.message == 'the server doesn\'t have a resource type "foo"'
    assert info.value.code == 404


def test_for_kind():
    assert r.for_kind("v1", "Pod").resource == "pods"
    assert r.for_kind("batch/v1", "CronJob").resource == "cronjobs"
    with pytest.raises(StatusError) as info:
        r.for_kind("v1", "Foo")
    assert info.value.message == 'no matches for kind "Foo" in version "v1"'
    with pytest.raises(StatusError) as info:
        r.for_kind("extensions/v1beta1", "Deployment")
    assert info.value.message == 'no matches for kind "Deployment" in version "extensions/v1beta1"'


@pytest.mark.parametrize("resource,ns,name,key", [
    ("pods", "ns", "pod1", "/registry/pods/ns/pod1"),
    ("services", "ns", "service1", "/registry/services/specs/ns/service1"),
    ("endpoints", "ns", "ep1name", "/registry/services/endpoints/ns/ep1name"),
    ("nodes", None, "node1", "/registry/minions/node1"),
    ("namespaces", None, "namespace1", "/registry/namespaces/namespace1"),
    ("deployments", "ns", "deployment4", "/registry/deployments/ns/deployment4"),
    ("replicationcontrollers", "ns", "rc1", "/registry/controllers/ns/rc1"),
    ("ingresses", "ns", "ingress3", "/registry/ingress/ns/ingress3"),
    ("leases", "ns", "leasev1", "/registry/leases/ns/leasev1"),
    ("endpointslices", "ns", "slicev1", "/registry/endpointslices/ns/slicev1"),
    ("clusterroles", None, "crole3", "/registry/clusterroles/crole3"),
    ("persistentvolumes", None, "pv1name", "/registry/persistentvolumes/pv1name"),
    ("horizontalpodautoscalers", "ns", "hpa2", "/registry/horizontalpodautoscalers/ns/hpa2"),
    ("customresourcedefinitions", None, "foos.cr.bar.com",
     "/registry/apiextensions.k8s.io/customresourcedefinitions/foos.cr.bar.com"),
])
def test_etcd_keys_match_upstream_integration_data(resource, ns, name, key):
    assert r.etcd_key(r.lookup(resource), ns, name) == key


def test_collection_prefixes_and_custom_prefix():
    pods = r.lookup("pods")
    assert r.etcd_key(pods) == "/registry/pods/"
    assert r.etcd_key(pods, "default") == "/registry/pods/default/"
    assert r.etcd_key(pods, "default", "web", prefix="/k8s") == "/k8s/pods/default/web"


def test_custom_resources_keep_their_group_in_the_key():
    info = r.custom_resource("cr.bar.com", "v1", "Foo", "foos", True)
    r.register(info)
    try:
        assert r.etcd_key(info, "ns", "cr1foo") == "/registry/cr.bar.com/foos/ns/cr1foo"
        assert r.lookup("foos.cr.bar.com") is info
        assert r.for_kind("cr.bar.com/v1", "Foo") is info
    finally:
        r.unregister(info)
    with pytest.raises(StatusError):
        r.lookup("foos")


def test_group_resource_and_kind_strings():
    assert r.group_resource(r.lookup("deploy")) == "deployments.apps"
    assert r.group_resource(r.lookup("po")) == "pods"
    assert r.group_kind(r.lookup("deploy")) == "Deployment.apps"
    assert r.group_kind(r.lookup("po")) == "Pod"
    assert r.lookup("deploy").api_version == "apps/v1" and r.lookup("po").api_version == "v1"


def test_scope_and_subresources():
    assert not r.lookup("nodes").namespaced and r.lookup("pods").namespaced
    assert {"status", "binding", "log", "exec", "eviction"} <= set(r.lookup("pods").subresources)
    for name in ("deployments", "replicasets", "statefulsets"):
        assert {"status", "scale"} <= set(r.lookup(name).subresources)
    for name in ("nodes", "services", "namespaces", "jobs", "cronjobs", "daemonsets"):
        assert "status" in r.lookup(name).subresources
