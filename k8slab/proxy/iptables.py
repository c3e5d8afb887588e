"""Mirrors: pkg/proxy/iptables/proxier.go, pkg/proxy/service.go, pkg/proxy/servicechangetracker.go,
pkg/proxy/endpoint.go, pkg/proxy/endpointschangetracker.go, pkg/proxy/endpointslicecache.go,
pkg/proxy/topology.go, pkg/proxy/util, pkg/api/v1/service/util.go

kube-proxy in iptables mode. kube-proxy watches Services and EndpointSlices; it never forwards a packet itself.
Instead it writes netfilter rules and the kernel rewrites the destination of the first packet of each new
connection (DNAT) to one backend pod:

    PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC-<hash> -> KUBE-SEP-<hash> -> DNAT to pod IP:port

``Proxier`` keeps the same state as upstream: a service-port map and an endpoints map, fed by change trackers
(``on_service_update`` / ``on_endpoint_slice_update``). ``sync_proxy_rules()`` writes the rules the way
``syncProxyRules`` does, chain by chain, with the same chain names, comments and order. Like upstream it does
*partial syncs*: the per-service chains (KUBE-SVC/SVL/EXT/FW/SEP) are only rewritten for services whose Service or
EndpointSlices changed since the last sync; the top-level chains are rewritten every time. The per-service chunks
are kept between syncs, so a partial sync only visits the changed services, and ``restore_data()`` assembles the
iptables-restore payload from them.

``iptables_save()`` prints the kernel tables in ``iptables-save`` layout. The rule text is the text kube-proxy
feeds to ``iptables-restore`` (what upstream's unit tests compare). A real ``iptables-save`` prints the same rules
normalised by the kernel: ``-d 10.96.0.1/32``, ``-p tcp`` moved to the front, and the probability rounded to the
kernel's 31-bit fixed point and printed with 11 decimals (``0.33333333349`` for kube-proxy's ``0.3333333333``).

``walk()`` sends one packet (the first of a connection) through the tables rule by rule, drawing the
``-m statistic --mode random`` matches from a ``random.Random`` and keeping the ``-m recent`` tables used by
ClientIP session affinity, so a learner can see exactly which rules a packet meets and why.

Sharing between nodes. Every node of a real cluster runs its own kube-proxy, which parses every Service and
EndpointSlice and computes its own rules. A simulated cluster with 100 nodes would do all that work 100 times over
the very same objects, so it may hand its Proxiers one ``SharedRuleCache``. That is a property of the simulation
only: the cache remembers parsed objects (keyed by namespace, name, uid and resourceVersion) and the lines written
for one service port, keyed by everything those lines depend on (the port, its endpoints, and this node's settings:
cluster CIDR, masquerade mark and masquerade-all, NodePort addresses, nfacct, large-cluster mode; which endpoints
are local only for services with a Local traffic policy; the node IP only for loadBalancerSourceRanges). An
EndpointSlice event reaches every node with the very same objects: it is digested once for all of them, and a
node's own work per event is to store the parsed slice and mark its Service changed (its own endpoints are picked
out at sync time). Each node gets exactly the rules it would compute alone; without a cache (the default) each
Proxier computes everything.

Not modelled: IPv6 / dual stack, topology-aware routing hints (all ready endpoints are used), healthcheck
servers, conntrack cleanup, and the delayed stale-chain cleanup of large clusters (stale chains are deleted on
every sync).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import ipaddress
import itertools
import operator
import random
import shlex
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import NamedTuple, Optional

from .conntrack import Conntrack
from .trace import PacketTrace

__all__ = [
    "ServicePortName", "ServicePortInfo", "EndpointInfo", "Rule", "Step", "Walk", "Proxier",
    "port_proto_hash", "service_port_policy_cluster_chain", "service_port_policy_local_chain_name",
    "service_firewall_chain_name", "service_external_chain_name", "service_port_external_chain_name",
    "service_port_endpoint_chain_name", "compute_probability", "categorize_endpoints",
    "IPTABLES_JUMP_CHAINS", "IPTABLES_KUBELET_JUMP_CHAINS", "SharedRuleCache", "ParsedEndpointSlice",
    "parse_endpoint_slice", "endpoint_slice_event", "ServiceEndpoints", "build_service_endpoints",
]

# --- constants (pkg/proxy/iptables/proxier.go) -------------------------------------------------------------------

KUBE_SERVICES_CHAIN = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES_CHAIN = "KUBE-EXTERNAL-SERVICES"
KUBE_NODE_PORTS_CHAIN = "KUBE-NODEPORTS"
KUBE_POSTROUTING_CHAIN = "KUBE-POSTROUTING"
KUBE_MARK_MASQ_CHAIN = "KUBE-MARK-MASQ"
KUBE_FORWARD_CHAIN = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL_CHAIN = "KUBE-PROXY-FIREWALL"
KUBE_PROXY_CANARY_CHAIN = "KUBE-PROXY-CANARY"
KUBELET_FIREWALL_CHAIN = "KUBE-FIREWALL"

# Above this many endpoints kube-proxy drops the per-endpoint comments ("large cluster mode").
LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000
# v1.DefaultClientIPServiceAffinitySeconds (3 hours).
DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 10800
# proxyutil.FullSyncPeriod: a full resync at least once an hour.
FULL_SYNC_PERIOD_MS = 3600 * 1000
# metrics.IPTablesCTStateInvalidDroppedNFAcctCounter / LocalhostNodePortAcceptedNFAcctCounter
CT_STATE_INVALID_DROPPED_NFACCT = "ct_state_invalid_dropped_pkts"
LOCALHOST_NODEPORT_ACCEPTED_NFACCT = "localhost_nps_accepted_pkts"

SERVICE_PORT_POLICY_CLUSTER_CHAIN_NAME_PREFIX = "KUBE-SVC-"
SERVICE_PORT_POLICY_LOCAL_CHAIN_NAME_PREFIX = "KUBE-SVL-"
SERVICE_FIREWALL_CHAIN_NAME_PREFIX = "KUBE-FW-"
SERVICE_EXTERNAL_CHAIN_NAME_PREFIX = "KUBE-EXT-"
SERVICE_PORT_ENDPOINT_CHAIN_NAME_PREFIX = "KUBE-SEP-"

# iptablesJumpChains: (table, dstChain, srcChain, comment, extraArgs). Each is ensured with a *prepend*.
IPTABLES_JUMP_CHAINS = (
    ("filter", KUBE_EXTERNAL_SERVICES_CHAIN, "INPUT", "kubernetes externally-visible service portals",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_EXTERNAL_SERVICES_CHAIN, "FORWARD", "kubernetes externally-visible service portals",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_NODE_PORTS_CHAIN, "INPUT", "kubernetes health check service ports", ()),
    ("filter", KUBE_SERVICES_CHAIN, "FORWARD", "kubernetes service portals", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_SERVICES_CHAIN, "OUTPUT", "kubernetes service portals", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_FORWARD_CHAIN, "FORWARD", "kubernetes forwarding rules", ()),
    ("filter", KUBE_PROXY_FIREWALL_CHAIN, "INPUT", "kubernetes load balancer firewall",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_PROXY_FIREWALL_CHAIN, "OUTPUT", "kubernetes load balancer firewall",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_PROXY_FIREWALL_CHAIN, "FORWARD", "kubernetes load balancer firewall",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("nat", KUBE_SERVICES_CHAIN, "OUTPUT", "kubernetes service portals", ()),
    ("nat", KUBE_SERVICES_CHAIN, "PREROUTING", "kubernetes service portals", ()),
    ("nat", KUBE_POSTROUTING_CHAIN, "POSTROUTING", "kubernetes postrouting rules", ()),
)
# Duplicates of the chains kubelet creates (pkg/kubelet/kubelet_network_linux.go); kube-proxy ensures them too.
IPTABLES_KUBELET_JUMP_CHAINS = (
    ("filter", KUBELET_FIREWALL_CHAIN, "INPUT", "", ()),
    ("filter", KUBELET_FIREWALL_CHAIN, "OUTPUT", "", ()),
)

# Built-in chains per table, in the order iptables-save prints them.
BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}
TABLES = ("filter", "nat", "mangle")


# --- names and hashes -------------------------------------------------------------------------------------------

class ServicePortName(NamedTuple):
    """pkg/proxy ServicePortName: a Service's namespace/name plus one port name (and its protocol).

    ``str()`` gives "ns/name:port", or "ns/name" when the port has no name; the protocol is not part of it."""
    namespace: str
    name: str
    port: str = ""
    protocol: str = "TCP"

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base

    @property
    def namespaced_name(self) -> str:
        return f"{self.namespace}/{self.name}"


_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 (Go's base32.StdEncoding)
_B32_PAIRS = [a + b for a in _B32_ALPHABET for b in _B32_ALPHABET]  # 10 bits -> 2 characters


def _hash16(text: str) -> str:
    """base32.StdEncoding.EncodeToString(sha256(text))[:16]: 16 characters encode the first 80 bits (10 bytes)."""
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    pairs = _B32_PAIRS
    return (pairs[n >> 70] + pairs[(n >> 60) & 1023] + pairs[(n >> 50) & 1023] + pairs[(n >> 40) & 1023]
            + pairs[(n >> 30) & 1023] + pairs[(n >> 20) & 1023] + pairs[(n >> 10) & 1023] + pairs[n & 1023])


def port_proto_hash(service_port_name, protocol: str) -> str:
    """base32(sha256(servicePortName + protocol))[:16]. kube-proxy passes the protocol lower-cased ("tcp")."""
    return _hash16(str(service_port_name) + protocol)


def service_port_policy_cluster_chain(service_port_name, protocol: str) -> str:
    """KUBE-SVC-XXXX: the service's chain for "Cluster" traffic policy (all usable endpoints)."""
    return SERVICE_PORT_POLICY_CLUSTER_CHAIN_NAME_PREFIX + port_proto_hash(service_port_name, protocol)


def service_port_policy_local_chain_name(service_port_name, protocol: str) -> str:
    """KUBE-SVL-XXXX: only this node's endpoints, used by "Local" internal or external traffic policy."""
    return SERVICE_PORT_POLICY_LOCAL_CHAIN_NAME_PREFIX + port_proto_hash(service_port_name, protocol)


def service_firewall_chain_name(service_port_name, protocol: str) -> str:
    """KUBE-FW-XXXX: implements spec.loadBalancerSourceRanges."""
    return SERVICE_FIREWALL_CHAIN_NAME_PREFIX + port_proto_hash(service_port_name, protocol)


def service_external_chain_name(service_port_name, protocol: str) -> str:
    """KUBE-EXT-XXXX: traffic to NodePorts, external IPs and load-balancer IPs."""
    return SERVICE_EXTERNAL_CHAIN_NAME_PREFIX + port_proto_hash(service_port_name, protocol)


# The brief-friendly alias; upstream calls it serviceExternalChainName.
service_port_external_chain_name = service_external_chain_name


def service_port_endpoint_chain_name(service_port_name, protocol: str, endpoint: str) -> str:
    """KUBE-SEP-XXXX for one endpoint "IP:port" of one service port."""
    return SERVICE_PORT_ENDPOINT_CHAIN_NAME_PREFIX + _hash16(str(service_port_name) + protocol + endpoint)


def is_service_chain_name(chain: str) -> bool:
    return chain.startswith((SERVICE_PORT_POLICY_CLUSTER_CHAIN_NAME_PREFIX, SERVICE_PORT_POLICY_LOCAL_CHAIN_NAME_PREFIX,
                             SERVICE_PORT_ENDPOINT_CHAIN_NAME_PREFIX, SERVICE_FIREWALL_CHAIN_NAME_PREFIX,
                             SERVICE_EXTERNAL_CHAIN_NAME_PREFIX))


def compute_probability(n: int) -> str:
    """fmt.Sprintf("%0.10f", 1.0/float64(n)): the --probability text of a rule that picks 1 of n endpoints."""
    return f"{1.0 / n:0.10f}"


# --- service and endpoint info (pkg/proxy/service.go, endpoint.go) ------------------------------------------------

@dataclass(frozen=True)
class ServicePortInfo:
    """What kube-proxy keeps about one port of one Service (BaseServicePortInfo + the iptables chain names)."""
    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str
    node_port: int = 0
    load_balancer_vips: tuple = ()
    session_affinity_type: str = "None"
    sticky_max_age_seconds: int = 0
    external_ips: tuple = ()
    load_balancer_source_ranges: tuple = ()
    health_check_node_port: int = 0
    external_policy_local: bool = False
    internal_policy_local: bool = False

    def __hash__(self) -> int:
        # the dataclass hash of all the fields, computed once: a ServicePortInfo is part of the shared rules-cache
        # key that every node looks up at every sync of its Service
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def name_string(self) -> str:
        return str(self.name)

    @property
    def _proto(self) -> str:
        return self.protocol.lower()

    @cached_property
    def cluster_policy_chain_name(self) -> str:
        return service_port_policy_cluster_chain(self.name_string, self._proto)

    @cached_property
    def local_policy_chain_name(self) -> str:
        return service_port_policy_local_chain_name(self.name_string, self._proto)

    @cached_property
    def firewall_chain_name(self) -> str:
        return service_firewall_chain_name(self.name_string, self._proto)

    @cached_property
    def external_chain_name(self) -> str:
        return service_external_chain_name(self.name_string, self._proto)

    def externally_accessible(self) -> bool:
        return self.node_port != 0 or bool(self.load_balancer_vips) or bool(self.external_ips)

    def uses_cluster_endpoints(self) -> bool:
        # Even with externalTrafficPolicy Local, Cluster endpoints are needed to short-circuit local traffic.
        return not self.internal_policy_local or self.externally_accessible()

    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.external_policy_local and self.externally_accessible())


class EndpointInfo(NamedTuple):
    """One endpoint of one service port (BaseEndpointInfo + its KUBE-SEP chain)."""
    ip: str
    port: int
    is_local: bool
    ready: bool
    serving: bool
    terminating: bool
    zone: str = ""
    chain_name: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"


_IS_LOCAL = operator.attrgetter("is_local")


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def _externally_accessible(spec: dict) -> bool:
    # pkg/api/v1/service/util.go ExternallyAccessible
    t = spec.get("type") or "ClusterIP"
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def _external_policy_local(spec: dict) -> bool:
    return _externally_accessible(spec) and spec.get("externalTrafficPolicy") == "Local"


def _internal_policy_local(spec: dict) -> bool:
    return spec.get("internalTrafficPolicy") == "Local"


def service_to_service_map(service: Optional[dict]) -> dict:
    """serviceToServiceMap: one ServicePortInfo per port of an IPv4 Service that has a cluster IP."""
    if not service:
        return {}
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    # ShouldSkipService: headless ("None"), no cluster IP, or ExternalName.
    if spec.get("type") == "ExternalName":
        return {}
    cluster_ips = list(spec.get("clusterIPs") or []) or [spec.get("clusterIP") or ""]
    cluster_ip = next((ip for ip in cluster_ips if _is_ipv4(ip)), "")
    if not cluster_ip:
        return {}
    ns, name = meta.get("namespace") or "default", meta["name"]
    external_policy_local = _external_policy_local(spec)
    sticky = 0
    affinity = spec.get("sessionAffinity") or "None"
    if affinity == "ClientIP":
        sticky = (((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
                  or DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS)
    external_ips = tuple(ip for ip in spec.get("externalIPs") or () if _is_ipv4(ip))
    ranges = []
    for cidr in spec.get("loadBalancerSourceRanges") or ():
        try:  # upstream trims whitespace and ignores what does not parse
            net = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            ranges.append(str(net))
    vips = []
    for ing in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ():
        ip = ing.get("ip") or ""
        if not ip or ing.get("ipMode", "VIP") not in (None, "VIP"):
            continue  # Proxy-mode load balancers are not captured by kube-proxy
        if _is_ipv4(ip):
            vips.append(ip)
    health_check = 0
    if (spec.get("type") == "LoadBalancer") and external_policy_local:
        health_check = int(spec.get("healthCheckNodePort") or 0)
    result = {}
    for port in spec.get("ports") or ():
        spn = ServicePortName(ns, name, port.get("name") or "", port.get("protocol") or "TCP")
        result[spn] = ServicePortInfo(
            name=spn, cluster_ip=cluster_ip, port=int(port["port"]), protocol=spn.protocol,
            node_port=int(port.get("nodePort") or 0), load_balancer_vips=tuple(vips),
            session_affinity_type=affinity, sticky_max_age_seconds=int(sticky), external_ips=external_ips,
            load_balancer_source_ranges=tuple(ranges), health_check_node_port=health_check,
            external_policy_local=external_policy_local, internal_policy_local=_internal_policy_local(spec))
    return result


def categorize_endpoints(endpoints, svc: ServicePortInfo):
    """pkg/proxy/topology.go CategorizeEndpoints (without topology hints).

    Returns (cluster_endpoints, local_endpoints, all_reachable_endpoints, has_any_endpoints). Ready endpoints are
    used; only when none is ready, endpoints that are serving *and* terminating are used instead."""
    cluster, local, has_any = [], [], False
    if svc.uses_cluster_endpoints():
        cluster = [ep for ep in endpoints if ep.ready]
        if not cluster:
            cluster = [ep for ep in endpoints if ep.serving and ep.terminating]
        has_any = bool(cluster)
    if not svc.uses_local_endpoints():
        return cluster, local, cluster, has_any
    local_ready = local_serving_terminating = False
    for ep in endpoints:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local
        elif ep.serving and ep.terminating:
            has_any = True
            local_serving_terminating = local_serving_terminating or ep.is_local
    if local_ready:
        local = [ep for ep in endpoints if ep.is_local and ep.ready]
    elif local_serving_terminating:
        local = [ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating]
    if not svc.uses_cluster_endpoints():
        return cluster, local, local, has_any
    if not local:
        reachable = cluster
    elif not cluster:
        reachable = local
    else:  # union, keyed by "ip:port" (upstream builds it from a map; we keep it sorted)
        merged = {str(ep): ep for ep in cluster}
        merged.update({str(ep): ep for ep in local})
        reachable = [merged[k] for k in sorted(merged)]
    return cluster, local, reachable, has_any


# --- rules ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One parsed rule: the matches and the target of a ``-A CHAIN ...`` line."""
    table: str
    chain: str
    text: str
    src: Optional[str] = None
    src_negated: bool = False
    dst: Optional[str] = None
    dst_negated: bool = False
    proto: Optional[str] = None
    dport: Optional[int] = None
    comment: Optional[str] = None
    probability: Optional[str] = None
    recent: Optional[dict] = None          # {"name", "mode": "set"|"rcheck", "seconds", "reap"}
    src_type: Optional[str] = None         # -m addrtype [!] --src-type
    src_type_negated: bool = False
    dst_type: Optional[str] = None         # -m addrtype --dst-type
    mark: Optional[str] = None             # -m mark [!] --mark value/mask
    mark_negated: bool = False
    ctstate: Optional[str] = None          # -m conntrack [!] --ctstate
    ctstate_negated: bool = False
    nfacct: Optional[str] = None
    target: Optional[str] = None           # -j TARGET (a chain or ACCEPT/DROP/REJECT/DNAT/MARK/...)
    dnat_to: Optional[str] = None
    target_args: tuple = ()
    match_set: Optional[tuple] = None      # -m set [!] --match-set NAME FLAGS: (name, "dst,dst"), IPVS mode
    match_set_negated: bool = False
    physdev_is_in_negated: Optional[bool] = None   # -m physdev [!] --physdev-is-in
    ipvs_vaddr: Optional[tuple] = None     # -m ipvs --vaddr IP --vproto P --vport N: (ip, proto, port)

    @property
    def jump(self) -> Optional[str]:
        return self.target

    @property
    def body(self) -> str:
        """The rule without its leading ``-A CHAIN``."""
        parts = self.text.split(" ", 2)
        return parts[2] if len(parts) > 2 else ""


def parse_rule(table: str, line: str) -> Rule:
    """Parse a ``-A CHAIN ...`` line as kube-proxy writes it."""
    tok = shlex.split(line)
    if len(tok) < 2 or tok[0] != "-A":
        raise ValueError(f"not an append rule: {line!r}")
    kw: dict = {"table": table, "chain": tok[1], "text": line}
    recent: dict = {}
    neg = False
    target_args: list = []
    i = 2
    while i < len(tok):
        t = tok[i]
        nxt = tok[i + 1] if i + 1 < len(tok) else None
        if "target" in kw:
            if t == "--to-destination":
                kw["dnat_to"] = nxt
            target_args.append(t)
            i += 1
            continue
        if t == "!":
            neg = True
            i += 1
            continue
        step = 2
        if t == "-m":
            pass
        elif t == "-s":
            kw["src"], kw["src_negated"] = nxt, neg
        elif t == "-d":
            kw["dst"], kw["dst_negated"] = nxt, neg
        elif t == "-p":
            kw["proto"] = nxt
        elif t == "--dport":
            kw["dport"] = int(nxt)
        elif t == "--comment":
            kw["comment"] = nxt
        elif t == "--probability":
            kw["probability"] = nxt
        elif t == "--mode":
            pass
        elif t == "--name":
            recent["name"] = nxt
        elif t in ("--set", "--rcheck"):
            recent["mode"] = t[2:]
            step = 1
        elif t == "--reap":
            recent["reap"] = True
            step = 1
        elif t == "--seconds":
            recent["seconds"] = int(nxt)
        elif t == "--src-type":
            kw["src_type"], kw["src_type_negated"] = nxt, neg
        elif t == "--dst-type":
            kw["dst_type"] = nxt
        elif t == "--mark":
            kw["mark"], kw["mark_negated"] = nxt, neg
        elif t == "--ctstate":
            kw["ctstate"], kw["ctstate_negated"] = nxt, neg
        elif t == "--nfacct-name":
            kw["nfacct"] = nxt
        elif t == "--match-set":
            kw["match_set"], kw["match_set_negated"] = (nxt, tok[i + 2]), neg
            step = 3
        elif t == "--physdev-is-in":
            kw["physdev_is_in_negated"] = neg
            step = 1
        elif t == "--vaddr":
            kw["ipvs_vaddr"] = (nxt, tok[i + 3].upper(), int(tok[i + 5]))
            step = 6
        elif t == "-j":
            kw["target"] = nxt
        else:
            raise ValueError(f"unknown iptables option {t!r} in {line!r}")
        neg = False
        i += step
    if recent:
        recent.setdefault("seconds", None)
        recent.setdefault("reap", False)
        kw["recent"] = recent
    kw["target_args"] = tuple(a for a in target_args if a != "--to-destination" and a != kw.get("dnat_to"))
    return Rule(**kw)


# --- walk results -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One rule a packet met: unpacks as ``(chain, rule, matched)``; ``table`` tells nat from filter."""
    chain: str
    rule: str
    matched: bool
    table: str = "nat"

    def __iter__(self):
        return iter((self.chain, self.rule, self.matched))


@dataclass
class Walk:
    """The journey of the first packet of a connection through the node's tables."""
    src_ip: str
    dst: str
    protocol: str
    hook: str
    endpoint: Optional[str] = None        # "ip:port" chosen by DNAT, or None
    sep_chain: Optional[str] = None       # the KUBE-SEP chain that did the DNAT
    verdict: str = "ACCEPT"               # DNAT (to endpoint), REJECT, DROP or ACCEPT (no service matched)
    masqueraded: bool = False             # source NAT applied in KUBE-POSTROUTING
    chains: list = field(default_factory=list)   # chains entered, in order
    steps: list = field(default_factory=list)    # Step per rule evaluated, in order

    @property
    def rejected(self) -> bool:
        return self.verdict == "REJECT"

    @property
    def dropped(self) -> bool:
        return self.verdict == "DROP"

    @property
    def rules_evaluated(self) -> int:
        return len(self.steps)

    @property
    def matched_service(self) -> bool:
        return self.endpoint is not None or self.verdict in ("REJECT", "DROP")


class _Packet:
    __slots__ = ("src", "dst", "proto", "dport", "mark", "ctstate", "sport", "bridged", "ipvs")

    def __init__(self, src, dst, proto, dport, sport=0):
        self.src, self.dst, self.proto, self.dport = src, dst, proto, dport
        self.sport = sport
        self.mark = 0
        self.ctstate = {"NEW"}
        self.bridged = False      # arrived over a bridge port (-m physdev --physdev-is-in)
        self.ipvs = None          # (vaddr, proto, vport) once IPVS has handled the packet


def _in_net(ip: str, cidr: str) -> bool:
    if "/" not in cidr:
        return ip == cidr
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


# --- per service-port output ------------------------------------------------------------------------------------

_RULES_SERIAL = itertools.count(1)


class _ServiceRules:
    """The lines one service port contributes to a sync (built by _write_service_port). Read-only once built: the
    same object may be the current rules of many nodes (see SharedRuleCache)."""
    __slots__ = ("filter_lines", "nat_top_lines", "nat_chains", "n_chain_rules", "n_endpoints", "serial", "_dropped")

    def __init__(self):
        self.filter_lines: list = []   # rules in filter top-level chains
        self.nat_top_lines: list = []  # rules in nat KUBE-SERVICES / KUBE-NODEPORTS
        self.nat_chains: dict = {}     # own chains (EXT, FW, SVC, SVL, SEP...) -> rules, in write order
        self.n_chain_rules = 0
        self.n_endpoints = 0
        self.serial = next(_RULES_SERIAL)   # names this object in the memo below without keeping the other alive
        self._dropped = None                # (serial of the rules replaced, chains they had and these do not)

    def chains_dropped_from(self, old: "_ServiceRules") -> tuple:
        """The chains of ``old`` (the rules these replace) that these rules do not have: the chains a sync deletes.

        Every node going from the same old rules to the same new ones needs the same answer: it is remembered for
        the last ``old`` asked about."""
        memo = self._dropped
        if memo is not None and memo[0] == old.serial:
            return memo[1]
        chains = self.nat_chains
        dropped = tuple([c for c in old.nat_chains if c not in chains])
        self._dropped = (old.serial, dropped)
        return dropped


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while building hundreds of thousands of strings and tuples.

    None of them can form reference cycles, but their number alone would trigger collections again and again
    (that roughly doubles the time of a full sync of 10,000 services)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chain_of(line: str) -> str:
    return line.split(" ", 2)[1]


# --- EndpointSlice parsing (pkg/proxy/endpointslicecache.go) ------------------------------------------------------

class ParsedEndpointSlice:
    """What kube-proxy keeps of one EndpointSlice version, independent of the node reading it.

    ``ports``: (name, port, protocol) per usable port; ``endpoints``: (address, ready, serving, terminating, zone)
    per endpoint with an address; ``node_names``: the nodeName of each of those endpoints (how a proxier tells
    which endpoints are local to it). Two parsed slices are equal when their ports, endpoints and node names are
    (upstream's esDataChanged compares the whole endpointSliceInfo, NodeName included). Read-only once built."""
    __slots__ = ("ports", "endpoints", "node_names", "_by_node", "_hash")

    def __init__(self, ports: tuple, endpoints: tuple, node_names: tuple):
        self.ports = ports
        self.endpoints = endpoints
        self.node_names = node_names
        self._by_node = None
        self._hash = None

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, ParsedEndpointSlice):
            return NotImplemented
        if self._hash is not None and other._hash is not None and self._hash != other._hash:
            return False  # two versions of a slice differ: skip comparing every endpoint
        return self.ports == other.ports and self.endpoints == other.endpoints and self.node_names == other.node_names

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.ports, self.endpoints, self.node_names))
        return self._hash

    def index_nodes(self) -> None:
        """Index the endpoints by node name, for a slice that many proxiers will read."""
        by_node: dict = {}
        for i, node in enumerate(self.node_names):
            if node:
                by_node.setdefault(node, []).append(i)
        self._by_node = {node: tuple(indices) for node, indices in by_node.items()}

    def local_indices(self, hostname: str) -> tuple:
        """Indices of the endpoints on node ``hostname`` (none when the proxier has no hostname)."""
        if not hostname:
            return ()
        if self._by_node is not None:
            return self._by_node.get(hostname, ())
        return tuple([i for i, node in enumerate(self.node_names) if node == hostname])


def parse_endpoint_slice(eps: dict, previous: Optional[ParsedEndpointSlice] = None) -> ParsedEndpointSlice:
    """newEndpointSliceInfo: the ports and endpoints of one EndpointSlice (nil conditions count as true).

    ``previous``: the parse of an earlier version of the slice. An endpoint parsed exactly as there keeps that
    tuple, so that the many unchanged endpoints of a new version are not new objects that live on."""
    ports = []
    for p in eps.get("ports") or ():
        if p.get("name") is None or not p.get("port"):
            continue  # upstream ignores ports with a nil name or no port number
        ports.append((p["name"], int(p["port"]), p.get("protocol") or "TCP"))
    endpoints, node_names = [], []
    before = {e[0]: e for e in previous.endpoints} if previous is not None else None
    for ep in eps.get("endpoints") or ():
        addrs = ep.get("addresses") or ()
        if not addrs:
            continue
        cond = ep.get("conditions") or {}
        ready = cond.get("ready") is None or bool(cond.get("ready"))
        serving = cond.get("serving") is None or bool(cond.get("serving"))
        terminating = bool(cond.get("terminating"))
        parsed = (addrs[0], ready, serving, terminating, ep.get("zone") or "")
        if before is not None:
            old = before.get(addrs[0])
            if old is not None and old == parsed:
                parsed = old
        endpoints.append(parsed)
        node_names.append(ep.get("nodeName") or "")
    return ParsedEndpointSlice(tuple(ports), tuple(endpoints), tuple(node_names))


def endpoint_slice_event(old: Optional[dict], new: Optional[dict], parse=parse_endpoint_slice):
    """The node-independent part of EndpointsChangeTracker.EndpointSliceUpdate for one event: (Service key
    "ns/name", slice name, parsed slice, or None for a delete), or None for a slice kube-proxy ignores (not IPv4,
    or without the kubernetes.io/service-name label). ``parse(new)`` gives the ParsedEndpointSlice."""
    obj = new or old
    if obj is None or obj.get("addressType", "IPv4") != "IPv4":
        return None
    meta = obj.get("metadata") or {}
    svc_name = (meta.get("labels") or {}).get("kubernetes.io/service-name")
    if not svc_name:
        return None
    return f"{meta.get('namespace') or 'default'}/{svc_name}", meta["name"], None if new is None else parse(new)


class ServiceEndpoints:
    """The endpoints of one Service's ports as every node sees them, before marking the node's own endpoints.

    ``by_port``: ServicePortName -> [EndpointInfo] sorted by "ip:port", all with is_local False;
    ``origins``: ServicePortName -> {(slice position, endpoint index): position in by_port's list}."""
    __slots__ = ("by_port", "origins", "n_endpoints", "_keys")

    def __init__(self, by_port: dict, origins: dict):
        self.by_port = by_port
        self.origins = origins
        self.n_endpoints = sum(len(eps) for eps in by_port.values())
        self._keys: dict = {}

    def rules_key(self, spn) -> "_EndpointsKey | None":
        """by_port[spn] as a tuple that hashes once: the endpoints part of the shared rules-cache key of a service
        port that does not use local endpoints (the same for every node). None if the port has no endpoints."""
        k = self._keys.get(spn)
        if k is None:
            eps = self.by_port.get(spn)
            if eps is None:
                return None
            k = self._keys[spn] = _EndpointsKey(eps)
        return k

    def for_node(self, local: list) -> dict:
        """The endpoints map of one node; ``local`` lists (slice position, indices of this node's endpoints).

        Lists without a local endpoint are shared, not copied: they must be treated as read-only."""
        result = dict(self.by_port)
        if not local:
            return result
        wanted = [(s, i) for s, indices in local for i in indices]
        new_endpoint = tuple.__new__
        for spn, origin in self.origins.items():
            positions = [origin[o] for o in wanted if o in origin]
            if positions:
                eps = list(result[spn])
                for pos in positions:
                    e = eps[pos]
                    eps[pos] = new_endpoint(EndpointInfo, (e[0], e[1], True) + e[3:])
                result[spn] = eps
        return result


class _EndpointsKey(tuple):
    """A tuple (of EndpointInfo, or of node settings) that computes its hash once: it is part of the rules-cache
    key looked up by every node's proxier."""

    def __new__(cls, items):
        self = tuple.__new__(cls, items)
        self._hash = tuple.__hash__(self)
        return self

    def __hash__(self) -> int:
        return self._hash


def build_service_endpoints(key: str, slices: tuple, sep_names: dict,
                            previous: Optional[ServiceEndpoints] = None) -> ServiceEndpoints:
    """EndpointSliceCache.getEndpointsMap for one Service ("ns/name") from its (slice name, ParsedEndpointSlice)
    pairs sorted by name. ``sep_names`` memoises servicePortEndpointChainName.

    ``previous``: an earlier ServiceEndpoints of the same Service. Its EndpointInfo objects (and chain names) are
    taken over wherever they are equal, so that a node comparing its old and new endpoints maps mostly compares
    objects with themselves."""
    ns, name = key.split("/", 1)
    chosen: dict = {}   # ServicePortName -> {"ip:port": (EndpointInfo, (slice position, endpoint index))}
    before_all = previous.by_port if previous is not None else {}
    new_endpoint = tuple.__new__
    for s, (_slice_name, parsed) in enumerate(slices):
        for port_name, port_num, protocol in parsed.ports:
            spn = ServicePortName(ns, name, port_name, protocol)
            hash_prefix = str(spn) + protocol.lower()
            eps = chosen.setdefault(spn, {})
            before = {f"{e[0]}:{e[1]}": e for e in before_all.get(spn, ())}  # "ip:port" -> EndpointInfo
            for i, (ip, ready, serving, terminating, zone) in enumerate(parsed.endpoints):
                ep_str = f"{ip}:{port_num}"
                if terminating and ep_str in eps:
                    continue  # prefer the non-terminating one when two slices list the same endpoint
                old = before.get(ep_str)
                if old is not None:  # same service port and "ip:port": same chain
                    if old[3] == ready and old[4] == serving and old[5] == terminating and old[6] == zone:
                        eps[ep_str] = (old, (s, i))
                        continue
                    chain = old[7]
                else:
                    cache_key = (hash_prefix, ep_str)
                    chain = sep_names.get(cache_key)
                    if chain is None:  # servicePortEndpointChainName, memoised
                        chain = sep_names[cache_key] = SERVICE_PORT_ENDPOINT_CHAIN_NAME_PREFIX + _hash16(
                            hash_prefix + ep_str)
                info = new_endpoint(EndpointInfo, (ip, port_num, False, ready, serving, terminating, zone, chain))
                eps[ep_str] = (info, (s, i))
    by_port, origins = {}, {}
    for spn, eps in chosen.items():
        if eps:
            ordered = sorted(eps)
            by_port[spn] = [eps[k][0] for k in ordered]
            origins[spn] = {eps[k][1]: pos for pos, k in enumerate(ordered)}
    return ServiceEndpoints(by_port, origins)


# --- sharing work between the proxiers of one simulated cluster ---------------------------------------------------

class _BoundedCache:
    """A least-recently-used map bounded by a total weight (e.g. rule lines). Eviction depends only on the order of
    calls, so a deterministic simulation stays deterministic."""

    def __init__(self, max_weight: int):
        self.max_weight = max_weight
        self.weight = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict = OrderedDict()   # key -> (value, weight)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key):
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry[0]

    def peek(self, key):
        """The value for ``key`` (or None) without counting a hit or a miss or making it recent."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def put(self, key, value, weight: int = 1) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self._entries[key] = (value, weight)
        self.weight += weight
        while self.weight > self.max_weight and len(self._entries) > 1:
            _key, (_value, w) = self._entries.popitem(last=False)
            self.weight -= w


def _object_version_key(obj: dict):
    """(namespace, name, uid, resourceVersion): names one version of a stored object. None without a
    resourceVersion (an object that was never stored), which is then not cached."""
    meta = obj.get("metadata") or {}
    rv = meta.get("resourceVersion")
    if not rv:
        return None
    return meta.get("namespace") or "", meta.get("name") or "", meta.get("uid") or "", rv


class SharedRuleCache:
    """Work shared by all the Proxiers of one simulated cluster (see "Sharing between nodes" in the module doc).

    * ``services`` / ``slices``: parsed Services and EndpointSlices, keyed by object version; ``slice_event``
      digests one EndpointSlice event for all the proxiers that receive it;
    * ``endpoints``: a Service's endpoints per port before marking a node's own (``ServiceEndpoints``), keyed by
      the Service and its parsed slices;
    * ``rules``: the rule lines one service port contributes to a sync (``_ServiceRules``), keyed by everything
      that goes into them (see ``Proxier._service_rules_key``).

    Each part is bounded (entries weighted by endpoints or rule lines) and evicts least recently used first."""

    def __init__(self, max_services: int = 20_000, max_slice_endpoints: int = 200_000,
                 max_service_endpoints: int = 200_000, max_rule_lines: int = 500_000):
        self.services = _BoundedCache(max_services)
        self.slices = _BoundedCache(max_slice_endpoints)
        self.endpoints = _BoundedCache(max_service_endpoints)
        self.rules = _BoundedCache(max_rule_lines)
        # The last EndpointSlice event digested (old object, new object, new resourceVersion, endpoint_slice_event
        # result): a change reaches every node's proxier one after the other with the very same objects (informer
        # cache objects are shared and never changed in place), so all but the first proxier reuse the result.
        # This keeps a proxier's work per event to a few dict operations however many nodes there are.
        self._last_event: tuple = (None, None, None, None)
        # "ns/name" -> the ServiceEndpoints built last for that Service (see build_service_endpoints)
        self._latest_endpoints: dict = {}

    def service_map(self, service: dict) -> dict:
        """service_to_service_map(service), computed once per Service version. The result is read-only."""
        key = _object_version_key(service)
        if key is None:
            return service_to_service_map(service)
        result = self.services.get(key)
        if result is None:
            result = service_to_service_map(service)
            self.services.put(key, result)
        return result

    def endpoint_slice(self, eps: dict, previous: Optional[dict] = None) -> ParsedEndpointSlice:
        """parse_endpoint_slice(eps), computed once per EndpointSlice version (namespace, name, uid and
        resourceVersion). The result is read-only. ``previous``: the version this one replaces; if its parse is
        still cached, the new parse shares what has not changed (see parse_endpoint_slice)."""
        key = _object_version_key(eps)
        if key is None:
            return parse_endpoint_slice(eps)
        parsed = self.slices.get(key)
        if parsed is None:
            before = None
            if previous is not None:
                previous_key = _object_version_key(previous)
                before = self.slices.peek(previous_key) if previous_key is not None else None
            parsed = parse_endpoint_slice(eps, before)
            if before is not None and parsed.node_names == before.node_names:
                # the endpoints are on the same nodes as before: the same node index serves both versions
                parsed.node_names, parsed._by_node = before.node_names, before._by_node
            else:
                parsed.index_nodes()
            hash(parsed)  # computed once here, it makes comparing versions cheap for every proxier
            self.slices.put(key, parsed, 1 + len(parsed.endpoints))
        return parsed

    def slice_event(self, old: Optional[dict], new: Optional[dict]):
        """endpoint_slice_event(old, new) with the parse shared: computed once for an event that every proxier
        receives (the same objects, one proxier after the other)."""
        last_old, last_new, last_rv, result = self._last_event
        if new is last_new and old is last_old and (
                new is None or (new.get("metadata") or {}).get("resourceVersion") == last_rv):
            if new is not None and result is not None:
                self.slices.hits += 1  # the entry was the last one used: it is already the most recent
            return result
        result = endpoint_slice_event(old, new, lambda obj: self.endpoint_slice(obj, old))
        self._last_event = (old, new, None if new is None else (new.get("metadata") or {}).get("resourceVersion"),
                            result)
        return result

    def service_endpoints(self, key: str, slices: tuple, sep_names: dict) -> ServiceEndpoints:
        """build_service_endpoints(key, slices, sep_names), computed once per set of slice contents."""
        cache_key = (key, slices)
        result = self.endpoints.get(cache_key)
        if result is None:
            result = build_service_endpoints(key, slices, sep_names, self._latest_endpoints.pop(key, None))
            if slices:
                self._latest_endpoints[key] = result
            self.endpoints.put(cache_key, result, 1 + result.n_endpoints)
        return result

    def stats(self) -> dict:
        """Entries, weight, hits and misses of each part."""
        parts = (("services", self.services), ("slices", self.slices), ("endpoints", self.endpoints),
                 ("rules", self.rules))
        return {name: {"entries": len(c), "weight": c.weight, "hits": c.hits, "misses": c.misses}
                for name, c in parts}


# --- the proxier ------------------------------------------------------------------------------------------------

class Proxier:
    """kube-proxy's iptables Proxier for one node (IPv4).

    ``hostname`` is the node name (endpoints with this ``nodeName`` are local), ``cluster_cidr`` the pod CIDR used
    by the local-traffic detector (``-s``/``! -s`` rules; None disables them, as with no detector),
    ``node_port_addresses`` the --nodeport-addresses CIDRs (None: all local addresses, or ["primary"]).
    ``shared``: a ``SharedRuleCache`` used by all the proxiers of a simulated cluster (None: compute everything
    here, like a real node does); the rules written are the same either way."""

    def __init__(self, hostname: str, node_ip: str, cluster_cidr: Optional[str] = None, masquerade_bit: int = 14,
                 masquerade_all: bool = False, node_port_addresses=None, *, localhost_nodeports: bool = True,
                 nfacct: bool = True, random_fully: bool = True, conntrack_tcp_liberal: bool = False,
                 rng: Optional[random.Random] = None, shared: Optional[SharedRuleCache] = None):
        self.hostname = hostname
        self.node_ip = node_ip
        self.cluster_cidr = cluster_cidr
        self.masquerade_all = masquerade_all
        # Upstream formats the mark with Go's "%#08x" ("0x00004000"); the kernel stores the number and upstream's
        # tests show it as 0x4000, which is how it is printed here.
        self.masquerade_mark = hex(1 << masquerade_bit)
        self.node_port_addresses = list(node_port_addresses or [])
        if not self._node_ports_contain_loopback():
            localhost_nodeports = False
        self.localhost_nodeports = localhost_nodeports
        self.nfacct = nfacct
        self.random_fully = random_fully
        self.conntrack_tcp_liberal = conntrack_tcp_liberal
        self.rng = rng if rng is not None else random.Random(0)
        self.shared = shared

        # ServiceChangeTracker / EndpointsChangeTracker state
        self._services: dict = {}          # "ns/name" -> {ServicePortName: ServicePortInfo} (applied)
        self._service_changes: dict = {}   # "ns/name" -> [previous map, current map]
        self._slices: dict = {}            # "ns/name" -> {slice name: ParsedEndpointSlice}
        self._endpoint_changes: set = set()
        self._endpoints_by_service: dict = {}  # "ns/name" -> {ServicePortName: [EndpointInfo]}
        # "ns/name" -> (the shared ServiceEndpoints last read, this node's (slice position, indices)), with a shared
        # cache: when both are the same at the next sync, so is the Service's endpoints map
        self._shared_endpoints: dict = {}
        self._endpoint_counts: dict = {}   # "ns/name" -> endpoints of its service ports (for totalEndpoints)
        self._total_endpoints = 0

        self.svc_port_map: dict = {}       # ServicePortName -> ServicePortInfo
        self.endpoints_map: dict = {}      # ServicePortName -> [EndpointInfo] (sorted by "ip:port")

        self._need_full_sync = True
        self._last_full_sync_ms: Optional[int] = None
        self.large_cluster_mode = False
        self._precomputed_probabilities = ["<bad value>"]
        self._last_node_key = None
        self._sep_names: dict = {}

        self._rules: dict = {}             # ServicePortName -> _ServiceRules (the kernel's current content)
        self._rules_by_service: dict = {}  # "ns/name" -> set of its ServicePortNames in _rules
        # sums over _rules: nat chains, nat top-level rules, rules in the nat chains, filter rules
        self._rule_totals = [0, 0, 0, 0]
        self._chain_owner: dict = {}  # service chain -> the ServicePortName whose rules it belongs to
        self._sorted_spns: Optional[list] = []  # ServicePortNames in output order, sorted again when one comes or goes
        self._view: dict = {}              # (table, chain) -> lines, built lazily after each sync
        self._save_cache: dict = {}        # table (or None for all) -> iptables-save text, until the next sync
        self._parsed: dict = {}            # (table, line) -> Rule
        self._recent: dict = {}            # -m recent tables: name -> {src ip: last seen ms}
        self.conntrack = Conntrack()       # the node's connection tracking table
        self._last_restore = None
        self.last_sync: dict = {}

    # -- informer handlers ----------------------------------------------------------------------------------------

    def on_service_update(self, old: Optional[dict], new: Optional[dict]) -> bool:
        """ServiceChangeTracker.Update: record a Service add (old None), update or delete (new None).

        Returns True when there is a pending change for that Service."""
        obj = new or old
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta['name']}"
        change = self._service_changes.get(key)
        if change is None:
            change = [self._services.get(key, {}), None]
            self._service_changes[key] = change
        change[1] = service_to_service_map(new) if self.shared is None or new is None else \
            self.shared.service_map(new)
        if change[0] == change[1]:
            del self._service_changes[key]
        return bool(self._service_changes)

    def on_endpoint_slice_update(self, old: Optional[dict], new: Optional[dict]) -> bool:
        """EndpointsChangeTracker.EndpointSliceUpdate: record an EndpointSlice add, update or delete (new None).

        Returns True if the slice changes what is cached for its Service. The work is the same for every node
        (which endpoints are this node's is looked up at sync time), and with a shared cache it is done once per
        event: here only the slice is stored and its Service marked changed."""
        event = endpoint_slice_event(old, new) if self.shared is None else self.shared.slice_event(old, new)
        if event is None:
            return False
        key, name, parsed = event
        slices = self._slices.get(key)
        if slices is None:
            if parsed is None:
                return False
            self._slices[key] = {name: parsed}
        else:
            current = slices.get(name)
            if current is parsed or (current is not None and parsed is not None and current == parsed):
                return False  # esDataChanged: nothing new for this slice
            if parsed is not None:
                slices[name] = parsed
            elif current is None:
                return False
            else:
                del slices[name]
                if not slices:
                    del self._slices[key]
        self._endpoint_changes.add(key)
        return True

    def _endpoints_for(self, key: str) -> dict:
        """EndpointSliceCache.getEndpointsMap for one Service: endpoints per port, sorted by "ip:port"."""
        slices = self._slices.get(key)
        if not slices:
            entries = ()
        elif len(slices) == 1:
            entries = tuple(slices.items())
        else:
            entries = tuple(sorted(slices.items()))
        hostname = self.hostname
        local = [(s, indices) for s, (_name, parsed) in enumerate(entries)
                 if (indices := parsed.local_indices(hostname))]
        if self.shared is None:
            return build_service_endpoints(key, entries, self._sep_names).for_node(local)
        endpoints = self.shared.service_endpoints(key, entries, self._sep_names)
        last = self._shared_endpoints.get(key)
        if last is not None and last[0] is endpoints and last[1] == local:
            # The same shared endpoints and the same local ones: the map applied for them is still right.
            return self._endpoints_by_service.get(key, {})
        self._shared_endpoints[key] = (endpoints, local)
        return endpoints.for_node(local)

    # -- sync ---------------------------------------------------------------------------------------------------------

    def _probability(self, n: int) -> str:
        pre = self._precomputed_probabilities
        while len(pre) <= n:
            pre.append(compute_probability(len(pre)))
        return pre[n]

    def _node_ports_contain_loopback(self) -> bool:
        if not self.node_port_addresses:
            return True
        return any(c != "primary" and _in_net("127.0.0.1", c) for c in self.node_port_addresses)

    def _node_port_ips(self) -> list:
        """NodePortAddresses.GetNodeIPs: the node's addresses inside --nodeport-addresses."""
        ips = []
        for candidate in (self.node_ip, "127.0.0.1"):
            for cidr in self.node_port_addresses:
                if (cidr == "primary" and candidate == self.node_ip) or (cidr != "primary" and
                                                                         _in_net(candidate, cidr)):
                    if candidate not in ips:
                        ips.append(candidate)
        return ips

    def sync_proxy_rules(self, now_ms: Optional[int] = None, force_full: bool = False) -> dict:
        """syncProxyRules: apply pending changes and rewrite the tables. Returns statistics of the sync.

        A full sync happens on the first sync, when ``force_full`` is set, or when ``now_ms`` is given and an hour
        has passed since the last full sync; otherwise only the chains of changed Services are rewritten."""
        with _gc_paused():
            return self._sync_proxy_rules(now_ms, force_full)

    def _sync_proxy_rules(self, now_ms: Optional[int], force_full: bool) -> dict:
        do_full = self._need_full_sync or force_full or (
            now_ms is not None and self._last_full_sync_ms is not None
            and now_ms - self._last_full_sync_ms > FULL_SYNC_PERIOD_MS)

        updated = self._apply_changes()

        # totalEndpoints over svcPortMap, kept up to date per Service by _apply_changes
        total_endpoints = self._total_endpoints
        self.large_cluster_mode = total_endpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD

        # Rebuild the chains of changed service ports (all of them on a full sync); the others keep theirs, so the
        # work of a partial sync grows with the number of changed Services, not with the number of Services.
        rules, svc_port_map, by_service = self._rules, self.svc_port_map, self._rules_by_service
        if do_full:
            candidates = list(rules) + [spn for spn in svc_port_map if spn not in rules]
        else:
            candidates = []
            for key in sorted(updated):
                candidates += by_service.get(key, ())
                candidates += [spn for spn in self._services.get(key, ()) if spn not in rules]
        node_key = self._node_rules_key()
        endpoints_map = self.endpoints_map
        totals = self._rule_totals
        owners = self._chain_owner  # kept up to date chain by chain
        rebuilt = set()
        deleted_chains: set = set()
        members_changed = False
        for spn in candidates:
            svc = svc_port_map.get(spn)
            old = rules.get(spn)
            if svc is None:  # the port (or its Service) is gone: delete all its chains
                del rules[spn]
                spns = by_service[spn.namespaced_name]
                spns.discard(spn)
                if not spns:
                    del by_service[spn.namespaced_name]
                deleted_chains.update(old.nat_chains)
                self._count_rules(old, -1)
                members_changed = True
                for chain in old.nat_chains:
                    del owners[chain]
                continue
            new = self._service_rules(svc, endpoints_map.get(spn, ()), node_key)
            rebuilt.add(spn)
            if new is old:
                continue
            if old is None:
                by_service.setdefault(spn.namespaced_name, set()).add(spn)
                members_changed = True
                self._count_rules(new, 1)
            else:
                dropped = new.chains_dropped_from(old)
                deleted_chains.update(dropped)
                totals[0] += len(new.nat_chains) - len(old.nat_chains)
                totals[1] += len(new.nat_top_lines) - len(old.nat_top_lines)
                totals[2] += new.n_chain_rules - old.n_chain_rules
                totals[3] += len(new.filter_lines) - len(old.filter_lines)
                for chain in dropped:
                    del owners[chain]
            rules[spn] = new
            for chain in new.nat_chains:
                owners[chain] = spn
        if members_changed:
            self._sorted_spns = None
        self._view = {}
        self._save_cache = {}
        self._need_full_sync = False
        if do_full:
            self._last_full_sync_ms = now_ms
        self._last_restore = (do_full, rebuilt, sorted(deleted_chains))

        global_nat, global_filter = self._global_nat_rules(), self._global_filter_rules()
        nodeports_tail = self._nodeports_tail()
        n_chains, n_top, n_chain_rules, n_filter = totals
        self.last_sync = {
            "full_sync": do_full,
            "partial_sync": not do_full,
            "services": len(svc_port_map),
            "endpoints": total_endpoints,
            "services_rebuilt": len(rebuilt),
            "deleted_chains": len(deleted_chains),
            "nat_chains": n_chains + 4,
            "nat_rules": n_top + n_chain_rules + len(global_nat) + len(nodeports_tail),
            "filter_chains": 5 + (1 if self.localhost_nodeports else 0),
            "filter_rules": n_filter + len(global_filter),
            "rules_written": (len(global_filter) + len(global_nat) + len(nodeports_tail) + n_top + n_filter
                              + sum(rules[spn].n_chain_rules for spn in rebuilt)),
            "large_cluster_mode": self.large_cluster_mode,
        }
        return dict(self.last_sync)

    def _count_rules(self, r: _ServiceRules, sign: int) -> None:
        totals = self._rule_totals
        totals[0] += sign * len(r.nat_chains)
        totals[1] += sign * len(r.nat_top_lines)
        totals[2] += sign * r.n_chain_rules
        totals[3] += sign * len(r.filter_lines)

    def _ordered(self) -> list:
        """The service ports in output order. Go iterates a map (random order); they are sorted by service port
        name here so that the output is reproducible."""
        if self._sorted_spns is None:
            self._sorted_spns = sorted(self._rules)
        return self._sorted_spns

    def _apply_changes(self) -> set:
        """svcPortMap.Update(serviceChanges) and endpointsMap.Update(endpointsChanges): the names of the Services
        whose ports or endpoints changed."""
        updated = set()
        # svcPortMap.Update(serviceChanges)
        for key, (previous, current) in self._service_changes.items():
            for spn in previous:
                self.svc_port_map.pop(spn, None)
            self.svc_port_map.update(current)
            if current:
                self._services[key] = current
            else:
                self._services.pop(key, None)
            updated.add(key)
        self._service_changes.clear()
        # endpointsMap.Update(endpointsChanges)
        for key in sorted(self._endpoint_changes):
            previous = self._endpoints_by_service.get(key, {})
            current = self._endpoints_for(key)
            if current is previous or previous == current:
                continue
            for spn in previous:
                self.endpoints_map.pop(spn, None)
            self.endpoints_map.update(current)
            if current:
                self._endpoints_by_service[key] = current
            else:
                self._endpoints_by_service.pop(key, None)
            updated.add(key)
        self._endpoint_changes.clear()
        # the endpoints of each changed Service's ports, for totalEndpoints
        counts, endpoints_map = self._endpoint_counts, self.endpoints_map
        for key in updated:
            n = sum([len(endpoints_map.get(spn, ())) for spn in self._services.get(key, ())])
            self._total_endpoints += n - counts.get(key, 0)
            if n:
                counts[key] = n
            else:
                counts.pop(key, None)
        return updated

    def _node_rules_key(self) -> tuple:
        """The node-level settings that can change the lines written for a service port (see _service_rules_key).

        Settings only used by the fixed chains are listed too: a few more cache misses, never a wrong hit."""
        key = (self.large_cluster_mode, self.masquerade_all, self.cluster_cidr, self.masquerade_mark,
               self.localhost_nodeports, self.nfacct, self.random_fully, self.conntrack_tcp_liberal,
               tuple(self.node_port_addresses))
        if key != self._last_node_key:
            self._last_node_key = _EndpointsKey(key)  # hashed once, not at every lookup
        return self._last_node_key

    def _service_rules_key(self, svc: ServicePortInfo, endpoints, node_key: tuple) -> tuple:
        """Everything _write_service_port reads for one service port: the port info, its endpoints and this node.

        The node name only matters through ``EndpointInfo.is_local``, and that only for services that use local
        endpoints; for the others is_local is left out of the key so that every node shares one entry. The node
        IP only matters for loadBalancerSourceRanges (may the node itself reach the load balancer)."""
        if not svc.uses_local_endpoints():
            shared = self._shared_endpoints.get(svc.name.namespaced_name)
            eps = shared[0].rules_key(svc.name) if shared is not None and endpoints else None
            if eps is None or len(eps) != len(endpoints):
                eps = tuple(endpoints)
                if any(map(_IS_LOCAL, eps)):
                    eps = tuple(ep._replace(is_local=False) if ep.is_local else ep for ep in eps)
        else:
            eps = tuple(endpoints)
        node_ip = self.node_ip if svc.load_balancer_source_ranges else None
        return svc, eps, node_key, node_ip

    def _service_rules(self, svc: ServicePortInfo, endpoints, node_key: tuple) -> _ServiceRules:
        """_write_service_port, or the same lines from the shared cache when another node already wrote them."""
        if self.shared is None:
            return self._write_service_port(svc, endpoints)
        key = self._service_rules_key(svc, endpoints, node_key)
        rules = self.shared.rules.get(key)
        if rules is None:
            rules = self._write_service_port(svc, endpoints)
            weight = 1 + len(rules.filter_lines) + len(rules.nat_top_lines) + rules.n_chain_rules
            self.shared.rules.put(key, rules, weight)
        return rules

    def _comment(self, text: str) -> str:
        """appendServiceCommentLocked: per-endpoint comments are dropped in large cluster mode."""
        return "" if self.large_cluster_mode else f" -m comment --comment {text}"

    def _write_service_port(self, svc: ServicePortInfo, all_endpoints) -> _ServiceRules:
        """The body of syncProxyRules' loop over service ports, for one service port."""
        out = _ServiceRules()
        protocol = svc.protocol.lower()
        name = svc.name_string
        port = str(svc.port)
        cluster_eps, local_eps, reachable_eps, has_endpoints = categorize_endpoints(all_endpoints, svc)
        out.n_endpoints = len(reachable_eps)

        cluster_policy_chain = svc.cluster_policy_chain_name
        uses_cluster_policy_chain = bool(cluster_eps) and svc.uses_cluster_endpoints()
        uses_local = svc.internal_policy_local or svc.external_policy_local
        local_policy_chain = svc.local_policy_chain_name if uses_local else ""
        uses_local_policy_chain = bool(local_eps) and svc.uses_local_endpoints()

        internal_traffic_chain = cluster_policy_chain
        has_internal_endpoints = has_endpoints
        if svc.internal_policy_local:
            internal_traffic_chain = local_policy_chain
            if not local_eps:
                has_internal_endpoints = False

        external_policy_chain = cluster_policy_chain
        has_external_endpoints = has_endpoints
        if svc.external_policy_local:
            external_policy_chain = local_policy_chain
            if not local_eps:
                has_external_endpoints = False
        external_traffic_chain = svc.external_chain_name if svc.externally_accessible() else ""
        uses_external_traffic_chain = has_endpoints and svc.externally_accessible()

        load_balancer_traffic_chain = external_traffic_chain
        uses_fw_chain = has_endpoints and bool(svc.load_balancer_vips) and bool(svc.load_balancer_source_ranges)
        fw_chain = svc.firewall_chain_name if svc.load_balancer_vips else ""
        if uses_fw_chain:
            load_balancer_traffic_chain = fw_chain

        internal_filter_target = internal_filter_comment = ""
        external_filter_target = external_filter_comment = ""
        if not has_endpoints:
            internal_filter_target = external_filter_target = "REJECT"
            internal_filter_comment = external_filter_comment = f'"{name} has no endpoints"'
        else:
            if not has_internal_endpoints:
                internal_filter_target = "DROP"
                internal_filter_comment = f'"{name} has no local endpoints"'
            if not has_external_endpoints:
                external_filter_target = "DROP"
                external_filter_comment = f'"{name} has no local endpoints"'

        filt = out.filter_lines
        top = out.nat_top_lines
        match = f"-m {protocol} -p {protocol}"

        # Capture the clusterIP.
        if has_internal_endpoints:
            top.append(f'-A {KUBE_SERVICES_CHAIN} -m comment --comment "{name} cluster IP" {match} '
                       f"-d {svc.cluster_ip} --dport {port} -j {internal_traffic_chain}")
        else:
            filt.append(f"-A {KUBE_SERVICES_CHAIN} -m comment --comment {internal_filter_comment} {match} "
                        f"-d {svc.cluster_ip} --dport {port} -j {internal_filter_target}")

        # Capture externalIPs.
        for ip in svc.external_ips:
            if has_endpoints:
                top.append(f'-A {KUBE_SERVICES_CHAIN} -m comment --comment "{name} external IP" {match} '
                           f"-d {ip} --dport {port} -j {external_traffic_chain}")
            if not has_external_endpoints:
                filt.append(f"-A {KUBE_EXTERNAL_SERVICES_CHAIN} -m comment --comment {external_filter_comment} "
                            f"{match} -d {ip} --dport {port} -j {external_filter_target}")

        # Capture load-balancer ingress.
        for ip in svc.load_balancer_vips:
            if has_endpoints:
                top.append(f'-A {KUBE_SERVICES_CHAIN} -m comment --comment "{name} loadbalancer IP" {match} '
                           f"-d {ip} --dport {port} -j {load_balancer_traffic_chain}")
            if uses_fw_chain:
                filt.append(f'-A {KUBE_PROXY_FIREWALL_CHAIN} -m comment --comment "{name} traffic not accepted by '
                            f'{fw_chain}" {match} -d {ip} --dport {port} -j DROP')
        if not has_external_endpoints:
            for ip in svc.load_balancer_vips:
                filt.append(f"-A {KUBE_EXTERNAL_SERVICES_CHAIN} -m comment --comment {external_filter_comment} "
                            f"{match} -d {ip} --dport {port} -j {external_filter_target}")

        # Capture nodeports.
        if svc.node_port:
            node_port = str(svc.node_port)
            if has_endpoints:
                if self.localhost_nodeports and self.nfacct:
                    top.append(f"-A {KUBE_NODE_PORTS_CHAIN} -m comment --comment {name} {match} -d 127.0.0.0/8 "
                               f"--dport {node_port} -m nfacct --nfacct-name {LOCALHOST_NODEPORT_ACCEPTED_NFACCT} "
                               f"-j {external_traffic_chain}")
                top.append(f"-A {KUBE_NODE_PORTS_CHAIN} -m comment --comment {name} {match} --dport {node_port} "
                           f"-j {external_traffic_chain}")
            if not has_external_endpoints:
                filt.append(f"-A {KUBE_EXTERNAL_SERVICES_CHAIN} -m comment --comment {external_filter_comment} "
                            f"-m addrtype --dst-type LOCAL {match} --dport {node_port} -j {external_filter_target}")

        # Capture healthCheckNodePorts.
        if svc.health_check_node_port:
            filt.append(f'-A {KUBE_NODE_PORTS_CHAIN} -m comment --comment "{name} health check node port" '
                        f"-m tcp -p tcp --dport {svc.health_check_node_port} -j ACCEPT")

        chains = out.nat_chains

        # Set up internal traffic handling.
        if has_internal_endpoints:
            args = (f'-m comment --comment "{name} cluster IP" {match} -d {svc.cluster_ip} --dport {port}')
            if self.masquerade_all:
                chains.setdefault(internal_traffic_chain, []).append(
                    f"-A {internal_traffic_chain} {args} -j {KUBE_MARK_MASQ_CHAIN}")
            elif self.cluster_cidr:
                chains.setdefault(internal_traffic_chain, []).append(
                    f"-A {internal_traffic_chain} {args} ! -s {self.cluster_cidr} -j {KUBE_MARK_MASQ_CHAIN}")

        # Set up external traffic handling.
        if uses_external_traffic_chain:
            ext = chains.setdefault(external_traffic_chain, [])
            if not svc.external_policy_local:
                ext.append(f'-A {external_traffic_chain} -m comment --comment "masquerade traffic for {name} '
                           f'external destinations" -j {KUBE_MARK_MASQ_CHAIN}')
            else:
                if self.cluster_cidr:
                    ext.append(f'-A {external_traffic_chain} -m comment --comment "pod traffic for {name} external '
                               f'destinations" -s {self.cluster_cidr} -j {cluster_policy_chain}')
                ext.append(f'-A {external_traffic_chain} -m comment --comment "masquerade LOCAL traffic for {name} '
                           f'external destinations" -m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ_CHAIN}')
                ext.append(f'-A {external_traffic_chain} -m comment --comment "route LOCAL traffic for {name} '
                           f'external destinations" -m addrtype --src-type LOCAL -j {cluster_policy_chain}')
            if has_external_endpoints:
                ext.append(f"-A {external_traffic_chain} -j {external_policy_chain}")

        # Set up firewall chain, if needed.
        if uses_fw_chain:
            fw = chains.setdefault(fw_chain, [])
            head = f'-A {fw_chain} -m comment --comment "{name} loadbalancer IP"'
            allow_from_node = False
            for cidr in svc.load_balancer_source_ranges:
                fw.append(f"{head} -s {cidr} -j {external_traffic_chain}")
                if _in_net(self.node_ip, cidr):
                    allow_from_node = True
            if allow_from_node:
                for ip in svc.load_balancer_vips:
                    fw.append(f"{head} -s {ip} -j {external_traffic_chain}")
            fw.append(f'-A {fw_chain} -m comment --comment "other traffic to {name} will be dropped by '
                      f'{KUBE_PROXY_FIREWALL_CHAIN}"')

        if uses_cluster_policy_chain:
            self._write_service_to_endpoint_rules(chains.setdefault(cluster_policy_chain, []), name, svc,
                                                  cluster_policy_chain, cluster_eps)
        if uses_local_policy_chain:
            self._write_service_to_endpoint_rules(chains.setdefault(local_policy_chain, []), name, svc,
                                                  local_policy_chain, local_eps)

        # Generate the per-endpoint chains.
        affinity = svc.session_affinity_type == "ClientIP"
        comment = self._comment(name)
        for ep in reachable_eps:
            chain = ep.chain_name
            chains[chain] = [
                f"-A {chain}{comment} -s {ep.ip} -j {KUBE_MARK_MASQ_CHAIN}",
                f"-A {chain}{comment}" + (f" -m recent --name {chain} --set" if affinity else "")
                + f" {match} -j DNAT --to-destination {ep.ip}:{ep.port}",
            ]
        out.n_chain_rules = sum(len(v) for v in chains.values())
        return out

    def _write_service_to_endpoint_rules(self, lines: list, name: str, svc: ServicePortInfo, svc_chain: str,
                                         endpoints) -> None:
        """writeServiceToEndpointRules: affinity checks first, then one probabilistic jump per endpoint.

        Rule i of n (0-based) matches with probability 1/(n-i), and the last one always matches: each endpoint
        ends up with probability 1/n."""
        large = self.large_cluster_mode
        head = f"-A {svc_chain}"
        if svc.session_affinity_type == "ClientIP":
            seconds = svc.sticky_max_age_seconds
            for ep in endpoints:
                comment = "" if large else f' -m comment --comment "{name} -> {ep.ip}:{ep.port}"'
                lines.append(f"{head}{comment} -m recent --name {ep.chain_name} --rcheck --seconds {seconds} --reap "
                             f"-j {ep.chain_name}")
        n = len(endpoints)
        probability = self._probability
        for i, ep in enumerate(endpoints):
            comment = "" if large else f' -m comment --comment "{name} -> {ep.ip}:{ep.port}"'
            if i < n - 1:
                lines.append(f"{head}{comment} -m statistic --mode random --probability {probability(n - i)} "
                             f"-j {ep.chain_name}")
            else:
                lines.append(f"{head}{comment} -j {ep.chain_name}")

    # -- the fixed parts of the tables ----------------------------------------------------------------------------

    def _global_nat_rules(self) -> list:
        masq = (f'-A {KUBE_POSTROUTING_CHAIN} -m comment --comment "kubernetes service traffic requiring SNAT" '
                f"-j MASQUERADE" + (" --random-fully" if self.random_fully else ""))
        return [
            f"-A {KUBE_POSTROUTING_CHAIN} -m mark ! --mark {self.masquerade_mark}/{self.masquerade_mark} -j RETURN",
            f"-A {KUBE_POSTROUTING_CHAIN} -j MARK --xor-mark {self.masquerade_mark}",
            masq,
            f"-A {KUBE_MARK_MASQ_CHAIN} -j MARK --or-mark {self.masquerade_mark}",
        ]

    def _nodeports_tail(self) -> list:
        """The last rules of nat KUBE-SERVICES: hand everything addressed to the node to KUBE-NODEPORTS."""
        comment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"'
        if not self.node_port_addresses:
            dest = "-m addrtype --dst-type LOCAL" + ("" if self.localhost_nodeports else " ! -d 127.0.0.0/8")
            return [f"-A {KUBE_SERVICES_CHAIN} {comment} {dest} -j {KUBE_NODE_PORTS_CHAIN}"]
        lines = []
        for ip in self._node_port_ips():
            if ip.startswith("127.") and not self.localhost_nodeports:
                continue
            lines.append(f"-A {KUBE_SERVICES_CHAIN} {comment} -d {ip} -j {KUBE_NODE_PORTS_CHAIN}")
        return lines

    def _firewall_rules(self) -> list:
        if not self.localhost_nodeports:
            return []
        return [f'-A {KUBELET_FIREWALL_CHAIN} -m comment --comment "block incoming localnet connections" '
                f"-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"]

    def _forward_rules(self) -> list:
        lines = []
        if not self.conntrack_tcp_liberal:
            lines.append(f"-A {KUBE_FORWARD_CHAIN} -m conntrack --ctstate INVALID"
                         + (f" -m nfacct --nfacct-name {CT_STATE_INVALID_DROPPED_NFACCT}" if self.nfacct else "")
                         + " -j DROP")
        lines.append(f'-A {KUBE_FORWARD_CHAIN} -m comment --comment "kubernetes forwarding rules" '
                     f"-m mark --mark {self.masquerade_mark}/{self.masquerade_mark} -j ACCEPT")
        lines.append(f'-A {KUBE_FORWARD_CHAIN} -m comment --comment "kubernetes forwarding conntrack rule" '
                     f"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        return lines

    def _global_filter_rules(self) -> list:
        return self._firewall_rules() + self._forward_rules()

    def _jump_rules(self, table: str, chain: str) -> list:
        """Rules kube-proxy ensures in a built-in chain: each is prepended, so the last one ensured comes first."""
        lines = []
        for tbl, dst, src, comment, extra in IPTABLES_JUMP_CHAINS + IPTABLES_KUBELET_JUMP_CHAINS:
            if tbl != table or src != chain:
                continue
            args = list(extra)
            if comment:
                args += ["-m", "comment", "--comment", f'"{comment}"' if " " in comment else comment]
            lines.insert(0, " ".join([f"-A {src}"] + args + ["-j", dst]))
        return lines

    # -- the kernel view -----------------------------------------------------------------------------------------

    def _user_chains(self, table: str) -> list:
        if table == "nat":
            fixed = [KUBE_SERVICES_CHAIN, KUBE_NODE_PORTS_CHAIN, KUBE_POSTROUTING_CHAIN, KUBE_MARK_MASQ_CHAIN,
                     KUBE_PROXY_CANARY_CHAIN]
            return sorted(fixed + list(self._chain_owner))
        if table == "filter":
            # KUBE-FIREWALL always exists (kube-proxy ensures every jump chain, like the kubelet does); it only
            # has a rule when localhost NodePorts are allowed.
            return sorted([KUBE_SERVICES_CHAIN, KUBE_EXTERNAL_SERVICES_CHAIN, KUBE_FORWARD_CHAIN, KUBE_NODE_PORTS_CHAIN,
                           KUBE_PROXY_FIREWALL_CHAIN, KUBE_PROXY_CANARY_CHAIN, KUBELET_FIREWALL_CHAIN])
        if table == "mangle":
            return [KUBE_PROXY_CANARY_CHAIN]
        raise ValueError(f"unknown table {table!r}")

    def _build_view(self) -> None:
        view: dict = {}
        order = [self._rules[spn] for spn in self._ordered()]
        for table in TABLES:
            for chain in BUILTIN_CHAINS[table]:
                view[(table, chain)] = self._jump_rules(table, chain)
        for table, chain in (("nat", KUBE_SERVICES_CHAIN), ("nat", KUBE_NODE_PORTS_CHAIN),
                             ("filter", KUBE_SERVICES_CHAIN), ("filter", KUBE_EXTERNAL_SERVICES_CHAIN),
                             ("filter", KUBE_NODE_PORTS_CHAIN), ("filter", KUBE_PROXY_FIREWALL_CHAIN)):
            view[(table, chain)] = []
        for r in order:
            for line in r.nat_top_lines:
                view[("nat", _chain_of(line))].append(line)
            for line in r.filter_lines:
                view[("filter", _chain_of(line))].append(line)
        view[("nat", KUBE_SERVICES_CHAIN)] += self._nodeports_tail()
        for line in self._global_nat_rules():
            view.setdefault(("nat", _chain_of(line)), []).append(line)
        for line in self._global_filter_rules():
            view.setdefault(("filter", _chain_of(line)), []).append(line)
        self._view = view

    def chain_lines(self, table: str, chain: str) -> list:
        """The rule lines of one chain as they are in the kernel after the last sync."""
        if not self._view:
            self._build_view()
        lines = self._view.get((table, chain))
        if lines is not None:
            return lines
        if table == "nat" and chain in self._chain_owner:
            return self._rules[self._chain_owner[chain]].nat_chains[chain]
        if chain in self._user_chains(table):
            return []
        raise KeyError(f"iptables: chain {chain} does not exist in table {table}")

    def chains(self, table: str = "nat") -> list:
        """Chain names of a table: built-in chains first, then user chains sorted (iptables-save order)."""
        return list(BUILTIN_CHAINS[table]) + self._user_chains(table)

    def rules(self, table: str, chain: str) -> list:
        """Structured view of one chain: a list of Rule."""
        out = []
        for line in self.chain_lines(table, chain):
            rule = self._parsed.get((table, line))
            if rule is None:
                rule = parse_rule(table, line)
                self._parsed[(table, line)] = rule
            out.append(rule)
        return out

    def iptables_save(self, table: Optional[str] = None) -> str:
        """The tables in ``iptables-save`` layout (rule text as kube-proxy wrote it; see the module docstring)."""
        cached = self._save_cache.get(table)
        if cached is not None:
            return cached
        with _gc_paused():
            return self._iptables_save(table)

    def _iptables_save(self, table: Optional[str]) -> str:
        if not self._view:
            self._build_view()
        view, owner, rules = self._view, self._chain_owner, self._rules
        lines = []
        for tbl in ([table] if table else TABLES):
            builtin = BUILTIN_CHAINS[tbl]
            user = self._user_chains(tbl)
            lines.append(f"*{tbl}")
            lines += [f":{c} ACCEPT [0:0]" for c in builtin]
            lines += [f":{c} - [0:0]" for c in user]
            for chain in builtin:
                lines += view[(tbl, chain)]
            for chain in user:
                chain_rules = view.get((tbl, chain))
                if chain_rules is None:
                    spn = owner.get(chain) if tbl == "nat" else None
                    chain_rules = rules[spn].nat_chains[chain] if spn is not None else ()
                lines += chain_rules
            lines.append("COMMIT")
        lines.append("")
        text = "\n".join(lines)
        self._save_cache[table] = text
        return text

    def restore_data(self) -> str:
        """The ``iptables-restore --noflush`` input of the last sync (filter then nat), as upstream's tests see it.

        On a partial sync only the chains of changed services are written; ``-X`` deletes chains no longer used."""
        if self._last_restore is None:
            return ""
        _full, rebuilt, deleted = self._last_restore
        entries = [(spn, self._rules[spn], spn in rebuilt) for spn in self._ordered()]
        out = ["*filter"]
        out += [f":{c} - [0:0]" for c in (KUBE_SERVICES_CHAIN, KUBE_EXTERNAL_SERVICES_CHAIN, KUBE_FORWARD_CHAIN,
                                          KUBE_NODE_PORTS_CHAIN, KUBE_PROXY_FIREWALL_CHAIN)]
        if self.localhost_nodeports:
            out.append(f":{KUBELET_FIREWALL_CHAIN} - [0:0]")
        out += self._firewall_rules()
        for _spn, r, _rebuilt in entries:
            out += r.filter_lines
        out += self._forward_rules()
        out += ["COMMIT", "*nat"]
        out += [f":{c} - [0:0]" for c in (KUBE_SERVICES_CHAIN, KUBE_NODE_PORTS_CHAIN, KUBE_POSTROUTING_CHAIN,
                                          KUBE_MARK_MASQ_CHAIN)]
        for _spn, r, rebuilt in entries:
            if rebuilt:
                out += [f":{c} - [0:0]" for c in r.nat_chains]
        out += [f":{c} - [0:0]" for c in deleted]
        out += self._global_nat_rules()
        for _spn, r, rebuilt in entries:
            out += r.nat_top_lines
            if rebuilt:
                for lines in r.nat_chains.values():
                    out += lines
        out += [f"-X {c}" for c in deleted]
        out += self._nodeports_tail()
        out.append("COMMIT")
        return "\n".join(out) + "\n"

    # -- packet walk ---------------------------------------------------------------------------------------------

    def _is_local_address(self, ip: str) -> bool:
        return ip == self.node_ip or ip.startswith("127.")

    def walk(self, dst_ip: str, dst_port: int, protocol: str = "TCP", src_ip: Optional[str] = None,
             rng: Optional[random.Random] = None, hook: str = "OUTPUT", now_ms: int = 0) -> Walk:
        """Follow the first packet of a new connection through the tables, rule by rule.

        ``hook="OUTPUT"``: sent by a process on this node (source defaults to the node IP).
        ``hook="PREROUTING"``: arriving from a pod on this node or from another host (``src_ip`` required).
        Random ``-m statistic`` matches use ``rng.random() < probability`` (``rng`` defaults to the proxier's).
        ``now_ms`` is the time seen by the ``-m recent`` tables of ClientIP session affinity."""
        if hook not in ("OUTPUT", "PREROUTING"):
            raise ValueError(f"hook must be OUTPUT or PREROUTING, not {hook!r}")
        if src_ip is None:
            if hook == "PREROUTING":
                raise ValueError("src_ip is required for a packet arriving on PREROUTING")
            src_ip = self.node_ip
        rng = rng if rng is not None else self.rng
        pkt = _Packet(src_ip, dst_ip, protocol.lower(), int(dst_port))
        result = Walk(src_ip=src_ip, dst=f"{dst_ip}:{dst_port}", protocol=protocol, hook=hook)

        verdict = self._traverse("nat", hook, pkt, result, rng, now_ms)
        if verdict == "DNAT":
            result.endpoint = f"{pkt.dst}:{pkt.dport}"
        filter_chain = "OUTPUT" if hook == "OUTPUT" else ("INPUT" if self._is_local_address(pkt.dst) else "FORWARD")
        verdict = self._traverse("filter", filter_chain, pkt, result, rng, now_ms)
        if verdict in ("DROP", "REJECT"):
            result.verdict = verdict
            return result
        result.verdict = "DNAT" if result.endpoint else "ACCEPT"
        if filter_chain != "INPUT":
            result.masqueraded = self._traverse("nat", "POSTROUTING", pkt, result, rng, now_ms) == "MASQUERADE"
        return result

    def _matches(self, rule: Rule, pkt: _Packet, rng: random.Random, now_ms: int) -> bool:
        if rule.src is not None and _in_net(pkt.src, rule.src) == rule.src_negated:
            return False
        if rule.dst is not None and _in_net(pkt.dst, rule.dst) == rule.dst_negated:
            return False
        if rule.proto is not None and rule.proto != pkt.proto:
            return False
        if rule.dport is not None and rule.dport != pkt.dport:
            return False
        if rule.src_type == "LOCAL" and self._is_local_address(pkt.src) == rule.src_type_negated:
            return False
        if rule.dst_type == "LOCAL" and not self._is_local_address(pkt.dst):
            return False
        if rule.mark is not None:
            value, _, mask = rule.mark.partition("/")
            mask_i = int(mask or "0xffffffff", 16)
            if ((pkt.mark & mask_i) == int(value, 16)) == rule.mark_negated:
                return False
        if rule.ctstate is not None:
            if bool(set(rule.ctstate.split(",")) & pkt.ctstate) == rule.ctstate_negated:
                return False
        if rule.recent is not None and rule.recent.get("mode") == "rcheck":
            table = self._recent.setdefault(rule.recent["name"], {})
            seconds = rule.recent.get("seconds")
            if seconds is not None and rule.recent.get("reap"):
                for ip in [ip for ip, seen in table.items() if now_ms - seen > seconds * 1000]:
                    del table[ip]
            seen = table.get(pkt.src)
            if seen is None or (seconds is not None and now_ms - seen > seconds * 1000):
                return False
        if rule.match_set is not None and self._set_match(rule.match_set[0], rule.match_set[1], pkt) == \
                rule.match_set_negated:
            return False
        if rule.physdev_is_in_negated is not None and pkt.bridged == rule.physdev_is_in_negated:
            return False
        if rule.ipvs_vaddr is not None and pkt.ipvs != rule.ipvs_vaddr:
            return False
        if rule.probability is not None and not rng.random() < float(rule.probability):
            return False
        if rule.recent is not None and rule.recent.get("mode") == "set":
            self._recent.setdefault(rule.recent["name"], {})[pkt.src] = now_ms
        return True

    def _set_match(self, name: str, flags: str, pkt: _Packet) -> bool:
        """``-m set --match-set``: iptables mode writes no such rules (IPVS mode overrides this)."""
        return False

    def _traverse(self, table: str, chain: str, pkt: _Packet, result: Walk, rng, now_ms: int) -> Optional[str]:
        """Evaluate a chain; returns a terminating verdict, or None when the chain ran out / RETURNed."""
        result.chains.append(chain)
        for rule in self.rules(table, chain):
            matched = self._matches(rule, pkt, rng, now_ms)
            result.steps.append(Step(chain, rule.text, matched, table))
            if not matched or rule.target is None:
                continue
            target = rule.target
            if target == "RETURN":
                return None
            if target == "MARK":
                args = rule.target_args
                value = int(args[1], 16)
                pkt.mark = pkt.mark | value if args[0] == "--or-mark" else pkt.mark ^ value
                continue
            if target == "DNAT":
                ip, _, port = rule.dnat_to.rpartition(":")
                pkt.dst, pkt.dport = ip, int(port)
                pkt.ctstate.add("DNAT")
                result.sep_chain = chain
                return "DNAT"
            if target in ("ACCEPT", "DROP", "REJECT", "MASQUERADE"):
                return target
            verdict = self._traverse(table, target, pkt, result, rng, now_ms)
            if verdict is not None:
                return verdict
        return None

    def trace_packet(self, src: str, dst: str, port: int, proto: str = "TCP", src_port: Optional[int] = None,
                     now_ms: int = 0, rng: Optional[random.Random] = None) -> PacketTrace:
        """Follow one packet of the flow ``proto src:src_port -> dst:port`` through this node (see k8slab.proxy.trace).

        A flow already in conntrack is ESTABLISHED: the nat table is skipped and the stored DNAT applies. A new
        flow walks the rules (``walk()``) and, if accepted, is added to conntrack. ``src_port`` None: a new
        ephemeral port, i.e. a new connection."""
        proto = proto.upper()
        port = int(port)
        hook = "OUTPUT" if self._is_local_address(src) else "PREROUTING"
        sport = self.conntrack.ephemeral_port() if src_port is None else int(src_port)
        trace = PacketTrace(self.hostname, "iptables", src, sport, dst, port, proto, hook)
        entry = self.conntrack.lookup(proto, src, sport, dst, port, now_ms)
        if entry is not None:
            trace.conntrack = "ESTABLISHED"
            trace.dnat, trace.masqueraded = entry.dnat, entry.masqueraded
            pkt = _Packet(src, entry.reply_src, proto.lower(), entry.reply_sport)
            pkt.ctstate = {"ESTABLISHED"} | ({"DNAT"} if entry.dnat else set())
            walk = Walk(src_ip=src, dst=f"{dst}:{port}", protocol=proto, hook=hook)
            chain = "OUTPUT" if hook == "OUTPUT" else ("INPUT" if self._is_local_address(pkt.dst) else "FORWARD")
            verdict = self._traverse("filter", chain, pkt, walk, rng or self.rng, now_ms)
            trace.path, trace.chains = walk.steps, walk.chains
            if verdict in ("DROP", "REJECT"):
                trace.verdict = verdict
            return trace
        walk = self.walk(dst, port, proto, src, rng=rng, hook=hook, now_ms=now_ms)
        trace.path, trace.chains = walk.steps, walk.chains
        trace.dnat, trace.sep_chain, trace.masqueraded = walk.endpoint, walk.sep_chain, walk.masqueraded
        if walk.verdict in ("REJECT", "DROP"):
            trace.verdict = walk.verdict
            last = walk.steps[-1]
            trace.reason = parse_rule(last.table, last.rule).comment or ""
            return trace
        self.conntrack.add(proto, src, sport, dst, port, walk.endpoint, now_ms, walk.masqueraded)
        return trace

    def recent_table(self, name: str) -> dict:
        """The ``/proc/net/xt_recent/<name>`` table: source IP -> last seen (ms)."""
        return dict(self._recent.get(name, {}))
