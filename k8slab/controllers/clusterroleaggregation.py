"""Mirrors: pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go.

The clusterrole-aggregation controller fills in the rules of every ClusterRole that has an ``aggregationRule``:
for each of its ``clusterRoleSelectors`` it lists the ClusterRoles whose labels match (sorted by name, skipping the
role itself) and appends each of their rules that is not already there. This is how ``admin``, ``edit`` and
``view`` grow when a CRD's installer adds a ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-view: "true"``. Any ClusterRole change requeues every aggregated role,
because the dependency graph is unknown and the set of ClusterRoles is small.
"""

from __future__ import annotations

from ..api.objects import deepcopy, selector_matches
from .base import Controller


def aggregate_rules(role: dict, cluster_roles) -> list[dict]:
    """The rules ``role``'s aggregationRule selects from ``cluster_roles`` (syncClusterRole's loop)."""
    new_rules: list[dict] = []
    name = role["metadata"]["name"]
    ordered = sorted(cluster_roles, key=lambda r: r["metadata"]["name"])
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        for other in ordered:
            if other["metadata"]["name"] == name:
                continue
            if not selector_matches(selector, other["metadata"].get("labels") or {}):
                continue
            for r in other.get("rules") or []:
                if r not in new_rules:  # ruleExists: semantic equality
                    new_rules.append(deepcopy(r))
    return new_rules


class ClusterRoleAggregationController(Controller):
    NAME = "clusterrole-aggregation"
    RESOURCE = "clusterroles"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.informer = manager.factory.informer("clusterroles")
        self.informer.add_event_handler(lambda o: self.enqueue_all(), lambda o, n: self.enqueue_all(),
                                        lambda o: self.enqueue_all())

    def enqueue_all(self) -> None:
        for role in sorted(self.informer.list(), key=lambda r: r["metadata"]["name"]):
            if role.get("aggregationRule") is not None:
                self.queue.add(role["metadata"]["name"])

    def sync_handler(self, key: str) -> None:
        role = self.informer.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        new_rules = aggregate_rules(role, self.informer.list())
        if new_rules == (role.get("rules") or []):
            return
        updated = deepcopy(role)
        updated["rules"] = new_rules
        self.client.update("clusterroles", updated)
