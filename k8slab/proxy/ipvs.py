"""Mirrors: pkg/proxy/ipvs/proxier.go, pkg/proxy/ipvs/ipset.go, pkg/proxy/ipvs/graceful_termination.go,
pkg/util/ipset/ipset.go (entry formats), and the kernel side: net/netfilter/ipvs/ip_vs_ctl.c (services and
destinations), ip_vs_conn.c and ip_vs_proto_tcp.c / ip_vs_proto_udp.c (connection entries and their timeouts),
ip_vs_core.c (persistence templates), with the schedulers in ``k8slab.proxy.ipvs_schedulers``.

kube-proxy in IPVS mode. The same Service and EndpointSlice trackers as iptables mode feed a different kernel
model:

* every Service address kube-proxy serves (cluster IP, external IPs, load-balancer ingress IPs) is bound to the
  dummy interface ``kube-ipvs0``, so the node accepts packets for it; NodePorts use the node's own addresses;
* one IPVS *virtual server* per address and port, with the configured scheduler (``--ipvs-scheduler``, default
  ``rr``) and ``persistent <timeout>`` for sessionAffinity ClientIP;
* one *real server* per endpoint, weight 1, forwarding method Masq (NAT);
* a handful of ipsets (``KUBE-CLUSTER-IP`` hash:ip,port, ``KUBE-LOOP-BACK`` hash:ip,port,ip,
  ``KUBE-NODE-PORT-TCP`` bitmap:port, ...) and a small, fixed set of iptables rules that match those sets, for
  masquerading, hairpin traffic, load-balancer source ranges and filtering. The rule count does not grow with the
  number of Services; the sets and the IPVS hash tables do.

A packet to a virtual server is found with a hash lookup (connection table first, then the service table), so
its cost does not depend on how many Services exist. Removed endpoints are drained, as upstream's graceful
termination manager does: a real server that still has connections gets weight 0 and is deleted once its active
and inactive counts reach 0.

Connection entries: a TCP connection is counted *active* while ESTABLISHED (timeout 900 s) and *inactive* after
the client closes it (FIN_WAIT, 120 s); UDP entries are always inactive (timeout 300 s). These are the kernel's
defaults, which kube-proxy keeps unless ``ipvs.tcpTimeout`` / ``tcpFinTimeout`` / ``udpTimeout`` are set.

Order: kube-proxy adds the new real servers of a sync in Go map order (unspecified); here they are added in sorted
"ip:port" order, so that runs are reproducible. Each goes to the head of the kernel's list (see
``k8slab.proxy.ipvs_schedulers``), which is the order ``rr`` and the other schedulers scan.

Not modelled: IPv6, SCTP node ports, the ``mh``, ``wrr``, ``wlc``, ``lblc`` and ``lblcr`` schedulers, connection
thresholds (overload), and the once-a-minute period of the graceful-termination check (it runs at each sync and
whenever connections expire). ``ipset_list()`` leaves out the kernel-dependent "Revision" and "Size in memory" lines.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Optional

from .iptables import (
    BUILTIN_CHAINS, Proxier as IptablesProxier, Step, Walk, _Packet, _in_net, categorize_endpoints, parse_rule)
from .ipvs_schedulers import Dest, new_scheduler
from .trace import PacketTrace

__all__ = ["IpvsProxier", "VirtualServer", "Connection", "IPSet", "IPSET_INFO", "DEFAULT_SCHEDULER",
           "DEFAULT_DUMMY_DEVICE", "TCP_TIMEOUT_S", "TCP_FIN_TIMEOUT_S", "UDP_TIMEOUT_S"]

DEFAULT_SCHEDULER = "rr"
DEFAULT_DUMMY_DEVICE = "kube-ipvs0"
# Kernel defaults (ip_vs_proto_tcp.c tcp_timeouts, ip_vs_proto_udp.c udp_timeouts); kube-proxy keeps them.
TCP_TIMEOUT_S = 15 * 60
TCP_FIN_TIMEOUT_S = 2 * 60
UDP_TIMEOUT_S = 5 * 60
IP_VS_CONN_TAB_SIZE = 4096     # ipvsadm's "(size=4096)": 1 << CONFIG_IP_VS_TAB_BITS (12)

KUBE_SERVICES_CHAIN = "KUBE-SERVICES"
KUBE_PROXY_FIREWALL_CHAIN = "KUBE-PROXY-FIREWALL"
KUBE_SOURCE_RANGES_FIREWALL_CHAIN = "KUBE-SOURCE-RANGES-FIREWALL"
KUBE_POSTROUTING_CHAIN = "KUBE-POSTROUTING"
KUBE_MARK_MASQ_CHAIN = "KUBE-MARK-MASQ"
KUBE_NODE_PORT_CHAIN = "KUBE-NODE-PORT"
KUBE_FORWARD_CHAIN = "KUBE-FORWARD"
KUBE_LOAD_BALANCER_CHAIN = "KUBE-LOAD-BALANCER"
KUBE_IPVS_FILTER_CHAIN = "KUBE-IPVS-FILTER"
KUBE_IPVS_OUT_FILTER_CHAIN = "KUBE-IPVS-OUT-FILTER"

# ipset.go: name, type, comment
IPSET_INFO = (
    ("KUBE-LOOP-BACK", "hash:ip,port,ip", "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"),
    ("KUBE-CLUSTER-IP", "hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose"),
    ("KUBE-EXTERNAL-IP", "hash:ip,port", "Kubernetes service external ip + port for masquerade and filter purpose"),
    ("KUBE-EXTERNAL-IP-LOCAL", "hash:ip,port",
     "Kubernetes service external ip + port with externalTrafficPolicy=local"),
    ("KUBE-LOAD-BALANCER", "hash:ip,port", "Kubernetes service lb portal"),
    ("KUBE-LOAD-BALANCER-FW", "hash:ip,port",
     "Kubernetes service load balancer ip + port for load balancer with sourceRange"),
    ("KUBE-LOAD-BALANCER-LOCAL", "hash:ip,port",
     "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"),
    ("KUBE-LOAD-BALANCER-SOURCE-IP", "hash:ip,port,ip",
     "Kubernetes service load balancer ip + port + source IP for packet filter purpose"),
    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "hash:ip,port,net",
     "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"),
    ("KUBE-NODE-PORT-TCP", "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"),
    ("KUBE-NODE-PORT-LOCAL-TCP", "bitmap:port", "Kubernetes nodeport TCP port with externalTrafficPolicy=local"),
    ("KUBE-NODE-PORT-UDP", "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"),
    ("KUBE-NODE-PORT-LOCAL-UDP", "bitmap:port", "Kubernetes nodeport UDP port with externalTrafficPolicy=local"),
    ("KUBE-NODE-PORT-SCTP-HASH", "hash:ip,port",
     "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"),
    ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "hash:ip,port",
     "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"),
    ("KUBE-HEALTH-CHECK-NODE-PORT", "bitmap:port", "Kubernetes health check node port"),
    ("KUBE-IPVS-IPS", "hash:ip", "Addresses on the ipvs interface"),
)

# ipsetWithIptablesChain: (set, table, from chain, to, match type, protocol match)
IPSET_WITH_IPTABLES_CHAIN = (
    ("KUBE-LOOP-BACK", "nat", KUBE_POSTROUTING_CHAIN, "MASQUERADE", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER", "nat", KUBE_SERVICES_CHAIN, KUBE_LOAD_BALANCER_CHAIN, "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-LOCAL", "nat", KUBE_LOAD_BALANCER_CHAIN, "RETURN", "dst,dst", ""),
    ("KUBE-NODE-PORT-LOCAL-TCP", "nat", KUBE_NODE_PORT_CHAIN, "RETURN", "dst", "tcp"),
    ("KUBE-NODE-PORT-TCP", "nat", KUBE_NODE_PORT_CHAIN, KUBE_MARK_MASQ_CHAIN, "dst", "tcp"),
    ("KUBE-NODE-PORT-LOCAL-UDP", "nat", KUBE_NODE_PORT_CHAIN, "RETURN", "dst", "udp"),
    ("KUBE-NODE-PORT-UDP", "nat", KUBE_NODE_PORT_CHAIN, KUBE_MARK_MASQ_CHAIN, "dst", "udp"),
    ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "nat", KUBE_NODE_PORT_CHAIN, "RETURN", "dst,dst", "sctp"),
    ("KUBE-NODE-PORT-SCTP-HASH", "nat", KUBE_NODE_PORT_CHAIN, KUBE_MARK_MASQ_CHAIN, "dst,dst", "sctp"),
    ("KUBE-LOAD-BALANCER-FW", "filter", KUBE_PROXY_FIREWALL_CHAIN, KUBE_SOURCE_RANGES_FIREWALL_CHAIN, "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "filter", KUBE_SOURCE_RANGES_FIREWALL_CHAIN, "RETURN", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-IP", "filter", KUBE_SOURCE_RANGES_FIREWALL_CHAIN, "RETURN", "dst,dst,src", ""),
)

# iptablesJumpChain: (table, from, to, comment); each is ensured with a prepend.
IPVS_JUMP_CHAINS = (
    ("nat", "OUTPUT", KUBE_SERVICES_CHAIN, "kubernetes service portals"),
    ("nat", "PREROUTING", KUBE_SERVICES_CHAIN, "kubernetes service portals"),
    ("nat", "POSTROUTING", KUBE_POSTROUTING_CHAIN, "kubernetes postrouting rules"),
    ("filter", "FORWARD", KUBE_FORWARD_CHAIN, "kubernetes forwarding rules"),
    ("filter", "INPUT", KUBE_NODE_PORT_CHAIN, "kubernetes health check rules"),
    ("filter", "INPUT", KUBE_PROXY_FIREWALL_CHAIN, "kube-proxy firewall rules"),
    ("filter", "FORWARD", KUBE_PROXY_FIREWALL_CHAIN, "kube-proxy firewall rules"),
    ("filter", "INPUT", KUBE_IPVS_FILTER_CHAIN, "kubernetes ipvs access filter"),
    ("filter", "OUTPUT", KUBE_IPVS_OUT_FILTER_CHAIN, "kubernetes ipvs access filter"),
)
# iptablesChains
IPVS_CHAINS = {
    "nat": (KUBE_SERVICES_CHAIN, KUBE_POSTROUTING_CHAIN, KUBE_NODE_PORT_CHAIN, KUBE_LOAD_BALANCER_CHAIN,
            KUBE_MARK_MASQ_CHAIN),
    "filter": (KUBE_FORWARD_CHAIN, KUBE_NODE_PORT_CHAIN, KUBE_PROXY_FIREWALL_CHAIN, KUBE_SOURCE_RANGES_FIREWALL_CHAIN,
               KUBE_IPVS_FILTER_CHAIN, KUBE_IPVS_OUT_FILTER_CHAIN),
}

class IPSet:
    """One ipset (pkg/util/ipset): its type and its entries, as ``Entry.String()`` writes them."""

    def __init__(self, name: str, set_type: str, comment: str) -> None:
        self.name, self.set_type, self.comment = name, set_type, comment
        self.entries: set = set()
        self._nets: dict = {}       # hash:ip,port,net: "ip,proto:port" -> [cidr]

    def add(self, entry: str) -> None:
        self.entries.add(entry)
        if self.set_type == "hash:ip,port,net":
            key, _, net = entry.rpartition(",")
            self._nets.setdefault(key, []).append(net)

    def reset(self) -> None:
        self.entries = set()
        self._nets = {}

    def is_empty(self) -> bool:
        return not self.entries

    def contains_net(self, key: str, ip: str) -> bool:
        return any(_in_net(ip, net) for net in self._nets.get(key, ()))

    @property
    def header(self) -> str:
        if self.set_type.startswith("bitmap:"):
            return "range 0-65535"
        return "family inet hashsize 1024 maxelem 65536"

    def sorted_entries(self) -> list:
        def key(e: str):
            parts = e.replace(":", ",").split(",")
            out = []
            for p in parts:
                try:
                    out.append((0, int(ipaddress.ip_network(p, strict=False).network_address), p))
                except ValueError:
                    out.append((1, int(p), p) if p.isdigit() else (2, 0, p))
            return out
        return sorted(self.entries, key=key)


class VirtualServer:
    """An IPVS virtual service (``struct ip_vs_service``) and its destinations in the kernel's list order."""

    def __init__(self, protocol: str, address: str, port: int, scheduler: str, persistent: bool = False,
                 timeout: int = 0, service: str = "") -> None:
        self.protocol, self.address, self.port = protocol, address, int(port)
        self.scheduler_name = scheduler
        self.scheduler = new_scheduler(scheduler)
        self.persistent, self.timeout = persistent, timeout
        self.service = service          # "ns/name:port", for learners (IPVS itself does not know it)
        self.dests: list = []

    @property
    def key(self) -> tuple:
        return (self.protocol, self.address, self.port)

    def __str__(self) -> str:
        return f"{self.protocol} {self.address}:{self.port}"

    def dest(self, endpoint: str) -> Optional[Dest]:
        return next((d for d in self.dests if d.endpoint == endpoint), None)

    def add_dest(self, d: Dest) -> None:
        self.dests.insert(0, d)     # list_add_rcu: at the head
        self.scheduler.update(self.dests)

    def del_dest(self, d: Dest) -> None:
        self.scheduler.del_dest(self.dests, d)
        self.dests = [x for x in self.dests if x is not d]
        self.scheduler.update(self.dests)

    def set_weight(self, d: Dest, weight: int) -> None:
        d.weight = weight
        self.scheduler.update(self.dests)

    def set_scheduler(self, name: str) -> None:
        if name != self.scheduler_name:
            self.scheduler_name = name
            self.scheduler = new_scheduler(name)
            self.scheduler.update(self.dests)

    def schedule(self, saddr: str, sport: int = 0) -> Optional[Dest]:
        return self.scheduler.schedule(self.dests, saddr, self.address, sport)


class Connection:
    """An IPVS connection entry (``struct ip_vs_conn``): client -> virtual service -> real server."""
    __slots__ = ("protocol", "caddr", "cport", "vaddr", "vport", "dest", "state", "expires_ms", "masqueraded")

    def __init__(self, protocol, caddr, cport, vaddr, vport, dest, state, expires_ms, masqueraded=False):
        self.protocol, self.caddr, self.cport, self.vaddr, self.vport = protocol, caddr, cport, vaddr, vport
        self.dest, self.state, self.expires_ms, self.masqueraded = dest, state, expires_ms, masqueraded

    @property
    def key(self) -> tuple:
        return (self.protocol, self.caddr, self.cport, self.vaddr, self.vport)

    @property
    def active(self) -> bool:
        return self.protocol == "TCP" and self.state == "ESTABLISHED"


def _state_timeout_ms(protocol: str, state: str) -> int:
    if protocol == "UDP":
        return UDP_TIMEOUT_S * 1000
    return (TCP_TIMEOUT_S if state == "ESTABLISHED" else TCP_FIN_TIMEOUT_S) * 1000


class IpvsProxier(IptablesProxier):
    """kube-proxy's IPVS Proxier for one node (IPv4). Same constructor as the iptables Proxier plus ``scheduler``."""

    mode = "ipvs"

    def __init__(self, hostname: str, node_ip: str, cluster_cidr: Optional[str] = None, masquerade_bit: int = 14,
                 masquerade_all: bool = False, node_port_addresses=None, *, scheduler: str = DEFAULT_SCHEDULER,
                 random_fully: bool = True, rng: Optional[random.Random] = None, shared=None) -> None:
        super().__init__(hostname, node_ip, cluster_cidr, masquerade_bit, masquerade_all, node_port_addresses,
                         random_fully=random_fully, rng=rng, shared=shared)
        new_scheduler(scheduler or DEFAULT_SCHEDULER)   # validate
        self.scheduler = scheduler or DEFAULT_SCHEDULER
        self.virtual_servers: dict = {}      # (protocol, address, port) -> VirtualServer
        self.dummy_addresses: set = set()    # addresses bound to kube-ipvs0
        self.ipsets: dict = {name: IPSet(name, t, c) for name, t, c in IPSET_INFO}
        self.connections: dict = {}          # (protocol, caddr, cport, vaddr, vport) -> Connection
        self.templates: dict = {}            # persistence: (vs key, caddr) -> [Dest, expires_ms]
        self._graceful: set = set()          # (vs key, endpoint) drained with weight 0
        self._lb_no_node_access: list = []
        self._ipvs_view: dict = {}
        self._next_port = 32768

    # -- sync ---------------------------------------------------------------------------------------------------
    def set_scheduler(self, name: str) -> None:
        """Restart with another ``--ipvs-scheduler``: the next sync updates every virtual server."""
        new_scheduler(name)
        self.scheduler = name
        self._need_full_sync = True

    def _sync_proxy_rules(self, now_ms: Optional[int], force_full: bool) -> dict:
        updated = self._apply_changes()
        if now_ms is not None:
            self.expire(now_ms)
        for s in self.ipsets.values():
            s.reset()
        self._lb_no_node_access = []
        desired: dict = {}          # vs key -> (VirtualServer args, endpoints)
        bind: set = set()
        node_ips = [self.node_ip]   # all local addresses except kube-ipvs0's and loopback
        n_endpoints = 0
        for spn in sorted(self.svc_port_map):
            svc = self.svc_port_map[spn]
            proto = svc.protocol.lower()
            name = str(spn)
            endpoints = self.endpoints_map.get(spn, ())
            n_endpoints += len(endpoints)
            for ep in endpoints:
                if ep.is_local:
                    self.ipsets["KUBE-LOOP-BACK"].add(f"{ep.ip},{proto}:{ep.port},{ep.ip}")
            cluster_eps, local_eps, _reachable, _any = categorize_endpoints(endpoints, svc)
            affinity = svc.session_affinity_type == "ClientIP"
            timeout = svc.sticky_max_age_seconds if affinity else 0

            def want(address, port, only_local, _svc=svc, _c=cluster_eps, _l=local_eps, _n=name):
                eps = (_l or _c) if only_local else _c
                desired[(_svc.protocol, address, int(port))] = (affinity, timeout, _n,
                                                                sorted(e.endpoint for e in eps or ()))

            self.ipsets["KUBE-CLUSTER-IP"].add(f"{svc.cluster_ip},{proto}:{svc.port}")
            want(svc.cluster_ip, svc.port, svc.internal_policy_local)
            bind.add(svc.cluster_ip)
            for ip in svc.external_ips:
                setname = "KUBE-EXTERNAL-IP-LOCAL" if svc.external_policy_local else "KUBE-EXTERNAL-IP"
                self.ipsets[setname].add(f"{ip},{proto}:{svc.port}")
                want(ip, svc.port, svc.external_policy_local)
                if ip != self.node_ip:
                    bind.add(ip)
            for ip in svc.load_balancer_vips:
                entry = f"{ip},{proto}:{svc.port}"
                self.ipsets["KUBE-LOAD-BALANCER"].add(entry)
                if svc.external_policy_local:
                    self.ipsets["KUBE-LOAD-BALANCER-LOCAL"].add(entry)
                if svc.load_balancer_source_ranges:
                    self.ipsets["KUBE-LOAD-BALANCER-FW"].add(entry)
                    allow_from_node = False
                    for cidr in svc.load_balancer_source_ranges:
                        net = str(ipaddress.ip_network(cidr.strip(), strict=False))
                        self.ipsets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].add(f"{entry},{net}")
                        if _in_net(self.node_ip, net):
                            allow_from_node = True
                    if allow_from_node:
                        self.ipsets["KUBE-LOAD-BALANCER-SOURCE-IP"].add(f"{entry},{ip}")
                    else:
                        self._lb_no_node_access.append((ip, proto, svc.port))
                want(ip, svc.port, svc.external_policy_local)
                if ip != self.node_ip:
                    bind.add(ip)
            if svc.node_port:
                upper = svc.protocol.upper()
                if upper in ("TCP", "UDP"):
                    self.ipsets[f"KUBE-NODE-PORT-{upper}"].add(str(svc.node_port))
                    if svc.external_policy_local:
                        self.ipsets[f"KUBE-NODE-PORT-LOCAL-{upper}"].add(str(svc.node_port))
                for ip in node_ips:
                    want(ip, svc.node_port, svc.external_policy_local)
            if svc.health_check_node_port:
                self.ipsets["KUBE-HEALTH-CHECK-NODE-PORT"].add(str(svc.health_check_node_port))
        for ip in bind:
            self.ipsets["KUBE-IPVS-IPS"].add(ip)
        self.dummy_addresses = bind

        added = removed = 0
        for key, (persistent, timeout, name, eps) in desired.items():
            vs = self.virtual_servers.get(key)
            if vs is None:
                vs = VirtualServer(key[0], key[1], key[2], self.scheduler, persistent, timeout, name)
                self.virtual_servers[key] = vs
            else:
                vs.set_scheduler(self.scheduler)
                vs.persistent, vs.timeout, vs.service = persistent, timeout, name
            a, r = self._sync_endpoints(vs, eps)
            added, removed = added + a, removed + r
        for key in [k for k in self.virtual_servers if k not in desired]:
            del self.virtual_servers[key]
            for ck in [ck for ck, c in self.connections.items() if (c.protocol, c.vaddr, c.vport) == key]:
                del self.connections[ck]
            self._graceful = {g for g in self._graceful if g[0] != key}
        self._write_iptables_rules()
        self._need_full_sync = False
        self._view = {}
        self._save_cache = {}
        self.large_cluster_mode = False
        n_rules = sum(len(v) for v in self._ipvs_view.values())
        self.last_sync = {
            "full_sync": True, "partial_sync": False, "services": len(self.svc_port_map), "endpoints": n_endpoints,
            "services_rebuilt": len(updated), "virtual_servers": len(self.virtual_servers),
            "real_servers": sum(len(v.dests) for v in self.virtual_servers.values()),
            "real_servers_added": added, "real_servers_drained": removed,
            "ipset_entries": sum(len(s.entries) for s in self.ipsets.values()),
            "nat_rules": sum(len(v) for (t, _c), v in self._ipvs_view.items() if t == "nat"),
            "filter_rules": sum(len(v) for (t, _c), v in self._ipvs_view.items() if t == "filter"),
            "rules_written": n_rules, "large_cluster_mode": False,
        }
        return dict(self.last_sync)

    def _sync_endpoints(self, vs: VirtualServer, endpoints: list) -> tuple:
        """syncEndpoint: add new real servers (weight 1), drain removed ones (graceful termination)."""
        added = removed = 0
        wanted = set(endpoints)
        for ep in endpoints:
            d = vs.dest(ep)
            if d is None:
                ip, _, port = ep.rpartition(":")
                vs.add_dest(Dest(ip, int(port), 1))
                added += 1
            elif (vs.key, ep) in self._graceful:
                self._graceful.discard((vs.key, ep))
                vs.set_weight(d, 1)
        for d in list(vs.dests):
            if d.endpoint in wanted or (vs.key, d.endpoint) in self._graceful:
                continue
            removed += 1
            if vs.protocol == "TCP" and d.activeconns + d.inactconns > 0:
                vs.set_weight(d, 0)
                self._graceful.add((vs.key, d.endpoint))
            else:
                vs.del_dest(d)
        return added, removed

    def _graceful_delete_check(self) -> None:
        """GracefulTerminationManager.tryDeleteRs: a drained real server goes once it has no connections."""
        for key, ep in list(self._graceful):
            vs = self.virtual_servers.get(key)
            d = vs.dest(ep) if vs else None
            if d is None or d.activeconns + d.inactconns == 0:
                self._graceful.discard((key, ep))
                if d is not None:
                    vs.del_dest(d)

    # -- iptables rules (writeIptablesRules) ---------------------------------------------------------------------
    def _write_iptables_rules(self) -> None:
        nat: dict = {c: [] for c in IPVS_CHAINS["nat"]}
        flt: dict = {c: [] for c in IPVS_CHAINS["filter"]}
        sets = self.ipsets

        def comment(name):
            return f'"{sets[name].comment}"'

        nat[KUBE_SERVICES_CHAIN].append(f"-A {KUBE_SERVICES_CHAIN} -s 127.0.0.0/8 -j RETURN")
        for name, table, frm, to, match, proto in IPSET_WITH_IPTABLES_CHAIN:
            if sets[name].is_empty():
                continue
            line = f"-A {frm}" + (f" -p {proto}" if proto else "") + \
                   f" -m comment --comment {comment(name)} -m set --match-set {name} {match} -j {to}"
            (flt if table == "filter" else nat)[frm].append(line)
        if not sets["KUBE-CLUSTER-IP"].is_empty():
            args = f"-A {KUBE_SERVICES_CHAIN} -m comment --comment {comment('KUBE-CLUSTER-IP')} " \
                   f"-m set --match-set KUBE-CLUSTER-IP"
            if self.masquerade_all:
                nat[KUBE_SERVICES_CHAIN].append(f"{args} dst,dst -j {KUBE_MARK_MASQ_CHAIN}")
            elif self.cluster_cidr:
                nat[KUBE_SERVICES_CHAIN].append(f"{args} dst,dst ! -s {self.cluster_cidr} -j {KUBE_MARK_MASQ_CHAIN}")
            else:
                nat[KUBE_SERVICES_CHAIN].append(f"{args} src,dst -j {KUBE_MARK_MASQ_CHAIN}")

        def external_ip_rules(args):
            nat[KUBE_SERVICES_CHAIN].append(f"{args} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL "
                                            f"-j ACCEPT")
            nat[KUBE_SERVICES_CHAIN].append(f"{args} -m addrtype --dst-type LOCAL -j ACCEPT")

        if not sets["KUBE-EXTERNAL-IP"].is_empty():
            args = f"-A {KUBE_SERVICES_CHAIN} -m comment --comment {comment('KUBE-EXTERNAL-IP')} " \
                   f"-m set --match-set KUBE-EXTERNAL-IP dst,dst"
            nat[KUBE_SERVICES_CHAIN].append(f"{args} -j {KUBE_MARK_MASQ_CHAIN}")
            external_ip_rules(args)
        if not sets["KUBE-EXTERNAL-IP-LOCAL"].is_empty():
            external_ip_rules(f"-A {KUBE_SERVICES_CHAIN} -m comment --comment {comment('KUBE-EXTERNAL-IP-LOCAL')} "
                              f"-m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst")
        nat[KUBE_SERVICES_CHAIN].append(f"-A {KUBE_SERVICES_CHAIN} -m addrtype --dst-type LOCAL "
                                        f"-j {KUBE_NODE_PORT_CHAIN}")
        nat[KUBE_LOAD_BALANCER_CHAIN].append(f"-A {KUBE_LOAD_BALANCER_CHAIN} -j {KUBE_MARK_MASQ_CHAIN}")
        flt[KUBE_SOURCE_RANGES_FIREWALL_CHAIN].append(f"-A {KUBE_SOURCE_RANGES_FIREWALL_CHAIN} -j DROP")
        for ip, proto, port in self._lb_no_node_access:
            flt[KUBE_IPVS_OUT_FILTER_CHAIN].append(
                f"-A {KUBE_IPVS_OUT_FILTER_CHAIN} -s {ip} -m ipvs --vaddr {ip} --vproto {proto} --vport {port} -j DROP")
        # acceptIPVSTraffic
        for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):
            if not sets[name].is_empty():
                nat[KUBE_SERVICES_CHAIN].append(f"-A {KUBE_SERVICES_CHAIN} -m set --match-set {name} dst,dst -j ACCEPT")
        mark = self.masquerade_mark
        flt[KUBE_FORWARD_CHAIN] += [
            f'-A {KUBE_FORWARD_CHAIN} -m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} '
            "-j ACCEPT",
            f'-A {KUBE_FORWARD_CHAIN} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack '
            "--ctstate RELATED,ESTABLISHED -j ACCEPT"]
        flt[KUBE_NODE_PORT_CHAIN].append(
            f"-A {KUBE_NODE_PORT_CHAIN} -m comment --comment {comment('KUBE-HEALTH-CHECK-NODE-PORT')} "
            "-m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT")
        for name, match in (("KUBE-LOAD-BALANCER", "dst,dst"), ("KUBE-CLUSTER-IP", "dst,dst"),
                            ("KUBE-EXTERNAL-IP", "dst,dst"), ("KUBE-EXTERNAL-IP-LOCAL", "dst,dst"),
                            ("KUBE-HEALTH-CHECK-NODE-PORT", "dst")):
            flt[KUBE_IPVS_FILTER_CHAIN].append(f"-A {KUBE_IPVS_FILTER_CHAIN} -m set --match-set {name} {match} "
                                               "-j RETURN")
        flt[KUBE_IPVS_FILTER_CHAIN].append(f"-A {KUBE_IPVS_FILTER_CHAIN} -m conntrack --ctstate NEW -m set "
                                           "--match-set KUBE-IPVS-IPS dst -j REJECT")
        nat[KUBE_POSTROUTING_CHAIN] += [
            f"-A {KUBE_POSTROUTING_CHAIN} -m mark ! --mark {mark}/{mark} -j RETURN",
            f"-A {KUBE_POSTROUTING_CHAIN} -j MARK --xor-mark {mark}",
            f'-A {KUBE_POSTROUTING_CHAIN} -m comment --comment "kubernetes service traffic requiring SNAT" '
            "-j MASQUERADE" + (" --random-fully" if self.random_fully else "")]
        nat[KUBE_MARK_MASQ_CHAIN].append(f"-A {KUBE_MARK_MASQ_CHAIN} -j MARK --or-mark {mark}")

        view: dict = {}
        for table in ("filter", "nat"):
            for chain in BUILTIN_CHAINS[table]:
                lines = []
                for tbl, frm, to, text in IPVS_JUMP_CHAINS:
                    if tbl == table and frm == chain:
                        lines.insert(0, f'-A {frm} -m comment --comment "{text}" -j {to}')
                view[(table, chain)] = lines
        for chain, lines in nat.items():
            view[("nat", chain)] = lines
        for chain, lines in flt.items():
            view[("filter", chain)] = lines
        self._ipvs_view = view

    # -- the kernel view -----------------------------------------------------------------------------------------
    def _user_chains(self, table: str) -> list:
        if table not in IPVS_CHAINS:
            raise ValueError(f"unknown table {table!r} (IPVS mode writes the filter and nat tables)")
        return sorted(IPVS_CHAINS[table])

    def chains(self, table: str = "nat") -> list:
        return list(BUILTIN_CHAINS[table]) + self._user_chains(table)

    def chain_lines(self, table: str, chain: str) -> list:
        lines = self._ipvs_view.get((table, chain))
        if lines is None:
            raise KeyError(f"iptables: chain {chain} does not exist in table {table}")
        return lines

    def _iptables_save(self, table: Optional[str]) -> str:
        out = []
        for tbl in ([table] if table else ("filter", "nat")):
            user = self._user_chains(tbl)
            out.append(f"*{tbl}")
            out += [f":{c} ACCEPT [0:0]" for c in BUILTIN_CHAINS[tbl]]
            out += [f":{c} - [0:0]" for c in user]
            for chain in list(BUILTIN_CHAINS[tbl]) + user:
                out += self._ipvs_view.get((tbl, chain), [])
            out.append("COMMIT")
        out.append("")
        text = "\n".join(out)
        self._save_cache[table] = text
        return text

    def restore_data(self) -> str:
        return self.iptables_save()

    def ipvsadm_ln(self, stats: bool = False) -> str:
        """``ipvsadm -Ln``: services sorted by protocol, address, port; destinations by address, port."""
        lines = [f"IP Virtual Server version 1.2.1 (size={IP_VS_CONN_TAB_SIZE})",
                 "Prot LocalAddress:Port Scheduler Flags",
                 "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
        order = {"TCP": 6, "UDP": 17, "SCTP": 132}

        def ip_key(ip):
            return int(ipaddress.IPv4Address(ip))

        for vs in sorted(self.virtual_servers.values(),
                         key=lambda v: (order.get(v.protocol, 0), ip_key(v.address), v.port)):
            head = f"{vs.protocol}  {vs.address}:{vs.port} {vs.scheduler_name}"
            if vs.persistent:
                head += f" persistent {vs.timeout}"
            lines.append(head)
            for d in sorted(vs.dests, key=lambda d: (ip_key(d.address), d.port)):
                lines.append(f"  -> {d.endpoint:<28} {'Masq':<7} {d.weight:<6} {d.activeconns:<10} "
                             f"{d.inactconns:<10}")
        return "\n".join(lines) + "\n"

    def ipvsadm_lnc(self, now_ms: int = 0) -> str:
        """``ipvsadm -Lnc``: the connection table with the time left on each entry (mm:ss)."""
        self.expire(now_ms)
        lines = ["IPVS connection entries",
                 "pro expire state       source             virtual            destination"]
        for c in sorted(self.connections.values(), key=lambda c: c.key):
            left = max(0, (c.expires_ms - now_ms) // 1000)
            lines.append(f"{c.protocol:<3} {left // 60:02d}:{left % 60:02d}  "
                         f"{(c.state if c.protocol == 'TCP' else 'UDP'):<11} "
                         f"{c.caddr + ':' + str(c.cport):<18} {c.vaddr + ':' + str(c.vport):<18} {c.dest.endpoint}")
        return "\n".join(lines) + "\n"

    def ipset_list(self, name: Optional[str] = None) -> str:
        """``ipset list``: every set kube-proxy uses, or one."""
        sets = [self.ipsets[name]] if name else [self.ipsets[n] for n, _t, _c in IPSET_INFO]
        refs = {}
        for lines in self._ipvs_view.values():
            for line in lines:
                if "--match-set " in line:
                    n = line.split("--match-set ", 1)[1].split(" ", 1)[0]
                    refs[n] = refs.get(n, 0) + 1
        blocks = []
        for s in sets:
            members = s.sorted_entries()
            blocks.append("\n".join([f"Name: {s.name}", f"Type: {s.set_type}", f"Header: {s.header}",
                                     f"References: {refs.get(s.name, 0)}", f"Number of entries: {len(members)}",
                                     "Members:"] + members))
        return "\n\n".join(blocks) + "\n"

    def ip_addr_show_dummy(self) -> str:
        """``ip addr show kube-ipvs0``: the Service addresses bound to the dummy interface (each a /32)."""
        lines = [f"5: {DEFAULT_DUMMY_DEVICE}: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default",
                 "    link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff"]
        for ip in sorted(self.dummy_addresses, key=lambda a: int(ipaddress.IPv4Address(a))):
            lines += [f"    inet {ip}/32 scope global {DEFAULT_DUMMY_DEVICE}",
                      "       valid_lft forever preferred_lft forever"]
        return "\n".join(lines) + "\n"

    # -- connections ---------------------------------------------------------------------------------------------
    def expire(self, now_ms: int) -> int:
        """Expire connection entries and persistence templates whose timers ran out."""
        dead = [c for c in self.connections.values() if c.expires_ms <= now_ms]
        for c in dead:
            self._unbind(c)
            del self.connections[c.key]
        for k in [k for k, (_d, exp) in self.templates.items() if exp <= now_ms]:
            d = self.templates.pop(k)[0]
            d.persistconns = max(0, d.persistconns - 1)
        if self._graceful:
            self._graceful_delete_check()
        return len(dead)

    @staticmethod
    def _unbind(c: Connection) -> None:
        if c.active:
            c.dest.activeconns -= 1
        else:
            c.dest.inactconns -= 1

    def close_connection(self, src: str, sport: int, dst: str, dport: int, proto: str = "TCP",
                         now_ms: int = 0) -> bool:
        """The client closes a TCP connection: ESTABLISHED (active) -> FIN_WAIT (inactive, 120 s)."""
        c = self.connections.get((proto.upper(), src, int(sport), dst, int(dport)))
        if c is None or not c.active:
            return False
        c.dest.activeconns -= 1
        c.dest.inactconns += 1
        c.state = "FIN_WAIT"
        c.expires_ms = now_ms + _state_timeout_ms(c.protocol, c.state)
        return True

    def _schedule(self, vs: VirtualServer, src: str, sport: int, now_ms: int):
        """ip_vs_schedule / ip_vs_sched_persist. Returns (dest, "template" | "scheduler")."""
        if vs.persistent:
            key = (vs.key, src)
            tpl = self.templates.get(key)
            # expire_quiescent_template=1 (kube-proxy sets it): a template to a weight-0 server is not used
            if tpl is not None and tpl[1] > now_ms and tpl[0] in vs.dests and tpl[0].weight > 0:
                tpl[1] = now_ms + vs.timeout * 1000
                return tpl[0], "template"
            if tpl is not None:
                tpl[0].persistconns = max(0, tpl[0].persistconns - 1)
                del self.templates[key]
            d = vs.schedule(src, sport)
            if d is not None:
                self.templates[key] = [d, now_ms + vs.timeout * 1000]
                d.persistconns += 1
            return d, "scheduler"
        return vs.schedule(src, sport), "scheduler"

    # -- packets --------------------------------------------------------------------------------------------------
    def _is_local_address(self, ip: str) -> bool:
        return ip == self.node_ip or ip.startswith("127.") or ip in self.dummy_addresses

    def _set_match(self, name: str, flags: str, pkt: _Packet) -> bool:
        s = self.ipsets.get(name)
        if s is None or not s.entries:
            return False
        dirs = flags.split(",")

        def ip(d):
            return pkt.src if d == "src" else pkt.dst

        def port(d):
            return pkt.sport if d == "src" else pkt.dport

        t = s.set_type
        if t == "hash:ip":
            return ip(dirs[0]) in s.entries
        if t == "bitmap:port":
            return str(port(dirs[0])) in s.entries
        key = f"{ip(dirs[0])},{pkt.proto}:{port(dirs[1])}"
        if t == "hash:ip,port":
            return key in s.entries
        if t == "hash:ip,port,ip":
            return f"{key},{ip(dirs[2])}" in s.entries
        return s.contains_net(key, ip(dirs[2]))

    def trace_packet(self, src: str, dst: str, port: int, proto: str = "TCP", src_port: Optional[int] = None,
                     now_ms: int = 0, rng: Optional[random.Random] = None) -> PacketTrace:
        """Follow one packet: connection table, the nat hook, filter INPUT, the IPVS service lookup and scheduler
        (LOCAL_IN / LOCAL_OUT), filter OUTPUT, nat POSTROUTING. See k8slab.proxy.trace."""
        proto, port = proto.upper(), int(port)
        rng = rng if rng is not None else self.rng
        self.expire(now_ms)
        hook = "OUTPUT" if self._is_local_address(src) and src not in self.dummy_addresses else "PREROUTING"
        sport = self.conntrack.ephemeral_port() if src_port is None else int(src_port)
        trace = PacketTrace(self.hostname, "ipvs", src, sport, dst, port, proto, hook)
        conn = self.connections.get((proto, src, sport, dst, port))
        trace.lookups = 1
        if conn is not None:
            # an established flow: no nat rules (conntrack), the filter chains with --ctstate ESTABLISHED, then
            # the connection entry rewrites the destination
            trace.conntrack = "ESTABLISHED"
            trace.dnat, trace.masqueraded = conn.dest.endpoint, conn.masqueraded
            trace.virtual_server = f"{proto} {dst}:{port}"
            vs = self.virtual_servers.get((proto, dst, port))
            trace.scheduler = vs.scheduler_name if vs else None
            conn.expires_ms = now_ms + _state_timeout_ms(conn.protocol, conn.state)
            pkt = _Packet(src, dst, proto.lower(), port, sport)
            pkt.ctstate = {"ESTABLISHED"}
            walk = Walk(src_ip=src, dst=f"{dst}:{port}", protocol=proto, hook=hook)
            if hook == "PREROUTING":
                self._traverse("filter", "INPUT", pkt, walk, rng, now_ms)
            walk.chains.append("IPVS")
            walk.steps.append(Step("IPVS", f"connection {proto} {src}:{sport} -> {dst}:{port} -> "
                                           f"{conn.dest.endpoint} ({conn.state})", True, "ipvs"))
            pkt.ipvs = (dst, proto, port)
            pkt.dst, pkt.dport = conn.dest.address, conn.dest.port
            pkt.ctstate.add("DNAT")
            self._traverse("filter", "OUTPUT", pkt, walk, rng, now_ms)
            trace.path, trace.chains = walk.steps, walk.chains
            return trace
        pkt = _Packet(src, dst, proto.lower(), port, sport)
        walk = Walk(src_ip=src, dst=f"{dst}:{port}", protocol=proto, hook=hook)

        def finish(verdict: str, reason: str = "") -> PacketTrace:
            trace.path, trace.chains = walk.steps, walk.chains
            trace.verdict, trace.reason = verdict, reason
            return trace

        v = self._traverse("nat", hook, pkt, walk, rng, now_ms)
        if v in ("DROP", "REJECT"):
            return finish(v)
        local = self._is_local_address(pkt.dst)
        if hook == "PREROUTING":
            v = self._traverse("filter", "INPUT" if local else "FORWARD", pkt, walk, rng, now_ms)
            if v in ("DROP", "REJECT"):
                last = walk.steps[-1]
                return finish(v, parse_rule(last.table, last.rule).comment or "")
        vs = self.virtual_servers.get((proto, pkt.dst, pkt.dport)) if local else None
        dest = None
        if vs is not None:
            trace.lookups += 1
            trace.virtual_server, trace.scheduler = str(vs), vs.scheduler_name
            dest, how = self._schedule(vs, src, sport, now_ms)
            walk.chains.append("IPVS")
            if dest is None:
                walk.steps.append(Step("IPVS", f"{vs} {vs.scheduler_name}: no destination available", True, "ipvs"))
                # ip_vs_leave: ICMP port unreachable back to the client
                return finish("REJECT", f"{vs} has no destination available")
            walk.steps.append(Step("IPVS", f"{vs} {vs.scheduler_name}" + (" persistent" if how == "template" else "")
                                   + f" -> {dest.endpoint} Masq", True, "ipvs"))
            pkt.ipvs = (vs.address, vs.protocol, vs.port)
            pkt.dst, pkt.dport = dest.address, dest.port
            pkt.ctstate.add("DNAT")
            trace.dnat = dest.endpoint
        if hook == "OUTPUT" or vs is not None:
            v = self._traverse("filter", "OUTPUT", pkt, walk, rng, now_ms)
            if v in ("DROP", "REJECT"):
                trace.dnat = None
                return finish(v)
        if not (vs is None and local):
            trace.masqueraded = self._traverse("nat", "POSTROUTING", pkt, walk, rng, now_ms) == "MASQUERADE"
        if dest is not None:
            state = "ESTABLISHED" if proto == "TCP" else "UDP"
            c = Connection(proto, src, sport, dst, port, dest, state, now_ms + _state_timeout_ms(proto, state),
                           trace.masqueraded)
            if c.active:
                dest.activeconns += 1
            else:
                dest.inactconns += 1
            self.connections[c.key] = c
        return finish("ACCEPT")

    def walk(self, dst_ip: str, dst_port: int, protocol: str = "TCP", src_ip: Optional[str] = None,
             rng: Optional[random.Random] = None, hook: str = "OUTPUT", now_ms: int = 0) -> Walk:
        """The first packet of a new connection, as ``Walk`` (the iptables-mode result type)."""
        t = self.trace_packet(src_ip or self.node_ip, dst_ip, dst_port, protocol, None, now_ms, rng)
        w = Walk(src_ip=t.src, dst=f"{dst_ip}:{dst_port}", protocol=protocol, hook=t.hook, endpoint=t.dnat,
                 verdict=("DNAT" if t.dnat else "ACCEPT") if t.verdict == "ACCEPT" else t.verdict,
                 masqueraded=t.masqueraded, chains=t.chains, steps=t.path)
        return w
