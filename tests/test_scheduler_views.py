"""Scheduler figures (k8slab.viz.scheduler), explain for a pod already scheduled, explain_pod on a large
cluster of NodeInfos, and the SchedulerLab widget's callbacks."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from k8slab import Cluster  # noqa: E402
from k8slab.scheduler.framework import build_node_infos  # noqa: E402
from k8slab.scheduler.scheduler import explain_pod  # noqa: E402
from k8slab.viz import scheduler as vs  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(nodes=3)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "500m"}}}]}})
    c.settle()
    return c


def labelled(fig):
    ax = fig.axes[0]
    return ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None


def test_explain_for_a_scheduled_pod_and_the_stacked_scores(cluster):
    df = cluster.scheduler.explain("web")
    assert df["chosen"].sum() == 1
    assert df.loc[cluster.get("pod", "web")["spec"]["nodeName"], "chosen"]
    fig = vs.scores(df)
    assert labelled(fig)
    assert any(t.get_text() == "chosen" for t in fig.axes[0].texts)


def test_filter_funnel_counts(cluster):
    df = cluster.scheduler.explain("web")
    counts = dict(vs.funnel_counts(df))
    assert counts["all nodes"] == 4 and counts["TaintToleration"] == 3   # the control plane is tainted
    assert labelled(vs.filter_funnel(df))


def test_percentage_figure_and_queue_figure(cluster):
    assert labelled(vs.percentage_of_nodes_to_score(max_nodes=1000))
    assert labelled(vs.queue_over_time(cluster.scheduler))


def test_explain_pod_on_thousands_of_nodes_stops_at_num_feasible_nodes_to_find():
    nodes = [{"metadata": {"name": f"n{i:04d}", "labels": {"zone": f"z{i % 3}"}}, "spec": {},
              "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}} for i in range(2000)]
    infos = build_node_infos(nodes)
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]}}
    df = explain_pod(pod, infos)
    result = df.attrs["result"]
    assert result.feasible_nodes == 2000 * (50 - 2000 // 125) // 100   # 34% of 2000 = 680
    assert df["total"].notna().sum() == 680
    assert labelled(vs.score_heatmap(df))


def test_scheduler_lab_callbacks(cluster):
    from k8slab.widgets.schedulerlab import STAGES, SchedulerLab

    lab = SchedulerLab(cluster)
    first = lab.chosen()
    assert first in ("node-1", "node-2", "node-3")
    lab.prefer.value = "kubernetes.io/hostname=node-3"          # a preferred affinity decides
    assert lab.chosen() == "node-3"
    lab.weights["NodeAffinity"].value = 0                        # weight 0 disables the plugin in the lab
    assert "NodeAffinity weighted" not in lab.df.columns
    lab.cpu.value = "64"                                         # fits nowhere
    assert lab.chosen() is None
    lab.cpu.value = "lots"                                       # bad input: shown, not raised
    assert "error" in lab.error and "lots" in lab.errors.value
    lab.cpu.value = "100m"
    assert lab.error == ""
    lab._on_step()
    assert lab.stage == 1 and "PreFilter" in lab.status.value
    for _ in range(len(STAGES) - 1):
        lab._on_step()
    assert "selectHost" in lab.status.value
    lab.tolerate.value = "node-role.kubernetes.io/control-plane"
    assert lab.df.loc["control-plane", "TaintToleration"] == "pass"
