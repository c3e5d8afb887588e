"""Mirrors: pkg/controller/resourcequota/resource_quota_controller.go (syncResourceQuota) and
pkg/quota/v1/evaluator/core.

The resourcequota controller keeps each ResourceQuota's ``status`` current: ``status.hard`` is a copy of
``spec.hard`` and ``status.used`` what the namespace's objects use of each of those resources, recalculated from
its informers whenever a quota or a counted object changes. (The ResourceQuota admission plugin refuses requests
that would exceed ``hard``; this controller is what ``kubectl describe quota`` shows the usage from, and what gives
usage back when objects are deleted.)
"""

from __future__ import annotations

from .base import Controller

# what the controller watches to recount (the kinds the evaluators count here)
COUNTED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims")


class _InformerStore:
    """The informers, seen through the lister interface the usage functions take."""

    def __init__(self, informers: dict) -> None:
        self.informers = informers

    def _list_cached(self, resource: str):
        inf = self.informers.get(resource)
        return inf.list() if inf is not None else []


class ResourceQuotaController(Controller):
    NAME = "resourcequota"
    RESOURCE = "resourcequotas"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.quota_informer = manager.factory.informer("resourcequotas")
        self.quota_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n))
        self.informers = {r: manager.factory.informer(r) for r in COUNTED}
        for inf in self.informers.values():
            inf.add_event_handler(self._changed, lambda o, n: self._changed(n), self._changed)

    def _changed(self, obj: dict) -> None:
        ns = obj["metadata"].get("namespace")
        if not ns:
            return
        for q in self.quota_informer.list_namespace(ns):
            self.enqueue(q)

    def sync_handler(self, key: str) -> None:
        from ..api.objects import deepcopy
        from ..apiserver.admission_resources import _fmt, namespace_usage

        quota = self.quota_informer.get(key)
        if quota is None:
            return
        hard = (quota.get("spec") or {}).get("hard") or {}
        used = namespace_usage(_InformerStore(self.informers), quota["metadata"]["namespace"], list(hard))
        status = {"hard": dict(hard),
                  "used": {k: _fmt(v, hard.get(k)) for k, v in sorted(used.items())}}
        if quota.get("status") == status:
            return
        updated = deepcopy(quota)
        updated["status"] = status
        self.client.update_status("resourcequotas", updated)
