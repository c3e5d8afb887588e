"""ReconcileLab: one reconcile per Step, desired next to actual, the API calls, and the fault buttons."""

from k8slab import Cluster, widgets
from k8slab.examples import NGINX
from k8slab.widgets.reconcile import desired_actual, queue_contents


def test_step_runs_one_reconcile_and_shows_calls():
    c = Cluster(nodes=2, seed=0)
    c.apply(NGINX)
    lab = widgets.ReconcileLab(c, "replicaset")
    out = lab.step()
    assert out["key"].startswith("default/web-") and out["desired"] == {"replicas": 3}
    assert out["calls"].count("create pods/default (201)") == 3  # slow start: 1 + 2
    assert f"{len(out['calls'])} API call(s)" in lab.calls_html.value and "create pods/default" in lab.calls_html.value
    assert out["actual"]["pods"] == 3
    c.settle()
    assert lab.step()["key"] is None and "idle" in lab.key_html.value  # nothing left to do


def test_faults_and_the_controller_reacting():
    c = Cluster(nodes=2, seed=1)
    c.apply(NGINX)
    c.settle()
    lab = widgets.ReconcileLab(c, "replicaset")
    victim = lab.kill_pod()
    out = lab.step()
    assert "create pods/default (201)" in out["calls"] and victim not in out["actual"]["names"]
    assert lab.toggle_manager() is True and "paused" in lab.queue_html.value
    lab.kill_pod()
    c.run(seconds=5)
    assert queue_contents(lab.ctrl)["queued"]  # the key waits: nobody works the queue
    assert lab.toggle_manager() is False
    c.settle()
    assert desired_actual(c, "replicaset", out["key"])[1]["pods"] == 3
    drained = lab.drain_node("node-1")
    assert c.get("node", "node-1")["spec"]["unschedulable"] is True
    c.settle()
    assert all(p["spec"]["nodeName"] != "node-1" for p in c.get("pods", selector="app=web"))
    assert isinstance(drained, list)


def test_errors_are_shown_not_raised():
    c = Cluster(nodes=1, seed=2)
    lab = widgets.ReconcileLab(c, "deployment")
    assert lab.kill_pod(namespace="nowhere") is None and "no running pod" in lab.error.value
    assert lab.drain_node("node-9") is None and "not found" in lab.error.value


def test_desired_actual_for_deployment_and_job():
    c = Cluster(nodes=1, seed=3)
    c.apply(NGINX)
    c.settle()
    want, have = desired_actual(c, "deployment", "default/web")
    assert want["replicas"] == 3 and want["image"] == "nginx:1.27"
    assert list(have.values()) == ["3 desired, 3 available"]
    assert desired_actual(c, "job", "default/none")[1] == {"object": "not found (deleted?)"}
