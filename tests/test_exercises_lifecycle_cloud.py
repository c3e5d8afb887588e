"""Exercises 04.5-04.8 and 05.1-05.5: right answers pass, typical wrong answers get specific feedback."""

from k8slab.controllers import CustomController
from k8slab.exercises import check, hint
from k8slab.exercises.cloud import lb_retry_delays, terminated_node_timeline, _cloud_cluster
from k8slab.exercises.lifecycle import eviction_timeline


class Paint(CustomController):
    NAME = "paint-controller"
    RESOURCE = "widgets"
    OWNS = ("configmaps",)

    def reconcile(self, key):
        w = self.get(key)
        if w is None:
            return
        cms = self.owned_by("configmaps", w)
        want = {"color": w["spec"]["color"]}
        if not cms:
            self.client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": w["metadata"]["name"] + "-paint",
                                                           "namespace": w["metadata"]["namespace"],
                                                           "ownerReferences": [self.owner_reference(w)]},
                                              "data": want})
        elif cms[0].get("data") != want:
            cms[0]["data"] = want
            self.client.update("configmaps", cms[0])


class CreateOnly(Paint):
    NAME = "create-only"

    def reconcile(self, key):
        w = self.get(key)
        if w is None or self.owned_by("configmaps", w):
            return
        self.client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": w["metadata"]["name"] + "-paint",
                                                       "namespace": w["metadata"]["namespace"],
                                                       "ownerReferences": [self.owner_reference(w)]},
                                          "data": {"color": w["spec"]["color"]}})


def test_placeholders_are_not_yet_and_never_raise():
    for ex in ("04.5", "04.6", "04.7", "04.8", "05.1", "05.2", "05.3", "05.4", "05.5"):
        r = check(ex, None)
        assert not r and "Not yet" in repr(r)
        assert hint(ex).startswith(f"[{ex}] hint 1/")


def test_namespace_field():
    assert check("04.5", "spec.finalizers")
    r = check("04.5", "metadata.finalizers")
    assert not r and "finalize subresource" in r.message


def test_eviction_time():
    t = eviction_timeline()
    assert 50 < t["unknown"] <= 60 and t["tainted"] == t["unknown"] + 5
    assert check("04.6", round(t["evicted"]))
    assert "toleration alone" in check("04.6", 300).message
    assert not check("04.6", 50)


def test_orphan_policy():
    assert check("04.7", "Orphan")
    r = check("04.7", "Foreground")
    assert not r and "0 ReplicaSet(s) and 0 pod(s)" in r.message


def test_custom_controller_exercise():
    assert check("04.8", Paint)
    r = check("04.8", CreateOnly)
    assert not r and "level-triggered" in r.message
    assert "not an instance" in check("04.8", Paint.__new__(Paint)).message


def test_cloud_exercises():
    c = _cloud_cluster()
    assert check("05.1", c.get("node", "node-2")["metadata"]["labels"]["topology.kubernetes.io/zone"])
    assert "region" in check("05.1", "lab-1").message
    t = terminated_node_timeline()
    assert check("05.2", round(t["deleted"] / 1000))
    assert "grace period alone" in check("05.2", 50).message
    assert "before Kubernetes 1.32" in check("05.2", 40).message
    svc = c.get("service", "shop")
    assert check("05.3", svc["status"]["loadBalancer"]["ingress"][0]["ip"])
    assert "ClusterIP" in check("05.3", svc["spec"]["clusterIP"]).message
    assert lb_retry_delays()[:3] == [5, 10, 20]
    assert check("05.4", [5, 10, 20])
    assert "doubles" in check("05.4", [5, 5, 5]).message
    assert check("05.5", "node.cloudprovider.kubernetes.io/uninitialized")
    assert not check("05.5", "node.kubernetes.io/not-ready")
