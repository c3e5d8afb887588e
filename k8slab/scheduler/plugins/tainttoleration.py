"""Mirrors: pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go,
staging/src/k8s.io/component-helpers/scheduling/corev1/helpers.go, staging/src/k8s.io/api/core/v1/toleration.go

TaintToleration keeps pods off nodes whose taints they do not tolerate.

* Filter: a node with a ``NoSchedule`` or ``NoExecute`` taint that none of the pod's tolerations
  matches is rejected (UnschedulableAndUnresolvable: preemption cannot remove a taint).
* Score: counts the node's ``PreferNoSchedule`` taints the pod does not tolerate; normalization
  reverses the count, so the node with the fewest such taints gets 100.

A toleration matches a taint when its effect is empty or equal, its key is empty or equal, and
with operator ``Exists`` any value matches, with ``Equal`` (the default) the values are equal.

Closer look: Kubernetes 1.35 shortened the Filter message to "node(s) had untolerated taint(s)"
so pod statuses no longer reveal taint keys and values; earlier releases (used here) name the
taint, e.g. "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }".
"""

from __future__ import annotations

from typing import Callable

from k8slab.scheduler.framework import (
    MAX_NODE_SCORE, TAINT_EFFECT_NO_EXECUTE, TAINT_EFFECT_NO_SCHEDULE, TAINT_EFFECT_PREFER_NO_SCHEDULE, Code,
    CycleState, NodeInfo, NodeScore, NotFoundError, Plugin, SchedulerError, Status, as_status,
    default_normalize_score,
)

NAME = "TaintToleration"
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_NOT_MATCH = "node(s) had taints that the pod didn't tolerate"


def toleration_tolerates_taint(toleration: dict, taint: dict) -> bool:
    """Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = toleration.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    operator = toleration.get("operator") or ""
    if operator in ("", "Equal"):
        return (toleration.get("value") or "") == (taint.get("value") or "")
    if operator == "Exists":
        return True
    return False


def tolerations_tolerate_taint(tolerations: list[dict], taint: dict) -> bool:
    """TolerationsTolerateTaint: does any toleration match the taint?"""
    return any(toleration_tolerates_taint(t, taint) for t in tolerations or [])


def do_not_schedule_taints_filter(taint: dict) -> bool:
    """helper.DoNotScheduleTaintsFilterFunc: only NoSchedule and NoExecute taints keep pods away."""
    return taint.get("effect") in (TAINT_EFFECT_NO_SCHEDULE, TAINT_EFFECT_NO_EXECUTE)


def find_matching_untolerated_taint(taints: list[dict], tolerations: list[dict],
                                    inclusion_filter: Callable[[dict], bool] | None = None) -> dict | None:
    """FindMatchingUntoleratedTaint: the first taint (passing the filter) no toleration matches,
    or None."""
    for taint in taints or []:
        if inclusion_filter is not None and not inclusion_filter(taint):
            continue
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def _taints(node_info: NodeInfo) -> list[dict]:
    return ((node_info.node or {}).get("spec") or {}).get("taints") or []


def get_all_toleration_prefer_no_schedule(tolerations: list[dict]) -> list[dict]:
    """Tolerations with effect PreferNoSchedule or no effect (which means every effect)."""
    return [t for t in tolerations or [] if not t.get("effect") or t.get("effect") == TAINT_EFFECT_PREFER_NO_SCHEDULE]


def count_intolerable_taints_prefer_no_schedule(taints: list[dict], tolerations: list[dict]) -> int:
    return sum(1 for taint in taints or []
               if taint.get("effect") == TAINT_EFFECT_PREFER_NO_SCHEDULE
               and not tolerations_tolerate_taint(tolerations, taint))


class _PreScoreState:
    def __init__(self, tolerations_prefer_no_schedule: list[dict]) -> None:
        self.tolerations_prefer_no_schedule = tolerations_prefer_no_schedule

    def clone(self) -> "_PreScoreState":
        return self


class TaintToleration(Plugin):
    NAME = NAME
    EVENTS = ("Node/Add", "Node/UpdateNodeTaint", "Pod/UpdatePodToleration")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        taint = find_matching_untolerated_taint(
            _taints(node_info), (pod.get("spec") or {}).get("tolerations") or [], do_not_schedule_taints_filter)
        if taint is None:
            return None
        reason = f"node(s) had untolerated taint {{{taint.get('key') or ''}: {taint.get('value') or ''}}}"
        return Status(Code.UnschedulableAndUnresolvable, [reason])

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        tolerations = get_all_toleration_prefer_no_schedule((pod.get("spec") or {}).get("tolerations") or [])
        state.write(PRE_SCORE_STATE_KEY, _PreScoreState(tolerations))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        try:
            s = state.read(PRE_SCORE_STATE_KEY)
        except NotFoundError as err:
            return 0, as_status(SchedulerError(f'failed to read "{PRE_SCORE_STATE_KEY}" from cycleState: {err}'))
        return count_intolerable_taints_prefer_no_schedule(_taints(node_info), s.tolerations_prefer_no_schedule), None

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        return default_normalize_score(MAX_NODE_SCORE, True, scores)
