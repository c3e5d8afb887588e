"""Mirrors: pkg/controller/podgc/gc_controller.go (gcTerminated, gcOrphaned, gcUnscheduledTerminating,
markFailedAndDeletePodWithCondition).

The pod garbage collector cleans up pods nobody else will: every 20 s it deletes terminated pods beyond
``--terminated-pod-gc-threshold`` (12500), pods that are being deleted but were never scheduled, and *orphaned* pods,
bound to a Node that no longer exists. An orphan's node must stay missing for a 40 s quarantine and be confirmed
missing by a live GET before the pod is marked Failed with the condition ``DisruptionTarget``
(reason ``DeletionByPodGC``) and force-deleted: with the node gone, no kubelet will ever confirm it stopped.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import parse_rfc3339, rfc3339
from .base import Controller

GC_CHECK_PERIOD_MS = 20_000
QUARANTINE_TIME_MS = 40_000
TERMINATED_POD_THRESHOLD = 12_500


class PodGCController(Controller):
    NAME = "podgc"
    RESOURCE = "pods"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.pod_informer = manager.factory.informer("pods")
        self.node_informer = manager.factory.informer("nodes")
        self.node_queue: dict[str, int] = {}  # node name -> when it was first seen missing
        self.terminated_pod_threshold = TERMINATED_POD_THRESHOLD
        self.deleted: list[tuple[int, str, str]] = []  # (time, pod key, why)
        self.loop.call_later(GC_CHECK_PERIOD_MS, self._tick, component=self.component, label="podgc",
                             background=True)

    def _tick(self) -> None:
        if not self.manager.paused and self.pod_informer.has_synced:
            try:
                self.gc()
            except errors.StatusError as e:
                self.loop.emit(self.component, "reconcile.error", "pods", {"error": str(e)})
        self.loop.call_later(GC_CHECK_PERIOD_MS, self._tick, component=self.component, label="podgc",
                             background=True)

    def sync_handler(self, key) -> None:  # periodic only
        return None

    def gc(self) -> None:
        pods = self.pod_informer.list()  # only the pods acted on are put in (namespace, name) order
        if self.terminated_pod_threshold > 0:
            self.gc_terminated(pods)
        self.gc_orphaned(pods)
        self.gc_unscheduled_terminating(pods)

    def gc_terminated(self, pods: list[dict]) -> None:
        terminated = [p for p in pods if p.get("status", {}).get("phase") in ("Succeeded", "Failed")]
        excess = len(terminated) - self.terminated_pod_threshold
        if excess <= 0:
            return
        terminated.sort(key=lambda p: (parse_rfc3339(p["metadata"]["creationTimestamp"]), _ns_name(p)))
        for pod in terminated[:excess]:
            self._delete(pod, "terminated pods over the threshold")

    def gc_orphaned(self, pods: list[dict]) -> None:
        existing = {n["metadata"]["name"] for n in self.node_informer.list()}
        now = self.loop.now
        for pod in pods:
            node = pod["spec"].get("nodeName")
            if node and node not in existing:
                self.node_queue.setdefault(node, now)
        deleted_nodes = set()
        for node, since in sorted(self.node_queue.items()):
            if node in existing:
                del self.node_queue[node]
                continue
            if now - since < QUARANTINE_TIME_MS:
                continue
            try:
                self.client.get("nodes", node)
                del self.node_queue[node]  # it exists after all (the informer was behind)
                continue
            except errors.StatusError as e:
                if e.code != 404:
                    raise
            deleted_nodes.add(node)
            del self.node_queue[node]
        if not deleted_nodes:
            return
        for pod in sorted((p for p in pods if p["spec"].get("nodeName") in deleted_nodes), key=_ns_name):
            self.mark_failed_and_delete(pod, "DeletionByPodGC", "PodGC: node no longer exists")

    def gc_unscheduled_terminating(self, pods: list[dict]) -> None:
        doomed = [p for p in pods if p["metadata"].get("deletionTimestamp") and not p["spec"].get("nodeName")]
        for pod in sorted(doomed, key=_ns_name):
            self._delete(pod, "unscheduled and terminating")

    def mark_failed_and_delete(self, pod: dict, reason: str, message: str) -> None:
        md = pod["metadata"]
        if pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            conds = [c for c in pod.get("status", {}).get("conditions") or () if c.get("type") != "DisruptionTarget"]
            conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": rfc3339(self.loop.now), "reason": reason, "message": message})
            try:
                self.client.patch("pods", md["name"], {"status": {"phase": "Failed", "conditions": conds}},
                                  namespace=md["namespace"], subresource="status")
            except errors.StatusError as e:
                if e.code == 404:
                    return
                raise
        self._delete(pod, message)

    def _delete(self, pod: dict, why: str) -> None:
        md = pod["metadata"]
        try:
            self.client.delete("pods", md["name"], namespace=md["namespace"], grace_period_seconds=0)
        except errors.StatusError as e:
            if e.code != 404:
                raise
            return
        self.deleted.append((self.loop.now, f"{md['namespace']}/{md['name']}", why))
        self.loop.emit(self.component, "pod.gc", f"pods/{md['namespace']}/{md['name']}", {"why": why})


def _ns_name(pod: dict) -> tuple[str, str]:
    md = pod["metadata"]
    return md["namespace"], md["name"]
