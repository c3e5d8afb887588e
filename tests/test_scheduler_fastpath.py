"""The vectorised default profile (k8slab/scheduler/fastpath.py) against the per-plugin path: on seeded random
clusters and pods both must give the same filter verdicts, scores, chosen node, next start index, top nodes and
RNG state, or the fast path must decline (return None) so the per-plugin path runs."""

from __future__ import annotations

import random

import pytest

from k8slab.scheduler.algorithm import FitError, schedule_pod, select_host
from k8slab.scheduler.fastpath import NodeArrays, fast_schedule_pod, select_host_positions
from k8slab.scheduler.framework import CycleState, Framework, NodePluginScores, build_node_infos

IMAGES = ["nginx:1.27", "redis", "registry.k8s.io/pause:3.10"]


def rand_node(rng: random.Random, i: int) -> dict:
    cpu = rng.choice(["4", "8", "16", "3500m", "1100m", "2300m"]) if rng.random() > 0.03 else "0"
    mem = rng.choice(["8Gi", "16Gi", "32Gi", "10000Mi"]) if rng.random() > 0.03 else "0"
    alloc = {"cpu": cpu, "memory": mem, "pods": str(rng.choice([3, 20, 110, 110]))}
    if rng.random() < 0.3:
        alloc["ephemeral-storage"] = rng.choice(["10Gi", "1Gi", "300Mi"])
    spec: dict = {}
    r = rng.random()
    if r < 0.25:
        spec["taints"] = [{"key": "dedicated", "value": rng.choice(["a", "b"]), "effect": "PreferNoSchedule"}]
        if rng.random() < 0.3:
            spec["taints"].append({"key": "gpu", "effect": "PreferNoSchedule"})
    elif r < 0.26:
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    elif r < 0.27:
        spec["unschedulable"] = True
    status = {"allocatable": alloc, "capacity": alloc}
    if rng.random() < 0.2:
        status["images"] = [{"names": [rng.choice(IMAGES)], "sizeBytes": rng.choice([50, 300, 800]) * 2**20}]
    labels = {"kubernetes.io/hostname": f"n{i}"}
    if rng.random() < 0.8:
        labels["zone"] = rng.choice("abc")
    return {"metadata": {"name": f"n{i}", "labels": labels}, "spec": spec, "status": status}


def rand_requests(rng: random.Random) -> dict:
    req: dict = {}
    if rng.random() < 0.7:
        req["cpu"] = rng.choice(["100m", "250m", "1", "0", "333m", "7m"])
    if rng.random() < 0.7:
        req["memory"] = rng.choice(["500Mi", "1Gi", "64Mi"])
    if rng.random() < 0.1:
        req["ephemeral-storage"] = "200Mi"
    return req


def rand_pod(rng: random.Random, name: str, node: str | None = None, affinity: bool = False) -> dict:
    containers = [{"name": f"c{k}", "image": rng.choice(IMAGES), "resources": {"requests": rand_requests(rng)}}
                  for k in range(rng.choice([1, 1, 2]))]
    spec: dict = {"containers": containers}
    if node:
        spec["nodeName"] = node
    if rng.random() < 0.2:
        spec["tolerations"] = [rng.choice([{"key": "dedicated", "operator": "Exists"},
                                           {"key": "dedicated", "value": "a", "effect": "PreferNoSchedule"},
                                           {"operator": "Exists"}])]
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if rng.random() < 0.3:
        meta["labels"] = {"app": "w"}
    if rng.random() < 0.15:
        spec["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}}
    if rng.random() < 0.15:
        spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "zone",
                                              "whenUnsatisfiable": "ScheduleAnyway",
                                              "labelSelector": {"matchLabels": {"app": "w"}}}]
    if affinity:
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "x"}},
                                               "topologyKey": "kubernetes.io/hostname"}}]}}
    return {"metadata": meta, "spec": spec}


def rand_cluster(rng: random.Random, num_nodes: int, affinity: bool = False):
    nodes = [rand_node(rng, i) for i in range(num_nodes)]
    pods = [rand_pod(rng, f"p{k}", f"n{rng.randrange(num_nodes)}", affinity and k == 0)
            for k in range(rng.randrange(2 * num_nodes))]
    return nodes, pods


def framework(strategy: str) -> Framework:
    from k8slab.scheduler.config import load_config

    if strategy == "LeastAllocated":
        return Framework()
    cfg = load_config({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
                       "profiles": [{"schedulerName": "default-scheduler", "pluginConfig": [
                           {"name": "NodeResourcesFit", "args": {"scoringStrategy": {
                               "type": strategy, "resources": [{"name": "cpu", "weight": 3},
                                                               {"name": "memory", "weight": 1}]}}}]}]})
    return Framework(cfg.profiles()[0])


def python_path(fw, pod, nis, seed, start):
    rng = random.Random(seed)
    try:
        r = schedule_pod(fw, CycleState(), pod, nis, rng, start)
    except FitError as e:
        r = e.result
    return r, rng


def compare(fw_strategy: str, pod: dict, nis, seed: int, start: int, arrays: NodeArrays | None = None) -> bool:
    """True when the fast path took the pod (and agreed on everything); False when it declined."""
    arrays = arrays or NodeArrays()
    rng = random.Random(seed)
    fast = fast_schedule_pod(framework(fw_strategy), CycleState(), pod, arrays, nis, rng, start)
    slow, slow_rng = python_path(framework(fw_strategy), pod, nis, seed, start)
    if fast is None:
        assert rng.getstate() == random.Random(seed).getstate(), "declining must not draw from the RNG"
        return False
    assert fast.suggested_host == slow.suggested_host
    assert fast.next_start_node_index == slow.next_start_node_index
    assert (fast.feasible_nodes, fast.evaluated_nodes) == (slow.feasible_nodes, slow.evaluated_nodes)
    assert fast.skipped_filter_plugins == slow.skipped_filter_plugins
    assert fast.skipped_score_plugins == slow.skipped_score_plugins
    assert fast.top_nodes == slow.top_nodes
    assert fast.table_rows() == slow.table_rows()
    assert rng.getstate() == slow_rng.getstate()
    return True


@pytest.mark.parametrize("strategy", ["LeastAllocated", "MostAllocated"])
def test_fast_path_matches_plugins_on_random_clusters(strategy):
    rng = random.Random(7 if strategy == "LeastAllocated" else 8)
    taken = declined = 0
    for case in range(60):
        num_nodes = rng.choice([2, 3, 5, 12, 40, 130, 260]) if case % 4 else rng.choice([2, 3, 8])
        nodes, pods = rand_cluster(rng, num_nodes)
        nis = build_node_infos(nodes, pods)
        pod = rand_pod(rng, f"new{case}")
        if compare(strategy, pod, nis, seed=case, start=rng.randrange(num_nodes)):
            taken += 1
        else:
            declined += 1
    # both outcomes occur: the comparison above really ran on most cases
    assert taken >= 25 and declined >= 1, (taken, declined)


def test_ties_uniform_cluster_matches():
    # identical empty nodes: every node ties, the reservoir sampling decides
    nodes = [{"metadata": {"name": f"n{i}"}, "spec": {},
              "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}}} for i in range(300)]
    nis = build_node_infos(nodes)
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "p"},
           "spec": {"containers": [{"name": "c", "image": "pause", "resources": {"requests": {"cpu": "100m"}}}]}}
    for seed in range(5):
        assert compare("LeastAllocated", pod, nis, seed, start=seed * 37)


def test_arrays_follow_node_info_changes():
    rng = random.Random(3)
    nodes, pods = rand_cluster(rng, 150)
    nis = build_node_infos(nodes, pods)
    arrays = NodeArrays()
    for ni in nis:
        ni.on_change = arrays.touch
    pod = rand_pod(rng, "new")
    pod["spec"].pop("tolerations", None)
    taken = 0
    for step in range(30):
        taken += compare("LeastAllocated", pod, nis, step, step * 11, arrays)
        ni = nis[rng.randrange(len(nis))]
        if ni.pods and rng.random() < 0.4:
            ni.remove_pod(ni.pods[0].pod)
        else:
            ni.add_pod(rand_pod(rng, f"added{step}", ni.name))
    assert taken >= 10


def test_existing_pods_preferred_anti_affinity_is_scored_by_the_plugin():
    # kubeadm's CoreDNS carries a preferred podAntiAffinity: InterPodAffinity's PreScore does not skip for any pod
    # then, and the fast path lets the plugin score the feasible nodes, with the same result as the plugin path
    rng = random.Random(5)
    taken = 0
    for case in range(12):
        nodes, pods = rand_cluster(rng, rng.choice([5, 20, 60]))
        pods.append(rand_pod(rng, "dns", nodes[0]["metadata"]["name"], affinity=True))
        nis = build_node_infos(nodes, pods)
        pod = rand_pod(rng, f"new{case}")
        pod["spec"].pop("affinity", None)
        pod["metadata"]["labels"] = {"app": "x"}  # matched by the existing pod's anti-affinity term
        taken += compare("LeastAllocated", pod, nis, seed=case, start=0)
    assert taken >= 8


def test_declines_when_the_pod_has_affinity_terms():
    rng = random.Random(5)
    nodes, _ = rand_cluster(rng, 20)
    nis = build_node_infos(nodes)
    pod = rand_pod(rng, "p", affinity=True)
    assert fast_schedule_pod(Framework(), CycleState(), pod, NodeArrays(), nis, random.Random(0), 0) is None


def test_declines_for_custom_plugin_profile():
    from k8slab.scheduler.framework import PluginEntry, Profile, default_profile
    from k8slab.scheduler.plugins import REGISTRY

    class Zero:
        NAME = "Zero"

        def __init__(self, args=None, handle=None):
            pass

        def score(self, state, pod, node_info):
            return 0, None

    prof = default_profile()
    prof = Profile(plugins=list(prof.plugins) + [PluginEntry("Zero", 1)])
    fw = Framework(prof, registry={**REGISTRY, "Zero": Zero})
    nis = build_node_infos([rand_node(random.Random(1), i) for i in range(5)])
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert fast_schedule_pod(fw, CycleState(), pod, NodeArrays(), nis, random.Random(0), 0) is None


def test_select_host_positions_matches_select_host():
    rng = random.Random(11)
    for case in range(300):
        n = rng.choice([1, 2, 3, 4, 7, 30, 200])
        levels = rng.choice([1, 2, 3, 50])
        totals = [rng.randrange(levels) * 10 for _ in range(n)]
        scores = [NodePluginScores(f"n{i}", [], t) for i, t in enumerate(totals)]
        r1, r2 = random.Random(case), random.Random(case)
        host, top = select_host(scores, 3, r1)
        pos, top_pos = select_host_positions(totals, r2)
        assert f"n{pos}" == host
        assert [f"n{p}" for p in top_pos] == [ns.name for ns in top]
        assert r1.getstate() == r2.getstate()


def test_scheduler_places_pods_the_same_with_and_without_fast_path():
    from k8slab.apiserver import APIServer
    from k8slab.apiserver.authn import Credentials
    from k8slab.client import Client
    from k8slab.etcd import MVCCStore
    from k8slab.scheduler.scheduler import KubeScheduler
    from k8slab.sim import Loop, Trace, component_rng

    def run(fast: bool):
        loop = Loop(Trace())
        server = APIServer(loop, MVCCStore(), 0, trace_stages=False)
        server.bootstrap()
        admin = Client(server, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
        sched = KubeScheduler(server, component_rng(0, "kube-scheduler"), events=False)
        sched.fast_path = fast
        sched.start()
        loop.settle(60_000)
        admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": "default"}})
        # a Service selecting app=w: its pods get PodTopologySpread's system default constraints (DefaultSelector)
        admin.create("services", {"apiVersion": "v1", "kind": "Service",
                                  "metadata": {"name": "w", "namespace": "default"},
                                  "spec": {"selector": {"app": "w"}, "ports": [{"port": 80}]}})
        rng = random.Random(4)
        for i in range(110):
            n = rand_node(rng, i)
            n.update(apiVersion="v1", kind="Node")
            admin.create("nodes", n)
        loop.settle(60_000)
        for k in range(120):
            p = rand_pod(rng, f"p{k}")
            del p["metadata"]["uid"]
            p.update(apiVersion="v1", kind="Pod")
            admin.create("pods", p)
        loop.settle(600_000)
        placed = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in server.cache.get("pods", {}).values()}
        explained = {name: sched.explain(f"default/{name}").fillna(-1).to_dict() for name in ("p7", "p8", "p9")}
        spread = sum(1 for r in sched.results.values() if r.scored
                     and "PodTopologySpread" not in r.skipped_score_plugins)
        taken = sum(1 for r in sched.results.values() if "_fill" in r.__dict__)  # cycles the fast path ran
        return (placed, sched.next_start_node_index, explained, spread), taken

    (fast, taken), (slow, not_taken) = run(True), run(False)
    assert taken > 60 and not_taken == 0
    assert sum(1 for v in fast[0].values() if v) > 60
    assert fast[3] > 10  # pods the system default spread constraints applied to
    assert fast == slow


def test_select_host_positions_with_a_random_subclass():
    class OwnRandom(random.Random):  # overrides random(): randrange then avoids getrandbits
        def random(self):
            return super().random()

    for case in range(50):
        totals = [case % 3] * 40 + [3] * (case + 3)
        random.Random(case).shuffle(totals)
        scores = [NodePluginScores(f"n{i}", [], t) for i, t in enumerate(totals)]
        r1, r2 = OwnRandom(case), OwnRandom(case)
        host, top = select_host(scores, 3, r1)
        pos, top_pos = select_host_positions(totals, r2)
        assert (f"n{pos}", [f"n{p}" for p in top_pos]) == (host, [ns.name for ns in top])
        assert r1.getstate() == r2.getstate()
