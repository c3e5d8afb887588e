"""Mirrors: pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go,
pkg/scheduler/apis/config/v1/defaults.go (SetDefaults_NodeResourcesBalancedAllocationArgs),
pkg/scheduler/apis/config/validation/validation_pluginargs.go (ValidateNodeResourcesBalancedAllocationArgs)

NodeResourcesBalancedAllocation prefers nodes where, with the pod added, the requested fractions
of each resource (default cpu and memory) are close to each other, so no resource runs out
while another sits idle:

    fraction_i = min(requested_i / allocatable_i, 1)
    std = |f0 - f1| / 2 for two resources, the population standard deviation for more
    score = int((1 - std) x 100)

It uses real requests (no 100m/200Mi defaults). A best-effort pod (no requests at all) is
skipped at PreScore, so such pods are not all packed onto one node (kubernetes#129138).
"""

from __future__ import annotations

import math
from typing import Any

from k8slab.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, NodeInfo, NotFoundError, Plugin, Status
from k8slab.api.errors import duplicate, invalid
from k8slab.scheduler.plugins.noderesources import (
    InvalidPluginArgsError, ResourceAllocationScorer, default_resource_spec,
)

NAME = "NodeResourcesBalancedAllocation"
PRE_SCORE_STATE_KEY = "PreScore" + NAME


def set_defaults_balanced_allocation_args(args: dict | None) -> dict:
    out = dict(args or {})
    resources = [dict(r) for r in out.get("resources") or []]
    if not resources:
        resources = default_resource_spec()
    for r in resources:
        if not r.get("weight"):
            r["weight"] = 1
    out["resources"] = resources
    return out


def validate_balanced_allocation_args(args: dict) -> None:
    errs = []
    seen: set[str] = set()
    for i, r in enumerate(args.get("resources") or []):
        if r["name"] in seen:
            errs.append(duplicate(f"resources[{i}].name", r["name"]))
        else:
            seen.add(r["name"])
        if r.get("weight") != 1:
            errs.append(invalid(f"resources[{i}].weight", r.get("weight"), "must be 1"))
    if errs:
        raise InvalidPluginArgsError(errs)


def balanced_resource_scorer(requested: list[int], allocatable: list[int]) -> int:
    """(1 - standard deviation of the requested fractions) x 100, truncated."""
    fractions = []
    total = 0.0
    for req, alloc in zip(requested, allocatable):
        if alloc == 0:
            continue
        fraction = float(req) / float(alloc)
        if fraction > 1:
            fraction = 1.0
        total += fraction
        fractions.append(fraction)
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = total / len(fractions)
        s = 0.0
        for f in fractions:
            s = s + (f - mean) * (f - mean)
        std = math.sqrt(s / len(fractions))
    return int((1 - std) * float(MAX_NODE_SCORE))


class _PreScoreState:
    def __init__(self, pod_requests_list: list[int]) -> None:
        self.pod_requests = pod_requests_list

    def clone(self) -> "_PreScoreState":
        return self


class BalancedAllocation(Plugin):
    NAME = NAME

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        args = set_defaults_balanced_allocation_args(args)
        validate_balanced_allocation_args(args)
        self.args = args
        self.resource_allocation_scorer = ResourceAllocationScorer(
            NAME, balanced_resource_scorer, args["resources"], use_requested=True)

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        requests = self.resource_allocation_scorer.calculate_pod_resource_request_list(pod)
        if ResourceAllocationScorer.is_best_effort_pod(requests):
            return Status(Code.Skip)
        state.write(PRE_SCORE_STATE_KEY, _PreScoreState(requests))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        try:
            requests = state.read(PRE_SCORE_STATE_KEY).pod_requests
        except NotFoundError:
            requests = self.resource_allocation_scorer.calculate_pod_resource_request_list(pod)
            if ResourceAllocationScorer.is_best_effort_pod(requests):
                return 0, None
        return self.resource_allocation_scorer.score(pod, node_info, requests)
