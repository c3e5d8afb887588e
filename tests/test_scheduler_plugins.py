"""The small filter plugins (NodeName, NodeUnschedulable), PrioritySort, and a custom plugin
added to the registry and used through schedule_pod."""

import random

from k8slab.scheduler.algorithm import schedule_pod
from k8slab.scheduler.framework import (
    Code, CycleState, Framework, Plugin, PluginEntry, QueuedPodInfo, build_node_infos, default_profile,
)
from k8slab.scheduler.plugins import REGISTRY, register
from k8slab.scheduler.plugins.nodename import NodeName
from k8slab.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from k8slab.scheduler.plugins.prioritysort import PrioritySort


def node(name, unschedulable=False, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"}}}


def pod(name="p", node_name=None, tolerations=(), priority=None):
    spec = {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
            "tolerations": list(tolerations)}
    if node_name:
        spec["nodeName"] = node_name
    if priority is not None:
        spec["priority"] = priority
    return {"metadata": {"name": name, "namespace": "default", "uid": name}, "spec": spec}


def test_node_name_filter():
    a, b = build_node_infos([node("a"), node("b")])
    assert NodeName().filter(CycleState(), pod(node_name="a"), a) is None
    status = NodeName().filter(CycleState(), pod(node_name="a"), b)
    assert status.code == Code.UnschedulableAndUnresolvable
    assert status.message() == "node(s) didn't match the requested node name"
    assert NodeName().filter(CycleState(), pod(), b) is None


def test_node_unschedulable_filter_and_toleration():
    (cordoned,) = build_node_infos([node("c", unschedulable=True)])
    status = NodeUnschedulable().filter(CycleState(), pod(), cordoned)
    assert status.code == Code.UnschedulableAndUnresolvable
    assert status.message() == "node(s) were unschedulable"
    daemon = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                               "effect": "NoSchedule"}])
    assert NodeUnschedulable().filter(CycleState(), daemon, cordoned) is None


def test_priority_sort():
    less = PrioritySort().less
    assert less(QueuedPodInfo(pod(priority=10), 9), QueuedPodInfo(pod(priority=0), 1))
    assert less(QueuedPodInfo(pod(), 1), QueuedPodInfo(pod(), 2))
    assert not less(QueuedPodInfo(pod(), 2), QueuedPodInfo(pod(), 2))


def test_custom_score_plugin_from_the_registry_changes_the_decision():
    @register
    class PreferLabel(Plugin):
        """Scores 100 on nodes labelled disk=ssd."""

        NAME = "PreferLabel"

        def score(self, state, pod, node_info):
            labels = (node_info.node.get("metadata") or {}).get("labels") or {}
            return (100 if labels.get("disk") == "ssd" else 0), None

    try:
        profile = default_profile()
        profile.plugins.insert(-1, PluginEntry("PreferLabel", 5))
        infos = build_node_infos([node("plain"), node("fast", labels={"disk": "ssd"})])
        result = schedule_pod(Framework(profile), CycleState(), pod(), infos, random.Random(0))
        assert result.suggested_host == "fast"
        assert result.node("fast").scores[-1].score == 500
    finally:
        del REGISTRY["PreferLabel"]
