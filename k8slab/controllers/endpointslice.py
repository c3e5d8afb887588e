"""Mirrors: pkg/controller/endpointslice/endpointslice_controller.go and
staging/src/k8s.io/endpointslice/{reconciler.go,utils.go}, pkg/controller/endpoint/endpoints_controller.go.

For every Service with a selector, the EndpointSlice controller lists the pods the selector matches and publishes
their addresses, with the Service's ports resolved to the pods' container ports, in EndpointSlices labelled
``kubernetes.io/service-name``: at most ``maxEndpointsPerSlice`` (100) endpoints per slice. Each endpoint carries
the conditions kube-proxy reads: ``ready``, ``serving`` and ``terminating``. The older Endpoints controller writes
the same information into one Endpoints object named after the Service.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import is_pod_ready, selector_matches
from .base import Controller, add_label_indexer, controller_ref, list_by_selector

MAX_ENDPOINTS_PER_SLICE = 100
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"


def find_port(pod: dict, svc_port: dict) -> int | None:
    """podutil.FindPort: resolve a Service port's targetPort against the pod's containers."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    proto = svc_port.get("protocol", "TCP")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in pod.get("spec", {}).get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return p.get("containerPort")
    return None


def _first(pair: tuple):
    return pair[0]


def _selector(svc: dict) -> dict | None:
    sel = svc.get("spec", {}).get("selector")
    return {"matchLabels": sel} if sel else None


def pod_endpoints_changed(old: dict, new: dict) -> tuple[bool, bool]:
    """podEndpointsChanged: (does the pod's endpoint change, did its labels change)."""
    labels_changed = (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {})
    if old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp"):
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    old_ips = [p.get("ip") for p in (old.get("status") or {}).get("podIPs") or []] or \
        ([old["status"]["podIP"]] if (old.get("status") or {}).get("podIP") else [])
    new_ips = [p.get("ip") for p in (new.get("status") or {}).get("podIPs") or []] or \
        ([new["status"]["podIP"]] if (new.get("status") or {}).get("podIP") else [])
    if old_ips != new_ips:
        return True, labels_changed
    # name, namespace and UID are immutable; nodeName is set before the pod gets an IP
    return False, labels_changed


def pod_endpoint(pod: dict, svc: dict, node_zone: str | None) -> dict:
    """podToEndpoint: one endpoint with its conditions."""
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = is_pod_ready(pod)
    publish = svc.get("spec", {}).get("publishNotReadyAddresses", False)
    ep = {"addresses": [pod["status"]["podIP"]],
          "conditions": {"ready": (ready and not terminating) or publish, "serving": ready or publish,
                         "terminating": terminating},
          "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                        "uid": pod["metadata"]["uid"]}}
    spec = pod["spec"]
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"] and \
            svc["metadata"].get("namespace") == pod["metadata"]["namespace"]:  # endpointutil.ShouldSetHostname
        ep["hostname"] = spec["hostname"]
    if pod["spec"].get("nodeName"):
        ep["nodeName"] = pod["spec"]["nodeName"]
    if node_zone:
        ep["zone"] = node_zone
    return ep


class EndpointSliceController(Controller):
    NAME = "endpointslice"
    EVENT_SOURCE = "endpoint-slice-controller"
    RESOURCE = "services"

    def __init__(self, manager, client, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self._endpoint_cache: dict = {}
        self._written: dict[str, str] = {}  # slice key -> resourceVersion of the controller's last write
        self.svc_informer = f.informer("services")
        self.pod_informer = f.informer("pods")
        self.slice_informer = f.informer("endpointslices")
        self.node_informer = f.informer("nodes")
        add_label_indexer(self.pod_informer)
        self.slice_informer.add_indexer("service", lambda s: [
            f"{s['metadata']['namespace']}/{(s['metadata'].get('labels') or {}).get(LABEL_SERVICE_NAME, '')}"])
        self.svc_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.pod_informer.add_event_handler(self._pod_changed, lambda o, n: self._pod_update(o, n),
                                            self._pod_changed)
        self.slice_informer.add_event_handler(None, lambda o, n: self._slice_changed(n), self._slice_changed)

    def _services_for_pod(self, pod: dict) -> list[str]:
        labels = pod["metadata"].get("labels") or {}
        ns = pod["metadata"]["namespace"]
        return [f"{ns}/{s['metadata']['name']}" for s in self.svc_informer.list_namespace(ns)
                if s.get("spec", {}).get("selector") and selector_matches(_selector(s), labels)]

    def _pod_changed(self, pod: dict) -> None:
        for k in self._services_for_pod(pod):
            self.queue.add(k)

    def _pod_update(self, old: dict, new: dict) -> None:
        """GetServicesToUpdateOnPodChange: only a change that endpoints reflect wakes the Services."""
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        pod_changed, labels_changed = pod_endpoints_changed(old, new)
        if not pod_changed and not labels_changed:
            return
        keys = set(self._services_for_pod(new))
        if labels_changed:
            old_keys = set(self._services_for_pod(old))
            keys = (keys ^ old_keys) if not pod_changed else (keys | old_keys)
        for k in sorted(keys):
            self.queue.add(k)

    def _slice_changed(self, s: dict) -> None:
        """onEndpointSliceUpdate/Delete: a managed slice changed by someone else makes its Service resync; the
        controller's own writes do not (EndpointSliceTracker.ShouldSync)."""
        labels = s["metadata"].get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) == CONTROLLER_NAME and labels.get(LABEL_SERVICE_NAME):
            md = s["metadata"]
            if self._written.get(f"{md['namespace']}/{md['name']}") == md.get("resourceVersion"):
                return
            self.queue.add(f"{md['namespace']}/{labels[LABEL_SERVICE_NAME]}")

    def desired_endpoints(self, svc: dict) -> tuple[list[dict], list[dict]]:
        ns = svc["metadata"]["namespace"]
        sel = _selector(svc)
        ports_spec = svc["spec"].get("ports") or []
        named = []  # (pod name, endpoint): names are unique in a namespace, so sorting never compares endpoints
        ports = None
        svc_version = (svc["metadata"]["uid"], svc["metadata"].get("resourceVersion"))
        cache = self._endpoint_cache
        node_get = self.node_informer.get
        zones: dict = {}  # node name -> its zone label, looked up once per sync
        for pod in list_by_selector(self.pod_informer, ns, sel):
            status = pod.get("status", {})
            if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
                continue
            node_name = pod["spec"].get("nodeName") or ""
            zone = zones.get(node_name, zones)
            if zone is zones:
                node = node_get(node_name)
                zone = zones[node_name] = ((node or {}).get("metadata", {}).get("labels") or {}).get(
                    "topology.kubernetes.io/zone")
            md = pod["metadata"]
            # an endpoint depends only on this pod version, this Service version and the node's zone
            ck = (md["uid"], md.get("resourceVersion"), svc_version, zone)
            cached = cache.get(ck)
            if cached is None:
                pod_ports = []
                for sp in ports_spec:
                    port = find_port(pod, sp)
                    if port is None:
                        continue
                    pod_ports.append({"name": sp.get("name", ""), "port": port,
                                      "protocol": sp.get("protocol", "TCP")})
                if len(cache) > 100_000:
                    cache.clear()
                ep = pod_endpoint(pod, svc, zone)
                cached = cache[ck] = (ep, pod_ports, ep["targetRef"]["name"])
            if ports is None:
                ports = cached[1]
            named.append((cached[2], cached[0]))
        named.sort(key=_first)
        endpoints = [ep for _name, ep in named]
        return endpoints, ports or []

    def sync_handler(self, key: str) -> None:
        """syncService + reconciler.Reconcile."""
        svc = self.svc_informer.get(key)
        ns, name = key.split("/", 1)
        existing = sorted(self.slice_informer.by_index("service", key), key=lambda s: s["metadata"]["name"])
        existing = [s for s in existing if (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == CONTROLLER_NAME]
        if svc is None or not svc.get("spec", {}).get("selector"):
            for s in existing:  # the garbage collector also removes them through ownerReferences
                self._delete(s)
            return
        endpoints, ports = self.desired_endpoints(svc)
        chunks = [endpoints[i:i + self.max_endpoints_per_slice]
                  for i in range(0, len(endpoints), self.max_endpoints_per_slice)] or [[]]
        for i, chunk in enumerate(chunks):
            if i < len(existing):
                cur = existing[i]
                if (cur.get("endpoints") or []) == chunk and (cur.get("ports") or []) == ports:
                    continue
                # a shallow copy is enough: only the top-level lists are replaced
                new = dict(cur)
                new["metadata"] = dict(cur["metadata"])
                new["endpoints"] = chunk
                new["ports"] = ports
                self._remember(self.client.update("endpointslices", new))
            else:
                self._remember(self.client.create("endpointslices", self._new_slice(svc, chunk, ports), namespace=ns))
        for s in existing[len(chunks):]:
            self._delete(s)

    def _remember(self, written: dict) -> None:
        md = written["metadata"]
        self._written[f"{md['namespace']}/{md['name']}"] = md.get("resourceVersion")

    def _new_slice(self, svc: dict, endpoints: list, ports: list) -> dict:
        md = svc["metadata"]
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": md["name"] + "-", "namespace": md["namespace"],
                             "labels": {LABEL_SERVICE_NAME: md["name"], LABEL_MANAGED_BY: CONTROLLER_NAME},
                             "ownerReferences": [controller_ref(svc)]},
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports}

    def _delete(self, s: dict) -> None:
        try:
            self.client.delete("endpointslices", s["metadata"]["name"], namespace=s["metadata"]["namespace"])
        except errors.StatusError as e:
            if e.code != 404:
                raise


class EndpointsController(Controller):
    """The legacy Endpoints controller (still enabled): one Endpoints object per Service with a selector."""

    NAME = "endpoints"
    EVENT_SOURCE = "endpoint-controller"
    RESOURCE = "services"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.svc_informer = f.informer("services")
        self.pod_informer = f.informer("pods")
        self.ep_informer = f.informer("endpoints")
        add_label_indexer(self.pod_informer)
        self._address_cache: dict = {}
        self.svc_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.pod_informer.add_event_handler(self._pod_changed, lambda o, n: self._pod_changed(n, o),
                                            self._pod_changed)

    def _pod_changed(self, pod: dict, old: dict | None = None) -> None:
        if old is not None and old["metadata"].get("resourceVersion") == pod["metadata"].get("resourceVersion"):
            return
        if old is not None and pod_endpoints_changed(old, pod) == (False, False):
            return
        ns = pod["metadata"]["namespace"]
        labels = [pod["metadata"].get("labels") or {}]
        if old is not None:
            labels.append(old["metadata"].get("labels") or {})
        for s in self.svc_informer.list_namespace(ns):
            if s.get("spec", {}).get("selector") and any(selector_matches(_selector(s), lb) for lb in labels):
                self.queue.add(f"{ns}/{s['metadata']['name']}")

    def sync_handler(self, key: str) -> None:
        ns, name = key.split("/", 1)
        svc = self.svc_informer.get(key)
        cur = self.ep_informer.get(key)
        if svc is None:
            if cur is not None:
                try:
                    self.client.delete("endpoints", name, namespace=ns)
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
            return
        if not svc.get("spec", {}).get("selector"):
            return
        subsets: dict[tuple, dict] = {}
        svc_version = (svc["metadata"]["uid"], svc["metadata"].get("resourceVersion"))
        for pod in list_by_selector(self.pod_informer, ns, _selector(svc)):
            if not pod.get("status", {}).get("podIP") or pod["metadata"].get("deletionTimestamp"):
                continue
            ck = (pod["metadata"]["uid"], pod["metadata"].get("resourceVersion"), svc_version)
            cached = self._address_cache.get(ck)
            if cached is None:
                ports = []
                for sp in svc["spec"].get("ports") or []:
                    p = find_port(pod, sp)
                    if p is not None:
                        ports.append({"name": sp.get("name", ""), "port": p, "protocol": sp.get("protocol", "TCP")})
                addr = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"),
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                      "uid": pod["metadata"]["uid"]}}
                field = "addresses" if is_pod_ready(pod) or svc["spec"].get("publishNotReadyAddresses") \
                    else "notReadyAddresses"
                if len(self._address_cache) > 100_000:
                    self._address_cache.clear()
                # the subset key and the ports as written (empty names left out) are kept with the address
                cached = self._address_cache[ck] = (
                    tuple((p["name"], p["port"], p["protocol"]) for p in ports), addr, field,
                    [{kk: vv for kk, vv in p.items() if vv != ""} for p in ports])
            k, addr, field, subset_ports = cached
            if not k:
                continue
            sub = subsets.get(k)
            if sub is None:
                sub = subsets[k] = {"ports": subset_ports}
            sub.setdefault(field, []).append(addr)
        out = []
        for sub in subsets.values():
            for f in ("addresses", "notReadyAddresses"):
                if f in sub:
                    sub[f].sort(key=lambda a: a["ip"])
            out.append({k: sub[k] for k in ("addresses", "notReadyAddresses", "ports") if k in sub})
        labels = dict(svc["metadata"].get("labels") or {})
        if cur is None:
            ep = {"apiVersion": "v1", "kind": "Endpoints",
                  "metadata": {"name": name, "namespace": ns, "labels": labels}}
            if out:
                ep["subsets"] = out
            self.client.create("endpoints", ep, namespace=ns)
            return
        if (cur.get("subsets") or []) == out and (cur["metadata"].get("labels") or {}) == labels:
            return
        new = dict(cur)
        new["metadata"] = dict(cur["metadata"])
        new["metadata"]["labels"] = labels
        if out:
            new["subsets"] = out
        else:
            new.pop("subsets", None)
        self.client.update("endpoints", new)
