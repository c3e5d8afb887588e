"""Mirrors: staging/src/k8s.io/apimachinery/pkg/labels/selector.go,
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go (LabelSelectorAsSelector),
staging/src/k8s.io/apimachinery/pkg/api/meta/conditions.go (SetStatusCondition),
staging/src/k8s.io/component-helpers/resource/helpers.go (PodRequests),
pkg/api/v1/pod/util.go (IsPodReady), staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/controller_ref.go

Small helpers for API objects, which are plain dicts in Kubernetes JSON shape.

Objects shared by the API server and informer caches are read-only: copy one with
``deepcopy`` before changing it. Time in the simulation is virtual milliseconds
(``now_ms``); ``rfc3339`` turns it into the timestamps objects carry.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from fractions import Fraction
from typing import Any, Callable, Iterable

from .quantity import parse_quantity

EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)


try:  # a C JSON codec makes the copy (and the API server's encoding) several times faster
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the pure-Python path is the fallback
    _orjson = None


def deepcopy(obj: Any) -> Any:
    """Copy JSON-like data (dicts, lists, scalars); much faster than ``copy.deepcopy``."""
    cls = type(obj)
    if _orjson is not None and (cls is dict or cls is list):
        try:
            return _orjson.loads(_orjson.dumps(obj))
        except TypeError:  # not plain JSON data (e.g. tuples of objects, big ints): copy it node by node
            pass
    return _deepcopy(obj)


def to_json(obj: Any) -> str:
    """Compact JSON text of an object, as the API server writes it to etcd."""
    if _orjson is not None:
        return _orjson.dumps(obj).decode()
    import json

    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _deepcopy(obj: Any) -> Any:
    cls = type(obj)
    if cls is dict:
        return {k: (v if type(v) not in (dict, list) else _deepcopy(v)) for k, v in obj.items()}
    if cls is list:
        return [v if type(v) not in (dict, list) else _deepcopy(v) for v in obj]
    if isinstance(obj, dict):
        return cls((k, _deepcopy(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_deepcopy(v) for v in obj]
    return obj


def key(obj: dict) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


def split_key(k: str) -> tuple[str, str]:
    """``"default/web"`` -> ``("default", "web")``; ``"node-1"`` -> ``("", "node-1")``."""
    ns, sep, name = k.partition("/")
    return (ns, name) if sep else ("", ns)


def rfc3339(now_ms: int) -> str:
    """Virtual time as an RFC 3339 timestamp with second resolution (``metav1.Time``)."""
    return _rfc3339_seconds(now_ms // 1000)


@functools.lru_cache(maxsize=4096)
def _rfc3339_seconds(seconds: int) -> str:
    # remembered per second: the same few instants are formatted for every object written in them
    return (EPOCH + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(now_ms: int) -> str:
    """Virtual time with microseconds (``metav1.MicroTime``, used by Leases and Events)."""
    t = EPOCH + _dt.timedelta(milliseconds=now_ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(s: str) -> int:
    """An RFC 3339 timestamp back to virtual milliseconds since the cluster epoch."""
    text = s.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    t = _dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    delta = t - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


# --- label selectors -----------------------------------------------------------------------

class Requirement:
    """One label requirement, e.g. ``env in (a,b)`` (``labels.Requirement``)."""

    __slots__ = ("key", "operator", "values")

    def __init__(self, key: str, operator: str, values: Iterable[str] = ()):
        self.key = key
        self.operator = operator
        self.values = tuple(values)

    def matches(self, labels: dict) -> bool:
        op, present = self.operator, self.key in labels
        if op in ("=", "==", "in"):
            return present and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if op == "exists":
            return present
        if op == "!":
            return not present
        if op in ("gt", "lt"):
            if not present:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "gt" else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        if op in ("gt", "lt"):
            return f"{self.key}{'>' if op == 'gt' else '<'}{self.values[0]}"
        return f"{self.key}{op}{self.values[0]}"

    def __repr__(self) -> str:
        return f"Requirement({str(self)!r})"


class Selector:
    """A set of requirements that must all hold (``labels.Selector``)."""

    def __init__(self, requirements: Iterable[Requirement] = (), nothing: bool = False):
        self.requirements = sorted(requirements, key=lambda r: r.key)
        self.nothing = nothing

    @property
    def requirements(self) -> list[Requirement]:
        return self._requirements

    @requirements.setter
    def requirements(self, reqs: list[Requirement]) -> None:
        # Selectors are matched millions of times (the scheduler counts pods per node): when every requirement is
        # ``key=value`` (the common case) they are also kept as (key, value) pairs, one dict lookup each.
        self._requirements = reqs
        self._key = None
        if all(r.operator in ("=", "==", "in") and len(r.values) == 1 and isinstance(r.values[0], str)
               for r in reqs):
            self._equal = tuple((r.key, r.values[0]) for r in reqs)
        else:
            self._equal = None

    @property
    def key(self) -> tuple:
        """A hashable identity (what selects nothing, then the canonical text), computed once."""
        if self._key is None:
            self._key = (self.nothing, str(self))
        return self._key

    def matches(self, labels: dict | None) -> bool:
        if self.nothing:
            return False
        if not labels:
            labels = {}
        equal = self._equal
        if equal is not None:
            get = labels.get
            for k, v in equal:
                if get(k) != v:
                    return False
            return True
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def to_label_selector(self) -> dict:
        """The ``LabelSelector`` dict form: equality in matchLabels, the rest as expressions."""
        match_labels, exprs = {}, []
        op_names = {"in": "In", "notin": "NotIn", "exists": "Exists", "!": "DoesNotExist",
                    "!=": "NotIn", "gt": "Gt", "lt": "Lt"}
        for r in self.requirements:
            if r.operator in ("=", "=="):
                match_labels[r.key] = r.values[0]
            else:
                e = {"key": r.key, "operator": op_names[r.operator]}
                if r.values:
                    e["values"] = list(r.values)
                exprs.append(e)
        out: dict = {}
        if match_labels:
            out["matchLabels"] = match_labels
        if exprs:
            out["matchExpressions"] = exprs
        return out

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"Selector({str(self)!r})"


def label_selector_as_selector(selector: dict | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` selects everything."""
    if selector is None:
        return Selector(nothing=True)
    reqs = [Requirement(k, "=", [v]) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator"))
        if op is None:
            raise ValueError(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(Requirement(expr.get("key", ""), op, expr.get("values") or ()))
    return Selector(reqs)


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """Does a ``LabelSelector`` dict (matchLabels + matchExpressions) select these labels?

    An empty selector matches everything; ``None`` matches nothing.
    """
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        k, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or ()
        if op == "In":
            if k not in labels or labels[k] not in values:
                return False
        elif op == "NotIn":
            if k in labels and labels[k] in values:
                return False
        elif op == "Exists":
            if k not in labels:
                return False
        elif op == "DoesNotExist":
            if k in labels:
                return False
        else:
            return False
    return True


_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|>|<|[^\s=!(),<>]+)")


def parse_selector(text: str) -> Selector:
    """Parse a kubectl ``-l`` selector: ``app=web,tier!=db,env in (a,b),!foo,release``."""
    tokens = [m.group(1) for m in _TOKEN_RE.finditer(text or "")] if text and text.strip() else []
    reqs: list[Requirement] = []
    i = 0

    def need(cond: bool, what: str) -> None:
        if not cond:
            found = tokens[i] if i < len(tokens) else ""
            raise ValueError(f"unable to parse requirement: found '{found}', expected: {what}")

    while i < len(tokens):
        if tokens[i] == "!":
            i += 1
            need(i < len(tokens) and tokens[i] not in "(),=", "identifier")
            reqs.append(Requirement(tokens[i], "!"))
            i += 1
        else:
            k = tokens[i]
            need(k not in ("(", ")", ",", "=", "==", "!=", ">", "<"), "identifier")
            i += 1
            if i >= len(tokens) or tokens[i] == ",":
                reqs.append(Requirement(k, "exists"))
            elif tokens[i] in ("=", "==", "!=", ">", "<"):
                op = {"=": "=", "==": "==", "!=": "!=", ">": "gt", "<": "lt"}[tokens[i]]
                i += 1
                val = ""
                if i < len(tokens) and tokens[i] not in (",", "(", ")"):
                    val = tokens[i]
                    i += 1
                if op in ("gt", "lt"):
                    need(val.lstrip("-").isdigit(), "integer value")
                reqs.append(Requirement(k, op, [val]))
            elif tokens[i] in ("in", "notin"):
                op = tokens[i]
                i += 1
                need(i < len(tokens) and tokens[i] == "(", "'('")
                i += 1
                values = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        values.append(tokens[i])
                    i += 1
                need(i < len(tokens), "')'")
                i += 1
                reqs.append(Requirement(k, op, values))
            else:
                need(False, "'=', '!=', '==', 'in', notin'")
        if i < len(tokens):
            need(tokens[i] == ",", "','")
            i += 1
    return Selector(reqs)


# --- conditions ------------------------------------------------------------------------------

def _status_of(obj_or_status: dict | None) -> dict:
    if not obj_or_status:
        return {}
    if "conditions" not in obj_or_status and isinstance(obj_or_status.get("status"), dict):
        return obj_or_status["status"]
    return obj_or_status


def get_condition(status: dict | None, type: str) -> dict | None:
    """The condition of the given type, from a status dict (or a whole object)."""
    for cond in _status_of(status).get("conditions") or []:
        if cond.get("type") == type:
            return cond
    return None


def set_condition(status: dict, cond: dict) -> bool:
    """Add or update a condition in place; returns True if anything changed.

    Like ``meta.SetStatusCondition``, ``lastTransitionTime`` only moves when the
    condition's ``status`` changes.
    """
    conditions = status.setdefault("conditions", [])
    for i, existing in enumerate(conditions):
        if existing.get("type") == cond.get("type"):
            merged = dict(existing)
            merged.update(cond)
            if existing.get("status") == cond.get("status") and "lastTransitionTime" in existing:
                merged["lastTransitionTime"] = existing["lastTransitionTime"]
            if merged == existing:
                return False
            conditions[i] = merged
            return True
    conditions.append(dict(cond))
    return True


def is_pod_ready(pod: dict) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


# --- owner references --------------------------------------------------------------------------

def owner_reference(owner: dict, controller: bool = True, block_owner_deletion: bool = True) -> dict:
    """An ownerReference pointing at ``owner`` (``metav1.NewControllerRef``)."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def get_controller_of(obj: dict) -> dict | None:
    """The ownerReference with ``controller: true``, if any (``metav1.GetControllerOf``)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


# --- pod resource requests ------------------------------------------------------------------------

# Resources that may be set at pod level (spec.resources), IsSupportedPodLevelResource
_POD_LEVEL_RESOURCES = ("cpu", "memory")


def _add(into: dict, res: dict | None) -> None:
    for name, q in (res or {}).items():
        into[name] = into.get(name, Fraction(0)) + (q if isinstance(q, Fraction) else parse_quantity(q))


def _max(into: dict, res: dict) -> None:
    for name, q in res.items():
        if name not in into or q > into[name]:
            into[name] = q


def _container_requests(container: dict, non_missing: dict | None) -> dict:
    reqs = dict(((container.get("resources") or {}).get("requests") or {}))
    if non_missing:
        for name, q in non_missing.items():
            if name not in reqs:
                reqs[name] = q
    out: dict = {}
    _add(out, reqs)
    return out


def _quantities_key(res: dict | None) -> tuple:
    # a quantity given as a number keeps its type in the key: True and 1 hash alike but do not parse alike
    return tuple((k, v) if type(v) is str else (k, v, type(v)) for k, v in (res or {}).items())


def requests_key(pod: dict) -> tuple | None:
    """Everything :func:`pod_requests` reads of a pod, as a hashable key (None if a value is not hashable): the
    requests of its containers, those of its init containers with their restartPolicy, the pod-level requests and
    the overhead. The pods of one template share a key."""
    spec = pod.get("spec") or {}

    def reqs(c: dict) -> tuple:
        return _quantities_key((c.get("resources") or {}).get("requests"))

    key = (tuple(reqs(c) for c in spec.get("containers") or ()),
           tuple((reqs(c), c.get("restartPolicy")) for c in spec.get("initContainers") or ()),
           reqs(spec), _quantities_key(spec.get("overhead")))
    try:
        hash(key)
    except TypeError:
        return None
    return key


_requests_memo: dict[tuple, Any] = {}
"""Values that depend only on a pod's requests, by (what is computed, requests_key): most pods come from a few
templates."""

_known_requests_keys: list[tuple[dict, Any]] = []
"""(pod, its requests_key) for pod objects the scheduler holds unchanged for a while (a scheduling cycle of the
fast path, where only built-in plugins run, and the assume that follows): the key is worked out once for them."""


def know_requests_key(*pods: dict) -> None:
    """Work out the requests_key of the first pod once and use it for all of ``pods`` (copies of one another's
    requests) until :func:`forget_requests_keys`. The pods must not change meanwhile."""
    key = requests_key(pods[0])
    _known_requests_keys[:] = [(p, key) for p in pods]


def forget_requests_keys() -> None:
    _known_requests_keys.clear()


def memo_on_requests(pod: dict, tag: Any, compute: Callable[[dict], Any]) -> Any:
    """``compute(pod)`` for a value that depends only on the pod's requests (and on ``tag``, which names the
    computation and its parameters), memoised on ``requests_key``. The value is shared: callers must not change
    it."""
    for known, key in _known_requests_keys:
        if known is pod:
            break
    else:
        key = requests_key(pod)
    if key is None:
        return compute(pod)
    key = (tag, key)
    hit = _requests_memo.get(key)
    if hit is None:
        hit = compute(pod)
        if len(_requests_memo) >= 4096:
            _requests_memo.clear()
        _requests_memo[key] = hit
    return hit


def pod_requests(pod: dict, non_missing: dict | None = None, exclude_overhead: bool = False) -> dict:
    """Effective resource requests of a pod (``resourcehelper.PodRequests``).

    Regular containers (and restartable "sidecar" init containers) add up; a plain init
    container runs alone, so only the largest of those counts (together with the sidecars
    started before it). Pod overhead is added last. ``non_missing`` gives values used for
    containers that request nothing of a resource (the scheduler's non-zero defaults).
    Returns a new ``{resource: Fraction}``; the work is remembered by :func:`memo_on_requests`.
    """
    tag = ("podRequests", tuple(non_missing.items()) if non_missing else (), exclude_overhead)
    return dict(memo_on_requests(pod, tag, lambda p: _pod_requests(p, non_missing, exclude_overhead)))


def _pod_requests(pod: dict, non_missing: dict | None, exclude_overhead: bool) -> dict:
    spec = pod.get("spec") or {}
    reqs: dict = {}
    for c in spec.get("containers") or []:
        _add(reqs, _container_requests(c, non_missing))
    restartable: dict = {}
    init_reqs: dict = {}
    for c in spec.get("initContainers") or []:
        creqs = _container_requests(c, non_missing)
        if c.get("restartPolicy") == "Always":
            _add(reqs, creqs)
            _add(restartable, creqs)
            creqs = dict(restartable)
        else:
            tmp: dict = {}
            _add(tmp, creqs)
            _add(tmp, restartable)
            creqs = tmp
        _max(init_reqs, creqs)
    _max(reqs, init_reqs)
    pod_level = ((spec.get("resources") or {}).get("requests")) or {}
    for name, q in pod_level.items():
        if name in _POD_LEVEL_RESOURCES:
            reqs[name] = parse_quantity(q)
    if not exclude_overhead and spec.get("overhead"):
        _add(reqs, spec["overhead"])
    return reqs
