"""Manifest loading and kubectl-style printing."""

import json

import pytest

from k8slab.api import serialize as s
from k8slab.api.errors import StatusError

MULTI = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
# a comment-only document is skipped
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
  data: {when: 2026-01-01, port: "80"}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
--- # separator with a comment
apiVersion: v1
kind: Pod
metadata: {name: p}
"""


def test_multi_document_and_lists():
    objs = s.load_manifests(MULTI)
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("Namespace", "shop"), ("ConfigMap", "a"), ("ConfigMap", "b"), ("Pod", "p")]
    assert objs[1]["data"]["when"] == "2026-01-01"  # timestamps stay strings, as in JSON


def test_dicts_lists_paths(tmp_path):
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert s.load_manifests(obj) == [obj]
    assert s.load_manifests([obj, obj]) == [obj, obj]
    f = tmp_path / "pod.yaml"
    f.write_text(s.to_yaml(obj))
    assert s.load_manifests(f) == [obj]
    assert s.load_manifests(str(f)) == [obj]
    (tmp_path / "svc.json").write_text(json.dumps(dict(obj, kind="Service")))
    assert [o["kind"] for o in s.load_manifests(tmp_path)] == ["Pod", "Service"]
    with pytest.raises(StatusError) as info:
        s.load_manifests("missing.yaml")
    assert info.value.message == 'the path "missing.yaml" does not exist'


def test_json_text():
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}]})
    assert s.load_manifests(text)[0]["kind"] == "Secret"


def test_malformed_yaml_is_bad_request():
    with pytest.raises(StatusError) as info:
        s.load_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   labels: x: y\n")
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message.startswith("error converting YAML to JSON: yaml: line ")
    assert info.value.message.endswith("mapping values are not allowed in this context")
    with pytest.raises(StatusError) as info:
        s.load_manifests("a: b\n\tc: d\n")
    assert info.value.message == ("error converting YAML to JSON: yaml: line 2: "
                                  "found character that cannot start any token")


def test_missing_kind_and_non_mapping():
    with pytest.raises(StatusError) as info:
        s.load_manifests("apiVersion: v1\nmetadata:\n  name: x\n")
    assert info.value.message == 'Object \'Kind\' is missing in \'{"apiVersion":"v1","metadata":{"name":"x"}}\''
    with pytest.raises(StatusError) as info:
        s.load_manifests("kind: Pod\n")
    assert "'apiVersion' is missing" in info.value.message
    with pytest.raises(StatusError) as info:
        s.load_manifests("just a string\n")
    assert info.value.message == "json: cannot unmarshal string into Go value of type map[string]interface {}"


def test_empty_input():
    assert s.load_manifests("") == []
    assert s.load_manifests("---\n---\n") == []


POD = {
    "kind": "Pod", "apiVersion": "v1",
    "status": {"phase": "Running"},
    "spec": {"containers": [{"name": "web", "image": "nginx", "args": ["-c", "a: b", "*"],
                             "ports": [{"containerPort": 80}], "resources": {}}],
             "nodeSelector": {}, "tolerations": []},
    "metadata": {"name": "web", "annotations": {"revision": "1", "ok": "true", "note": "line1\nline2\n",
                                                "empty": "", "ts": "2026-01-01T00:00:00Z"}},
}

EXPECTED_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    empty: ""
    note: |
      line1
      line2
    ok: "true"
    revision: "1"
    ts: "2026-01-01T00:00:00Z"
  name: web
spec:
  containers:
  - args:
    - -c
    - 'a: b'
    - '*'
    image: nginx
    name: web
    ports:
    - containerPort: 80
    resources: {}
  nodeSelector: {}
  tolerations: []
status:
  phase: Running
"""


def test_to_yaml_matches_kubectl_layout():
    assert s.to_yaml(POD) == EXPECTED_YAML


def test_to_yaml_round_trips():
    assert s.load_manifests(s.to_yaml(POD)) == [POD]


def test_to_yaml_unsorted_puts_top_keys_first():
    out = s.to_yaml({"data": {"z": "1", "a": "2"}, "kind": "ConfigMap", "apiVersion": "v1"}, sort_keys=False)
    assert out == 'apiVersion: v1\nkind: ConfigMap\ndata:\n  z: "1"\n  a: "2"\n'
    assert s.to_yaml({"data": {}, "kind": "ConfigMap", "apiVersion": "v1"}).splitlines()[:3] == [
        "apiVersion: v1", "data: {}", "kind: ConfigMap"]


def test_to_json_like_kubectl():
    out = s.to_json({"kind": "Pod", "apiVersion": "v1", "metadata": {"annotations": {"x": "<b>&"}}})
    assert out == ('{\n    "apiVersion": "v1",\n    "kind": "Pod",\n    "metadata": {\n        "annotations": {\n'
                   '            "x": "\\u003cb\\u003e\\u0026"\n        }\n    }\n}\n')
    assert json.loads(out)["metadata"]["annotations"]["x"] == "<b>&"
