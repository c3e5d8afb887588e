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


# --------------------------------------------------------------------------------------------
# PodTopologySpread (system default and own ScheduleAnyway constraints) and ImageLocality over arrays
# --------------------------------------------------------------------------------------------

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def owner_objects() -> dict:
    """Services, ReplicaSets, a StatefulSet and a ReplicationController for DefaultSelector to find."""
    def svc(name, sel, ns="default"):
        return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": sel}}

    def rs(name, sel, kind_ns="default"):
        return {"metadata": {"name": name, "namespace": kind_ns}, "spec": {"selector": sel}}

    return {
        "services": [svc("w", {"app": "w"}), svc("web", {"app": "x", "tier": "web"}), svc("none", None),
                     svc("w-other", {"app": "w"}, "other")],
        "replicasets": [rs("rs-w", {"matchLabels": {"app": "w", "pod-template-hash": "h1"}}),
                        rs("rs-x", {"matchLabels": {"app": "x"},
                                    "matchExpressions": [{"key": "tier", "operator": "In",
                                                          "values": ["web", "api"]}]}),
                        rs("rs-w", {"matchLabels": {"app": "w"}}, "other")],
        "statefulsets": [rs("db", {"matchExpressions": [{"key": "role", "operator": "Exists"}]})],
        "replicationcontrollers": [rs("rc", {"app": "w"})],
    }


OWNERS = [("apps/v1", "ReplicaSet", "rs-w"), ("apps/v1", "ReplicaSet", "rs-x"), ("apps/v1", "ReplicaSet", "gone"),
          ("apps/v1", "StatefulSet", "db"), ("v1", "ReplicationController", "rc"), ("batch/v1", "Job", "j")]
LABEL_SETS = [{"app": "w", "pod-template-hash": "h1"}, {"app": "x", "tier": "web"}, {"app": "x", "tier": "api"},
              {"app": "w"}, {"role": "db", "app": "w"}, {}]


def spread_node(rng: random.Random, i: int) -> dict:
    n = rand_node(rng, i)
    labels = n["metadata"]["labels"]
    if rng.random() < 0.05:
        labels.pop(HOST)
    if rng.random() < 0.7:
        labels[ZONE] = rng.choice(["z1", "z2", "z3", ""])
    return n


def spread_pod(rng: random.Random, name: str, node: str | None = None) -> dict:
    p = rand_pod(rng, name, node)
    p["spec"].pop("affinity", None) if rng.random() < 0.7 else None
    meta = p["metadata"]
    meta["labels"] = dict(rng.choice(LABEL_SETS))
    if rng.random() < 0.85:
        api, kind, owner = rng.choice(OWNERS)
        meta["ownerReferences"] = [{"apiVersion": api, "kind": kind, "name": owner, "controller": True}]
    if node and rng.random() < 0.1:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if node and rng.random() < 0.1:
        meta["namespace"] = "other"
    if node and rng.random() < 0.15:
        # existing pods' preferred (anti-)affinity and required affinity: InterPodAffinity scores every new pod
        term = {"labelSelector": {"matchLabels": {"app": rng.choice(["w", "x"])}},
                "topologyKey": rng.choice([HOST, ZONE, "zone"])}
        kind = rng.choice(["podAffinity", "podAntiAffinity", "required"])
        if kind == "required":
            p["spec"]["affinity"] = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        else:
            p["spec"]["affinity"] = {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": rng.choice([1, 10, 100]), "podAffinityTerm": term}]}}
    if rng.random() < 0.25:
        p["spec"]["topologySpreadConstraints"] = [
            {"maxSkew": rng.choice([1, 2, 4]), "topologyKey": rng.choice(["zone", ZONE, HOST]),
             "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": rng.choice(["w", "x"])}},
             "nodeTaintsPolicy": rng.choice(["Honor", "Ignore"])}
            for _ in range(rng.choice([1, 2]))]
        if rng.random() < 0.3:
            p["spec"]["topologySpreadConstraints"][0]["matchLabelKeys"] = ["tier"]
    return p


def with_listers(fw: Framework, objects: dict, by_name: bool) -> Framework:
    fw.list_objects = lambda resource, ns: [o for o in objects.get(resource, [])
                                            if ns is None or o["metadata"]["namespace"] == ns]
    if by_name:
        fw.get_object = lambda resource, ns, name: next(
            (o for o in objects.get(resource, []) if o["metadata"]["namespace"] == ns
             and o["metadata"]["name"] == name), None)
    return fw


def compare_spread(pod: dict, nis, seed: int, start: int, arrays: NodeArrays | None = None):
    """compare() with the owner objects listed: the fast path finds owners by name, the plugin path by listing.
    Returns the fast path's result (None when it declined)."""
    objects = owner_objects()
    arrays = arrays or NodeArrays()
    rng = random.Random(seed)
    fw = with_listers(Framework(), objects, True)
    fw.services_version = lambda: 0
    fast = fast_schedule_pod(fw, CycleState(), pod, arrays, nis, rng, start)
    slow_rng = random.Random(seed)
    try:
        slow = schedule_pod(with_listers(Framework(), objects, False), CycleState(), pod, nis, slow_rng, start)
    except FitError as e:
        slow = e.result
    if fast is None:
        assert rng.getstate() == random.Random(seed).getstate()
        return None
    assert fast.suggested_host == slow.suggested_host
    assert fast.next_start_node_index == slow.next_start_node_index
    assert (fast.feasible_nodes, fast.evaluated_nodes) == (slow.feasible_nodes, slow.evaluated_nodes)
    assert fast.skipped_score_plugins == slow.skipped_score_plugins
    assert fast.top_nodes == slow.top_nodes
    assert fast.table_rows() == slow.table_rows()
    assert rng.getstate() == slow_rng.getstate()
    return fast


def test_default_spreading_and_image_locality_match_plugins():
    rng = random.Random(21)
    spread = affinity = 0
    for case in range(70):
        num_nodes = rng.choice([2, 3, 7, 30, 120, 240])
        nodes = [spread_node(rng, i) for i in range(num_nodes)]
        pods = [spread_pod(rng, f"p{k}", f"n{rng.randrange(num_nodes)}") for k in range(rng.randrange(3 * num_nodes))]
        nis = build_node_infos(nodes, pods)
        r = compare_spread(spread_pod(rng, f"new{case}"), nis, seed=case, start=rng.randrange(num_nodes))
        if r is not None and "PodTopologySpread" not in r.skipped_score_plugins:
            spread += 1
        affinity += r is not None and "InterPodAffinity" not in r.skipped_score_plugins
    assert spread >= 30 and affinity >= 15, (spread, affinity)


def test_match_columns_follow_pod_changes():
    # the scheduler's wiring: NodeInfos report changes to the arrays, whose match columns move with each pod
    rng = random.Random(9)
    nodes = [spread_node(rng, i) for i in range(60)]
    pods = [spread_pod(rng, f"p{k}", f"n{rng.randrange(60)}") for k in range(150)]
    nis = build_node_infos(nodes, pods)
    arrays = NodeArrays()
    for ni in nis:
        ni.on_change = arrays.touch
        ni.on_pod_change = arrays.pod_changed
    spread = 0
    for step in range(40):
        pod = spread_pod(rng, f"new{step}")
        pod["spec"].pop("tolerations", None)
        r = compare_spread(pod, nis, step, step * 7, arrays)
        spread += r is not None and "PodTopologySpread" not in r.skipped_score_plugins
        for _ in range(3):
            ni = nis[rng.randrange(len(nis))]
            if ni.pods and rng.random() < 0.4:
                ni.remove_pod(ni.pods[rng.randrange(len(ni.pods))].pod)
            else:
                ni.add_pod(spread_pod(rng, f"added{step}-{_}", ni.name))
    assert arrays.hooked and len(arrays.match_cols) >= 3
    for (_, ns), col in arrays.match_cols.items():
        from k8slab.scheduler.plugins.podtopologyspread import count_pods_match_selector
        assert col.counts.tolist() == [count_pods_match_selector(ni.pods, col.selector, ns) for ni in nis]
    assert spread >= 20, spread


def test_image_locality_over_columns():
    from k8slab.scheduler.plugins.imagelocality import ImageLocality

    rng = random.Random(2)
    nodes = [rand_node(rng, i) for i in range(50)]
    for n in nodes:
        n["status"]["images"] = [{"names": [img], "sizeBytes": rng.choice([10, 300, 900, 2000]) * 2**20}
                                 for img in IMAGES if rng.random() < 0.5]
    nis = build_node_infos(nodes)
    arrays = NodeArrays()
    arrays.sync(nis)
    import numpy as np

    from k8slab.scheduler.fastpath import _image_score
    pl = ImageLocality(handle=type("H", (), {"snapshot": nis})())
    for k in range(20):
        pod = rand_pod(rng, f"p{k}")
        if k % 5 == 0:
            pod["spec"]["initContainers"] = [{"name": "init", "image": rng.choice(IMAGES)}]
        got = _image_score(np, arrays, np.arange(len(nis)), pod, len(nis)).tolist()
        assert got == [pl.score(CycleState(), pod, ni)[0] for ni in nis]


def test_default_constraints_memo_follows_owner_and_services():
    from k8slab.scheduler.plugins.podtopologyspread import default_selector

    objects = owner_objects()
    for kind in objects.values():
        for o in kind:
            o["metadata"]["resourceVersion"] = "1"
    version = [0]
    fw = with_listers(Framework(), objects, True)
    fw.services_version = lambda: version[0]
    pl = fw.plugins["PodTopologySpread"]
    pod = {"metadata": {"name": "p", "namespace": "default", "labels": {"app": "w", "pod-template-hash": "h1"},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs-w",
                                             "controller": True}]}, "spec": {}}

    def built():
        cs = pl.build_default_constraints(pod, "ScheduleAnyway")
        assert [c.topology_key for c in cs] == [HOST, ZONE]
        return str(cs[0].selector)

    def expected():
        return str(default_selector(pod, fw.list_objects))

    assert built() == expected() == "app=w,app=w,pod-template-hash=h1"
    assert pl.build_default_constraints(pod, "DoNotSchedule") == []
    # the ReplicaSet's selector changes with a new resourceVersion
    rs = objects["replicasets"][0]
    objects["replicasets"][0] = {"metadata": {"name": "rs-w", "namespace": "default", "resourceVersion": "2"},
                                 "spec": {"selector": {"matchLabels": {"app": "w"}}}}
    assert built() == expected() == "app=w,app=w"
    # a Service stops selecting the pod: the version moves
    objects["services"][0] = {"metadata": {"name": "w", "namespace": "default"}, "spec": {"selector": {"app": "v"}}}
    version[0] += 1
    assert built() == expected() == "app=w"
    objects["replicasets"][0] = rs
    assert built() == expected() == "app=w,pod-template-hash=h1"


def test_tied_pop_order_is_the_heap_order_of_the_top_nodes():
    from k8slab.scheduler.fastpath import _heap_order, _tied_pop_order

    rng = random.Random(12)
    for case in range(400):
        n = rng.choice([3, 4, 5, 9, 16, 33, 100, 257])
        p = rng.choice([0.1, 0.5, 0.9, 1.0])
        bits = [rng.random() < p for _ in range(n)]
        k = sum(bits)
        if k < 3:
            continue
        order = _heap_order([int(b) for b in bits], 3)  # container/heap on the totals: every top node, in order
        assert len(order) == k
        for need in {3, rng.randrange(3, k + 1), k}:
            assert _tied_pop_order(bits, need) == order[:need]


def test_tied_pop_order_on_mostly_tied_large_heaps():
    from k8slab.scheduler.fastpath import _heap_order, _tied_pop_order

    rng = random.Random(13)
    for case in range(60):
        n = rng.choice([420, 1000])
        bits = [rng.random() < rng.choice([0.6, 0.75, 0.95]) for _ in range(n)]
        order = _heap_order([int(b) for b in bits], 3)
        for need in (1, 3, rng.randrange(3, sum(bits) + 1), sum(bits)):
            assert _tied_pop_order(bits, need) == order[:need]


def test_spreading_when_no_node_or_every_node_has_the_topology_label():
    # a topology label on no node adds nothing to any score; on every node it is added everywhere
    rng = random.Random(23)
    spread = 0
    for case in range(40):
        num_nodes = rng.choice([2, 5, 30, 120])
        zone = case % 2 == 0
        nodes = []
        for i in range(num_nodes):
            n = rand_node(rng, i)
            n["metadata"]["labels"].pop(ZONE, None)
            if zone:
                n["metadata"]["labels"][ZONE] = rng.choice(["z1", "z2"])
            nodes.append(n)
        pods = [spread_pod(rng, f"p{k}", f"n{rng.randrange(num_nodes)}") for k in range(rng.randrange(3 * num_nodes))]
        nis = build_node_infos(nodes, pods)
        r = compare_spread(spread_pod(rng, f"new{case}"), nis, seed=case, start=rng.randrange(num_nodes))
        spread += r is not None and "PodTopologySpread" not in r.skipped_score_plugins
    assert spread >= 10, spread
