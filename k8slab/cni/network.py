"""Mirrors: flannel-io/flannel pkg/backend/vxlan (vxlan_network.go, device.go) and pkg/backend/hostgw, the routes
the Linux kernel adds for an interface address (``proto kernel scope link``), and ``ip route`` (iproute2) output.

How packets cross between nodes. Every node owns one podCIDR (given by the node IPAM controller); the bridge CNI
plugin puts the node's pods on the ``cni0`` bridge, whose address (the podCIDR's ``.1``) gives the kernel the
``<podCIDR> dev cni0 proto kernel scope link src <.1>`` route. A pod-network daemon (flannel here) watches the
Node objects and adds one route per *other* node's podCIDR:

- ``vxlan`` backend: ``10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink``. ``flannel.1`` is a VXLAN device
  (VNI 1, UDP port 8472, the Linux kernel's original VXLAN port, which flannel uses by default); the next hop
  ``10.244.2.0`` is the other node's VTEP, found through a permanent ARP entry and a bridge FDB entry
  (``<VtepMAC> dev flannel.1 dst <nodeIP>``). The packet leaves wrapped in UDP from node IP to node IP.
- ``host-gw`` backend: ``10.244.2.0/24 via 192.168.0.12 dev eth0``: no encapsulation, the other node is the
  next hop. It needs every node on one layer-2 segment.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass

BACKENDS = ("vxlan", "host-gw")
VXLAN_DEVICE = "flannel.1"
VXLAN_VNI = 1
VXLAN_PORT = 8472
VXLAN_MTU = 1450  # 1500 minus the 50 bytes of outer Ethernet, IP, UDP and VXLAN headers
NODE_DEVICE = "eth0"
NODE_PREFIX = 24  # the simulated nodes share 192.168.0.0/24


@dataclass(frozen=True)
class Route:
    """One line of ``ip route``."""

    dst: str                  # "default" or a CIDR
    dev: str
    via: str | None = None
    onlink: bool = False
    proto: str | None = None  # "kernel" for the routes an interface address creates
    scope: str | None = None  # "link" for directly connected networks
    src: str | None = None

    def __str__(self) -> str:
        out = [self.dst]
        if self.via:
            out += ["via", self.via]
        out += ["dev", self.dev]
        if self.proto:
            out += ["proto", self.proto]
        if self.scope:
            out += ["scope", self.scope]
        if self.src:
            out += ["src", self.src]
        if self.onlink:
            out.append("onlink")
        return " ".join(out)

    def network(self) -> ipaddress.IPv4Network:
        return _network("0.0.0.0/0" if self.dst == "default" else self.dst)


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(cidr, strict=False)


@dataclass(frozen=True)
class NodeNet:
    """What the pod-network daemon reads from one Node object."""

    name: str
    ip: str
    pod_cidr: str | None

    @classmethod
    def from_node(cls, node: dict) -> "NodeNet":
        addrs = (node.get("status") or {}).get("addresses") or []
        ip = next((a["address"] for a in addrs if a.get("type") == "InternalIP"), "")
        return cls(node["metadata"]["name"], ip, (node.get("spec") or {}).get("podCIDR"))

    @property
    def vtep_ip(self) -> str | None:
        """flannel.1's address: the podCIDR's network address as a /32."""
        return str(_network(self.pod_cidr).network_address) if self.pod_cidr else None

    @property
    def vtep_mac(self) -> str:
        """flannel.1's MAC (the kernel picks a random one; flannel publishes it in the Node annotation
        ``flannel.alpha.coreos.com/backend-data``). Derived from the node name so runs repeat."""
        b = bytearray(hashlib.sha256(f"vtep/{self.name}".encode()).digest()[:6])
        b[0] = (b[0] & 0xFC) | 0x02
        return ":".join(f"{x:02x}" for x in b)


def network_of(cidr: str) -> ipaddress.IPv4Network:
    """The parsed network of a CIDR (parsed once)."""
    return _network(cidr)


def gateway_of(pod_cidr: str) -> str:
    """The bridge's address: the first host of the podCIDR (host-local's default gateway)."""
    return str(_network(pod_cidr).network_address + 1)


def node_routes(me: NodeNet, nodes: list[NodeNet], backend: str = "vxlan", bridge_up: bool = True) -> list[Route]:
    """The main routing table of node ``me``, in ``ip route`` order."""
    if backend not in BACKENDS:
        raise ValueError(f'unknown pod network backend "{backend}"; use one of {", ".join(BACKENDS)}')
    lan = _network(f"{me.ip}/{NODE_PREFIX}")
    routes = [Route("default", NODE_DEVICE, via=str(lan.network_address + 1)),
              Route(str(lan), NODE_DEVICE, proto="kernel", scope="link", src=me.ip)]
    if me.pod_cidr and bridge_up:
        routes.append(Route(me.pod_cidr, "cni0", proto="kernel", scope="link", src=gateway_of(me.pod_cidr)))
    for other in nodes:
        if other.name == me.name or not other.pod_cidr:
            continue
        if backend == "vxlan":
            routes.append(Route(other.pod_cidr, VXLAN_DEVICE, via=other.vtep_ip, onlink=True))
        else:
            routes.append(Route(other.pod_cidr, NODE_DEVICE, via=other.ip))
    head, rest = routes[0], routes[1:]
    rest.sort(key=lambda r: (int(r.network().network_address), r.network().prefixlen))
    return [head] + rest


def ip_route(routes: list[Route]) -> str:
    """``ip route`` output."""
    return "\n".join(str(r) for r in routes) + "\n"


def lookup(routes: list[Route], ip: str) -> Route:
    """The kernel's FIB lookup: the longest prefix that contains ``ip``."""
    addr = ipaddress.ip_address(ip)
    best = None
    for r in routes:
        net = r.network()
        if addr in net and (best is None or net.prefixlen > best.network().prefixlen):
            best = r
    return best


def fdb_entries(me: NodeNet, nodes: list[NodeNet]) -> list[str]:
    """``bridge fdb show dev flannel.1``: where each remote VTEP MAC lives (vxlan backend)."""
    return [f"{o.vtep_mac} dev {VXLAN_DEVICE} dst {o.ip} self permanent"
            for o in nodes if o.name != me.name and o.pod_cidr]


def neighbours(me: NodeNet, nodes: list[NodeNet]) -> list[str]:
    """``ip neigh show dev flannel.1``: the permanent ARP entries for each remote VTEP (vxlan backend)."""
    return [f"{o.vtep_ip} dev {VXLAN_DEVICE} lladdr {o.vtep_mac} PERMANENT"
            for o in nodes if o.name != me.name and o.pod_cidr]


def pod_routes(ip: str, pod_cidr: str) -> list[Route]:
    """``ip route`` inside a pod: the default route through the bridge and the link route of eth0."""
    return [Route("default", "eth0", via=gateway_of(pod_cidr)),
            Route(pod_cidr, "eth0", proto="kernel", scope="link", src=ip)]
