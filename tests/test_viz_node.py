"""The node views: graphviz node view, CRI call table, pod timeline, node resources and the HPA plot."""

import matplotlib

matplotlib.use("Agg")

from k8slab import Cluster, viz  # noqa: E402
from k8slab.cri import Behavior  # noqa: E402


def test_node_views():
    c = Cluster(nodes=1, seed=2)
    c.set_behavior("web", "app", Behavior(fail_ms=25_000))
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                      "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]}})
    c.run(seconds=120)
    g = viz.node_view(c, "node-1")
    src = g.source
    assert "kubelet" in src and "containerd" in src and "default/web" in src and "last CRI calls" in src
    assert "kubernetes.io~projected" in src
    df = viz.cri_calls(c, "node-1", pod="web")
    assert list(df["rpc"][:2]) == ["RunPodSandbox", "PodSandboxStatus"] and "StopContainer" in set(df["rpc"])
    fig = viz.pod_timeline(c, "web")
    ax = fig.axes[0]
    assert ax.get_title().startswith("pod default/web") and ax.get_xlabel() and ax.get_legend() is not None
    assert len(ax.patches) >= 2  # one bar per container attempt (restarted after the liveness failures)
    usage = viz.sample_node_usage(c, "node-1", seconds=30, every=10)
    assert len(usage) == 3
    fig = viz.node_resources(usage, c, "node-1")
    assert all(a.get_legend() is not None and a.get_title() for a in fig.axes)
