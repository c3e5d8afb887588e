"""Mirrors: pkg/controller/disruption/disruption.go (DisruptionController: getExpectedPodCount, countHealthyPods,
updatePdbStatus, buildDisruptedPodMap, the controller finders)

The disruption controller keeps each PodDisruptionBudget's status current, so that whoever evicts pods (the
eviction API, the scheduler when it preempts) can check the budget without counting pods themselves:

* ``expectedPods``: with ``minAvailable`` as a number, the pods the selector matches; with ``maxUnavailable`` or a
  percentage, the sum of ``spec.replicas`` of the pods' controllers (ReplicaSet, Deployment, StatefulSet,
  ReplicationController);
* ``desiredHealthy``: ``minAvailable`` (a percentage of expectedPods rounded up), or ``expectedPods -
  maxUnavailable``;
* ``currentHealthy``: matching pods that are Ready and not being deleted (nor recently disrupted);
* ``disruptionsAllowed = currentHealthy - desiredHealthy``, never below 0, and 0 while expectedPods is 0, so a
  budget whose pods have not appeared yet is safe.

The ``DisruptionAllowed`` condition says the same in words (SufficientPods / InsufficientPods).
"""

from __future__ import annotations

import math

from ..api import errors
from ..api.objects import deepcopy, is_pod_ready, rfc3339, selector_matches
from .base import Controller, get_controller_of

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"


def get_scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1])
        return math.ceil(pct * total / 100) if round_up else (pct * total) // 100
    return int(value)


class CalculateError(Exception):
    pass


class DisruptionController(Controller):
    NAME = "disruption"
    RESOURCE = "poddisruptionbudgets"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.pdb_informer = f.informer("poddisruptionbudgets")
        self.pod_informer = f.informer("pods")
        self.rs_informer = f.informer("replicasets")
        self.deploy_informer = f.informer("deployments")
        self.sts_informer = f.informer("statefulsets")
        self.pdb_informer.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new), None)
        self.pod_informer.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new),
                                            self._pod_changed)

    def _pod_changed(self, pod: dict) -> None:
        """getPdbForPod: enqueue the budgets whose selector matches the pod."""
        labels = pod["metadata"].get("labels") or {}
        if not labels:
            return
        for pdb in self.pdb_informer.list_namespace(pod["metadata"]["namespace"]):
            sel = pdb.get("spec", {}).get("selector")
            if sel and (sel.get("matchLabels") or sel.get("matchExpressions")) and selector_matches(sel, labels):
                self.enqueue(pdb)

    def _pods_for(self, pdb: dict) -> list[dict]:
        sel = pdb.get("spec", {}).get("selector")
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            return []  # a nil or empty selector matches no pods
        return [p for p in self.pod_informer.list_namespace(pdb["metadata"]["namespace"])
                if selector_matches(sel, p["metadata"].get("labels") or {})]

    def _controller_scale(self, pod: dict) -> tuple[str, int]:
        """The pod's controller (uid, spec.replicas), walking ReplicaSet -> Deployment as the finders do."""
        ref = get_controller_of(pod)
        if ref is None:
            raise CalculateError(f"found no controllers for pod {pod['metadata']['name']!r}")
        ns = pod["metadata"]["namespace"]
        if ref.get("kind") == "ReplicaSet":
            rs = self.rs_informer.get(f"{ns}/{ref['name']}")
            if rs is None:
                raise CalculateError(f"found no controllers for pod {pod['metadata']['name']!r}")
            owner = get_controller_of(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                d = self.deploy_informer.get(f"{ns}/{owner['name']}")
                if d is not None:
                    return d["metadata"]["uid"], int(d["spec"].get("replicas", 1))
            return rs["metadata"]["uid"], int(rs["spec"].get("replicas", 1))
        if ref.get("kind") == "StatefulSet":
            sts = self.sts_informer.get(f"{ns}/{ref['name']}")
            if sts is not None:
                return sts["metadata"]["uid"], int(sts["spec"].get("replicas", 1))
        raise CalculateError(f"found no controllers for pod {pod['metadata']['name']!r}")

    def get_expected_pod_count(self, pdb: dict, pods: list[dict]) -> tuple[int, int]:
        """(expectedCount, desiredHealthy)."""
        spec = pdb.get("spec", {})
        if spec.get("maxUnavailable") is not None:
            expected = self._expected_scale(pods)
            max_unavailable = get_scaled_value(spec["maxUnavailable"], expected, True)
            return expected, max(0, expected - max_unavailable)
        min_available = spec.get("minAvailable")
        if min_available is None:
            return len(pods), 0
        if isinstance(min_available, int):
            return len(pods), min_available
        expected = self._expected_scale(pods)
        return expected, get_scaled_value(min_available, expected, True)

    def _expected_scale(self, pods: list[dict]) -> int:
        scales: dict[str, int] = {}
        for p in pods:
            uid, replicas = self._controller_scale(p)
            scales[uid] = replicas
        return sum(scales.values())

    @staticmethod
    def count_healthy_pods(pods: list[dict], disrupted: dict) -> int:
        return sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")
                   and p["metadata"]["name"] not in disrupted and is_pod_ready(p))

    def sync_handler(self, key: str) -> None:
        pdb = self.pdb_informer.get(key)
        if pdb is None:
            return
        pods = self._pods_for(pdb)
        if not pods:
            self.recorder.normal(pdb, "NoPods", "No matching pods found")
        try:
            expected, desired = self.get_expected_pod_count(pdb, pods)
        except CalculateError as err:
            self.recorder.warning(pdb, "CalculateExpectedPodCountFailed",
                                  f"Failed to calculate the number of expected pods: {err}")
            self._write(pdb, 0, 0, 0, 0, SYNC_FAILED, str(err))
            return
        disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
        healthy = self.count_healthy_pods(pods, disrupted)
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        self._write(pdb, healthy, desired, expected, allowed,
                    SUFFICIENT_PODS if allowed > 0 else INSUFFICIENT_PODS, "")

    def _write(self, pdb: dict, healthy: int, desired: int, expected: int, allowed: int, reason: str,
               message: str) -> None:
        status = pdb.get("status") or {}
        cond_status = "True" if allowed > 0 else "False"
        old_cond = next((c for c in status.get("conditions") or [] if c.get("type") == DISRUPTION_ALLOWED), None)
        gen = pdb["metadata"].get("generation", 1)
        if (status.get("currentHealthy") == healthy and status.get("desiredHealthy") == desired
                and status.get("expectedPods") == expected and status.get("disruptionsAllowed") == allowed
                and status.get("observedGeneration") == gen and old_cond is not None
                and old_cond.get("reason") == reason):
            return
        new = deepcopy(pdb)
        st = new.setdefault("status", {})
        st.update({"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                   "disruptionsAllowed": allowed, "observedGeneration": gen})
        cond = {"type": DISRUPTION_ALLOWED, "status": cond_status, "reason": reason, "message": message,
                "observedGeneration": gen,
                "lastTransitionTime": (old_cond or {}).get("lastTransitionTime") if old_cond is not None
                and old_cond.get("status") == cond_status else rfc3339(self.loop.now)}
        st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != DISRUPTION_ALLOWED] + [cond]
        try:
            self.client.update_status(self.RESOURCE, new)
        except errors.StatusError as err:
            if err.code == 404:
                return
            raise
