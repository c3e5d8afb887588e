"""Mirrors: pkg/controller/controller_utils.go (ControllerExpectations, the pod-from-template helpers) and the
shape every controller in pkg/controller shares.

A controller is a loop: informer handlers turn events into *keys* ("namespace/name") on a rate-limited work queue,
and a worker takes one key at a time and runs ``sync_handler(key)``, which reads the desired state from the
informer caches, compares it with the actual state, and makes API calls to close the gap. The sync is
level-triggered: it never trusts the event that woke it, only the current state. When it fails, the key is put
back with exponential backoff.
"""

from __future__ import annotations

from ..api import errors
from ..client import RateLimitingQueue
from ..client.record import EventRecorder

EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000
POD_CONTROLLER_UID_INDEX = "podControllerUID"
ORPHAN_POD_INDEX_KEY = "_ORPHAN_POD"
LABEL_INDEX = "labels"


def orphan_pod_index_key_for_namespace(namespace: str) -> str:
    """OrphanPodIndexKeyForNamespace: the index value of the pods in ``namespace`` that have no controller."""
    return f"{ORPHAN_POD_INDEX_KEY}/{namespace}"


def add_pod_controller_uid_indexer(informer) -> None:
    """AddPodControllerUIDIndexer: index pods by their controller's UID; orphans under _ORPHAN_POD/<namespace>."""
    if POD_CONTROLLER_UID_INDEX in informer.indexers:
        return

    def index(pod: dict) -> list[str]:
        ref = get_controller_of(pod)
        return [ref["uid"]] if ref is not None else [orphan_pod_index_key_for_namespace(pod["metadata"]["namespace"])]

    informer.add_indexer(POD_CONTROLLER_UID_INDEX, index)


def add_label_indexer(informer) -> None:
    """Index objects by each "namespace/key=value" label pair, so a selector's candidates are found without a
    scan of the namespace (a lookup shortcut: the result is what a full list and filter would give)."""
    if LABEL_INDEX in informer.indexers:
        return
    informer.add_indexer(LABEL_INDEX, lambda o: [f"{o['metadata'].get('namespace', '')}/{k}={v}"
                                                 for k, v in (o["metadata"].get("labels") or {}).items()])


class RequeueError(Exception):
    """Raised by a sync handler that wants its key retried with backoff."""


class Controller:
    """Base class: a named work queue, a worker that calls :meth:`sync_handler`, and an event recorder."""

    NAME = "controller"

    def __init__(self, manager, client) -> None:
        self.manager = manager
        self.loop = manager.loop
        self.client = client
        self.component = f"kube-controller-manager/{self.NAME}"
        self.queue = RateLimitingQueue(self.loop, self.NAME, self.component, self.process_next_work_item)
        # the Event's source.component: "<name>-controller" unless the name already says it (the CCM's controllers)
        source = getattr(self, "EVENT_SOURCE", "") or (
            self.NAME if self.NAME.endswith("-controller") else f"{self.NAME}-controller")
        self.recorder = EventRecorder(client, source, enabled=manager.events)
        self.syncs = 0
        self.errors = 0
        self.last_key = None

    def enqueue(self, obj: dict) -> None:
        md = obj["metadata"]
        self.queue.add(f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"])

    def process_next_work_item(self, key) -> None:
        """processNextWorkItem: one reconcile of one key."""
        self.syncs += 1
        self.last_key = key
        ref = f"{self.RESOURCE}/{key}" if isinstance(key, str) else f"{key[1]}/{key[2]}"
        self.loop.emit(self.component, "reconcile", ref, {"controller": self.NAME})
        try:
            self.sync_handler(key)
        except (errors.StatusError, RequeueError) as e:
            self.errors += 1
            self.loop.emit(self.component, "reconcile.error", ref,
                           {"error": str(e), "requeues": self.queue.num_requeues(key) + 1})
            self.queue.add_rate_limited(key)
            return
        self.queue.forget(key)

    RESOURCE = ""

    def sync_handler(self, key: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class ControllerExpectations:
    """How many creations and deletions a controller is still waiting to see in its informer."""

    def __init__(self, loop) -> None:
        self.loop = loop
        self.store: dict[str, list] = {}  # key -> [add, del, timestamp]

    def satisfied_expectations(self, key: str) -> bool:
        e = self.store.get(key)
        if e is None:
            return True
        if e[0] <= 0 and e[1] <= 0:
            return True
        return self.loop.now - e[2] > EXPECTATIONS_TIMEOUT_MS

    def set_expectations(self, key: str, add: int, delete: int) -> None:
        self.store[key] = [add, delete, self.loop.now]

    def expect_creations(self, key: str, n: int) -> None:
        self.set_expectations(key, n, 0)

    def expect_deletions(self, key: str, n: int) -> None:
        self.set_expectations(key, 0, n)

    def lower_expectations(self, key: str, add: int, delete: int) -> None:
        e = self.store.get(key)
        if e is not None:
            e[0] -= add
            e[1] -= delete

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, 0, 1)

    def delete_expectations(self, key: str) -> None:
        self.store.pop(key, None)


def get_pod_from_template(template: dict, parent: dict, controller_ref: dict) -> dict:
    """GetPodFromTemplate: a new Pod for ``parent`` with generateName ``<parent>-``."""
    from ..api.objects import deepcopy

    tmd = template.get("metadata") or {}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"generateName": parent["metadata"]["name"] + "-",
                        "namespace": parent["metadata"]["namespace"],
                        "labels": dict(tmd.get("labels") or {}),
                        "ownerReferences": [controller_ref]},
           "spec": deepcopy(template.get("spec") or {})}
    if tmd.get("annotations"):
        pod["metadata"]["annotations"] = dict(tmd["annotations"])
    if tmd.get("finalizers"):
        pod["metadata"]["finalizers"] = list(tmd["finalizers"])
    return pod


def controller_ref(owner: dict) -> dict:
    md = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"], "uid": md["uid"],
            "controller": True, "blockOwnerDeletion": True}


def get_controller_of(obj: dict) -> dict | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def resolve_controller_ref(informer, namespace: str, ref: dict | None, kind: str) -> str | None:
    """resolveControllerRef: the key of the object of ``kind`` that ``ref`` (a controller ownerReference) names,
    if the informer holds it with the same UID (a different UID is a deleted-and-recreated namesake)."""
    if ref is None or ref.get("kind") != kind:
        return None
    key = f"{namespace}/{ref['name']}"
    obj = informer.get(key)
    return key if obj is not None and obj["metadata"]["uid"] == ref.get("uid") else None


def is_pod_active(pod: dict) -> bool:
    return (pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp"))
