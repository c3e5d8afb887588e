"""Mirrors: pkg/controller/job/{job_controller.go,backoff_utils.go,indexed_job_utils.go}.

A Job runs pods to completion. The controller keeps ``parallelism`` pods active (never more than the completions
still missing), counts the pods that succeeded and failed, and finishes the Job: ``SuccessCriteriaMet`` once
enough pods succeeded, ``FailureTarget`` once more pods failed than ``backoffLimit`` allows or the Job ran past
``activeDeadlineSeconds``; the terminal ``Complete`` or ``Failed`` condition follows once no pod is left running.
After a failure the replacement pod waits: 10 s, doubled for every failure since the last success, at most 10 min.
In ``Indexed`` mode each pod gets a completion index (annotation, label, hostname and ``JOB_COMPLETION_INDEX``).

Simplified here: pods are counted from the pod cache (upstream tracks them with the ``batch.kubernetes.io/
job-tracking`` finalizer and ``status.uncountedTerminatedPods`` so that deleted pods are not lost); no
podFailurePolicy, successPolicy or backoffLimitPerIndex.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy, is_pod_ready, parse_rfc3339, rfc3339, selector_matches
from .base import (Controller, ControllerExpectations, POD_CONTROLLER_UID_INDEX, RequeueError,
                   add_pod_controller_uid_indexer, controller_ref, get_controller_of, resolve_controller_ref)
from .replicaset import SLOW_START_INITIAL_BATCH_SIZE, slow_start_batch

DEFAULT_JOB_POD_FAILURE_BACKOFF_MS = 10 * 1000
MAX_JOB_POD_FAILURE_BACKOFF_MS = 10 * 60 * 1000
MAX_POD_CREATE_DELETE_PER_SYNC = 500
JOB_COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
JOB_COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def get_backoff_ms(failures_after_last_success: int) -> int:
    """backoff_utils.go: DefaultJobPodFailureBackOff * 2^(failures-1), capped at MaxJobPodFailureBackOff."""
    if failures_after_last_success <= 0:
        return 0
    d = DEFAULT_JOB_POD_FAILURE_BACKOFF_MS
    for _ in range(failures_after_last_success - 1):
        d *= 2
        if d >= MAX_JOB_POD_FAILURE_BACKOFF_MS:
            return MAX_JOB_POD_FAILURE_BACKOFF_MS
    return min(d, MAX_JOB_POD_FAILURE_BACKOFF_MS)


def _finish_time(pod: dict) -> int:
    """getFinishedTime: the latest container finish time, else the pod's Ready/creation time."""
    best = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or ():
        t = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if t:
            v = parse_rfc3339(t)
            best = v if best is None else max(best, v)
    if best is None:
        best = parse_rfc3339(pod["metadata"]["creationTimestamp"])
    return best


def new_backoff_record(pods: list[dict]) -> tuple[int, int | None]:
    """newBackoffRecord (from the pods alone): (failures after the last success, time of the last failure)."""
    finished = sorted((p for p in pods if p.get("status", {}).get("phase") in ("Succeeded", "Failed")),
                      key=lambda p: (_finish_time(p), p["metadata"]["name"]))
    failures, last = 0, None
    for p in finished:
        if p["status"]["phase"] == "Succeeded":
            failures, last = 0, None
        else:
            failures += 1
            last = _finish_time(p)
    return failures, last


def get_remaining_backoff_ms(failures: int, last_failure: int | None, now: int) -> int:
    """getRemainingTime: how long until a replacement pod may be created."""
    if failures == 0 or last_failure is None:
        return 0
    return max(0, last_failure + get_backoff_ms(failures) - now)


def format_indexes(indexes: set[int]) -> str:
    """succeededIndexes.String(): ranges like "0-2,4"."""
    out, run = [], []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def get_completion_index(pod: dict) -> int | None:
    v = (pod["metadata"].get("annotations") or {}).get(JOB_COMPLETION_INDEX_ANNOTATION)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def _cond(job: dict, ctype: str) -> dict | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype and c.get("status") == "True":
            return c
    return None


def is_job_finished(job: dict) -> bool:
    return _cond(job, "Complete") is not None or _cond(job, "Failed") is not None


def _new_condition(ctype: str, reason: str, message: str, now: str) -> dict:
    return {"type": ctype, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason,
            "message": message}


def _pod_active(p: dict) -> bool:
    return p.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get(
        "deletionTimestamp")


def _restarts(p: dict) -> int:
    st = p.get("status") or {}
    return sum(cs.get("restartCount", 0) for cs in (st.get("initContainerStatuses") or [])
               + (st.get("containerStatuses") or []))


class JobController(Controller):
    NAME = "job"
    RESOURCE = "jobs"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.job_informer = f.informer("jobs")
        self.pod_informer = f.informer("pods")
        add_pod_controller_uid_indexer(self.pod_informer)
        self.expectations = ControllerExpectations(self.loop)
        self.job_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self._job_deleted)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)

    def _job_deleted(self, job: dict) -> None:
        self.expectations.delete_expectations(f"{job['metadata']['namespace']}/{job['metadata']['name']}")

    def _owner_key(self, pod: dict) -> str | None:
        return resolve_controller_ref(self.job_informer, pod["metadata"]["namespace"], get_controller_of(pod), "Job")

    def add_pod(self, pod: dict) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def update_pod(self, old: dict, new: dict) -> None:
        key = self._owner_key(new)
        if key is None:
            return
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key)
        # upstream batches pod updates for a second (syncJobBatchPeriod); a failure is acted on at once
        self.queue.add(key)

    def delete_pod(self, pod: dict) -> None:
        key = self._owner_key(pod)
        if key is not None:
            if not pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key)
            self.queue.add(key)

    # -- sync -------------------------------------------------------------------------------------------------------
    def get_pods_for_job(self, job: dict) -> list[dict]:
        sel = job["spec"].get("selector")
        return [p for p in self.pod_informer.by_index(POD_CONTROLLER_UID_INDEX, job["metadata"]["uid"])
                if selector_matches(sel, p["metadata"].get("labels") or {})]

    def sync_handler(self, key: str) -> None:
        """syncJob."""
        job = self.job_informer.get(key)
        if job is None:
            self.expectations.delete_expectations(key)
            return
        if is_job_finished(job) or job["metadata"].get("deletionTimestamp"):
            return
        spec = job["spec"]
        now = self.loop.now
        now_s = rfc3339(now)
        pods = self.get_pods_for_job(job)
        active_pods = [p for p in pods if _pod_active(p)]
        terminating = sum(1 for p in pods if p["metadata"].get("deletionTimestamp")
                          and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"))
        indexed = spec.get("completionMode") == "Indexed"
        succeeded_pods = [p for p in pods if p.get("status", {}).get("phase") == "Succeeded"]
        failed_pods = [p for p in pods if p.get("status", {}).get("phase") == "Failed"]
        if indexed:
            succeeded_indexes = {i for i in (get_completion_index(p) for p in succeeded_pods)
                                 if i is not None and i < spec.get("completions", 0)}
            succeeded = len(succeeded_indexes)
        else:
            succeeded_indexes = set()
            succeeded = len(succeeded_pods)
        failed = len(failed_pods)
        status = deepcopy(job.get("status") or {})
        if not spec.get("suspend"):
            status.setdefault("startTime", now_s)
        conditions = status.setdefault("conditions", [])
        satisfied = self.expectations.satisfied_expectations(key)

        interim = next((c for c in conditions if c["type"] in ("SuccessCriteriaMet", "FailureTarget")
                        and c["status"] == "True"), None)
        finished_condition = None
        if interim is None:
            backoff_limit = spec.get("backoffLimit", 6)
            exceeds_backoff = failed > backoff_limit
            if spec.get("template", {}).get("spec", {}).get("restartPolicy") == "OnFailure":
                # pastBackoffLimitOnFailure: restarts of the active pods count as failures
                exceeds_backoff = exceeds_backoff or (backoff_limit == 0 and any(
                    _restarts(p) for p in active_pods)) or (backoff_limit > 0 and sum(
                        _restarts(p) for p in active_pods) >= backoff_limit)
            deadline = spec.get("activeDeadlineSeconds")
            past_deadline = False
            if deadline is not None and status.get("startTime") and not spec.get("suspend"):
                remaining = parse_rfc3339(status["startTime"]) + deadline * 1000 - now
                past_deadline = remaining <= 0
                if not past_deadline:
                    self.queue.add_after(key, remaining)
            if exceeds_backoff:
                interim = _new_condition("FailureTarget", "BackoffLimitExceeded",
                                         "Job has reached the specified backoff limit", now_s)
            elif past_deadline:
                interim = _new_condition("FailureTarget", "DeadlineExceeded",
                                         "Job was active longer than specified deadline", now_s)
            else:
                completions = spec.get("completions")
                if completions is None:
                    complete = succeeded > 0 and not active_pods
                else:
                    complete = succeeded >= completions
                if complete:
                    interim = _new_condition("SuccessCriteriaMet", "CompletionsReached",
                                             "Reached expected number of succeeded pods", now_s)
            if interim is not None:
                conditions.append(interim)
                if interim["type"] == "FailureTarget":
                    self.recorder.warning(job, interim["reason"], interim["message"])
        if interim is not None:
            # finishing: remove what is still running, then the terminal condition
            if active_pods and satisfied:
                self.delete_active_pods(job, key, active_pods)
            elif not active_pods and not terminating:
                ftype = "Complete" if interim["type"] == "SuccessCriteriaMet" else "Failed"
                finished_condition = _new_condition(ftype, interim["reason"], interim["message"], now_s)
                conditions.append(finished_condition)
                if ftype == "Complete":
                    status["completionTime"] = now_s
                    self.recorder.normal(job, "Completed", "Job completed")
        elif satisfied and spec.get("suspend"):
            if active_pods:  # a suspended Job keeps no pod running
                self.delete_active_pods(job, key, active_pods)
            elif not terminating:
                status.pop("startTime", None)  # the deadline clock stops: a suspended Job has no startTime
        elif satisfied:
            self.manage_job(job, key, active_pods, succeeded, succeeded_indexes, pods, now)
        if interim is None:
            self.update_suspended_condition(job, conditions, status, now_s)

        active = len(active_pods)
        new_status = {k: v for k, v in status.items() if k not in ("active", "ready", "terminating", "succeeded",
                                                                  "failed", "completedIndexes")}
        new_status.update({"active": active, "ready": sum(1 for p in active_pods if is_pod_ready(p)),
                           "terminating": terminating, "succeeded": succeeded, "failed": failed,
                           "uncountedTerminatedPods": {}})
        if indexed:
            new_status["completedIndexes"] = format_indexes(succeeded_indexes)
        new_status = {k: v for k, v in new_status.items()
                      if v or k in ("ready", "uncountedTerminatedPods", "terminating")}
        if new_status != (job.get("status") or {}):
            new = dict(job)
            new["metadata"] = dict(job["metadata"])
            new["status"] = new_status
            self.client.update_status("jobs", new)

    def update_suspended_condition(self, job: dict, conditions: list, status: dict, now_s: str) -> None:
        """The Suspended condition: True while spec.suspend is set; False (JobResumed) once it is cleared, which
        also restarts the activeDeadlineSeconds clock (status.startTime)."""
        cur = next((c for c in conditions if c["type"] == "Suspended"), None)
        if job["spec"].get("suspend"):
            if cur is None or cur["status"] != "True":
                new = {"type": "Suspended", "status": "True", "lastProbeTime": now_s, "lastTransitionTime": now_s,
                       "reason": "JobSuspended", "message": "Job suspended"}
                conditions[:] = [c for c in conditions if c["type"] != "Suspended"] + [new]
                self.recorder.normal(job, "Suspended", "Job suspended")
        elif cur is not None and cur["status"] == "True":
            cur.update({"status": "False", "lastProbeTime": now_s, "lastTransitionTime": now_s,
                        "reason": "JobResumed", "message": "Job resumed"})
            self.recorder.normal(job, "Resumed", "Job resumed")
            status["startTime"] = now_s

    def manage_job(self, job: dict, key: str, active_pods: list, succeeded: int, succeeded_indexes: set,
                   pods: list, now: int) -> None:
        """manageJob: create or delete pods towards the wanted number of active pods."""
        spec = job["spec"]
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        active = len(active_pods)
        if completions is None:
            want_active = active if succeeded > 0 else parallelism
        else:
            want_active = max(0, min(completions - succeeded, parallelism))
        rm = active - want_active
        if rm > 0:
            # the pods that are not yet running or ready go first
            victims = sorted(active_pods, key=lambda p: (bool(p.get("spec", {}).get("nodeName")),
                                                         p.get("status", {}).get("phase") == "Running",
                                                         is_pod_ready(p)))[:min(rm, MAX_POD_CREATE_DELETE_PER_SYNC)]
            self.delete_active_pods(job, key, victims)
            return
        diff = want_active - active
        if diff <= 0:
            return
        failures, last_failure = new_backoff_record(pods)
        remaining = get_remaining_backoff_ms(failures, last_failure, now)
        if remaining > 0:
            self.loop.emit(self.component, "job.backoff", f"jobs/{key}",
                           {"failures": failures, "remaining_ms": remaining})
            self.queue.add_after(key, remaining)
            return
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int | None] = [None] * diff
        if spec.get("completionMode") == "Indexed":
            taken = succeeded_indexes | {get_completion_index(p) for p in active_pods}
            free = [i for i in range(completions or 0) if i not in taken]
            indexes = free[:diff]
            diff = len(indexes)
        self.expectations.expect_creations(key, diff)
        ref = controller_ref(job)
        todo = list(indexes)

        def create():
            self.create_pod(job, ref, todo.pop(0))

        ok = slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, create)
        if ok < diff:
            self.expectations.lower_expectations(key, diff - ok, 0)
            raise RequeueError(f"created {ok} of {diff} pods")

    def create_pod(self, job: dict, ref: dict, index: int | None) -> dict:
        template = deepcopy(job["spec"]["template"])
        tmd = template.get("metadata") or {}
        name = job["metadata"]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": f"{name}-" if index is None else f"{name}-{index}-",
                            "namespace": job["metadata"]["namespace"], "labels": dict(tmd.get("labels") or {}),
                            "annotations": dict(tmd.get("annotations") or {}), "ownerReferences": [ref]},
               "spec": template.get("spec") or {}}
        if index is not None:
            # addCompletionIndexAnnotation, addCompletionIndexLabel, hostname, and the env variable
            pod["metadata"]["annotations"][JOB_COMPLETION_INDEX_ANNOTATION] = str(index)
            pod["metadata"]["labels"][JOB_COMPLETION_INDEX_ANNOTATION] = str(index)
            pod["spec"]["hostname"] = f"{name}-{index}"
            for c in pod["spec"].get("initContainers", []) + pod["spec"].get("containers", []):
                env = c.setdefault("env", [])
                if not any(e.get("name") == JOB_COMPLETION_INDEX_ENV for e in env):
                    env.append({"name": JOB_COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": f"metadata.labels['{JOB_COMPLETION_INDEX_ANNOTATION}']"}}})
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        try:
            created = self.client.create("pods", pod, namespace=job["metadata"]["namespace"])
        except errors.StatusError as e:
            self.recorder.warning(job, "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.normal(job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    def delete_active_pods(self, job: dict, key: str, pods: list[dict]) -> None:
        self.expectations.expect_deletions(key, len(pods))
        for p in pods:
            try:
                self.client.delete("pods", p["metadata"]["name"], namespace=p["metadata"]["namespace"])
            except errors.StatusError as e:
                self.expectations.deletion_observed(key)
                if e.code != 404:
                    raise
                continue
            self.recorder.normal(job, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}")
