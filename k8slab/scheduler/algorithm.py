"""Mirrors: pkg/scheduler/schedule_one.go (schedulePod, findNodesThatFitPod, findNodesThatPassFilters,
numFeasibleNodesToFind, prioritizeNodes, selectHost), pkg/scheduler/framework/types.go (Diagnosis, FitError),
pkg/scheduler/framework/interface.go (NodeToStatus)

The scheduling algorithm for one pod: filter, score, select.

1. **PreFilter** once, then **Filter** every node, starting where the previous pod stopped
   (``next_start_node_index``) so all nodes get their turn. In big clusters the search stops
   once ``num_feasible_nodes_to_find`` nodes fit (the adaptive percentageOfNodesToScore).
2. If no node fits, a ``FitError`` explains why: "0/3 nodes are available: ...".
   If exactly one fits, it is chosen without scoring.
3. Otherwise **PreScore** and **Score** the feasible nodes; each Score plugin's normalized score
   (0..100) is multiplied by its weight and summed.
4. ``select_host`` takes the highest total; ties are broken by reservoir sampling, so each tied
   node has the same chance.

Upstream filters nodes in parallel (16 goroutines); here nodes are checked one after another in
rotation order, which is the deterministic version of the same search. Filter extenders and
score extenders are not modelled. ``schedule_pod`` also keeps a per-node, per-plugin record so a
table can show every verdict and every score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from k8slab.scheduler.framework import (
    Code, CycleState, FilterVerdict, Framework, NodeInfo, NodePluginScores, PluginScore, SchedulerError,
    Status, is_success,
)

MIN_FEASIBLE_NODES_TO_FIND = 100
"""minFeasibleNodesToFind: at least this many nodes are checked (when the cluster has them)."""
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
"""minFeasibleNodesPercentageToFind: the adaptive percentage never drops below 5%."""
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 0
"""The default percentageOfNodesToScore: 0 means "adaptive" (50% minus 1% per 125 nodes)."""
NUMBER_OF_HIGHEST_SCORED_NODES_TO_REPORT = 3
"""numberOfHighestScoredNodesToReport: select_host also returns the top 3."""

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


class NoNodesAvailableError(SchedulerError):
    """ErrNoNodesAvailable: the cluster has no nodes at all."""

    def __init__(self) -> None:
        super().__init__(ERR_NO_NODES_AVAILABLE)


class _FilterFailed(SchedulerError):
    """A Filter plugin returned Error; remembers how many feasible nodes were found before."""

    def __init__(self, message: str, num_feasible: int) -> None:
        super().__init__(message)
        self.num_feasible = num_feasible


class EmptyPriorityListError(SchedulerError):
    """errEmptyPriorityList."""

    def __init__(self) -> None:
        super().__init__("empty priorityList")


def num_feasible_nodes_to_find(percentage_of_nodes_to_score: int | None, num_all_nodes: int,
                               global_percentage: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE) -> int:
    """How many feasible nodes to find before filtering stops.

    Below 100 nodes every node is checked. Otherwise the profile's percentage (or the global one)
    is used; 0 means adaptive: ``50 - nodes/125`` percent, at least 5%. The result is at least 100.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score if percentage_of_nodes_to_score is not None else global_percentage
    if percentage == 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    num_nodes = num_all_nodes * percentage // 100
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return MIN_FEASIBLE_NODES_TO_FIND
    return num_nodes


class NodeToStatus:
    """The statuses of nodes the pod did not fit on; nodes not listed get ``absent_nodes_status``
    (by default UnschedulableAndUnresolvable)."""

    def __init__(self, statuses: dict[str, Status] | None = None, absent_nodes_status: Status | None = None) -> None:
        self._statuses: dict[str, Status] = dict(statuses or {})
        self.absent_nodes_status = absent_nodes_status or Status(Code.UnschedulableAndUnresolvable)

    def get(self, node_name: str) -> Status:
        return self._statuses.get(node_name, self.absent_nodes_status)

    def set(self, node_name: str, status: Status) -> None:
        self._statuses[node_name] = status

    def __len__(self) -> int:
        return len(self._statuses)

    def items(self):
        return self._statuses.items()

    def nodes_for_status_code(self, node_infos: list[NodeInfo], code: Code) -> list[NodeInfo]:
        return [ni for ni in node_infos if self.get(ni.name).code == code]


@dataclass
class Diagnosis:
    """Why the pod did not fit: per-node statuses and the plugins that rejected it."""

    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)
        if status.code == Code.Pending:
            self.pending_plugins.add(status.plugin)


class FitError(SchedulerError):
    """No node fits the pod. ``str(err)`` is the message of the FailedScheduling event, e.g.
    "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
    2 Insufficient cpu." Set ``diagnosis.post_filter_msg`` after preemption ran to append its message.
    ``result`` is the ScheduleResult of the failed attempt (its record and next start index)."""

    def __init__(self, pod: dict, num_all_nodes: int, diagnosis: Diagnosis,
                 result: "ScheduleResult | None" = None) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        self.result = result

    def error(self) -> str:
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        d = self.diagnosis
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            reasons: dict[str, int] = {}
            for _, status in d.node_to_status.items():
                for reason in status.reasons:
                    reasons[reason] = reasons.get(reason, 0) + 1
            absent = self.num_all_nodes - len(d.node_to_status)
            if absent > 0:
                for reason in d.node_to_status.absent_nodes_status.reasons:
                    reasons[reason] = reasons.get(reason, 0) + absent
            histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
            if histogram:
                msg += f" {', '.join(histogram)}."
        if d.post_filter_msg:
            msg += f" {d.post_filter_msg}"
        return msg

    def __str__(self) -> str:
        return self.error()


# --------------------------------------------------------------------------------------------
# The per-node record used to explain a decision
# --------------------------------------------------------------------------------------------

@dataclass
class NodeRecord:
    """What happened to one node in one scheduling attempt."""

    name: str
    evaluated: bool = False
    filters: list[FilterVerdict] = field(default_factory=list)
    status: Status | None = None
    feasible: bool = False
    scores: list[PluginScore] = field(default_factory=list)
    total_score: int | None = None
    chosen: bool = False


@dataclass
class ScheduleResult:
    """The outcome of ``schedule_pod``: the chosen node, how many nodes were evaluated and found
    feasible, the next start index, and a record of every filter verdict and score."""

    suggested_host: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    next_start_node_index: int = 0
    node_names: list[str] = field(default_factory=list)
    filter_plugins: list[str] = field(default_factory=list)
    score_plugins: list[str] = field(default_factory=list)
    score_weights: dict[str, int] = field(default_factory=dict)
    skipped_filter_plugins: set[str] = field(default_factory=set)
    skipped_score_plugins: set[str] = field(default_factory=set)
    pre_filter_status: Status | None = None
    scored: bool = False
    top_nodes: list[NodePluginScores] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    post_filter_status: Status | None = None
    nominated_node: str | None = None

    def __deepcopy__(self, memo) -> "ScheduleResult":
        """A finished record is not changed again: copies (pandas copies a DataFrame's attrs) share it."""
        return self

    @property
    def nodes(self) -> list[NodeRecord]:
        """One record per node of the snapshot, in snapshot order (records of nodes nobody looked at are
        created when first asked for: a big cluster's cycle only touches the nodes it evaluates)."""
        return [self.node(n) for n in self.node_names]

    def node(self, name: str) -> NodeRecord:
        records = self.__dict__.setdefault("_records", {})
        rec = records.get(name)
        if rec is None:
            names = self.__dict__.get("_names")
            if names is None or len(names) != len(self.node_names):
                names = self.__dict__["_names"] = set(self.node_names)
            if name not in names:
                raise KeyError(name)
            rec = records[name] = NodeRecord(name)
            fill = self.__dict__.get("_fill")
            if fill is not None:
                fill(self, rec)
        return rec

    def table_rows(self) -> list[dict[str, Any]]:
        """One dict per node: the PreFilter rejection (only when PreFilter rejected the pod), each
        Filter plugin's verdict ("pass", the rejection reason, "skip" if its PreFilter said Skip,
        "" if it did not run), each Score plugin's raw, normalized and weighted score (None when
        not scored), the total and whether the node was chosen."""
        rows = []
        for rec in self.nodes:
            row: dict[str, Any] = {"node": rec.name}
            if self.pre_filter_status is not None:
                row["PreFilter"] = self.pre_filter_status.message()
            verdicts = {v.plugin: v.status for v in rec.filters}
            for plugin in self.filter_plugins:
                if plugin in self.skipped_filter_plugins:
                    row[plugin] = "skip"
                elif plugin in verdicts:
                    s = verdicts[plugin]
                    row[plugin] = "pass" if is_success(s) else s.message()
                else:
                    row[plugin] = ""
            scores = {ps.name: ps for ps in rec.scores}
            for plugin in self.score_plugins:
                ps = scores.get(plugin)
                row[f"{plugin} raw"] = ps.raw if ps else None
                row[f"{plugin} normalized"] = ps.normalized if ps else None
                row[f"{plugin} weighted"] = ps.score if ps else None
            row["total"] = rec.total_score
            row["chosen"] = rec.chosen
            rows.append(row)
        return rows


# --------------------------------------------------------------------------------------------
# Filtering
# --------------------------------------------------------------------------------------------

def _record(result: ScheduleResult, name: str) -> NodeRecord:
    return result.node(name)


def find_nodes_that_pass_filters(framework: Framework, state: CycleState, pod: dict, diagnosis: Diagnosis,
                                 nodes: list[NodeInfo], next_start_index: int,
                                 result: ScheduleResult | None = None, evaluate_all: bool = False,
                                 global_percentage: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE) -> list[NodeInfo]:
    """Run the Filter plugins on nodes, starting at ``next_start_index``, until enough feasible
    nodes are found. Failed nodes go into ``diagnosis``."""
    num_all = len(nodes)
    if num_all == 0:
        return []
    num_to_find = num_feasible_nodes_to_find(framework.percentage_of_nodes_to_score, num_all, global_percentage)
    if not framework.has_score_plugins():
        num_to_find = 1
    if not framework.has_filter_plugins():
        feasible = [nodes[(next_start_index + i) % num_all] for i in range(num_to_find)]
        if result is not None:
            for ni in feasible:
                rec = _record(result, ni.name)
                rec.evaluated = rec.feasible = True
        return feasible
    feasible: list[NodeInfo] = []
    for i in range(num_all):
        ni = nodes[(next_start_index + i) % num_all]
        status, verdicts = framework.run_filter_plugins_with_nominated_pods(state, pod, ni, evaluate_all)
        if result is not None:
            rec = _record(result, ni.name)
            rec.evaluated = True
            rec.filters = verdicts
            rec.status = status
        if status is not None and status.code == Code.Error:
            raise _FilterFailed(str(status.as_error()), len(feasible))
        if is_success(status):
            feasible.append(ni)
            if result is not None:
                _record(result, ni.name).feasible = True
            if len(feasible) >= num_to_find:
                break
        else:
            diagnosis.node_to_status.set(ni.name, status)
            diagnosis.add_plugin_status(status)
    return feasible


def find_nodes_that_fit_pod(framework: Framework, state: CycleState, pod: dict, node_infos: list[NodeInfo],
                            next_start_index: int = 0, result: ScheduleResult | None = None,
                            evaluate_all: bool = False,
                            global_percentage: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE
                            ) -> tuple[list[NodeInfo], Diagnosis, int]:
    """PreFilter, the nominated node first (if any), then Filter. Returns (feasible nodes,
    diagnosis, new next_start_index)."""
    diagnosis = Diagnosis()
    pre_res, s, unschedulable_plugins = framework.run_pre_filter_plugins(state, pod, node_infos)
    diagnosis.unschedulable_plugins = set(unschedulable_plugins)
    if result is not None:
        result.skipped_filter_plugins = set(state.skip_filter_plugins)
    if not is_success(s):
        if not s.is_rejected():
            raise SchedulerError(str(s.as_error()))
        diagnosis.node_to_status.absent_nodes_status = s
        diagnosis.pre_filter_msg = s.message()
        diagnosis.add_plugin_status(s)
        if result is not None:
            result.pre_filter_status = s
        return [], diagnosis, next_start_index

    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    if nominated:
        candidates = [ni for ni in node_infos if ni.name == nominated]
        if candidates:
            feasible = find_nodes_that_pass_filters(framework, state, pod, diagnosis, candidates, 0, result,
                                                    evaluate_all, global_percentage)
            if feasible:
                return feasible, diagnosis, next_start_index

    nodes = node_infos
    if pre_res is not None and not pre_res.all_nodes():
        nodes = [ni for ni in node_infos if ni.name in pre_res.node_names]
        plugins = " ".join(sorted(unschedulable_plugins))
        diagnosis.node_to_status.absent_nodes_status = Status(
            Code.UnschedulableAndUnresolvable, [f"node(s) didn't satisfy plugin(s) [{plugins}]"])
        if result is not None:
            for rec in result.nodes:
                if rec.name not in pre_res.node_names:
                    rec.status = diagnosis.node_to_status.absent_nodes_status
    # Whatever happens, move the start index past the nodes processed, so every node gets its turn.
    num_feasible = 0
    try:
        feasible = find_nodes_that_pass_filters(framework, state, pod, diagnosis, nodes, next_start_index, result,
                                                evaluate_all, global_percentage)
        num_feasible = len(feasible)
    except _FilterFailed as err:
        num_feasible = err.num_feasible
        raise
    finally:
        processed = len(diagnosis.node_to_status) + num_feasible
        next_start_index = (next_start_index + processed) % len(node_infos)
        if result is not None:
            result.next_start_node_index = next_start_index
    return feasible, diagnosis, next_start_index


# --------------------------------------------------------------------------------------------
# Scoring and selection
# --------------------------------------------------------------------------------------------

def prioritize_nodes(framework: Framework, state: CycleState, pod: dict, nodes: list[NodeInfo]
                     ) -> list[NodePluginScores]:
    """Run PreScore and Score; with no Score plugins every node scores 1."""
    if not framework.has_score_plugins():
        return [NodePluginScores(ni.name, [], 1) for ni in nodes]
    s = framework.run_pre_score_plugins(state, pod, nodes)
    if not is_success(s):
        raise SchedulerError(str(s.as_error()))
    scores, s = framework.run_score_plugins(state, pod, nodes)
    if not is_success(s):
        raise SchedulerError(str(s.as_error()))
    return scores


def _less(a: NodePluginScores, b: NodePluginScores) -> bool:
    return a.total_score > b.total_score


def _down(h: list, i0: int, n: int) -> None:
    """container/heap down(): sift element i0 down within h[:n]."""
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and _less(h[j2], h[j1]):
            j = j2
        if not _less(h[j], h[i]):
            break
        h[i], h[j] = h[j], h[i]
        i = j


def _heap_init(h: list) -> None:
    n = len(h)
    for i in range(n // 2 - 1, -1, -1):
        _down(h, i, n)


def _heap_pop(h: list):
    n = len(h) - 1
    h[0], h[n] = h[n], h[0]
    _down(h, 0, n)
    return h.pop()


def select_host(node_score_list: list[NodePluginScores], count: int = NUMBER_OF_HIGHEST_SCORED_NODES_TO_REPORT,
                rng: random.Random | None = None) -> tuple[str, list[NodePluginScores]]:
    """Pick the node with the highest total score; among nodes tied at the top, the k-th one
    replaces the current pick with probability 1/k (reservoir sampling, ``rng.randrange(k) == 0``
    like Go's ``rand.Intn(k) == 0``). Also returns the top ``count`` nodes, chosen node first.
    Nodes come off a max-heap exactly as Go's container/heap pops them."""
    if not node_score_list:
        raise EmptyPriorityListError()
    if rng is None:
        raise SchedulerError("select_host needs a random.Random")
    h = list(node_score_list)
    _heap_init(h)
    count_of_max_score = 1
    selected_index = 0
    sorted_list = [_heap_pop(h)]
    while h:
        ns = _heap_pop(h)
        if ns.total_score != sorted_list[0].total_score and len(sorted_list) == count:
            break
        if ns.total_score == sorted_list[0].total_score:
            count_of_max_score += 1
            if rng.randrange(count_of_max_score) == 0:
                selected_index = count_of_max_score - 1
        sorted_list.append(ns)
    if selected_index != 0:
        sorted_list[0], sorted_list[selected_index] = sorted_list[selected_index], sorted_list[0]
    if len(sorted_list) > count:
        sorted_list = sorted_list[:count]
    return sorted_list[0].name, sorted_list


def schedule_pod(framework: Framework, state: CycleState, pod: dict, node_infos: list[NodeInfo],
                 rng: random.Random, next_start_index: int = 0, evaluate_all_filters: bool = False,
                 global_percentage: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE) -> ScheduleResult:
    """Find a node for ``pod`` among ``node_infos`` (the snapshot of this cycle).

    Returns a ScheduleResult (``suggested_host`` and the record). Raises FitError when no node
    fits (``err.result`` keeps the record and the new start index), NoNodesAvailableError when
    there are no nodes, SchedulerError when a plugin fails. ``evaluate_all_filters`` runs every
    Filter plugin on every examined node for display; the decision still follows upstream (the
    first rejection counts)."""
    if not node_infos:
        raise NoNodesAvailableError()
    framework.snapshot = node_infos
    result = ScheduleResult(
        next_start_node_index=next_start_index,
        node_names=[ni.name for ni in node_infos],
        filter_plugins=framework.filter_plugin_names,
        score_plugins=framework.score_plugin_names,
        score_weights=dict(framework.score_plugin_weight),
    )
    feasible, diagnosis, result.next_start_node_index = find_nodes_that_fit_pod(
        framework, state, pod, node_infos, next_start_index, result, evaluate_all_filters, global_percentage)
    result.diagnosis = diagnosis
    if not feasible:
        raise FitError(pod, len(node_infos), diagnosis, result)
    result.feasible_nodes = len(feasible)
    result.evaluated_nodes = len(feasible) + len(diagnosis.node_to_status)
    if len(feasible) == 1:
        result.suggested_host = feasible[0].name
        result.node(result.suggested_host).chosen = True
        return result
    priority_list = prioritize_nodes(framework, state, pod, feasible)
    result.scored = True
    result.skipped_score_plugins = set(state.skip_score_plugins)
    for nps in priority_list:
        rec = result.node(nps.name)
        rec.scores = list(nps.scores)
        rec.total_score = nps.total_score
    host, top = select_host(priority_list, NUMBER_OF_HIGHEST_SCORED_NODES_TO_REPORT, rng)
    result.suggested_host = host
    result.top_nodes = top
    result.node(host).chosen = True
    return result
