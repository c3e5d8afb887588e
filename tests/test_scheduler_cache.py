"""The scheduler cache's NodeInfos through pod updates: replace_pod is RemovePod + AddPod when nothing derived
from the pod changes, and the cache of a settled cluster equals NodeInfos built afresh from its pods."""

import copy

from k8slab import Cluster
from k8slab.scheduler.framework import NodeInfo, build_node_infos


def node() -> dict:
    return {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}


def pod(name: str, cpu: str = "100m", port: int | None = None, affinity: bool = False) -> dict:
    c = {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
    if port:
        c["ports"] = [{"containerPort": 80, "hostPort": port}]
    spec = {"nodeName": "n1", "containers": [c]}
    if affinity:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "a"}},
            "spec": spec, "status": {"phase": "Pending"}}


def state(ni: NodeInfo) -> tuple:
    return ([p.key for p in ni.pods], [p.key for p in ni.pods_with_affinity],
            [p.key for p in ni.pods_with_required_anti_affinity], [id(p.pod) for p in ni.pods],
            vars(ni.requested), vars(ni.non_zero_requested), ni.used_ports)


def test_replace_pod_is_remove_then_add_for_a_status_update():
    pods = [pod("a", affinity=True), pod("b", port=8080), pod("c", affinity=True)]
    fast, slow = NodeInfo(node(), pods), NodeInfo(node(), pods)
    new = copy.deepcopy(pods[0])
    new["status"] = {"phase": "Running", "podIP": "10.0.0.5"}
    gen = fast.generation
    changed = []
    fast.on_change = changed.append
    assert fast.replace_pod(new)
    slow.remove_pod(pods[0])
    slow.add_pod(new)
    assert state(fast) == state(slow)
    assert [p.key for p in fast.pods] == ["uid-b", "uid-c", "uid-a"]  # moved to the end, as AddPod appends
    assert fast.pods[-1].pod is new and fast.generation != gen and changed == [fast]


def test_replace_pod_declines_when_something_derived_changes():
    pods = [pod("a"), pod("b", port=8080)]
    for change in ("cpu", "port", "labels", "deletion", "unknown"):
        ni = NodeInfo(node(), pods)
        before, gen = state(ni), ni.generation
        new = copy.deepcopy(pods[1])
        if change == "cpu":
            new["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "2"
        elif change == "port":
            new["spec"]["containers"][0]["ports"][0]["hostPort"] = 9090
        elif change == "labels":
            new["metadata"]["labels"] = {"app": "b"}
        elif change == "deletion":
            new["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
        else:
            new["metadata"]["uid"] = "uid-z"
        assert not ni.replace_pod(new), change
        assert state(ni) == before and ni.generation == gen


def test_cache_of_a_settled_cluster_matches_its_pods():
    c = Cluster(nodes=3)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
             "spec": {"replicas": 7, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {
                                       "requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
    c.settle()
    sched = c.scheduler
    assert not sched.assumed
    pods = [p for p in sched.pod_informer.list() if p["spec"].get("nodeName")
            and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
    assert sum(1 for p in pods if p["metadata"]["name"].startswith("web-")) == 7
    assert all(p.get("status", {}).get("phase") == "Running" for p in pods if p["metadata"]["name"].startswith("web-"))
    fresh = {ni.name: ni for ni in build_node_infos([n.node for n in sched.node_infos.values()], pods)}
    for name, ni in sched.node_infos.items():
        # the cache holds the informer's latest version of each pod, with the same sums
        assert {p.key: id(p.pod) for p in ni.pods} == {p.key: id(p.pod) for p in fresh[name].pods}
        assert vars(ni.requested) == vars(fresh[name].requested)
        assert vars(ni.non_zero_requested) == vars(fresh[name].non_zero_requested)
        assert ni.used_ports == fresh[name].used_ports


def test_known_requests_key_is_used_only_until_forgotten():
    from k8slab.api.objects import forget_requests_keys, know_requests_key
    from k8slab.scheduler.framework import calculate_resource

    p = pod("a", cpu="250m")
    copy_of_p = copy.deepcopy(p)
    know_requests_key(p, copy_of_p)
    try:
        assert calculate_resource(p).resource.milli_cpu == 250
        assert calculate_resource(copy_of_p).resource.milli_cpu == 250
        other = pod("b", cpu="1")  # not known: its own key
        assert calculate_resource(other).resource.milli_cpu == 1000
    finally:
        forget_requests_keys()
    p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "2"
    assert calculate_resource(p).resource.milli_cpu == 2000
