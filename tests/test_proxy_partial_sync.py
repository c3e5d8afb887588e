"""Partial syncs and shared change tracking in k8slab.proxy.iptables: a proxier that applies changes one sync at a
time ends with the tables (and the sync statistics) of a proxier that sees the final state in one full sync; an
EndpointSlice event is digested once for all the proxiers of a cluster; a sync only visits changed Services."""

import copy
import random

import pytest
from test_proxy_shared import NODE_SETTINGS, World, make_proxiers

from k8slab.proxy.iptables import Proxier, SharedRuleCache, parse_endpoint_slice

COUNTED = ("services", "endpoints", "nat_chains", "nat_rules", "filter_chains", "filter_rules",
           "large_cluster_mode")


def fresh_full_sync(settings, world, shared):
    """A new proxier with these settings that receives the world's current objects and syncs once."""
    p = Proxier(settings["hostname"], settings["node_ip"], settings["cluster_cidr"],
                **{k: v for k, v in settings.items() if k not in ("hostname", "node_ip", "cluster_cidr")},
                rng=random.Random(1), shared=shared)
    for svc in world.services.values():
        p.on_service_update(None, svc)
    for eps in world.slices.values():
        p.on_endpoint_slice_update(None, eps)
    stats = p.sync_proxy_rules()
    assert stats["full_sync"]
    return p, stats


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_partial_syncs_end_where_a_full_sync_starts(seed, shared):
    world = World(random.Random(seed))
    cache = SharedRuleCache() if shared else None
    proxiers = make_proxiers(cache)
    for n, event in enumerate(world.events(150)):
        if event[0] == "sync":
            for p in proxiers:
                p.sync_proxy_rules()
                if n % 2:
                    p.iptables_save()  # the tables were looked at: the chain index is kept up to date from now on
            continue
        kind, old, new = event
        for p in proxiers:
            (p.on_service_update if kind == "service" else p.on_endpoint_slice_update)(old, new)
    for p, settings in zip(proxiers, NODE_SETTINGS):
        stats = p.sync_proxy_rules()   # nothing pending: a partial sync that rewrites no service chain
        assert stats["partial_sync"] and stats["services_rebuilt"] == 0 and stats["deleted_chains"] == 0
        reference, ref_stats = fresh_full_sync(settings, world, cache)
        assert p.iptables_save() == reference.iptables_save()
        assert {k: stats[k] for k in COUNTED} == {k: ref_stats[k] for k in COUNTED}
        # every service chain is declared once the sync is a full one
        assert p.sync_proxy_rules(force_full=True) == ref_stats
        assert p.restore_data() == reference.restore_data()


def slice_with(endpoints, rv, name="web-1"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"namespace": "ns1", "name": name, "uid": f"uid-{name}", "resourceVersion": str(rv),
                         "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": endpoints}


def web_service(**spec):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "ns1", "name": "web", "uid": "uid-web", "resourceVersion": "1"},
            "spec": {"clusterIP": "172.30.0.10", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                     **spec}}


def test_one_slice_event_is_parsed_once_for_every_proxier():
    shared = SharedRuleCache()
    proxiers = [Proxier(f"node-{i}", f"192.168.0.{i + 2}", "10.244.0.0/16", shared=shared) for i in range(40)]
    eps = slice_with([{"addresses": [f"10.244.{i}.5"], "nodeName": f"node-{i}"} for i in range(40)], rv=2)
    assert all(p.on_endpoint_slice_update(None, eps) for p in proxiers)
    assert shared.stats()["slices"] == {"entries": 1, "weight": 41, "hits": 39, "misses": 1}
    stored = {id(p._slices["ns1/web"]["web-1"]) for p in proxiers}
    assert len(stored) == 1  # one parsed slice, read by all
    # The same version delivered again (a relist) is no change for anyone.
    assert not any(p.on_endpoint_slice_update(eps, copy.deepcopy(eps)) for p in proxiers)
    # Each node still finds its own endpoint at sync time.
    for i, p in enumerate(proxiers[:3]):
        p.on_service_update(None, web_service())
        p.sync_proxy_rules()
        local = [ep.ip for ep in p.endpoints_map[next(iter(p.endpoints_map))] if ep.is_local]
        assert local == [f"10.244.{i}.5"]


def test_a_moved_endpoint_is_a_change_even_with_the_same_address():
    """esDataChanged compares the whole endpoint, NodeName included: with internalTrafficPolicy Local the node
    that now hosts the endpoint starts serving it, and the one that lost it drops traffic."""
    a, b = Proxier("node-a", "192.168.0.2", "10.0.0.0/8"), Proxier("node-b", "192.168.0.3", "10.0.0.0/8")
    on_b = slice_with([{"addresses": ["10.1.0.7"], "nodeName": "node-b"}], rv=2)
    on_a = slice_with([{"addresses": ["10.1.0.7"], "nodeName": "node-a"}], rv=3)
    for p in (a, b):
        p.on_service_update(None, web_service(internalTrafficPolicy="Local"))
        p.on_endpoint_slice_update(None, on_b)
        p.sync_proxy_rules()
    assert a.walk("172.30.0.10", 80).dropped and b.walk("172.30.0.10", 80).endpoint == "10.1.0.7:8080"
    assert a.on_endpoint_slice_update(on_b, on_a) and b.on_endpoint_slice_update(on_b, on_a)
    assert a.sync_proxy_rules()["services_rebuilt"] == 1 and b.sync_proxy_rules()["services_rebuilt"] == 1
    assert a.walk("172.30.0.10", 80).endpoint == "10.1.0.7:8080" and b.walk("172.30.0.10", 80).dropped


def test_a_partial_sync_visits_only_the_changed_services(monkeypatch):
    shared = SharedRuleCache()
    p = Proxier("node-a", "192.168.0.2", "10.0.0.0/8", shared=shared)
    slices = {}
    for i in range(200):
        svc = web_service()
        svc["metadata"].update(name=f"web{i}", uid=f"uid-web{i}")
        svc["spec"]["clusterIP"] = f"172.30.{i // 250}.{i % 250 + 1}"
        p.on_service_update(None, svc)
        eps = slice_with([{"addresses": [f"10.1.{i}.1"]}], rv=2 * i + 2, name=f"web{i}-1")
        eps["metadata"]["labels"]["kubernetes.io/service-name"] = f"web{i}"
        p.on_endpoint_slice_update(None, eps)
        slices[i] = eps
    assert p.sync_proxy_rules()["services_rebuilt"] == 200
    visited = []
    real = Proxier._service_rules
    monkeypatch.setattr(Proxier, "_service_rules", lambda self, svc, *a: visited.append(svc.name.name) or
                        real(self, svc, *a))
    new = copy.deepcopy(slices[17])
    new["metadata"]["resourceVersion"] = "9999"
    new["endpoints"].append({"addresses": ["10.1.17.2"]})
    assert p.on_endpoint_slice_update(slices[17], new)
    stats = p.sync_proxy_rules()
    assert visited == ["web17"] and stats["services_rebuilt"] == 1 and stats["endpoints"] == 201
    assert p.walk("172.30.0.18", 80, rng=random.Random(3)).endpoint in ("10.1.17.1:8080", "10.1.17.2:8080")


@pytest.mark.parametrize("seed", range(6))
def test_a_slice_parsed_from_its_previous_version_is_parsed_the_same(seed):
    """SharedRuleCache.endpoint_slice(new, old) takes over the unchanged endpoints of old: same result as a parse
    from scratch, whatever changed (conditions, node, address, an endpoint without address, order, count)."""
    r = random.Random(seed)
    nodes = ["node-a", "node-b", "node-c"]

    def endpoint(i):
        ep = {"addresses": [f"10.1.0.{i}"], "nodeName": r.choice(nodes),
              "conditions": {"ready": r.random() < 0.6, "serving": r.random() < 0.8, "terminating": False}}
        if r.random() < 0.1:
            ep["addresses"] = []
        return ep

    shared = SharedRuleCache()
    current = slice_with([endpoint(i) for i in range(12)], rv=1)
    shared.endpoint_slice(current)
    for rv in range(2, 40):
        new = copy.deepcopy(current)
        new["metadata"]["resourceVersion"] = str(rv)
        eps = new["endpoints"]
        roll = r.random()
        if roll < 0.4:
            eps[r.randrange(len(eps))]["conditions"]["ready"] = r.random() < 0.5
        elif roll < 0.55:
            eps[r.randrange(len(eps))]["nodeName"] = r.choice(nodes)
        elif roll < 0.7:
            eps.insert(r.randrange(len(eps) + 1), endpoint(50 + rv))
        elif roll < 0.8 and len(eps) > 1:
            del eps[r.randrange(len(eps))]
        elif roll < 0.9:
            r.shuffle(eps)
        else:
            eps[r.randrange(len(eps))]["addresses"] = []
        parsed, scratch = shared.endpoint_slice(new, current), parse_endpoint_slice(new)
        assert (parsed.ports, parsed.endpoints, parsed.node_names) == \
            (scratch.ports, scratch.endpoints, scratch.node_names)
        assert parsed == scratch and hash(parsed) == hash(scratch)
        for node in nodes + ["node-z"]:
            assert parsed.local_indices(node) == scratch.local_indices(node)
        current = new
