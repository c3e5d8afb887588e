"""Mirrors: pkg/controller/namespace/namespace_controller.go, pkg/controller/namespace/deletion/
namespaced_resources_deleter.go and namespace/deletion/status_condition_utils.go.

Deleting a namespace is a two-phase job. The API server only marks it: ``metadata.deletionTimestamp`` and
``status.phase: Terminating``; the ``kubernetes`` finalizer in ``spec.finalizers`` (put there at creation) keeps the
object in etcd. The namespace controller then discovers every namespaced resource type the server serves, deletes
every object of each type in the namespace, lists again to see what is left, and writes what it found into five
status conditions. While content remains it returns ``ResourcesRemainingError`` and requeues the namespace after
half the estimate. When nothing is left it removes its finalizer through the ``finalize`` subresource, and the API
server deletes the namespace for good.
"""

from __future__ import annotations

from ..api import errors, resources
from ..api.objects import deepcopy, parse_rfc3339 as parse_time, rfc3339
from .base import Controller

FINALIZER_KUBERNETES = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15  # finalizerEstimateSeconds: the wait assumed for finalizers on remaining items

# status_condition_utils.go
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
OK_MESSAGES = {
    "NamespaceDeletionDiscoveryFailure": "All resources successfully discovered",
    "NamespaceDeletionGroupVersionParsingFailure": "All legacy kube types successfully parsed",
    "NamespaceDeletionContentFailure": "All content successfully deleted, may be waiting on finalization",
    "NamespaceContentRemaining": "All content successfully removed",
    "NamespaceFinalizersRemaining": "All content-preserving finalizers finished",
}
OK_REASONS = {
    "NamespaceDeletionDiscoveryFailure": "ResourcesDiscovered",
    "NamespaceDeletionGroupVersionParsingFailure": "ParsedGroupVersions",
    "NamespaceDeletionContentFailure": "ContentDeleted",
    "NamespaceContentRemaining": "ContentRemoved",
    "NamespaceFinalizersRemaining": "ContentHasNoFinalizers",
}


class ResourcesRemainingError(Exception):
    """Some content is still being removed; try again after about ``estimate`` seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


def gvr_string(info) -> str:
    """schema.GroupVersionResource.String(): ``apps/v1, Resource=deployments``."""
    return f"{info.group}/{info.version}, Resource={info.resource}"


class NamespaceConditionUpdater:
    """namespaceConditionUpdater: turns what the deleter saw into the namespace's status conditions."""

    def __init__(self, now: str) -> None:
        self.now = now
        self.new_conditions: list[dict] = []
        self.delete_content_errors: list[str] = []

    def _cond(self, type_: str, reason: str, message: str) -> dict:
        return {"type": type_, "status": "True", "lastTransitionTime": self.now, "reason": reason,
                "message": message}

    def process_discover_resources_err(self, err: str) -> None:
        self.new_conditions.append(self._cond("NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", err))

    def process_content_totals(self, gvr_to_num_remaining: dict, finalizers_to_num_remaining: dict) -> None:
        if gvr_to_num_remaining:
            parts = sorted(f"{r}.{g} has {n} resource instances"
                           for (g, r), n in gvr_to_num_remaining.items() if n)
            self.new_conditions.append(self._cond("NamespaceContentRemaining", "SomeResourcesRemain",
                                                  "Some resources are remaining: " + ", ".join(parts)))
        if finalizers_to_num_remaining:
            parts = sorted(f"{f} in {n} resource instances" for f, n in finalizers_to_num_remaining.items() if n)
            self.new_conditions.append(self._cond("NamespaceFinalizersRemaining", "SomeFinalizersRemain",
                                                  "Some content in the namespace has finalizers remaining: "
                                                  + ", ".join(parts)))

    def process_delete_content_err(self, err: str) -> None:
        self.delete_content_errors.append(err)

    def update(self, status: dict) -> bool:
        """Update: write the conditions into ``status``; True when something changed."""
        if not any(c["type"] == "NamespaceDeletionContentFailure" for c in self.new_conditions) \
                and self.delete_content_errors:
            msgs = sorted(self.delete_content_errors)
            self.new_conditions.append(self._cond(
                "NamespaceDeletionContentFailure", "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}"))
        return update_conditions(status, self.new_conditions, self.now)


def update_conditions(status: dict, new_conditions: list[dict], now: str) -> bool:
    changed = False
    conds = status.setdefault("conditions", [])
    for type_ in CONDITION_TYPES:
        new = next((c for c in new_conditions if c["type"] == type_), None)
        if new is None:
            new = {"type": type_, "status": "False", "lastTransitionTime": now, "reason": OK_REASONS[type_],
                   "message": OK_MESSAGES[type_]}
        old = next((c for c in conds if c["type"] == type_), None)
        if old is None:
            conds.append(dict(new))
            changed = True
        elif (old["status"], old.get("message"), old.get("reason")) != (new["status"], new["message"],
                                                                        new["reason"]):
            if old["status"] != new["status"]:
                old["lastTransitionTime"] = now
            old.update(status=new["status"], reason=new["reason"], message=new["message"])
            changed = True
    return changed


class NamespaceController(Controller):
    NAME = "namespace"
    RESOURCE = "namespaces"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.ns_informer = manager.factory.informer("namespaces")
        self.ns_informer.add_event_handler(self._enqueue_if_deleting, lambda o, n: self._enqueue_if_deleting(n))
        # discovery: the built-in types, plus the custom ones of every Established CRD
        self.crd_informer = manager.factory.informer("customresourcedefinitions")
        self.finalizer_token = FINALIZER_KUBERNETES

    def _enqueue_if_deleting(self, ns: dict) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.enqueue(ns)

    def sync_handler(self, key: str) -> None:
        """syncNamespaceFromKey: run the deleter; a ResourcesRemainingError requeues after estimate/2 seconds."""
        try:
            self.delete(key)
        except ResourcesRemainingError as e:
            self.loop.emit(self.component, "namespace.content-remaining", f"namespaces/{key}",
                           {"estimate": e.estimate, "requeue_after_s": e.estimate / 2})
            self.queue.add_after(key, e.estimate * 1000 // 2)

    # -- namespacedResourcesDeleter ----------------------------------------------------------------------------------
    def delete(self, name: str) -> None:
        try:
            ns = self.client.get("namespaces", name)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return
        ns = self.update_namespace_status_func(ns)
        if not ns["spec"].get("finalizers"):  # finalized already
            self.delete_namespace(ns)
            return
        estimate = self.delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemainingError(estimate)
        try:
            ns = self.finalize_namespace(ns)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise
        if ns is not None and not ns["spec"].get("finalizers") and not ns["metadata"].get("finalizers"):
            self.delete_namespace(ns)  # usually gone already: the finalize update deleted it (404 is fine)

    def update_namespace_status_func(self, ns: dict) -> dict:
        if ns.get("status", {}).get("phase") == "Terminating":
            return ns
        new = deepcopy(ns)
        new.setdefault("status", {})["phase"] = "Terminating"
        return self.client.update_status("namespaces", new)

    def delete_namespace(self, ns: dict) -> None:
        try:
            self.client.delete("namespaces", ns["metadata"]["name"])
        except errors.StatusError as e:
            if e.code != 404:
                raise

    def finalize_namespace(self, ns: dict) -> dict:
        """Remove our token from spec.finalizers through the ``finalize`` subresource."""
        new = deepcopy(ns)
        new["spec"]["finalizers"] = sorted({f for f in ns["spec"].get("finalizers") or ()
                                            if f != self.finalizer_token})
        return self.client.update("namespaces", new, subresource="finalize")

    def discover_resources(self) -> list:
        """ServerPreferredNamespacedResources filtered to those that support delete: the built-in namespaced
        types and the namespaced types of the Established CRDs."""
        found = [i for i in resources.BUILTIN if i.namespaced]
        for crd in self.crd_informer.list():
            spec = crd.get("spec") or {}
            established = any(c.get("type") == "Established" and c.get("status") == "True"
                              for c in (crd.get("status") or {}).get("conditions") or ())
            if established and spec.get("scope") == "Namespaced":
                try:
                    found.append(resources.for_group_resource(spec["group"], spec["names"]["plural"]))
                except errors.StatusError:
                    continue
        return sorted(found, key=lambda i: (i.group, i.resource))

    def delete_all_content(self, ns: dict) -> int:
        """deleteAllContent: delete every object of every namespaced type; returns the estimate in seconds."""
        name = ns["metadata"]["name"]
        deleted_at = parse_time(ns["metadata"]["deletionTimestamp"])
        estimate = 0
        updater = NamespaceConditionUpdater(rfc3339(self.loop.now))
        gvr_remaining: dict = {}
        fin_remaining: dict = {}
        for info in self.discover_resources():
            try:
                est, n, fins = self.delete_all_content_for_group_version_resource(info, name, deleted_at)
            except errors.StatusError as e:
                updater.process_delete_content_err(str(e))
                continue
            except _Unexpected as e:
                updater.process_delete_content_err(str(e))
                est, n, fins = e.estimate, e.remaining, {}
            estimate = max(estimate, est)
            if n:
                gvr_remaining[(info.group, info.resource)] = n
            for f, k in fins.items():
                fin_remaining[f] = fin_remaining.get(f, 0) + k
        updater.process_content_totals(gvr_remaining, fin_remaining)
        cur = self.client.get("namespaces", name)
        new = deepcopy(cur)
        if updater.update(new.setdefault("status", {})):
            self.client.update_status("namespaces", new)
        if updater.delete_content_errors:
            raise errors.new_internal_error("; ".join(sorted(updater.delete_content_errors)))
        return estimate

    def estimate_graceful_termination(self, namespace: str) -> int:
        """estimateGracefulTermination: the longest grace period of the pods still running."""
        estimate = 0
        for pod in self.client.list("pods", namespace=namespace)["items"]:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = pod["spec"].get("terminationGracePeriodSeconds")
            if grace is not None and grace > estimate:
                estimate = grace
        return estimate

    def delete_all_content_for_group_version_resource(self, info, namespace: str, deleted_at: int):
        """Returns (estimate seconds, number remaining, finalizer -> number remaining)."""
        estimate = 0
        if info.resource == "pods":
            estimate = self.estimate_graceful_termination(namespace)
            # the namespace has been terminating for longer than the estimate: do not wait any more
            if self.loop.now - deleted_at >= estimate * 1000:
                estimate = 0
        try:
            self.delete_each_item(info, namespace)
            items = self.client.list(info.resource, namespace=namespace)["items"]
        except errors.StatusError as e:
            if e.code in (404, 405):  # not served (any more): nothing of this type to delete
                return estimate, 0, {}
            raise
        if not items:
            return estimate, 0, {}
        fins: dict = {}
        for item in items:
            for f in item["metadata"].get("finalizers") or ():
                fins[f] = fins.get(f, 0) + 1
        if estimate:
            return estimate, len(items), fins
        if fins:
            return FINALIZER_ESTIMATE_SECONDS, len(items), fins
        raise _Unexpected(f"unexpected items still remain in namespace: {namespace} for gvr: {gvr_string(info)}",
                          estimate, len(items))

    def delete_each_item(self, info, namespace: str) -> None:
        """deleteEachItem (the model's API server has no deletecollection): list, then delete each, Background."""
        for item in self.client.list(info.resource, namespace=namespace)["items"]:
            if item["metadata"].get("deletionTimestamp") and info.resource != "pods":
                continue
            try:
                self.client.delete(info.resource, item["metadata"]["name"], namespace=namespace,
                                   propagation_policy="Background")
            except errors.StatusError as e:
                if e.code != 404:
                    raise


class _Unexpected(Exception):
    def __init__(self, msg: str, estimate: int, remaining: int) -> None:
        super().__init__(msg)
        self.estimate, self.remaining = estimate, remaining
