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
DEPENDENT_RESOURCES = ("replicasets", "pods", "endpointslices", "controllerrevisions")
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
            inf.add_event_handler(lambda o, r=r: self._add(r, o), lambda old, new, r=r: self._update(r, old, new),
                                  lambda o, r=r: self._delete(r, o))

    @staticmethod
    def _key(obj: dict) -> str:
        md = obj["metadata"]
        return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]

    def _add(self, resource: str, obj: dict) -> None:
        uid = obj["metadata"]["uid"]
        self.uids[uid] = (resource, self._key(obj))
        for ref in obj["metadata"].get("ownerReferences") or ():
            self.dependents.setdefault(ref["uid"], set()).add((resource, self._key(obj)))
            if ref["uid"] not in self.uids:
                self.queue.add(("dependent", resource, self._key(obj)))
        if obj["metadata"].get("deletionTimestamp"):
            self.queue.add(("owner", resource, self._key(obj)))

    def _update(self, resource: str, old: dict, new: dict) -> None:
        if old["metadata"].get("ownerReferences") != new["metadata"].get("ownerReferences"):
            for ref in old["metadata"].get("ownerReferences") or ():
                self.dependents.get(ref["uid"], set()).discard((resource, self._key(old)))
        self._add(resource, new)

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
            owner = self._get(*owner_res) if owner_res else None
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
