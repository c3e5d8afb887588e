"""Mirrors: pkg/scheduler/framework/plugins/podtopologyspread/{plugin.go,common.go,filtering.go,scoring.go},
pkg/scheduler/framework/plugins/helper/spread.go (DefaultSelector),
pkg/scheduler/apis/config/v1/defaults.go (SetDefaults_PodTopologySpreadArgs),
pkg/scheduler/apis/config/validation/validation_pluginargs.go (ValidatePodTopologySpreadArgs)

PodTopologySpread spreads matching pods across topology domains (zones, hosts, ...).

* Filter (``whenUnsatisfiable: DoNotSchedule``): for every constraint, placing the pod on the node
  must keep ``matching pods in the node's domain + (1 if the pod matches itself) - global minimum
  <= maxSkew``. The global minimum is the smallest count over eligible domains, or 0 when there
  are fewer domains than ``minDomains``. A node missing the topology label is rejected
  (UnschedulableAndUnresolvable); a skew violation is Unschedulable.
* Score (``ScheduleAnyway``): for each node, ``Σ count_in_domain x ln(domains + 2) + (maxSkew - 1)``
  (rounded); normalization turns it around so the least crowded domain gets 100:
  ``100 x (max + min - s) / max``.
* A pod with no constraints of its own gets the *system default* constraints (hostname maxSkew 3,
  zone maxSkew 5, both ScheduleAnyway), with a selector built from the Services, ReplicaSets,
  StatefulSets and ReplicationControllers that select it. They only score: nodes without a zone
  label still take part in hostname spreading.
* Which nodes count: ``nodeAffinityPolicy`` (default Honor: only nodes matching the pod's
  nodeSelector/required affinity) and ``nodeTaintsPolicy`` (default Ignore: tainted nodes count).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from k8slab.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from k8slab.api.objects import Requirement, Selector, label_selector_as_selector
from k8slab.scheduler.framework import (
    MAX_NODE_SCORE, Code, CycleState, NodeInfo, NodeScore, NotFoundError, Plugin, PreFilterResult, SchedulerError,
    Status, as_status,
)
from k8slab.scheduler.plugins.nodeaffinity import get_required_node_affinity
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError, go_round
from k8slab.scheduler.plugins.tainttoleration import do_not_schedule_taints_filter, find_matching_untolerated_taint

NAME = "PodTopologySpread"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
NODE_INCLUSION_POLICY_HONOR = "Honor"
NODE_INCLUSION_POLICY_IGNORE = "Ignore"
SYSTEM_DEFAULTING = "System"
LIST_DEFAULTING = "List"
MAX_INT32 = 2**31 - 1
INVALID_SCORE = -1

SYSTEM_DEFAULT_CONSTRAINTS: list[dict] = [
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": LABEL_TOPOLOGY_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
]
"""systemDefaultConstraints: used when the pod has none and defaultingType is System."""


# --------------------------------------------------------------------------------------------
# Args
# --------------------------------------------------------------------------------------------

def set_defaults_pod_topology_spread_args(args: dict | None) -> dict:
    out = dict(args or {})
    if not out.get("defaultingType"):
        out["defaultingType"] = SYSTEM_DEFAULTING
    return out


def validate_pod_topology_spread_args(args: dict, path: str = "") -> None:
    p = f"{path}." if path else ""
    errs: list[FieldError] = []
    kind = args.get("defaultingType")
    if kind not in (SYSTEM_DEFAULTING, LIST_DEFAULTING):
        errs.append(not_supported(p + "defaultingType", kind, [LIST_DEFAULTING, SYSTEM_DEFAULTING]))
    constraints = args.get("defaultConstraints") or []
    if kind == SYSTEM_DEFAULTING and constraints:
        errs.append(invalid(p + "defaultConstraints", constraints, 'when .defaultingType is "System"'))
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        cp = f"{p}defaultConstraints[{i}]"
        if int(c.get("maxSkew") or 0) <= 0:
            errs.append(invalid(cp + ".maxSkew", c.get("maxSkew", 0), "not in valid range (0, inf)"))
        if not c.get("topologyKey"):
            errs.append(required(cp + ".topologyKey", "can not be empty"))
        when = c.get("whenUnsatisfiable")
        if when not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
            errs.append(not_supported(cp + ".whenUnsatisfiable", when, [DO_NOT_SCHEDULE, SCHEDULE_ANYWAY]))
        pair = (c.get("topologyKey", ""), when or "")
        if pair in seen:
            errs.append(duplicate(cp, f"{{{pair[0]}, {pair[1]}}}"))
        seen.add(pair)
        if c.get("labelSelector") is not None:
            errs.append(forbidden(cp + ".labelSelector", "constraint must not define a selector, as they deduced "
                                  "for each pod"))
    if errs:
        raise InvalidPluginArgsError(errs)


# --------------------------------------------------------------------------------------------
# Constraints (common.go)
# --------------------------------------------------------------------------------------------

class TopologySpreadConstraint:
    """The internal, parsed form of a v1.TopologySpreadConstraint."""

    __slots__ = ("max_skew", "topology_key", "selector", "min_domains", "node_affinity_policy", "node_taints_policy")

    def __init__(self, max_skew: int, topology_key: str, selector: Selector, min_domains: int = 1,
                 node_affinity_policy: str = NODE_INCLUSION_POLICY_HONOR,
                 node_taints_policy: str = NODE_INCLUSION_POLICY_IGNORE) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.min_domains = min_domains
        self.node_affinity_policy = node_affinity_policy
        self.node_taints_policy = node_taints_policy

    def match_node_inclusion_policies(self, pod: dict, node: dict, require) -> bool:
        if self.node_affinity_policy == NODE_INCLUSION_POLICY_HONOR and not require.match(node):
            return False
        if self.node_taints_policy == NODE_INCLUSION_POLICY_HONOR:
            taints = (node.get("spec") or {}).get("taints") or []
            tolerations = (pod.get("spec") or {}).get("tolerations") or []
            if find_matching_untolerated_taint(taints, tolerations, do_not_schedule_taints_filter) is not None:
                return False
        return True

    def __repr__(self) -> str:
        return (f"TopologySpreadConstraint(maxSkew={self.max_skew}, topologyKey={self.topology_key!r}, "
                f"selector={str(self.selector)!r}, minDomains={self.min_domains})")


def filter_topology_spread_constraints(constraints: list[dict], pod_labels: dict, action: str
                                       ) -> list[TopologySpreadConstraint]:
    """Keep the constraints with ``whenUnsatisfiable == action``; merge ``matchLabelKeys`` into the
    selector; default minDomains to 1 and the inclusion policies to Honor / Ignore."""
    out = []
    for c in constraints or []:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = label_selector_as_selector(c.get("labelSelector"))
        match_label_keys = c.get("matchLabelKeys") or []
        extra = [Requirement(k, "=", [pod_labels[k]]) for k in match_label_keys if k in (pod_labels or {})]
        if extra:
            selector = Selector(extra + list(selector.requirements), nothing=selector.nothing)
        out.append(TopologySpreadConstraint(
            int(c.get("maxSkew") or 0), c.get("topologyKey", ""), selector,
            int(c["minDomains"]) if c.get("minDomains") is not None else 1,
            c.get("nodeAffinityPolicy") or NODE_INCLUSION_POLICY_HONOR,
            c.get("nodeTaintsPolicy") or NODE_INCLUSION_POLICY_IGNORE))
    return out


def node_labels_match_spread_constraints(node_labels: dict, constraints: list[TopologySpreadConstraint]) -> bool:
    return all(c.topology_key in node_labels for c in constraints)


def count_pods_match_selector(pod_infos, selector: Selector, ns: str) -> int:
    """Matching pods in the namespace, terminating pods left out (kubernetes#87621)."""
    count = 0
    for pi in pod_infos:
        meta = pi.pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or meta.get("namespace", "default") != ns:
            continue
        if selector.matches(meta.get("labels") or {}):
            count += 1
    return count


def node_count_pods_match_selector(ni: NodeInfo, selector: Selector, ns: str) -> int:
    """count_pods_match_selector over one node's pods, reused while the node's generation is unchanged (a lookup
    shortcut: the count is what counting again would give)."""
    key = (selector.key, ns)
    hit = ni.match_counts.get(key)
    if hit is not None and hit[0] == ni.generation:
        return hit[1]
    n = count_pods_match_selector(ni.pods, selector, ns)
    ni.match_counts[key] = (ni.generation, n)
    return n


def _controller_of(pod: dict) -> dict | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _owner_resource(owner: dict) -> str | None:
    """The lister DefaultSelector reads for a controller reference (ReplicationController, ReplicaSet,
    StatefulSet), or None for any other kind."""
    group = (owner.get("apiVersion") or "").rpartition("/")[0]
    return _OWNER_RESOURCES.get((group, owner.get("kind")))


_OWNER_RESOURCES = {("", "ReplicationController"): "replicationcontrollers", ("apps", "ReplicaSet"): "replicasets",
                    ("apps", "StatefulSet"): "statefulsets"}


def default_selector(pod: dict, list_objects: Callable[[str, str], list[dict]] | None,
                     get_object: Callable[[str, str, str], dict | None] | None = None) -> Selector:
    """helper.DefaultSelector: the selectors of the Services selecting the pod, merged, plus the
    selector of the pod's controlling ReplicaSet, StatefulSet or ReplicationController (looked up by
    name with ``get_object`` when given, as the listers' Get does, else found in ``list_objects``)."""
    if list_objects is None:
        return Selector()
    meta = pod.get("metadata") or {}
    ns, labels = meta.get("namespace", "default"), meta.get("labels") or {}
    label_set: dict[str, str] = {}
    for svc in list_objects("services", ns):
        sel = (svc.get("spec") or {}).get("selector")
        if sel is None:
            continue
        if all(labels.get(k) == v for k, v in sel.items()):
            label_set.update(sel)
    reqs = [Requirement(k, "=", [v]) for k, v in label_set.items()]
    owner = _controller_of(pod)
    if owner is None:
        return Selector(reqs)
    resource = _owner_resource(owner)
    if resource is None:
        return Selector(reqs)
    if get_object is not None:
        found = get_object(resource, ns, owner.get("name") or "")
        candidates = [] if found is None else [found]
    else:
        candidates = list_objects(resource, ns)
    for obj in candidates:
        if (obj.get("metadata") or {}).get("name") != owner.get("name"):
            continue
        sel = (obj.get("spec") or {}).get("selector")
        if resource == "replicationcontrollers":
            merged = dict(label_set)
            merged.update(sel or {})
            return Selector([Requirement(k, "=", [v]) for k, v in merged.items()])
        try:
            other = label_selector_as_selector(sel)
        except ValueError:
            break
        if not other.nothing:
            reqs = reqs + list(other.requirements)
        break
    return Selector(reqs)


# --------------------------------------------------------------------------------------------
# Filter state (filtering.go)
# --------------------------------------------------------------------------------------------

class CriticalPaths:
    """The two topology values with the fewest matching pods (path 0 always holds the minimum)."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths = [["", MAX_INT32], ["", MAX_INT32]]

    def update(self, tp_val: str, num: int) -> None:
        p = self.paths
        i = 0 if tp_val == p[0][0] else (1 if tp_val == p[1][0] else -1)
        if i >= 0:
            p[i][1] = num
            if p[0][1] > p[1][1]:
                p[0], p[1] = p[1], p[0]
        elif num < p[0][1]:
            p[1] = list(p[0])
            p[0] = [tp_val, num]
        elif num < p[1][1]:
            p[1] = [tp_val, num]

    def copy(self) -> "CriticalPaths":
        c = CriticalPaths()
        c.paths = [list(self.paths[0]), list(self.paths[1])]
        return c


class PreFilterState:
    def __init__(self, constraints: list[TopologySpreadConstraint] | None = None) -> None:
        self.constraints = constraints or []
        self.critical_paths: list[CriticalPaths] = []
        self.tp_value_to_match_num: list[dict[str, int]] = []

    def min_match_num(self, constraint_id: int, min_domains: int) -> int:
        min_match = self.critical_paths[constraint_id].paths[0][1]
        if len(self.tp_value_to_match_num[constraint_id]) < min_domains:
            # fewer eligible domains than minDomains: the global minimum counts as 0
            min_match = 0
        return min_match

    def clone(self) -> "PreFilterState":
        c = PreFilterState(self.constraints)
        c.critical_paths = [p.copy() for p in self.critical_paths]
        c.tp_value_to_match_num = [dict(m) for m in self.tp_value_to_match_num]
        return c


class PreScoreState:
    def __init__(self) -> None:
        self.constraints: list[TopologySpreadConstraint] = []
        self.ignored_nodes: set[str] = set()
        self.topology_value_to_pod_counts: list[dict[str, int]] = []
        self.topology_normalizing_weight: list[float] = []

    def clone(self) -> "PreScoreState":
        return self


def topology_normalizing_weight(size: int) -> float:
    """ln(size + 2): counts in a topology with few domains weigh less than in one with many."""
    return math.log(float(size + 2))


def score_for_count(cnt: int, max_skew: int, tp_weight: float) -> float:
    """count x weight + (maxSkew - 1): a larger maxSkew waters down the differences."""
    return float(cnt) * tp_weight + float(max_skew - 1)


def _node(ni: NodeInfo) -> dict:
    return ni.node or {}


def _labels(node: dict) -> dict:
    return (node.get("metadata") or {}).get("labels") or {}


class PodTopologySpread(Plugin):
    NAME = NAME
    EVENTS = ("Pod/All", "Node/Add", "Node/Delete", "Node/UpdateNodeLabel")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        args = set_defaults_pod_topology_spread_args(args)
        validate_pod_topology_spread_args(args)
        self.args = args
        self.default_constraints: list[dict] = list(args.get("defaultConstraints") or [])
        self.system_defaulted = False
        if args["defaultingType"] == SYSTEM_DEFAULTING:
            self.default_constraints = SYSTEM_DEFAULT_CONSTRAINTS
            self.system_defaulted = True
        self._default_memo: dict[tuple, tuple] = {}

    # -- helpers ------------------------------------------------------------------------------
    def _all_nodes(self, fallback: list[NodeInfo]) -> list[NodeInfo]:
        return getattr(self.handle, "snapshot", None) or fallback

    def build_default_constraints(self, pod: dict, action: str) -> list[TopologySpreadConstraint]:
        """buildDefaultConstraints. When the handle reports a version of its Services (``services_version``) and
        looks owners up by name (``get_object``), the result is memoised on what it depends on: the action, the
        pod's namespace, labels and controller reference, that controller's resourceVersion and the Services'
        version. The constraints returned are shared and never changed. With no default constraint for
        ``action`` (the system defaults have none for DoNotSchedule) there is nothing to build or look up."""
        if not any(c.get("whenUnsatisfiable") == action for c in self.default_constraints):
            return []
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        services_version = getattr(self.handle, "services_version", None)
        get_object = getattr(self.handle, "get_object", None)
        key = None
        if services_version is not None and get_object is not None:
            owner = _controller_of(pod)
            owner_key = owner_rv = None
            if owner is not None:
                owner_key = (owner.get("apiVersion"), owner.get("kind"), owner.get("name"))
                resource = _owner_resource(owner)
                if resource is not None:
                    obj = get_object(resource, meta.get("namespace", "default"), owner.get("name") or "")
                    if obj is not None:
                        owner_rv = ((obj.get("metadata") or {}).get("uid"),
                                    (obj.get("metadata") or {}).get("resourceVersion"))
            key = (action, meta.get("namespace", "default"), tuple(labels.items()), owner_key, owner_rv,
                   services_version())
            hit = self._default_memo.get(key)
            if hit is not None:
                return list(hit)
        constraints = self._build_default_constraints(pod, labels, action)
        if key is not None:
            if len(self._default_memo) >= 4096:
                self._default_memo.clear()
            self._default_memo[key] = tuple(constraints)
        return constraints

    def _build_default_constraints(self, pod: dict, labels: dict, action: str) -> list[TopologySpreadConstraint]:
        constraints = filter_topology_spread_constraints(self.default_constraints, labels, action)
        if not constraints:
            return []
        selector = default_selector(pod, getattr(self.handle, "list_objects", None),
                                    getattr(self.handle, "get_object", None))
        if selector.empty():
            return []
        for c in constraints:
            c.selector = selector
        return constraints

    def get_constraints(self, pod: dict) -> list[TopologySpreadConstraint]:
        spec = pod.get("spec") or {}
        if spec.get("topologySpreadConstraints"):
            return filter_topology_spread_constraints(
                spec["topologySpreadConstraints"], (pod.get("metadata") or {}).get("labels") or {}, DO_NOT_SCHEDULE)
        return self.build_default_constraints(pod, DO_NOT_SCHEDULE)

    # -- filtering ----------------------------------------------------------------------------
    def cal_pre_filter_state(self, pod: dict, all_nodes: list[NodeInfo]) -> PreFilterState:
        constraints = self.get_constraints(pod)
        s = PreFilterState(constraints)
        if not constraints:
            return s
        s.tp_value_to_match_num = [{} for _ in constraints]
        require = get_required_node_affinity(pod)
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        for ni in all_nodes:
            node = _node(ni)
            labels = _labels(node)
            if not node_labels_match_spread_constraints(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.match_node_inclusion_policies(pod, node, require):
                    continue
                value = labels[c.topology_key]
                m = s.tp_value_to_match_num[i]
                m[value] = m.get(value, 0) + node_count_pods_match_selector(ni, c.selector, ns)
        for i in range(len(constraints)):
            paths = CriticalPaths()
            for value, num in s.tp_value_to_match_num[i].items():
                paths.update(value, num)
            s.critical_paths.append(paths)
        return s

    def pre_filter(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status | None]:
        try:
            s = self.cal_pre_filter_state(pod, nodes)
        except ValueError as err:
            return None, as_status(SchedulerError(f"get constraints from pod: {err}"))
        if not s.constraints:
            return None, Status(Code.Skip)
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    def _update_with_pod(self, s: PreFilterState, updated_pod: dict, preemptor: dict, node: dict | None,
                         delta: int) -> None:
        if s is None or node is None:
            return
        if ((updated_pod.get("metadata") or {}).get("namespace", "default")
                != (preemptor.get("metadata") or {}).get("namespace", "default")):
            return
        labels = _labels(node)
        if not node_labels_match_spread_constraints(labels, s.constraints):
            return
        require = get_required_node_affinity(preemptor)
        pod_labels = (updated_pod.get("metadata") or {}).get("labels") or {}
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(pod_labels):
                continue
            if not c.match_node_inclusion_policies(preemptor, node, require):
                continue
            v = labels[c.topology_key]
            s.tp_value_to_match_num[i][v] = s.tp_value_to_match_num[i].get(v, 0) + delta
            s.critical_paths[i].update(v, s.tp_value_to_match_num[i][v])

    def add_pod(self, state: CycleState, pod: dict, pod_info_to_add, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        self._update_with_pod(s, pod_info_to_add.pod, pod, node_info.node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: dict, pod_info_to_remove, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        self._update_with_pod(s, pod_info_to_remove.pod, pod, node_info.node, -1)
        return None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        if not s.constraints:
            return None
        labels = _labels(_node(node_info))
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        for i, c in enumerate(s.constraints):
            tp_val = labels.get(c.topology_key)
            if tp_val is None:
                return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_NODE_LABEL_NOT_MATCH])
            min_match = s.min_match_num(i, c.min_domains)
            self_match = 1 if c.selector.matches(pod_labels) else 0
            match_num = s.tp_value_to_match_num[i].get(tp_val, 0)
            if match_num + self_match - min_match > c.max_skew:
                return Status(Code.Unschedulable, [ERR_REASON_CONSTRAINTS_NOT_MATCH])
        return None

    # -- scoring ------------------------------------------------------------------------------
    def init_pre_score_state(self, s: PreScoreState, pod: dict, filtered_nodes: list[NodeInfo],
                             require_all_topologies: bool) -> None:
        spec = pod.get("spec") or {}
        if spec.get("topologySpreadConstraints"):
            s.constraints = filter_topology_spread_constraints(
                spec["topologySpreadConstraints"], (pod.get("metadata") or {}).get("labels") or {}, SCHEDULE_ANYWAY)
        else:
            s.constraints = self.build_default_constraints(pod, SCHEDULE_ANYWAY)
        if not s.constraints:
            return
        s.topology_value_to_pod_counts = [{} for _ in s.constraints]
        topo_size = [0] * len(s.constraints)
        for ni in filtered_nodes:
            labels = _labels(_node(ni))
            if require_all_topologies and not node_labels_match_spread_constraints(labels, s.constraints):
                s.ignored_nodes.add(ni.name)
                continue
            for i, c in enumerate(s.constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue  # per-node counts are computed in Score
                value = labels.get(c.topology_key, "")
                if value not in s.topology_value_to_pod_counts[i]:
                    s.topology_value_to_pod_counts[i][value] = 0
                    topo_size[i] += 1
        for i, c in enumerate(s.constraints):
            size = topo_size[i]
            if c.topology_key == LABEL_HOSTNAME:
                size = len(filtered_nodes) - len(s.ignored_nodes)
            s.topology_normalizing_weight.append(topology_normalizing_weight(size))

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        all_nodes = self._all_nodes(nodes)
        if not all_nodes:
            return Status(Code.Skip)
        s = PreScoreState()
        require_all = bool((pod.get("spec") or {}).get("topologySpreadConstraints")) or not self.system_defaulted
        try:
            self.init_pre_score_state(s, pod, nodes, require_all)
        except ValueError as err:
            return as_status(SchedulerError(f"calculating preScoreState: {err}"))
        if not s.constraints:
            return Status(Code.Skip)
        require = get_required_node_affinity(pod)
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        for ni in all_nodes:
            node = _node(ni)
            labels = _labels(node)
            if require_all and not node_labels_match_spread_constraints(labels, s.constraints):
                continue
            for i, c in enumerate(s.constraints):
                if not c.match_node_inclusion_policies(pod, node, require):
                    continue
                value = labels.get(c.topology_key, "")
                counts = s.topology_value_to_pod_counts[i]
                if value not in counts:
                    continue
                counts[value] += node_count_pods_match_selector(ni, c.selector, ns)
        state.write(PRE_SCORE_STATE_KEY, s)
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        try:
            s = state.read(PRE_SCORE_STATE_KEY)
        except NotFoundError as err:
            return 0, as_status(SchedulerError(f'error reading "{PRE_SCORE_STATE_KEY}" from cycleState: {err}'))
        if node_info.name in s.ignored_nodes:
            return 0, None
        labels = _labels(_node(node_info))
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        score = 0.0
        for i, c in enumerate(s.constraints):
            tp_val = labels.get(c.topology_key)
            if tp_val is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                cnt = node_count_pods_match_selector(node_info, c.selector, ns)
            else:
                cnt = s.topology_value_to_pod_counts[i].get(tp_val, 0)
            score += score_for_count(cnt, c.max_skew, s.topology_normalizing_weight[i])
        return go_round(score), None

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        try:
            s = state.read(PRE_SCORE_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_SCORE_STATE_KEY}" from cycleState: {err}'))
        min_score, max_score = 2**63 - 1, 0
        for ns_ in scores:
            if ns_.name in s.ignored_nodes:
                ns_.score = INVALID_SCORE
                continue
            min_score = min(min_score, ns_.score)
            max_score = max(max_score, ns_.score)
        for ns_ in scores:
            if ns_.score == INVALID_SCORE:
                ns_.score = 0
                continue
            if max_score == 0:
                ns_.score = MAX_NODE_SCORE
                continue
            ns_.score = MAX_NODE_SCORE * (max_score + min_score - ns_.score) // max_score
        return None
