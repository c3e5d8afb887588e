"""Mirrors: pkg/controller/podautoscaler/horizontal.go (reconcileAutoscaler, normalizeDesiredReplicas,
stabilizeRecommendation, convertDesiredReplicasWithRules, normalizeDesiredReplicasWithBehaviors,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors) and replica_calculator.go
(GetResourceReplicas, groupPods, calculatePodRequests) and metrics/utilization.go (GetResourceUtilizationRatio).

The HorizontalPodAutoscaler controller resyncs every HPA every 15 s (``--horizontal-pod-autoscaler-sync-period``).
It reads the target's ``/scale`` subresource (current replicas and the label selector), lists the matching pods,
asks the Metrics API (metrics-server, through the API server's aggregation layer) for their usage, and computes

    desiredReplicas = ceil(readyPods * currentUtilization / targetUtilization)

where utilization is usage as a percentage of the pods' requests, summed over pods. Nothing changes while the
ratio is within the 10 % tolerance. A scale-down only happens to the highest recommendation of the last
5 minutes (the downscale stabilization window), and a scale-up is limited to max(2 x current, 4) replicas per
sync (or, with ``spec.behavior``, to its policies). Pods that are not ready yet, or that started within the last
5 minutes and have not been ready for a whole metrics window, do not count when scaling up.
"""

from __future__ import annotations

import math

from ..api import errors
from ..api.objects import parse_rfc3339, rfc3339, selector_matches
from ..api.quantity import milli_value, value
from .base import Controller

SYNC_PERIOD_MS = 15_000
TOLERANCE = 0.1
DOWNSCALE_STABILIZATION_MS = 5 * 60_000
CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000
DELAY_OF_INITIAL_READINESS_STATUS_MS = 30_000
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4


class MetricsUnavailable(Exception):
    pass


def parse_selector(text: str) -> dict:
    return {"matchLabels": dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)}


def group_pods(pods: list[dict], metrics: dict[str, tuple[int, int, int]], resource: str, now_ms: int
               ) -> tuple[int, set, set, set]:
    """groupPods: (ready pod count, unready pods, pods missing metrics, ignored pods)."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
            start = status.get("startTime")
            if cond is None or not start:
                is_unready = True
            else:
                start_ms = parse_rfc3339(start)
                transition = parse_rfc3339(cond["lastTransitionTime"])
                if start_ms + CPU_INITIALIZATION_PERIOD_MS > now_ms:
                    _, ts, window = metric
                    is_unready = cond["status"] == "False" or ts < transition + window
                else:
                    is_unready = cond["status"] == "False" and start_ms + DELAY_OF_INITIAL_READINESS_STATUS_MS > \
                        transition
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def calculate_pod_requests(pods: list[dict], resource: str) -> dict[str, int]:
    """calculatePodRequests: each pod's request (milli-units) summed over containers; missing -> error."""
    out = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise MetricsUnavailable(f"missing request for {resource} in container {c['name']} of Pod "
                                         f"{pod['metadata']['name']}")
            total += milli_value(req) if resource == "cpu" else value(req) * 1000
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage ratio, utilization %, raw average usage) over pods with both."""
    metrics_total = requests_total = n = 0
    for name, usage in metrics.items():
        if name in requests:
            metrics_total += usage
            requests_total += requests[name]
            n += 1
    if requests_total == 0:
        raise MetricsUnavailable("no metrics returned matched known pods")
    utilization = int(metrics_total * 100 / requests_total)
    return utilization / target, utilization, metrics_total // n


def get_resource_replicas(current_replicas: int, target_utilization: int, pods: list[dict],
                          usage: dict[str, tuple[int, int, int]], resource: str, now_ms: int
                          ) -> tuple[int, int, int]:
    """GetResourceReplicas: (replica count, utilization %, raw average usage)."""
    if not pods:
        raise MetricsUnavailable("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, usage, resource, now_ms)
    metrics = {k: v[0] for k, v in usage.items() if k not in ignored and k not in unready}
    requests = calculate_pod_requests(pods, resource)
    if not metrics:
        raise MetricsUnavailable("did not receive metrics for targeted pods (pods might be unready)")
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current_replicas, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing:
        for name in missing:
            metrics[name] = requests[name] if ratio < 1.0 else 0  # assume 100 % down, 0 % up
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 and new_ratio > 1.0) or (ratio > 1.0 and new_ratio < 1.0):
        return current_replicas, utilization, raw
    new_replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return current_replicas, utilization, raw
    return new_replicas, utilization, raw


def calculate_scale_up_limit(current: int) -> int:
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_replicas_with_rules(current: int, desired: int, hpa_min: int, hpa_max: int
                                        ) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules: clamp to [min, max] and the scale-up limit; (replicas, reason, message)."""
    scale_up_limit = calculate_scale_up_limit(current)
    if hpa_max > scale_up_limit:
        maximum, max_reason, max_msg = scale_up_limit, "ScaleUpLimit", \
            "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum, max_reason, max_msg = hpa_max, "TooManyReplicas", \
            "the desired replica count is more than the maximum replica count"
    if desired < hpa_min:
        return hpa_min, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > maximum:
        return maximum, max_reason, max_msg
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


class HorizontalPodAutoscalerController(Controller):
    NAME = "horizontal-pod-autoscaler"
    EVENT_SOURCE = "horizontal-pod-autoscaler"
    RESOURCE = "horizontalpodautoscalers"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.hpa_informer = manager.factory.informer("horizontalpodautoscalers")
        self.pod_informer = manager.factory.informer("pods")
        self.hpa_informer.add_event_handler(self.enqueue_hpa, lambda old, new: self.enqueue_hpa(new), None)
        self.recommendations: dict[str, list[tuple[int, int]]] = {}  # key -> [(ms, replicas)]
        self.scale_events: dict[str, list[tuple[int, int]]] = {}  # key -> [(ms, +/- replicas)]
        self.history: dict[str, list[dict]] = {}  # key -> one row per sync (for plots)
        self._resync: dict[str, object] = {}

    def enqueue_hpa(self, obj: dict) -> None:
        """enqueueHPA: AddRateLimited with a fixed 15 s interval (the queue keeps one pending add per key)."""
        md = obj["metadata"]
        self._add_rate_limited(f"{md['namespace']}/{md['name']}")

    def _add_rate_limited(self, key: str) -> None:
        t = self._resync.get(key)
        if t is not None and not t.cancelled:
            return
        self._resync[key] = self.loop.call_later(SYNC_PERIOD_MS, self._requeue, key, component=self.component,
                                                 label=f"HPA resync {key}", background=True)

    @property
    def metrics(self):
        """The Metrics API (metrics.k8s.io via the aggregation layer); None when metrics-server is absent."""
        return getattr(self.manager, "metrics_client", None)

    def sync_handler(self, key: str) -> None:
        ns, name = key.split("/", 1)
        hpa = self.hpa_informer.get(key)
        if hpa is None:
            self.recommendations.pop(key, None)
            t = self._resync.pop(key, None)
            if t is not None:
                t.cancel()
            return
        try:
            self.reconcile_autoscaler(key, hpa)
        finally:
            self._add_rate_limited(key)  # processNextWorkItem never forgets an HPA: it comes back every 15 s

    def _requeue(self, key: str) -> None:
        self._resync.pop(key, None)
        if self.hpa_informer.get(key) is not None:
            self.queue.add(key)

    def reconcile_autoscaler(self, key: str, hpa: dict) -> None:
        ns = hpa["metadata"]["namespace"]
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        resource = {"Deployment": "deployments", "ReplicaSet": "replicasets",
                    "StatefulSet": "statefulsets"}.get(ref.get("kind", ""), "deployments")
        try:
            scale = self.client.get(resource, ref.get("name", ""), ns, subresource="scale")
        except errors.StatusError as e:
            self.recorder.warning(hpa, "FailedGetScale", str(e))
            self._update_status(hpa, None, None, [], [("AbleToScale", "False", "FailedGetScale",
                                                      f"the HPA controller was unable to get the target's current "
                                                      f"scale: {e}")])
            return
        current = int(scale["spec"].get("replicas", 0))
        hpa_min, hpa_max = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
        conditions = [("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's "
                                                                  "current scale")]
        metric_statuses: list[dict] = []
        rescale_reason = ""
        if current == 0 and hpa_min != 0:
            desired = 0
            conditions.append(("ScalingActive", "False", "ScalingDisabled",
                               "scaling is disabled since the replica count of the target is zero"))
        elif current > hpa_max:
            desired, rescale_reason = hpa_max, "Current number of replicas above Spec.MaxReplicas"
        elif current < hpa_min:
            desired, rescale_reason = hpa_min, "Current number of replicas below Spec.MinReplicas"
        else:
            try:
                proposal, metric_name, metric_statuses = self.compute_replicas_for_metrics(hpa, scale, current)
            except MetricsUnavailable as e:
                self.recorder.warning(hpa, "FailedGetResourceMetric", str(e))
                self.recorder.warning(hpa, "FailedComputeMetricsReplicas",
                                      f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu "
                                      f"resource metric value: {e}")
                conditions.append(("ScalingActive", "False", "FailedGetResourceMetric",
                                   f"the HPA was unable to compute the replica count: {e}"))
                self._update_status(hpa, current, current, [], conditions)
                self._record(key, current, current, None)
                return
            conditions.append(("ScalingActive", "True", "ValidMetricFound",
                               f"the HPA was able to successfully calculate a replica count from {metric_name}"))
            if spec.get("behavior") is None:
                desired, stab = self.normalize_desired_replicas(key, current, proposal, hpa_min, hpa_max, conditions)
            else:
                desired = self.normalize_desired_replicas_with_behaviors(key, hpa, current, proposal, hpa_min,
                                                                         hpa_max, conditions)
            if desired > current:
                rescale_reason = f"{metric_name} above target"
            elif desired < current:
                rescale_reason = "All metrics below target"
        last_scale = None
        if desired != current:
            body = {"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {"name": ref["name"], "namespace": ns}, "spec": {"replicas": desired}}
            try:
                self.client.update(resource, body, subresource="scale")
            except errors.StatusError as e:
                self.recorder.warning(hpa, "FailedRescale", f"New size: {desired}; reason: {rescale_reason}; "
                                                            f"error: {e}")
                return
            self.recorder.normal(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            self.scale_events.setdefault(key, []).append((self.loop.now, desired - current))
            last_scale = rfc3339(self.loop.now)
            self.loop.emit(self.component, "hpa.rescale", f"{self.RESOURCE}/{key}",
                           {"from": current, "to": desired, "reason": rescale_reason})
        self._update_status(hpa, current, desired, metric_statuses, conditions, last_scale)
        util = metric_statuses[0]["resource"]["current"].get("averageUtilization") if metric_statuses else None
        self._record(key, current, desired, util)

    def _record(self, key: str, current: int, desired: int, utilization: int | None) -> None:
        self.history.setdefault(key, []).append({"time": self.loop.now, "currentReplicas": current,
                                                 "desiredReplicas": desired, "utilization": utilization})

    def compute_replicas_for_metrics(self, hpa: dict, scale: dict, current: int) -> tuple[int, str, list]:
        """computeReplicasForMetrics for Resource metrics with a Utilization target (the common case)."""
        if self.metrics is None:
            raise MetricsUnavailable("unable to get metrics for resource cpu: unable to fetch metrics from "
                                     "resource metrics API: the server could not find the requested resource "
                                     "(get pods.metrics.k8s.io)")
        ns = hpa["metadata"]["namespace"]
        selector = parse_selector((scale.get("status") or {}).get("selector", ""))
        pods = [p for p in self.pod_informer.list_namespace(ns)
                if selector_matches(selector, p["metadata"].get("labels") or {})]
        best = None
        for m in (hpa.get("spec") or {}).get("metrics") or []:
            if m.get("type") != "Resource":
                continue
            res = m["resource"]["name"]
            target = m["resource"].get("target") or {}
            if target.get("type") != "Utilization":
                continue
            usage: dict[str, tuple[int, int, int]] = {}
            for pm in self.metrics(ns):
                total = sum(milli_value(c["usage"][res]) if res == "cpu" else value(c["usage"][res]) * 1000
                            for c in pm["containers"])
                ts = parse_rfc3339(pm["timestamp"])
                usage[pm["metadata"]["name"]] = (total, ts, _window_ms(pm["window"]))
            if not usage:
                raise MetricsUnavailable(f"unable to get metrics for resource {res}: no metrics returned from "
                                         f"resource metrics API")
            replicas, util, raw = get_resource_replicas(current, int(target["averageUtilization"]), pods, usage, res,
                                                        self.loop.now)
            status = {"type": "Resource", "resource": {"name": res, "current": {
                "averageUtilization": util, "averageValue": f"{raw}m" if res == "cpu" else str(raw // 1000)}}}
            if best is None or replicas > best[0]:
                best = (replicas, f"{res} resource utilization (percentage of request)", [status])
        if best is None:
            raise MetricsUnavailable("no Resource metric with a Utilization target")
        return best

    def normalize_desired_replicas(self, key: str, current: int, proposal: int, hpa_min: int, hpa_max: int,
                                   conditions: list) -> tuple[int, bool]:
        """normalizeDesiredReplicas: downscale stabilization, then the min/max and scale-up limits."""
        recs = [r for r in self.recommendations.get(key, []) if r[0] + DOWNSCALE_STABILIZATION_MS > self.loop.now]
        stabilized = max([proposal] + [r[1] for r in recs])
        recs.append((self.loop.now, proposal))
        self.recommendations[key] = recs
        if stabilized != proposal:
            conditions[0] = ("AbleToScale", "True", "ScaleDownStabilized",
                             "recent recommendations were higher than current one, applying the highest recent "
                             "recommendation")
        else:
            conditions[0] = ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
        desired, reason, message = convert_desired_replicas_with_rules(current, stabilized, hpa_min, hpa_max)
        conditions.append(("ScalingLimited", "True" if desired != stabilized else "False", reason, message))
        return desired, stabilized != proposal

    def normalize_desired_replicas_with_behaviors(self, key: str, hpa: dict, current: int, proposal: int,
                                                  hpa_min: int, hpa_max: int, conditions: list) -> int:
        """normalizeDesiredReplicasWithBehaviors: per-direction stabilization windows, then rate policies."""
        behavior = hpa["spec"]["behavior"]
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        now = self.loop.now
        up_cut = now - int(up.get("stabilizationWindowSeconds", 0)) * 1000
        down_cut = now - int(down.get("stabilizationWindowSeconds", 300)) * 1000
        up_rec = down_rec = proposal
        recs = self.recommendations.get(key, [])
        for t, r in recs:
            if t > up_cut:
                up_rec = min(r, up_rec)
            if t > down_cut:
                down_rec = max(r, down_rec)
        recommendation = current
        if recommendation < up_rec:
            recommendation = up_rec
        if recommendation > down_rec:
            recommendation = down_rec
        keep = max(int(up.get("stabilizationWindowSeconds", 0)), int(down.get("stabilizationWindowSeconds", 300)))
        self.recommendations[key] = [(t, r) for t, r in recs if t > now - keep * 1000] + [(now, proposal)]
        events = self.scale_events.get(key, [])
        if recommendation > current:
            limit = self._scale_limit(events, current, up, up=True)
            maximum = min(limit, hpa_max)
            desired = min(recommendation, maximum)
            reason = "ScaleUpLimit" if desired == limit and limit < hpa_max else "TooManyReplicas"
        elif recommendation < current:
            limit = self._scale_limit(events, current, down, up=False)
            minimum = max(limit, hpa_min)
            desired = max(recommendation, minimum)
            reason = "ScaleDownLimit" if desired == limit and limit > hpa_min else "TooFewReplicas"
        else:
            desired, reason = current, "DesiredWithinRange"
        desired = max(hpa_min, min(hpa_max, desired))
        conditions.append(("ScalingLimited", "True" if desired != recommendation else "False",
                           reason if desired != recommendation else "DesiredWithinRange",
                           "the desired count is within the acceptable range" if desired == recommendation else
                           "the desired replica count is limited by the scaling policy"))
        return desired

    def _scale_limit(self, events: list[tuple[int, int]], current: int, rules: dict, up: bool) -> int:
        """calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors."""
        policy = rules.get("selectPolicy", "Max")
        if policy == "Disabled":
            return current
        limits = []
        for p in rules.get("policies") or []:
            period = int(p["periodSeconds"]) * 1000
            changed = sum(d for t, d in events if t > self.loop.now - period and (d > 0) == up)
            start = current - changed
            if p["type"] == "Pods":
                limits.append(start + int(p["value"]) if up else start - int(p["value"]))
            else:
                limits.append(math.ceil(start * (1 + int(p["value"]) / 100)) if up else
                              math.floor(start * (1 - int(p["value"]) / 100)))
        if not limits:
            return current
        if up:
            return max(limits) if policy == "Max" else min(limits)
        return min(limits) if policy == "Max" else max(limits)

    def _update_status(self, hpa: dict, current, desired, metric_statuses, conditions, last_scale=None) -> None:
        now = rfc3339(self.loop.now)
        old = {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}
        conds = []
        for type_, status, reason, message in conditions:
            prev = old.get(type_)
            conds.append({"type": type_, "status": status, "reason": reason, "message": message,
                          "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status
                          else now})
        status = {"currentReplicas": current or 0, "desiredReplicas": desired or 0, "conditions": conds}
        if metric_statuses:
            status["currentMetrics"] = metric_statuses
        prev_scale = (hpa.get("status") or {}).get("lastScaleTime")
        if last_scale or prev_scale:
            status["lastScaleTime"] = last_scale or prev_scale
        if status == hpa.get("status"):
            return
        obj = dict(hpa)
        obj["status"] = status
        try:
            self.client.update_status("horizontalpodautoscalers", obj)
        except errors.StatusError:
            pass


def _window_ms(text: str) -> int:
    """Parse a Go duration like 15s or 14.998s (the Metrics API window)."""
    total, num = 0.0, ""
    units = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else ch
        total += float(num or 0) * units.get(unit, 1000)
        num = ""
        i += len(unit)
    return int(total)
