"""The Stepper's callbacks, exercised directly: Step, Play ticks, speed, Reset, Apply; errors are shown, never
raised."""

from __future__ import annotations

import html

import pytest

from k8slab import Cluster, widgets
from k8slab.examples import NGINX
from k8slab.viz import style

BAD_REPLICAS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  replicas: -1
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: c
        image: nginx:1.27
"""


@pytest.fixture()
def stepper():
    c = Cluster(nodes=2, seed=0)
    c.apply(NGINX)
    return widgets.Stepper(c)


def test_step_button_runs_one_step_and_redraws(stepper):
    c = stepper.cluster
    svg0, steps0 = stepper.diagram.value, c.loop.steps
    stepper.step_button.click()
    assert c.loop.steps == steps0 + 1
    assert stepper.error.value == ""
    assert stepper.diagram.value != svg0
    assert f"step <b>{steps0 + 1}</b>" in stepper.clock.value
    assert stepper.last_events and all(e.step == steps0 + 1 for e in stepper.last_events)
    for e in stepper.last_events:
        assert html.escape(e.kind) in stepper.events_html.value


def test_first_step_after_apply_shows_the_changed_object(stepper):
    # step until some step writes to etcd, then the panel shows that object's YAML as stored now
    for _ in range(200):
        events = stepper.step_once()
        puts = [e for e in events if e.kind == "etcd.put"]
        if puts:
            break
    else:
        pytest.fail("no step wrote to etcd")
    ref, obj = stepper.changed_object(events)
    assert ref == "/".join(puts[-1].ref.split("/")[:3]) or ref == "/".join(puts[-1].ref.split("/")[:2])
    assert obj is not None
    assert "kind: " + obj["kind"] in html.unescape(stepper.object_html.value)
    assert f"resourceVersion {obj['metadata']['resourceVersion']}" in stepper.object_html.value


def test_play_ticks_step_and_speed_sets_interval(stepper):
    c = stepper.cluster
    steps0 = c.loop.steps
    stepper.play.value = 1  # what the frontend's Play does on each tick
    stepper.play.value = 2
    assert c.loop.steps == steps0 + 2
    stepper._on_tick({"old": 2, "new": 0})  # a rewind is not a step
    assert c.loop.steps == steps0 + 2
    stepper.speed.value = 20
    assert stepper.play.interval == 50


def test_reset_replays_to_the_starting_step(stepper):
    c0 = stepper.cluster
    start = stepper.start_step
    fingerprint = c0.trace.fingerprint()
    for _ in range(5):
        stepper.step_button.click()
    stepper.play.playing = True
    stepper.reset_button.click()
    assert stepper.error.value == ""
    assert stepper.cluster is not c0
    assert stepper.cluster.loop.steps == start
    assert stepper.cluster.trace.fingerprint() == fingerprint
    assert stepper.view.cluster is stepper.cluster and stepper.view.layouts == 1
    assert stepper.play.playing is False and stepper.play.value == 0
    assert stepper.cluster.loop.steps == start  # resetting the Play counter did not step
    stepper.step_button.click()
    assert stepper.cluster.loop.steps == start + 1


def test_invalid_manifest_shows_the_api_error_and_changes_nothing(stepper):
    c = stepper.cluster
    rev = c.etcd.revision
    stepper.manifest.value = BAD_REPLICAS
    stepper.apply_button.click()  # must not raise
    shown = html.unescape(stepper.apply_result.value)
    assert "Error from server (Invalid)" in shown
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in shown
    assert c.etcd.revision == rev


def test_unparseable_manifest_shows_an_error(stepper):
    stepper.manifest.value = "kind: [unclosed"
    stepper.apply_button.click()
    assert "error" in stepper.apply_result.value


def test_valid_manifest_is_applied_and_highlighted(stepper):
    stepper.manifest.value = NGINX.replace("name: web\n", "name: web2\n", 1).split("---")[0]
    stepper.apply_button.click()
    assert "Deployment default/web2" in stepper.apply_result.value
    assert stepper.cluster.apiserver.storage_get("deployments", "default", "web2") is not None
    assert style.HIGHLIGHT in stepper.diagram.value
    assert any(e.component == "kubectl" for e in stepper.last_events)


def test_exceptions_in_callbacks_are_shown_not_raised(stepper, monkeypatch):
    def broken():
        raise RuntimeError("the loop broke")

    monkeypatch.setattr(stepper.cluster, "step", broken)
    stepper.play.playing = True
    stepper.step_button.click()
    assert "RuntimeError: the loop broke" in stepper.error.value
    assert stepper.play.playing is False
    stepper.play.value = 1  # a Play tick fails the same way
    assert "the loop broke" in stepper.error.value


def test_stepper_displays_as_a_widget(stepper):
    bundle = stepper._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
