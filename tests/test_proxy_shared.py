"""Tests for the SharedRuleCache of k8slab.proxy.iptables: proxiers sharing work write exactly the rules they would
write alone, and never share lines that depend on their own node's settings."""

import copy
import random

import pytest

from k8slab.proxy.iptables import (
    LARGE_CLUSTER_ENDPOINTS_THRESHOLD, Proxier, SharedRuleCache, parse_endpoint_slice,
    service_external_chain_name, service_firewall_chain_name, service_port_policy_cluster_chain,
    service_port_policy_local_chain_name)
from k8slab.proxy.kubeproxy import KubeProxy
from k8slab.sim import Loop

# Three nodes whose settings differ in everything that can change a service's rules, and a fourth like the first
# but for its name and IP (the usual case in a cluster: the rules of Cluster-policy services are shared).
NODE_SETTINGS = [
    dict(hostname="node-a", node_ip="192.168.0.2", cluster_cidr="10.0.0.0/8"),
    dict(hostname="node-b", node_ip="192.168.0.3", cluster_cidr="10.244.0.0/16", masquerade_all=True,
         random_fully=False),
    dict(hostname="node-c", node_ip="203.0.113.7", cluster_cidr=None, node_port_addresses=["192.168.0.0/16"],
         nfacct=False, masquerade_bit=13),
    dict(hostname="node-d", node_ip="192.168.0.4", cluster_cidr="10.0.0.0/8"),
]
NODES = [s["hostname"] for s in NODE_SETTINGS] + ["node-e"]


def make_proxiers(shared, rng_seed=1):
    return [Proxier(s["hostname"], s["node_ip"], s["cluster_cidr"],
                    **{k: v for k, v in s.items() if k not in ("hostname", "node_ip", "cluster_cidr")},
                    rng=random.Random(rng_seed), shared=shared)
            for s in NODE_SETTINGS]


class World:
    """Services and EndpointSlices as the API server hands them out: a new dict (and resourceVersion) per write."""

    def __init__(self, rng):
        self.rng = rng
        self.rv = 0
        self.services = {}   # name -> current object
        self.slices = {}     # name -> current object

    def _meta(self, name, labels=None, versioned=True):
        self.rv += 1
        meta = {"namespace": "ns", "name": name, "uid": f"uid-{name}"}
        if versioned:  # a few objects come without resourceVersion: the cache must not be used for them
            meta["resourceVersion"] = str(self.rv)
        if labels:
            meta["labels"] = labels
        return meta

    def random_service(self, name):
        r = self.rng
        i = int(name[3:])
        kind = r.choice(["ClusterIP", "NodePort", "LoadBalancer", "ClusterIP+externalIPs"])
        ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
        if r.random() < 0.3:
            ports.append({"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53})
        spec = {"type": "ClusterIP" if kind.startswith("ClusterIP") else kind, "clusterIP": f"172.30.0.{i + 10}",
                "ports": ports}
        status = {}
        if kind in ("NodePort", "LoadBalancer"):
            for n, p in enumerate(ports):
                p["nodePort"] = 30000 + 10 * i + n
        if kind == "ClusterIP+externalIPs":
            spec["externalIPs"] = [f"192.168.99.{i}"]
        if kind == "LoadBalancer":
            status = {"loadBalancer": {"ingress": [{"ip": f"5.6.7.{i}"}]}}
            if r.random() < 0.6:  # some ranges contain node-a/node-b's IPs, some node-c's
                spec["loadBalancerSourceRanges"] = [r.choice(["192.168.0.0/30", "203.0.113.0/24", "198.51.100.0/24"])]
            spec["healthCheckNodePort"] = 32000 + i
        if kind != "ClusterIP" and r.random() < 0.5:
            spec["externalTrafficPolicy"] = "Local"
        if r.random() < 0.3:
            spec["internalTrafficPolicy"] = "Local"
        if r.random() < 0.3:
            spec["sessionAffinity"] = "ClientIP"
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": r.choice([60, 10800])}}
        return {"apiVersion": "v1", "kind": "Service", "metadata": self._meta(name, versioned=r.random() < 0.9),
                "spec": spec, "status": status}

    def random_slice(self, name):
        r = self.rng
        svc, _, suffix = name.partition("-")
        endpoints = []
        for _ in range(r.randint(0, 6)):
            ready = r.random() < 0.7
            terminating = not ready and r.random() < 0.5
            ep = {"addresses": [f"10.{r.randint(0, 2)}.0.{r.randint(1, 8)}"],
                  "conditions": {"ready": ready, "serving": ready or (terminating and r.random() < 0.7),
                                 "terminating": terminating},
                  "nodeName": r.choice(NODES)}
            endpoints.append(ep)
        ports = [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": self._meta(name, {"kubernetes.io/service-name": svc}, versioned=r.random() < 0.9),
                "endpoints": endpoints, "ports": ports[:r.randint(1, 2)]}

    def events(self, n):
        """n random watch events: ("service"|"slice", old, new), plus ("sync",) now and then."""
        r = self.rng
        out = []
        for _ in range(n):
            roll = r.random()
            if roll < 0.15:
                out.append(("sync",))
                continue
            if roll < 0.45:
                store, make, name = self.services, self.random_service, f"svc{r.randint(0, 5)}"
                kind = "service"
            else:
                store, make = self.slices, self.random_slice
                name = f"svc{r.randint(0, 5)}-{r.choice('ab')}"
                kind = "slice"
            old = store.get(name)
            new = None if old is not None and r.random() < 0.2 else make(name)
            if new is None:
                del store[name]
            else:
                store[name] = new
            out.append((kind, old, new))
        out.append(("sync",))
        return out


def probe_walks(proxier, world):
    """Walk a packet to every cluster IP, node port, external IP and load balancer IP of the current Services."""
    walks = []
    for svc in sorted(world.services.values(), key=lambda s: s["metadata"]["name"]):
        spec = svc["spec"]
        for port in spec["ports"]:
            proto = port["protocol"]
            walks.append(proxier.walk(spec["clusterIP"], port["port"], proto, now_ms=1000))
            walks.append(proxier.walk(spec["clusterIP"], port["port"], proto, src_ip="10.1.0.5",
                                      hook="PREROUTING", now_ms=1000))
            if port.get("nodePort"):
                walks.append(proxier.walk(proxier.node_ip, port["nodePort"], proto, src_ip="8.8.8.8",
                                          hook="PREROUTING", now_ms=1000))
            for ip in spec.get("externalIPs", []):
                walks.append(proxier.walk(ip, port["port"], proto, src_ip="8.8.8.8", hook="PREROUTING"))
            for ing in svc["status"].get("loadBalancer", {}).get("ingress", []):
                walks.append(proxier.walk(ing["ip"], port["port"], proto, src_ip="203.0.113.9",
                                          hook="PREROUTING"))
    return walks


def run(events, proxiers, world):
    """Feed the events to every proxier; returns what can be observed after each sync."""
    observed = []
    for event in events:
        if event[0] == "sync":
            for p in proxiers:
                observed.append((p.hostname, p.sync_proxy_rules(), p.iptables_save(), p.restore_data()))
            continue
        kind, old, new = event
        for p in proxiers:
            handler = p.on_service_update if kind == "service" else p.on_endpoint_slice_update
            observed.append(handler(old, new))
    for p in proxiers:
        observed.append(probe_walks(p, world))
    return observed


@pytest.mark.parametrize("cache_size", ["default", "tiny"])
@pytest.mark.parametrize("seed", range(12))
def test_shared_cache_gives_the_same_rules_and_walks(seed, cache_size):
    events_world = World(random.Random(seed))
    events = events_world.events(120)
    snapshot = copy.deepcopy(events)
    plain = run(events, make_proxiers(None), events_world)
    # Tiny bounds make the caches evict all the time: still the same output.
    shared = SharedRuleCache() if cache_size == "default" else SharedRuleCache(
        max_services=2, max_slice_endpoints=5, max_service_endpoints=5, max_rule_lines=10)
    with_shared = run(events, make_proxiers(shared), events_world)
    assert with_shared == plain
    assert events == snapshot  # the shared objects were only read
    stats = shared.stats()
    if cache_size == "default":
        assert all(stats[part]["hits"] > 0 for part in ("services", "slices", "endpoints", "rules"))
    else:
        for part, bound in (("services", 2), ("slices", 5), ("endpoints", 5), ("rules", 10)):
            # over the bound only when a single entry weighs more than the bound on its own
            assert stats[part]["weight"] <= bound or stats[part]["entries"] == 1


def service(name, spec, status=None, rv="1"):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "ns1", "name": name, "uid": f"uid-{name}", "resourceVersion": rv},
            "spec": spec, "status": status or {}}


def endpoint_slice(svc, endpoints, rv="2", name=None, port=80):
    meta = {"namespace": "ns1", "name": name or f"{svc}-1", "uid": f"uid-{name or svc}",
            "labels": {"kubernetes.io/service-name": svc}}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4", "metadata": meta,
            "endpoints": endpoints, "ports": [{"name": "p80", "port": port, "protocol": "TCP"}]}


P80 = [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3001}]


def synced(proxiers, *objects):
    for p in proxiers:
        for obj in objects:
            if obj["kind"] == "Service":
                p.on_service_update(None, obj)
            else:
                p.on_endpoint_slice_update(None, obj)
        p.sync_proxy_rules()
    return proxiers


def alone(settings, *objects):
    return synced([Proxier(**settings)], *objects)[0]


def test_external_traffic_policy_local_differs_per_node():
    svc = service("svc", {"type": "NodePort", "clusterIP": "172.30.0.41", "externalTrafficPolicy": "Local",
                          "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-a"}])
    shared = SharedRuleCache()
    # node-b syncs first: node-a must not reuse its rules.
    b, a = synced([Proxier("node-b", "192.168.0.3", "10.0.0.0/8", shared=shared),
                   Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared)], svc, eps)
    ext = service_external_chain_name("ns1/svc:p80", "tcp")
    svl = service_port_policy_local_chain_name("ns1/svc:p80", "tcp")
    assert f"-A {ext} -j {svl}" in a.chain_lines("nat", ext)
    assert f"-A {ext} -j {svl}" not in b.chain_lines("nat", ext)
    assert svl in a.chains("nat") and svl not in b.chains("nat")
    assert a.walk("192.168.0.2", 3001, src_ip="8.8.8.8", hook="PREROUTING").endpoint == "10.180.0.1:80"
    assert b.walk("192.168.0.3", 3001, src_ip="8.8.8.8", hook="PREROUTING").dropped
    assert a.iptables_save() == alone(dict(hostname="node-a", node_ip="192.168.0.2", cluster_cidr="10.0.0.0/8"),
                                      svc, eps).iptables_save()
    assert b.iptables_save() == alone(dict(hostname="node-b", node_ip="192.168.0.3", cluster_cidr="10.0.0.0/8"),
                                      svc, eps).iptables_save()


def test_cluster_traffic_policy_is_shared_between_nodes():
    """With no Local policy, whether an endpoint is on this node changes nothing, so every node shares one entry."""
    svc = service("svc", {"clusterIP": "172.30.0.41", "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-a"},
                                 {"addresses": ["10.180.0.2"], "nodeName": "node-b"}])
    shared = SharedRuleCache()
    a, b, c = synced([Proxier(n, f"192.168.0.{i + 2}", "10.0.0.0/8", shared=shared)
                      for i, n in enumerate(["node-a", "node-b", "node-c"])], svc, eps)
    assert shared.stats()["rules"] == {"entries": 1, "weight": shared.rules.weight, "hits": 2, "misses": 1}
    assert a.iptables_save() == b.iptables_save() == c.iptables_save()
    assert a.endpoints_map != c.endpoints_map  # ... though each node still knows its own endpoints
    assert [ep.is_local for ep in a.endpoints_map[next(iter(a.endpoints_map))]] == [True, False]


def test_different_cluster_cidrs_give_different_masquerade_rules():
    svc = service("svc", {"clusterIP": "172.30.0.41", "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-a"}])
    shared = SharedRuleCache()
    a, b, c, d = synced([Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared),
                         Proxier("node-b", "192.168.0.3", "10.244.0.0/16", shared=shared),
                         Proxier("node-c", "192.168.0.4", None, shared=shared),
                         Proxier("node-d", "192.168.0.5", "10.0.0.0/8", masquerade_all=True, shared=shared)],
                        svc, eps)
    chain = service_port_policy_cluster_chain("ns1/svc:p80", "tcp")
    first = [p.chain_lines("nat", chain)[0] for p in (a, b, c, d)]
    assert first[0].endswith("! -s 10.0.0.0/8 -j KUBE-MARK-MASQ")
    assert first[1].endswith("! -s 10.244.0.0/16 -j KUBE-MARK-MASQ")
    assert "KUBE-MARK-MASQ" not in first[2]  # no local-traffic detector: no masquerade rule
    assert first[3].endswith("--dport 80 -j KUBE-MARK-MASQ")
    assert a.walk("172.30.0.41", 80, src_ip="10.9.9.9", hook="PREROUTING").masqueraded is False
    assert b.walk("172.30.0.41", 80, src_ip="10.9.9.9", hook="PREROUTING").masqueraded is True


def test_load_balancer_source_ranges_depend_on_the_node_ip():
    svc = service("svc", {"type": "LoadBalancer", "clusterIP": "172.30.0.41", "ports": P80,
                          "loadBalancerSourceRanges": ["192.168.0.0/30"]},
                  status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-c"}])
    shared = SharedRuleCache()
    inside, outside = synced([Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared),
                              Proxier("node-b", "192.168.7.2", "10.0.0.0/8", shared=shared)], svc, eps)
    fw = service_firewall_chain_name("ns1/svc:p80", "tcp")
    allow_lb = f'-A {fw} -m comment --comment "ns1/svc:p80 loadbalancer IP" -s 5.6.7.8 -j ' \
               f'{service_external_chain_name("ns1/svc:p80", "tcp")}'
    assert allow_lb in inside.chain_lines("nat", fw)
    assert allow_lb not in outside.chain_lines("nat", fw)


def test_large_cluster_mode_is_per_node():
    """Endpoint comments are dropped on a node whose total crosses the threshold, not on the other one."""
    small = service("small", {"clusterIP": "172.30.0.41", "ports": P80})
    small_eps = endpoint_slice("small", [{"addresses": ["10.180.0.1"]}])
    big = service("big", {"clusterIP": "172.30.0.42", "ports": P80}, rv="3")
    big_eps = endpoint_slice("big", [{"addresses": [f"10.1.{i // 250}.{i % 250 + 1}"]}
                                     for i in range(LARGE_CLUSTER_ENDPOINTS_THRESHOLD)], rv="4")
    shared = SharedRuleCache()
    a, b = Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared), \
        Proxier("node-b", "192.168.0.3", "10.0.0.0/8", shared=shared)
    synced([a], small, small_eps, big, big_eps)
    synced([b], small, small_eps)
    sep = a.endpoints_map[next(s for s in a.endpoints_map if s.name == "small")][0].chain_name
    assert a.large_cluster_mode and not b.large_cluster_mode
    assert " -m comment " not in a.chain_lines("nat", sep)[0]
    assert " -m comment " in b.chain_lines("nat", sep)[0]


def test_localhost_nodeports_and_nfacct_are_per_node():
    svc = service("svc", {"type": "NodePort", "clusterIP": "172.30.0.41", "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"]}])
    shared = SharedRuleCache()
    a, b, c = synced([Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared),
                      Proxier("node-b", "192.168.0.3", "10.0.0.0/8", node_port_addresses=["192.168.0.0/16"],
                              shared=shared),
                      Proxier("node-c", "192.168.0.4", "10.0.0.0/8", nfacct=False, shared=shared)], svc, eps)
    localhost = [line for line in a.chain_lines("nat", "KUBE-NODEPORTS") if "127.0.0.0/8" in line]
    assert len(localhost) == 1 and "--nfacct-name localhost_nps_accepted_pkts" in localhost[0]
    assert not [line for p in (b, c) for line in p.chain_lines("nat", "KUBE-NODEPORTS") if "127.0.0.0/8" in line]


def test_internal_traffic_policy_local_differs_per_node():
    svc = service("svc", {"clusterIP": "172.30.0.41", "internalTrafficPolicy": "Local", "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-a"}])
    shared = SharedRuleCache()
    a, b = synced([Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared),
                   Proxier("node-b", "192.168.0.3", "10.0.0.0/8", shared=shared)], svc, eps)
    assert a.walk("172.30.0.41", 80).endpoint == "10.180.0.1:80"
    assert b.walk("172.30.0.41", 80).dropped


def test_slices_without_resource_version_are_not_cached():
    svc = service("svc", {"clusterIP": "172.30.0.41", "ports": P80})
    shared = SharedRuleCache()
    p = Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared)
    # Two different objects with the same name and no resourceVersion: each is parsed.
    first = endpoint_slice("svc", [{"addresses": ["10.180.0.1"]}], rv=None)
    second = endpoint_slice("svc", [{"addresses": ["10.180.0.2"]}], rv=None)
    synced([p], svc, first)
    assert p.on_endpoint_slice_update(first, second)
    p.sync_proxy_rules()
    assert p.walk("172.30.0.41", 80).endpoint == "10.180.0.2:80"
    assert shared.stats()["slices"]["entries"] == 0


def test_slice_cache_is_keyed_by_object_version():
    shared = SharedRuleCache()
    v1 = endpoint_slice("svc", [{"addresses": ["10.180.0.1"]}], rv="5")
    v2 = endpoint_slice("svc", [{"addresses": ["10.180.0.2"]}], rv="6")
    assert shared.endpoint_slice(v1) is shared.endpoint_slice(copy.deepcopy(v1))
    assert shared.endpoint_slice(v2).endpoints == (("10.180.0.2", True, True, False, ""),)
    assert shared.stats()["slices"]["hits"] == 1 and shared.stats()["slices"]["misses"] == 2
    # A deleted and re-created slice has a new uid: a new entry even with a reused resourceVersion.
    recreated = copy.deepcopy(v1)
    recreated["metadata"]["uid"] = "uid-other"
    recreated["endpoints"] = []
    assert shared.endpoint_slice(recreated).endpoints == ()


def test_parsed_slice_equality_ignores_node_index():
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-a"},
                                 {"addresses": ["10.180.0.2"], "nodeName": "node-b"}])
    plain, indexed = parse_endpoint_slice(eps), parse_endpoint_slice(eps)
    indexed.index_nodes()
    hash(indexed)
    assert plain == indexed and hash(plain) == hash(indexed)
    for p in (plain, indexed):
        assert p.local_indices("node-b") == (1,) and p.local_indices("node-z") == () and p.local_indices("") == ()
    other = copy.deepcopy(eps)
    other["endpoints"][1]["conditions"] = {"ready": False}
    changed = parse_endpoint_slice(other)
    hash(changed)
    assert changed != indexed and changed != plain


def test_cache_is_bounded_and_evicts_least_recently_used():
    shared = SharedRuleCache(max_slice_endpoints=6)
    slices = [endpoint_slice("svc", [{"addresses": [f"10.180.0.{i}"]}], rv=str(i)) for i in range(1, 5)]
    for s in slices[:3]:  # each weighs 2 (1 + one endpoint)
        shared.endpoint_slice(s)
    shared.endpoint_slice(slices[0])  # now the most recently used
    shared.endpoint_slice(slices[3])  # evicts slices[1]
    assert len(shared.slices) == 3 and shared.slices.weight == 6
    hits = shared.slices.hits
    shared.endpoint_slice(slices[0])
    assert shared.slices.hits == hits + 1
    shared.endpoint_slice(slices[1])
    assert shared.slices.misses == 5


class _FakeInformer:
    handlers = ()

    def add_event_handler(self, add, update, delete):
        self.handlers = (add, update, delete)


class _FakeFactory:
    def informer(self, resource, **_kw):
        return _FakeInformer()


def test_kube_proxy_passes_the_shared_cache_to_its_proxier():
    shared = SharedRuleCache()
    loop = Loop()
    proxies = [KubeProxy(loop, None, _FakeFactory(), f"node-{i}", f"192.168.0.{i + 2}", "10.244.0.0/16",
                         random.Random(0), shared=shared) for i in range(2)]
    assert all(kp.proxier.shared is shared for kp in proxies)
    assert KubeProxy(loop, None, _FakeFactory(), "node-x", "192.168.0.9", "10.244.0.0/16",
                     random.Random(0)).proxier.shared is None
    svc = service("svc", {"clusterIP": "172.30.0.41", "ports": P80})
    eps = endpoint_slice("svc", [{"addresses": ["10.180.0.1"], "nodeName": "node-0"}])
    for kp in proxies:
        kp.svc_informer.handlers[0](svc)
        kp.slice_informer.handlers[0](eps)
    loop.run_until(0)  # both kube-proxies run their first syncProxyRules
    assert [kp.syncs for kp in proxies] == [1, 1]
    assert shared.stats()["slices"] == {"entries": 1, "weight": 2, "hits": 1, "misses": 1}
    assert proxies[1].proxier.walk("172.30.0.41", 80).endpoint == "10.180.0.1:80"
