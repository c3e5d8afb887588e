"""Mirrors: pkg/controller/serviceaccount/serviceaccounts_controller.go and
pkg/controller/certificates/rootcacertpublisher/publisher.go.

Two small controllers that make every namespace usable by pods: the ServiceAccount controller makes sure a
``default`` ServiceAccount exists in each namespace (the ServiceAccount admission plugin refuses pods without one),
and the root CA publisher writes the ``kube-root-ca.crt`` ConfigMap that each pod's projected token volume mounts.
"""

from __future__ import annotations

from ..api import errors
from .base import Controller


class ServiceAccountsController(Controller):
    NAME = "serviceaccount"
    RESOURCE = "namespaces"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.ns_informer = manager.factory.informer("namespaces")
        self.sa_informer = manager.factory.informer("serviceaccounts")
        self.ns_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n))
        self.sa_informer.add_event_handler(None, None, lambda sa: self.queue.add(sa["metadata"]["namespace"]))

    def sync_handler(self, key: str) -> None:
        ns = self.ns_informer.get(key)
        if ns is None or ns.get("status", {}).get("phase") != "Active":
            return
        if self.sa_informer.get(f"{key}/default") is not None:
            return
        try:
            self.client.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                   "metadata": {"name": "default", "namespace": key}}, namespace=key)
        except errors.StatusError as e:
            if e.reason != "AlreadyExists":
                raise


class RootCACertPublisher(Controller):
    NAME = "root-ca-cert-publisher"
    RESOURCE = "namespaces"
    CONFIGMAP = "kube-root-ca.crt"

    def __init__(self, manager, client, ca_pem: str) -> None:
        super().__init__(manager, client)
        self.ca_pem = ca_pem
        self.ns_informer = manager.factory.informer("namespaces")
        self.cm_informer = manager.factory.informer("configmaps")
        self.ns_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n))
        self.cm_informer.add_event_handler(None, lambda o, n: self._cm(n), self._cm)

    def _cm(self, cm: dict) -> None:
        if cm["metadata"]["name"] == self.CONFIGMAP:
            self.queue.add(cm["metadata"]["namespace"])

    def sync_handler(self, key: str) -> None:
        ns = self.ns_informer.get(key)
        if ns is None or ns.get("status", {}).get("phase") != "Active":
            return
        cur = self.cm_informer.get(f"{key}/{self.CONFIGMAP}")
        data = {"ca.crt": self.ca_pem}
        if cur is None:
            try:
                self.client.create("configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": self.CONFIGMAP, "namespace": key,
                                 "annotations": {"kubernetes.io/description":
                                                 "Contains a CA bundle that can be used to verify the "
                                                 "kube-apiserver when using internal endpoints such as the internal "
                                                 "service IP or kubernetes.default.svc. No other usage is "
                                                 "guaranteed across distributions of Kubernetes clusters."}},
                    "data": data}, namespace=key)
            except errors.StatusError as e:
                if e.reason != "AlreadyExists":
                    raise
        elif cur.get("data") != data:
            from ..api.objects import deepcopy
            new = deepcopy(cur)
            new["data"] = data
            self.client.update("configmaps", new)
