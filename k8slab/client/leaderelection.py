"""Mirrors: staging/src/k8s.io/client-go/tools/leaderelection (leaderelection.go, resourcelock/leaselock.go).

kube-scheduler and kube-controller-manager run with ``--leader-elect``: of all replicas, only the one holding the
Lease ``kube-system/<component>`` acts. The holder renews ``spec.renewTime`` every ``retryPeriod`` (2 s); another
replica may take over once ``leaseDurationSeconds`` (15 s) pass without a renewal.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy, rfc3339

LEASE_DURATION_S = 15
RENEW_DEADLINE_S = 10
RETRY_PERIOD_S = 2


class LeaderElector:
    def __init__(self, client, name: str, identity: str, namespace: str = "kube-system",
                 on_started_leading=None) -> None:
        self.client, self.name, self.identity, self.namespace = client, name, identity, namespace
        self.on_started_leading = on_started_leading
        self.is_leader = False
        self.transitions = 0
        self._timer = None

    def run(self) -> None:
        self.try_acquire_or_renew()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def try_acquire_or_renew(self) -> None:
        loop = self.client.server.loop
        now = rfc3339(loop.now)
        try:
            try:
                lease = self.client.get("leases", self.name, namespace=self.namespace)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
                self.client.create("leases", {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_DURATION_S,
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}},
                    namespace=self.namespace)
                self._became_leader()
            else:
                spec = lease.get("spec") or {}
                if spec.get("holderIdentity") in (self.identity, None, ""):
                    new = deepcopy(lease)
                    new["spec"]["renewTime"] = now
                    new["spec"]["holderIdentity"] = self.identity
                    self.client.update("leases", new)
                    if not self.is_leader:
                        self._became_leader()
        except errors.StatusError:
            pass  # retried at the next period, as upstream
        self._timer = loop.call_later(RETRY_PERIOD_S * 1000, self.try_acquire_or_renew,
                                      component=self.client.component, label=f"renew lease {self.name}",
                                      background=True)

    def _became_leader(self) -> None:
        self.is_leader = True
        if self.on_started_leading is not None:
            self.on_started_leading()
