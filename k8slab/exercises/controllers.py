"""Mirrors: (no upstream file) the exercises of notebooks/04-controllers.ipynb (04.1 .. 04.4).

Each check works the answer out from a simulated cluster, built deterministically (``scenario(...)``) or the
learner's when passed as ``cluster=``, so the answer is whatever the controllers really do.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

ROLLOUT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 10
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - {name: shop, image: "nginx:1.27"}
"""

API = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api}
spec:
  replicas: 4
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: "redis:7"}
"""

FLAKY = """\
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 5
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "sleep 1; exit 1"]}
"""

REPORT = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "*/5 * * * *"
  suspend: true
  startingDeadlineSeconds: 200
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: c, image: busybox, command: ["sh", "-c", "sleep 2"]}
"""


def scenario(exercise_id: str):
    """The cluster an exercise is about, in the state the question describes (built once, then cached)."""
    if exercise_id in _CACHE:
        return _CACHE[exercise_id]
    from ..cluster import Cluster

    if exercise_id == "04.2":
        c = Cluster(nodes=2, seed=42)
        c.apply(API)
        c.settle()
        pods = sorted(p["metadata"]["name"] for p in c.get("pods", selector="app=api"))
        # the second pod (by name) is made cheaper to delete
        c.admin.patch("pods", pods[1], {"metadata": {"annotations": {
            "controller.kubernetes.io/pod-deletion-cost": "-10"}}}, namespace="default")
        c.settle()
    elif exercise_id == "04.4":
        c = Cluster(nodes=1, seed=44)
        c.apply(REPORT)
        c.run(until=27 * 60 * 1000 + 30_000)  # 00:27:30
    else:
        raise KeyError(exercise_id)
    _CACHE[exercise_id] = c
    return c


# -- 04.1: rolling update bounds ----------------------------------------------------------------------------------

def observed_rollout_bounds() -> tuple[int, int]:
    """Roll the shop Deployment to a new image, step by step: (most pods at once, fewest available)."""
    if "04.1" in _CACHE:
        return _CACHE["04.1"]
    from ..cluster import Cluster

    c = Cluster(nodes=3, seed=41)
    c.apply(ROLLOUT)
    c.settle()
    c.apply(ROLLOUT.replace("nginx:1.27", "nginx:1.28"))
    most, fewest = 0, 10
    while c.loop.pending:
        c.loop.step()
        live = [p for p in c.apiserver.cache["pods"].values()
                if (p["metadata"].get("labels") or {}).get("app") == "shop" and not p["metadata"].get(
                    "deletionTimestamp")]
        most = max(most, len(live))
        fewest = min(fewest, sum(1 for p in live if any(
            x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions", []))))
    _CACHE["04.1"] = (most, fewest)
    return most, fewest


def _check_04_1(answer, cluster):
    from ..controllers.deployment import resolve_fenceposts

    surge, unavailable = resolve_fenceposts("25%", "25%", 10)
    want = (10 + surge, 10 - unavailable)
    if answer is None:
        return False, "answer with a pair: (most pods at once, fewest available pods)"
    most, fewest = (int(x) for x in answer)
    seen = observed_rollout_bounds()
    if (most, fewest) == want:
        return True, (f"maxSurge 25% of 10 rounds up to {surge}, maxUnavailable rounds down to {unavailable}: "
                      f"at most {want[0]} pods, at least {want[1]} available (the simulated rollout reached "
                      f"{seen[0]} and {seen[1]}).")
    msgs = []
    if most != want[0]:
        msgs.append(f"{most} pods at most is wrong: " + ("maxSurge rounds *up* (2.5 -> 3)" if most == 12 else
                                                       "count replicas + maxSurge"))
    if fewest != want[1]:
        msgs.append(f"{fewest} available at least is wrong: " + (
            "maxUnavailable rounds *down* (2.5 -> 2), so fewer may be missing" if fewest == 7
            else "count replicas - maxUnavailable"))
    return False, "; ".join(msgs)


# -- 04.2: which pod does a ReplicaSet delete? ----------------------------------------------------------------------

def expected_victim(c) -> str:
    from ..controllers.replicaset import get_pods_to_delete

    pods = [p for p in c.apiserver.cache["pods"].values()
            if (p["metadata"].get("labels") or {}).get("app") == "api" and not p["metadata"].get("deletionTimestamp")]
    return get_pods_to_delete(pods, pods, 1, c.now)[0]["metadata"]["name"]


def _check_04_2(answer, cluster):
    c = cluster or scenario("04.2")
    want = expected_victim(c)
    if not answer:
        return False, "answer with the name of the pod the ReplicaSet controller deletes when scaled to 3"
    names = {p["metadata"]["name"] for p in c.apiserver.cache["pods"].values()
             if (p["metadata"].get("labels") or {}).get("app") == "api"}
    if answer not in names:
        return False, f"{answer!r} is not one of the ReplicaSet's pods ({', '.join(sorted(names))})"
    if answer == want:
        return True, (f"{want}: all pods are assigned, Running and ready, so the next rule decides: the lowest "
                      "controller.kubernetes.io/pod-deletion-cost goes first (ActivePodsWithRanks).")
    return False, (f"{answer} is not the first in the deletion ranking. Walk ActivePodsWithRanks.Less in order: "
                   "unassigned, phase, readiness, then pod-deletion-cost, then how many sibling pods share its node.")


# -- 04.3: Job pod failure backoff ----------------------------------------------------------------------------------

def observed_backoff_s(failures: int = 3) -> float:
    """From a simulated Job: seconds between pod ``failures``'s finish and the next pod's creation."""
    key = ("04.3", failures)
    if key in _CACHE:
        return _CACHE[key]
    from ..cluster import Cluster
    from ..viz.controllers import job_pod_rows

    c = Cluster(nodes=1, seed=43)
    c.apply(FLAKY)
    c.run(seconds=200)
    rows = job_pod_rows(c, "flaky")
    gap = rows[failures]["created_s"] - rows[failures - 1]["finished_s"]
    _CACHE[key] = gap
    return gap


def _check_04_3(answer, cluster):
    from ..controllers.job import get_backoff_ms

    want = get_backoff_ms(3) // 1000
    if answer is None:
        return False, "answer with a number of seconds"
    got = float(answer)
    seen = observed_backoff_s(3)
    if round(got) == want:
        return True, (f"{want} s: 10 s doubled for each failure since the last success (10, 20, 40, ...), at "
                      f"most 10 minutes; the simulated Job waited {seen:.1f} s.")
    if round(got) == 30:
        return False, "30 s would be a linear backoff; the Job controller doubles it each time"
    if round(got) == 80:
        return False, "that is the wait after the 4th failure: the first failure waits 10 s (2^0 x 10 s)"
    return False, f"{got:g} s is not it: start at 10 s for the first failure and double"


# -- 04.4: CronJob missed schedules -----------------------------------------------------------------------------------

def _check_04_4(answer, cluster):
    from ..controllers.cronjob import get_job_name, most_recent_schedule_time, schedule_of

    c = cluster or scenario("04.4")
    cj = c.apiserver.cache["cronjobs"]["default/report"]
    _, recent, _ = most_recent_schedule_time(cj, c.now, schedule_of(cj), True)
    want = get_job_name(cj, recent) if recent is not None else None
    if not answer:
        return False, "answer with the name of the first Job, e.g. 'report-29453790'"
    if answer == want:
        return True, (f"{want}: at 00:27:30 only schedules after now - startingDeadlineSeconds (00:24:10) count, "
                      "and only the most recent of them runs: 00:25, at once. The name is the scheduled time in "
                      "minutes since the Unix epoch.")
    base = get_job_name(cj, 0).rsplit("-", 1)[0]
    try:
        minutes = int(str(answer).rsplit("-", 1)[1]) - int(get_job_name(cj, 0).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False, f"a CronJob's Jobs are named {base}-<minutes since 1970-01-01>"
    if minutes == 30:
        return False, "00:30 is the next schedule, but 00:25 is still within startingDeadlineSeconds and runs first"
    if minutes in (5, 10, 15, 20):
        return False, ("the controller never runs every missed schedule, only the most recent one, and "
                       "startingDeadlineSeconds rules out the older ones anyway")
    return False, f"that Job would be scheduled at minute {minutes}; which schedule times fall after 00:24:10?"


register(Exercise("04.1", "Rolling-update bounds",
                  "Deployment `shop` (10 replicas, maxSurge 25%, maxUnavailable 25%) rolls to a new image. During "
                  "the rollout, what is the most pods that exist at once and the fewest available pods? Answer "
                  "`(most, fewest)`.", _check_04_1,
                  ["resolve_fenceposts turns the percentages into numbers of pods.",
                   "Surge is rounded up, unavailable is rounded down (a safe rounding both ways).",
                   "25% of 10 is 2.5."]))
register(Exercise("04.2", "Which pod goes?",
                  "In `scenario('04.2')`, ReplicaSet `api` has 4 pods. Scale it to 3: which pod does the "
                  "ReplicaSet controller delete? Answer with its name.", _check_04_2,
                  ["Look at the pods' nodes, phases, readiness and annotations.",
                   "getPodsToDelete sorts with ActivePodsWithRanks.Less; the first pods in that order go.",
                   "controller.kubernetes.io/pod-deletion-cost comes before the node ranking."]))
register(Exercise("04.3", "Job backoff",
                  "Job `flaky` (backoffLimit 5) runs pods that fail after one second. How many seconds does the Job "
                  "controller wait after the 3rd failure before it creates the 4th pod?", _check_04_3,
                  ["DefaultJobPodFailureBackOff is 10 s.", "It doubles for each failure since the last success.",
                   "Try viz.job_figure on a cluster running the Job."]))
register(Exercise("04.4", "Missed CronJob schedules",
                  "In `scenario('04.4')`, CronJob `report` (`*/5 * * * *`, startingDeadlineSeconds 200) was "
                  "suspended from 00:00 until now, 00:27:30. It is resumed: what is the name of the first Job it "
                  "creates?", _check_04_4,
                  ["mostRecentScheduleTime looks back no further than now - startingDeadlineSeconds.",
                   "Only the most recent missed time runs.",
                   "Job names are <cronjob>-<scheduled time in minutes since the Unix epoch>."]))
