"""Job and TTL-after-finished controllers: upstream helper cases (backoff_utils_test.go, indexed_job_utils_test.go
shapes) and behaviour through the Cluster (completions and parallelism, backoff between failures, backoffLimit,
activeDeadlineSeconds, Indexed mode, ttlSecondsAfterFinished, generated selector)."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.controllers.job import format_indexes, get_backoff_ms, get_remaining_backoff_ms

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "sleep 5"]}
"""


@pytest.mark.parametrize("failures,want_s", [(0, 0), (1, 10), (2, 20), (3, 40), (6, 320), (7, 600), (30, 600)])
def test_pod_failure_backoff_doubles_to_ten_minutes(failures, want_s):
    assert get_backoff_ms(failures) == want_s * 1000


def test_remaining_backoff():
    assert get_remaining_backoff_ms(2, 100_000, 105_000) == 15_000
    assert get_remaining_backoff_ms(2, 100_000, 130_000) == 0
    assert get_remaining_backoff_ms(0, None, 5) == 0


@pytest.mark.parametrize("idx,want", [(set(), ""), ({0}, "0"), ({0, 1, 2}, "0-2"), ({0, 1, 2, 4, 6, 7}, "0-2,4,6-7")])
def test_format_completed_indexes(idx, want):
    assert format_indexes(idx) == want


def _conds(job):
    return [(c["type"], c.get("reason")) for c in job["status"].get("conditions", [])]


def _job_pods(c, name):
    return [p for p in c.apiserver.cache["pods"].values()
            if (p["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == name]


def test_completions_and_parallelism():
    c = Cluster(nodes=2, seed=0)
    c.apply(JOB)
    job = c.get("job", "pi")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi" and labels["controller-uid"] == uid
    most_active = 0
    for _ in range(60):
        c.run(seconds=1)
        active = sum(1 for p in _job_pods(c, "pi") if p["status"]["phase"] in ("Pending", "Running"))
        most_active = max(most_active, active)
    assert most_active == 2  # parallelism
    job = c.get("job", "pi")
    assert job["status"]["succeeded"] == 3 and len(_job_pods(c, "pi")) == 3
    assert _conds(job) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert job["status"]["completionTime"]


def test_failures_back_off_then_fail_the_job():
    c = Cluster(nodes=2, seed=1)
    c.apply(JOB.replace("sleep 5", "sleep 1; exit 1").replace("completions: 3", "backoffLimit: 2\n  completions: 1"))
    c.run(seconds=300)
    job = c.get("job", "pi")
    assert job["status"]["failed"] == 3
    assert _conds(job) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    starts = sorted(p["metadata"]["creationTimestamp"] for p in _job_pods(c, "pi"))
    from k8slab.api.objects import parse_rfc3339
    gaps = [(parse_rfc3339(b) - parse_rfc3339(a)) // 1000 for a, b in zip(starts, starts[1:])]
    # each pod runs about 1 s, then the next waits 10 s, then 20 s
    assert 10 <= gaps[0] <= 13 and 20 <= gaps[1] <= 23
    assert any(e["reason"] == "BackoffLimitExceeded" for e in c.get("events"))


def test_active_deadline_kills_running_pods():
    c = Cluster(nodes=2, seed=2)
    c.apply(JOB.replace("sleep 5", "sleep 600").replace("completions: 3", "activeDeadlineSeconds: 20\n  completions: 3"))
    c.run(seconds=60)
    job = c.get("job", "pi")
    assert _conds(job) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
    assert all(p["metadata"].get("deletionTimestamp") or p["status"]["phase"] in ("Succeeded", "Failed")
               for p in _job_pods(c, "pi")) or not _job_pods(c, "pi")
    assert job["status"].get("active", 0) == 0


def test_indexed_job_gives_each_pod_an_index():
    c = Cluster(nodes=2, seed=3)
    c.apply(JOB.replace("completions: 3", "completions: 3\n  completionMode: Indexed"))
    c.run(seconds=60)
    job = c.get("job", "pi")
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    pods = sorted(_job_pods(c, "pi"), key=lambda p: p["metadata"]["name"])
    idx = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods)
    assert idx == ["0", "1", "2"]
    for p in pods:
        i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert p["metadata"]["name"].startswith(f"pi-{i}-") and p["spec"]["hostname"] == f"pi-{i}"
        assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}} \
            in p["spec"]["containers"][0]["env"]


def test_ttl_after_finished_deletes_job_and_pods():
    c = Cluster(nodes=2, seed=4)
    c.apply(JOB.replace("completions: 3", "ttlSecondsAfterFinished: 30\n  completions: 1"))
    c.run(seconds=20)
    done = c.get("job", "pi")
    assert ("Complete", "CompletionsReached") in _conds(done)
    c.run(seconds=15)
    assert c.get("jobs").names == ["pi"]  # not yet: 30 s after it finished
    c.run(seconds=30)
    assert c.get("jobs").names == [] and _job_pods(c, "pi") == []


@pytest.mark.parametrize("patch,field", [
    ("completions: -1", "spec.completions"),
    ("parallelism: -2", "spec.parallelism"),
])
def test_invalid_jobs_are_rejected_with_field_paths(patch, field):
    c = Cluster(nodes=1, seed=5)
    with pytest.raises(StatusError) as e:
        c.apply(JOB.replace("completions: 3", patch) if "completions" in patch else JOB.replace("parallelism: 2",
                                                                                                 patch))
    assert e.value.code == 422 and field in str(e.value)
    assert c.get("jobs").names == []


def test_suspend_deletes_pods_and_resume_restarts_the_deadline_clock():
    c = Cluster(nodes=1, seed=6)
    c.apply(JOB.replace("sleep 5", "sleep 60").replace("completions: 3", "activeDeadlineSeconds: 100\n  completions: 3"))
    c.run(seconds=10)
    assert any(p["status"]["phase"] == "Running" for p in _job_pods(c, "pi"))
    c.admin.patch("jobs", "pi", {"spec": {"suspend": True}}, namespace="default")
    c.run(seconds=150)  # longer than activeDeadlineSeconds: the clock does not run while suspended
    job = c.get("job", "pi")
    assert _conds(job) == [("Suspended", "JobSuspended")]
    assert not [p for p in _job_pods(c, "pi") if p["status"]["phase"] in ("Pending", "Running")
                and not p["metadata"].get("deletionTimestamp")]
    c.admin.patch("jobs", "pi", {"spec": {"suspend": False}}, namespace="default")
    c.run(seconds=5)
    job = c.get("job", "pi")
    cond = {x["type"]: x for x in job["status"]["conditions"]}["Suspended"]
    assert (cond["status"], cond["reason"]) == ("False", "JobResumed")
    assert job["status"]["active"] == 2 and job["status"]["startTime"] == cond["lastTransitionTime"]
