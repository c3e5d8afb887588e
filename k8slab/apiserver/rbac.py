"""Mirrors: plugin/pkg/auth/authorizer/rbac/rbac.go, pkg/registry/rbac/validation/rule.go,
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/{policy.go,controller_policy.go},
plugin/pkg/auth/authorizer/node/node_authorizer.go.

The second stage of every request: may this user do this? kubeadm runs the API server with
``--authorization-mode=Node,RBAC``. The Node authorizer answers for kubelets (users ``system:node:<name>`` in group
``system:nodes``) and limits them to their own Node and Lease; RBAC answers for everybody else from Roles,
ClusterRoles and their bindings, which are ordinary API objects. The default ``system:`` roles the components use
are created at start-up, as the API server's bootstrap policy does.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

from .authn import (ALL_AUTHENTICATED, KUBE_CONTROLLER_MANAGER, KUBE_PROXY, KUBE_SCHEDULER,
                    NODES_GROUP, SYSTEM_PRIVILEGED_GROUP, UserInfo)

ALLOW, DENY, NO_OPINION = "Allow", "Deny", "NoOpinion"

READ = ["get", "list", "watch"]
READ_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]


class Attributes(NamedTuple):
    """authorizer.Attributes: what a request wants to do (immutable and hashable: the API server remembers
    decisions by it)."""

    user: UserInfo
    verb: str
    resource: str = ""
    subresource: str = ""
    api_group: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)


def rule(verbs, groups=("",), resources=(), names=(), urls=()) -> dict:
    """A PolicyRule in API shape."""
    r = {"verbs": list(verbs)}
    if urls:
        r["nonResourceURLs"] = list(urls)
    else:
        r["apiGroups"] = list(groups)
        r["resources"] = list(resources)
    if names:
        r["resourceNames"] = list(names)
    return r


def _has(items, value) -> bool:
    return "*" in items or value in items


def rule_allows(attrs: Attributes, r: dict) -> bool:
    """RuleAllows: verbs, API groups, resources (with subresources) and names, or non-resource URLs."""
    if not _has(r.get("verbs", ()), attrs.verb):
        return False
    if not attrs.is_resource_request:
        for url in r.get("nonResourceURLs", ()):
            if url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1])):
                return True
        return False
    if not _has(r.get("apiGroups", ()), attrs.api_group):
        return False
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    ok = False
    for res in r.get("resources", ()):
        if res == "*" or res == combined or (attrs.subresource and res == "*/" + attrs.subresource):
            ok = True
            break
    if not ok:
        return False
    names = r.get("resourceNames")
    return not names or attrs.name in names


def _subject_matches(subject: dict, user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    return False



def _named_resources(rules: Iterable[dict]) -> set[str]:
    """The ``resources`` of the rules that name objects (``resourceNames``)."""
    return {res for r in rules if r.get("resourceNames") for res in r.get("resources") or ()}


class RBACAuthorizer:
    """Evaluates the RBAC objects returned by ``lister(resource)`` (the API server's own store)."""

    def __init__(self, lister: Callable[[str], Iterable[dict]]) -> None:
        self.lister = lister

    def _role_rules(self, role_ref: dict, namespace: str) -> tuple[list[dict], str]:
        kind, name = role_ref.get("kind"), role_ref.get("name")
        resource = "clusterroles" if kind == "ClusterRole" else "roles"
        for role in self.lister(resource):
            md = role["metadata"]
            if md["name"] == name and (kind == "ClusterRole" or md.get("namespace") == namespace):
                return role.get("rules") or [], f'{kind} "{name}"'
        return [], ""

    def resources_with_names(self) -> set[str]:
        """The resources for which a decision may depend on the object's name: those of rules with
        ``resourceNames`` ("*" if one names any resource)."""
        return _named_resources(r for kind in ("clusterroles", "roles") for role in self.lister(kind)
                                for r in role.get("rules") or ())

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        """Return ``(decision, reason)``; RBAC never denies, it only allows or has no opinion."""
        user = attrs.user
        if SYSTEM_PRIVILEGED_GROUP in user.groups:
            return ALLOW, f'RBAC: allowed because user is in group "{SYSTEM_PRIVILEGED_GROUP}"'
        for binding in self.lister("clusterrolebindings"):
            if any(_subject_matches(s, user, "") for s in binding.get("subjects") or ()):
                rules, desc = self._role_rules(binding.get("roleRef", {}), "")
                if any(rule_allows(attrs, r) for r in rules):
                    return ALLOW, (f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}" of {desc} '
                                   f'to {_who(user)}')
        if attrs.namespace:
            for binding in self.lister("rolebindings"):
                if binding["metadata"].get("namespace") != attrs.namespace:
                    continue
                if any(_subject_matches(s, user, attrs.namespace) for s in binding.get("subjects") or ()):
                    rules, desc = self._role_rules(binding.get("roleRef", {}), attrs.namespace)
                    if any(rule_allows(attrs, r) for r in rules):
                        return ALLOW, (f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/'
                                       f'{attrs.namespace}" of {desc} to {_who(user)}')
        return NO_OPINION, ""


def _who(user: UserInfo) -> str:
    if user.name.startswith("system:serviceaccount:"):
        ns, name = user.name.split(":")[2:4]
        return f'ServiceAccount "{name}/{ns}"'
    return f'User "{user.name}"'


# -- the Node authorizer -------------------------------------------------------------------------------------------

def node_rules() -> list[dict]:
    """bootstrappolicy.NodeRules(): what any kubelet may do, before the per-node checks."""
    return [
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [""], ["services"]),
        rule(["create", "get", "list", "watch"], [""], ["nodes"]),
        rule(["update", "patch"], [""], ["nodes/status"]),
        rule(["update", "patch"], [""], ["nodes"]),
        rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"]),
        rule(READ, [""], ["pods"]),
        rule(["create", "delete"], [""], ["pods"]),
        rule(["update", "patch"], [""], ["pods/status"]),
        rule(["create"], [""], ["pods/eviction"]),
        rule(["get", "list", "watch"], [""], ["configmaps", "secrets"]),
        rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes", "endpoints"]),
        rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
        rule(["create"], [""], ["serviceaccounts/token"]),
        rule(["get", "list", "watch"], ["node.k8s.io"], ["runtimeclasses"]),
    ]


class NodeAuthorizer:
    """Authorizes kubelets: their own node Lease only, and the NodeRules for the rest (Node objects are limited to
    the kubelet's own by the NodeRestriction admission plugin, not here)."""

    def __init__(self) -> None:
        self.rules = node_rules()

    def resources_with_names(self) -> set[str]:
        """The resources for which a decision may depend on the object's name: a kubelet's own node Lease, and
        rules with ``resourceNames``."""
        return {"leases"} | _named_resources(self.rules)

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        user = attrs.user
        if NODES_GROUP not in user.groups or not user.name.startswith("system:node:"):
            return NO_OPINION, ""
        node = user.name[len("system:node:"):]
        # Updating a Node is allowed here whatever its name: the NodeRestriction admission plugin limits a kubelet
        # to its own Node (node_authorizer.go authorizeNode).
        if attrs.resource == "leases" and attrs.api_group == "coordination.k8s.io":
            if attrs.namespace != "kube-node-lease" or (attrs.name and attrs.name != node):
                return NO_OPINION, 'can only access node lease with the same name as the requesting node'
        if any(rule_allows(attrs, r) for r in self.rules):
            return ALLOW, ""
        return NO_OPINION, ""


class UnionAuthorizer:
    """``--authorization-mode=Node,RBAC``: the first authorizer with an opinion decides."""

    def __init__(self, *authorizers) -> None:
        self.authorizers = authorizers

    def resources_with_names(self) -> set[str] | bool:
        """The union of its authorizers' (True: one of them may read any name, or cannot say)."""
        named: set[str] = set()
        for a in self.authorizers:
            got = a.resources_with_names() if hasattr(a, "resources_with_names") else True
            if got is True or "*" in got:
                return True
            named |= got
        return named

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        reasons = []
        for a in self.authorizers:
            decision, reason = a.authorize(attrs)
            if decision != NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return DENY, ", ".join(reasons)


# -- bootstrap policy ----------------------------------------------------------------------------------------------

def _events_rule() -> dict:
    return rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"])


def _controller_roles() -> dict[str, list[dict]]:
    """controller_policy.go: the role each controller's ServiceAccount is bound to."""
    return {
        "deployment-controller": [
            rule(["get", "list", "watch", "update"], ["apps"], ["deployments"]),
            rule(["update"], ["apps"], ["deployments/status"]),
            rule(["update"], ["apps"], ["deployments/finalizers"]),
            rule(["create", "delete", "get", "list", "patch", "update", "watch"], ["apps"], ["replicasets"]),
            rule(["get", "list", "watch", "update"], [""], ["pods"]),
            _events_rule(),
        ],
        "replicaset-controller": [
            rule(["get", "list", "watch", "update"], ["apps"], ["replicasets"]),
            rule(["update"], ["apps"], ["replicasets/status"]),
            rule(["update"], ["apps"], ["replicasets/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], [""], ["pods"]),
            _events_rule(),
        ],
        "disruption-controller": [
            rule(["get", "list", "watch"], ["apps"], ["deployments", "replicasets", "statefulsets"]),
            rule(["get", "list", "watch"], [""], ["pods", "replicationcontrollers"]),
            rule(["get", "list", "watch"], ["policy"], ["poddisruptionbudgets"]),
            rule(["update"], ["policy"], ["poddisruptionbudgets/status"]),
            _events_rule(),
        ],
        "endpointslice-controller": [
            rule(["get", "list", "watch"], [""], ["services", "pods", "nodes"]),
            rule(["update"], [""], ["services/finalizers"]),
            rule(["create", "delete", "get", "list", "update"], ["discovery.k8s.io"], ["endpointslices"]),
            _events_rule(),
        ],
        "endpoint-controller": [
            rule(["get", "list", "watch"], [""], ["services", "pods"]),
            rule(["get", "list", "create", "update", "delete"], [""], ["endpoints"]),
            rule(["create"], [""], ["endpoints/restricted"]),
            _events_rule(),
        ],
        "node-controller": [
            rule(["get", "list", "update", "delete", "patch"], [""], ["nodes"]),
            rule(["patch", "update"], [""], ["nodes/status"]),
            rule(["patch", "update"], [""], ["pods/status"]),
            rule(["list", "delete"], [""], ["pods"]),
            _events_rule(),
        ],
        "taint-eviction-controller": [
            rule(["get", "list"], [""], ["pods"]),
            rule(["delete"], [""], ["pods"]),
            rule(["patch"], [""], ["pods/status"]),
            _events_rule(),
        ],
        "persistent-volume-binder": [
            rule(["get", "list", "watch", "update", "create", "delete"], [""], ["persistentvolumes"]),
            rule(["update"], [""], ["persistentvolumes/status"]),
            rule(["get", "list", "watch", "update"], [""], ["persistentvolumeclaims"]),
            rule(["update"], [""], ["persistentvolumeclaims/status"]),
            rule(["list", "watch", "get", "create", "delete"], [""], ["pods"]),
            rule(["get", "list", "watch"], ["storage.k8s.io"], ["storageclasses"]),
            rule(["get", "list"], [""], ["nodes"]),
            rule(["watch"], [""], ["events"]),
            _events_rule(),
        ],
        "pod-garbage-collector": [
            rule(["list", "watch", "delete"], [""], ["pods"]),
            rule(["get", "list"], [""], ["nodes"]),
            rule(["patch"], [""], ["pods/status"]),
        ],
        "generic-garbage-collector": [
            rule(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]),
        ],
        "service-account-controller": [
            rule(["create"], [""], ["serviceaccounts"]),
            _events_rule(),
        ],
        "root-ca-cert-publisher": [
            rule(["create", "update"], [""], ["configmaps"]),
            _events_rule(),
        ],
        "clusterrole-aggregation-controller": [
            rule(["escalate", "get", "list", "watch", "update", "patch"], ["rbac.authorization.k8s.io"],
                 ["clusterroles"]),
        ],
        "resourcequota-controller": [
            rule(["list", "watch"], ["*"], ["*"]),
            rule(["update"], [""], ["resourcequotas/status"]),
            _events_rule(),
        ],
        "horizontal-pod-autoscaler": [
            rule(["get", "list", "watch"], ["autoscaling"], ["horizontalpodautoscalers"]),
            rule(["update"], ["autoscaling"], ["horizontalpodautoscalers/status"]),
            rule(["get", "update"], ["*"], ["*/scale"]),
            rule(["list"], [""], ["pods"]),
            rule(["list"], ["metrics.k8s.io"], ["pods"]),
            rule(["get", "list"], ["custom.metrics.k8s.io"], ["*"]),
            rule(["get", "list"], ["external.metrics.k8s.io"], ["*"]),
            _events_rule(),
        ],
        "daemon-set-controller": [
            rule(["get", "list", "watch"], ["apps"], ["daemonsets"]),
            rule(["update"], ["apps"], ["daemonsets/status"]),
            rule(["update"], ["apps"], ["daemonsets/finalizers"]),
            rule(["list", "watch"], [""], ["nodes"]),
            rule(["list", "watch", "create", "delete", "patch"], [""], ["pods"]),
            rule(["create"], [""], ["pods/binding"]),
            rule(["get", "list", "watch", "create", "delete", "update", "patch"], ["apps"], ["controllerrevisions"]),
            _events_rule(),
        ],
        "job-controller": [
            rule(["get", "list", "watch", "update", "patch"], ["batch"], ["jobs"]),
            rule(["update", "patch"], ["batch"], ["jobs/status"]),
            rule(["update"], ["batch"], ["jobs/finalizers"]),
            rule(["list", "watch", "create", "delete", "patch"], [""], ["pods"]),
            _events_rule(),
        ],
        "cronjob-controller": [
            rule(["get", "list", "watch", "update"], ["batch"], ["cronjobs"]),
            rule(["get", "list", "watch", "create", "update", "delete", "patch"], ["batch"], ["jobs"]),
            rule(["update"], ["batch"], ["cronjobs/status"]),
            rule(["update"], ["batch"], ["cronjobs/finalizers"]),
            rule(["list", "delete"], [""], ["pods"]),
            _events_rule(),
        ],
        "ttl-after-finished-controller": [
            rule(["get", "list", "watch", "delete"], ["batch"], ["jobs"]),
            _events_rule(),
        ],
        "namespace-controller": [
            rule(["get", "list", "watch", "delete"], [""], ["namespaces"]),
            rule(["update"], [""], ["namespaces/finalize", "namespaces/status"]),
            rule(["get", "list", "delete", "deletecollection"], ["*"], ["*"]),
        ],
    }


def bootstrap_policy() -> tuple[list[dict], list[dict]]:
    """The ClusterRoles and ClusterRoleBindings the API server creates at start-up (plus kubeadm's admin binding)."""
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    roles: dict[str, list[dict]] = {
        "cluster-admin": [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])],
        "system:discovery": [rule(["get"], urls=["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                  "/openapi", "/openapi/*", "/readyz", "/version", "/version/"])],
        "system:public-info-viewer": [rule(["get"], urls=["/healthz", "/livez", "/readyz", "/version",
                                                            "/version/"])],
        "system:basic-user": [rule(["create"], ["authorization.k8s.io"],
                                   ["selfsubjectaccessreviews", "selfsubjectrulesreviews"])],
        # admin, edit and view are aggregated: their rules are filled in by the clusterrole-aggregation
        # controller from every ClusterRole labelled rbac.authorization.k8s.io/aggregate-to-<role>: "true".
        "admin": [],
        "edit": [],
        "view": [],
        "system:aggregate-to-admin": [
            rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
            rule(READ_WRITE, ["rbac.authorization.k8s.io"], ["roles", "rolebindings"])],
        "system:aggregate-to-edit": [
            rule(READ_WRITE, [""], ["pods", "services", "endpoints", "configmaps", "secrets",
                                    "persistentvolumeclaims", "serviceaccounts"]),
            rule(READ_WRITE, ["apps"], ["deployments", "replicasets", "statefulsets", "daemonsets",
                                        "deployments/scale", "replicasets/scale"]),
            rule(READ_WRITE, ["batch"], ["jobs", "cronjobs"])],
        "system:aggregate-to-view": [
            rule(READ, [""], ["pods", "services", "endpoints", "configmaps", "persistentvolumeclaims",
                              "serviceaccounts", "events", "pods/log", "pods/status", "namespaces"]),
            rule(READ, ["apps"], ["deployments", "replicasets", "statefulsets", "daemonsets",
                                  "deployments/scale", "replicasets/scale"]),
            rule(READ, ["batch"], ["jobs", "cronjobs"]),
            rule(READ, ["discovery.k8s.io"], ["endpointslices"])],
        "system:kube-scheduler": [
            _events_rule(),
            rule(["create"], ["coordination.k8s.io"], ["leases"]),
            rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
            rule(READ, [""], ["nodes"]),
            rule(["get", "list", "watch", "delete"], [""], ["pods"]),
            rule(["create"], [""], ["bindings", "pods/binding"]),
            rule(["patch", "update"], [""], ["pods/status"]),
            rule(READ, [""], ["replicationcontrollers", "services", "namespaces", "persistentvolumeclaims",
                              "persistentvolumes"]),
            rule(READ, ["apps"], ["replicasets", "statefulsets"]),
            rule(READ, ["policy"], ["poddisruptionbudgets"]),
            rule(READ, ["scheduling.k8s.io"], ["priorityclasses"]),
            rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        ],
        "system:kube-controller-manager": [
            _events_rule(),
            rule(["create"], ["coordination.k8s.io"], ["leases"]),
            rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-controller-manager"]),
            rule(["create"], [""], ["secrets", "serviceaccounts"]),
            rule(["delete"], [""], ["secrets"]),
            rule(["get"], [""], ["namespaces", "secrets", "serviceaccounts"]),
            rule(["update"], [""], ["secrets", "serviceaccounts"]),
            rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
            rule(["list", "watch"], ["*"], ["*"]),
            rule(["create"], [""], ["serviceaccounts/token"]),
        ],
        "system:volume-scheduler": [
            rule(["get", "list", "watch", "patch", "update"], [""], ["persistentvolumes"]),
            rule(["get", "list", "watch"], ["storage.k8s.io"], ["storageclasses"]),
            rule(["get", "list", "watch", "patch", "update"], [""], ["persistentvolumeclaims"]),
        ],
        "system:node-proxier": [
            rule(["list", "watch"], [""], ["services", "endpoints"]),
            rule(["get", "list", "watch"], [""], ["nodes"]),
            _events_rule(),
            rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
        ],
        "system:node": node_rules(),
        "system:coredns": [
            rule(["list", "watch"], [""], ["endpoints", "services", "pods", "namespaces"]),
            rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
        ],
    }
    for name, rules in _controller_roles().items():
        roles[f"system:controller:{name}"] = rules

    def crb(name, role, subjects):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": dict(labels)},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subjects}

    def user(n):
        return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": n}

    def group(n):
        return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": n}

    def sa(n, ns="kube-system"):
        return {"kind": "ServiceAccount", "name": n, "namespace": ns}

    bindings = [
        crb("cluster-admin", "cluster-admin", [group(SYSTEM_PRIVILEGED_GROUP)]),
        crb("system:discovery", "system:discovery", [group(ALL_AUTHENTICATED)]),
        crb("system:basic-user", "system:basic-user", [group(ALL_AUTHENTICATED)]),
        crb("system:public-info-viewer", "system:public-info-viewer",
            [group(ALL_AUTHENTICATED), group("system:unauthenticated")]),
        crb("system:kube-scheduler", "system:kube-scheduler", [user(KUBE_SCHEDULER)]),
        crb("system:kube-controller-manager", "system:kube-controller-manager", [user(KUBE_CONTROLLER_MANAGER)]),
        crb("system:node-proxier", "system:node-proxier", [user(KUBE_PROXY)]),
        crb("system:volume-scheduler", "system:volume-scheduler", [user(KUBE_SCHEDULER)]),
        crb("system:node", "system:node", []),  # subjects empty upstream: the Node authorizer is used instead
        crb("system:coredns", "system:coredns", [sa("coredns")]),
        crb("kubeadm:cluster-admins", "cluster-admin", [group("kubeadm:cluster-admins")]),
    ]
    bindings[-1]["metadata"]["labels"] = {}
    for name in _controller_roles():
        bindings.append(crb(f"system:controller:{name}", f"system:controller:{name}", [sa(name)]))
    cluster_roles = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                      "metadata": {"name": n, "labels": dict(labels)}, "rules": r} for n, r in roles.items()]
    by_name = {r["metadata"]["name"]: r for r in cluster_roles}
    for name, aggregate_into in AGGREGATED_ROLES.items():
        by_name[name]["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}}]}
        if aggregate_into:
            by_name[name]["metadata"]["labels"][f"rbac.authorization.k8s.io/aggregate-to-{aggregate_into}"] = "true"
        by_name[f"system:aggregate-to-{name}"]["metadata"]["labels"][
            f"rbac.authorization.k8s.io/aggregate-to-{name}"] = "true"
    return cluster_roles, bindings


# policy.go: admin aggregates edit, edit aggregates view (role -> the role it is itself aggregated into)
AGGREGATED_ROLES = {"admin": "", "edit": "admin", "view": "edit"}
