"""Mirrors: pkg/controller/cronjob/{cronjob_controllerv2.go,utils.go} and the schedule semantics of
github.com/robfig/cron/v3 (parser.go ParseStandard, spec.go SpecSchedule.Next).

A CronJob creates a Job at each time its schedule names. The controller does not keep a timer per schedule: each
sync works out the most recent scheduled time that has not been run (``most_recent_schedule_time``), starts a Job
named ``<cronjob>-<scheduled time in minutes since the Unix epoch>`` (the name is the lock that stops a second Job
for the same time), and requeues itself for the next time plus 100 ms. Only the *latest* missed time is run;
``startingDeadlineSeconds`` bounds how late that may be, and more than 100 missed times earn a
``TooManyMissedTimes`` warning. ``concurrencyPolicy`` decides what happens while an earlier Job still runs
(Allow, Forbid: skip, Replace: delete it and start the new one), and the history limits delete old finished Jobs.
"""

from __future__ import annotations

import datetime as _dt

from ..api import errors
from ..api.cron import CronSchedule, parse_standard
from ..api.objects import EPOCH, deepcopy, parse_rfc3339, rfc3339
from .base import Controller, controller_ref, get_controller_of
from .job import is_job_finished

NEXT_SCHEDULE_DELTA_MS = 100
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
EPOCH_UNIX_S = int(EPOCH.timestamp())

def to_datetime(ms: int) -> _dt.datetime:
    return EPOCH + _dt.timedelta(milliseconds=ms)


def to_ms(t: _dt.datetime) -> int:
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000


def get_time_hash_in_minutes(scheduled_ms: int) -> int:
    """getTimeHashInMinutes: Unix seconds / 60."""
    return (EPOCH_UNIX_S * 1000 + scheduled_ms) // 1000 // 60


def get_job_name(cj: dict, scheduled_ms: int) -> str:
    return f"{cj['metadata']['name']}-{get_time_hash_in_minutes(scheduled_ms)}"


def most_recent_schedule_time(cj: dict, now_ms: int, sched: CronSchedule, include_starting_deadline: bool):
    """mostRecentScheduleTime: (earliest time considered, most recent unmet time or None, missed count)."""
    st = cj.get("status") or {}
    earliest = parse_rfc3339(st["lastScheduleTime"]) if st.get("lastScheduleTime") else \
        parse_rfc3339(cj["metadata"]["creationTimestamp"])
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_starting_deadline and deadline is not None:
        earliest = max(earliest, now_ms - deadline * 1000)
    t1 = sched.next(to_datetime(earliest))
    if t1 is None:
        return earliest, None, 0
    t2 = sched.next(t1)
    if now_ms < to_ms(t1):
        return earliest, None, 0
    if t2 is None or now_ms < to_ms(t2):
        return earliest, to_ms(t1), 1
    between = round((to_ms(t2) - to_ms(t1)) / 1000)
    if between < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    elapsed = (now_ms - to_ms(t1)) // 1000
    missed = elapsed // between + 1
    potential = t1 + _dt.timedelta(seconds=(missed - 2) * between)
    recent = None
    t = sched.next(potential)
    while t is not None and to_ms(t) <= now_ms:
        recent = to_ms(t)
        t = sched.next(t)
    return earliest, recent, missed


def next_schedule_time_duration(cj: dict, now_ms: int, sched: CronSchedule) -> int:
    """nextScheduleTimeDuration: ms until the next scheduled time, plus 100 ms."""
    earliest, recent, _ = most_recent_schedule_time(cj, now_ms, sched, False)
    base = recent if recent is not None else earliest
    nxt = sched.next(to_datetime(base))
    if nxt is None:
        return 365 * 86400 * 1000
    return to_ms(nxt) + NEXT_SCHEDULE_DELTA_MS - now_ms


def schedule_of(cj: dict) -> CronSchedule:
    tz = _dt.timezone.utc
    name = (cj.get("spec") or {}).get("timeZone")
    if name:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(name)
    return parse_standard(cj["spec"]["schedule"], tz)


class CronJobController(Controller):
    NAME = "cronjob"
    RESOURCE = "cronjobs"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.cj_informer = f.informer("cronjobs")
        self.job_informer = f.informer("jobs")
        self.cj_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), None)
        self.job_informer.add_event_handler(self._job_event, lambda o, n: self._job_event(n), self._job_event)

    def _job_event(self, job: dict) -> None:
        ref = get_controller_of(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata']['namespace']}/{ref['name']}")

    def jobs_for(self, cj: dict) -> list[dict]:
        uid = cj["metadata"]["uid"]
        return [j for j in self.job_informer.list_namespace(cj["metadata"]["namespace"])
                if (get_controller_of(j) or {}).get("uid") == uid]

    def sync_handler(self, key: str) -> None:
        """sync: syncCronJob, cleanupFinishedJobs, the status write and the requeue."""
        cj = self.cj_informer.get(key)
        if cj is None:
            return
        cj = deepcopy(cj)
        jobs = self.jobs_for(cj)
        requeue_ms, update = self.sync_cron_job(cj, jobs)
        if self.cleanup_finished_jobs(cj, jobs):
            update = True
        if update:
            new = dict(cj)
            new["metadata"] = dict(cj["metadata"])
            new["status"] = {k: v for k, v in (cj.get("status") or {}).items() if v}
            self.client.update_status("cronjobs", new)
        if requeue_ms is not None:
            # the next scheduled time is a timer, not pending work: settle() does not wait for it, run() fires it
            self.queue.add_after(key, requeue_ms, background=True)

    def sync_cron_job(self, cj: dict, jobs: list[dict]):
        now = self.loop.now
        status = cj.setdefault("status", {})
        active = status.setdefault("active", [])
        update = False
        children = set()
        for j in jobs:
            uid = j["metadata"]["uid"]
            children.add(uid)
            found = any(a.get("uid") == uid for a in active)
            finished = is_job_finished(j)
            if not found and not finished:
                self.recorder.warning(cj, "UnexpectedJob",
                                      f"Saw a job that the controller did not create or forgot: {j['metadata']['name']}")
            elif found and finished:
                ctype = next(c["type"] for c in j["status"]["conditions"]
                             if c["type"] in ("Complete", "Failed") and c["status"] == "True")
                active[:] = [a for a in active if a.get("uid") != uid]
                self.recorder.normal(cj, "SawCompletedJob",
                                     f"Saw completed job: {j['metadata']['name']}, condition: {ctype}")
                update = True
            ct = (j.get("status") or {}).get("completionTime")
            if ct and any(c["type"] == "Complete" and c["status"] == "True" for c in j["status"]["conditions"]):
                if not status.get("lastSuccessfulTime") or parse_rfc3339(ct) > parse_rfc3339(
                        status["lastSuccessfulTime"]):
                    status["lastSuccessfulTime"] = ct
                    update = True
        for a in list(active):
            if a.get("uid") not in children:
                try:
                    self.client.get("jobs", a["name"], namespace=a.get("namespace"))
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
                    self.recorder.normal(cj, "MissingJob", f"Active job went missing: {a['name']}")
                    active.remove(a)
                    update = True
        if cj["metadata"].get("deletionTimestamp"):
            return None, update
        if cj["spec"].get("suspend"):
            return None, update
        try:
            sched = schedule_of(cj)
        except Exception as e:  # an unparseable schedule or unknown time zone
            self.recorder.warning(cj, "UnparseableSchedule", f"unparseable schedule: {cj['spec'].get('schedule')!r}"
                                                             f" : {e}")
            return None, update
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, sched, True)
        except ValueError as e:
            self.recorder.warning(cj, "InvalidSchedule", f"invalid schedule: {cj['spec']['schedule']} : {e}")
            return None, update
        if missed > 100:
            self.recorder.warning(cj, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                                            ".spec.startingDeadlineSeconds or check clock skew")
        if scheduled is None:
            return next_schedule_time_duration(cj, now, sched), update
        deadline = cj["spec"].get("startingDeadlineSeconds")
        if deadline is not None and scheduled + deadline * 1000 < now:
            when = to_datetime(scheduled).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self.recorder.warning(cj, "MissSchedule", f"Missed scheduled time to start a job: {when}")
            return next_schedule_time_duration(cj, now, sched), update
        name = get_job_name(cj, scheduled)
        if any(a.get("name") == name for a in active) or status.get("lastScheduleTime") == rfc3339(scheduled):
            return next_schedule_time_duration(cj, now, sched), update
        policy = cj["spec"].get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self.recorder.normal(cj, "JobAlreadyActive", "Not starting job because prior execution is running "
                                                         "and concurrency policy is Forbid")
            return next_schedule_time_duration(cj, now, sched), update
        if policy == "Replace":
            for a in list(active):
                self.delete_job(cj, a)
                active.remove(a)
                update = True
        job = self.get_job_from_template(cj, scheduled)
        try:
            created = self.client.create("jobs", job, namespace=cj["metadata"]["namespace"])
        except errors.StatusError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                return next_schedule_time_duration(cj, now, sched), update
            self.recorder.warning(cj, "FailedCreate", f"Error creating job: {e}")
            raise
        self.loop.emit(self.component, "cronjob.start", f"cronjobs/{cj['metadata']['namespace']}/"
                                                        f"{cj['metadata']['name']}",
                       {"job": name, "scheduled": rfc3339(scheduled), "missed": missed})
        self.recorder.normal(cj, "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        active.append({"kind": "Job", "namespace": created["metadata"]["namespace"],
                       "name": created["metadata"]["name"], "uid": created["metadata"]["uid"],
                       "apiVersion": "batch/v1", "resourceVersion": created["metadata"].get("resourceVersion")})
        status["lastScheduleTime"] = rfc3339(scheduled)
        return next_schedule_time_duration(cj, now, sched), True

    def get_job_from_template(self, cj: dict, scheduled: int) -> dict:
        """getJobFromTemplate2."""
        jt = deepcopy(cj["spec"].get("jobTemplate") or {})
        jmd = jt.get("metadata") or {}
        tz = schedule_of(cj).tz
        annotations = dict(jmd.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = to_datetime(scheduled).astimezone(tz).isoformat().replace(
            "+00:00", "Z")
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": get_job_name(cj, scheduled), "namespace": cj["metadata"]["namespace"],
                             "labels": dict(jmd.get("labels") or {}), "annotations": annotations,
                             "ownerReferences": [controller_ref(cj)]},
                "spec": jt.get("spec") or {}}

    def delete_job(self, cj: dict, ref: dict) -> None:
        try:
            self.client.delete("jobs", ref["name"], namespace=ref.get("namespace"), propagation_policy="Background")
        except errors.StatusError as e:
            if e.code != 404:
                raise
            return
        self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {ref['name']}")

    def cleanup_finished_jobs(self, cj: dict, jobs: list[dict]) -> bool:
        """cleanupFinishedJobs: keep successfulJobsHistoryLimit / failedJobsHistoryLimit finished Jobs."""
        spec = cj["spec"]
        if spec.get("successfulJobsHistoryLimit") is None and spec.get("failedJobsHistoryLimit") is None:
            return False
        ok, failed = [], []
        for j in jobs:
            if j["metadata"].get("deletionTimestamp"):
                continue
            for c in (j.get("status") or {}).get("conditions") or ():
                if c["status"] == "True" and c["type"] == "Complete":
                    ok.append(j)
                elif c["status"] == "True" and c["type"] == "Failed":
                    failed.append(j)
        changed = False
        for group, limit in ((ok, spec.get("successfulJobsHistoryLimit")),
                             (failed, spec.get("failedJobsHistoryLimit"))):
            if limit is None or len(group) <= limit:
                continue
            group.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or j["metadata"]["creationTimestamp"],
                                      j["metadata"]["name"]))
            for j in group[:len(group) - limit]:
                self.delete_job(cj, {"name": j["metadata"]["name"], "namespace": j["metadata"]["namespace"]})
                changed = True
        return changed
