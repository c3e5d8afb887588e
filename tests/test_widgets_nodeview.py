"""The NodeView widget: callbacks exercised directly; errors are shown, never raised."""

import pytest

from k8slab import Cluster
from k8slab.widgets import NodeView


@pytest.fixture(scope="module")
def view():
    c = Cluster(nodes=1, seed=5)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})
    return NodeView(c, "node-1")


def test_run_advances_and_redraws(view):
    before = view.cluster.now
    view.seconds.value = 20
    view.on_run()
    assert view.cluster.now == before + 20_000
    assert "<svg" in view.picture.value and "RunPodSandbox" in view.calls.value
    assert f"{len(view.cluster.node('node-1').kubelet.workers)} pod workers" in view.status.value


def test_step_and_pick(view):
    steps = view.cluster.loop.steps
    view.on_step()
    assert view.cluster.loop.steps == steps + 1
    view.picker.value = "control-plane"
    assert view.node == "control-plane" and "control-plane" in view.status.value


def test_errors_are_shown_not_raised(view):
    view.node = "nope"
    view.redraw()
    assert "node" in view.error.value and "nope" in view.error.value
    view.node = "node-1"
    view.redraw()
    assert view.error.value == ""
