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
from ..api.objects import is_pod_ready
from .base import LABEL_INDEX, Controller, add_label_indexer, controller_ref

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


def pod_ports(pod: dict, svc: dict) -> list[dict]:
    """The Service's ports that resolve on this pod, as {name, port, protocol} (the Service port's name, the
    pod's port number)."""
    out = []
    for sp in svc["spec"].get("ports") or []:
        port = find_port(pod, sp)
        if port is not None:
            out.append({"name": sp.get("name", ""), "port": port, "protocol": sp.get("protocol", "TCP")})
    return out


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


SERVICE_SELECTOR_INDEX = "serviceSelector"


def add_service_selector_indexer(informer) -> None:
    """Index Services with a selector under one of its "namespace/key=value" pairs, so the Services that may select
    a pod are found from the pod's labels instead of a scan of the namespace (the result is what a list of the
    namespace and a selector match give)."""
    if SERVICE_SELECTOR_INDEX in informer.indexers:
        return

    def index(svc: dict) -> list[str]:
        sel = (svc.get("spec") or {}).get("selector")
        if not sel:
            return []
        k, v = min(sel.items())
        return [f"{svc['metadata'].get('namespace', '')}/{k}={v}"]

    informer.add_indexer(SERVICE_SELECTOR_INDEX, index)
    informer.services_for_labels_memo = [None, {}]  # see services_for_labels


def services_for_labels(svc_informer, namespace: str, labels: dict) -> list[str]:
    """The keys of the Services in ``namespace`` whose selector matches ``labels``, in key order (GetPodServices).

    Every pod event asks this of the same label sets several times (the EndpointSlice and Endpoints controllers
    and their pod trackers), so answers are remembered per (namespace, labels) until the Service informer's cache
    changes: each change to it comes from a watch event (which counts in ``events_received``) or a list (which
    sets ``resource_version``), so the pair names one content of the cache and the index."""
    memo = svc_informer.services_for_labels_memo
    tag = (svc_informer.events_received, svc_informer.resource_version)
    if memo[0] != tag:
        memo[0] = tag
        memo[1] = {}
    try:
        mk = (namespace, tuple(labels.items()))
        got = memo[1].get(mk)
    except TypeError:  # an unhashable label value
        mk = got = None
    if got is not None:
        return list(got)
    index = svc_informer.indices[SERVICE_SELECTOR_INDEX]
    out = []
    for k, v in labels.items():
        for key in index.get(f"{namespace}/{k}={v}", ()):
            sel = svc_informer.store[key]["spec"]["selector"]
            if all(labels.get(sk) == sv for sk, sv in sel.items()):
                out.append(key)
    out = sorted(set(out))
    if mk is not None:
        if len(memo[1]) >= 4096:
            memo[1] = {}
        memo[1][mk] = tuple(out)
    return out


class ServicePods:
    """One Service's selected pods and an entry derived from each (None for a pod that publishes no endpoint), as
    of its controller's last sync, for one ``tag`` (what else the entries depend on: the Service's UID and
    resourceVersion, and for EndpointSlices the node zones). ``version`` grows whenever an entry changes."""

    __slots__ = ("tag", "entries", "dirty", "version", "written", "order", "left")

    def __init__(self, tag: tuple) -> None:
        self.tag = tag
        self.entries: dict[str, tuple] = {}  # pod key -> (pod resourceVersion, entry or None)
        self.dirty: set[str] = set()  # pods whose events arrived since the last sync
        self.version = 0
        self.written: tuple | None = None  # (version, what the controller last left in the API) once in sync
        self.order: list[str] | None = None  # the keys of the pods with an entry, sorted; None: to be sorted
        self.left: dict = {}  # object name -> (resourceVersion, the content the controller wrote or verified)

    def ordered(self) -> list[str]:
        """The keys of the pods that have an entry, in key order (so by name: they share the namespace)."""
        if self.order is None:
            self.order = sorted(k for k, (_rv, e) in self.entries.items() if e is not None)
        return self.order


class ServicePodTracker:
    """The pods each Service selects, with their derived entries, kept current from pod events: a pod event marks
    the pod in the trackers of the Services its old or new labels match, and a sync recomputes only those pods.
    The entries are those a list of the selected pods and a fresh computation would give, because every change to
    a pod in the informer passes through its event handlers, and everything else an entry depends on is in the
    tag (a change there recomputes them all)."""

    def __init__(self, pod_informer, svc_informer, entry) -> None:
        self.pod_informer = pod_informer
        self.svc_informer = svc_informer
        self.entry = entry  # entry(pod, svc) -> tuple | None
        self.states: dict[str, ServicePods] = {}
        add_label_indexer(pod_informer)
        add_service_selector_indexer(svc_informer)
        pod_informer.add_event_handler(self._mark, lambda old, new: self._mark(new, old), self._mark)

    def _mark(self, pod: dict, old: dict | None = None) -> None:
        if not self.states:
            return
        md = pod["metadata"]
        ns = md["namespace"]
        keys = services_for_labels(self.svc_informer, ns, md.get("labels") or {})
        if old is not None and (old["metadata"].get("labels") or {}) != (md.get("labels") or {}):
            keys += services_for_labels(self.svc_informer, ns, old["metadata"].get("labels") or {})
        for k in keys:
            st = self.states.get(k)
            if st is not None:
                st.dirty.add(f"{ns}/{md['name']}")

    def forget(self, key: str) -> None:
        self.states.pop(key, None)

    def refresh(self, key: str, svc: dict, tag: tuple) -> ServicePods:
        """Bring ``key``'s entries up to date and return them."""
        st = self.states.get(key)
        store = self.pod_informer.store
        sel = svc["spec"]["selector"]
        if st is None or st.tag != tag:
            st = self.states[key] = ServicePods(tag)
            keys = self._selected(svc["metadata"]["namespace"], sel)
        else:
            keys = st.dirty
        entries = st.entries
        changed = False
        for k in keys:
            p = store.get(k)
            old = entries.get(k)
            if p is None or not all((p["metadata"].get("labels") or {}).get(sk) == sv for sk, sv in sel.items()):
                if old is not None:
                    del entries[k]
                    changed = True
                    if old[1] is not None:
                        st.order = None
                continue
            rv = p["metadata"].get("resourceVersion")
            if old is not None and old[0] == rv and rv is not None:
                continue
            e = self.entry(p, svc)
            if old is not None and old[1] == e:
                e = old[1]  # the same entry: keep the object, so an unchanged result compares by identity
            else:
                changed = True
                if (old is None or old[1] is None) != (e is None):
                    st.order = None
            entries[k] = (rv, e)
        st.dirty = set()
        if changed or st.version == 0:
            st.version += 1
        return st

    def _selected(self, namespace: str, sel: dict) -> list[str]:
        k, v = min(sel.items())
        return list(self.pod_informer.indices[LABEL_INDEX].get(f"{namespace}/{k}={v}", ()))


class EndpointSliceController(Controller):
    NAME = "endpointslice"
    EVENT_SOURCE = "endpoint-slice-controller"
    RESOURCE = "services"

    def __init__(self, manager, client, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self._written: dict[str, str] = {}  # slice key -> resourceVersion of the controller's last write
        self.svc_informer = f.informer("services")
        self.pod_informer = f.informer("pods")
        self.slice_informer = f.informer("endpointslices")
        self.node_informer = f.informer("nodes")
        # the endpoint of a pod depends only on the pod, the Service and the zone of the pod's node: each Service's
        # endpoints are kept per pod and recomputed for the pods that changed (ServicePodTracker)
        self.tracker = ServicePodTracker(self.pod_informer, self.svc_informer, self._pod_entry)
        self._zones: dict[str, str | None] = {}  # node name -> its topology.kubernetes.io/zone label
        self._zone_version = 0
        self.slice_informer.add_indexer("service", lambda s: [
            f"{s['metadata']['namespace']}/{(s['metadata'].get('labels') or {}).get(LABEL_SERVICE_NAME, '')}"])
        self.svc_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.pod_informer.add_event_handler(self._pod_changed, lambda o, n: self._pod_update(o, n),
                                            self._pod_changed)
        self.slice_informer.add_event_handler(None, lambda o, n: self._slice_changed(n), self._slice_changed)
        self.node_informer.add_event_handler(self._node_changed, lambda o, n: self._node_changed(n),
                                             self._node_deleted)

    def _node_changed(self, node: dict) -> None:
        name = node["metadata"]["name"]
        zone = (node["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone")
        if name not in self._zones or self._zones[name] != zone:
            self._zones[name] = zone
            self._zone_version += 1

    def _node_deleted(self, node: dict) -> None:
        if self._zones.pop(node["metadata"]["name"], None) is not None:
            self._zone_version += 1

    def _services_for_pod(self, pod: dict) -> list[str]:
        return services_for_labels(self.svc_informer, pod["metadata"]["namespace"],
                                   pod["metadata"].get("labels") or {})

    def _pod_changed(self, pod: dict) -> None:
        for k in self._services_for_pod(pod):
            self.queue.add(k)

    def _pod_update(self, old: dict, new: dict) -> None:
        """GetServicesToUpdateOnPodChange: only a change that endpoints reflect wakes the Services."""
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        new_keys = self._services_for_pod(new)
        if not new_keys and (old["metadata"].get("labels") or {}) == (new["metadata"].get("labels") or {}):
            return  # no Service selects the pod before or after: nothing to wake, whatever else changed
        pod_changed, labels_changed = pod_endpoints_changed(old, new)
        if not pod_changed and not labels_changed:
            return
        keys = set(new_keys)
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

    def _pod_entry(self, pod: dict, svc: dict) -> tuple | None:
        """(pod name, endpoint, resolved ports) for a pod with an IP that has not finished, else None."""
        status = pod.get("status", {})
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            return None
        ep = pod_endpoint(pod, svc, self._zones.get(pod["spec"].get("nodeName") or ""))
        return ep["targetRef"]["name"], ep, pod_ports(pod, svc)

    def _tag(self, svc: dict) -> tuple:
        return svc["metadata"]["uid"], svc["metadata"].get("resourceVersion"), self._zone_version

    def desired_endpoints(self, svc: dict) -> tuple[list[dict], list[dict]]:
        """The Service's endpoints, by pod name, and the ports (those of the first pod that has any endpoint)."""
        md = svc["metadata"]
        st = self.tracker.refresh(f"{md['namespace']}/{md['name']}", svc, self._tag(svc))
        return self._endpoints_of(st)

    @staticmethod
    def _endpoints_of(st: ServicePods) -> tuple[list[dict], list[dict]]:
        entries = st.entries
        order = st.ordered()
        return [entries[k][1][1] for k in order], (entries[order[0]][1][2] if order else [])

    def sync_handler(self, key: str) -> None:
        """syncService + reconciler.Reconcile."""
        svc = self.svc_informer.get(key)
        ns, name = key.split("/", 1)
        existing = sorted(self.slice_informer.by_index("service", key), key=lambda s: s["metadata"]["name"])
        existing = [s for s in existing if (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == CONTROLLER_NAME]
        if svc is None or not svc.get("spec", {}).get("selector"):
            self.tracker.forget(key)
            for s in existing:  # the garbage collector also removes them through ownerReferences
                self._delete(s)
            return
        st = self.tracker.refresh(key, svc, self._tag(svc))
        # no pod's endpoint changed since the last sync and the slices are still what it left: every slice would
        # compare equal, so there is nothing to write
        now = (st.version, tuple((s["metadata"]["name"], s["metadata"].get("resourceVersion")) for s in existing))
        if st.written == now:
            return
        endpoints, ports = self._endpoints_of(st)
        chunks = [endpoints[i:i + self.max_endpoints_per_slice]
                  for i in range(0, len(endpoints), self.max_endpoints_per_slice)] or [[]]
        left = []
        prev, st.left = st.left, {}
        for i, chunk in enumerate(chunks):
            if i < len(existing):
                cur = existing[i]
                cur_name, cur_rv = cur["metadata"]["name"], cur["metadata"].get("resourceVersion")
                was = prev.get(cur_name)
                if was is not None and was[0] == cur_rv:
                    # the slice is the version the controller left: compare with the lists it wrote, whose
                    # unchanged endpoints are the very same objects
                    same = was[1] == chunk and was[2] == ports
                else:
                    same = (cur.get("endpoints") or []) == chunk and (cur.get("ports") or []) == ports
                if same:
                    left.append((cur_name, cur_rv))
                    st.left[cur_name] = (cur_rv, chunk, ports)
                    continue
                # a shallow copy is enough: only the top-level lists are replaced
                new = dict(cur)
                new["metadata"] = dict(cur["metadata"])
                new["endpoints"] = chunk
                new["ports"] = ports
                left.append(self._remember(self.client.update("endpointslices", new)))
            else:
                left.append(self._remember(
                    self.client.create("endpointslices", self._new_slice(svc, chunk, ports), namespace=ns)))
            st.left[left[-1][0]] = (left[-1][1], chunk, ports)
        for s in existing[len(chunks):]:
            self._delete(s)
        st.written = (st.version, tuple(left))

    def _remember(self, written: dict) -> tuple:
        md = written["metadata"]
        self._written[f"{md['namespace']}/{md['name']}"] = md.get("resourceVersion")
        return md["name"], md.get("resourceVersion")

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
        # a pod's address depends only on the pod and the Service: kept per pod, recomputed for the pods that changed
        self.tracker = ServicePodTracker(self.pod_informer, self.svc_informer, self._pod_entry)
        self.svc_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.pod_informer.add_event_handler(self._pod_changed, lambda o, n: self._pod_changed(n, o),
                                            self._pod_changed)

    def _pod_changed(self, pod: dict, old: dict | None = None) -> None:
        if old is not None and old["metadata"].get("resourceVersion") == pod["metadata"].get("resourceVersion"):
            return
        ns = pod["metadata"]["namespace"]
        labels = pod["metadata"].get("labels") or {}
        keys = services_for_labels(self.svc_informer, ns, labels)
        if old is not None:
            old_labels = old["metadata"].get("labels") or {}
            if not keys and old_labels == labels:
                return  # no Service selects the pod before or after: nothing to wake, whatever else changed
            if pod_endpoints_changed(old, pod) == (False, False):
                return
            keys += services_for_labels(self.svc_informer, ns, old_labels)
        for k in sorted(set(keys)):
            self.queue.add(k)

    @staticmethod
    def _pod_entry(pod: dict, svc: dict) -> tuple | None:
        """(subset key, address, "addresses" or "notReadyAddresses", the ports as written) for a pod with an IP
        that is not terminating, else None."""
        if not pod.get("status", {}).get("podIP") or pod["metadata"].get("deletionTimestamp"):
            return None
        ports = pod_ports(pod, svc)
        addr = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                              "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}}
        field = "addresses" if is_pod_ready(pod) or svc["spec"].get("publishNotReadyAddresses") \
            else "notReadyAddresses"
        return (tuple((p["name"], p["port"], p["protocol"]) for p in ports), addr, field,
                [{kk: vv for kk, vv in p.items() if vv != ""} for p in ports])

    def sync_handler(self, key: str) -> None:
        ns, name = key.split("/", 1)
        svc = self.svc_informer.get(key)
        cur = self.ep_informer.get(key)
        if svc is None:
            self.tracker.forget(key)
            if cur is not None:
                try:
                    self.client.delete("endpoints", name, namespace=ns)
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
            return
        if not svc.get("spec", {}).get("selector"):
            self.tracker.forget(key)
            return
        st = self.tracker.refresh(key, svc, (svc["metadata"]["uid"], svc["metadata"].get("resourceVersion")))
        # no pod's address changed and the Endpoints object is still the one it left: nothing to write
        now = (st.version, cur["metadata"].get("resourceVersion") if cur is not None else None)
        if st.written == now:
            return
        subsets: dict[tuple, dict] = {}
        entries = st.entries
        for pod_key in st.ordered():
            k, addr, field, subset_ports = entries[pod_key][1]
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
            created = self.client.create("endpoints", ep, namespace=ns)
            st.written = (st.version, created["metadata"].get("resourceVersion"))
            st.left = {name: (st.written[1], out, labels)}
            return
        was = st.left.get(name)
        if was is not None and was[0] == now[1]:
            # the object is the version the controller left: compare with what it wrote, whose unchanged
            # addresses are the very same objects
            same = was[1] == out and was[2] == labels
        else:
            same = (cur.get("subsets") or []) == out and (cur["metadata"].get("labels") or {}) == labels
        if same:
            st.written = now
            st.left = {name: (now[1], out, labels)}
            return
        new = dict(cur)
        new["metadata"] = dict(cur["metadata"])
        new["metadata"]["labels"] = labels
        if out:
            new["subsets"] = out
        else:
            new.pop("subsets", None)
        updated = self.client.update("endpoints", new)
        st.written = (st.version, updated["metadata"].get("resourceVersion"))
        st.left = {name: (st.written[1], out, labels)}
