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


def test_orphans_of_another_namespace_are_not_candidates():
    # the controller-UID index files orphans per namespace (OrphanPodIndexKeyForNamespace)
    c = Cluster(nodes=1, seed=0)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    c.settle()  # the ServiceAccounts controller creates its default ServiceAccount
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "api"}},
             "spec": {"containers": [{"name": "c", "image": "redis:7"}]}}, namespace="other")
    c.settle()
    c.apply(RS)
    c.settle()
    assert not c.get("pod", "stray", namespace="other")["metadata"].get("ownerReferences")
    assert len(_pods(c)) == 2


def test_status_follows_template_labels_and_pod_readiness():
    # what the sync reads of a pod is memoised on the pod's resourceVersion and the ReplicaSet's selector and
    # template labels: a template change alone must still recount fullyLabeledReplicas
    c = Cluster(nodes=1, seed=0)
    c.apply(RS)
    c.settle()
    st = c.get("replicaset", "api")["status"]
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["availableReplicas"]) == (2, 2, 2, 2)
    c.apply(RS.replace("metadata: {labels: {app: api}}", "metadata: {labels: {app: api, tier: db}}"))
    c.settle()
    st = c.get("replicaset", "api")["status"]
    assert st["replicas"] == 2 and st.get("fullyLabeledReplicas", 0) == 0 and st["readyReplicas"] == 2
    name = sorted(p["metadata"]["name"] for p in _pods(c))[0]
    c.admin.patch("pods", name, {"metadata": {"labels": {"tier": "db"}}}, namespace="default")
    c.settle()
    assert c.get("replicaset", "api")["status"]["fullyLabeledReplicas"] == 1


def test_claim_state_matches_a_full_recount():
    # the sync recomputes only the pods whose events arrived; after scaling, relabelling and deleting, each
    # ReplicaSet's counts must equal a recount over every pod the controller-UID index lists for it
    from k8slab.controllers.base import POD_CONTROLLER_UID_INDEX
    from k8slab.controllers.replicaset import pod_claim_facts

    c = Cluster(nodes=2, seed=3)
    c.apply(RS.replace("replicas: 2", "replicas: 6"))
    c.settle()
    names = sorted(p["metadata"]["name"] for p in _pods(c))
    c.admin.patch("pods", names[0], {"metadata": {"labels": {"app": "debug"}}}, namespace="default")
    c.delete("pod", names[1])
    c.scale("replicaset", "api", 4)
    c.settle()
    ctrl = c.controller_manager["replicaset"]
    for key, st in ctrl._claims.items():
        rs = ctrl.rs_informer.get(key)
        sel, tmpl = rs["spec"]["selector"], rs["spec"]["template"]["metadata"]["labels"]
        pods = ctrl.pod_informer.by_index(POD_CONTROLLER_UID_INDEX, rs["metadata"]["uid"])
        facts = [pod_claim_facts(p, sel, tmpl) for p in pods]
        claimed = [f for f in facts if f[1] and f[2]]
        assert (st.claimed, st.labeled, st.ready) == (len(claimed), sum(f[3] for f in claimed),
                                                      sum(f[4] for f in claimed))
        assert st.facts == {f"{p['metadata']['namespace']}/{p['metadata']['name']}": f for p, f in zip(pods, facts)}
    st = ctrl._claims["default/api"]
    assert st.claimed == 4 == c.get("replicaset", "api")["status"]["replicas"]
