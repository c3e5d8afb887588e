"""Mirrors: staging/src/k8s.io/apiextensions-apiserver: pkg/apiserver/customresource_handler.go (serving a CRD's
resource once it is Established), pkg/controller/status/naming_controller.go (NamesAccepted),
pkg/controller/establish/establishing_controller.go (Established), pkg/controller/finalizer/crd_finalizer.go
(customresourcecleanup), pkg/apiserver/validation (openAPIV3Schema validation), pkg/apiserver/schema/pruning and
schema/defaulting, and pkg/apis/apiextensions/validation (ValidateCustomResourceDefinition).

Creating a CustomResourceDefinition teaches the API server a new resource. The apiextensions controllers inside
kube-apiserver check that its names do not clash (condition NamesAccepted), then mark it Established, and from that
moment ``/apis/<group>/<version>/[namespaces/<ns>/]<plural>`` is served like a built-in type: objects are stored
under ``/registry/<group>/<plural>/...`` (the group is part of the key, unlike built-ins), validated against the
version's ``openAPIV3Schema`` (types, required, enum, bounds, patterns), defaulted from its ``default`` values and
pruned of fields the schema does not know. With ``subresources.status`` the main resource ignores status changes and
``/status`` ignores everything else, and ``metadata.generation`` counts spec changes. Deleting the CRD first deletes
every object of the type (the ``customresourcecleanup.apiextensions.k8s.io`` finalizer), then stops serving it.
"""

from __future__ import annotations

import re

from ..api import errors, resources
from ..api.objects import deepcopy
from .authn import UserInfo

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
COMPONENT = "kube-apiserver/apiextensions"
TYPE_NAMES = {"object": dict, "array": list, "string": str, "boolean": bool}
# The resource registry (k8slab.api.resources) is shared by every cluster in the process; each API server still
# serves only its own CRDs (is_custom). A type is unregistered when no API server serves it any more.
_SERVING: dict[tuple, int] = {}


def storage_version(crd: dict) -> dict | None:
    for v in (crd.get("spec") or {}).get("versions") or ():
        if v.get("storage"):
            return v
    return None


def served_version(crd: dict, version: str) -> dict | None:
    for v in (crd.get("spec") or {}).get("versions") or ():
        if v.get("name") == version and v.get("served", True):
            return v
    return None


# -- ValidateCustomResourceDefinition -------------------------------------------------------------------------------
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate_custom_resource_definition(crd: dict) -> list:
    errs = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        errs.append(errors.required("spec.group", ""))
    elif "." not in group:
        errs.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        errs.append(errors.required("spec.names.plural", ""))
    elif not DNS1123_LABEL.match(plural):
        errs.append(errors.invalid("spec.names.plural", plural, "a lowercase RFC 1123 label must consist of lower "
                                   "case alphanumeric characters or '-', and must start and end with an "
                                   "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"))
    if plural and group and name != f"{plural}.{group}":
        errs.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not names.get("kind"):
        errs.append(errors.required("spec.names.kind", ""))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errs.append(errors.required("spec.scope", "") if not scope else
                    errors.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(errors.invalid("spec.versions", versions, "must have exactly one version marked as storage "
                                   "version"))
    else:
        if sum(1 for v in versions if v.get("storage")) != 1:
            errs.append(errors.invalid("spec.versions", versions, "must have exactly one version marked as storage "
                                       "version"))
        for i, v in enumerate(versions):
            if not v.get("name"):
                errs.append(errors.required(f"spec.versions[{i}].name", ""))
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                errs.append(errors.required(f"spec.versions[{i}].schema.openAPIV3Schema",
                                            "schemas are required"))
            elif schema.get("type") != "object":
                errs.append(errors.invalid(f"spec.versions[{i}].schema.openAPIV3Schema.type",
                                           schema.get("type", ""), "must be object at the root"))
    return errs


# -- schema validation, defaulting, pruning --------------------------------------------------------------------------
def _type_ok(t: str, v) -> bool:
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    want = TYPE_NAMES.get(t)
    return want is None or isinstance(v, want)


def validate_schema(schema: dict, value, path: str) -> list:
    """Check ``value`` against an OpenAPI v3 (structural) schema; errors carry the field path."""
    errs: list = []
    if value is None:
        if schema.get("nullable"):
            return errs
    t = schema.get("type")
    if t and not _type_ok(t, value):
        errs.append(errors.invalid(path, value, f"{path} in body must be of type {t}: \"{_gotype(value)}\""))
        return errs
    if "enum" in schema and value not in schema["enum"]:
        errs.append(errors.not_supported(path, value, [str(e) for e in schema["enum"]]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(errors.invalid(path, value, f"{path} in body should be greater than or equal to "
                                                    f"{schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(errors.invalid(path, value, f"{path} in body should be less than or equal to "
                                                    f"{schema['maximum']}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(errors.too_long(path, value, schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(errors.invalid(path, value, f"{path} in body should be at least {schema['minLength']} "
                                                    f"chars long"))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(errors.invalid(path, value, f"{path} in body should match '{schema['pattern']}'"))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for req in schema.get("required") or ():
            if req not in value:
                errs.append(errors.required(f"{path}.{req}" if path else req, ""))
        for k, v in value.items():
            if k in props:
                errs += validate_schema(props[k], v, f"{path}.{k}" if path else k)
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate_schema(schema["additionalProperties"], v, f"{path}.{k}" if path else k)
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(errors.too_many(path, len(value), schema["maxItems"]))
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                errs += validate_schema(schema["items"], item, f"{path}[{i}]")
    return errs


def _gotype(v) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object",
            list: "array"}.get(type(v), "null")


def default_and_prune(schema: dict, value):
    """Apply ``default`` values and drop fields the schema does not specify (unless
    x-kubernetes-preserve-unknown-fields); returns the new value."""
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        props = schema.get("properties") or {}
        out = {}
        for k, v in value.items():
            if k in props:
                out[k] = default_and_prune(props[k], v)
            elif isinstance(schema.get("additionalProperties"), dict):
                out[k] = default_and_prune(schema["additionalProperties"], v)
            elif schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("additionalProperties") is True:
                out[k] = v
        for k, sub in props.items():
            if k not in out and "default" in sub:
                out[k] = deepcopy(sub["default"])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [default_and_prune(schema["items"], v) for v in value]
    return value


class CRDController:
    """The apiextensions controllers of kube-apiserver: naming, establishing, finalizing; and CR serving."""

    def __init__(self, server) -> None:
        self.server = server
        self.loop = server.loop
        self.user = UserInfo("system:apiserver", ("system:masters",))
        self.served: dict[str, resources.ResourceInfo] = {}  # CRD name -> the served resource

    def start(self) -> None:
        self.server.request("watch", "customresourcedefinitions", user=self.user, component=COMPONENT,
                            options={"callback": self._on_event, "component": COMPONENT})

    def _on_event(self, etype: str, crd: dict) -> None:
        name = crd["metadata"]["name"]
        self.loop.call_later(0, self.sync, name, component=COMPONENT, label=f"sync crd {name}")

    def is_custom(self, info) -> bool:
        return info in self.served.values()

    def crd_for(self, info) -> dict | None:
        for name, served in self.served.items():
            if served == info:
                return self.server.storage_get("customresourcedefinitions", None, name)
        return None

    def schema_for(self, info) -> dict | None:
        crd = self.crd_for(info)
        v = served_version(crd, info.version) if crd else None
        return ((v or {}).get("schema") or {}).get("openAPIV3Schema")

    # -- the controllers' sync -------------------------------------------------------------------------------------
    def sync(self, name: str) -> None:
        crd = self.server.storage_get("customresourcedefinitions", None, name)
        if crd is None:
            self.unserve(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            self.finalize(crd)
            return
        names = crd["spec"]["names"]
        conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or ()}
        conflict = self._name_conflict(crd)
        now = self.server.now_rfc3339()
        new = deepcopy(crd)
        status = new.setdefault("status", {})
        if conflict:
            want = [{"type": "NamesAccepted", "status": "False", "reason": "PluralConflict",
                     "message": conflict, "lastTransitionTime": now},
                    {"type": "Established", "status": "False", "reason": "NotAccepted",
                     "message": "not all names are accepted", "lastTransitionTime": now}]
        else:
            want = [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now}]
            status["acceptedNames"] = {k: names[k] for k in ("kind", "listKind", "plural", "singular",
                                                             "shortNames", "categories") if names.get(k)}
            status["acceptedNames"].setdefault("listKind", names["kind"] + "List")
            status["acceptedNames"].setdefault("singular", names["kind"].lower())
            sv = storage_version(crd)
            stored = list(status.get("storedVersions") or [])
            if sv and sv["name"] not in stored:
                stored.append(sv["name"])
            status["storedVersions"] = stored
        for c in want:
            old = conds.get(c["type"])
            if old and old["status"] == c["status"]:
                c["lastTransitionTime"] = old["lastTransitionTime"]
        status["conditions"] = want
        if new != crd:
            crd = self.server.request("update", "customresourcedefinitions", name=name, body=new,
                                      subresource="status", user=self.user, component=COMPONENT)
        if not conflict:
            self.serve(crd)

    def _name_conflict(self, crd: dict) -> str:
        group, names = crd["spec"]["group"], crd["spec"]["names"]
        mine = crd["metadata"]["name"]
        taken = [(i.group, i.resource, i.kind) for i in resources.BUILTIN] + \
            [(i.group, i.resource, i.kind) for n, i in self.served.items() if n != mine]
        for g, plural, kind in taken:
            if g == group and plural == names["plural"]:
                return f'"{plural}" is already in use'
            if g == group and kind == names["kind"]:
                return f'"{kind}" is already in use'
        return ""

    def serve(self, crd: dict) -> None:
        spec = crd["spec"]
        names = spec["names"]
        v = storage_version(crd)
        subs = tuple(k for k in ("status", "scale") if k in (v.get("subresources") or {}))
        info = resources.ResourceInfo(spec["group"], v["name"], names["kind"], names["plural"],
                                      spec["scope"] == "Namespaced", tuple(names.get("shortNames") or ()),
                                      f"{spec['group']}/{names['plural']}", subs,
                                      names.get("singular") or names["kind"].lower())
        if self.served.get(crd["metadata"]["name"]) == info:
            return
        old = self.served.get(crd["metadata"]["name"])
        if old is not None:
            _release(old)
        _SERVING[(info.group, info.resource)] = _SERVING.get((info.group, info.resource), 0) + 1
        resources.register(info)
        self.served[crd["metadata"]["name"]] = info
        self.server._prefixes[info.etcd_prefix] = info
        from .registry import GENERATION_RESOURCES
        GENERATION_RESOURCES.add(info.resource)
        self.loop.emit(COMPONENT, "crd.established", f"customresourcedefinitions/{crd['metadata']['name']}",
                       {"serving": f"/apis/{info.group}/{info.version}/"
                                   f"{'namespaces/<ns>/' if info.namespaced else ''}{info.resource}",
                        "etcd_prefix": f"{self.server.prefix}/{info.etcd_prefix}/"})

    def unserve(self, name: str) -> None:
        info = self.served.pop(name, None)
        if info is None:
            return
        _release(info)
        self.server._prefixes.pop(info.etcd_prefix, None)
        self.loop.emit(COMPONENT, "crd.removed", f"customresourcedefinitions/{name}", {})

    def finalize(self, crd: dict) -> None:
        """crd_finalizer.go: delete every custom object, then remove the cleanup finalizer."""
        name = crd["metadata"]["name"]
        info = self.served.get(name)
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or ()):
            return
        if info is not None:
            for obj in list(self.server.cache.get(info.resource, {}).values()):
                md = obj["metadata"]
                try:
                    self.server.request("delete", info.resource, namespace=md.get("namespace"), name=md["name"],
                                        user=self.user, component=COMPONENT)
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
            if self.server.cache.get(info.resource):
                self.loop.call_later(1000, self.sync, name, component=COMPONENT, label=f"sync crd {name}")
                return
        new = deepcopy(crd)
        new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"] if f != CLEANUP_FINALIZER] or None
        self.server.request("update", "customresourcedefinitions", name=name, body=new, user=self.user,
                            component=COMPONENT)

    # -- hooks for the request pipeline ----------------------------------------------------------------------------
    def on_delete(self, obj: dict) -> None:
        """What the CRD storage's Delete does first: add the cleanup finalizer and the Terminating condition."""
        fins = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in fins:
            fins.append(CLEANUP_FINALIZER)
        conds = obj.setdefault("status", {}).setdefault("conditions", [])
        conds[:] = [c for c in conds if c.get("type") != "Terminating"]
        conds.append({"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
                      "message": "CustomResource deletion is in progress",
                      "lastTransitionTime": self.server.now_rfc3339()})

    def prepare(self, info, obj: dict) -> None:
        """Defaulting and pruning from the schema (before admission)."""
        schema = self.schema_for(info)
        if not schema:
            return
        keep = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
        pruned = default_and_prune(schema, {k: v for k, v in obj.items() if k not in keep})
        obj.clear()
        obj.update(keep)
        obj.update(pruned)

    def validate(self, info, obj: dict, status_only: bool = False) -> list:
        schema = self.schema_for(info)
        if not schema:
            return []
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        if status_only:
            props = schema.get("properties") or {}
            return validate_schema(props["status"], body["status"], "status") \
                if "status" in props and "status" in body else []
        return validate_schema(schema, body, "")


def _release(info) -> None:
    key = (info.group, info.resource)
    _SERVING[key] = _SERVING.get(key, 1) - 1
    if _SERVING[key] <= 0:
        _SERVING.pop(key, None)
        resources.unregister(info)
