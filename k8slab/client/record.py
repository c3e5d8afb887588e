"""Mirrors: staging/src/k8s.io/client-go/tools/record/event.go and events_cache.go.

Components report what they did as core/v1 Event objects (``kubectl describe`` and ``kubectl get events`` show
them): ``Scheduled``, ``Pulling``, ``Started``, ``ScalingReplicaSet``, ``SuccessfulCreate``... An Event is an
ordinary API object written through the API server; a repeat of the same event on the same object increments its
``count`` instead of creating a new one.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import rfc3339

EPOCH_NS = 1767225600 * 10**9  # 2026-01-01T00:00:00Z, the simulation's time zero


class EventRecorder:
    """record.EventRecorder for one component (``source.component``) on one host."""

    def __init__(self, client, component: str, host: str = "", enabled: bool = True) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.enabled = enabled
        self._seen: dict[tuple, dict] = {}

    def event(self, obj: dict, type_: str, reason: str, message: str, field_path: str = "") -> None:
        if not self.enabled:
            return
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        loop = self.client.server.loop
        now = rfc3339(loop.now)
        key = (obj.get("kind"), ns, md.get("name"), md.get("uid"), type_, reason, message, field_path)
        prev = self._seen.get(key)
        if prev is not None:
            ev = dict(prev)
            ev["count"] = prev.get("count", 1) + 1
            ev["lastTimestamp"] = now
            ev["metadata"] = dict(prev["metadata"])
            ev["metadata"].pop("resourceVersion", None)
            try:
                self._seen[key] = self.client.update("events", ev)
                return
            except errors.StatusError:
                pass
        ev = {
            "apiVersion": "v1", "kind": "Event",
            # upstream names an Event "<object>.<UnixNano hex>"; the request counter keeps names of events
            # recorded within one virtual millisecond apart
            "metadata": {"name": f"{md.get('name')}.{EPOCH_NS + loop.now * 10**6 + self.client.server.requests % 10**6:x}",
                         "namespace": ns},
            "involvedObject": {k: v for k, v in (
                ("kind", obj.get("kind")), ("namespace", md.get("namespace")), ("name", md.get("name")),
                ("uid", md.get("uid")), ("apiVersion", obj.get("apiVersion")),
                ("resourceVersion", md.get("resourceVersion")), ("fieldPath", field_path or None)) if v},
            "reason": reason, "message": message,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": self.component, "reportingInstance": self.host,
        }
        try:
            self._seen[key] = self.client.create("events", ev, namespace=ns)
        except errors.StatusError:
            pass  # events are best effort, as upstream

    def normal(self, obj: dict, reason: str, message: str, field_path: str = "") -> None:
        self.event(obj, "Normal", reason, message, field_path)

    def warning(self, obj: dict, reason: str, message: str, field_path: str = "") -> None:
        self.event(obj, "Warning", reason, message, field_path)
