"""kube-proxy (iptables mode) in a simulated cluster. Prints wall times.

1. 100 Proxiers (same settings except node name and node IP) receive 30 Services x 100 endpoints whose endpoints
   become ready one at a time: every update is a new EndpointSlice version delivered to all 100 proxiers, and the
   proxiers sync after every 50 updates. Timed with and without a SharedRuleCache; the rules must be identical.
   Then the same cluster at 100 and 1,000 nodes with the slice changes interleaved across Services (as a
   Deployment rollout makes them) and a sync every 84 changes (what bench_settle's kube-proxies see): CPU time per
   proxier per event, of the first proxier of each event (which parses the slice for all), and per sync.
2. One Proxier with 10,000 Services x 10 endpoints: full sync, then the first iptables_save(), then a partial sync
   after one EndpointSlice change.
3. Packet walks (trace_packet, a new connection each) at 10,000 Services, IPVS mode (hash lookup) and iptables mode
   (rule by rule); and the rule-set sizes of both modes as Services grow from 10 to 10,000.
"""

import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from k8slab.proxy.iptables import Proxier, SharedRuleCache  # noqa: E402
from k8slab.proxy.ipvs import IpvsProxier  # noqa: E402

CLUSTER_CIDR = "10.244.0.0/16"


def service(i: int, rv: int) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "default", "name": f"app-{i}", "uid": f"svc-uid-{i}",
                         "resourceVersion": str(rv)},
            "spec": {"type": "ClusterIP", "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]},
            "status": {}}


def endpoint_slice(i: int, n: int, ready: int, nodes: int, rv: int) -> dict:
    """Service i's slice with n endpoints (endpoint j on node j % nodes), the first ``ready`` of them ready."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"namespace": "default", "name": f"app-{i}-abcde", "uid": f"slice-uid-{i}",
                         "resourceVersion": str(rv), "labels": {"kubernetes.io/service-name": f"app-{i}"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.244.{j % nodes}.{i + 2}"],
                           "conditions": {"ready": j < ready, "serving": j < ready, "terminating": False},
                           "nodeName": f"node-{j % nodes}"} for j in range(n)]}


def run_cluster(shared, nodes: int = 100, services: int = 30, endpoints: int = 100, sync_every: int = 50):
    """Returns (proxiers, number of slice updates, seconds spent inside the proxiers)."""
    proxiers = [Proxier(f"node-{k}", f"192.168.{k // 250}.{k % 250 + 1}", CLUSTER_CIDR, shared=shared)
                for k in range(nodes)]
    rv = 0
    elapsed = 0.0
    current = {}
    for i in range(services):
        svc, eps = service(i, rv + 1), endpoint_slice(i, endpoints, 0, nodes, rv + 2)
        rv += 2
        t0 = time.perf_counter()
        for p in proxiers:
            p.on_service_update(None, svc)
            p.on_endpoint_slice_update(None, eps)
        elapsed += time.perf_counter() - t0
        current[i] = eps
    updates = 0
    for i in range(services):
        for ready in range(1, endpoints + 1):
            rv += 1
            new = endpoint_slice(i, endpoints, ready, nodes, rv)  # built once, delivered to every proxier
            old = current[i]
            t0 = time.perf_counter()
            for p in proxiers:
                p.on_endpoint_slice_update(old, new)
            updates += 1
            if updates % sync_every == 0:
                for p in proxiers:
                    p.sync_proxy_rules(updates)
            elapsed += time.perf_counter() - t0
            current[i] = new
    return proxiers, updates, elapsed


def bench_cluster() -> None:
    results = {}
    for label, shared in (("without shared cache", None), ("with shared cache", SharedRuleCache())):
        proxiers, updates, elapsed = run_cluster(shared)
        results[label] = (elapsed, [p.iptables_save() for p in proxiers], shared)
        print(f"100 proxiers, 30 services x 100 endpoints, {updates} slice updates, sync every 50: "
              f"{elapsed:.2f} s {label}")
    (t_plain, saves_plain, _), (t_shared, saves_shared, shared) = results.values()
    assert saves_plain == saves_shared, "the shared cache changed the rules"
    s = shared.stats()
    print(f"  speed-up {t_plain / t_shared:.1f}x; identical iptables-save on all 100 nodes; cache hits/misses: "
          + ", ".join(f"{k} {v['hits']}/{v['misses']}" for k, v in s.items()))


def bench_slice_events(nodes: int, services: int = 30, endpoints: int = 100, rounds: int = 100,
                       sync_every: int = 84) -> None:
    shared = SharedRuleCache()
    proxiers = [Proxier(f"node-{k}", f"192.168.{k // 250}.{k % 250 + 1}", CLUSTER_CIDR, shared=shared)
                for k in range(nodes)]
    rv, current = 0, {}
    for i in range(services):
        svc, eps = service(i, rv + 1), endpoint_slice(i, endpoints, 0, nodes, rv + 2)
        rv += 2
        for p in proxiers:
            p.on_service_update(None, svc)
            p.on_endpoint_slice_update(None, eps)
        current[i] = eps
    for p in proxiers:
        p.sync_proxy_rules(0)
    events = []
    for ready in range(1, rounds + 1):
        for i in range(services):
            rv += 1
            events.append((i, endpoint_slice(i, endpoints, ready * endpoints // rounds, nodes, rv)))
    clock = time.process_time
    t_first = t_rest = t_sync = 0.0
    syncs = 0
    for u, (i, new) in enumerate(events):
        old, current[i] = current[i], new
        t0 = clock()
        proxiers[0].on_endpoint_slice_update(old, new)
        t1 = clock()
        for p in proxiers[1:]:
            p.on_endpoint_slice_update(old, new)
        t2 = clock()
        t_first, t_rest = t_first + t1 - t0, t_rest + t2 - t1
        if (u + 1) % sync_every == 0:
            for p in proxiers:
                rebuilt = p.sync_proxy_rules(u)["services_rebuilt"]
            t_sync += clock() - t2
            syncs += 1
    print(f"{nodes} proxiers, {services} services x {endpoints} endpoints, {len(events)} interleaved slice changes: "
          f"{t_rest / (len(events) * (nodes - 1)) * 1e6:.2f} us per proxier per event (+ "
          f"{t_first / len(events) * 1e6:.0f} us once per event to parse it); "
          f"sync {t_sync / (syncs * nodes) * 1e6:.0f} us per proxier ({rebuilt} services rebuilt)")


def cluster_ip(i: int) -> str:
    return f"10.{96 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def fill(p, services: int, endpoints: int):
    for i in range(services):
        svc = service(i, 2 * i + 1)
        svc["spec"]["clusterIP"] = cluster_ip(i)
        p.on_service_update(None, svc)
        eps = endpoint_slice(i, endpoints, endpoints, endpoints, 2 * i + 2)
        for j, ep in enumerate(eps["endpoints"]):
            ep["addresses"] = [f"10.{200 + j}.{i // 250}.{i % 250 + 1}"]
        p.on_endpoint_slice_update(None, eps)
    return p


def bench_packet_walks(services: int = 10_000, endpoints: int = 10, packets: int = 200) -> None:
    for label, cls in (("ipvs", IpvsProxier), ("iptables", Proxier)):
        p = fill(cls("node-0", "192.168.0.1", CLUSTER_CIDR), services, endpoints)
        p.sync_proxy_rules(0)
        p.trace_packet("10.244.0.5", cluster_ip(0), 80)            # warm the parsed-rule caches
        targets = [cluster_ip((k * 7919) % services) for k in range(packets)]
        t0 = time.perf_counter()
        rules = 0
        for ip in targets:
            rules += p.trace_packet("10.244.0.5", ip, 80).rules_evaluated
        per = (time.perf_counter() - t0) / packets
        print(f"packet walk at {services} services, {label} mode: {per * 1000:.3f} ms per new connection, "
              f"{rules / packets:.0f} rules evaluated on average")


def bench_rule_set_sizes(endpoints: int = 10) -> None:
    print("services  iptables: nat rules  filter rules | ipvs: iptables rules  virtual servers  real servers  "
          "ipset entries")
    for n in (10, 100, 1000, 10_000):
        a = fill(Proxier("node-0", "192.168.0.1", CLUSTER_CIDR), n, endpoints).sync_proxy_rules(0)
        b = fill(IpvsProxier("node-0", "192.168.0.1", CLUSTER_CIDR), n, endpoints).sync_proxy_rules(0)
        print(f"{n:>8}  {a['nat_rules']:>19}  {a['filter_rules']:>12} | {b['rules_written']:>20}  "
              f"{b['virtual_servers']:>15}  {b['real_servers']:>12}  {b['ipset_entries']:>13}")


def bench_large_service_count(services: int = 10_000, endpoints: int = 10) -> None:
    p = Proxier("node-0", "192.168.0.1", CLUSTER_CIDR)
    for i in range(services):
        svc = service(i, 2 * i + 1)
        svc["spec"]["clusterIP"] = f"10.{96 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"
        p.on_service_update(None, svc)
        eps = endpoint_slice(i, endpoints, endpoints, endpoints, 2 * i + 2)
        for j, ep in enumerate(eps["endpoints"]):
            ep["addresses"] = [f"10.{200 + j}.{i // 250}.{i % 250 + 1}"]
        p.on_endpoint_slice_update(None, eps)
    t0 = time.perf_counter()
    stats = p.sync_proxy_rules(0)
    t_sync = time.perf_counter() - t0
    t1 = time.perf_counter()
    text = p.iptables_save()
    t_save = time.perf_counter() - t1
    print(f"1 proxier, {services} services x {endpoints} endpoints: full sync {t_sync:.2f} s + first "
          f"iptables_save() {t_save:.2f} s = {t_sync + t_save:.2f} s ({stats['nat_rules']} nat rules, "
          f"{len(text) / 1e6:.1f} MB)")
    # one Service's slice changes: a partial sync rewrites that Service's chains only
    eps = endpoint_slice(7, endpoints, endpoints - 1, endpoints, 2 * services + 1)
    for j, ep in enumerate(eps["endpoints"]):
        ep["addresses"] = [f"10.{200 + j}.0.8"]
    p.on_endpoint_slice_update(None, eps)
    t2 = time.perf_counter()
    stats = p.sync_proxy_rules(1000)
    t_partial = time.perf_counter() - t2
    print(f"  then one slice change: partial sync {t_partial * 1000:.2f} ms ({stats['services_rebuilt']} service "
          f"rebuilt, {stats['rules_written']} rules written)")


if __name__ == "__main__":
    bench_cluster()
    bench_slice_events(100)
    bench_slice_events(1000, rounds=20)
    bench_large_service_count()
    bench_packet_walks()
    bench_rule_set_sizes()
