"""The HorizontalPodAutoscaler controller: replica calculation (replica_calculator_test.go style) and a Deployment
scaled by metrics-server's numbers through the cluster."""

import pytest

from k8slab import Cluster
from k8slab.controllers import podautoscaler as pa
from k8slab.cri import Behavior, SharedLoad


def pod(name, cpu_request="1", phase="Running", ready=True, start=0, transition=0):
    from k8slab.api.objects import rfc3339

    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "resources": {
        "requests": {"cpu": cpu_request}}}]},
            "status": {"phase": phase, "startTime": rfc3339(start),
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": rfc3339(transition)}]}}


NOW = 3_600_000  # an hour in: every pod is past the CPU initialization period


def test_scale_up_by_utilization_ratio():
    pods = [pod(f"p{i}") for i in range(3)]
    usage = {"p0": (1000, NOW, 15000), "p1": (1000, NOW, 15000), "p2": (1000, NOW, 15000)}
    # 100 % used, target 30 %: ceil(3 * 100/30) = 10
    assert pa.get_resource_replicas(3, 30, pods, usage, "cpu", NOW)[:2] == (10, 100)


def test_within_tolerance_keeps_the_count():
    pods = [pod(f"p{i}") for i in range(3)]
    usage = {f"p{i}": (1050, NOW, 15000) for i in range(3)}
    assert pa.get_resource_replicas(3, 100, pods, usage, "cpu", NOW)[0] == 3  # ratio 1.05 <= 1.1


def test_missing_metrics_count_as_full_request_when_scaling_down():
    pods = [pod(f"p{i}") for i in range(4)]
    usage = {"p0": (100, NOW, 15000), "p1": (100, NOW, 15000), "p2": (100, NOW, 15000)}  # p3 has no metrics
    # ratio 0.2 (10 % of 50 %); p3 assumed at 100 % of request: (300 + 1000) / 4000 = 32.5 % -> ceil(0.65*4) = 3
    assert pa.get_resource_replicas(4, 50, pods, usage, "cpu", NOW)[0] == 3


def test_unready_pods_count_as_zero_when_scaling_up():
    pods = [pod("p0"), pod("p1"), pod("p2", phase="Pending")]
    usage = {"p0": (1000, NOW, 15000), "p1": (1000, NOW, 15000)}
    # ready ones at 100 % of a 50 % target; the pending pod counts as 0: 2000/3000 = 66.7 % -> ceil(1.33*3) = 4
    assert pa.get_resource_replicas(3, 50, pods, usage, "cpu", NOW)[0] == 4


def test_convert_desired_replicas_with_rules():
    assert pa.convert_desired_replicas_with_rules(1, 10, 1, 20)[:2] == (4, "ScaleUpLimit")  # max(2*1, 4)
    assert pa.convert_desired_replicas_with_rules(5, 30, 1, 20)[:2] == (10, "ScaleUpLimit")
    assert pa.convert_desired_replicas_with_rules(5, 30, 1, 8)[:2] == (8, "TooManyReplicas")
    assert pa.convert_desired_replicas_with_rules(5, 0, 2, 8)[:2] == (2, "TooFewReplicas")


@pytest.fixture(scope="module")
def scaled():
    c = Cluster(nodes=3, metrics_server=True)
    load = SharedLoad("100m")
    c.set_behavior(None, "app", Behavior(cpu=load, memory="30Mi"), selector={"app": "web"})
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                            "resources": {"requests": {"cpu": "200m"}}}]}}}})
    c.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
             "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                      "minReplicas": 1, "maxReplicas": 10,
                      "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                          "type": "Utilization", "averageUtilization": 50}}}]}})
    c.settle()
    t0 = c.now
    load.set_total(t0 + 60_000, "900m")
    load.set_total(t0 + 400_000, "100m")
    c.run(seconds=800)
    return c, t0


def test_hpa_scales_up_then_down_after_the_stabilization_window(scaled):
    c, t0 = scaled
    hist = c.controller_manager["horizontalpodautoscaling"].history["default/web"]
    assert all(b["time"] - a["time"] == 15_000 for a, b in zip(hist, hist[1:]))  # the 15 s sync period
    changes = [(r["time"] - t0, r["currentReplicas"], r["desiredReplicas"]) for r in hist
               if r["desiredReplicas"] != r["currentReplicas"]]
    ups = [x for x in changes if x[2] > x[1]]
    downs = [x for x in changes if x[2] < x[1]]
    assert ups[0][1:] == (1, 4)  # 900m on one 200m-request pod is 450 %: ceil(9) but at most max(2*1, 4)
    assert max(x[2] for x in ups) == 9  # 900m / 9 pods = 100m = 50 % of the request: the target
    # 100m over 9 pods is 11.1m each, 12m as the Metrics API rounds up: 6 % of 200m, ratio 0.12: ceil(0.12*9) = 2
    assert len(downs) == 1 and downs[0][2] == 2
    # the load dropped at 400 s; the scale-down waits until every recommendation of the last 5 minutes is lower
    assert downs[0][0] >= 400_000 + 300_000 - 15_000
    events = [(e["reason"], e["message"]) for e in c.admin.list("events", "default")["items"]
              if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert ("SuccessfulRescale", "New size: 4; reason: cpu resource utilization (percentage of request) above "
                                 "target") in events
    assert ("SuccessfulRescale", "New size: 2; reason: All metrics below target") in events
    hpa = c.get("hpa", "web")
    assert hpa["status"]["currentReplicas"] == 2
    assert {x["type"] for x in hpa["status"]["conditions"]} == {"AbleToScale", "ScalingActive", "ScalingLimited"}


def test_hpa_without_metrics_server_reports_failed_get_resource_metric():
    c = Cluster(nodes=1)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                            "resources": {"requests": {"cpu": "200m"}}}]}}}})
    c.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
             "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                      "maxReplicas": 5}})
    c.run(seconds=40)
    cond = {x["type"]: x for x in c.get("hpa", "web")["status"]["conditions"]}["ScalingActive"]
    assert (cond["status"], cond["reason"]) == ("False", "FailedGetResourceMetric")
    assert "(get pods.metrics.k8s.io)" in cond["message"]


def test_hpa_plot(scaled):
    import matplotlib

    matplotlib.use("Agg")
    from k8slab import viz

    c, _ = scaled
    fig = viz.hpa_plot(c, "web")
    ax = fig.axes[0]
    assert ax.get_title() == "HorizontalPodAutoscaler default/web" and ax.get_legend() is not None
    assert max(ax.lines[0].get_ydata()) == 9
