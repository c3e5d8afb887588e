"""Namespace deletion: Terminating phase, the deleter, status conditions, the finalize subresource."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.controllers.namespace import NamespaceConditionUpdater, update_conditions

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _cluster():
    c = Cluster(nodes=2, seed=1)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    c.settle()
    c.apply(DEPLOY)
    c.settle()
    return c


def _cond(ns, type_):
    return next(x for x in ns["status"]["conditions"] if x["type"] == type_)


def test_new_namespace_has_kubernetes_finalizer_and_default_serviceaccount():
    c = _cluster()
    ns = c.get("namespace", "team")
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"]["phase"] == "Active"
    assert c.get("serviceaccount", "default", namespace="team")["metadata"]["name"] == "default"
    assert c.get("configmap", "kube-root-ca.crt", namespace="team")


def test_delete_namespace_removes_content_then_namespace():
    c = _cluster()
    assert len(c.get("pods", namespace="team")) == 2
    c.delete("namespace", "team")
    ns = c.get("namespace", "team")
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    with pytest.raises(StatusError) as e:
        c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "team"}})
    assert e.value.code == 403
    assert str(e.value) == ('configmaps "x" is forbidden: unable to create new content in namespace team '
                            'because it is being terminated')
    c.run(seconds=120)
    with pytest.raises(StatusError) as e:
        c.get("namespace", "team")
    assert e.value.code == 404
    assert not [k for k in c.etcd.keys("/registry/") if "/team/" in k or k.endswith("/team")]
    kinds = {ev.data["verb"] for ev in c.trace if ev.component.endswith("/namespace") and ev.kind == "request"}
    assert {"list", "delete", "update"} <= kinds


def test_finalizer_on_content_holds_namespace_with_conditions():
    c = _cluster()
    c.apply({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "held", "namespace": "team", "finalizers": ["example.com/hold"]}})
    c.delete("namespace", "team")
    c.run(seconds=90)
    ns = c.get("namespace", "team")
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    rem = _cond(ns, "NamespaceContentRemaining")
    assert (rem["status"], rem["reason"]) == ("True", "SomeResourcesRemain")
    assert rem["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    fin = _cond(ns, "NamespaceFinalizersRemaining")
    assert fin["message"] == ("Some content in the namespace has finalizers remaining: example.com/hold in 1 "
                              "resource instances")
    assert _cond(ns, "NamespaceDeletionDiscoveryFailure")["reason"] == "ResourcesDiscovered"
    assert c.get("pods", namespace="team").names == []
    c.admin.patch("configmaps", "held", {"metadata": {"finalizers": None}}, namespace="team")
    c.run(seconds=30)
    with pytest.raises(StatusError):
        c.get("namespace", "team")


def test_finalize_subresource_only_changes_spec_finalizers():
    c = Cluster(nodes=1, seed=2)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "1"}}})
    ns = c.admin.get("namespaces", "a")
    body = dict(ns, spec={"finalizers": ["example.com/mine", "kubernetes"]}, metadata=dict(ns["metadata"],
                                                                                          labels={"x": "2"}))
    got = c.admin.update("namespaces", body, subresource="finalize")
    assert got["spec"]["finalizers"] == ["example.com/mine", "kubernetes"]
    assert got["metadata"]["labels"]["x"] == "1"
    bad = dict(got, spec={"finalizers": ["nope"]})
    with pytest.raises(StatusError) as e:
        c.admin.update("namespaces", bad, subresource="finalize")
    assert e.value.code == 422 and "spec.finalizers[0]" in str(e.value)
    # a status update of a terminating namespace does not delete it while spec.finalizers remain
    c.admin.update("namespaces", dict(got, spec={"finalizers": ["kubernetes"]}), subresource="finalize")
    c.controller_manager.pause()
    c.delete("namespace", "a")
    cur = c.admin.get("namespaces", "a")
    c.admin.update_status("namespaces", dict(cur, status={"phase": "Terminating", "conditions": []}))
    assert c.admin.get("namespaces", "a")["status"]["phase"] == "Terminating"
    c.admin.update("namespaces", dict(c.admin.get("namespaces", "a"), spec={"finalizers": []}),
                   subresource="finalize")
    with pytest.raises(StatusError):
        c.admin.get("namespaces", "a")


def test_condition_updater_ok_variants_and_transition_time():
    u = NamespaceConditionUpdater("t1")
    status = {}
    assert u.update(status)
    assert [x["type"] for x in status["conditions"]] == [
        "NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining"]
    assert all(x["status"] == "False" for x in status["conditions"])
    assert not update_conditions(status, [], "t2")  # nothing changed
    u2 = NamespaceConditionUpdater("t3")
    u2.process_delete_content_err("b err")
    u2.process_delete_content_err("a err")
    assert u2.update(status)
    cf = next(x for x in status["conditions"] if x["type"] == "NamespaceDeletionContentFailure")
    assert cf["message"] == "Failed to delete all resource types, 2 remaining: a err, b err"
    assert cf["lastTransitionTime"] == "t3" and cf["reason"] == "ContentDeletionFailed"


def test_namespace_deletion_removes_custom_resources_and_ignores_other_clusters_types():
    from k8slab.exercises.lifecycle import WIDGET_CRD as CRD

    def widget(name, **spec):
        return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}

    a = Cluster(nodes=1, seed=3)
    a.apply(CRD)
    a.settle()
    b = Cluster(nodes=1, seed=4)  # knows nothing of widgets, though this process registered the type
    for c in (a, b):
        c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        c.settle()
    a.apply(dict(widget("w", size=1), metadata={"name": "w", "namespace": "team"}))
    for c in (a, b):
        c.delete("namespace", "team")
        c.run(seconds=30)
        with pytest.raises(StatusError):
            c.get("namespace", "team")
    assert a.etcd.keys("/registry/example.com/") == []
