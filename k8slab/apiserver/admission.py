"""Mirrors: plugin/pkg/admission/{namespace/lifecycle,serviceaccount,defaulttolerationseconds,priority,
noderestriction}/admission.go and staging/src/k8s.io/apiserver/pkg/admission.

The admission stage runs after authorization: first the *mutating* plugins, which may change the object, then
(after schema validation) the *validating* plugins, which may only refuse it. These are the plugins kubeadm's API
server enables by default that matter to the objects the model runs; each one is a small class with ``NAME``,
``handles(verb, resource)`` and ``admit``/``validate``.
"""

from __future__ import annotations

from ..api import errors
from .registry import random_string

SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300
SYSTEM_CRITICAL_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class AdmissionContext:
    """What a plugin can see: the request, the user, and read access to the API server's store."""

    def __init__(self, server, verb, info, namespace, name, subresource, user, old) -> None:
        self.server, self.verb, self.info, self.namespace = server, verb, info, namespace
        self.name, self.subresource, self.user, self.old = name, subresource, user, old
        self.req, self.ref = None, ""  # the request's trace event and reference, for plugins that trace

    @property
    def resource(self) -> str:
        return self.info.resource

    def lookup(self, resource: str, namespace: str | None, name: str):
        return self.server.storage_get(resource, namespace, name)


class NamespaceLifecycle:
    """Refuses new objects in a namespace that does not exist or is being terminated."""

    NAME = "NamespaceLifecycle"
    mutating = True  # it runs first, in the mutating phase (Admit), so a missing namespace is a 404 before anything

    def handles(self, ctx: AdmissionContext) -> bool:
        return ctx.verb == "create" and ctx.info.namespaced and ctx.subresource == ""

    def admit(self, ctx: AdmissionContext, obj: dict) -> None:
        ns = ctx.lookup("namespaces", None, ctx.namespace)
        if ns is None:
            raise errors.new_not_found("namespaces", ctx.namespace)
        if ns.get("status", {}).get("phase") == "Terminating":
            raise errors.new_forbidden(
                _group_resource(ctx.info), obj.get("metadata", {}).get("name", ""),
                f"unable to create new content in namespace {ctx.namespace} because it is being terminated")


class ServiceAccountAdmission:
    """Sets ``spec.serviceAccountName`` (default ``default``) and mounts its projected token volume."""

    NAME = "ServiceAccount"
    mutating = True

    def handles(self, ctx: AdmissionContext) -> bool:
        return ctx.verb == "create" and ctx.resource == "pods" and ctx.subresource == ""

    def admit(self, ctx: AdmissionContext, pod: dict) -> None:
        spec = pod.setdefault("spec", {})
        if (pod.get("metadata", {}).get("annotations") or {}).get("kubernetes.io/config.mirror"):
            return  # mirror pods of static pods are left alone
        sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = sa_name
        spec["serviceAccount"] = sa_name
        sa = ctx.lookup("serviceaccounts", ctx.namespace, sa_name)
        if sa is None:
            raise errors.new_forbidden("pods", pod["metadata"].get("name") or pod["metadata"].get("generateName", ""),
                                       f'error looking up service account {ctx.namespace}/{sa_name}: '
                                       f'serviceaccount "{sa_name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken", True)
        if not automount:
            return
        vols = spec.setdefault("volumes", [])
        if any(any(m.get("mountPath") == SA_MOUNT_PATH for m in c.get("volumeMounts") or [])
               for c in spec.get("containers") or []):
            return
        vol_name = "kube-api-access-" + random_string(ctx.server.rng, "bcdfghjklmnpqrstvwxz2456789", 5)
        vols.append({
            "name": vol_name,
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                               "fieldPath": "metadata.namespace"}}]}},
            ]},
        })
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            c.setdefault("volumeMounts", []).append({"name": vol_name, "readOnly": True, "mountPath": SA_MOUNT_PATH})


class DefaultTolerationSeconds:
    """Adds 300 s tolerations for the not-ready and unreachable NoExecute taints."""

    NAME = "DefaultTolerationSeconds"
    mutating = True

    def handles(self, ctx: AdmissionContext) -> bool:
        return ctx.verb == "create" and ctx.resource == "pods" and ctx.subresource == ""

    def admit(self, ctx: AdmissionContext, pod: dict) -> None:
        tols = pod.setdefault("spec", {}).setdefault("tolerations", [])
        for key, secs in (("node.kubernetes.io/not-ready", DEFAULT_NOT_READY_TOLERATION_SECONDS),
                          ("node.kubernetes.io/unreachable", DEFAULT_UNREACHABLE_TOLERATION_SECONDS)):
            if any(t.get("key") == key and t.get("effect") in ("NoExecute", "", None) or
                   (not t.get("key") and t.get("operator") == "Exists") for t in tols):
                continue
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": secs})


class Priority:
    """Resolves ``spec.priorityClassName`` into ``spec.priority`` (0 when there is no class)."""

    NAME = "Priority"
    mutating = True

    def handles(self, ctx: AdmissionContext) -> bool:
        if ctx.resource == "priorityclasses":
            return ctx.verb in ("create", "update") and ctx.subresource == ""
        return ctx.verb == "create" and ctx.resource == "pods" and ctx.subresource == ""

    @staticmethod
    def default_priority_class(ctx: AdmissionContext) -> dict | None:
        """getDefaultPriorityClass: the globalDefault class (the lowest value if several)."""
        best = None
        for pc in ctx.server.cache.get("priorityclasses", {}).values():
            if pc.get("globalDefault") and (best is None or pc.get("value", 0) < best.get("value", 0)):
                best = pc
        return best

    def admit(self, ctx: AdmissionContext, pod: dict) -> None:
        if ctx.resource == "priorityclasses":
            # only one PriorityClass may be the global default
            if pod.get("globalDefault"):
                dpc = self.default_priority_class(ctx)
                name = (pod.get("metadata") or {}).get("name", "")
                if dpc is not None and dpc["metadata"]["name"] != name:
                    raise errors.new_forbidden("priorityclasses.scheduling.k8s.io", name,
                                               f"PriorityClass {dpc['metadata']['name']} is already marked as "
                                               f"default. Only one default can exist")
            return
        spec = pod.setdefault("spec", {})
        name = spec.get("priorityClassName")
        if not name:
            dpc = self.default_priority_class(ctx)
            if dpc is None:
                spec["priority"] = 0
                return
            spec["priorityClassName"] = name = dpc["metadata"]["name"]
        pc = ctx.lookup("priorityclasses", None, name)
        if pc is None:
            raise errors.new_forbidden("pods", pod["metadata"].get("name", ""),
                                       f"no PriorityClass with name {name} was found")
        spec["priority"] = pc.get("value", 0)
        spec.setdefault("preemptionPolicy", pc.get("preemptionPolicy", "PreemptLowerPriority"))


class NodeRestriction:
    """Limits what a kubelet may change: only pods bound to its own node, only its own Node."""

    NAME = "NodeRestriction"
    mutating = False

    def handles(self, ctx: AdmissionContext) -> bool:
        return ctx.user.name.startswith("system:node:") and ctx.resource in ("pods", "nodes")

    def validate(self, ctx: AdmissionContext, obj: dict) -> None:
        node = ctx.user.name[len("system:node:"):]
        if ctx.resource == "nodes":
            name = (obj or {}).get("metadata", {}).get("name") or ctx.name
            if name != node:
                raise errors.new_forbidden("nodes", name, f'node "{node}" is not allowed to modify node "{name}"')
            return
        pod = obj if obj is not None else ctx.old
        if pod is None:
            return
        if ctx.verb == "create" and ctx.subresource == "":
            ann = pod.get("metadata", {}).get("annotations") or {}
            if "kubernetes.io/config.mirror" not in ann:
                raise errors.new_forbidden("pods", pod["metadata"].get("name", ""),
                                           f'pod does not have "kubernetes.io/config.mirror" annotation, '
                                           f'node "{node}" can only create mirror pods')
        bound = (ctx.old or pod).get("spec", {}).get("nodeName")
        if ctx.verb in ("update", "patch", "delete") and bound != node:
            raise errors.new_forbidden("pods", ctx.name or pod["metadata"].get("name", ""),
                                       f'node "{node}" can only update pod status for pods with spec.nodeName set '
                                       f'to itself')


def _group_resource(info) -> str:
    return info.resource if not info.group else f"{info.resource}.{info.group}"


def default_plugins() -> list:
    """Plugins in the order the API server runs them (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins):
    each acts in the mutating phase if it has ``admit``, in the validating phase if it has ``validate``. The
    webhooks and ResourceQuota come last, so that quota counts the object every other plugin has finished with."""
    from .admission_podsecurity import PodSecurity
    from .admission_resources import LimitRanger, ResourceQuotaAdmission
    from .webhook import MutatingAdmissionWebhook, ValidatingAdmissionWebhook

    return [NamespaceLifecycle(), LimitRanger(), ServiceAccountAdmission(), NodeRestriction(), PodSecurity(),
            Priority(), DefaultTolerationSeconds(), MutatingAdmissionWebhook(), ValidatingAdmissionWebhook(),
            ResourceQuotaAdmission()]

