"""ReplicaSet controller: ControllerExpectations (controller_utils_test.go TestControllerExpectations shape) and
behaviour through the Cluster: adoption of orphans, release of pods whose labels stop matching, graceful deletion
counted as observed."""

from k8slab import Cluster
from k8slab.controllers.base import EXPECTATIONS_TIMEOUT_MS, ControllerExpectations

RS = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "redis:7"}]
"""


class _Loop:
    now = 0


def test_expectations_are_satisfied_when_observed_or_expired():
    loop = _Loop()
    e = ControllerExpectations(loop)
    assert e.satisfied_expectations("ns/rs")  # nothing recorded: go ahead
    e.set_expectations("ns/rs", 3, 0)
    e.creation_observed("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied_expectations("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied_expectations("ns/rs")
    e.expect_deletions("ns/rs", 2)
    loop.now = EXPECTATIONS_TIMEOUT_MS + 1  # a lost watch event must not block the controller forever
    assert e.satisfied_expectations("ns/rs")


def _pods(c):
    return [p for p in c.apiserver.cache["pods"].values()
            if p["metadata"]["namespace"] == "default" and not p["metadata"].get("deletionTimestamp")]


def test_orphans_are_adopted_and_relabelled_pods_released():
    c = Cluster(nodes=1, seed=0)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "api"}},
             "spec": {"containers": [{"name": "c", "image": "redis:7"}]}})
    c.settle()
    c.apply(RS)
    c.settle()
    pods = _pods(c)
    assert len(pods) == 2 and "stray" in {p["metadata"]["name"] for p in pods}
    stray = c.get("pod", "stray")
    assert stray["metadata"]["ownerReferences"][0]["name"] == "api"  # adopted: only one new pod was created
    c.admin.patch("pods", "stray", {"metadata": {"labels": {"app": "debug"}}}, namespace="default")
    c.settle()
    assert not c.get("pod", "stray")["metadata"].get("ownerReferences")  # released
    assert len([p for p in _pods(c) if p["metadata"]["labels"].get("app") == "api"]) == 2  # and replaced


def test_scale_down_waits_for_nothing_extra_while_pods_terminate():
    c = Cluster(nodes=2, seed=1)
    c.apply(RS.replace("replicas: 2", "replicas: 5"))
    c.settle()
    c.scale("replicaset", "api", 2)
    c.settle()
    assert len(_pods(c)) == 2
    deletes = [e for e in c.trace if e.kind == "request" and e.component.endswith("/replicaset")
               and e.data.get("verb") == "delete"]
    assert len(deletes) == 3  # exactly the surplus, each deletion observed once
    assert c.get("replicaset", "api")["status"]["replicas"] == 2
