"""Controller figures: titles, labels, legends, and the data behind them."""

import matplotlib

matplotlib.use("Agg")

from k8slab import Cluster, viz  # noqa: E402
from k8slab.examples import NGINX  # noqa: E402
from k8slab.viz.controllers import job_pod_rows, node_events  # noqa: E402


def test_watch_rollout_and_figure():
    c = Cluster(nodes=2, seed=0)
    c.apply(NGINX.split("---")[0].replace("replicas: 3", "replicas: 4"))
    c.settle()
    c.apply(NGINX.split("---")[0].replace("replicas: 3", "replicas: 4").replace("nginx:1.27", "nginx:1.28"))
    df = viz.watch_rollout(c, "web")
    assert df.attrs["max_surge"] == 1 and df.attrs["max_unavailable"] == 1
    assert df["replicaset"].nunique() == 2
    assert df.groupby("sample")["current"].sum().max() <= 5  # replicas + maxSurge
    last = df[df["sample"] == df["sample"].max()]
    assert sorted(last["desired"]) == [0, 4]
    fig = viz.rollout_figure(df)
    ax = fig.axes[0]
    assert "deployment/web" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any("maxSurge" in t.get_text() for t in ax.get_legend().get_texts())


def test_job_figure_shows_pods_and_backoff():
    c = Cluster(nodes=1, seed=0)
    c.apply("""
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sh", "-c", "sleep 2; exit 1"]}]
""")
    c.run(seconds=120)
    rows = job_pod_rows(c, "flaky")
    assert [r["phase"] for r in rows] == ["Failed"] * 3 and all(r["finished_s"] for r in rows)
    fig = viz.job_figure(c, "flaky")
    ax = fig.axes[0]
    assert "job/flaky" in ax.get_title() and ax.get_xlabel()
    assert "backoff wait" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_node_timeline_reads_trace_events():
    c = Cluster(nodes=2, seed=0)
    rows = node_events(c)
    assert rows and {r["node"] for r in rows} >= {"node-1", "node-2"}
    fig = viz.node_timeline(c)
    assert fig.axes[0].get_title().startswith("Node events") and fig.axes[0].get_legend() is not None


def test_node_timeline_shows_a_lost_node_and_its_evictions():
    import pytest

    c = Cluster(nodes=2, seed=1)
    if not hasattr(c.node("node-2").kubelet, "stop"):
        pytest.skip("this kubelet cannot be stopped")
    c.apply(NGINX)
    c.settle()
    c.node("node-2").kubelet.stop()
    c.run(seconds=400)
    rows = [r for r in node_events(c) if r["node"] == "node-2"]
    kinds = {r["kind"] for r in rows}
    assert any("evict" in k for k in kinds) and any(k.startswith("node.") for k in kinds)
    first_evict = min(r["time_s"] for r in rows if "evict" in r["kind"])
    assert first_evict > min(r["time_s"] for r in rows if r["kind"].startswith("node."))
    viz.node_timeline(c)
