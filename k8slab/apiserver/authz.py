"""Mirrors: staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go, pkg/registry/authorization/subjectaccessreview,
staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go, pkg/auth/authorizer/abac/abac.go,
pkg/kubeapiserver/authorizer/modes.

Asking the authorizer a question without making the request. ``kubectl auth can-i create pods --as jane`` sends a
SubjectAccessReview: the API server builds the same authorizer attributes the real request would have and runs
the same authorizer chain, then answers ``yes`` or ``no`` (with the authorizer's reason). ``--list`` sends a
SelfSubjectRulesReview: every rule the RBAC bindings (and the Node authorizer) give the user in a namespace.

ABAC, the authorizer that predates RBAC, reads a policy file with one JSON ``Policy`` per line; a request is allowed
if any line matches its user or group, namespace, resource and API group (a ``readonly`` line only matches get,
list and watch). It is still in the API server (``--authorization-mode=ABAC --authorization-policy-file=...``) but
the file can only change by restarting the API server, which is why RBAC replaced it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..api import resources
from ..kubectl import Text
from .authn import (ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, NODES_GROUP, SERVICE_ACCOUNT_PREFIX,
                    UserInfo)
from .rbac import ALLOW, NO_OPINION, Attributes, NodeAuthorizer, RBACAuthorizer, UnionAuthorizer, node_rules

READ_ONLY_VERBS = ("get", "list", "watch")
ABAC_API_VERSION = "abac.authorization.kubernetes.io/v1beta1"


# -- impersonation -------------------------------------------------------------------------------------------------

def impersonated_user(name: str, groups=()) -> UserInfo:
    """The user ``--as=name --as-group=g`` becomes (filters/impersonation.go): a ServiceAccount name brings its
    ServiceAccount groups, and everyone but ``system:anonymous`` is in ``system:authenticated``."""
    groups = list(groups)
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and not groups:
        ns = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")[0]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if name == ANONYMOUS:
        if ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_UNAUTHENTICATED)
    elif ALL_AUTHENTICATED not in groups:
        groups.append(ALL_AUTHENTICATED)
    return UserInfo(name, tuple(groups))


# -- can-i -----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessReview:
    """A SubjectAccessReview's status: ``allowed``, ``denied`` and the authorizer's ``reason``."""

    allowed: bool
    reason: str
    user: str
    verb: str
    resource: str
    namespace: str = ""
    denied: bool = False

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        # cani.go RunAccessCheck: "yes", or "no" followed by " - <reason>" when the authorizer gave one
        if self.allowed:
            return "yes"
        return "no" + (f" - {self.reason}" if self.reason else "")

    def __repr__(self) -> str:
        return str(self)


def _resolve(resource: str, subresource: str) -> tuple[str, str, str]:
    """``pods``, ``pods/log``, ``deployments.apps``, ``deploy`` -> (resource, subresource, group)."""
    if "/" in resource and not subresource:
        resource, subresource = resource.split("/", 1)
    try:
        info = resources.lookup(resource)
    except Exception:  # unknown to discovery: kubectl warns and asks about the name as given
        base, _, group = resource.partition(".")
        return base, subresource, group
    return info.resource, subresource, info.group


def can_i(server, user: str | UserInfo, verb: str, resource: str = "", namespace: str = "", *,
          groups=(), subresource: str = "", name: str = "", path: str = "") -> AccessReview:
    """``kubectl auth can-i VERB RESOURCE [NAME] -n NAMESPACE --as USER --as-group G``: run the API server's
    authorizer chain on the attributes the request would have. ``path`` asks about a non-resource URL."""
    u = user if isinstance(user, UserInfo) else impersonated_user(user, groups)
    if path:
        attrs = Attributes(u, verb, path=path)
        shown = path
    else:
        res, sub, group = _resolve(resource, subresource)
        try:
            if not resources.lookup(res).namespaced:
                namespace = ""  # cluster-scoped: a namespace on the command line is ignored
        except Exception:
            pass
        attrs = Attributes(u, verb, res, sub, group, namespace or "", name)
        shown = res + (f"/{sub}" if sub else "")
    decision, reason = server.authorizer.authorize(attrs)
    return AccessReview(decision == ALLOW, reason, u.name, verb, shown, namespace or "",
                        denied=decision not in (ALLOW, NO_OPINION))


def rules_for(server, user: str | UserInfo, namespace: str = "default", *, groups=()) -> list[dict]:
    """The rules a SelfSubjectRulesReview returns: from every authorizer in the chain that can list them."""
    u = user if isinstance(user, UserInfo) else impersonated_user(user, groups)
    out: list[dict] = []
    for a in getattr(server.authorizer, "authorizers", (server.authorizer,)):
        if isinstance(a, NodeAuthorizer):
            if NODES_GROUP in u.groups and u.name.startswith("system:node:"):
                out.extend(node_rules())
        elif isinstance(a, RBACAuthorizer):
            out.extend(rbac_rules_for(a, u, namespace))
        elif isinstance(a, ABACAuthorizer):
            out.extend(a.rules_for(u, namespace))
    return out


def rbac_rules_for(authorizer: RBACAuthorizer, user: UserInfo, namespace: str) -> list[dict]:
    """RulesFor: the rules of every ClusterRoleBinding, and every RoleBinding in ``namespace``, naming the user."""
    from .rbac import _subject_matches

    rules: list[dict] = []
    for b in sorted(authorizer.lister("clusterrolebindings"), key=lambda b: b["metadata"]["name"]):
        if any(_subject_matches(s, user, "") for s in b.get("subjects") or ()):
            rules.extend(authorizer._role_rules(b.get("roleRef", {}), "")[0])
    if namespace:
        for b in sorted(authorizer.lister("rolebindings"), key=lambda b: b["metadata"]["name"]):
            if b["metadata"].get("namespace") != namespace:
                continue
            if any(_subject_matches(s, user, namespace) for s in b.get("subjects") or ()):
                rules.extend(authorizer._role_rules(b.get("roleRef", {}), namespace)[0])
    return rules


def _bracket(items) -> str:
    return "[" + " ".join(items) + "]"


def rules_table(rules: list[dict]) -> Text:
    """``kubectl auth can-i --list``: one row per resource (``resource.group``) and resource names, verbs merged."""
    rows: dict[tuple, list[str]] = {}
    for r in rules:
        names = tuple(r.get("resourceNames") or ())
        if r.get("nonResourceURLs"):
            for url in r["nonResourceURLs"]:
                key = ("", url, names)
                verbs = rows.setdefault(key, [])
                verbs.extend(v for v in r.get("verbs", ()) if v not in verbs)
            continue
        for group in r.get("apiGroups") or [""]:
            for res in r.get("resources") or ():
                shown = res if not group else f"{res}.{group}"
                key = (shown, "", names)
                verbs = rows.setdefault(key, [])
                verbs.extend(v for v in r.get("verbs", ()) if v not in verbs)
    header = ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")
    lines = [header]
    for (res, url, names), verbs in sorted(rows.items(), key=lambda kv: (kv[0][0] == "", kv[0])):
        lines.append((res, _bracket([url] if url else []), _bracket(names), _bracket(verbs)))
    widths = [max(len(row[i]) for row in lines) for i in range(3)]
    return Text("\n".join("   ".join(row[i].ljust(widths[i]) for i in range(3)) + "   " + row[3]
                          for row in lines))


# -- ABAC --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    """abac.PolicySpec: who (user or group, ``*`` for anyone), what (namespace, resource, apiGroup or
    nonResourcePath, ``*`` for any) and whether only reads are allowed."""

    user: str = ""
    group: str = ""
    readonly: bool = False
    api_group: str = ""
    resource: str = ""
    namespace: str = ""
    non_resource_path: str = ""


class PolicyLoadError(ValueError):
    pass


def parse_abac_policy(text: str, path: str = "policy.jsonl") -> list[Policy]:
    """NewFromFile: one JSON Policy per line; blank lines and lines starting with ``#`` are skipped."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        trimmed = line.strip()
        if not trimmed or trimmed.startswith("#"):
            continue
        try:
            obj = json.loads(trimmed)
        except json.JSONDecodeError as e:
            raise PolicyLoadError(f"error reading policy file {path}, line {i}: {trimmed}: {e}") from None
        if not isinstance(obj, dict) or obj.get("kind") != "Policy" or obj.get("apiVersion") != ABAC_API_VERSION:
            raise PolicyLoadError(f"error reading policy file {path}, line {i}: {trimmed}: "
                                  f"expected apiVersion {ABAC_API_VERSION!r} and kind 'Policy'")
        spec = obj.get("spec") or {}
        out.append(Policy(spec.get("user", ""), spec.get("group", ""), bool(spec.get("readonly", False)),
                          spec.get("apiGroup", ""), spec.get("resource", ""), spec.get("namespace", ""),
                          spec.get("nonResourcePath", "")))
    return out


def subject_matches(p: Policy, user: UserInfo) -> bool:
    matched = False
    if p.user:
        if p.user == "*":
            matched = True
        else:
            matched = p.user == user.name
            if not matched:
                return False
    if p.group:
        if p.group == "*":
            matched = True
        else:
            matched = p.group in user.groups
            if not matched:
                return False
    return matched


def verb_matches(p: Policy, attrs: Attributes) -> bool:
    return attrs.verb in READ_ONLY_VERBS or not p.readonly


def resource_matches(p: Policy, attrs: Attributes) -> bool:
    return attrs.is_resource_request and p.namespace in ("*", attrs.namespace) and \
        p.resource in ("*", attrs.resource) and p.api_group in ("*", attrs.api_group)


def non_resource_matches(p: Policy, attrs: Attributes) -> bool:
    if attrs.is_resource_request:
        return False
    path = p.non_resource_path
    return path == "*" or path == attrs.path or (path.endswith("*") and attrs.path.startswith(path.rstrip("*")))


def matches(p: Policy, attrs: Attributes) -> bool:
    return subject_matches(p, attrs.user) and verb_matches(p, attrs) and \
        (resource_matches(p, attrs) or non_resource_matches(p, attrs))


class ABACAuthorizer:
    """PolicyList.Authorize: allowed by the first matching line, otherwise no opinion."""

    def __init__(self, policies: list[Policy] | str) -> None:
        self.policies = parse_abac_policy(policies) if isinstance(policies, str) else list(policies)

    def resources_with_names(self) -> set[str]:
        """ABAC policies never name objects."""
        return set()

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        for p in self.policies:
            if matches(p, attrs):
                return ALLOW, ""
        return NO_OPINION, "No policy matched."

    def rules_for(self, user: UserInfo, namespace: str) -> list[dict]:
        out = []
        for p in self.policies:
            if subject_matches(p, user) and p.namespace in ("*", namespace):
                verbs = list(READ_ONLY_VERBS) if p.readonly else ["*"]
                if p.resource:
                    out.append({"verbs": verbs, "apiGroups": [p.api_group], "resources": [p.resource]})
                if p.non_resource_path:
                    out.append({"verbs": verbs, "nonResourceURLs": [p.non_resource_path]})
        return out


def set_authorization_modes(server, modes: str = "Node,RBAC", abac_policy: str | list[Policy] = "") -> None:
    """``--authorization-mode``: the authorizers, in order, that the API server asks (the first to allow or deny
    decides). ``AlwaysAllow`` is what an exposed API server with no authorization runs."""
    chain = []
    for mode in [m.strip() for m in modes.split(",") if m.strip()]:
        if mode == "Node":
            chain.append(NodeAuthorizer())
        elif mode == "RBAC":
            chain.append(RBACAuthorizer(server._list_cached))
        elif mode == "ABAC":
            chain.append(ABACAuthorizer(abac_policy))
        elif mode == "AlwaysAllow":
            chain.append(AlwaysAllowAuthorizer())
        elif mode == "AlwaysDeny":
            chain.append(AlwaysDenyAuthorizer())
        else:
            raise ValueError(f'authorization-mode "{mode}" is not a valid mode')
    server.authorizer = UnionAuthorizer(*chain)
    server.authorization_modes = modes
    server._authz_cache.clear()


class AlwaysAllowAuthorizer:
    def resources_with_names(self) -> set[str]:
        return set()

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        return ALLOW, ""


class AlwaysDenyAuthorizer:
    def resources_with_names(self) -> set[str]:
        return set()

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        return "Deny", "Everything is forbidden."
