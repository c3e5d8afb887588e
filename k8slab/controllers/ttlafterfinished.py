"""Mirrors: pkg/controller/ttlafterfinished/ttlafterfinished_controller.go.

A finished Job (Complete or Failed) with ``spec.ttlSecondsAfterFinished`` is deleted that many seconds after it
finished, with foreground cascading deletion so that its pods go first. Until then its key waits in the queue.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import parse_rfc3339
from .base import Controller


def job_finish_time(job: dict) -> int | None:
    """jobFinishTime: the lastTransitionTime of the Complete or Failed condition."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            t = c.get("lastTransitionTime")
            return parse_rfc3339(t) if t else None
    return None


def time_left(job: dict, now_ms: int) -> int | None:
    """timeLeft: ms until the Job expires (<= 0: expired), or None if it has no TTL or has not finished."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    finish = job_finish_time(job)
    if ttl is None or finish is None:
        return None
    return finish + ttl * 1000 - now_ms


class TTLAfterFinishedController(Controller):
    NAME = "ttl-after-finished"
    RESOURCE = "jobs"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.job_informer = manager.factory.informer("jobs")
        self.job_informer.add_event_handler(self._maybe_enqueue, lambda o, n: self._maybe_enqueue(n), None)

    def _maybe_enqueue(self, job: dict) -> None:
        if job["metadata"].get("deletionTimestamp") is None and time_left(job, self.loop.now) is not None:
            self.enqueue(job)

    def sync_handler(self, key: str) -> None:
        """processJob: delete the Job if its TTL has expired, else look again when it will have."""
        job = self.job_informer.get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        left = time_left(job, self.loop.now)
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        # re-read the Job from the API server: its TTL may have changed since the cache saw it
        ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
        fresh = self.client.get("jobs", name, namespace=ns)
        left = time_left(fresh, self.loop.now)
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            self.client.delete("jobs", name, namespace=ns, propagation_policy="Foreground")
        except errors.StatusError as e:
            if e.code != 404:
                raise
