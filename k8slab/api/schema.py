"""Mirrors: staging/src/k8s.io/api/{core,apps}/v1/types.go (the Go types a request body is decoded into) and
encoding/json's UnmarshalTypeError text.

The API server decodes a request's JSON into Go structs before anything else. A value of the wrong JSON type (a
string where an int32 belongs, a map where a list belongs) fails right there with a 400 BadRequest such as
``Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field
DeploymentSpec.spec.replicas of type int32``. This module knows the Go types of the fields learners write most,
and finds the first mismatch the same way.
"""

from __future__ import annotations

# A type is a Go type name (scalar), ("list", elem_go_name, elem_type), ("map", go_name, value_type),
# or ("struct", StructName, {json field: type}).
S, I32, I64, B = "string", "int32", "int64", "bool"
INTSTR = "intstr.IntOrString"
STRMAP = ("map", "map[string]string", S)


def _list(go: str, elem) -> tuple:
    return ("list", go, elem)


LABEL_SELECTOR = ("struct", "LabelSelector", {
    "matchLabels": STRMAP,
    "matchExpressions": _list("[]v1.LabelSelectorRequirement", ("struct", "LabelSelectorRequirement", {
        "key": S, "operator": S, "values": _list("[]string", S)})),
})
OBJECT_META = ("struct", "ObjectMeta", {
    "name": S, "generateName": S, "namespace": S, "labels": STRMAP, "annotations": STRMAP,
    "finalizers": _list("[]string", S),
})
CONTAINER_PORT = ("struct", "ContainerPort", {"name": S, "hostPort": I32, "containerPort": I32, "protocol": S,
                                              "hostIP": S})
RESOURCES = ("struct", "ResourceRequirements", {"limits": ("map", "v1.ResourceList", "quantity"),
                                                "requests": ("map", "v1.ResourceList", "quantity")})
PROBE = ("struct", "Probe", {"initialDelaySeconds": I32, "timeoutSeconds": I32, "periodSeconds": I32,
                             "successThreshold": I32, "failureThreshold": I32,
                             "terminationGracePeriodSeconds": I64})
CONTAINER = ("struct", "Container", {
    "name": S, "image": S, "command": _list("[]string", S), "args": _list("[]string", S), "workingDir": S,
    "ports": _list("[]v1.ContainerPort", CONTAINER_PORT),
    "env": _list("[]v1.EnvVar", ("struct", "EnvVar", {"name": S, "value": S})),
    "resources": RESOURCES, "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "imagePullPolicy": S, "restartPolicy": S, "stdin": B, "tty": B,
})
TOLERATION = ("struct", "Toleration", {"key": S, "operator": S, "value": S, "effect": S, "tolerationSeconds": I64})
POD_SPEC = ("struct", "PodSpec", {
    "containers": _list("[]v1.Container", CONTAINER), "initContainers": _list("[]v1.Container", CONTAINER),
    "restartPolicy": S, "terminationGracePeriodSeconds": I64, "activeDeadlineSeconds": I64, "dnsPolicy": S,
    "nodeSelector": STRMAP, "serviceAccountName": S, "automountServiceAccountToken": B, "nodeName": S,
    "hostNetwork": B, "schedulerName": S, "priorityClassName": S, "priority": I32,
    "tolerations": _list("[]v1.Toleration", TOLERATION),
})
POD_TEMPLATE = ("struct", "PodTemplateSpec", {"metadata": OBJECT_META, "spec": POD_SPEC})
ROLLING_DEPLOYMENT = ("struct", "RollingUpdateDeployment", {"maxUnavailable": INTSTR, "maxSurge": INTSTR})
DEPLOYMENT_SPEC = ("struct", "DeploymentSpec", {
    "replicas": I32, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE, "minReadySeconds": I32,
    "revisionHistoryLimit": I32, "paused": B, "progressDeadlineSeconds": I32,
    "strategy": ("struct", "DeploymentStrategy", {"type": S, "rollingUpdate": ROLLING_DEPLOYMENT}),
})
REPLICASET_SPEC = ("struct", "ReplicaSetSpec", {"replicas": I32, "minReadySeconds": I32,
                                                "selector": LABEL_SELECTOR, "template": POD_TEMPLATE})
SERVICE_SPEC = ("struct", "ServiceSpec", {
    "ports": _list("[]v1.ServicePort", ("struct", "ServicePort", {
        "name": S, "protocol": S, "port": I32, "targetPort": INTSTR, "nodePort": I32})),
    "selector": STRMAP, "clusterIP": S, "type": S, "externalIPs": _list("[]string", S), "sessionAffinity": S,
    "externalTrafficPolicy": S, "internalTrafficPolicy": S, "publishNotReadyAddresses": B,
})

KINDS = {
    "Pod": {"metadata": OBJECT_META, "spec": POD_SPEC},
    "Deployment": {"metadata": OBJECT_META, "spec": DEPLOYMENT_SPEC},
    "ReplicaSet": {"metadata": OBJECT_META, "spec": REPLICASET_SPEC},
    "Service": {"metadata": OBJECT_META, "spec": SERVICE_SPEC},
    "ConfigMap": {"metadata": OBJECT_META, "data": STRMAP},
    "Namespace": {"metadata": OBJECT_META},
}

_INT_RANGES = {I32: (-2**31, 2**31 - 1), I64: (-2**63, 2**63 - 1)}


def _json_type(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _go_name(t) -> str:
    if isinstance(t, str):
        return "resource.Quantity" if t == "quantity" else t
    if t[0] == "struct":
        return "v1." + t[1]
    return t[1]


def type_error(obj: dict, skip: frozenset = frozenset()) -> str | None:
    """The ``json: cannot unmarshal ...`` message for the first field of the wrong type, or None. Top-level fields
    in ``skip`` are not looked at."""
    fields = KINDS.get(obj.get("kind", ""))
    if fields is None:
        return None
    if skip:
        fields = {k: t for k, t in fields.items() if k not in skip}
    return _check_struct(obj.get("kind", ""), fields, obj, "")


def _check_struct(struct: str, fields: dict, value: dict, path: str) -> str | None:
    get = value.get
    for name, t in fields.items():
        v = get(name)
        if v is None:
            continue
        # the common answers first, before the field's path is even written out
        if t is S:
            if type(v) is str:
                continue
        elif t is I32 or t is I64:
            if type(v) is int and _INT_RANGES[t][0] <= v <= _INT_RANGES[t][1]:
                continue
        err = _check(t, v, f"{path}.{name}" if path else name, struct)
        if err:
            return err
    return None


def _mismatch(v, t, path: str, struct: str) -> str:
    return (f"json: cannot unmarshal {_json_type(v)} into Go struct field {struct}.{path} of type "
            f"{_go_name(t)}")


def _check(t, v, path: str, struct: str) -> str | None:
    if isinstance(t, str):
        if t == S and not isinstance(v, str):
            return _mismatch(v, t, path, struct)
        if t == B and not isinstance(v, bool):
            return _mismatch(v, t, path, struct)
        if t in _INT_RANGES:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return _mismatch(v, t, path, struct)
            lo, hi = _INT_RANGES[t]
            if isinstance(v, float) and not v.is_integer() or not lo <= v <= hi:
                return f"json: cannot unmarshal number {v} into Go struct field {struct}.{path} of type {t}"
        if t == INTSTR and not isinstance(v, (str, int)) or t == INTSTR and isinstance(v, bool):
            return f"json: cannot unmarshal {_json_type(v)} into Go value of type intstr.IntOrString"
        if t == "quantity" and not isinstance(v, (str, int, float)) or t == "quantity" and isinstance(v, bool):
            return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        return None
    kind = t[0]
    if kind == "struct":
        if not isinstance(v, dict):
            return _mismatch(v, t, path, struct)
        return _check_struct(t[1], t[2], v, path)
    if kind == "list":
        if not isinstance(v, list):
            return _mismatch(v, t, path, struct)
        for item in v:
            err = _check(t[2], item, path, struct)
            if err:
                return err
        return None
    if kind == "map":
        if not isinstance(v, dict):
            return _mismatch(v, t, path, struct)
        for item in v.values():
            if t[2] == S and not isinstance(item, str):
                return _mismatch(item, S, path, struct)
            if t[2] == "quantity":
                err = _check("quantity", item, path, struct)
                if err:
                    return err
        return None
    return None
