"""Mirrors: pkg/scheduler/backend/queue/scheduling_queue.go (PriorityQueue) and backoff arithmetic from
pkg/scheduler/apis/config/v1/defaults.go.

The scheduling queue holds pods that have no node yet, in three places:

- ``activeQ``: a heap ordered by the QueueSort plugin (PrioritySort: higher priority first, then the earlier
  arrival), from which the scheduler pops one pod per cycle;
- ``backoffQ``: pods that failed recently and wait out their backoff (1 s, doubling, at most 10 s);
- ``unschedulablePods``: pods that fit nowhere; a cluster event that could help (a node added or changed, a pod
  deleted) moves them back, and any pod left there for 5 minutes is flushed back anyway.

Which events can help is each plugin's ``EventsToRegister``: a pod rejected by NodeResourcesFit waits for an
assigned pod to be deleted or a node to be added or to grow; a label change on a node does nothing for it.
QueueingHints (per-event functions that look at the object) are simplified to "the event is registered by a
plugin that rejected the pod". PreEnqueue plugins (SchedulingGates) keep a pod out of activeQ altogether; it
waits in unschedulablePods, gated, until an update of the pod lets every PreEnqueue plugin pass.
"""

from __future__ import annotations

import functools
import heapq

from .framework import QueuedPodInfo, pod_priority

DEFAULT_POD_INITIAL_BACKOFF_MS = 1000
DEFAULT_POD_MAX_BACKOFF_MS = 10_000
DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_MS = 5 * 60 * 1000
FLUSH_BACKOFF_Q_MS = 1000
FLUSH_UNSCHEDULABLE_MS = 30_000


def pod_key(pod: dict) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


EVENT_UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"
"""The pseudo event of flushUnschedulablePodsLeftover: moves every (ungated) pod."""


def event_matches(registered: str, event: str) -> bool:
    """ClusterEvent.Match in the form "Resource/Action": "*" or "All" match anything, "Update" matches every
    "Update..." action, otherwise the action must be equal."""
    if registered in ("*", "*/All"):
        return True
    r_res, _, r_act = registered.partition("/")
    e_res, _, e_act = event.partition("/")
    if r_res not in ("*", e_res):
        return False
    return r_act == "All" or r_act == e_act or (r_act == "Update" and e_act.startswith("Update"))


def _strip(pod: dict) -> tuple:
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "generation", "managedFields")}
    return meta, pod.get("spec")


def is_pod_updated(old: dict, new: dict) -> bool:
    """isPodUpdated: a change other than resourceVersion, generation and status (a status write, such as
    the scheduler's own PodScheduled condition, does not make a pod schedulable)."""
    return _strip(old) != _strip(new)


def calculate_backoff_duration(attempts: int, initial_ms: int = DEFAULT_POD_INITIAL_BACKOFF_MS,
                               max_ms: int = DEFAULT_POD_MAX_BACKOFF_MS) -> int:
    """calculateBackoffDuration: initial doubled (attempts - 1) times, capped at max; 0 for no attempts."""
    if attempts == 0:
        return 0
    d = initial_ms
    for _ in range(1, attempts):
        if d > max_ms - d:
            return max_ms
        d += d
    return min(d, max_ms)


def _is_priority_sort(less) -> bool:
    from k8slab.scheduler.plugins.prioritysort import PrioritySort

    return getattr(less, "__func__", None) is PrioritySort.less and type(less.__self__) is PrioritySort


def _priority_sort_key(qp: QueuedPodInfo) -> tuple[int, int]:
    return -pod_priority(qp.pod), qp.timestamp


class SchedulingQueue:
    """PriorityQueue. ``pre_enqueue(pod) -> Status | None`` runs the PreEnqueue plugins; ``events(plugin) ->
    [event]`` gives a plugin's EventsToRegister."""

    def __init__(self, less, now, pre_enqueue=None, events=None,
                 initial_backoff_ms: int = DEFAULT_POD_INITIAL_BACKOFF_MS,
                 max_backoff_ms: int = DEFAULT_POD_MAX_BACKOFF_MS) -> None:
        self._less = less
        self._now = now
        self._pre_enqueue = pre_enqueue
        self._events = events
        self.initial_backoff_ms = initial_backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self._key = functools.cmp_to_key(lambda a, b: -1 if less(a, b) else (1 if less(b, a) else 0))
        if _is_priority_sort(less):
            # PrioritySort's Less as a tuple: higher priority, then earlier timestamp. The same order, compared
            # in C (spec.priority cannot change, and a pod's timestamp changes only while it is out of activeQ)
            self._key = _priority_sort_key
        self._seq = 0
        self.active: list = []  # heap of (sort key, seq, QueuedPodInfo)
        self.active_keys: dict[str, QueuedPodInfo] = {}
        self.backoff: list = []  # heap of (expiry, seq, QueuedPodInfo)
        self.backoff_keys: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self.moves = 0

    def __len__(self) -> int:
        return len(self.active_keys)

    def counts(self) -> dict[str, int]:
        return {"active": len(self.active_keys), "backoff": len(self.backoff_keys),
                "unschedulable": len(self.unschedulable)}

    def _push_active(self, qp: QueuedPodInfo) -> None:
        self._seq += 1
        k = pod_key(qp.pod)
        self.active_keys[k] = qp
        heapq.heappush(self.active, (self._key(qp), self._seq, k, qp))

    def add(self, pod: dict) -> None:
        k = pod_key(pod)
        if k in self.active_keys or k in self.backoff_keys or k in self.unschedulable or k in self.in_flight:
            self.update(pod)
            return
        qp = QueuedPodInfo(pod=pod, timestamp=self._now(), initial_attempt_timestamp=None)
        self._move_to_active(qp)

    def _run_pre_enqueue(self, qp: QueuedPodInfo) -> bool:
        """True if every PreEnqueue plugin lets the pod in; otherwise it is marked gated."""
        if self._pre_enqueue is None:
            qp.gating_plugin = ""
            return True
        status = self._pre_enqueue(qp.pod)
        if status is None or status.is_success():
            qp.gating_plugin = ""
            return True
        qp.gating_plugin = status.plugin or "PreEnqueue"
        qp.gating_message = status.message()
        return False

    def _move_to_active(self, qp: QueuedPodInfo) -> bool:
        """moveToActiveQ: PreEnqueue first; a gated pod goes to unschedulablePods instead."""
        if not self._run_pre_enqueue(qp):
            self.unschedulable[pod_key(qp.pod)] = qp
            return False
        self._push_active(qp)
        return True

    def gated(self) -> list[str]:
        return sorted(k for k, qp in self.unschedulable.items() if qp.gating_plugin)

    def update(self, pod: dict) -> None:
        k = pod_key(pod)
        for where in (self.active_keys, self.backoff_keys, self.unschedulable, self.in_flight):
            qp = where.get(k)
            if qp is not None:
                updated = is_pod_updated(qp.pod, pod)
                qp.pod = pod
                if where is self.unschedulable and updated:
                    # a changed pod may now fit (isPodUpdated); a gated one runs PreEnqueue again
                    del self.unschedulable[k]
                    if qp.gating_plugin:
                        if self._move_to_active(qp):
                            self.moves += 1
                    else:
                        self._requeue(qp)
                return
        self.add(pod)

    def delete(self, pod: dict) -> None:
        k = pod_key(pod)
        self.active_keys.pop(k, None)
        self.backoff_keys.pop(k, None)
        self.unschedulable.pop(k, None)
        self.in_flight.pop(k, None)

    def pop(self) -> QueuedPodInfo | None:
        while self.active:
            _, _, k, qp = heapq.heappop(self.active)
            if self.active_keys.get(k) is qp:
                del self.active_keys[k]
                qp.attempts += 1
                if qp.initial_attempt_timestamp is None:
                    qp.initial_attempt_timestamp = self._now()
                self.in_flight[k] = qp
                return qp
        return None

    def done(self, pod: dict) -> None:
        self.in_flight.pop(pod_key(pod), None)

    def backoff_expiry(self, qp: QueuedPodInfo) -> int:
        return qp.timestamp + calculate_backoff_duration(qp.attempts, self.initial_backoff_ms, self.max_backoff_ms)

    def add_unschedulable(self, qp: QueuedPodInfo, backoff_only: bool = False) -> None:
        """AddUnschedulableIfNotPresent: after a failed attempt."""
        k = pod_key(qp.pod)
        self.in_flight.pop(k, None)
        qp.timestamp = self._now()
        if backoff_only:
            self._push_backoff(qp)
        else:
            self.unschedulable[k] = qp

    def _push_backoff(self, qp: QueuedPodInfo) -> None:
        self._seq += 1
        k = pod_key(qp.pod)
        self.backoff_keys[k] = qp
        heapq.heappush(self.backoff, (self.backoff_expiry(qp), self._seq, k, qp))

    def _requeue(self, qp: QueuedPodInfo) -> None:
        if self.backoff_expiry(qp) > self._now():
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def pod_worth_requeuing(self, qp: QueuedPodInfo, event: str) -> bool:
        """isPodWorthRequeuing, with QueueingHints simplified to the plugins' EventsToRegister."""
        if qp.gating_plugin:
            return False  # only an update of the pod itself can lift a gate
        if event == EVENT_UNSCHEDULABLE_TIMEOUT:
            return True
        rejectors = qp.unschedulable_plugins | qp.pending_plugins
        if not rejectors or self._events is None:
            return True
        return any(event_matches(reg, event) for plugin in rejectors for reg in self._events(plugin))

    def move_all_to_active_or_backoff(self, event: str) -> int:
        """MoveAllToActiveOrBackoffQueue: a cluster event may have made unschedulable pods schedulable; only
        pods rejected by a plugin that registered for the event move."""
        moved = 0
        for k in sorted(self.unschedulable):
            qp = self.unschedulable[k]
            if not self.pod_worth_requeuing(qp, event):
                continue
            del self.unschedulable[k]
            self._requeue(qp)
            moved += 1
        self.moves += moved
        return moved

    def flush_backoff_completed(self) -> int:
        n = 0
        now = self._now()
        while self.backoff and self.backoff[0][0] <= now:
            _, _, k, qp = heapq.heappop(self.backoff)
            if self.backoff_keys.get(k) is qp:
                del self.backoff_keys[k]
                self._push_active(qp)
                n += 1
        return n

    def next_backoff_expiry(self) -> int | None:
        while self.backoff and self.backoff_keys.get(self.backoff[0][2]) is not self.backoff[0][3]:
            heapq.heappop(self.backoff)
        return self.backoff[0][0] if self.backoff else None

    def flush_unschedulable_left_over(self) -> int:
        """flushUnschedulablePodsLeftover: pods waiting longer than podMaxInUnschedulablePodsDuration (5 min)
        go back to activeQ or backoffQ, whatever events happened (gated pods stay)."""
        now = self._now()
        n = 0
        for k in sorted(self.unschedulable):
            qp = self.unschedulable[k]
            if qp.gating_plugin:
                continue
            if now - qp.timestamp > DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_MS:
                del self.unschedulable[k]
                self._requeue(qp)
                n += 1
        return n

    def pending_pods(self) -> dict[str, list[str]]:
        return {"activeQ": sorted(self.active_keys), "backoffQ": sorted(self.backoff_keys),
                "unschedulablePods": sorted(self.unschedulable), "gated": self.gated()}
