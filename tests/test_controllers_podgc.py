"""The pod garbage collector (pkg/controller/podgc): terminated pods over the threshold, oldest first."""

from k8slab import Cluster
from k8slab.cri import Behavior


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1.36"}]}}


def test_terminated_pods_over_the_threshold_are_deleted_oldest_first():
    c = Cluster(nodes=1, seed=0)
    gc = c.controller_manager["podgc"]
    gc.terminated_pod_threshold = 2
    runtime = c.node(c.nodes[0]).runtime
    names = ["d", "b", "c", "a", "e"]  # created in this order, so "d" is the oldest
    for i, name in enumerate(names):
        runtime.set_behavior(name, "work", Behavior(run_ms=100, exit_code=0))
        c.apply(pod(name))
        c.run(2)
    c.settle()
    assert all(c.get("pod", n)["status"]["phase"] == "Succeeded" for n in names)
    c.run(25)  # one podgc pass (every 20 s)
    left = sorted(p["metadata"]["name"] for p in c.apiserver.cache["pods"].values()
                  if p["metadata"]["namespace"] == "default")
    assert left == ["a", "e"]
    deleted = [key for _, key, why in gc.deleted if why == "terminated pods over the threshold"]
    assert deleted == ["default/d", "default/b", "default/c"]
