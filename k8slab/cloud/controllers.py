"""Mirrors: staging/src/k8s.io/cloud-provider/controllers/node/node_controller.go (CloudNodeController),
controllers/nodelifecycle/node_lifecycle_controller.go (CloudNodeLifecycleController),
controllers/route/route_controller.go (RouteController) and controllers/service/controller.go (service controller).

The four loops of the cloud-controller-manager. Each reads the cluster through informers like any controller and
the infrastructure through the cloud provider's API:

- *cloud-node*: a kubelet started with ``--cloud-provider=external`` registers its Node with the taint
  ``node.cloudprovider.kubernetes.io/uninitialized``; this controller asks the cloud for the VM's ID, type,
  addresses, zone and region, writes them into the Node and removes the taint, and from then on the node can
  take pods.
- *cloud-node-lifecycle*: for each Node that is not Ready, asks the cloud whether the VM still exists (if not, the
  Node is deleted) or is shut down (the ``node.cloudprovider.kubernetes.io/shutdown`` taint).
- *route*: one route per node pod CIDR in the cloud's route table, and the node's NetworkUnavailable condition.
- *service*: a cloud load balancer for each ``type: LoadBalancer`` Service, its address in
  ``status.loadBalancer.ingress``, the ``service.kubernetes.io/load-balancer-cleanup`` finalizer so that deleting
  the Service deletes the load balancer first. Failures are Warning events and rate-limited retries.
"""

from __future__ import annotations

import ipaddress

from ..api import errors
from ..api.objects import deepcopy, rfc3339
from ..client.workqueue import ItemExponentialFailureRateLimiter
from ..controllers.base import Controller, RequeueError
from .provider import CloudError, Route

TAINT_EXTERNAL_CLOUD_PROVIDER = "node.cloudprovider.kubernetes.io/uninitialized"
TAINT_NODE_SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"
LABEL_INSTANCE_TYPE = "beta.kubernetes.io/instance-type"
LABEL_INSTANCE_TYPE_STABLE = "node.kubernetes.io/instance-type"
LABEL_ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"
LABEL_REGION_BETA = "failure-domain.beta.kubernetes.io/region"
LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"
LABEL_TOPOLOGY_REGION = "topology.kubernetes.io/region"
LABEL_EXCLUDE_BALANCERS = "node.kubernetes.io/exclude-from-external-load-balancers"
LOAD_BALANCER_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
NODE_STATUS_UPDATE_FREQUENCY_MS = 5 * 60 * 1000
NODE_MONITOR_PERIOD_MS = 5_000
ROUTE_RECONCILIATION_PERIOD_MS = 10_000
SERVICE_MIN_RETRY_DELAY_MS = 5_000
SERVICE_MAX_RETRY_DELAY_MS = 300_000


class CloudController(Controller):
    """A controller of the cloud-controller-manager (component ``cloud-controller-manager/<name>``)."""

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.cloud = manager.cloud
        self.component = f"cloud-controller-manager/{self.NAME}"
        self.queue.component = self.component

    def _periodic(self, period_ms: int, fn, label: str) -> None:
        def tick():
            if not self.manager.paused:
                try:
                    fn()
                except (errors.StatusError, CloudError) as e:
                    self.errors += 1
                    self.loop.emit(self.component, "reconcile.error", self.RESOURCE, {"error": str(e)})
            self.loop.call_later(period_ms, tick, component=self.component, label=label, background=True)

        self.loop.call_later(period_ms, tick, component=self.component, label=label, background=True)


def _node_ref(node: dict) -> dict:
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": node["metadata"]["name"],
                                                              "uid": node["metadata"]["name"]}}


def _ready(node: dict) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status")
    return None


class CloudNodeController(CloudController):
    NAME = "cloud-node-controller"
    RESOURCE = "nodes"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.node_informer = manager.factory.informer("nodes")
        self.node_informer.add_event_handler(self._maybe_enqueue, lambda o, n: self._maybe_enqueue(n))
        self._periodic(NODE_STATUS_UPDATE_FREQUENCY_MS, self.update_node_status, "UpdateNodeStatus")

    def _maybe_enqueue(self, node: dict) -> None:
        if any(t["key"] == TAINT_EXTERNAL_CLOUD_PROVIDER for t in node.get("spec", {}).get("taints") or ()):
            self.enqueue(node)

    def sync_handler(self, name: str) -> None:
        """syncNode: initialise a node that still carries the uninitialized taint."""
        node = self.node_informer.get(name)
        if node is None:
            return
        taints = node.get("spec", {}).get("taints") or []
        if not any(t["key"] == TAINT_EXTERNAL_CLOUD_PROVIDER for t in taints):
            return
        try:
            meta = self.cloud.instance_metadata(node)
        except CloudError as e:
            raise RequeueError(f"failed to get instance metadata for node {name}: {e}") from None
        new = deepcopy(node)
        if not new["spec"].get("providerID"):
            new["spec"]["providerID"] = meta.provider_id
        labels = new["metadata"].setdefault("labels", {})
        labels.update({LABEL_INSTANCE_TYPE: meta.instance_type, LABEL_INSTANCE_TYPE_STABLE: meta.instance_type,
                       LABEL_ZONE_BETA: meta.zone, LABEL_TOPOLOGY_ZONE: meta.zone,
                       LABEL_REGION_BETA: meta.region, LABEL_TOPOLOGY_REGION: meta.region})
        new["metadata"]["labels"] = dict(sorted(labels.items()))
        rest = [t for t in taints if t["key"] != TAINT_EXTERNAL_CLOUD_PROVIDER]
        if rest:
            new["spec"]["taints"] = rest
        else:
            new["spec"].pop("taints", None)
        self.client.update("nodes", new)
        self._set_addresses(node, meta.node_addresses)
        self.loop.emit(self.component, "node.initialized", f"nodes/{name}",
                       {"providerID": meta.provider_id, "zone": meta.zone, "instanceType": meta.instance_type})
        self.recorder.normal(_node_ref(node), "Synced", "Node synced successfully")

    def _set_addresses(self, node: dict, addresses: list) -> None:
        provided = (node["metadata"].get("annotations") or {}).get("alpha.kubernetes.io/provided-node-ip")
        if provided and not any(a["address"] == provided for a in addresses):
            raise RequeueError(f"failed to get node address from cloud provider that matches ip: {provided}")
        if (node.get("status") or {}).get("addresses") != addresses:
            self.client.patch("nodes", node["metadata"]["name"], {"status": {"addresses": addresses}},
                              subresource="status")

    def update_node_status(self) -> None:
        """UpdateNodeStatus: refresh every initialised node's addresses from the cloud."""
        for node in sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"]):
            if any(t["key"] == TAINT_EXTERNAL_CLOUD_PROVIDER for t in node["spec"].get("taints") or ()):
                continue
            try:
                meta = self.cloud.instance_metadata(node)
            except CloudError:
                continue
            self._set_addresses(node, meta.node_addresses)


class CloudNodeLifecycleController(CloudController):
    NAME = "cloud-node-lifecycle-controller"
    RESOURCE = "nodes"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.node_informer = manager.factory.informer("nodes")
        self._periodic(NODE_MONITOR_PERIOD_MS, self.monitor_nodes, "MonitorNodes")

    def sync_handler(self, key) -> None:  # periodic only
        return None

    def monitor_nodes(self) -> None:
        for node in sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"]):
            name = node["metadata"]["name"]
            taints = node["spec"].get("taints") or []
            has_shutdown = any(t["key"] == TAINT_NODE_SHUTDOWN for t in taints)
            if _ready(node) == "True":
                if has_shutdown:
                    self._set_taints(node, [t for t in taints if t["key"] != TAINT_NODE_SHUTDOWN])
                continue
            try:
                shutdown = self.cloud.instance_shutdown(node)
                if shutdown:
                    if not has_shutdown:
                        self._set_taints(node, taints + [{"key": TAINT_NODE_SHUTDOWN, "effect": "NoSchedule"}])
                    continue
                exists = self.cloud.instance_exists(node)
            except CloudError as e:
                self.loop.emit(self.component, "reconcile.error", f"nodes/{name}", {"error": str(e)})
                continue
            if not exists:
                self.recorder.normal(_node_ref(node), "DeletingNode",
                                     f"Deleting node {name} because it does not exist in the cloud provider")
                try:
                    self.client.delete("nodes", name)
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
                self.loop.emit(self.component, "node.deleted", f"nodes/{name}", {})

    def _set_taints(self, node: dict, taints: list) -> None:
        new = deepcopy(node)
        if taints:
            new["spec"]["taints"] = taints
        else:
            new["spec"].pop("taints", None)
        self.client.update("nodes", new)


class RouteController(CloudController):
    NAME = "route-controller"
    EVENT_SOURCE = "route_controller"  # route_controller.go names its event source with an underscore
    RESOURCE = "nodes"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.node_informer = manager.factory.informer("nodes")
        self.cluster_cidr = ipaddress.ip_network(manager.cluster_cidr)
        self.node_informer.add_event_handler(lambda n: self.queue.add("routes"),
                                             lambda o, n: self._node_updated(o, n),
                                             lambda n: self.queue.add("routes"))
        self._periodic(ROUTE_RECONCILIATION_PERIOD_MS, lambda: self.queue.add("routes"), "reconcileNodeRoutes")

    def _node_updated(self, old: dict, new: dict) -> None:
        if old["spec"].get("podCIDRs") != new["spec"].get("podCIDRs"):
            self.queue.add("routes")

    def sync_handler(self, key) -> None:
        try:
            routes = self.cloud.list_routes(self.cloud.cluster_name)
        except CloudError as e:
            raise RequeueError(f"error listing routes: {e}") from None
        self.reconcile(sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"]), routes)

    def reconcile(self, nodes: list[dict], routes: list[Route]) -> None:
        have = {(r.target_node, r.destination_cidr) for r in routes}
        desired = set()
        failed = []
        for node in nodes:
            name = node["metadata"]["name"]
            cidrs = node["spec"].get("podCIDRs") or ([node["spec"]["podCIDR"]] if node["spec"].get("podCIDR")
                                                     else [])
            if not cidrs:
                continue
            created = True
            for cidr in cidrs:
                desired.add((name, cidr))
                if (name, cidr) in have:
                    continue
                try:
                    self.cloud.create_route(self.cloud.cluster_name, node["metadata"]["uid"],
                                            Route("", name, cidr))
                except CloudError as e:
                    created = False
                    failed.append(name)
                    self.recorder.warning(_node_ref(node), "FailedToCreateRoute",
                                          f"Could not create route {node['metadata']['uid']} {cidr} for node "
                                          f"{name} after 0s: {e}")
            self.update_networking_condition(node, created)
        for r in routes:
            try:
                in_cluster = ipaddress.ip_network(r.destination_cidr).subnet_of(self.cluster_cidr)
            except (ValueError, TypeError):
                in_cluster = False
            if in_cluster and (r.target_node, r.destination_cidr) not in desired:
                try:
                    self.cloud.delete_route(self.cloud.cluster_name, r)
                except CloudError as e:
                    failed.append(r.name)
                    self.loop.emit(self.component, "reconcile.error", "routes", {"error": str(e)})
        if failed:
            raise RequeueError(f"could not reconcile routes for {', '.join(sorted(set(failed)))}")

    def update_networking_condition(self, node: dict, route_created: bool) -> None:
        cur = next((c for c in node.get("status", {}).get("conditions") or ()
                    if c.get("type") == "NetworkUnavailable"), None)
        want = ("False", "RouteCreated", "RouteController created a route") if route_created else \
            ("True", "NoRouteCreated", "RouteController failed to create a route")
        if cur is not None and (cur.get("status"), cur.get("reason"), cur.get("message")) == want:
            return
        now = rfc3339(self.loop.now)
        cond = {"type": "NetworkUnavailable", "status": want[0], "reason": want[1], "message": want[2],
                "lastTransitionTime": now, "lastHeartbeatTime": now}
        conds = [c for c in node["status"].get("conditions") or () if c.get("type") != "NetworkUnavailable"]
        self.client.patch("nodes", node["metadata"]["name"], {"status": {"conditions": [cond] + conds}},
                          subresource="status")


class ServiceController(CloudController):
    NAME = "service-controller"
    RESOURCE = "services"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.queue.rate_limiter = ItemExponentialFailureRateLimiter(SERVICE_MIN_RETRY_DELAY_MS,
                                                                    SERVICE_MAX_RETRY_DELAY_MS)
        self.svc_informer = manager.factory.informer("services")
        self.node_informer = manager.factory.informer("nodes")
        self.svc_informer.add_event_handler(self._svc_changed, self._svc_updated)
        self.node_informer.add_event_handler(self._nodes_changed, lambda o, n: self._nodes_changed(o, n),
                                             self._nodes_changed)
        self.hosts: dict[str, list[str]] = {}  # service key -> the node names its load balancer sends to

    @staticmethod
    def wants_load_balancer(svc: dict) -> bool:
        return (svc.get("spec") or {}).get("type") == "LoadBalancer"

    @staticmethod
    def needs_cleanup(svc: dict) -> bool:
        fins = svc["metadata"].get("finalizers") or ()
        if LOAD_BALANCER_CLEANUP_FINALIZER not in fins:
            return False
        return bool(svc["metadata"].get("deletionTimestamp")) or not ServiceController.wants_load_balancer(svc)

    def _svc_changed(self, svc: dict) -> None:
        if self.wants_load_balancer(svc) or self.needs_cleanup(svc):
            self.enqueue(svc)

    def _svc_updated(self, old: dict, new: dict) -> None:
        if self.needs_update(old, new) or self.needs_cleanup(new):
            self.enqueue(new)

    @staticmethod
    def needs_update(old: dict, new: dict) -> bool:
        """needsUpdate: only a change the load balancer depends on (the spec, annotations, UID) causes a sync; the
        controller's own finalizer and status writes do not."""
        if ServiceController.wants_load_balancer(old) != ServiceController.wants_load_balancer(new):
            return True
        if not ServiceController.wants_load_balancer(new):
            return False
        return (old.get("spec") != new.get("spec") or old["metadata"].get("uid") != new["metadata"].get("uid")
                or old["metadata"].get("annotations") != new["metadata"].get("annotations"))

    def _nodes_changed(self, old: dict, new: dict | None = None) -> None:
        if new is not None and [self._node_eligible(old)] == [self._node_eligible(new)]:
            return
        for svc in self.svc_informer.list():
            if self.wants_load_balancer(svc) and not svc["metadata"].get("deletionTimestamp"):
                self.enqueue(svc)

    @staticmethod
    def _node_eligible(node: dict) -> bool:
        """getNodePredicatesForService: not excluded by label, initialised by the cloud, Ready."""
        if LABEL_EXCLUDE_BALANCERS in (node["metadata"].get("labels") or {}):
            return False
        if node["metadata"].get("deletionTimestamp") or not node["spec"].get("providerID"):
            return False
        return _ready(node) == "True"

    def sync_handler(self, key: str) -> None:
        svc = self.svc_informer.get(key)
        if svc is None:
            return
        if self.needs_cleanup(svc):
            self.process_load_balancer_delete(svc)
        elif self.wants_load_balancer(svc):
            self.process_load_balancer_create_or_update(svc)

    def process_load_balancer_create_or_update(self, svc: dict) -> None:
        key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
        fins = list(svc["metadata"].get("finalizers") or ())
        if LOAD_BALANCER_CLEANUP_FINALIZER not in fins:
            svc = self.client.patch("services", svc["metadata"]["name"],
                                    {"metadata": {"finalizers": fins + [LOAD_BALANCER_CLEANUP_FINALIZER]}},
                                    namespace=svc["metadata"]["namespace"])
        nodes = sorted((n for n in self.node_informer.list() if self._node_eligible(n)),
                       key=lambda n: n["metadata"]["name"])
        hosts = [n["metadata"]["name"] for n in nodes]
        self.recorder.normal(svc, "EnsuringLoadBalancer", "Ensuring load balancer")
        try:
            _, exists = self.cloud.get_load_balancer(self.cloud.cluster_name, svc)
            if exists and key in self.hosts and self.hosts[key] != hosts:
                self.cloud.update_load_balancer(self.cloud.cluster_name, svc, nodes)
                self.recorder.normal(svc, "UpdatedLoadBalancer", "Updated load balancer with new hosts")
            status = self.cloud.ensure_load_balancer(self.cloud.cluster_name, svc, nodes)
        except CloudError as e:
            self.recorder.warning(svc, "SyncLoadBalancerFailed", f"Error syncing load balancer: {e}")
            raise RequeueError(f"failed to ensure load balancer: {e}") from None
        self.hosts[key] = hosts
        if (svc.get("status") or {}).get("loadBalancer") != status:
            self.client.patch("services", svc["metadata"]["name"], {"status": {"loadBalancer": status}},
                              namespace=svc["metadata"]["namespace"], subresource="status")
        self.recorder.normal(svc, "EnsuredLoadBalancer", "Ensured load balancer")

    def process_load_balancer_delete(self, svc: dict) -> None:
        key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
        self.recorder.normal(svc, "DeletingLoadBalancer", "Deleting load balancer")
        try:
            self.cloud.ensure_load_balancer_deleted(self.cloud.cluster_name, svc)
        except CloudError as e:
            self.recorder.warning(svc, "DeleteLoadBalancerFailed", f"Error deleting load balancer: {e}")
            raise RequeueError(f"failed to delete load balancer: {e}") from None
        self.hosts.pop(key, None)
        if (svc.get("status") or {}).get("loadBalancer"):
            try:
                self.client.patch("services", svc["metadata"]["name"], {"status": {"loadBalancer": {}}},
                                  namespace=svc["metadata"]["namespace"], subresource="status")
            except errors.StatusError as e:
                if e.code != 404:
                    raise
        fins = [f for f in svc["metadata"].get("finalizers") or () if f != LOAD_BALANCER_CLEANUP_FINALIZER]
        try:
            self.client.patch("services", svc["metadata"]["name"], {"metadata": {"finalizers": fins or None}},
                              namespace=svc["metadata"]["namespace"])
        except errors.StatusError as e:
            if e.code != 404:
                raise
        self.recorder.normal(svc, "DeletedLoadBalancer", "Deleted load balancer")
