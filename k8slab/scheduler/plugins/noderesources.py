"""Mirrors: pkg/scheduler/framework/plugins/noderesources/fit.go, resource_allocation.go, least_allocated.go,
most_allocated.go, requested_to_capacity_ratio.go, pkg/scheduler/framework/plugins/helper/shape_score.go,
pkg/scheduler/apis/config/v1/defaults.go (SetDefaults_NodeResourcesFitArgs),
pkg/scheduler/apis/config/validation/validation_pluginargs.go (ValidateNodeResourcesFitArgs)

NodeResourcesFit: does the node have room for the pod's *requests*, and how good a fit is it?

* Filter compares ``allocatable`` with the sum of the requests of the pods already on the node
  plus this pod's requests, for cpu, memory, ephemeral-storage and requested extended resources,
  and checks the pod count ("Too many pods"). Live usage plays no part.
* Score uses one of three strategies over a weighted list of resources (default cpu and memory,
  weight 1 each); per node ``score = sum(resourceScore x weight) / sum(weight)``:

  - LeastAllocated (default, spreads pods): ``(capacity - requested) x 100 / capacity``
  - MostAllocated (bin-packs): ``requested x 100 / capacity``, requested capped at capacity
  - RequestedToCapacityRatio: a user-drawn piecewise-linear curve of utilization (0..100) to
    score (0..10, scaled x10)

  For scoring, containers that request no cpu or memory count as 100m / 200Mi (non-zero
  requests), so pods without requests still spread out. Arithmetic is Go's int64: integer
  division truncates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from k8slab.api.errors import FieldError, aggregate_message, invalid, not_supported, required
from k8slab.api.quantity import milli_value, value
from k8slab.scheduler.framework import (
    MAX_CUSTOM_PRIORITY_SCORE, MAX_NODE_SCORE, RESOURCE_CPU, RESOURCE_EPHEMERAL_STORAGE, RESOURCE_MEMORY,
    RESOURCE_PODS, Code, CycleState, NodeInfo, NotFoundError, Plugin, PreFilterResult, Resource, SchedulerError,
    Status, as_status, is_extended_resource_name, is_scalar_resource_name, memo_on_requests,
    non_zero_container_defaults, pod_requests,
)

NAME = "NodeResourcesFit"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
SUPPORTED_SCORING_STRATEGY_TYPES = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)

MAX_UTILIZATION = 100


def default_resource_spec() -> list[dict]:
    """defaultResourceSpec: cpu and memory, weight 1."""
    return [{"name": RESOURCE_CPU, "weight": 1}, {"name": RESOURCE_MEMORY, "weight": 1}]


# --------------------------------------------------------------------------------------------
# Go integer helpers
# --------------------------------------------------------------------------------------------

def go_div(a: int, b: int) -> int:
    """Go's int64 division: truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def go_round(x: float) -> int:
    """Go's math.Round: halves round away from zero (Python's round() rounds to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


# --------------------------------------------------------------------------------------------
# Args: defaults and validation
# --------------------------------------------------------------------------------------------

class InvalidPluginArgsError(ValueError):
    """Plugin args failed validation; ``errors`` holds the FieldErrors, the message is their
    aggregate (one error alone, several as "[a, b]")."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(aggregate_message(errors))


def set_defaults_node_resources_fit_args(args: dict | None) -> dict:
    """A defaulted copy: LeastAllocated over cpu and memory; any weight of 0 becomes 1."""
    out = dict(args or {})
    strategy = dict(out.get("scoringStrategy") or {"type": LEAST_ALLOCATED})
    resources = [dict(r) for r in strategy.get("resources") or []] or default_resource_spec()
    for r in resources:
        if not r.get("weight"):
            r["weight"] = 1
    strategy["resources"] = resources
    out["scoringStrategy"] = strategy
    return out


def validate_resources(resources: list[dict], path: str) -> list[FieldError]:
    errs = []
    for i, r in enumerate(resources):
        w = r.get("weight", 0)
        if w <= 0 or w > 100:
            errs.append(invalid(f"{path}[{i}].weight", w,
                                      f"resource weight of {r.get('name')} not in valid range (0, 100]"))
    return errs


def validate_function_shape(shape: list[dict], path: str) -> list[FieldError]:
    if not shape:
        return [required(path, "at least one point must be specified")]
    errs = []
    for i in range(1, len(shape)):
        if shape[i - 1].get("utilization", 0) >= shape[i].get("utilization", 0):
            errs.append(invalid(f"{path}[{i}].utilization", shape[i].get("utilization", 0),
                                      "values must be sorted in increasing order"))
            break
    for i, point in enumerate(shape):
        u, s = point.get("utilization", 0), point.get("score", 0)
        if u < 0 or u > MAX_UTILIZATION:
            errs.append(invalid(f"{path}[{i}].utilization", u, f"not in valid range [0, {MAX_UTILIZATION}]"))
        if s < 0 or s > MAX_CUSTOM_PRIORITY_SCORE:
            errs.append(invalid(f"{path}[{i}].score", s, f"not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]"))
    return errs


def validate_node_resources_fit_args(args: dict) -> None:
    """Raise InvalidPluginArgsError with upstream's field errors."""
    errs: list[FieldError] = []
    for i, group in enumerate(args.get("ignoredResourceGroups") or []):
        if "/" in group:
            errs.append(invalid(f"ignoredResourceGroups[{i}]", group, "resource group name can't contain '/'"))
    strategy = args.get("scoringStrategy")
    if strategy is not None:
        kind = strategy.get("type")
        if kind not in SUPPORTED_SCORING_STRATEGY_TYPES:
            errs.append(not_supported("scoringStrategy.type", kind, sorted(SUPPORTED_SCORING_STRATEGY_TYPES)))
        errs.extend(validate_resources(strategy.get("resources") or [], "scoringStrategy.resources"))
        rtcr = strategy.get("requestedToCapacityRatio")
        if rtcr is not None:
            errs.extend(validate_function_shape(rtcr.get("shape") or [], "scoringStrategy.shape"))
        elif kind == REQUESTED_TO_CAPACITY_RATIO:
            errs.extend(validate_function_shape([], "scoringStrategy.shape"))
    if errs:
        raise InvalidPluginArgsError(errs)


# --------------------------------------------------------------------------------------------
# Scoring strategies
# --------------------------------------------------------------------------------------------

def least_requested_score(requested: int, capacity: int) -> int:
    """Unused capacity on a 0..100 scale; 0 if nothing fits."""
    if capacity == 0 or requested > capacity:
        return 0
    return go_div((capacity - requested) * MAX_NODE_SCORE, capacity)


def most_requested_score(requested: int, capacity: int) -> int:
    """Used capacity on a 0..100 scale; requested above capacity (possible with non-zero
    defaults) counts as full."""
    if capacity == 0:
        return 0
    if requested > capacity:
        requested = capacity
    return go_div(requested * MAX_NODE_SCORE, capacity)


def _weighted_scorer(resources: list[dict], resource_score: Callable[[int, int], int]
                     ) -> Callable[[list[int], list[int]], int]:
    def scorer(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i in range(len(requested)):
            if allocatable[i] == 0:
                continue
            weight = resources[i]["weight"]
            node_score += resource_score(requested[i], allocatable[i]) * weight
            weight_sum += weight
        if weight_sum == 0:
            return 0
        return go_div(node_score, weight_sum)
    return scorer


def least_resource_scorer(resources: list[dict]) -> Callable[[list[int], list[int]], int]:
    """leastResourceScorer: favours nodes with more unrequested resources (spreading)."""
    return _weighted_scorer(resources, least_requested_score)


def most_resource_scorer(resources: list[dict]) -> Callable[[list[int], list[int]], int]:
    """mostResourceScorer: favours nodes with more requested resources (bin packing)."""
    return _weighted_scorer(resources, most_requested_score)


@dataclass
class FunctionShapePoint:
    utilization: int
    score: int


def build_broken_linear_function(shape: list[FunctionShapePoint]) -> Callable[[int], int]:
    """A piecewise-linear function through the shape points: flat before the first and after the
    last point, straight lines (with Go integer division) between them."""
    def f(p: int) -> int:
        for i, point in enumerate(shape):
            if p <= point.utilization:
                if i == 0:
                    return shape[0].score
                prev = shape[i - 1]
                return prev.score + go_div((point.score - prev.score) * (p - prev.utilization),
                                           point.utilization - prev.utilization)
        return shape[-1].score
    return f


def build_requested_to_capacity_ratio_scorer_function(shape: list[FunctionShapePoint], resources: list[dict]
                                                      ) -> Callable[[list[int], list[int]], int]:
    raw = build_broken_linear_function(shape)

    def resource_scoring_function(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(go_div(requested * MAX_UTILIZATION, capacity))

    def scorer(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i in range(len(requested)):
            if allocatable[i] == 0:
                continue
            weight = resources[i]["weight"]
            resource_score = resource_scoring_function(requested[i], allocatable[i])
            if resource_score > 0:
                node_score += resource_score * weight
                weight_sum += weight
        if weight_sum == 0:
            return 0
        return go_round(node_score / weight_sum)
    return scorer


def requested_to_capacity_ratio_scorer(resources: list[dict], shape: list[dict]
                                       ) -> Callable[[list[int], list[int]], int]:
    """Shape scores (0..10) are scaled to 0..100."""
    points = [FunctionShapePoint(int(p.get("utilization", 0)),
                                 int(p.get("score", 0)) * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE))
              for p in shape]
    return build_requested_to_capacity_ratio_scorer_function(points, resources)


class ResourceAllocationScorer:
    """resourceAllocationScorer: gathers (allocatable, requested) per configured resource and
    hands them to a scorer function. ``use_requested`` picks real requests instead of non-zero
    ones for cpu and memory."""

    def __init__(self, name: str, scorer: Callable[[list[int], list[int]], int], resources: list[dict],
                 use_requested: bool = False) -> None:
        self.name = name
        self.scorer = scorer
        self.resources = resources
        self.use_requested = use_requested

    def score(self, pod: dict, node_info: NodeInfo, pod_requests_list: list[int]) -> tuple[int, Status | None]:
        if not self.resources:
            return 0, Status(Code.Error, ["resources not found"])
        requested = [0] * len(self.resources)
        allocatable = [0] * len(self.resources)
        for i, r in enumerate(self.resources):
            alloc, req = self.calculate_resource_allocatable_request(node_info, r["name"], pod_requests_list[i])
            if alloc == 0:
                continue
            allocatable[i] = alloc
            requested[i] = req
        return self.scorer(requested, allocatable), None

    def calculate_resource_allocatable_request(self, node_info: NodeInfo, resource: str, pod_request: int
                                               ) -> tuple[int, int]:
        """(allocatable on the node, requested on the node including this pod). An extended
        resource the pod does not request gives (0, 0) and is left out of the score."""
        requested = node_info.requested if self.use_requested else node_info.non_zero_requested
        if pod_request == 0 and is_scalar_resource_name(resource):
            return 0, 0
        if resource == RESOURCE_CPU:
            return node_info.allocatable.milli_cpu, requested.milli_cpu + pod_request
        if resource == RESOURCE_MEMORY:
            return node_info.allocatable.memory, requested.memory + pod_request
        if resource == RESOURCE_EPHEMERAL_STORAGE:
            return node_info.allocatable.ephemeral_storage, node_info.requested.ephemeral_storage + pod_request
        if resource in node_info.allocatable.scalar_resources:
            return (node_info.allocatable.scalar_resources[resource],
                    node_info.requested.scalar_resources.get(resource, 0) + pod_request)
        return 0, 0

    def calculate_pod_resource_request(self, pod: dict, resource: str) -> int:
        non_missing = None if self.use_requested else non_zero_container_defaults()
        q = pod_requests(pod, non_missing=non_missing).get(resource)
        if q is None:
            return 0
        return milli_value(q) if resource == RESOURCE_CPU else value(q)

    def calculate_pod_resource_request_list(self, pod: dict) -> list[int]:
        """calculatePodResourceRequestList: the pod's requests are summed once for all resources (memoised on the
        pod's requests, for these resources)."""
        tag = ("calculatePodResourceRequestList", self.use_requested, tuple(r["name"] for r in self.resources))
        return list(memo_on_requests(pod, tag, self._calculate_pod_resource_request_list))

    def _calculate_pod_resource_request_list(self, pod: dict) -> list[int]:
        reqs = pod_requests(pod, non_missing=None if self.use_requested else non_zero_container_defaults())
        out = []
        for r in self.resources:
            q = reqs.get(r["name"])
            out.append(0 if q is None else milli_value(q) if r["name"] == RESOURCE_CPU else value(q))
        return out

    @staticmethod
    def is_best_effort_pod(pod_requests_list: list[int]) -> bool:
        return all(r == 0 for r in pod_requests_list)


def new_scorer(strategy: dict) -> ResourceAllocationScorer:
    """nodeResourceStrategyTypeMap: build the scorer for a scoring strategy."""
    kind = strategy["type"]
    resources = strategy["resources"]
    if kind == LEAST_ALLOCATED:
        return ResourceAllocationScorer(kind, least_resource_scorer(resources), resources)
    if kind == MOST_ALLOCATED:
        return ResourceAllocationScorer(kind, most_resource_scorer(resources), resources)
    if kind == REQUESTED_TO_CAPACITY_RATIO:
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
        return ResourceAllocationScorer(kind, requested_to_capacity_ratio_scorer(resources, shape), resources)
    raise SchedulerError(f"scoring strategy {kind} is not supported")


# --------------------------------------------------------------------------------------------
# Filter
# --------------------------------------------------------------------------------------------

@dataclass
class InsufficientResource:
    """Which resource is short, with the numbers behind it."""

    resource_name: str
    reason: str
    requested: int
    used: int
    capacity: int


def compute_pod_resource_request(pod: dict) -> Resource:
    """The pod's requests as a Resource (containers summed, init containers maxed, overhead added); memoised on
    the pod's requests, a new copy each call."""
    return memo_on_requests(pod, "computePodResourceRequest", _compute_pod_resource_request).clone()


def _compute_pod_resource_request(pod: dict) -> Resource:
    result = Resource()
    result.set_max_resource(pod_requests(pod))
    return result


def fits_request(pod_request: Resource, node_info: NodeInfo, ignored_extended_resources: set[str] | None = None,
                 ignored_resource_groups: set[str] | None = None) -> list[InsufficientResource]:
    """Every resource the node lacks for this pod (empty list: it fits)."""
    ignored_extended_resources = ignored_extended_resources or set()
    ignored_resource_groups = ignored_resource_groups or set()
    out: list[InsufficientResource] = []
    allowed = node_info.allocatable.allowed_pod_number
    if len(node_info.pods) + 1 > allowed:
        out.append(InsufficientResource(RESOURCE_PODS, "Too many pods", 1, len(node_info.pods), allowed))
    if (pod_request.milli_cpu == 0 and pod_request.memory == 0 and pod_request.ephemeral_storage == 0
            and not pod_request.scalar_resources):
        return out
    alloc, used = node_info.allocatable, node_info.requested
    if pod_request.milli_cpu > 0 and pod_request.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(InsufficientResource(RESOURCE_CPU, "Insufficient cpu", pod_request.milli_cpu,
                                        used.milli_cpu, alloc.milli_cpu))
    if pod_request.memory > 0 and pod_request.memory > alloc.memory - used.memory:
        out.append(InsufficientResource(RESOURCE_MEMORY, "Insufficient memory", pod_request.memory,
                                        used.memory, alloc.memory))
    free_storage = alloc.ephemeral_storage - used.ephemeral_storage
    if pod_request.ephemeral_storage > 0 and pod_request.ephemeral_storage > free_storage:
        out.append(InsufficientResource(RESOURCE_EPHEMERAL_STORAGE, "Insufficient ephemeral-storage",
                                        pod_request.ephemeral_storage, used.ephemeral_storage,
                                        alloc.ephemeral_storage))
    for name in sorted(pod_request.scalar_resources):
        q = pod_request.scalar_resources[name]
        if q == 0:
            continue
        if is_extended_resource_name(name):
            prefix = name.split("/")[0]
            if name in ignored_extended_resources or prefix in ignored_resource_groups:
                continue
        free = alloc.scalar_resources.get(name, 0) - used.scalar_resources.get(name, 0)
        if q > free:
            out.append(InsufficientResource(name, f"Insufficient {name}", q, used.scalar_resources.get(name, 0),
                                            alloc.scalar_resources.get(name, 0)))
    return out


def fits(pod: dict, node_info: NodeInfo) -> list[InsufficientResource]:
    """Fits: check a pod against a node without a scheduling cycle."""
    return fits_request(compute_pod_resource_request(pod), node_info)


class _PreScoreState:
    def __init__(self, pod_requests_list: list[int]) -> None:
        self.pod_requests = pod_requests_list

    def clone(self) -> "_PreScoreState":
        return self


class Fit(Plugin):
    """NodeResourcesFit: PreFilter, Filter, PreScore and Score."""

    NAME = NAME
    EVENTS = ("Pod/Delete", "Pod/UpdatePodScaleDown", "Node/Add", "Node/UpdateNodeAllocatable")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        args = set_defaults_node_resources_fit_args(args)
        validate_node_resources_fit_args(args)
        self.args = args
        self.ignored_resources = set(args.get("ignoredResources") or [])
        self.ignored_resource_groups = set(args.get("ignoredResourceGroups") or [])
        self.resource_allocation_scorer = new_scorer(args["scoringStrategy"])

    @property
    def resources(self) -> list[dict]:
        return self.resource_allocation_scorer.resources

    def pre_filter(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status | None]:
        state.write(PRE_FILTER_STATE_KEY, compute_pod_resource_request(pod))
        return None, None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        try:
            pod_request = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        insufficient = fits_request(pod_request, node_info, self.ignored_resources, self.ignored_resource_groups)
        if insufficient:
            return Status(Code.Unschedulable, [r.reason for r in insufficient])
        return None

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        state.write(PRE_SCORE_STATE_KEY,
                    _PreScoreState(self.resource_allocation_scorer.calculate_pod_resource_request_list(pod)))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        try:
            requests = state.read(PRE_SCORE_STATE_KEY).pod_requests
        except NotFoundError:
            requests = self.resource_allocation_scorer.calculate_pod_resource_request_list(pod)
        return self.resource_allocation_scorer.score(pod, node_info, requests)
