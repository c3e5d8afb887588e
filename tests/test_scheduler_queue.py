"""The scheduling queue: backoff arithmetic, PreEnqueue (SchedulingGates), events moving pods out of
unschedulablePods only when a plugin that rejected them registered for the event, the 5-minute flush
(scheduling_queue_test.go behaviours), through the Cluster."""

import pytest

from k8slab import Cluster
from k8slab.api.objects import deepcopy
from k8slab.scheduler.queue import SchedulingQueue, calculate_backoff_duration, event_matches
from k8slab.scheduler.plugins.prioritysort import PrioritySort


@pytest.mark.parametrize("attempts,ms", [(0, 0), (1, 1000), (2, 2000), (3, 4000), (4, 8000), (5, 10_000),
                                          (6, 10_000), (40, 10_000)])
def test_backoff_doubles_from_1s_to_10s(attempts, ms):
    assert calculate_backoff_duration(attempts) == ms


def test_event_matching():
    assert event_matches("Node/All", "Node/UpdateNodeLabel")
    assert event_matches("Node/Update", "Node/UpdateNodeTaint")
    assert not event_matches("Node/UpdateNodeLabel", "Node/UpdateNodeTaint")
    assert not event_matches("Pod/Delete", "Node/Add")
    assert event_matches("*", "Pod/Add")


def qpod(name, priority=0):
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"priority": priority}}


def test_active_queue_is_ordered_by_priority_then_arrival():
    now = [0]
    q = SchedulingQueue(PrioritySort().less, lambda: now[0])
    for name, prio in [("low", 0), ("high", 100), ("low-2", 0), ("mid", 50)]:
        q.add(qpod(name, prio))
        now[0] += 10
    assert [q.pop().pod["metadata"]["name"] for _ in range(4)] == ["high", "mid", "low", "low-2"]


def test_priority_sort_key_gives_the_order_of_the_less_function():
    # PrioritySort's Less is compared as a tuple key; any other Less (here a wrapper) goes through cmp_to_key
    import random

    rng = random.Random(3)
    ps = PrioritySort()
    runs = []
    for less in (ps.less, lambda a, b: ps.less(a, b)):
        rng.seed(3)
        now = [0]
        q = SchedulingQueue(less, lambda: now[0])
        order = []
        for step in range(600):
            r = rng.random()
            if r < 0.5:
                q.add(qpod(f"p{step}", rng.choice([0, 0, 10, 1000, -5])))
            elif r < 0.8:
                qp = q.pop()
                if qp is not None:
                    order.append(qp.pod["metadata"]["name"])
                    if rng.random() < 0.5:
                        q.add_unschedulable(qp, backoff_only=True)
            else:
                q.flush_backoff_completed()
            now[0] += rng.choice([0, 0, 5, 1500])
        runs.append(order)
    assert runs[0] == runs[1] and len(runs[0]) > 100, len(runs[0])


def test_unschedulable_pod_waits_for_a_matching_event_only():
    now = [0]
    q = SchedulingQueue(PrioritySort().less, lambda: now[0],
                        events=lambda plugin: {"NodeResourcesFit": ["Pod/Delete", "Node/Add"]}.get(plugin, ["*"]))
    q.add(qpod("big"))
    qp = q.pop()
    qp.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qp)
    assert q.move_all_to_active_or_backoff("Node/UpdateNodeLabel") == 0
    assert q.pending_pods()["unschedulablePods"] == ["default/big"]
    assert q.move_all_to_active_or_backoff("Pod/Delete") == 1
    assert q.pending_pods()["backoffQ"] == ["default/big"]          # still backing off (1 s)
    now[0] = 1000
    assert q.flush_backoff_completed() == 1 and len(q) == 1


def pod(name, **spec):
    s = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": spec.pop("cpu", "100m")}}}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


@pytest.fixture(scope="module")
def base():
    return Cluster(nodes=2)


def test_node_label_moves_a_pod_rejected_by_node_affinity_but_not_one_rejected_by_fit(base):
    c = base.replay()
    c.apply(pod("needs-ssd", nodeSelector={"disk": "ssd"}))
    c.apply(pod("too-big", cpu="16"))
    c.run(seconds=2)
    q = c.scheduler.queue
    assert q.pending_pods()["unschedulablePods"] == ["default/needs-ssd", "default/too-big"]
    # the control-plane node is rejected by its taint
    assert q.unschedulable["default/needs-ssd"].unschedulable_plugins == {"NodeAffinity", "TaintToleration"}
    assert q.unschedulable["default/too-big"].unschedulable_plugins == {"NodeResourcesFit", "TaintToleration"}
    node = c.get("node", "node-1")
    node["metadata"]["labels"]["disk"] = "ssd"
    c.apply(node)
    c.run(seconds=2)
    assert c.get("pod", "needs-ssd")["spec"]["nodeName"] == "node-1"
    assert q.pending_pods()["unschedulablePods"] == ["default/too-big"]   # a label change cannot help it
    attempts = q.unschedulable["default/too-big"].attempts
    # flushUnschedulablePodsLeftover: after 5 minutes (checked every 30 s) it is tried again anyway
    c.run(seconds=240)
    assert q.unschedulable["default/too-big"].attempts == attempts
    c.run(seconds=100)
    assert q.unschedulable["default/too-big"].attempts == attempts + 1


def test_deleting_an_assigned_pod_moves_a_pod_rejected_for_resources(base):
    c = base.replay()
    c.apply(pod("filler-1", cpu="3"))
    c.apply(pod("filler-2", cpu="3"))
    c.settle()
    c.apply(pod("waiting", cpu="2"))
    c.run(seconds=2)
    assert "default/waiting" in c.scheduler.queue.pending_pods()["unschedulablePods"]
    c.delete("pod", "filler-1")
    c.settle()
    assert c.get("pod", "waiting")["spec"].get("nodeName")


def test_scheduling_gates_hold_a_pod_until_removed(base):
    c = base.replay()
    c.apply(pod("gated", schedulingGates=[{"name": "example.com/quota"}]))
    c.run(seconds=5)
    q = c.scheduler.queue
    assert q.pending_pods()["gated"] == ["default/gated"]
    assert q.unschedulable["default/gated"].gating_message == "waiting for scheduling gates: [example.com/quota]"
    assert not [e for e in c.get("events") if e["involvedObject"]["name"] == "gated"]   # never tried
    c.run(seconds=400)                                           # the 5-minute flush leaves it gated
    assert q.pending_pods()["gated"] == ["default/gated"]
    p = deepcopy(c.get("pod", "gated"))
    del p["spec"]["schedulingGates"]
    c.apply(p)
    c.settle()
    assert c.get("pod", "gated")["spec"].get("nodeName")


def test_failed_cycle_backs_off_1s_then_2s(base):
    c = base.replay()
    c.apply(pod("x", nodeSelector={"nope": "1"}))
    c.run(seconds=1)
    qp = c.scheduler.queue.unschedulable["default/x"]
    assert qp.attempts == 1
    assert c.scheduler.queue.backoff_expiry(qp) - qp.timestamp == 1000
    qp.attempts = 2
    assert c.scheduler.queue.backoff_expiry(qp) - qp.timestamp == 2000


def test_queue_history_records_a_burst(base):
    c = base.replay()
    for i in range(20):
        c.apply(pod(f"burst-{i}"))
    c.settle()
    history = c.scheduler.queue_history
    assert max(active for _, active, _, _ in history) >= 10
    assert history[-1][1] == 0
