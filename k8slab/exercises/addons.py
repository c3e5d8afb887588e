"""Mirrors: (no upstream file) the exercises of notebooks/09-addons-and-metrics.ipynb.

Every check derives the right answer from the model's own code and, where a cluster is involved, from the
learner's cluster when given (``cluster=c``) or one built the same deterministic way as in the notebook.
"""

from __future__ import annotations

import math

from .core import Exercise, register

_CACHE: dict = {}


def top_cluster():
    """The notebook's metrics cluster: three pods with scripted CPU and memory use."""
    if "top" not in _CACHE:
        from .. import Cluster
        from ..cri import Behavior

        c = Cluster(nodes=2, seed=9, metrics_server=True)
        for name, cpu, mem in (("api", "120m", "90Mi"), ("worker", "450m", "60Mi"), ("cache", "30m", "300Mi")):
            c.set_behavior(name, "app", Behavior(cpu=cpu, memory=mem))
            c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                     "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
        c.settle()
        c.run(seconds=40)
        _CACHE["top"] = c
    return _CACHE["top"]


# -- 09.1: kubectl top -------------------------------------------------------------------------------------------------

def _check_top(answer, cluster=None):
    from ..api.quantity import milli_value, value

    c = cluster if cluster is not None else top_cluster()
    pods = c.metrics_server.pod_metrics("default")
    if not pods:
        return False, "the Metrics API has no pods yet: run the cluster for two scrapes (30 s)"
    by_cpu = max(pods, key=lambda m: sum(milli_value(x["usage"]["cpu"]) for x in m["containers"]))
    by_mem = max(pods, key=lambda m: sum(value(x["usage"]["memory"]) for x in m["containers"]))
    want = (by_cpu["metadata"]["name"], by_mem["metadata"]["name"])
    try:
        got = (str(answer[0]).strip(), str(answer[1]).strip())
    except (TypeError, IndexError):
        return False, "answer with (pod using the most CPU, pod using the most memory)"
    if got == want:
        return True, f"{want[0]} and {want[1]}: c.top_pods(sort_by='cpu') and sort_by='memory' show it directly."
    if got == want[::-1]:
        return False, "swapped: the first is CPU, the second memory"
    wrong = "CPU" if got[0] != want[0] else "memory"
    return False, f"not the top {wrong} user: look at c.top_pods()"


register(Exercise(
    "09.1", "kubectl top",
    "In the notebook's cluster, which pod uses the most CPU and which the most memory? Answer (cpu pod, memory pod).",
    _check_top,
    ["c.top_pods() prints usage from the Metrics API.", "c.top_pods(sort_by='cpu')"]))


# -- 09.2: the HPA's next desired count ------------------------------------------------------------------------------

def hpa_next(current: int, request_m: int, usage_m: int, target: int, hpa_max: int) -> int:
    """What one HPA sync asks for (no behavior field: the max(2 x current, 4) scale-up limit applies)."""
    from ..controllers.podautoscaler import convert_desired_replicas_with_rules, get_resource_replicas

    now = 3_600_000
    pods = [{"metadata": {"name": f"p{i}"}, "spec": {"containers": [{"name": "c", "resources": {
        "requests": {"cpu": f"{request_m}m"}}}]},
             "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z",
                        "conditions": [{"type": "Ready", "status": "True",
                                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}} for i in range(current)]
    usage = {f"p{i}": (usage_m, now, 15_000) for i in range(current)}
    proposal = get_resource_replicas(current, target, pods, usage, "cpu", now)[0]
    return convert_desired_replicas_with_rules(current, proposal, 1, hpa_max)[0]


def _check_hpa(answer, cluster=None):
    want = hpa_next(3, 200, 300, 50, 20)
    try:
        got = int(answer)
    except (TypeError, ValueError):
        return False, "answer with a number of replicas"
    raw = math.ceil(3 * (300 / 200 * 100) / 50)
    if got == want:
        return True, f"{want}: ceil(3 x 150 % / 50 %) = {raw}, but one sync may at most double the replicas " \
                     f"(or reach 4): max(2 x 3, 4) = 6."
    if got == raw:
        return False, f"{raw} is what the utilization asks for; is there a limit on how fast one sync scales up?"
    if got == 7:
        return False, ("3 + 4 = 7 is what a `behavior` scale-up policy of 4 Pods per 15 s would allow; with no "
                       "`behavior` the controller keeps its older rule: at most max(2 x current, 4) replicas")
    return False, "desired = ceil(current x currentUtilization / targetUtilization); utilization is usage / request"


register(Exercise(
    "09.2", "How many replicas will the HPA ask for?",
    "An HPA targets 50 % CPU utilization (no behavior field, maxReplicas 20). Its Deployment has 3 ready pods, "
    "each requesting 200m and using 300m. What replica count does its next sync set?",
    _check_hpa,
    ["Utilization is usage as a percentage of the request: 300m of 200m.",
     "desired = ceil(3 x 150 / 50).", "convertDesiredReplicasWithRules: scaleUpLimit = max(2 x current, 4)."]))


# -- 09.3: why the scale-down waits ------------------------------------------------------------------------------------

def _check_stabilization(answer, cluster=None):
    from ..controllers.podautoscaler import DOWNSCALE_STABILIZATION_MS

    want = DOWNSCALE_STABILIZATION_MS // 1000
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return False, "answer with a number of seconds"
    if round(got) == want:
        return True, "300 s: the controller scales down only to the highest recommendation of the last 5 minutes " \
                     "(--horizontal-pod-autoscaler-downscale-stabilization), so a short dip does not remove pods."
    if round(got) == 15:
        return False, "15 s is the sync period: the HPA computed a lower count at the next sync, but did not apply it"
    if round(got) == 30:
        return False, "not the tolerance or readiness delay: what stops a scale-down right after a peak?"
    return False, "look at the hpa_plot: how long after the load dropped did the replicas fall?"


register(Exercise(
    "09.3", "Why does the HPA wait to scale down?",
    "After the load drops, the HPA computes a lower replica count at its next sync but keeps the old count for a "
    "while. For how many seconds at most, by default?",
    _check_stabilization,
    ["Compare the desired replicas with the utilization in viz.hpa_plot(c, 'web').",
     "normalizeDesiredReplicas keeps the highest recommendation of a window."]))


# -- 09.4: a rate from a counter -------------------------------------------------------------------------------------

def _check_rate(answer, cluster=None):
    from ..metrics.server import Point, _rate_nanocores

    rate = _rate_nanocores(Point(100_000, 12_500.0, 0), Point(115_000, 14_000.0, 0))
    want = f"{math.ceil(rate / 1_000_000)}m"
    got = str(answer).strip()
    if got == want:
        return True, f"{want}: (14.0 - 12.5) CPU-seconds over 15 s is 0.1 CPU; metrics-server reports the rate " \
                     f"between its last two scrapes, the kubelet only a cumulative counter."
    if got in ("1500m", "1.5"):
        return False, "that is the CPU time used; divide by the time between the two samples"
    return False, "CPU usage = (counter2 - counter1) / (t2 - t1), in cores; write it in millicores like top: '...m'"


register(Exercise(
    "09.4", "From a CPU counter to kubectl top",
    "Two scrapes of a container's container_cpu_usage_seconds_total read 12.5 at t=100 s and 14.0 at t=115 s. "
    "What CPU does kubectl top show for it? Answer as top prints it, e.g. '250m'.",
    _check_rate,
    ["The kubelet's /metrics/resource gives a cumulative counter in CPU-seconds.",
     "rate = delta counter / delta time."]))
