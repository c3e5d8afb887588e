"""Mirrors: pkg/controller/tainteviction/taint_eviction.go (processPodOnNode, getMinTolerationTime,
addConditionAndDeletePod), pkg/controller/tainteviction/timed_workers.go and
staging/src/k8s.io/component-helpers/scheduling/corev1/helpers.go (GetMatchingTolerations).

The taint-eviction controller (the "taint manager", split out of the node lifecycle controller in v1.29) deletes
pods from nodes with NoExecute taints they do not tolerate. A pod that tolerates every such taint stays, but if
any of its matching tolerations has ``tolerationSeconds``, the smallest of them starts a timer: when it fires the
pod gets the ``DisruptionTarget`` condition (reason ``DeletionByTaintManager``) and is deleted. Every pod carries
300 s tolerations for ``not-ready`` and ``unreachable`` from the DefaultTolerationSeconds admission plugin, which
is why pods leave a dead node about five minutes after it is tainted. If the taint goes away first, the timer is
cancelled.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import rfc3339
from .base import Controller


def toleration_tolerates_taint(tol: dict, taint: dict) -> bool:
    """Toleration.ToleratesTaint."""
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("key") and tol["key"] != taint.get("key"):
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (tol.get("value") or "") == (taint.get("value") or "")
    return False


def get_matching_tolerations(taints: list[dict], tolerations: list[dict]) -> tuple[bool, list[dict]]:
    """GetMatchingTolerations: (all taints tolerated, the tolerations that matched)."""
    if not taints:
        return True, []
    if not tolerations:
        return False, []
    result = []
    for taint in taints:
        matched = False
        for tol in tolerations:
            if toleration_tolerates_taint(tol, taint):
                matched = True
                result.append(tol)
        if not matched:
            return False, []
    return True, result


def get_min_toleration_time(tolerations: list[dict]) -> int:
    """getMinTolerationTime in ms: -1 when no toleration limits the time (the pod may stay forever)."""
    min_t = -1
    if not tolerations:
        return 0
    for tol in tolerations:
        secs = tol.get("tolerationSeconds")
        if secs is not None:
            ms = max(0, int(secs)) * 1000
            if ms == 0:
                return 0
            if min_t < 0 or ms < min_t:
                min_t = ms
    return min_t


def get_no_execute_taints(taints) -> list[dict]:
    return [t for t in taints or () if t.get("effect") == "NoExecute"]


class TaintEvictionController(Controller):
    NAME = "taint-eviction-controller"
    RESOURCE = "pods"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.pod_informer = f.informer("pods")
        self.node_informer = f.informer("nodes")
        self.pod_informer.add_event_handler(self._pod_changed, self._pod_updated, self._pod_deleted)
        self.node_informer.add_event_handler(self._node_changed, self._node_updated, None)
        self.taint_eviction_queue: dict[str, object] = {}  # "ns/name" -> Timer (TimedWorkerQueue)
        self.created_at: dict[str, int] = {}
        self.evicted: list[tuple[int, str, str]] = []  # (time, pod key, node)

    def _pod_changed(self, pod: dict) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.queue.add(("pod", "pods", pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"]))

    def _pod_updated(self, old: dict, new: dict) -> None:
        """handlePodUpdate: only a change of node or tolerations (or a deletion starting) matters."""
        o, n = old.get("spec") or {}, new.get("spec") or {}
        if o.get("nodeName") == n.get("nodeName") and o.get("tolerations") == n.get("tolerations") and \
                bool(old["metadata"].get("deletionTimestamp")) == bool(new["metadata"].get("deletionTimestamp")):
            return
        self._pod_changed(new)

    def _pod_deleted(self, pod: dict) -> None:
        self.cancel_work(pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"], emit=False)

    def _node_changed(self, node: dict) -> None:
        if get_no_execute_taints(node.get("spec", {}).get("taints")):
            self.queue.add(("node", "nodes", node["metadata"]["name"]))

    def _node_updated(self, old: dict, new: dict) -> None:
        if get_no_execute_taints(old.get("spec", {}).get("taints")) != \
                get_no_execute_taints(new.get("spec", {}).get("taints")):
            self.queue.add(("node", "nodes", new["metadata"]["name"]))

    def sync_handler(self, item) -> None:
        kind, _, key = item
        if kind == "pod":
            pod = self.pod_informer.get(key)
            if pod is None:
                self.cancel_work(key, emit=False)
                return
            node = self.node_informer.get(pod["spec"].get("nodeName") or "")
            taints = get_no_execute_taints((node or {}).get("spec", {}).get("taints"))
            self.process_pod_on_node(key, pod, taints)
            return
        node = self.node_informer.get(key)
        taints = get_no_execute_taints((node or {}).get("spec", {}).get("taints")) if node else []
        for pod in sorted(self.pod_informer.list(), key=lambda p: (p["metadata"]["namespace"],
                                                                     p["metadata"]["name"])):
            if pod["spec"].get("nodeName") == key:
                self.process_pod_on_node(pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"], pod,
                                         taints)

    def process_pod_on_node(self, key: str, pod: dict, taints: list[dict]) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self.cancel_work(key, emit=False)
            return  # already being deleted (e.g. evicted, waiting for a kubelet that is gone)
        if not taints:
            self.cancel_work(key)
            return
        all_tolerated, used = get_matching_tolerations(taints, pod["spec"].get("tolerations") or [])
        if not all_tolerated:
            self.cancel_work(key)
            self.add_work(key, 0, pod)
            return
        min_time = get_min_toleration_time(used)
        if min_time < 0:
            self.cancel_work(key)
            return
        now = self.loop.now
        start = now
        trigger = start + min_time
        if key in self.taint_eviction_queue:
            start = self.created_at[key]
            if start + min_time < trigger:
                return  # the eviction already scheduled is earlier: keep it
            self.cancel_work(key)
        self.add_work(key, trigger - now, pod, created_at=start)

    def add_work(self, key: str, delay_ms: int, pod: dict, created_at: int | None = None) -> None:
        if key in self.taint_eviction_queue:
            return
        self.created_at[key] = self.loop.now if created_at is None else created_at
        self.taint_eviction_queue[key] = self.loop.call_later(
            delay_ms, self.delete_pod_handler, key, component=self.component,
            label=f"taint eviction {key}", background=False)
        self.loop.emit(self.component, "eviction.scheduled", f"pods/{key}",
                       {"at_ms": self.loop.now + delay_ms, "node": pod["spec"].get("nodeName")})

    def cancel_work(self, key: str, emit: bool = True) -> None:
        t = self.taint_eviction_queue.pop(key, None)
        self.created_at.pop(key, None)
        if t is not None:
            t.cancel()
            if emit:
                pod = self.pod_informer.get(key)
                if pod is not None:
                    self.recorder.normal(pod, "TaintManagerEviction", f"Cancelling deletion of Pod {key}")
                self.loop.emit(self.component, "eviction.cancelled", f"pods/{key}", {})

    def delete_pod_handler(self, key: str) -> None:
        """deletePodHandler: add the DisruptionTarget condition, then delete the pod."""
        self.taint_eviction_queue.pop(key, None)
        self.created_at.pop(key, None)
        pod = self.pod_informer.get(key)
        if pod is None:
            return
        self.recorder.normal(pod, "TaintManagerEviction", f"Marking for deletion Pod {key}")
        ns, name = key.split("/", 1)
        try:
            conds = [c for c in (pod.get("status") or {}).get("conditions") or ()
                     if c.get("type") != "DisruptionTarget"]
            conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": rfc3339(self.loop.now), "reason": "DeletionByTaintManager",
                          "message": "Taint manager: deleting due to NoExecute taint"})
            self.client.patch("pods", name, {"status": {"conditions": conds}}, namespace=ns, subresource="status")
            self.client.delete("pods", name, namespace=ns)
        except errors.StatusError as e:
            if e.code == 404:
                return
            self.loop.emit(self.component, "reconcile.error", f"pods/{key}", {"error": str(e)})
            self.queue.add_rate_limited(("pod", "pods", key))
            return
        self.evicted.append((self.loop.now, key, pod["spec"].get("nodeName")))
        self.loop.emit(self.component, "eviction", f"pods/{key}", {"node": pod["spec"].get("nodeName")})
