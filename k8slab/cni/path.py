"""Mirrors: the Linux data path a pod's connection takes in a kube-proxy (iptables) + bridge CNI + flannel cluster
with a policy plugin: glibc's resolver (search list, ndots), nat PREROUTING (kube-proxy's DNAT), the FIB lookup,
the cni0 bridge and veth pairs, flannel's VXLAN device or host-gw route, and policy at the pods' veths.

``trace(cluster, ...)`` walks one new connection hop by hop and says what each hop did. It reads the cluster the
way the kernel would see it: pods and NetworkPolicies from the API server's objects, routes from the Node objects,
the DNAT step from the source node's kube-proxy rules (``dnat`` below is the one place that asks kube-proxy).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..api import errors
from ..dns.coredns import resolv_conf
from . import network as netmodel
from .policy import Endpoint, evaluate


@dataclass
class Hop:
    """One step of the path: where it happened, what kind of step, and what it did."""

    where: str      # node or pod
    kind: str       # dns, nat, policy, route, bridge, veth, overlay, deliver, reply
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.kind}] {self.detail}"


@dataclass
class NetPath:
    """The hops of one connection and how it ended."""

    src: str
    dst: str
    port: int
    protocol: str
    hops: list[Hop] = field(default_factory=list)
    status: str = ""
    ok: bool = False
    pod: str | None = None      # "ns/name" of the pod that answered
    node: str | None = None
    endpoint: str | None = None  # ip:port after DNAT
    walk: Any = None             # kube-proxy's walk of the DNAT step
    lookup: Any = None           # the DNS lookup, when a name was given
    policy: list = field(default_factory=list)  # policy verdicts
    devices: list = field(default_factory=list)  # (node, device) the packet crossed, in order, for pictures

    def add(self, where: str, kind: str, detail: str) -> None:
        self.hops.append(Hop(where, kind, detail))

    def table(self) -> list[dict]:
        return [{"hop": i + 1, "where": h.where, "kind": h.kind, "detail": h.detail} for i, h in enumerate(self.hops)]

    def __repr__(self) -> str:
        head = f"{self.src} -> {self.dst}:{self.port}/{self.protocol}: {self.status}"
        return head + "".join(f"\n  {i + 1:>2}. {h}" for i, h in enumerate(self.hops))

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))


def dnat(agents, src_ip: str, dst_ip: str, port: int, protocol: str, from_pod: bool):
    """kube-proxy's nat table on the source node for the first packet of the connection."""
    hook = "PREROUTING" if from_pod else "OUTPUT"
    return agents.kube_proxy.walk(dst_ip, port, protocol, src_ip=src_ip, hook=hook)


def nat_chains(walk) -> list[str]:
    """The nat chains the packet went through up to the DNAT (or the whole walk when nothing matched)."""
    chains = list(walk.chains)
    if walk.sep_chain in chains:
        return chains[: chains.index(walk.sep_chain) + 1]
    nat = {s.chain for s in walk.steps if s.table == "nat"}
    return [c for c in chains if c in nat]


class _View:
    """What the data path reads: running pods by IP, namespaces, policies, node networking."""

    def __init__(self, cluster) -> None:
        # the agents on the nodes (kube-proxy, flannel, the policy agent) hold these objects from their informers;
        # the walk reads the same objects from the API server's watch cache, read-only, without new requests
        cache = cluster.apiserver.cache
        self.cluster = cluster
        self.pods = [p for p in cache.get("pods", {}).values() if (p.get("status") or {}).get("phase") == "Running"]
        self.by_ip = {p["status"]["podIP"]: p for p in self.pods
                      if p["status"].get("podIP") and not p["spec"].get("hostNetwork")}
        self.ns_labels = {n["metadata"]["name"]: n["metadata"].get("labels") or {}
                          for n in cache.get("namespaces", {}).values()}
        self.policies = list(cache.get("networkpolicies", {}).values())
        self.nets = {n.name: n for n in cluster._node_nets()}
        self._routes: dict[str, list] = {}

    def endpoint(self, ip: str) -> Endpoint:
        pod = self.by_ip.get(ip)
        ns = pod["metadata"].get("namespace", "default") if pod else None
        return Endpoint(ip, pod, self.ns_labels.get(ns) if pod else None)

    def routes(self, node: str) -> list:
        if node not in self._routes:
            self._routes[node] = netmodel.node_routes(self.nets[node], list(self.nets.values()),
                                                      self.cluster.pod_network,
                                                      bridge_up=self.cluster.node(node).cni.bridge_up)
        return self._routes[node]

    def node_of_ip(self, ip: str) -> str | None:
        return next((n.name for n in self.nets.values() if n.ip == ip), None)


def source_address(view: "_View", node: str, dst_ip: str) -> tuple[str, str]:
    """The address a packet from ``node`` to ``dst_ip`` leaves with: the route's ``src``, else the outgoing
    device's address (flannel.1 holds the podCIDR's network address), else the node's IP."""
    route = netmodel.lookup(view.routes(node), dst_ip)
    if route.src:
        return route.src, f"{route.dev}'s address"
    if route.dev == netmodel.VXLAN_DEVICE:
        return view.nets[node].vtep_ip, f"{netmodel.VXLAN_DEVICE}'s address"
    return view.nets[node].ip, "eth0's address"


def _cluster_dns(pod: dict) -> bool:
    """Whether the kubelet points the pod at the cluster DNS (pkg/kubelet/network/dns: ClusterFirst, except with
    hostNetwork, where it falls back to Default; ClusterFirstWithHostNet)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy == "ClusterFirstWithHostNet":
        return True
    return policy == "ClusterFirst" and not spec.get("hostNetwork")


def _pod_name(pod: dict) -> str:
    return f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"


def find_pod(cluster, ref: str, namespace: str = "default") -> dict:
    ns, _, name = ref.rpartition("/")
    ns = ns or namespace
    pod = cluster.apiserver.storage_get("pods", ns, name)
    if pod is None:
        raise errors.new_not_found("pods", name)
    return pod


def pod_resolv_conf(cluster, ref: str, namespace: str = "default") -> str:
    """The pod's /etc/resolv.conf as containerd writes it from the DNSConfig the kubelet put in the sandbox config
    (containerd internal/cri/server/sandbox_run.go parseDNSOptions: search, nameserver, options)."""
    pod = find_pod(cluster, ref, namespace)
    runtime = cluster.node(pod["spec"]["nodeName"]).runtime
    uid = pod["metadata"]["uid"]
    sb = next((b for b in runtime.sandboxes.values() if b.config["metadata"].get("uid") == uid), None)
    if sb is None:
        raise ValueError(f'pod "{_pod_name(pod)}" has no sandbox yet')
    dns = sb.config.get("dnsConfig") or {}
    if not dns.get("servers"):
        return "# dnsPolicy Default: the node's own /etc/resolv.conf\n"
    out = ""
    if dns.get("searches"):
        out += "search " + " ".join(dns["searches"]) + "\n"
    out += "nameserver " + "\nnameserver ".join(dns["servers"]) + "\n"
    if dns.get("options"):
        out += "options " + " ".join(dns["options"]) + "\n"
    return out


def _policy_hops(path: NetPath, view: _View, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool:
    verdicts = evaluate(view.policies, src, dst, port, protocol)
    path.policy += verdicts
    for v in verdicts:
        where = v.pod
        path.add(where, "policy", str(v))
        if not v.allowed:
            return False
    return True


def _leave_pod(path: NetPath, view: _View, cluster, node: str, src_ip: str, dst_ip: str, bridged: bool) -> None:
    """The packet leaves the pod: its eth0, the veth pair, the cni0 bridge."""
    veth = cluster.node(node).cni.veth_of(src_ip)
    cidr = view.nets[node].pod_cidr
    path.devices += [(node, veth), (node, "cni0")]
    if bridged:
        path.add(node, "veth", f"pod: {cidr} dev eth0 is on-link, ARP for {dst_ip}; out through eth0 -> host side "
                               f"{veth}")
        path.add(node, "bridge", f"cni0 switches the frame from {veth} towards {dst_ip}'s veth (layer 2; "
                                 "br_netfilter still passes it through iptables)")
    else:
        path.add(node, "veth", f"pod: default via {netmodel.gateway_of(cidr)} dev eth0; out through eth0 -> host "
                               f"side {veth}")
        path.add(node, "bridge", f"{veth} is a port of cni0; the frame is for cni0's MAC, so it goes up to the "
                                 "host's IP layer")


def _route_hops(path: NetPath, view: _View, src_node: str, dst_ip: str) -> str | None:
    """The source node's route lookup; returns the node that owns ``dst_ip`` (None: outside the cluster)."""
    route = netmodel.lookup(view.routes(src_node), dst_ip)
    path.add(src_node, "route", f"ip route get {dst_ip}: {route}")
    if route.dev == "cni0":
        return src_node
    if route.dev == netmodel.VXLAN_DEVICE:
        return next(n.name for n in view.nets.values() if n.vtep_ip == route.via)
    if route.via and route.dst != "default":
        return view.node_of_ip(route.via)
    if route.dst == "default":
        path.add(src_node, "route", f"leaves the cluster through {route.via}: outside the simulation")
        return None
    return view.node_of_ip(dst_ip)


def _overlay_hops(path: NetPath, view: _View, src_node: str, dst_node: str, dst_ip: str) -> None:
    """flannel.1 wraps the packet in VXLAN from node IP to node IP; the other node unwraps it."""
    me, other = view.nets[src_node], view.nets[dst_node]
    path.add(src_node, "overlay", f"{netmodel.VXLAN_DEVICE}: neighbour {other.vtep_ip} lladdr {other.vtep_mac}, "
                                  f"fdb dst {other.ip}: VXLAN VNI {netmodel.VXLAN_VNI} in UDP "
                                  f"{me.ip} -> {other.ip}:{netmodel.VXLAN_PORT}")
    path.add(src_node, "route", f"outer packet: {netmodel.lookup(view.routes(src_node), other.ip)}")
    path.add(dst_node, "overlay", f"eth0 UDP :{netmodel.VXLAN_PORT} -> {netmodel.VXLAN_DEVICE} decapsulates the "
                                  f"inner packet to {dst_ip}")
    path.devices += [(src_node, netmodel.VXLAN_DEVICE), (src_node, "eth0"), (dst_node, "eth0"),
                     (dst_node, netmodel.VXLAN_DEVICE)]


def trace(cluster, dst: str, port: int = 80, from_pod: str | None = None, from_node: str | None = None,
          protocol: str = "TCP", namespace: str = "default") -> NetPath:
    """Walk one new connection to ``dst`` (a name or an IP) from a pod (or a process on a node)."""
    protocol = protocol.upper()
    view = _View(cluster)
    if from_pod is not None:
        pod = find_pod(cluster, from_pod, namespace)
        if (pod.get("status") or {}).get("phase") != "Running" or not pod["status"].get("podIP"):
            raise ValueError(f'pod "{_pod_name(pod)}" is not running with an IP')
        src_node, src_ip = pod["spec"]["nodeName"], pod["status"]["podIP"]
        src_ns = pod["metadata"].get("namespace", "default")
        src_is_pod = not pod["spec"].get("hostNetwork")
        src_name = _pod_name(pod)
    else:
        src_node = from_node or next(n for n in cluster.nodes if cluster.node(n).role == "worker")
        src_ip, src_ns, src_is_pod, src_name = cluster.node(src_node).ip, namespace, False, src_node
    agents = cluster.node(src_node)
    src = view.endpoint(src_ip) if src_is_pod else Endpoint(src_ip, node=src_node)
    path = NetPath(src_name, dst, port, protocol)
    try:
        ipaddress.ip_address(dst)
        ip = dst
    except ValueError:
        if from_pod is not None and not _cluster_dns(pod):
            path.add(src_name, "dns", f"dnsPolicy {pod['spec'].get('dnsPolicy', 'ClusterFirst')}"
                                      f"{' with hostNetwork' if pod['spec'].get('hostNetwork') else ''}: the pod "
                                      "uses the node's /etc/resolv.conf, whose resolver knows no cluster names")
            path.status = f"could not resolve host: {dst}"
            return path
        conf = resolv_conf(src_ns, cluster.dns_ip)
        path.add(src_name, "dns", "resolv.conf: " + "; ".join(conf.strip().splitlines()))
        dwalk = dnat(agents, src_ip, cluster.dns_ip, 53, "UDP", src_is_pod)
        target = dwalk.endpoint.rpartition(":")[0] if dwalk.endpoint else None
        path.add(src_node, "nat", f"{cluster.dns_ip}:53/UDP -> DNAT to {dwalk.endpoint}" if target
                 else f"{cluster.dns_ip}:53/UDP: {dwalk.verdict} (kube-dns has no endpoints)")
        if target is None:
            path.status = f"could not resolve host: {dst} (no DNS server reachable)"
            return path
        if not _policy_hops(path, view, src, view.endpoint(target), 53, "UDP"):
            path.status = f"could not resolve host: {dst} (DNS query timed out: blocked by NetworkPolicy)"
            return path
        lookup = cluster.dns.resolve(dst, "A", src_ns)
        path.lookup = lookup
        for q in lookup.queries:
            path.add("coredns", "dns", f"{q.name}. A? {q.rcode}"
                     + (f" {', '.join(r.value for r in q.answers)}" if q.answers else ""))
        if not lookup.addresses:
            path.status = f"could not resolve host: {dst}"
            return path
        ip = lookup.addresses[0]
    if src_is_pod and ip == src_ip:
        path.add(src_name, "deliver", f"{ip} is the pod's own address: the local table sends it over lo, inside the "
                                      "pod's network namespace (no veth, no policy)")
        path.status, path.ok, path.pod, path.node = "connected", True, src_name, src_node
        path.endpoint = f"{ip}:{port}"
        return path
    walk = dnat(agents, src_ip, ip, port, protocol, src_is_pod)
    path.walk = walk
    target_ip, _, tport = (walk.endpoint or f"{ip}:{port}").rpartition(":")
    # the pod's own routing decision uses the address it sent to: its podCIDR is on-link (bridged at layer 2),
    # anything else goes to the default gateway, cni0, and up to the host's IP layer
    own_cidr = view.nets[src_node].pod_cidr if src_is_pod else None
    bridged = bool(own_cidr) and ipaddress.ip_address(ip) in netmodel.network_of(own_cidr)
    if src_is_pod:
        _leave_pod(path, view, cluster, src_node, src_ip, ip, bridged)
    chains = " -> ".join(nat_chains(walk))
    hook = "PREROUTING" if src_is_pod else "OUTPUT"
    if walk.endpoint and getattr(cluster, "proxy_mode", "iptables") == "ipvs":
        path.add(src_node, "nat", f"IPVS ({cluster.ipvs_scheduler}): {ip} is on kube-ipvs0, so the packet is local; "
                                  f"virtual server {ip}:{port} {protocol} -> real server {walk.endpoint}")
    elif walk.endpoint:
        path.add(src_node, "nat", f"nat {hook}: {chains}: DNAT {ip}:{port} -> {walk.endpoint}")
    elif walk.rejected:
        path.add(src_node, "nat", f"{chains}: REJECT (Service has no endpoints)")
        path.status = "connection refused (service has no endpoints)"
        return path
    else:
        path.add(src_node, "nat", f"nat {hook}: no Service matches {ip}:{port}; the destination is unchanged")
    path.endpoint = f"{target_ip}:{tport}"
    dst_end = view.endpoint(target_ip)
    if not src_is_pod and not walk.endpoint or walk.masqueraded:
        # the kernel picks the source address from the outgoing route (or MASQUERADE does, after DNAT)
        addr, why = source_address(view, src_node, target_ip)
        if addr != src.ip:
            what = "MASQUERADE in KUBE-POSTROUTING" if walk.masqueraded else "source address selection"
            path.add(src_node, "nat", f"{what}: source {src.ip} -> {addr} ({why})")
            src = Endpoint(addr, node=src_node)
    # the policy plugin filters on the forward path, after the DNAT: egress at the source, ingress at the
    # destination, both on the pod IP and target port
    verdicts = evaluate(view.policies, src, dst_end, int(tport), protocol)
    egress = [v for v in verdicts if v.direction == "Egress"]
    ingress = [v for v in verdicts if v.direction == "Ingress"]
    if bridged and dst_end.pod is not None and target_ip == ip:
        dst_node = src_node  # bridged straight from veth to veth: no host route
    else:
        dst_node = _route_hops(path, view, src_node, target_ip)
    for v in egress:
        path.policy.append(v)
        path.add(v.pod, "policy", str(v))
        if not v.allowed:
            path.status = "connection timed out (dropped by NetworkPolicy egress)"
            return path
    if dst_node is not None and dst_node != src_node and view.cluster.pod_network == "vxlan":
        _overlay_hops(path, view, src_node, dst_node, target_ip)
    elif dst_node is not None and dst_node != src_node:
        path.add(dst_node, "route", f"arrives on eth0 from {view.nets[src_node].ip}, unencapsulated (host-gw)")
        path.devices += [(src_node, "eth0"), (dst_node, "eth0")]
    if dst_node is not None and dst_node != src_node:
        path.add(dst_node, "route", f"ip route get {target_ip}: {netmodel.lookup(view.routes(dst_node), target_ip)}")
    if dst_node is None or dst_end.pod is None:
        owner = view.node_of_ip(target_ip)
        if owner:
            path.add(owner, "deliver", f"{target_ip} is the node itself: delivered to the host")
            path.status, path.ok, path.node = "connected", True, owner
        else:
            path.status = f"no route to host {target_ip}"
        return path
    veth = cluster.node(dst_node).cni.veth_of(target_ip)
    if not (bridged and dst_node == src_node and target_ip == ip):
        path.add(dst_node, "bridge", f"cni0 forwards to port {veth} (the bridge's FDB knows the pod's MAC)")
    path.devices += [(dst_node, "cni0"), (dst_node, veth)]
    for v in ingress:
        path.policy.append(v)
        path.add(v.pod, "policy", str(v))
        if not v.allowed:
            path.status = "connection timed out (dropped by NetworkPolicy ingress)"
            return path
    path.add(_pod_name(dst_end.pod), "deliver", f"{veth} -> pod eth0 {target_ip}:{tport}/{protocol}")
    reply = f"reply {target_ip}:{tport} -> {src.ip}: conntrack ESTABLISHED"
    if walk.endpoint:
        reply += f", source rewritten back to {ip}:{port} on {src_node}"
    path.add(_pod_name(dst_end.pod), "reply", reply + "; policy lets replies of allowed connections through")
    path.status, path.ok = "connected", True
    path.pod, path.node = _pod_name(dst_end.pod), dst_node
    return path
