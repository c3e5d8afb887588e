"""Mirrors: staging/src/k8s.io/client-go/kubernetes (the typed clientset) and client-go/rest.

A client bound to one identity. Every component of the cluster holds one, and every call it makes is an API
request that passes the API server's whole pipeline. There is no other way for components to talk to each other.
"""

from __future__ import annotations

from typing import Any

from ..apiserver.authn import Credentials


class Client:
    """Typed-clientset-like access to the API server, as ``component`` with ``creds``."""

    def __init__(self, server, component: str, creds: Credentials | None = None) -> None:
        self.server = server
        self.component = component
        self.creds = creds

    def _do(self, verb: str, resource: str, **kw: Any) -> Any:
        return self.server.request(verb, resource, creds=self.creds, component=self.component, **kw)

    def create(self, resource: str, obj: dict, namespace: str | None = None, cause: int | None = None) -> dict:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        return self._do("create", resource, namespace=ns, body=obj, cause=cause)

    def get(self, resource: str, name: str, namespace: str | None = None, subresource: str = "") -> dict:
        return self._do("get", resource, namespace=namespace, name=name, subresource=subresource)

    def list(self, resource: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> dict:
        return self._do("list", resource, namespace=namespace,
                        options={"labelSelector": label_selector, "fieldSelector": field_selector})

    def update(self, resource: str, obj: dict, subresource: str = "", cause: int | None = None) -> dict:
        md = obj["metadata"]
        return self._do("update", resource, namespace=md.get("namespace"), name=md["name"], body=obj,
                        subresource=subresource, cause=cause)

    def update_status(self, resource: str, obj: dict, cause: int | None = None) -> dict:
        return self.update(resource, obj, subresource="status", cause=cause)

    def patch(self, resource: str, name: str, patch: dict, namespace: str | None = None,
              subresource: str = "", cause: int | None = None) -> dict:
        return self._do("patch", resource, namespace=namespace, name=name, body=patch, subresource=subresource,
                        cause=cause)

    def delete(self, resource: str, name: str, namespace: str | None = None,
               grace_period_seconds: int | None = None, propagation_policy: str | None = None,
               cause: int | None = None) -> dict:
        opts = {}
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            opts["propagationPolicy"] = propagation_policy
        return self._do("delete", resource, namespace=namespace, name=name, options=opts, cause=cause)

    def bind(self, pod: dict, node_name: str, cause: int | None = None) -> dict:
        """POST pods/<name>/binding, as the scheduler's DefaultBinder does."""
        md = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        return self._do("create", "pods", namespace=md["namespace"], name=md["name"], body=binding,
                        subresource="binding", cause=cause)

    def create_token(self, namespace: str, service_account: str, token_request: dict | None = None) -> dict:
        """POST serviceaccounts/<name>/token (the TokenRequest API)."""
        return self._do("create", "serviceaccounts", namespace=namespace, name=service_account,
                        body=token_request or {}, subresource="token")

    def scale(self, resource: str, name: str, replicas: int, namespace: str | None = None) -> dict:
        return self._do("update", resource, namespace=namespace, name=name, subresource="scale",
                        body={"spec": {"replicas": replicas}})

    def watch(self, resource: str, callback, namespace: str | None = None, field_selector: str | None = None,
              label_selector: str | None = None):
        return self._do("watch", resource, namespace=namespace,
                        options={"callback": callback, "component": self.component,
                                 "fieldSelector": field_selector, "labelSelector": label_selector})
