"""Mirrors: pkg/scheduler/framework/plugins/interpodaffinity/{plugin.go,filtering.go,scoring.go},
pkg/scheduler/framework/types.go (AffinityTerm, WeightedAffinityTerm, getNamespacesFromPodAffinityTerm),
pkg/scheduler/apis/config/v1/defaults.go (SetDefaults_InterPodAffinityArgs),
pkg/scheduler/apis/config/validation/validation_pluginargs.go (ValidateInterPodAffinityArgs)

InterPodAffinity places pods relative to other pods, by topology domain (node, zone, ...).

Filter, three checks, in this order:

1. the pod's required **affinity**: every term must find a matching pod in the node's domain
   (UnschedulableAndUnresolvable otherwise), except that the first pod of a group whose terms
   match itself may go anywhere the topology keys exist, when no pod matches yet;
2. the pod's required **anti-affinity**: no matching pod in the node's domain (Unschedulable);
3. **existing pods' anti-affinity**: no pod already placed has a required anti-affinity term
   that the incoming pod matches, in that pod's domain (Unschedulable). This symmetry is what
   makes anti-affinity expensive: every pod with required anti-affinity is consulted for every
   incoming pod.

Score: for each existing pod, add the weight of each of the incoming pod's preferred affinity
terms it matches (subtract for anti-affinity), add ``hardPodAffinityWeight`` (default 1) for each
of the existing pod's *required* affinity terms the incoming pod matches, and add or subtract the
existing pod's preferred terms; the sums are per topology value. Normalize:
``int(100 x (s - min) / (max - min))`` over the nodes scored.
"""

from __future__ import annotations

from typing import Any, Callable

from k8slab.api.errors import invalid
from k8slab.api.objects import Selector, label_selector_as_selector
from k8slab.scheduler.framework import (
    MAX_NODE_SCORE, Code, CycleState, NodeInfo, NodeScore, NotFoundError, Plugin, PreFilterResult, SchedulerError,
    Status, as_status,
)
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError

NAME = "InterPodAffinity"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME

ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"

DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1
MIN_HARD_POD_AFFINITY_WEIGHT = 0
MAX_HARD_POD_AFFINITY_WEIGHT = 100
LABEL_METADATA_NAME = "kubernetes.io/metadata.name"


def set_defaults_inter_pod_affinity_args(args: dict | None) -> dict:
    out = dict(args or {})
    if out.get("hardPodAffinityWeight") is None:
        out["hardPodAffinityWeight"] = DEFAULT_HARD_POD_AFFINITY_WEIGHT
    out.setdefault("ignorePreferredTermsOfExistingPods", False)
    return out


def validate_inter_pod_affinity_args(args: dict, path: str = "") -> None:
    w = args.get("hardPodAffinityWeight")
    if not isinstance(w, int) or w < MIN_HARD_POD_AFFINITY_WEIGHT or w > MAX_HARD_POD_AFFINITY_WEIGHT:
        field = f"{path}.hardPodAffinityWeight" if path else "hardPodAffinityWeight"
        raise InvalidPluginArgsError([invalid(field, w, f"not in valid range [{MIN_HARD_POD_AFFINITY_WEIGHT}, "
                                                        f"{MAX_HARD_POD_AFFINITY_WEIGHT}]")])


# --------------------------------------------------------------------------------------------
# Affinity terms (types.go)
# --------------------------------------------------------------------------------------------

def default_namespace_labels(ns: str) -> dict:
    """The label every Namespace carries since 1.22; used when no Namespace lister is available."""
    return {LABEL_METADATA_NAME: ns}


class AffinityTerm:
    """A parsed PodAffinityTerm: namespaces, namespace selector, label selector, topology key."""

    __slots__ = ("namespaces", "namespace_selector", "selector", "topology_key", "weight")

    def __init__(self, pod: dict, term: dict, weight: int = 0) -> None:
        pod_ns = (pod.get("metadata") or {}).get("namespace", "default")
        namespaces = set(term.get("namespaces") or [])
        ns_sel = term.get("namespaceSelector")
        if not namespaces and ns_sel is None:
            namespaces = {pod_ns}  # getNamespacesFromPodAffinityTerm
        self.namespaces = namespaces
        self.namespace_selector: Selector = label_selector_as_selector(ns_sel)
        self.selector: Selector = label_selector_as_selector(term.get("labelSelector"))
        self.topology_key = term.get("topologyKey", "")
        self.weight = weight

    def matches(self, pod: dict, ns_labels: Callable[[str], dict]) -> bool:
        """AffinityTerm.Matches: the pod's namespace is listed or selected, and its labels match."""
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace", "default")
        if ns in self.namespaces or (not self.namespace_selector.nothing
                                     and self.namespace_selector.matches(ns_labels(ns))):
            return self.selector.matches(meta.get("labels") or {})
        return False


def _pod_affinity(pod: dict, kind: str) -> dict:
    return (((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {})


def required_affinity_terms(pod: dict) -> list[AffinityTerm]:
    return [AffinityTerm(pod, t) for t in
            _pod_affinity(pod, "podAffinity").get("requiredDuringSchedulingIgnoredDuringExecution") or []]


def required_anti_affinity_terms(pod: dict) -> list[AffinityTerm]:
    return [AffinityTerm(pod, t) for t in
            _pod_affinity(pod, "podAntiAffinity").get("requiredDuringSchedulingIgnoredDuringExecution") or []]


def preferred_terms(pod: dict, kind: str) -> list[AffinityTerm]:
    return [AffinityTerm(pod, t.get("podAffinityTerm") or {}, int(t.get("weight") or 0)) for t in
            _pod_affinity(pod, kind).get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def pod_matches_all_affinity_terms(terms: list[AffinityTerm], pod: dict, ns_labels: Callable[[str], dict]) -> bool:
    if not terms:
        return False
    return all(t.matches(pod, ns_labels) for t in terms)


def _labels(node: dict | None) -> dict:
    return ((node or {}).get("metadata") or {}).get("labels") or {}


class TopologyToMatchedTermCount(dict):
    """(topologyKey, value) -> count."""

    def _add(self, pair: tuple[str, str], value: int) -> None:
        n = self.get(pair, 0) + value
        if n == 0:
            self.pop(pair, None)
        else:
            self[pair] = n

    def update_with_affinity_terms(self, terms: list[AffinityTerm], pod: dict, node: dict, value: int,
                                   ns_labels: Callable[[str], dict]) -> None:
        """Count the pod for every term only if it matches ALL the terms."""
        if pod_matches_all_affinity_terms(terms, pod, ns_labels):
            labels = _labels(node)
            for t in terms:
                if t.topology_key in labels:
                    self._add((t.topology_key, labels[t.topology_key]), value)

    def update_with_anti_affinity_terms(self, terms: list[AffinityTerm], pod: dict, node: dict, value: int,
                                        ns_labels: Callable[[str], dict]) -> None:
        """Count the pod for each anti-affinity term it matches."""
        labels = _labels(node)
        for t in terms:
            if t.matches(pod, ns_labels) and t.topology_key in labels:
                self._add((t.topology_key, labels[t.topology_key]), value)

    def clone(self) -> "TopologyToMatchedTermCount":
        return TopologyToMatchedTermCount(self)


class PreFilterState:
    def __init__(self, pod: dict) -> None:
        self.pod = pod
        self.required_affinity_terms = required_affinity_terms(pod)
        self.required_anti_affinity_terms = required_anti_affinity_terms(pod)
        self.existing_anti_affinity_counts = TopologyToMatchedTermCount()
        self.affinity_counts = TopologyToMatchedTermCount()
        self.anti_affinity_counts = TopologyToMatchedTermCount()

    def clone(self) -> "PreFilterState":
        c = PreFilterState.__new__(PreFilterState)
        c.pod = self.pod
        c.required_affinity_terms = self.required_affinity_terms
        c.required_anti_affinity_terms = self.required_anti_affinity_terms
        c.existing_anti_affinity_counts = self.existing_anti_affinity_counts.clone()
        c.affinity_counts = self.affinity_counts.clone()
        c.anti_affinity_counts = self.anti_affinity_counts.clone()
        return c


class PreScoreState:
    def __init__(self) -> None:
        self.topology_score: dict[str, dict[str, int]] = {}

    def clone(self) -> "PreScoreState":
        return self

    def process_term(self, term: AffinityTerm, weight: int, pod_to_check: dict, fixed_node: dict, multiplier: int,
                     ns_labels: Callable[[str], dict]) -> None:
        labels = _labels(fixed_node)
        if not labels:
            return
        if term.matches(pod_to_check, ns_labels) and term.topology_key in labels:
            scores = self.topology_score.setdefault(term.topology_key, {})
            value = labels[term.topology_key]
            scores[value] = scores.get(value, 0) + weight * multiplier


class InterPodAffinity(Plugin):
    NAME = NAME
    EVENTS = ("Pod/All", "Node/Add", "Node/UpdateNodeLabel")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        args = set_defaults_inter_pod_affinity_args(args)
        validate_inter_pod_affinity_args(args)
        self.args = args

    def _ns_labels(self, ns: str) -> dict:
        lookup = getattr(self.handle, "namespace_labels", None)
        if lookup is not None:
            labels = lookup(ns)
            if labels is not None:
                return labels
        return default_namespace_labels(ns)

    def _all_nodes(self, fallback: list[NodeInfo]) -> list[NodeInfo]:
        return getattr(self.handle, "snapshot", None) or fallback

    # -- filtering ----------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status | None]:
        all_nodes = self._all_nodes(nodes)
        try:
            s = PreFilterState(pod)
        except ValueError as err:
            return None, as_status(SchedulerError(f"parsing pod: {err}"))
        ns_labels = self._ns_labels
        for ni in all_nodes:
            for existing in ni.pods_with_required_anti_affinity:
                s.existing_anti_affinity_counts.update_with_anti_affinity_terms(
                    required_anti_affinity_terms(existing.pod), pod, ni.node, 1, ns_labels)
        if s.required_affinity_terms or s.required_anti_affinity_terms:
            for ni in all_nodes:
                for existing in ni.pods:
                    s.affinity_counts.update_with_affinity_terms(s.required_affinity_terms, existing.pod, ni.node,
                                                                 1, ns_labels)
                    s.anti_affinity_counts.update_with_anti_affinity_terms(s.required_anti_affinity_terms,
                                                                           existing.pod, ni.node, 1, ns_labels)
        if (not s.existing_anti_affinity_counts and not s.required_affinity_terms
                and not s.required_anti_affinity_terms):
            return None, Status(Code.Skip)
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    def _update_with_pod(self, s: PreFilterState, updated_pod: dict, node: dict | None, multiplier: int) -> None:
        if s is None or node is None:
            return
        ns_labels = self._ns_labels
        s.existing_anti_affinity_counts.update_with_anti_affinity_terms(
            required_anti_affinity_terms(updated_pod), s.pod, node, multiplier, ns_labels)
        s.affinity_counts.update_with_affinity_terms(s.required_affinity_terms, updated_pod, node, multiplier,
                                                     ns_labels)
        s.anti_affinity_counts.update_with_anti_affinity_terms(s.required_anti_affinity_terms, updated_pod, node,
                                                               multiplier, ns_labels)

    def add_pod(self, state: CycleState, pod: dict, pod_info_to_add, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        self._update_with_pod(s, pod_info_to_add.pod, node_info.node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: dict, pod_info_to_remove, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        self._update_with_pod(s, pod_info_to_remove.pod, node_info.node, -1)
        return None

    def satisfy_pod_affinity(self, s: PreFilterState, node_info: NodeInfo) -> bool:
        pods_exist = True
        labels = _labels(node_info.node)
        for t in s.required_affinity_terms:
            if t.topology_key not in labels:
                return False  # all topology labels must exist on the node
            if s.affinity_counts.get((t.topology_key, labels[t.topology_key]), 0) <= 0:
                pods_exist = False
        if not pods_exist:
            # the first pod of a group with affinity to itself may start anywhere
            return not s.affinity_counts and pod_matches_all_affinity_terms(
                s.required_affinity_terms, s.pod, self._ns_labels)
        return True

    @staticmethod
    def satisfy_pod_anti_affinity(s: PreFilterState, node_info: NodeInfo) -> bool:
        if s.anti_affinity_counts:
            labels = _labels(node_info.node)
            for t in s.required_anti_affinity_terms:
                if t.topology_key in labels and s.anti_affinity_counts.get((t.topology_key, labels[t.topology_key]),
                                                                           0) > 0:
                    return False
        return True

    @staticmethod
    def satisfy_existing_pods_anti_affinity(s: PreFilterState, node_info: NodeInfo) -> bool:
        if s.existing_anti_affinity_counts:
            for pair in _labels(node_info.node).items():
                if s.existing_anti_affinity_counts.get(pair, 0) > 0:
                    return False
        return True

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        try:
            s = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        if not self.satisfy_pod_affinity(s, node_info):
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_AFFINITY_RULES_NOT_MATCH])
        if not self.satisfy_pod_anti_affinity(s, node_info):
            return Status(Code.Unschedulable, [ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH])
        if not self.satisfy_existing_pods_anti_affinity(s, node_info):
            return Status(Code.Unschedulable, [ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH])
        return None

    # -- scoring ------------------------------------------------------------------------------
    def _process_existing_pod(self, state: PreScoreState, pref_aff: list[AffinityTerm], pref_anti: list[AffinityTerm],
                              existing: dict, node: dict, incoming: dict) -> None:
        if not _labels(node):
            return
        ns_labels = self._ns_labels
        for t in pref_aff:
            state.process_term(t, t.weight, existing, node, 1, ns_labels)
        for t in pref_anti:
            state.process_term(t, t.weight, existing, node, -1, ns_labels)
        hard = self.args["hardPodAffinityWeight"]
        if hard > 0:
            for t in required_affinity_terms(existing):
                state.process_term(t, hard, incoming, node, 1, ns_labels)
        for t in preferred_terms(existing, "podAffinity"):
            state.process_term(t, t.weight, incoming, node, 1, ns_labels)
        for t in preferred_terms(existing, "podAntiAffinity"):
            state.process_term(t, t.weight, incoming, node, -1, ns_labels)

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return Status(Code.Skip)
        pref_aff = preferred_terms(pod, "podAffinity")
        pref_anti = preferred_terms(pod, "podAntiAffinity")
        has_constraints = bool(pref_aff or pref_anti)
        if self.args.get("ignorePreferredTermsOfExistingPods") and not has_constraints:
            return Status(Code.Skip)
        all_nodes = self._all_nodes(nodes)
        s = PreScoreState()
        for ni in all_nodes:
            pods = ni.pods if has_constraints else ni.pods_with_affinity
            for existing in pods:
                self._process_existing_pod(s, pref_aff, pref_anti, existing.pod, ni.node or {}, pod)
        if not s.topology_score:
            return Status(Code.Skip)
        state.write(PRE_SCORE_STATE_KEY, s)
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        try:
            s = state.read(PRE_SCORE_STATE_KEY)
        except NotFoundError as err:
            return 0, as_status(SchedulerError(f'error reading "{PRE_SCORE_STATE_KEY}" from cycleState: {err}'))
        labels = _labels(node_info.node)
        score = 0
        for tp_key, tp_values in s.topology_score.items():
            if tp_key in labels:
                score += tp_values.get(labels[tp_key], 0)
        return score, None

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        try:
            s = state.read(PRE_SCORE_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'error reading "{PRE_SCORE_STATE_KEY}" from cycleState: {err}'))
        if not s.topology_score:
            return None
        min_count = min(ns.score for ns in scores) if scores else 0
        max_count = max(ns.score for ns in scores) if scores else 0
        diff = max_count - min_count
        for ns in scores:
            f = 0.0
            if diff > 0:
                f = float(MAX_NODE_SCORE) * (float(ns.score - min_count) / float(diff))
            ns.score = int(f)
        return None
