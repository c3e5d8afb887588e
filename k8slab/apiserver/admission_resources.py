"""Mirrors: plugin/pkg/admission/limitranger/admission.go, plugin/pkg/admission/resourcequota (admission.go,
controller.go), pkg/quota/v1/evaluator/core/pods.go, staging/src/k8s.io/apiserver/pkg/quota/v1/resources.go.

Two admission plugins that keep a namespace's resources in bounds.

*LimitRanger* reads the namespace's LimitRange objects. For each container that does not ask for a resource the
LimitRange has a default for, it fills in the default request and limit (and notes it in the
``kubernetes.io/limit-ranger`` annotation); then it checks every ``min``, ``max`` and ``maxLimitRequestRatio``,
per Container and per Pod, and refuses the pod (403) with the reasons.

*ResourceQuota* runs last of all admission plugins. It adds what the new object would use (``pods``,
``requests.cpu``, ``count/deployments.apps``...) to what each ResourceQuota in the namespace says is used, and
refuses the request with "exceeded quota" if any hard limit would be passed. A quota on cpu or memory also makes
requests and limits mandatory: "failed quota: ... must specify ...". Here ``used`` is computed from the API
server's store at the time of the request, which is what the resourcequota controller records in
``status.used`` once it has caught up.
"""

from __future__ import annotations

from fractions import Fraction

from ..api import errors
from ..api.quantity import BINARY_SI, DECIMAL_SI, format_quantity, parse_quantity, parse_quantity_with_format

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
# pods.go: the resources a pod's containers must state explicitly when a quota tracks them
POD_VALIDATION_SET = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
# resources counted by "count/<resource>.<group>" and the legacy object-count names
LEGACY_COUNT_NAMES = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                      "persistentvolumeclaims": "persistentvolumeclaims",
                      "replicationcontrollers": "replicationcontrollers", "resourcequotas": "resourcequotas"}


def _q(v) -> Fraction:
    return parse_quantity(v)


def _fmt(v: Fraction, like: str | None = None) -> str:
    fmt = DECIMAL_SI
    if like is not None:
        try:
            fmt = parse_quantity_with_format(like)[1]
        except Exception:
            fmt = DECIMAL_SI
    return format_quantity(v, BINARY_SI if fmt == BINARY_SI else DECIMAL_SI)


def _aggregate(errs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several in brackets."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


# -- LimitRanger -------------------------------------------------------------------------------------------------

def min_constraint(limit_type: str, name: str, enforced: str, requests: dict, limits: dict) -> str | None:
    if name not in requests:
        return f"minimum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}.  No request is specified"
    if _q(requests[name]) < _q(enforced):
        return (f"minimum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}, but request is "
                f"{_fmt(_q(requests[name]), requests[name])}")
    if name in limits and _q(limits[name]) < _q(enforced):
        return (f"minimum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}, but limit is "
                f"{_fmt(_q(limits[name]), limits[name])}")
    return None


def max_constraint(limit_type: str, name: str, enforced: str, requests: dict, limits: dict) -> str | None:
    if name not in limits:
        return f"maximum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}.  No limit is specified"
    if _q(limits[name]) > _q(enforced):
        return (f"maximum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}, but limit is "
                f"{_fmt(_q(limits[name]), limits[name])}")
    if name in requests and _q(requests[name]) > _q(enforced):
        return (f"maximum {name} usage per {limit_type} is {_fmt(_q(enforced), enforced)}, but request is "
                f"{_fmt(_q(requests[name]), requests[name])}")
    return None


def limit_request_ratio_constraint(limit_type: str, name: str, enforced: str, requests: dict,
                                   limits: dict) -> str | None:
    shown = _fmt(_q(enforced), enforced)
    if name not in requests or _q(requests[name]) == 0:
        return (f"{name} max limit to request ratio per {limit_type} is {shown}, but no request is specified or "
                f"request is 0")
    if name not in limits or _q(limits[name]) == 0:
        return (f"{name} max limit to request ratio per {limit_type} is {shown}, but no limit is specified or "
                f"limit is 0")
    ratio = _q(limits[name]) / _q(requests[name])
    if ratio > _q(enforced):
        return f"{name} max limit to request ratio per {limit_type} is {shown}, but provided ratio is {float(ratio):f}"
    return None


def _sum(lists: list[dict]) -> dict:
    """sum(): a resource is in the total only if every container states it."""
    keys = sorted({k for lst in lists for k in lst})
    out = {}
    for k in keys:
        if all(k in lst for lst in lists):
            out[k] = format_quantity(sum((_q(lst[k]) for lst in lists), Fraction(0)))
    return out


def default_container_resource_requirements(limit_range: dict) -> tuple[dict, dict]:
    requests, limits = {}, {}
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    return requests, limits


def merge_pod_resource_requirements(pod: dict, requests: dict, limits: dict) -> None:
    """Fill in each container's missing requests and limits, and record it in the limit-ranger annotation."""
    annotations = []
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        res = c.setdefault("resources", {})
        set_limits, set_requests = [], []
        for k, v in limits.items():
            if k not in (res.get("limits") or {}):
                res.setdefault("limits", {})[k] = v
                set_limits.append(k)
        for k, v in requests.items():
            if k not in (res.get("requests") or {}):
                res.setdefault("requests", {})[k] = v
                set_requests.append(k)
        if set_requests:
            annotations.append(", ".join(sorted(set_requests)) + " request for container " + c.get("name", ""))
        if set_limits:
            annotations.append(", ".join(sorted(set_limits)) + " limit for container " + c.get("name", ""))
    if annotations:
        md = pod.setdefault("metadata", {})
        md.setdefault("annotations", {})
        if md["annotations"] is None:
            md["annotations"] = {}
        md["annotations"][LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(annotations)


def pod_limit_func(limit_range: dict, pod: dict) -> list[str]:
    """PodLimitFunc: apply the defaults, then every constraint; returns the violations."""
    errs: list[str] = []
    req_defaults, lim_defaults = default_container_resource_requirements(limit_range)
    merge_pod_resource_requirements(pod, req_defaults, lim_defaults)
    containers = (pod.get("spec") or {}).get("containers") or []
    checks = (("min", min_constraint), ("max", max_constraint), ("maxLimitRequestRatio", limit_request_ratio_constraint))
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        limit_type = item.get("type")
        if limit_type == "Container":
            targets = [((c.get("resources") or {}).get("requests") or {}, (c.get("resources") or {}).get("limits") or {})
                       for c in containers]
        elif limit_type == "Pod":
            targets = [(_sum([(c.get("resources") or {}).get("requests") or {} for c in containers]),
                        _sum([(c.get("resources") or {}).get("limits") or {} for c in containers]))]
        else:
            continue
        for requests, limits in targets:
            for field, fn in checks:
                for k, v in sorted((item.get(field) or {}).items()):
                    e = fn(limit_type, k, v, requests, limits)
                    if e:
                        errs.append(e)
    return errs


class LimitRanger:
    """Defaults (mutating phase) and min/max/ratio checks (validating phase) from the namespace's LimitRanges."""

    NAME = "LimitRanger"
    mutating = True

    def handles(self, ctx) -> bool:
        # SupportsAttributes: pods, no subresource; containers cannot change on update, so creates only
        return ctx.resource == "pods" and ctx.subresource == "" and ctx.verb == "create"

    def _limit_ranges(self, ctx) -> list[dict]:
        items = [o for o in ctx.server._list_cached("limitranges") if o["metadata"].get("namespace") == ctx.namespace]
        return sorted(items, key=lambda o: o["metadata"]["name"])

    def admit(self, ctx, pod: dict) -> None:
        self._run(ctx, pod)

    def validate(self, ctx, pod: dict) -> None:
        self._run(ctx, pod)

    def _run(self, ctx, pod: dict) -> None:
        errs: list[str] = []
        for lr in self._limit_ranges(ctx):
            errs.extend(pod_limit_func(lr, pod))
        if errs:
            raise errors.new_forbidden("pods", pod["metadata"].get("name", ""), _aggregate(errs))


# -- ResourceQuota ----------------------------------------------------------------------------------------------

def _is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_usage(pod: dict) -> dict[str, Fraction]:
    """podEvaluator.Usage: the pod counts, its requests and limits (summed like resourcehelper does)."""
    from ..api.objects import pod_requests

    if _is_terminal(pod):
        return {}
    usage: dict[str, Fraction] = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for k, v in pod_requests(pod).items():
        if k in ("cpu", "memory", "ephemeral-storage"):
            usage[f"requests.{k}"] = Fraction(v)
            usage[k] = Fraction(v)
    limits: dict[str, Fraction] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        for k, v in ((c.get("resources") or {}).get("limits") or {}).items():
            limits[k] = limits.get(k, Fraction(0)) + _q(v)
    for k, v in limits.items():
        if k in ("cpu", "memory", "ephemeral-storage"):
            usage[f"limits.{k}"] = v
    return usage


def object_usage(info, obj: dict) -> dict[str, Fraction]:
    if info.resource == "pods":
        return pod_usage(obj)
    usage = {f"count/{info.resource}" + (f".{info.group}" if info.group else ""): Fraction(1)}
    legacy = LEGACY_COUNT_NAMES.get(info.resource)
    if legacy and not info.group:
        usage[legacy] = Fraction(1)
    if info.resource == "services":
        t = (obj.get("spec") or {}).get("type", "ClusterIP")
        if t == "LoadBalancer":
            usage["services.loadbalancers"] = Fraction(1)
        if t in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Fraction(len((obj.get("spec") or {}).get("ports") or []))
    return usage


def namespace_usage(server, namespace: str, names) -> dict[str, Fraction]:
    """What the resourcequota controller would record as ``status.used`` for ``names`` in ``namespace``."""
    from ..api import resources

    used = {n: Fraction(0) for n in names}
    kinds = set()
    for n in names:
        if n.startswith("count/"):
            kinds.add(n[len("count/"):])
        elif n in LEGACY_COUNT_NAMES:
            kinds.add(LEGACY_COUNT_NAMES[n])
        elif n.startswith("services."):
            kinds.add("services")
        else:
            kinds.add("pods")
    for kind in sorted(kinds):
        try:
            info = resources.lookup(kind)
        except Exception:
            continue
        for obj in server._list_cached(info.resource):
            if obj["metadata"].get("namespace") != namespace:
                continue
            for k, v in object_usage(info, obj).items():
                if k in used:
                    used[k] += v
    return used


def _pretty(values: dict[str, Fraction], likes: dict[str, str]) -> str:
    return ",".join(f"{k}={_fmt(values.get(k, Fraction(0)), likes.get(k))}" for k in sorted(values))


def pod_constraints(required, pod: dict) -> str | None:
    """podEvaluator.Constraints: a quota on cpu or memory makes each container state it."""
    required_set = sorted(set(required) & set(POD_VALIDATION_SET))
    missing: dict[str, list[str]] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        for r in required_set:
            if r.startswith("limits."):
                have = r[len("limits."):] in (res.get("limits") or {})
            else:
                have = r.replace("requests.", "") in (res.get("requests") or {})
            if not have:
                missing.setdefault(r, []).append(c.get("name", ""))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


class ResourceQuotaAdmission:
    """Refuses a create that would take the namespace past a ResourceQuota's hard limits."""

    NAME = "ResourceQuota"
    mutating = False

    def handles(self, ctx) -> bool:
        return ctx.verb == "create" and ctx.subresource == "" and ctx.info.namespaced

    def validate(self, ctx, obj: dict) -> None:
        quotas = sorted((q for q in ctx.server._list_cached("resourcequotas")
                         if q["metadata"].get("namespace") == ctx.namespace), key=lambda q: q["metadata"]["name"])
        if not quotas:
            return
        delta = object_usage(ctx.info, obj)
        name = obj.get("metadata", {}).get("name", "")
        gr = ctx.info.resource if not ctx.info.group else f"{ctx.info.resource}.{ctx.info.group}"
        for quota in quotas:
            hard = (quota.get("spec") or {}).get("hard") or {}
            if ctx.resource == "pods":
                err = pod_constraints(hard, obj)
                if err:
                    raise errors.new_forbidden(gr, name, f"failed quota: {quota['metadata']['name']}: {err}")
            tracked = [k for k in hard if k in delta]
            if not tracked:
                continue
            used = namespace_usage(ctx.server, ctx.namespace, tracked)
            exceeded = sorted(k for k in tracked if used[k] + delta[k] > _q(hard[k]))
            if exceeded:
                likes = {k: hard[k] for k in exceeded}
                raise errors.new_forbidden(gr, name, (
                    f"exceeded quota: {quota['metadata']['name']}, "
                    f"requested: {_pretty({k: delta[k] for k in exceeded}, likes)}, "
                    f"used: {_pretty({k: used[k] for k in exceeded}, likes)}, "
                    f"limited: {_pretty({k: _q(hard[k]) for k in exceeded}, likes)}"))
