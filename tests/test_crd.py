"""CustomResourceDefinitions served by the API server, and a custom controller written like a built-in one."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.api.objects import deepcopy
from k8slab.apiserver.crd import default_and_prune, validate_schema
from k8slab.controllers import CustomController

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, blue], default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
"""


def widget(name, **spec):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


class WidgetController(CustomController):
    NAME = "widget-controller"
    RESOURCE = "widgets"
    OWNS = ("configmaps",)

    def reconcile(self, key):
        w = self.get(key)
        if w is None:
            return
        cms = self.owned_by("configmaps", w)
        if not cms:
            self.client.create("configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": w["metadata"]["name"] + "-paint", "namespace": w["metadata"]["namespace"],
                             "ownerReferences": [self.owner_reference(w)]},
                "data": {"color": w["spec"]["color"]}})
            return
        if cms[0]["data"]["color"] != w["spec"]["color"]:
            cms[0]["data"]["color"] = w["spec"]["color"]
            self.client.update("configmaps", cms[0])
        if not (w.get("status") or {}).get("ready"):
            self.update_status(w, {"ready": True})


@pytest.fixture()
def c():
    c = Cluster(nodes=1, seed=0)
    c.apply(CRD)
    c.settle()
    return c


def test_crd_established_and_served_with_group_in_etcd_key(c):
    crd = c.get("crd", "widgets.example.com")
    conds = {x["type"]: (x["status"], x["reason"]) for x in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com" in c.etcd.keys("/registry/")
    w = c.apply(widget("w", size=3, junk=1))
    assert w["spec"] == {"size": 3, "color": "red"}  # defaulted, unknown field pruned
    assert c.etcd.keys("/registry/example.com/") == ["/registry/example.com/widgets/default/w"]
    assert c.get("wd", "w")["metadata"]["generation"] == 1


def test_type_not_served_before_crd_or_on_another_cluster(c):
    fresh = Cluster(nodes=1, seed=1)
    with pytest.raises(StatusError) as e:
        fresh.admin.list("widgets", namespace="default")
    assert e.value.code == 404 and str(e.value) == "the server could not find the requested resource"


@pytest.mark.parametrize("spec,message", [
    ({"size": "x"}, 'spec.size: Invalid value: "x": spec.size in body must be of type integer: "string"'),
    ({"size": 0}, "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
    ({"size": 11}, "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"),
    ({"size": 2, "color": "pink"}, 'spec.color: Unsupported value: "pink": supported values: "red", "blue"'),
    ({}, "spec.size: Required value"),
])
def test_schema_validation_rejects_with_field_paths(c, spec, message):
    rev = c.etcd.revision
    with pytest.raises(StatusError) as e:
        c.apply(widget("bad", **spec))
    assert e.value.code == 422
    assert str(e.value) == f'Widget.example.com "bad" is invalid: {message}'
    assert c.etcd.revision == rev


def test_status_subresource_and_generation(c):
    c.apply(widget("w", size=3))
    w = deepcopy(c.admin.get("widgets", "w", "default"))
    w["status"] = {"ready": True}
    w["spec"]["size"] = 4
    upd = deepcopy(c.admin.update("widgets", w))
    assert upd["spec"]["size"] == 4 and not (upd.get("status") or {}).get("ready")
    assert upd["metadata"]["generation"] == 2
    upd["status"] = {"ready": True}
    upd["spec"]["size"] = 9
    st = deepcopy(c.admin.update("widgets", upd, subresource="status"))
    assert st["status"] == {"ready": True} and st["spec"]["size"] == 4 and st["metadata"]["generation"] == 2
    with pytest.raises(StatusError) as e:
        c.admin.update("widgets", dict(st, status={"ready": "yes"}), subresource="status")
    assert e.value.code == 422 and "status.ready" in str(e.value)


def test_invalid_crd_rejected():
    c = Cluster(nodes=1, seed=2)
    bad = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.example.com"},
           "spec": {"group": "example.com", "scope": "Somewhere",
                    "names": {"plural": "gizmos", "kind": "Gizmo"},
                    "versions": [{"name": "v1", "served": True, "storage": False,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    with pytest.raises(StatusError) as e:
        c.apply(bad)
    msg = str(e.value)
    assert e.value.code == 422
    assert 'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group' in msg
    assert 'spec.scope: Unsupported value: "Somewhere"' in msg
    assert "must have exactly one version marked as storage version" in msg


def test_deleting_crd_deletes_its_objects_then_stops_serving(c):
    c.apply(widget("a", size=1))
    c.apply(widget("b", size=2))
    c.delete("crd", "widgets.example.com")
    crd = c.admin.get("customresourcedefinitions", "widgets.example.com")
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]
    c.settle()
    assert c.etcd.keys("/registry/example.com/") == []
    with pytest.raises(StatusError):
        c.get("crd", "widgets.example.com")
    with pytest.raises(StatusError):
        c.admin.list("widgets", namespace="default")


def test_custom_controller_reconciles_and_garbage_collector_cleans_up(c):
    ctrl = c.add_controller(WidgetController)
    c.apply(widget("w", size=3))
    c.settle()
    cm = c.get("configmap", "w-paint")
    assert cm["data"] == {"color": "red"}
    assert cm["metadata"]["ownerReferences"][0]["kind"] == "Widget"
    assert c.get("widget", "w")["status"] == {"ready": True}
    c.apply(widget("w", size=3, color="blue"))
    c.settle()
    assert c.get("configmap", "w-paint")["data"] == {"color": "blue"}
    assert all(outcome == "ok" for _, _, outcome in ctrl.reconciles)
    writes = [e for e in c.trace if e.component == "widget-controller" and e.kind == "request"]
    assert writes and all(e.target == "kube-apiserver" for e in writes)
    authn = [e for e in c.trace if e.kind == "authn" and e.data.get("user") ==
             "system:serviceaccount:kube-system:widget-controller"]
    assert authn
    c.delete("widget", "w")
    c.settle()
    with pytest.raises(StatusError):
        c.get("configmap", "w-paint")


def test_failed_reconcile_is_requeued_with_backoff(c):
    class Flaky(CustomController):
        NAME = "flaky-controller"
        RESOURCE = "widgets"

        def reconcile(self, key):
            self.client.get("configmaps", "missing", "default")  # 404 every time

    ctrl = c.add_controller(Flaky)
    c.apply(widget("w", size=1))
    c.run(seconds=1)
    times = [t for t, _, outcome in ctrl.reconciles if outcome.startswith("error")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 5 and gaps[:4] == [5, 10, 20, 40]
    with pytest.raises(TypeError):
        c.add_controller(dict)


def test_schema_helpers():
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}},
                                               "m": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    assert default_and_prune(schema, {"a": [1], "m": {"x": 1}, "z": 2}) == {"a": [1], "m": {"x": 1}}
    errs = validate_schema(schema, {"a": [1, "two"]}, "spec")
    assert [e.field for e in errs] == ["spec.a[1]"]


def test_deleting_a_crd_on_one_cluster_leaves_another_cluster_serving_it():
    a, b = Cluster(nodes=1, seed=5), Cluster(nodes=1, seed=6)
    for c in (a, b):
        c.apply(CRD)
        c.settle()
    a.delete("crd", "widgets.example.com")
    a.settle()
    assert b.apply(widget("still", size=2))["spec"] == {"size": 2, "color": "red"}
    with pytest.raises(StatusError):
        a.admin.list("widgets", namespace="default")
