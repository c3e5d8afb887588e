"""Mirrors: staging/src/k8s.io/cloud-provider/cloud.go (Interface, InstancesV2, LoadBalancer, Routes,
InstanceMetadata) and staging/src/k8s.io/cloud-provider/fake/fake.go.

A cloud provider is the plug between Kubernetes and an infrastructure API. The cloud-controller-manager only ever
talks to it through these calls: *InstancesV2* (does the VM behind this Node exist? is it shut down? what are its
ID, type, addresses, zone and region?), *Routes* (a route per node's pod CIDR in the VPC route table) and
*LoadBalancer* (make, update, delete the load balancer of a ``type: LoadBalancer`` Service).

``FakeCloud`` is an in-memory cloud a notebook can look at and break: every call is logged in ``calls``;
``fail("load_balancers")`` makes that API return errors until ``heal()``; ``terminate_instance("node-2")`` deletes a
VM (its kubelet goes silent with it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

PROVIDER_NAME = "fake"
APIS = ("instances", "routes", "load_balancers")


class CloudError(Exception):
    """An error returned by the cloud's API."""


@dataclass
class Instance:
    name: str
    instance_id: str
    zone: str
    region: str
    instance_type: str
    private_ip: str
    public_ip: str
    state: str = "running"  # running, stopped, terminated

    @property
    def provider_id(self) -> str:
        return f"{PROVIDER_NAME}://{self.region}/{self.zone}/{self.instance_id}"


@dataclass
class Route:
    """cloudprovider.Route: traffic for DestinationCIDR goes to TargetNode."""

    name: str
    target_node: str
    destination_cidr: str
    blackhole: bool = False


@dataclass
class LoadBalancer:
    name: str
    service: str  # "namespace/name"
    ip: str
    ports: list = field(default_factory=list)  # (protocol, port, nodePort)
    hosts: list = field(default_factory=list)  # backend node names


@dataclass(frozen=True)
class InstanceMetadata:
    provider_id: str
    instance_type: str
    node_addresses: list
    zone: str
    region: str


@dataclass(frozen=True)
class CloudCall:
    time: int
    api: str
    method: str
    args: str
    error: str = ""


class FakeCloud:
    """An in-memory cloud: VMs in zones of one region, a route table, load balancers."""

    def __init__(self, loop, rng, region: str = "lab-1", zones: tuple = ("lab-1a", "lab-1b", "lab-1c"),
                 cluster_name: str = "kubernetes") -> None:
        self.loop = loop
        self.rng = rng
        self.region = region
        self.zones = tuple(zones)
        self.cluster_name = cluster_name
        self.instances: dict[str, Instance] = {}
        self.routes: dict[str, Route] = {}
        self.load_balancers: dict[str, LoadBalancer] = {}
        self.failing: dict[str, str] = {}
        self.calls: list[CloudCall] = []
        self.on_terminate: list = []
        self._public = ipaddress.ip_network("203.0.113.0/24")  # TEST-NET-3: public addresses of VMs
        self._lb_pool = ipaddress.ip_network("198.51.100.0/24")  # TEST-NET-2: load balancer addresses
        self._next_public = 10
        self._next_lb = 10

    # -- the lab's controls ------------------------------------------------------------------------------------------
    def add_instance(self, name: str, private_ip: str, instance_type: str = "lab.standard-4") -> Instance:
        """Create a VM (what the cluster's installer does for each node)."""
        zone = self.zones[len(self.instances) % len(self.zones)]
        inst = Instance(name, "i-" + f"{self.rng.getrandbits(68):017x}", zone, self.region, instance_type,
                        private_ip, str(self._public.network_address + self._next_public))
        self._next_public += 1
        self.instances[name] = inst
        self.loop.emit("cloud", "cloud.instance.created", f"instances/{inst.instance_id}",
                       {"name": name, "zone": zone})
        return inst

    def terminate_instance(self, name: str) -> Instance:
        """Delete the VM behind a node: the machine and its kubelet are gone."""
        inst = self._by_name(name)
        inst.state = "terminated"
        self.loop.emit("cloud", "cloud.instance.terminated", f"instances/{inst.instance_id}", {"name": name})
        for fn in self.on_terminate:
            fn(name)
        return inst

    def stop_instance(self, name: str) -> Instance:
        """Shut the VM down (it still exists)."""
        inst = self._by_name(name)
        inst.state = "stopped"
        self.loop.emit("cloud", "cloud.instance.stopped", f"instances/{inst.instance_id}", {"name": name})
        for fn in self.on_terminate:
            fn(name)
        return inst

    def fail(self, api: str, message: str = "") -> None:
        """Make one API ("instances", "routes" or "load_balancers") return errors until :meth:`heal`."""
        if api not in APIS:
            raise ValueError(f"unknown cloud API {api!r}; choose one of {', '.join(APIS)}")
        self.failing[api] = message or f"{api.replace('_', ' ')} API unavailable (503 Service Unavailable)"

    def heal(self, api: str | None = None) -> None:
        if api is None:
            self.failing.clear()
        else:
            self.failing.pop(api, None)

    def _by_name(self, name: str) -> Instance:
        try:
            return self.instances[name]
        except KeyError:
            raise KeyError(f"no instance named {name!r}; instances are {', '.join(self.instances)}") from None

    def _call(self, api: str, method: str, args: str = "") -> None:
        err = self.failing.get(api, "")
        self.calls.append(CloudCall(self.loop.now, api, method, args, err))
        self.loop.emit("cloud", "cloud.call", f"{api}/{method}", {"args": args, "error": err})
        if err:
            raise CloudError(err)

    # -- cloudprovider.Interface -------------------------------------------------------------------------------------
    def provider_name(self) -> str:
        return PROVIDER_NAME

    # InstancesV2
    def _instance_for(self, node: dict) -> Instance | None:
        pid = (node.get("spec") or {}).get("providerID")
        for inst in self.instances.values():
            if (pid and inst.provider_id == pid) or (not pid and inst.name == node["metadata"]["name"]):
                return inst
        return None

    def instance_exists(self, node: dict) -> bool:
        self._call("instances", "InstanceExists", node["metadata"]["name"])
        inst = self._instance_for(node)
        return inst is not None and inst.state != "terminated"

    def instance_shutdown(self, node: dict) -> bool:
        self._call("instances", "InstanceShutdown", node["metadata"]["name"])
        inst = self._instance_for(node)
        return inst is not None and inst.state == "stopped"

    def instance_metadata(self, node: dict) -> InstanceMetadata:
        self._call("instances", "InstanceMetadata", node["metadata"]["name"])
        inst = self._instance_for(node)
        if inst is None or inst.state == "terminated":
            raise CloudError("instance not found")
        return InstanceMetadata(inst.provider_id, inst.instance_type,
                                [{"type": "InternalIP", "address": inst.private_ip},
                                 {"type": "ExternalIP", "address": inst.public_ip},
                                 {"type": "Hostname", "address": inst.name}],
                                inst.zone, inst.region)

    # Routes
    def list_routes(self, cluster_name: str) -> list[Route]:
        self._call("routes", "ListRoutes", cluster_name)
        return [Route(r.name, r.target_node, r.destination_cidr, r.blackhole) for r in self.routes.values()]

    def create_route(self, cluster_name: str, name_hint: str, route: Route) -> None:
        self._call("routes", "CreateRoute", f"{route.destination_cidr} -> {route.target_node}")
        name = f"{cluster_name}-{name_hint}"
        self.routes[name] = Route(name, route.target_node, route.destination_cidr)

    def delete_route(self, cluster_name: str, route: Route) -> None:
        self._call("routes", "DeleteRoute", f"{route.destination_cidr} -> {route.target_node}")
        self.routes.pop(route.name, None)

    # LoadBalancer
    @staticmethod
    def get_load_balancer_name(service: dict) -> str:
        """cloudprovider.DefaultLoadBalancerName: "a" + the Service UID without dashes, at most 32 characters."""
        return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]

    def get_load_balancer(self, cluster_name: str, service: dict):
        self._call("load_balancers", "GetLoadBalancer", _svc_key(service))
        lb = self.load_balancers.get(self.get_load_balancer_name(service))
        return (_lb_status(lb), True) if lb else (None, False)

    def ensure_load_balancer(self, cluster_name: str, service: dict, nodes: list[dict]) -> dict:
        self._call("load_balancers", "EnsureLoadBalancer", _svc_key(service))
        name = self.get_load_balancer_name(service)
        lb = self.load_balancers.get(name)
        if lb is None:
            lb = self.load_balancers[name] = LoadBalancer(
                name, _svc_key(service), str(self._lb_pool.network_address + self._next_lb))
            self._next_lb += 1
        lb.ports = [(p.get("protocol", "TCP"), p["port"], p.get("nodePort")) for p in service["spec"]["ports"]]
        lb.hosts = sorted(n["metadata"]["name"] for n in nodes)
        return _lb_status(lb)

    def update_load_balancer(self, cluster_name: str, service: dict, nodes: list[dict]) -> None:
        self._call("load_balancers", "UpdateLoadBalancer", _svc_key(service))
        lb = self.load_balancers.get(self.get_load_balancer_name(service))
        if lb is None:
            raise CloudError("load balancer not found")
        lb.hosts = sorted(n["metadata"]["name"] for n in nodes)

    def ensure_load_balancer_deleted(self, cluster_name: str, service: dict) -> None:
        self._call("load_balancers", "EnsureLoadBalancerDeleted", _svc_key(service))
        self.load_balancers.pop(self.get_load_balancer_name(service), None)

    def __repr__(self) -> str:
        return (f"<FakeCloud {self.region}: {len(self.instances)} instances, {len(self.routes)} routes, "
                f"{len(self.load_balancers)} load balancers"
                + (f", failing: {', '.join(sorted(self.failing))}" if self.failing else "") + ">")


def _svc_key(service: dict) -> str:
    return f"{service['metadata']['namespace']}/{service['metadata']['name']}"


def _lb_status(lb: LoadBalancer) -> dict:
    return {"ingress": [{"ip": lb.ip, "ipMode": "VIP"}]}
