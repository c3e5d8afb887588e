"""Mirrors: pkg/controller/garbagecollector/garbagecollector.go (attemptToDeleteItem, processDeletingDependentsItem,
orphanDependents) and graph_builder.go; staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
(deletionFinalizersForGarbageCollection).

Objects point to their owners through ``metadata.ownerReferences`` (a Pod to its ReplicaSet, a ReplicaSet to its
Deployment, an EndpointSlice to its Service). When an owner is deleted, the garbage collector deletes the
dependents whose owners are all gone (*background* cascading deletion, what ``kubectl delete`` does by default).
With *foreground* deletion the owner waits, marked with the ``foregroundDeletion`` finalizer, until its blocking
dependents are gone; with *orphan* deletion the dependents are kept and their ownerReferences removed.
"""

from __future__ import annotations

from ..api import errors
from .base import Controller

# The resources whose objects the model's controllers give owners to, and the kinds that own them.
DEPENDENT_RESOURCES = ("replicasets", "pods", "endpointslices", "controllerrevisions", "configmaps", "secrets")
OWNER_KINDS = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Service": "services",
               "DaemonSet": "daemonsets", "StatefulSet": "statefulsets", "Job": "jobs", "CronJob": "cronjobs",
               "Node": "nodes"}


class GarbageCollector(Controller):
    NAME = "garbagecollector"
    RESOURCE = "uid"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.informers = {}
        for r in DEPENDENT_RESOURCES + tuple(sorted(set(OWNER_KINDS.values()))):
            try:
                self.informers[r] = f.informer(r)
            except errors.StatusError:
                continue
        self.uids: dict[str, tuple[str, str]] = {}  # uid -> (resource, key), the graph's nodes
        self.dependents: dict[str, set[tuple[str, str]]] = {}  # owner uid -> dependents
        for r, inf in self.informers.items():
            self._watch(r, inf)
        # the graph builder watches every resource discovery reports, custom resources included
        self.crd_informer = f.informer("customresourcedefinitions")
        self.crd_informer.add_event_handler(self._crd, lambda old, new: self._crd(new))

    def _watch(self, r: str, inf) -> None:
        inf.add_event_handler(lambda o, r=r: self._add(r, o), lambda old, new, r=r: self._update(r, old, new),
                              lambda o, r=r: self._delete(r, o))

    def _crd(self, crd: dict) -> None:
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in (crd.get("status") or {}).get("conditions") or ())
        plural = crd["spec"]["names"]["plural"]
        if not established or plural in self.informers:
            return
        try:
            inf = self.informers[plural] = self.manager.factory.informer(plural)
        except errors.StatusError:
            return
        self._watch(plural, inf)
        if self.crd_informer.has_synced:
            inf.start()

    @staticmethod
    def _key(obj: dict) -> str:
        md = obj["metadata"]
        return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]

    def _add(self, resource: str, obj: dict, refs_known: bool = False) -> None:
        """Put the object in the graph. ``refs_known``: its ownerReferences are already there (an update that did
        not change them), so only the checks that enqueue are made."""
        md = obj["metadata"]
        key = f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]
        node = (resource, key)
        self.uids[md["uid"]] = node
        for ref in md.get("ownerReferences") or ():
            if not refs_known:
                self.dependents.setdefault(ref["uid"], set()).add(node)
            if ref["uid"] not in self.uids:
                self.queue.add(("dependent", resource, key))
        if md.get("deletionTimestamp"):
            self.queue.add(("owner", resource, key))

    def _update(self, resource: str, old: dict, new: dict) -> None:
        same = old["metadata"].get("ownerReferences") == new["metadata"].get("ownerReferences") and \
            old["metadata"]["uid"] == new["metadata"]["uid"]
        if not same:
            for ref in old["metadata"].get("ownerReferences") or ():
                self.dependents.get(ref["uid"], set()).discard((resource, self._key(old)))
        self._add(resource, new, refs_known=same)

    def _delete(self, resource: str, obj: dict) -> None:
        uid = obj["metadata"]["uid"]
        self.uids.pop(uid, None)
        for ref in obj["metadata"].get("ownerReferences") or ():
            self.dependents.get(ref["uid"], set()).discard((resource, self._key(obj)))
        for dep in sorted(self.dependents.get(uid, ())):
            self.queue.add(("dependent",) + dep)
        # an owner waiting in foreground deletion re-checks when a dependent goes away
        for ref in obj["metadata"].get("ownerReferences") or ():
            owner = self.uids.get(ref["uid"])
            if owner is not None:
                self.queue.add(("owner",) + owner)

    def _get(self, resource: str, key: str) -> dict | None:
        inf = self.informers.get(resource)
        return inf.get(key) if inf is not None else None

    def sync_handler(self, item) -> None:
        kind, resource, key = item
        obj = self._get(resource, key)
        if obj is None:
            return
        if kind == "owner":
            self.process_deleting_owner(resource, obj)
        else:
            self.attempt_to_delete_item(resource, obj)

    def attempt_to_delete_item(self, resource: str, obj: dict) -> None:
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs or obj["metadata"].get("deletionTimestamp"):
            return
        dangling, waiting, solid = [], [], []
        for ref in refs:
            owner_res = self.uids.get(ref["uid"])
            owner = self._get(*owner_res) if owner_res else self._live_owner(obj, ref)
            if owner is None:
                dangling.append(ref)
            elif "foregroundDeletion" in (owner["metadata"].get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                keep = [r for r in refs if r in solid]
                md = obj["metadata"]
                self.client.patch(resource, md["name"], {"metadata": {"ownerReferences": keep or None}},
                                  namespace=md.get("namespace"))
            return
        md = obj["metadata"]
        policy = "Foreground" if waiting and any(r.get("blockOwnerDeletion") for r in waiting) else "Background"
        try:
            self.client.delete(resource, md["name"], namespace=md.get("namespace"), propagation_policy=policy)
        except errors.StatusError as e:
            if e.code != 404:
                raise

    def _live_owner(self, obj: dict, ref: dict) -> dict | None:
        """isDangling: an owner not in the graph is looked up with a live GET (by its apiVersion and kind) before
        the dependent is treated as orphaned; a different UID under the same name means the owner is gone."""
        from ..api import resources

        try:
            info = resources.for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        except errors.StatusError:
            return {"metadata": {}}  # an owner kind discovery does not know: never treated as gone
        try:
            owner = self.client.get(info.resource, ref["name"],
                                    namespace=obj["metadata"].get("namespace") if info.namespaced else None)
        except errors.StatusError as e:
            if e.code == 404:
                return None
            raise
        return owner if owner["metadata"]["uid"] == ref["uid"] else None

    def process_deleting_owner(self, resource: str, owner: dict) -> None:
        """Foreground deletion: delete dependents, remove the finalizer when none blocks any more."""
        fins = owner["metadata"].get("finalizers") or []
        uid = owner["metadata"]["uid"]
        deps = sorted(self.dependents.get(uid, ()))
        if "orphan" in fins:
            for dres, dkey in deps:
                d = self._get(dres, dkey)
                if d is None:
                    continue
                keep = [r for r in d["metadata"].get("ownerReferences") or () if r["uid"] != uid]
                self.client.patch(dres, d["metadata"]["name"], {"metadata": {"ownerReferences": keep or None}},
                                  namespace=d["metadata"].get("namespace"))
            self._remove_finalizer(resource, owner, "orphan")
            return
        if "foregroundDeletion" not in fins:
            return
        blocking = []
        for dres, dkey in deps:
            d = self._get(dres, dkey)
            if d is None:
                continue
            if any(r["uid"] == uid and r.get("blockOwnerDeletion") for r in d["metadata"].get("ownerReferences") or ()):
                blocking.append(d)
            if not d["metadata"].get("deletionTimestamp"):
                try:
                    self.client.delete(dres, d["metadata"]["name"], namespace=d["metadata"].get("namespace"),
                                       propagation_policy="Foreground")
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
        if not blocking:
            self._remove_finalizer(resource, owner, "foregroundDeletion")

    def _remove_finalizer(self, resource: str, obj: dict, name: str) -> None:
        md = obj["metadata"]
        fins = [f for f in md.get("finalizers") or () if f != name]
        self.client.patch(resource, md["name"], {"metadata": {"finalizers": fins or None}},
                          namespace=md.get("namespace"))
