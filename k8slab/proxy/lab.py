"""Mirrors: (no upstream file) small, deterministic experiments on kube-proxy's two modes, for the notebook's plots.

Each experiment builds one node's proxier (iptables mode or IPVS mode with a given scheduler) over synthetic
Services, then sends packets with ``trace_packet`` in virtual time. Nothing here is random except through the
proxier's own seeded ``random.Random``, so the same arguments give the same numbers.

``spread``: how N new connections land on a Service's endpoints. ``connections_over_time``: active connections per
backend while load changes and a backend is added. ``cost_vs_services``: rules evaluated per packet and rule-set
size as the number of Services grows.
"""

from __future__ import annotations

import random
from collections import Counter

from .iptables import Proxier
from .ipvs import IpvsProxier

__all__ = ["KINDS", "build", "spread", "connections_over_time", "cost_vs_services", "cluster_ip"]

# "iptables" (statistic random) and the six IPVS schedulers
KINDS = ("iptables", "rr", "lc", "dh", "sh", "sed", "nq")
CLUSTER_CIDR = "10.244.0.0/16"
NODE_IP = "192.168.0.10"


def cluster_ip(i: int) -> str:
    return f"10.{96 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def _service(i: int, endpoints: int) -> tuple:
    name = f"app-{i}"
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": "default", "name": name, "uid": f"uid-{i}", "resourceVersion": "1"},
           "spec": {"clusterIP": cluster_ip(i), "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
           "metadata": {"namespace": "default", "name": f"{name}-x", "resourceVersion": str(endpoints),
                        "labels": {"kubernetes.io/service-name": name}},
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": [{"addresses": [f"10.{200 + j}.{i // 250}.{i % 250 + 1}"],
                          "conditions": {"ready": True}, "nodeName": f"node-{j % 3 + 1}"}
                         for j in range(endpoints)]}
    return svc, eps


def build(kind: str, services: int = 1, endpoints: int = 4, seed: int = 0):
    """A synced proxier for ``kind`` ("iptables" or an IPVS scheduler) with ``services`` Services."""
    rng = random.Random(seed)
    if kind == "iptables":
        p = Proxier("node-0", NODE_IP, CLUSTER_CIDR, rng=rng)
    else:
        p = IpvsProxier("node-0", NODE_IP, CLUSTER_CIDR, scheduler=kind, rng=rng)
    for i in range(services):
        svc, eps = _service(i, endpoints)
        p.on_service_update(None, svc)
        p.on_endpoint_slice_update(None, eps)
    p.sync_proxy_rules(0)
    return p


def _set_endpoints(p, i: int, endpoints: int, now_ms: int) -> None:
    _svc, eps = _service(i, endpoints)
    eps["metadata"]["resourceVersion"] = str(100 + endpoints)
    p.on_endpoint_slice_update(None, eps)
    p.sync_proxy_rules(now_ms)


def spread(kind: str, requests: int = 1000, endpoints: int = 4, clients: int = 50, hold: int = 8,
           seed: int = 0) -> dict:
    """Where ``requests`` new connections from ``clients`` client IPs land: {endpoint: count}.

    A connection stays open for the next ``hold`` requests, then its client closes it (so lc/sed/nq see active
    and inactive counts change). One request every 10 ms of virtual time."""
    p = build(kind, 1, endpoints, seed)
    counts: Counter = Counter()
    open_: list = []
    for k in range(requests):
        now = k * 10
        src = f"10.244.{1 + k % clients // 250}.{k % clients % 250 + 2}"
        t = p.trace_packet(src, cluster_ip(0), 80, now_ms=now)
        counts[t.dnat] += 1
        open_.append((t, now))
        if len(open_) > hold:
            old, _ = open_.pop(0)
            _close(p, old, now)
    return {ep: counts[ep] for ep in sorted(counts, key=lambda e: (e is None, e or ""))}


def _close(p, t, now_ms: int) -> None:
    if isinstance(p, IpvsProxier):
        p.close_connection(t.src, t.sport, t.dst, t.dport, t.proto, now_ms)
    else:
        p.conntrack.close(t.proto, t.src, t.sport, t.dst, t.dport, now_ms)


def connections_over_time(kind: str, seconds: int = 120, endpoints: int = 3, add_at: int = 60,
                          rate=(2, 6), duration: int = 20, seed: int = 0) -> list:
    """Open connections per backend, second by second: ``rate[0]`` new connections a second, ``rate[1]`` from
    ``seconds // 3`` on; each lasts ``duration`` seconds; one more endpoint is added at ``add_at``.

    Returns rows {"t": seconds, "endpoint": "ip:port", "open": n}."""
    p = build(kind, 1, endpoints, seed)
    alive: list = []       # (trace, close at s)
    rows = []
    n = 0
    for s in range(seconds):
        now = s * 1000
        if s == add_at:
            _set_endpoints(p, 0, endpoints + 1, now)
        for t, end in [x for x in alive if x[1] <= s]:
            _close(p, t, now)
        alive = [x for x in alive if x[1] > s]
        per_s = rate[0] if s < seconds // 3 else rate[1]
        for _ in range(per_s):
            n += 1
            t = p.trace_packet(f"10.244.1.{n % 200 + 2}", cluster_ip(0), 80, now_ms=now)
            if t.dnat:
                alive.append((t, s + duration))
        per = Counter(t.dnat for t, _ in alive)
        for j in range(endpoints + (1 if s >= add_at else 0)):
            ep = f"10.{200 + j}.0.1:8080"
            rows.append({"t": s, "endpoint": ep, "open": per.get(ep, 0)})
    return rows


def cost_vs_services(sizes=(10, 100, 1000), endpoints: int = 10, packets: int = 20) -> list:
    """Rules evaluated per new connection (average over Services spread through the table) and rule-set size, for
    iptables and IPVS mode. Rows {"services", "mode", "rules_evaluated", "iptables_rules", "ipvs_entries"}."""
    rows = []
    for n in sizes:
        for mode in ("iptables", "ipvs"):
            p = build("iptables" if mode == "iptables" else "rr", n, endpoints)
            targets = [cluster_ip((k * 7919) % n) for k in range(packets)]
            evaluated = sum(p.trace_packet("10.244.1.2", ip, 80).rules_evaluated for ip in targets) / packets
            s = p.last_sync
            rules = s["nat_rules"] + s["filter_rules"]
            entries = s.get("virtual_servers", 0) + s.get("real_servers", 0) + s.get("ipset_entries", 0)
            rows.append({"services": n, "mode": mode, "rules_evaluated": evaluated, "iptables_rules": rules,
                         "ipvs_entries": entries})
    return rows
