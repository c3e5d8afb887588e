"""Mirrors: pkg/scheduler/framework/plugins/nodename/node_name.go

NodeName: a pod that already names a node in ``spec.nodeName`` only fits that node.
"""

from __future__ import annotations

from k8slab.scheduler.framework import Code, CycleState, NodeInfo, Plugin, Status

ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: dict, node_info: NodeInfo) -> bool:
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    return not node_name or node_name == node_info.name


class NodeName(Plugin):
    NAME = "NodeName"
    EVENTS = ("Node/Add",)
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        if not fits(pod, node_info):
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON])
        return None
