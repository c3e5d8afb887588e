"""Mirrors: pkg/kubeapiserver/default_storage_factory_builder.go (SpecialDefaultResourcePrefixes),
staging/src/k8s.io/apimachinery/pkg/api/meta/errors.go (NoKindMatchError),
staging/src/k8s.io/kubectl/pkg/cmd/get (short names, "the server doesn't have a resource type")

The built-in resource types the simulated API server serves.

Every type has a *kind* (``Deployment``, what a manifest says) and a *resource* (``deployments``,
the lower-case plural in the URL ``/apis/apps/v1/namespaces/default/deployments``). The API
server stores each object in etcd under ``/registry/<resource>/<namespace>/<name>``; a few old
types keep historical prefixes: nodes live under ``minions`` and services under
``services/specs``. The API group is not part of the key for built-in types, but it is for
custom resources (``/registry/example.com/widgets/...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import StatusError, _status, REASON_NOT_FOUND, go_quote

# SpecialDefaultResourcePrefixes: (group, resource) -> etcd prefix
SPECIAL_DEFAULT_RESOURCE_PREFIXES = {
    ("", "replicationcontrollers"): "controllers",
    ("", "endpoints"): "services/endpoints",
    ("", "nodes"): "minions",
    ("", "services"): "services/specs",
    ("extensions", "ingresses"): "ingress",
    ("networking.k8s.io", "ingresses"): "ingress",
}


@dataclass(frozen=True)
class ResourceInfo:
    """One API resource: what discovery (``kubectl api-resources``) reports about it."""

    group: str
    version: str
    kind: str
    resource: str
    namespaced: bool
    short_names: tuple = ()
    etcd_prefix: str = ""
    subresources: tuple = ()
    singular: str = field(default="")

    def __post_init__(self):
        if not self.etcd_prefix:
            object.__setattr__(self, "etcd_prefix", SPECIAL_DEFAULT_RESOURCE_PREFIXES.get(
                (self.group, self.resource), self.resource))
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return group_resource(self)

    @property
    def group_kind(self) -> str:
        return group_kind(self)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


def _r(group, version, kind, resource, namespaced, short=(), sub=()):
    return ResourceInfo(group, version, kind, resource, namespaced, tuple(short), "", tuple(sub))


BUILTIN = [
    _r("", "v1", "Namespace", "namespaces", False, ["ns"], ["status", "finalize"]),
    _r("", "v1", "Node", "nodes", False, ["no"], ["status", "proxy"]),
    _r("", "v1", "Pod", "pods", True, ["po"],
       ["status", "binding", "log", "exec", "eviction", "ephemeralcontainers", "resize",
        "attach", "portforward", "proxy"]),
    _r("", "v1", "Service", "services", True, ["svc"], ["status", "proxy"]),
    _r("", "v1", "Endpoints", "endpoints", True, ["ep"]),
    _r("", "v1", "ConfigMap", "configmaps", True, ["cm"]),
    _r("", "v1", "Secret", "secrets", True),
    _r("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"], ["token"]),
    _r("", "v1", "Event", "events", True, ["ev"]),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, ["pv"], ["status"]),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ["pvc"], ["status"]),
    _r("", "v1", "ReplicationController", "replicationcontrollers", True, ["rc"], ["status", "scale"]),
    _r("apps", "v1", "Deployment", "deployments", True, ["deploy"], ["status", "scale"]),
    _r("apps", "v1", "ReplicaSet", "replicasets", True, ["rs"], ["status", "scale"]),
    _r("apps", "v1", "DaemonSet", "daemonsets", True, ["ds"], ["status"]),
    _r("apps", "v1", "StatefulSet", "statefulsets", True, ["sts"], ["status", "scale"]),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    _r("batch", "v1", "Job", "jobs", True, [], ["status"]),
    _r("batch", "v1", "CronJob", "cronjobs", True, ["cj"], ["status"]),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _r("coordination.k8s.io", "v1", "Lease", "leases", True),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ["pc"]),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ["netpol"]),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", True, ["ing"], ["status"]),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ["sc"]),
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"], ["status"]),
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ["hpa"], ["status"]),
    _r("", "v1", "LimitRange", "limitranges", True, ["limits"]),
    _r("", "v1", "ResourceQuota", "resourcequotas", True, ["quota"], ["status"]),
    _r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
       False),
    _r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
       False),
    # CRD objects themselves are stored with their group in the key
    ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                 False, ("crd", "crds"), "apiextensions.k8s.io/customresourcedefinitions", ("status",)),
]

_BY_GVK: dict[tuple[str, str, str], ResourceInfo] = {}
_BY_GR: dict[tuple[str, str], ResourceInfo] = {}
_NAMES: dict[str, list[ResourceInfo]] = {}


def register(info: ResourceInfo) -> ResourceInfo:
    """Add a resource (used for built-ins, and by the API server for CRD-defined types)."""
    _BY_GVK[(info.group, info.version, info.kind)] = info
    _BY_GR[(info.group, info.resource)] = info
    for name in {info.resource, info.singular, info.kind.lower(), *info.short_names}:
        bucket = _NAMES.setdefault(name.lower(), [])
        if info not in bucket:
            bucket.append(info)
    return info


def unregister(info: ResourceInfo) -> None:
    _BY_GVK.pop((info.group, info.version, info.kind), None)
    _BY_GR.pop((info.group, info.resource), None)
    for bucket in _NAMES.values():
        if info in bucket:
            bucket.remove(info)


def custom_resource(group: str, version: str, kind: str, plural: str, namespaced: bool,
                    short_names=(), singular: str = "") -> ResourceInfo:
    """A ResourceInfo for a CRD-defined type; its etcd keys include the group."""
    return ResourceInfo(group, version, kind, plural, namespaced, tuple(short_names),
                        f"{group}/{plural}", ("status", "scale"), singular or kind.lower())


for _info in BUILTIN:
    register(_info)


def all_resources() -> list[ResourceInfo]:
    return list(_BY_GR.values())


def _unknown(name: str) -> StatusError:
    return _status(404, REASON_NOT_FOUND, f"the server doesn't have a resource type {go_quote(name)}",
                   {"kind": name})


def lookup(name: str) -> ResourceInfo:
    """Find a resource the way kubectl resolves its argument.

    Accepts the plural (``deployments``), singular (``deployment``), kind in any case
    (``Deployment``), short name (``deploy``) and qualified forms (``deployments.apps``,
    ``deployments.v1.apps``).
    """
    if isinstance(name, ResourceInfo):
        return name
    key = name.strip().lower()
    candidates = _NAMES.get(key)
    if candidates:
        # prefer the core/oldest group when a name is ambiguous
        return candidates[0]
    base, _, rest = key.partition(".")
    if rest:
        version, _, group = rest.partition(".")
        for info in _NAMES.get(base, []):
            if info.group == rest or (group and info.group == group and info.version == version) or (
                    not group and not info.group and info.version == version):
                return info
    raise _unknown(name)


def for_kind(api_version: str, kind: str) -> ResourceInfo:
    """The resource that serves ``kind`` at ``api_version`` (a RESTMapper lookup)."""
    group, _, version = api_version.rpartition("/")
    info = _BY_GVK.get((group, version, kind))
    if info is not None:
        return info
    gv = f"{group}/{version}" if group else version
    raise _status(404, REASON_NOT_FOUND,
                  f"no matches for kind {go_quote(kind)} in version {go_quote(gv)}",
                  {"group": group, "kind": kind})


def for_group_resource(group: str, resource: str) -> ResourceInfo:
    info = _BY_GR.get((group, resource))
    if info is None:
        raise _unknown(f"{resource}.{group}" if group else resource)
    return info


def etcd_key(info: ResourceInfo, namespace: str | None = None, name: str | None = None,
             prefix: str = "/registry") -> str:
    """The etcd key of an object, or the key prefix of a collection when ``name`` is None.

    ``etcd_key(pods, "default", "web")`` -> ``/registry/pods/default/web``;
    ``etcd_key(pods, "default")`` -> ``/registry/pods/default/``;
    ``etcd_key(nodes, None, "node-1")`` -> ``/registry/minions/node-1``.
    """
    parts = [prefix.rstrip("/"), info.etcd_prefix]
    if info.namespaced and namespace:
        parts.append(namespace)
    if name is None:
        return "/".join(parts) + "/"
    parts.append(name)
    return "/".join(parts)


def group_resource(info: ResourceInfo) -> str:
    """``deployments.apps`` or ``pods`` (schema.GroupResource.String())."""
    return f"{info.resource}.{info.group}" if info.group else info.resource


def group_kind(info: ResourceInfo) -> str:
    """``Deployment.apps`` or ``Pod`` (schema.GroupKind.String())."""
    return f"{info.kind}.{info.group}" if info.group else info.kind


def info_for(obj: dict) -> ResourceInfo:
    """The resource of an object dict, from its apiVersion and kind."""
    return for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
