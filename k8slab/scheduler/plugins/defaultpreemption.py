"""Mirrors: pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go

DefaultPreemption is the PostFilter plugin: when no node fits a pod, it evicts lower-priority pods
from one node so the pod fits there next time (see k8slab.scheduler.preemption for the steps).
Args (DefaultPreemptionArgs): ``minCandidateNodesPercentage`` (10) and ``minCandidateNodesAbsolute``
(100) bound how many candidate nodes the dry run collects before it stops looking.
"""

from __future__ import annotations

from typing import Any

from k8slab.scheduler.framework import CycleState, Plugin, PostFilterResult, Status
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError

NAME = "DefaultPreemption"


class DefaultPreemption(Plugin):
    NAME = NAME
    EVENTS = ()

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        from k8slab.scheduler.config import set_defaults_default_preemption_args, validate_default_preemption_args
        args = set_defaults_default_preemption_args(args)
        errs = validate_default_preemption_args(args, "")
        if errs:
            for e in errs:
                e.field = e.field.lstrip(".")
            raise InvalidPluginArgsError(errs)
        self.args = args
        self.last_evaluator = None

    def post_filter(self, state: CycleState, pod: dict, node_to_status) -> tuple[PostFilterResult | None, Status]:
        from k8slab.scheduler.preemption import Evaluator
        ev = Evaluator(NAME, self.handle, self.args)
        self.last_evaluator = ev
        result, status = ev.preempt(state, pod, node_to_status)
        msg = status.message()
        if msg:
            return result, Status(status.code, [f"preemption: {msg}"], plugin=NAME)
        return result, status
