"""Mirrors: pkg/scheduler/framework/plugins/schedulinggates/scheduling_gates.go

SchedulingGates holds a pod back from the active queue while its ``spec.schedulingGates`` list is
not empty (PreEnqueue). Whoever created the gate removes it (an update to the pod), and the pod
then enters the queue like any other. A gated pod never reaches a scheduling cycle, so it gets no
FailedScheduling event; ``kubectl get pods`` shows it as ``SchedulingGated``.
"""

from __future__ import annotations

from k8slab.scheduler.framework import Code, Plugin, Status

NAME = "SchedulingGates"


def go_string_list(items: list[str]) -> str:
    """fmt's %v of a []string: ``[a b]``."""
    return "[" + " ".join(items) + "]"


class SchedulingGates(Plugin):
    NAME = NAME

    def pre_enqueue(self, pod: dict) -> Status | None:
        gates = (pod.get("spec") or {}).get("schedulingGates") or []
        if not gates:
            return None
        names = [g.get("name", "") for g in gates]
        return Status(Code.UnschedulableAndUnresolvable, [f"waiting for scheduling gates: {go_string_list(names)}"])

    # EventsToRegister: only an update of the pod itself (gates removed) can make it schedulable.
    EVENTS = ("Pod/UpdatePodSchedulingGatesEliminated",)
