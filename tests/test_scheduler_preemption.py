"""DefaultPreemption: victims, reprieve, PDBs, pickOneNodeForPreemption's order (default_preemption_test.go,
preemption_test.go), and preemption through the Cluster."""

import random

import pytest

from k8slab import Cluster
from k8slab.scheduler.algorithm import FitError, schedule_pod
from k8slab.scheduler.framework import CycleState, Framework, build_node_infos
from k8slab.scheduler.preemption import (
    Candidate, calculate_num_candidates, filter_pods_with_pdb_violation, pick_one_node_for_preemption,
    select_victims_on_node,
)


def p(name, prio=0, start="2026-01-01T00:00:00Z", cpu="1", node=None, labels=None):
    pod = {"metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels or {}},
           "spec": {"priority": prio, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
           "status": {"startTime": start}}
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def test_calculate_num_candidates():
    assert calculate_num_candidates(50) == 50
    assert calculate_num_candidates(5000) == 500
    assert calculate_num_candidates(200) == 100
    assert calculate_num_candidates(5000, 0, 10) == 10


@pytest.mark.parametrize("cands,want", [
    # 1. fewest PDB violations
    ([Candidate("a", [p("x", 0)], 1), Candidate("b", [p("y", 100)], 0)], "b"),
    # 2. lowest highest-victim priority
    ([Candidate("a", [p("x", 100)]), Candidate("b", [p("y", 50), p("z", 50)])], "b"),
    # 3. smallest sum of priorities (each + MaxInt32 + 1)
    ([Candidate("a", [p("x", 50), p("y", 40)]), Candidate("b", [p("z", 50), p("w", 10)])], "b"),
    # 4. fewest victims (negative priorities: the offset keeps more pods worse)
    ([Candidate("a", [p("x", -10), p("y", -10)]), Candidate("b", [p("z", -10)])], "b"),
    # 5. latest start time of the highest-priority victims
    ([Candidate("a", [p("x", 10, "2026-01-01T00:00:00Z")]), Candidate("b", [p("y", 10, "2026-01-01T01:00:00Z")])],
     "b"),
    # 6. otherwise the first remaining node
    ([Candidate("a", [p("x", 10)]), Candidate("b", [p("y", 10)])], "a"),
])
def test_pick_one_node_for_preemption(cands, want):
    assert pick_one_node_for_preemption(cands) == want


def pdb(allowed, labels, disrupted=None):
    return {"metadata": {"name": "pdb", "namespace": "default"}, "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}}}


def test_filter_pods_with_pdb_violation_counts_down_per_budget():
    pods = [p("a", labels={"app": "web"}), p("b", labels={"app": "web"}), p("c", labels={"app": "db"}), p("d")]
    violating, ok = filter_pods_with_pdb_violation(pods, [pdb(1, {"app": "web"})])
    assert [x["metadata"]["name"] for x in violating] == ["b"]
    assert [x["metadata"]["name"] for x in ok] == ["a", "c", "d"]
    # a pod already in disruptedPods is not counted again
    violating, _ = filter_pods_with_pdb_violation(pods, [pdb(0, {"app": "web"}, {"a": "t"})])
    assert [x["metadata"]["name"] for x in violating] == ["b"]


def node(name, cpu="2", labels=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}}


def test_select_victims_reprieves_the_more_important_pod():
    infos = build_node_infos([node("n")], [p("low", 0, node="n", labels={"app": "x"}), p("mid", 10, node="n")])
    fw = Framework()
    fw.snapshot = infos
    preemptor = p("vip", 100)
    state = CycleState()
    fw.run_pre_filter_plugins(state, preemptor, infos)
    victims, violations, status = select_victims_on_node(fw, state, preemptor, infos[0].snapshot(), [])
    assert status is None and violations == 0
    assert [v["metadata"]["name"] for v in victims] == ["low"]
    # with a budget protecting "low", PDB-violating pods are reprieved first: "low" stays, "mid" goes
    victims, violations, _ = select_victims_on_node(
        fw, state, preemptor, infos[0].snapshot(), [pdb(0, {"app": "x"})])
    assert [v["metadata"]["name"] for v in victims] == ["mid"] and violations == 0


def test_no_lower_priority_pods_means_no_victims():
    infos = build_node_infos([node("n")], [p("busy", 100, cpu="2", node="n")])
    fw = Framework()
    fw.snapshot = infos
    with pytest.raises(FitError) as err:
        schedule_pod(fw, CycleState(), p("same", 100), infos, random.Random(0))
    result, status = fw.run_post_filter_plugins(CycleState(), p("same", 100), err.value.diagnosis.node_to_status)
    assert status.message() == ("preemption: 0/1 nodes are available: 1 No preemption victims found for incoming "
                                "pod.")
    assert result.nominating_info.nominated_node_name == ""


# --- through the cluster --------------------------------------------------------------------------------------

def pod(name, cpu, pc=None, labels=None, **spec):
    s = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]}
    if pc:
        s["priorityClassName"] = pc
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": s}


HIGH = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}


@pytest.fixture(scope="module")
def full():
    c = Cluster(nodes=2, node_cpu="2")
    c.apply(HIGH)
    c.apply(pod("low-1", "1500m", labels={"app": "a"}))
    c.apply(pod("low-2", "1500m", labels={"app": "b"}))
    c.settle()
    return c


def test_preemption_evicts_a_lower_priority_pod_and_nominates_the_node(full):
    c = full.replay()
    node_of = {x["metadata"]["name"]: x["spec"]["nodeName"] for x in c.get("pods")}
    c.apply(pod("vip", "1500m", "high"))
    c.run(seconds=1)
    vip = c.get("pod", "vip")
    nominated = vip["status"]["nominatedNodeName"]
    victim = next(name for name, n in node_of.items() if n == nominated)
    events = [e for e in c.get("events") if e["reason"] == "Preempted"]
    assert events[0]["involvedObject"]["name"] == victim
    assert events[0]["message"] == f"Preempted by pod {vip['metadata']['uid']} on node {nominated}"
    c.settle()
    assert c.get("pod", "vip")["spec"]["nodeName"] == nominated
    assert victim not in {x["metadata"]["name"] for x in c.get("pods")}


def test_preemption_respects_a_pod_disruption_budget(full):
    c = full.replay()
    node_of = {x["metadata"]["name"]: x["spec"]["nodeName"] for x in c.get("pods")}
    c.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "protect-a"},
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}}})
    c.settle()
    assert c.get("pdb", "protect-a")["status"]["disruptionsAllowed"] == 0
    c.apply(pod("vip", "1500m", "high"))
    c.run(seconds=1)
    assert c.get("pod", "vip")["status"]["nominatedNodeName"] == node_of["low-2"]   # low-1 is protected


def test_victim_gets_the_disruption_target_condition(full):
    c = full.replay()
    c.apply(pod("vip", "1500m", "high"))
    victims = []
    for _ in range(500):                      # step until the victim is being deleted (graceful deletion)
        c.step()
        victims = [x for x in c.get("pods") if x["metadata"].get("deletionTimestamp")]
        if victims:
            break
    assert len(victims) == 1
    cond = next(x for x in victims[0]["status"]["conditions"] if x["type"] == "DisruptionTarget")
    assert (cond["reason"], cond["message"]) == ("PreemptionByScheduler",
                                                 "default-scheduler: preempting to accommodate a higher priority pod")


def test_preemption_policy_never(full):
    c = full.replay()
    c.apply(pod("polite", "1500m", "high", preemptionPolicy="Never"))
    c.run(seconds=2)
    msgs = [e["message"] for e in c.get("events") if e["reason"] == "FailedScheduling"
            and e["involvedObject"]["name"] == "polite"]
    assert msgs[0].endswith("preemption: not eligible due to preemptionPolicy=Never.")
    assert len(c.get("pods")) == 3


def test_preemption_cannot_fix_a_taint(full):
    c = full.replay()
    c.apply(pod("vip", "1500m", "high", nodeSelector={"kubernetes.io/hostname": "control-plane"}))
    c.run(seconds=2)
    msg = next(e["message"] for e in c.get("events") if e["reason"] == "FailedScheduling")
    assert msg == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                   "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
                   "3 Preemption is not helpful for scheduling.")


def test_priority_class_global_default():
    c = Cluster(nodes=1)
    c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "standard"},
             "value": 100, "globalDefault": True})
    with pytest.raises(Exception, match="PriorityClass standard is already marked as default. Only one default can "
                                        "exist"):
        c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "other"},
                 "value": 5, "globalDefault": True})
    c.apply(pod("plain", "100m"))
    spec = c.get("pod", "plain")["spec"]
    assert (spec["priorityClassName"], spec["priority"]) == ("standard", 100)
    c.apply(pod("explicit", "100m", "system-cluster-critical"))
    assert c.get("pod", "explicit")["spec"]["priority"] == 2000000000
