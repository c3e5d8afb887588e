"""Mirrors: pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go,
staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go,
pkg/scheduler/apis/config/validation/validation_pluginargs.go (ValidateNodeAffinityArgs)

NodeAffinity keeps a pod on the nodes its ``spec.nodeSelector`` and
``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`` allow (Filter), and
prefers nodes matching its ``preferredDuringSchedulingIgnoredDuringExecution`` terms (Score).

* Required: ``nodeSelector`` (every label must match) AND the node selector terms (ORed; inside
  a term, ``matchExpressions`` and ``matchFields`` are ANDed). An empty term selects nothing; a
  term that does not parse (e.g. ``Gt`` with two values) matches nothing.
* PreFilter: terms that pin ``metadata.name`` with ``In`` restrict the nodes to those names
  (a PreFilterResult), so big clusters do not run Filter on every node.
* Score: the sum of the weights of matching preferred terms (plus the plugin's ``addedAffinity``
  preferred terms), normalized with DefaultNormalizeScore(100, reverse=false).
* ``addedAffinity`` (NodeAffinityArgs) is enforced on every pod of the profile, on top of the
  pod's own affinity (a rejection reads "node(s) didn't match scheduler-enforced node affinity").
"""

from __future__ import annotations

from typing import Any

from k8slab.api.errors import FieldError, invalid, required
from k8slab.api.objects import Requirement, Selector
from k8slab.scheduler.framework import (
    MAX_NODE_SCORE, Code, CycleState, NodeInfo, NodeScore, NotFoundError, Plugin, PreFilterResult, Status,
    default_normalize_score,
)
from k8slab.scheduler.plugins.noderesources import InvalidPluginArgsError

NAME = "NodeAffinity"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"

OBJECT_NAME_FIELD = "metadata.name"

_LABEL_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!", "Gt": "gt", "Lt": "lt"}


# --------------------------------------------------------------------------------------------
# component-helpers nodeaffinity: parsing and matching node selectors
# --------------------------------------------------------------------------------------------

def node_selector_requirements_as_selector(reqs: list[dict], path: str = "matchExpressions") -> Selector:
    """nodeSelectorRequirementsAsSelector; raises ValueError (with a field path) on bad input."""
    out = []
    for i, r in enumerate(reqs):
        op, values = r.get("operator"), list(r.get("values") or [])
        if op in ("In", "NotIn"):
            if not values:
                raise ValueError(f"{path}[{i}].values: Required value: must be specified when `operator` is 'In' "
                                 "or 'NotIn'")
        elif op in ("Exists", "DoesNotExist"):
            if values:
                raise ValueError(f"{path}[{i}].values: Forbidden: may not be specified when `operator` is "
                                 "'Exists' or 'DoesNotExist'")
        elif op in ("Gt", "Lt"):
            if len(values) != 1:
                raise ValueError(f"{path}[{i}].values: Required value: must be specified single value when "
                                 "`operator` is 'Lt' or 'Gt'")
            try:
                int(values[0])
            except ValueError:
                raise ValueError(f"{path}[{i}].values[0]: Invalid value: {values[0]!r}: "
                                 "must be an integer") from None
        else:
            raise ValueError(f"{path}[{i}].operator: Invalid value: {op!r}: not a valid selector operator")
        out.append(Requirement(r.get("key", ""), _LABEL_OPS[op], values))
    return Selector(out)


def _fields_as_selector(reqs: list[dict], path: str = "matchFields") -> list[tuple[str, str, str]]:
    out = []
    for i, r in enumerate(reqs):
        op, values = r.get("operator"), list(r.get("values") or [])
        if r.get("key") != OBJECT_NAME_FIELD:
            raise ValueError(f"{path}[{i}].key: Invalid value: {r.get('key')!r}: not a valid field selector key")
        if op not in ("In", "NotIn"):
            raise ValueError(f"{path}[{i}].operator: Invalid value: {op!r}: not a valid selector operator")
        if len(values) != 1:
            raise ValueError(f"{path}[{i}].values: Required value: must be only one value when `operator` is 'In' "
                             "or 'NotIn' for node field selector")
        out.append((r["key"], op, values[0]))
    return out


def _is_empty_term(term: dict | None) -> bool:
    return not term or (not term.get("matchExpressions") and not term.get("matchFields"))


class NodeSelectorTerm:
    """One parsed term: labels (matchExpressions) AND fields (matchFields)."""

    __slots__ = ("labels", "fields")

    def __init__(self, term: dict, path: str = "") -> None:
        prefix = f"{path}." if path else ""
        self.labels = (node_selector_requirements_as_selector(term["matchExpressions"], prefix + "matchExpressions")
                       if term.get("matchExpressions") else None)
        self.fields = (_fields_as_selector(term["matchFields"], prefix + "matchFields")
                       if term.get("matchFields") else None)

    def match(self, node: dict) -> bool:
        meta = node.get("metadata") or {}
        if self.labels is not None and not self.labels.matches(meta.get("labels") or {}):
            return False
        if self.fields is not None:
            name = meta.get("name", "")
            for _, op, value in self.fields:
                if (op == "In") != (name == value):
                    return False
        return True


class LazyErrorNodeSelector:
    """NewLazyErrorNodeSelector: terms that fail to parse are kept as errors and never match."""

    def __init__(self, node_selector: dict) -> None:
        self.terms: list[NodeSelectorTerm] = []
        self.errors: list[str] = []
        for i, term in enumerate(node_selector.get("nodeSelectorTerms") or []):
            if _is_empty_term(term):
                continue  # a nil or empty term selects no objects
            try:
                self.terms.append(NodeSelectorTerm(term, f"nodeSelectorTerms[{i}]"))
            except ValueError as err:
                self.errors.append(str(err))

    def match(self, node: dict) -> bool:
        return any(t.match(node) for t in self.terms)


def new_node_selector(node_selector: dict, path: str = "") -> LazyErrorNodeSelector:
    """NewNodeSelector: like the lazy one but raises on the first parse error."""
    sel = LazyErrorNodeSelector(node_selector)
    if sel.errors:
        raise ValueError(f"{path}.{sel.errors[0]}" if path else sel.errors[0])
    return sel


class PreferredSchedulingTerms:
    """NewPreferredSchedulingTerms: weighted terms; weight 0 and empty terms are dropped."""

    def __init__(self, terms: list[dict], path: str = "", strict: bool = False) -> None:
        self.terms: list[tuple[NodeSelectorTerm, int]] = []
        for i, t in enumerate(terms or []):
            weight = int(t.get("weight") or 0)
            if weight == 0 or _is_empty_term(t.get("preference")):
                continue
            try:
                self.terms.append((NodeSelectorTerm(t["preference"], f"{path}[{i}].preference"), weight))
            except ValueError:
                if strict:
                    raise

    def score(self, node: dict) -> int:
        return sum(w for term, w in self.terms if term.match(node))


class RequiredNodeAffinity:
    """GetRequiredNodeAffinity(pod): ``spec.nodeSelector`` AND the required node affinity."""

    __slots__ = ("label_selector", "node_selector")

    def __init__(self, pod: dict) -> None:
        spec = pod.get("spec") or {}
        ns = spec.get("nodeSelector")
        self.label_selector = Selector([Requirement(k, "=", [v]) for k, v in ns.items()]) if ns else None
        req = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution")))
        self.node_selector = LazyErrorNodeSelector(req) if req is not None else None

    def match(self, node: dict) -> bool:
        if self.label_selector is not None and not self.label_selector.matches(
                (node.get("metadata") or {}).get("labels") or {}):
            return False
        if self.node_selector is not None:
            return self.node_selector.match(node)
        return True


def get_required_node_affinity(pod: dict) -> RequiredNodeAffinity:
    return RequiredNodeAffinity(pod)


def get_pod_preferred_node_affinity(pod: dict) -> PreferredSchedulingTerms | None:
    na = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
    terms = na.get("preferredDuringSchedulingIgnoredDuringExecution")
    if not terms:
        return None
    return PreferredSchedulingTerms(terms)


# --------------------------------------------------------------------------------------------
# Args
# --------------------------------------------------------------------------------------------

def validate_node_affinity_args(args: dict | None) -> None:
    """ValidateNodeAffinityArgs: addedAffinity's selectors must parse."""
    added = (args or {}).get("addedAffinity")
    if added is None:
        return
    errs: list[FieldError] = []
    req = added.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is not None:
        if not req.get("nodeSelectorTerms"):
            errs.append(required("addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
                                 "must have at least one node selector term"))
        try:
            new_node_selector(req)
        except ValueError as err:
            errs.append(invalid("addedAffinity.requiredDuringSchedulingIgnoredDuringExecution", None, str(err)))
    try:
        PreferredSchedulingTerms(added.get("preferredDuringSchedulingIgnoredDuringExecution") or [],
                                 "preferredDuringSchedulingIgnoredDuringExecution", strict=True)
    except ValueError as err:
        errs.append(invalid("addedAffinity.preferredDuringSchedulingIgnoredDuringExecution", None, str(err)))
    if errs:
        raise InvalidPluginArgsError(errs)


# --------------------------------------------------------------------------------------------
# The plugin
# --------------------------------------------------------------------------------------------

class _State:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def clone(self) -> "_State":
        return self


class NodeAffinity(Plugin):
    NAME = NAME
    EVENTS = ("Node/Add", "Node/UpdateNodeLabel")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        super().__init__(args, handle)
        validate_node_affinity_args(args)
        self.added_node_selector: LazyErrorNodeSelector | None = None
        self.added_pref_sched_terms: PreferredSchedulingTerms | None = None
        added = (args or {}).get("addedAffinity")
        if added is not None:
            req = added.get("requiredDuringSchedulingIgnoredDuringExecution")
            if req is not None:
                self.added_node_selector = new_node_selector(req)
            self.added_pref_sched_terms = PreferredSchedulingTerms(
                added.get("preferredDuringSchedulingIgnoredDuringExecution") or [])

    # -- filtering --------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status | None]:
        spec = pod.get("spec") or {}
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required_ = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        no_node_affinity = required_ is None
        if no_node_affinity and self.added_node_selector is None and spec.get("nodeSelector") is None:
            return None, Status(Code.Skip)
        state.write(PRE_FILTER_STATE_KEY, _State(get_required_node_affinity(pod)))
        if no_node_affinity or not required_.get("nodeSelectorTerms"):
            return None, None
        node_names: set[str] | None = None
        for term in required_["nodeSelectorTerms"]:
            term_names: set[str] | None = None
            for r in (term or {}).get("matchFields") or []:
                if r.get("key") == OBJECT_NAME_FIELD and r.get("operator") == "In":
                    s = set(r.get("values") or [])
                    term_names = s if term_names is None else term_names & s
            if term_names is None:
                return None, None  # this term does not pin names: every node is eligible
            node_names = term_names if node_names is None else node_names | term_names
        if node_names is not None and not node_names:
            return None, Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_CONFLICT])
        if node_names:
            return PreFilterResult(node_names), None
        return None, None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        node = node_info.node or {}
        if self.added_node_selector is not None and not self.added_node_selector.match(node):
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_ENFORCED])
        try:
            required_ = state.read(PRE_FILTER_STATE_KEY).value
        except NotFoundError:
            required_ = get_required_node_affinity(pod)
        if not required_.match(node):
            return Status(Code.UnschedulableAndUnresolvable, [ERR_REASON_POD])
        return None

    # -- scoring ------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        preferred = get_pod_preferred_node_affinity(pod)
        if preferred is None and self.added_pref_sched_terms is None:
            return Status(Code.Skip)
        state.write(PRE_SCORE_STATE_KEY, _State(preferred))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        node = node_info.node or {}
        count = 0
        if self.added_pref_sched_terms is not None:
            count += self.added_pref_sched_terms.score(node)
        try:
            preferred = state.read(PRE_SCORE_STATE_KEY).value
        except NotFoundError:
            preferred = get_pod_preferred_node_affinity(pod)
        if preferred is not None:
            count += preferred.score(node)
        return count, None

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        return default_normalize_score(MAX_NODE_SCORE, False, scores)
