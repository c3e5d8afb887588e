"""Mirrors: pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go

NodeUnschedulable filters out nodes with ``spec.unschedulable: true`` (what ``kubectl cordon``
sets), unless the pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint
(DaemonSet pods do).
"""

from __future__ import annotations

from k8slab.scheduler.framework import (
    TAINT_EFFECT_NO_SCHEDULE, TAINT_NODE_UNSCHEDULABLE, Code, CycleState, NodeInfo, Plugin, Status,
)
from k8slab.scheduler.plugins.tainttoleration import tolerations_tolerate_taint

ERR_REASON_UNKNOWN_CONDITION = "node(s) had unknown conditions"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"


class NodeUnschedulable(Plugin):
    NAME = "NodeUnschedulable"
    EVENTS = ("Node/Add", "Node/UpdateNodeTaint")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if node is None:
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_UNKNOWN_CONDITION])
        if not (node.get("spec") or {}).get("unschedulable"):
            return None
        # A pod that tolerates the unschedulable taint also tolerates spec.unschedulable.
        tolerates = tolerations_tolerate_taint(
            (pod.get("spec") or {}).get("tolerations") or [],
            {"key": TAINT_NODE_UNSCHEDULABLE, "effect": TAINT_EFFECT_NO_SCHEDULE})
        if not tolerates:
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_UNSCHEDULABLE])
        return None
