"""CronJob controller: the cron parser and Next (robfig/cron semantics, checked against the calendar),
mostRecentScheduleTime (utils_test.go shapes) and behaviour through the Cluster."""

import datetime as dt

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.controllers.cronjob import (EPOCH_UNIX_S, get_job_name, most_recent_schedule_time, parse_standard,
                                        to_ms)

UTC = dt.timezone.utc


def _t(s):
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize("spec,start,want", [
    ("*/15 * * * *", "2012-07-09 14:45", "2012-07-09 15:00"),
    ("*/15 * * * *", "2012-07-09 23:45", "2012-07-10 00:00"),
    ("0 0 9 Apr-Oct ?", "2012-07-09 23:35", "2012-08-09 00:00"),
    ("0 0 29 Feb *", "2026-01-01 00:00", "2028-02-29 00:00"),  # leap day
    ("0 0 * * 5", "2026-01-01 00:00", "2026-01-02 00:00"),  # 2026-01-02 is a Friday
    ("0 0 13 * 5", "2026-01-03 00:00", "2026-01-09 00:00"),  # neither day field is "*": either may match
    ("0 0 13 * *", "2026-01-03 00:00", "2026-01-13 00:00"),
    ("30 9-17/4 * * mon-fri", "2026-01-02 17:31", "2026-01-05 09:30"),  # Friday evening -> Monday
    ("@hourly", "2026-01-01 10:00", "2026-01-01 11:00"),
    ("@weekly", "2026-01-01 10:00", "2026-01-04 00:00"),  # Sunday
    ("@yearly", "2026-03-01 00:00", "2027-01-01 00:00"),
    ("5 4 * * sun", "2026-01-04 04:05", "2026-01-11 04:05"),  # strictly after
])
def test_next(spec, start, want):
    assert parse_standard(spec).next(_t(start)) == _t(want)


@pytest.mark.parametrize("spec,msg", [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_parse_errors(spec, msg):
    with pytest.raises(ValueError, match=msg.replace("*", r"\*").replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        parse_standard(spec)


def _cj(created, last=None, deadline=None):
    cj = {"metadata": {"name": "cj", "creationTimestamp": created}, "spec": {}, "status": {}}
    if last:
        cj["status"]["lastScheduleTime"] = last
    if deadline is not None:
        cj["spec"]["startingDeadlineSeconds"] = deadline
    return cj


def _ms(s):
    return to_ms(_t(s))


def test_most_recent_schedule_time():
    from k8slab.api.objects import rfc3339
    hourly = parse_standard("0 * * * *")
    created = rfc3339(_ms("2026-01-01 10:30"))
    # nothing due yet
    assert most_recent_schedule_time(_cj(created), _ms("2026-01-01 10:59"), hourly, True)[1] is None
    # one due
    _, recent, missed = most_recent_schedule_time(_cj(created), _ms("2026-01-01 11:10"), hourly, True)
    assert recent == _ms("2026-01-01 11:00") and missed == 1
    # several missed: only the most recent is returned
    _, recent, missed = most_recent_schedule_time(_cj(created), _ms("2026-01-01 15:10"), hourly, True)
    assert recent == _ms("2026-01-01 15:00") and missed == 5
    # more than 100 missed
    _, recent, missed = most_recent_schedule_time(_cj(created), _ms("2026-01-07 15:10"), hourly, True)
    assert missed > 100 and recent == _ms("2026-01-07 15:00")
    # startingDeadlineSeconds narrows the window: 15:00 is more than 5 minutes ago
    _, recent, _ = most_recent_schedule_time(_cj(created, deadline=300), _ms("2026-01-01 15:10"), hourly, True)
    assert recent is None


def test_job_name_is_minutes_since_unix_epoch():
    assert get_job_name({"metadata": {"name": "hello"}}, 0) == f"hello-{EPOCH_UNIX_S // 60}"
    assert get_job_name({"metadata": {"name": "hello"}}, 90_000) == f"hello-{EPOCH_UNIX_S // 60 + 1}"


CJ = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: c, image: busybox, command: ["sh", "-c", "sleep 5"]}
"""


def _reasons(c):
    return [e["reason"] for e in c.get("events") if e["involvedObject"]["kind"] == "CronJob"]


def test_runs_each_minute_names_jobs_and_keeps_history():
    c = Cluster(nodes=1, seed=0)
    c.apply(CJ)
    c.run(seconds=330)
    names = sorted(c.get("jobs").names)
    base = EPOCH_UNIX_S // 60
    assert names == [f"tick-{base + m}" for m in (3, 4, 5)]  # successfulJobsHistoryLimit 3 of 5 runs
    st = c.get("cronjob", "tick")["status"]
    assert st["lastScheduleTime"] == "2026-01-01T00:05:00Z" and "active" not in st
    assert _reasons(c).count("SuccessfulCreate") == 5 and "SawCompletedJob" in _reasons(c)
    job = c.get("job", f"tick-{base + 5}")
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2026-01-01T00:05:00Z"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"


@pytest.mark.parametrize("policy,jobs_alive,reason", [("Allow", 3, None), ("Forbid", 1, "JobAlreadyActive"),
                                                       ("Replace", 1, "SuccessfulDelete")])
def test_concurrency_policy(policy, jobs_alive, reason):
    c = Cluster(nodes=1, seed=1)
    c.apply(CJ.replace("sleep 5", "sleep 3600").replace("  jobTemplate:", f"  concurrencyPolicy: {policy}\n"
                                                                          "  jobTemplate:"))
    c.run(seconds=200)
    alive = [j for j in c.get("jobs") if not j["metadata"].get("deletionTimestamp")]
    assert len(alive) == jobs_alive
    assert len(c.get("cronjob", "tick")["status"]["active"]) == jobs_alive
    if reason:
        assert reason in _reasons(c)
    if policy == "Replace":
        assert alive[0]["metadata"]["name"] == f"tick-{EPOCH_UNIX_S // 60 + 3}"  # the newest one


def test_suspend_missed_schedules_and_too_many_missed():
    c = Cluster(nodes=1, seed=2)
    c.apply(CJ.replace("  jobTemplate:", "  suspend: true\n  jobTemplate:"))
    c.run(seconds=101 * 60)
    assert c.get("jobs").names == []
    c.admin.patch("cronjobs", "tick", {"spec": {"suspend": False}}, namespace="default")
    c.run(seconds=20)
    # only the most recent missed time runs, and more than 100 missed times are reported
    assert len(c.get("jobs")) == 1 and "TooManyMissedTimes" in _reasons(c)


def test_starting_deadline_skips_a_late_start():
    c = Cluster(nodes=1, seed=3)
    c.apply(CJ.replace("  jobTemplate:", "  suspend: true\n  startingDeadlineSeconds: 10\n  jobTemplate:"))
    c.run(until=160_000)  # 2 min 40 s after the cluster started: the 2-minute run is 40 s late
    c.admin.patch("cronjobs", "tick", {"spec": {"suspend": False}}, namespace="default")
    c.run(until=165_000)
    assert c.get("jobs").names == []
    c.run(until=185_000)  # the 3-minute run starts on time
    assert c.get("jobs").names == [f"tick-{EPOCH_UNIX_S // 60 + 3}"]


def test_bad_schedule_rejected_with_field_path():
    c = Cluster(nodes=1, seed=4)
    with pytest.raises(StatusError) as e:
        c.apply(CJ.replace('"*/1 * * * *"', '"61 * * * *"'))
    assert e.value.code == 422
    assert "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61" in str(e.value)
    assert c.get("cronjobs").names == []


def test_settle_does_not_wait_for_the_next_schedule():
    c = Cluster(nodes=1, seed=5)
    c.apply(CJ.replace("sleep 5", "sleep 1"))
    c.settle()  # returns: the next run is a timer, not pending work
    assert c.now < 60_000 and c.get("jobs").names == []
    c.run(seconds=70)
    assert len(c.get("jobs")) == 1


def _brute_next(s, t, limit_days=800):
    """Every minute after ``t`` in order (days that cannot match are skipped whole)."""
    t = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    for _ in range(limit_days):
        if t.month in s.months and s.day_matches(t):
            day = t.date()
            while t.date() == day:
                if t.minute in s.minutes and t.hour in s.hours:
                    return t
                t += dt.timedelta(minutes=1)
        else:
            t = (t + dt.timedelta(days=1)).replace(hour=0, minute=0)
    return None


def test_next_matches_a_minute_by_minute_search():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    def field(lo, hi):
        single = st.integers(lo, hi).map(str)
        rng = st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(lambda p: f"{min(p)}-{max(p)}")
        step = st.tuples(st.sampled_from(["*", str(lo)]), st.integers(1, 7)).map(lambda p: f"{p[0]}/{p[1]}")
        return st.one_of(st.just("*"), single, rng, step, st.lists(single, min_size=1, max_size=3).map(",".join))

    spec = st.tuples(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)).map(" ".join)
    start = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC))

    @settings(max_examples=40, deadline=None)
    @given(spec, start)
    def check(text, t):
        s = parse_standard(text)
        assert s.next(t) == _brute_next(s, t)

    check()
