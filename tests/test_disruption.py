"""The disruption controller: PodDisruptionBudget status (disruption_test.go behaviours) through the Cluster."""

import pytest

from k8slab import Cluster
from k8slab.controllers.disruption import get_scaled_value

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"""


def pdb(name, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(nodes=2)
    c.apply(DEPLOY)
    c.apply(pdb("min-int", minAvailable=3))
    c.apply(pdb("min-pct", minAvailable="60%"))
    c.apply(pdb("max-unavail", maxUnavailable=1))
    c.apply(pdb("max-pct", maxUnavailable="30%"))
    c.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "nothing"},
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "none"}}}})
    c.settle()
    return c


def status(c, name):
    s = c.get("pdb", name)["status"]
    return s["expectedPods"], s["desiredHealthy"], s["currentHealthy"], s["disruptionsAllowed"]


@pytest.mark.parametrize("name,want", [
    ("min-int", (4, 3, 4, 1)),
    ("min-pct", (4, 3, 4, 1)),          # ceil(60% of 4) = 3
    ("max-unavail", (4, 3, 4, 1)),
    ("max-pct", (4, 2, 4, 2)),          # 30% of 4 rounded up = 2 unavailable
    ("nothing", (0, 1, 0, 0)),          # no pods: nothing may be disrupted
])
def test_pdb_status(cluster, name, want):
    assert status(cluster, name) == want


def test_condition_and_scaling_down(cluster):
    c = cluster.replay()
    cond = c.get("pdb", "min-int")["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
    c.scale("deployment", "web", 3)
    c.settle()
    assert status(c, "min-int") == (3, 3, 3, 0)
    cond = c.get("pdb", "min-int")["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
    assert status(c, "max-unavail") == (3, 2, 3, 1)


def test_percentage_needs_a_controller():
    c = Cluster(nodes=1)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    c.apply(pdb("pct", maxUnavailable="50%"))
    c.settle()
    assert status(c, "pct") == (0, 0, 0, 0)
    ev = [e for e in c.get("events") if e["reason"] == "CalculateExpectedPodCountFailed"]
    assert ev and "found no controllers for pod 'bare'" in ev[0]["message"]


def test_get_scaled_value():
    assert get_scaled_value("30%", 4, True) == 2 and get_scaled_value("30%", 4, False) == 1
    assert get_scaled_value(2, 10, True) == 2
