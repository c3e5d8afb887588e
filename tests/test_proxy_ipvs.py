"""IPVS mode (pkg/proxy/ipvs/proxier.go) and the kernel's IPVS schedulers, hand-worked against their C sources."""

import pytest

from k8slab import Cluster
from k8slab.examples import NGINX
from k8slab.proxy.ipvs import IpvsProxier, TCP_FIN_TIMEOUT_S, TCP_TIMEOUT_S, UDP_TIMEOUT_S
from k8slab.proxy.ipvs_schedulers import (
    Dest, DestinationHashing, LeastConnection, NeverQueue, RoundRobin, ShortestExpectedDelay, SourceHashing,
    hash_32, ip_vs_dest_conn_overhead, new_scheduler)
from k8slab.proxy.iptables import Proxier
from tests.test_proxy_iptables import NODE, P80, make_service, make_slice, overall_proxier


def ipvs_proxier(**kw):
    kw.setdefault("random_fully", False)
    return IpvsProxier(NODE, "192.168.0.2", "10.0.0.0/8", **kw)


@pytest.fixture
def overall():
    p = overall_proxier(ipvs_proxier())
    p.sync_proxy_rules(0)
    return p


def one_service(n=3, scheduler="rr", **spec):
    p = ipvs_proxier(scheduler=scheduler)
    spec.setdefault("ports", P80)
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", **spec))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1",
                                                [{"addresses": [f"10.180.0.{i}"]} for i in range(1, n + 1)]))
    p.sync_proxy_rules(0)
    return p


# --- hash and overhead helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("ip,bucket", [("10.0.0.1", 39), ("10.0.0.2", 137), ("192.168.1.10", 248)])
def test_hash_32_buckets(ip, bucket):
    assert DestinationHashing.hashkey(ip) == bucket
    assert SourceHashing().hashkey(ip) == bucket
    assert hash_32(0, 8) == 0 and hash_32(1, 8) == 0x61C88647 >> 24


def test_conn_overhead_is_active_times_256_plus_inactive():
    d = Dest("10.0.0.1", 80)
    d.activeconns, d.inactconns = 2, 7
    assert ip_vs_dest_conn_overhead(d) == 2 * 256 + 7


# --- schedulers, hand-worked ---------------------------------------------------------------------------------------

def dests(*specs):
    out = []
    for i, spec in enumerate(specs):
        w, a, ina = spec
        d = Dest(f"10.0.0.{i + 1}", 80, w)
        d.activeconns, d.inactconns = a, ina
        out.append(d)
    return out


def test_rr_scans_on_from_the_cursor():
    a, b, c = dests((1, 0, 0), (1, 0, 0), (1, 0, 0))
    rr, lst = RoundRobin(), [a, b, c]
    assert [rr.schedule(lst, "x", "v").address for _ in range(7)] == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"]
    b.weight = 0   # quiesced: skipped
    assert [rr.schedule(lst, "x", "v").address for _ in range(3)] == ["10.0.0.3", "10.0.0.1", "10.0.0.3"]


def test_rr_cursor_moves_back_when_its_destination_is_deleted():
    a, b, c = dests((1, 0, 0), (1, 0, 0), (1, 0, 0))
    rr, lst = RoundRobin(), [a, b, c]
    assert rr.schedule(lst, "x", "v") is a and rr.schedule(lst, "x", "v") is b
    rr.del_dest(lst, b)                   # ip_vs_rr_del_dest: cursor -> the entry before b (a)
    lst = [a, c]
    assert rr.schedule(lst, "x", "v") is c
    rr.del_dest(lst, a)
    lst = [c]
    assert rr.cursor is c  # not the deleted one: unchanged
    rr2, lst2 = RoundRobin(), [a, b]
    rr2.schedule(lst2, "x", "v")          # cursor a, the first entry
    rr2.del_dest(lst2, a)                 # -> the list head
    assert rr2.cursor is None and rr2.schedule([b], "x", "v") is b


def test_rr_with_no_available_destination():
    assert RoundRobin().schedule(dests((0, 0, 0)), "x", "v") is None
    assert RoundRobin().schedule([], "x", "v") is None


def test_lc_least_overhead_ties_keep_the_earlier():
    # overheads: 1*256+0 = 256, 0*256+255 = 255, 0*256+256 = 256
    lst = dests((1, 1, 0), (1, 0, 255), (1, 0, 256))
    assert LeastConnection().schedule(lst, "x", "v") is lst[1]
    lst[1].inactconns = 256            # 256, 256, 256: the first wins (strict <)
    assert LeastConnection().schedule(lst, "x", "v") is lst[0]
    lst[0].weight = 0                  # weight 0 is skipped, weights otherwise ignored
    lst[2].weight = 100
    assert LeastConnection().schedule(lst, "x", "v") is lst[1]


def test_sed_expected_delay_and_weights():
    # (active+1)/weight: 1/1 = 1, (2+1)/3 = 1 -> tie, the earlier stays
    lst = dests((1, 0, 0), (3, 2, 0))
    assert ShortestExpectedDelay().schedule(lst, "x", "v") is lst[0]
    lst[1].activeconns = 1             # 2/3 < 1
    assert ShortestExpectedDelay().schedule(lst, "x", "v") is lst[1]
    lst[1].inactconns = 1000           # inactive connections do not count for sed
    assert ShortestExpectedDelay().schedule(lst, "x", "v") is lst[1]
    lst[0].weight = 0                  # the start is the first destination with weight > 0
    assert ShortestExpectedDelay().schedule(lst, "x", "v") is lst[1]


def test_nq_takes_an_idle_server_at_once():
    lst = dests((10, 1, 0), (1, 0, 0))     # sed would pick the first: 2/10 < 1/1
    assert ShortestExpectedDelay().schedule(lst, "x", "v") is lst[0]
    assert NeverQueue().schedule(lst, "x", "v") is lst[1]
    lst[1].activeconns = 1                 # nobody idle: as sed, 2/10 < 2/1
    assert NeverQueue().schedule(lst, "x", "v") is lst[0]


def test_dh_fills_buckets_round_robin_and_hashes_the_destination():
    lst = dests((1, 0, 0), (5, 0, 0), (1, 0, 0))
    dh = DestinationHashing()
    dh.update(lst)
    assert dh.buckets[:6] == [lst[0], lst[1], lst[2], lst[0], lst[1], lst[2]]   # weights ignored
    # bucket hash_32(10.0.0.1) = 39 -> 39 % 3 = 0, whoever the client is
    assert {dh.schedule(lst, f"10.1.0.{i}", "10.0.0.1") for i in range(20)} == {lst[0]}
    assert dh.schedule(lst, "x", "10.0.0.2") is lst[137 % 3]
    lst[0].weight = 0                   # an unavailable bucket gives no destination (no fallback)
    assert dh.schedule(lst, "x", "10.0.0.1") is None


def test_sh_weights_fill_consecutive_buckets_and_hash_the_source():
    x, y = dests((2, 0, 0), (1, 0, 0))
    sh = SourceHashing()
    sh.update([x, y])
    assert sh.buckets[:6] == [x, x, y, x, x, y]
    assert sh.schedule([x, y], "10.0.0.1", "v") is x      # bucket 39: 39 % 3 = 0
    assert sh.schedule([x, y], "10.0.0.2", "v") is y      # bucket 137: 137 % 3 = 2
    assert sh.schedule([x, y], "192.168.1.10", "v") is y  # bucket 248: 248 % 3 = 2
    x.weight = 0
    sh.update([x, y])
    assert sh.buckets[:4] == [x, y, x, y]                  # weight 0 still takes one bucket ...
    assert sh.schedule([x, y], "10.0.0.1", "v") is y       # bucket 39 is odd: y
    assert sh.schedule([x, y], "192.168.1.10", "v") is None  # bucket 248 is x's: no destination


def test_unknown_scheduler():
    with pytest.raises(ValueError, match="not modelled"):
        new_scheduler("wlc")


# --- the proxier: virtual servers, real servers, ipsets, rules ------------------------------------------------------

def test_virtual_servers_for_every_service_address(overall):
    vs = overall.virtual_servers
    # ns2/svc2: cluster IP, external IP, LB ingress, NodePort on the node IP
    for key in [("TCP", "172.30.0.42", 80), ("TCP", "192.168.99.22", 80), ("TCP", "1.2.3.4", 80),
                ("TCP", "192.168.0.2", 3001)]:
        assert key in vs and vs[key].scheduler_name == "rr"
        assert [(d.endpoint, d.weight) for d in vs[key].dests] == [("10.180.0.2:80", 1)]
    # the Service without endpoints still has its virtual server, with no real server
    assert vs[("TCP", "172.30.0.46", 80)].dests == []
    # sessionAffinity ClientIP: persistent with the affinity timeout
    assert (vs[("TCP", "172.30.0.45", 80)].persistent, vs[("TCP", "172.30.0.45", 80)].timeout) == (True, 10800)
    # kube-ipvs0 holds cluster IPs, external IPs and LB IPs, never the node's own address
    assert overall.dummy_addresses == {f"172.30.0.4{i}" for i in range(1, 7)} | {
        "192.168.99.22", "192.168.99.33", "1.2.3.4", "5.6.7.8"}


def test_ipsets_match_upstream_entries(overall):
    e = {name: s.entries for name, s in overall.ipsets.items()}
    assert e["KUBE-CLUSTER-IP"] == {f"172.30.0.4{i},tcp:80" for i in range(1, 7)}
    assert e["KUBE-LOOP-BACK"] == {"10.180.0.5,tcp:80,10.180.0.5"}       # the only local endpoint
    assert e["KUBE-EXTERNAL-IP"] == {"192.168.99.33,tcp:80"}
    assert e["KUBE-EXTERNAL-IP-LOCAL"] == {"192.168.99.22,tcp:80"}
    assert e["KUBE-LOAD-BALANCER"] == {"1.2.3.4,tcp:80", "5.6.7.8,tcp:80"}
    assert e["KUBE-LOAD-BALANCER-LOCAL"] == {"1.2.3.4,tcp:80"}
    assert e["KUBE-LOAD-BALANCER-FW"] == {"5.6.7.8,tcp:80"}
    assert e["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == {"5.6.7.8,tcp:80,203.0.113.0/25"}
    assert e["KUBE-NODE-PORT-TCP"] == {"3001", "3002", "3003"}
    assert e["KUBE-NODE-PORT-LOCAL-TCP"] == {"3001"}
    assert e["KUBE-HEALTH-CHECK-NODE-PORT"] == {"30000"}
    assert overall.ipsets["KUBE-LOOP-BACK"].set_type == "hash:ip,port,ip"
    assert overall.ipsets["KUBE-NODE-PORT-TCP"].set_type == "bitmap:port"
    text = overall.ipset_list("KUBE-NODE-PORT-TCP")
    assert text.splitlines()[:6] == ["Name: KUBE-NODE-PORT-TCP", "Type: bitmap:port", "Header: range 0-65535",
                                     "References: 1", "Number of entries: 3", "Members:"]


def test_iptables_rules_are_few_and_fixed(overall):
    nat = overall.chain_lines("nat", "KUBE-SERVICES")
    assert nat[0] == "-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN"
    assert ('-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" '
            "-m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ") in nat
    assert nat[-2:] == ["-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
                        "-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT"]
    assert overall.chain_lines("nat", "KUBE-POSTROUTING")[0] == (
        '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin '
        'purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE')
    assert overall.chain_lines("filter", "KUBE-IPVS-FILTER")[-1] == (
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT")
    # the LB's source ranges do not cover the node: the node may not reach the LB IP through IPVS
    assert overall.chain_lines("filter", "KUBE-IPVS-OUT-FILTER") == [
        "-A KUBE-IPVS-OUT-FILTER -s 5.6.7.8 -m ipvs --vaddr 5.6.7.8 --vproto tcp --vport 80 -j DROP"]
    save = overall.iptables_save()
    assert save.startswith("*filter\n:INPUT ACCEPT [0:0]") and "KUBE-SVC-" not in save
    # the same number of rules for 6 services and for 300
    many = ipvs_proxier()
    for i in range(300):
        many.on_service_update(None, make_service("ns", f"s{i}", clusterIP=f"172.31.{i // 200}.{i % 200 + 1}",
                                                  ports=P80))
        many.on_endpoint_slice_update(None, make_slice("ns", f"s{i}",
                                                       [{"addresses": [f"10.181.{i // 200}.{i % 200}"]}]))
    many.sync_proxy_rules(0)
    assert len(many.chain_lines("nat", "KUBE-SERVICES")) <= len(nat)
    assert len(many.virtual_servers) == 300 and len(many.ipsets["KUBE-CLUSTER-IP"].entries) == 300


def test_ipvsadm_ln_format(overall):
    lines = overall.ipvsadm_ln().splitlines()
    assert lines[:3] == ["IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
                         "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
    i = lines.index("TCP  172.30.0.44:80 rr")
    assert lines[i + 1:i + 3] == ["  -> 10.180.0.4:80                Masq    1      0          0         ",
                                  "  -> 10.180.0.5:80                Masq    1      0          0         "]
    assert "TCP  172.30.0.45:80 rr persistent 10800" in lines
    # services are sorted numerically by address: 1.2.3.4 before 5.6.7.8 before 172.30...
    vs_lines = [ln for ln in lines[3:] if not ln.startswith("  ->")]
    assert vs_lines[:3] == ["TCP  1.2.3.4:80 rr", "TCP  5.6.7.8:80 rr persistent 10800", "TCP  172.30.0.41:80 rr"]


# --- packets ------------------------------------------------------------------------------------------------------

def test_rr_over_new_connections_in_kernel_list_order():
    p = one_service(3)
    got = [p.trace_packet("10.0.0.2", "172.30.0.41", 80).dnat for _ in range(6)]
    # real servers were added .1, .2, .3; each went to the list head, so the list is .3, .2, .1
    assert got == ["10.180.0.3:80", "10.180.0.2:80", "10.180.0.1:80"] * 2
    assert [(d.address, d.activeconns) for d in p.virtual_servers[("TCP", "172.30.0.41", 80)].dests] == [
        ("10.180.0.3", 2), ("10.180.0.2", 2), ("10.180.0.1", 2)]


def test_established_connection_keeps_its_real_server_and_times_out():
    p = one_service(3)
    first = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=40000, now_ms=0)
    for t in range(1, 5):
        again = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=40000, now_ms=t * 1000)
        assert again.conntrack == "ESTABLISHED" and again.dnat == first.dnat
        assert again.lookups == 1 and not any(s.table == "nat" for s in again.path)
    d = p.virtual_servers[("TCP", "172.30.0.41", 80)].dest(first.dnat)
    assert (d.activeconns, d.inactconns) == (1, 0)
    # the last packet was at 4 s; 900 s later the entry is gone
    p.expire(4000 + TCP_TIMEOUT_S * 1000)
    assert (d.activeconns, d.inactconns) == (0, 0) and not p.connections


def test_closing_moves_a_connection_to_inactive_and_lc_notices():
    p = one_service(2, scheduler="lc")
    a = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=1000)
    b = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=1001)
    assert {a.dnat, b.dnat} == {"10.180.0.1:80", "10.180.0.2:80"}
    assert p.close_connection("10.0.0.2", 1000, "172.30.0.41", 80)
    d = p.virtual_servers[("TCP", "172.30.0.41", 80)].dest(a.dnat)
    assert (d.activeconns, d.inactconns) == (0, 1)         # FIN_WAIT: inactive
    # overhead 0*256+1 = 1 against 1*256+0 = 256: lc sends the next two connections to a's server
    assert p.trace_packet("10.0.0.3", "172.30.0.41", 80).dnat == a.dnat
    p.expire(TCP_FIN_TIMEOUT_S * 1000)
    assert d.inactconns == 0 and d.activeconns == 1


def test_udp_connections_are_inactive_for_300s():
    p = ipvs_proxier()
    udp = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    p.on_service_update(None, make_service("ns1", "dns", clusterIP="172.30.0.10", ports=udp))
    p.on_endpoint_slice_update(None, make_slice("ns1", "dns", [{"addresses": ["10.180.0.9"]}], ports=udp))
    p.sync_proxy_rules(0)
    t = p.trace_packet("10.0.0.2", "172.30.0.10", 53, "UDP", now_ms=0)
    d = p.virtual_servers[("UDP", "172.30.0.10", 53)].dests[0]
    assert t.dnat == "10.180.0.9:53" and (d.activeconns, d.inactconns) == (0, 1)
    p.expire(UDP_TIMEOUT_S * 1000 - 1)
    assert d.inactconns == 1
    p.expire(UDP_TIMEOUT_S * 1000)
    assert d.inactconns == 0


def test_removed_endpoint_is_drained_with_weight_0():
    p = one_service(2)
    c = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=5000, now_ms=0)
    gone = c.dnat
    keep = "10.180.0.1" if gone == "10.180.0.2:80" else "10.180.0.2"
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [keep]}]))
    p.sync_proxy_rules(1000)
    vs = p.virtual_servers[("TCP", "172.30.0.41", 80)]
    assert vs.dest(gone).weight == 0                               # still listed, quiesced
    assert f"  -> {gone:<28} Masq    0      1          0         " in p.ipvsadm_ln().splitlines()
    assert p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=5000, now_ms=2000).dnat == gone  # open flow
    assert {p.trace_packet("10.0.0.3", "172.30.0.41", 80, now_ms=2000).dnat for _ in range(5)} == {f"{keep}:80"}
    p.close_connection("10.0.0.2", 5000, "172.30.0.41", 80, now_ms=3000)
    p.expire(3000 + TCP_FIN_TIMEOUT_S * 1000)
    assert vs.dest(gone) is None                                   # deleted once it had no connections


def test_persistence_for_session_affinity():
    p = one_service(3, sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    first = p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=0)
    assert all(p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=k * 10_000).dnat == first.dnat
               for k in range(1, 6))
    others = {p.trace_packet(f"10.0.1.{i}", "172.30.0.41", 80, now_ms=0).dnat for i in range(6)}
    assert len(others) == 3
    # rr: first .3 (the list head), the six other clients .2 .1 .3 .2 .1 .3 -> the cursor is on .3 again
    assert first.dnat == "10.180.0.3:80"
    # each use re-arms the 60 s template (last use at 50 s); idle past 110 s and rr decides again: .2
    later = p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=111_000)
    assert later.dnat == "10.180.0.2:80" and not any("persistent" in s.rule for s in later.path)
    again = p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=112_000)
    assert again.dnat == later.dnat and any("persistent" in s.rule for s in again.path)


def test_no_endpoints_and_wrong_port_are_rejected(overall):
    t = overall.trace_packet("10.0.0.2", "172.30.0.46", 80)
    assert t.verdict == "REJECT" and "no destination available" in t.reason
    wrong = overall.trace_packet("10.0.0.2", "172.30.0.44", 81)
    assert wrong.verdict == "REJECT" and wrong.path[-1].rule.endswith("KUBE-IPVS-IPS dst -j REJECT")


def test_masquerade_for_nodeport_and_hairpin(overall):
    np_ = overall.trace_packet("203.0.113.9", "192.168.0.2", 3003)
    assert np_.dnat == "10.180.0.3:80" and np_.masqueraded and np_.virtual_server == "TCP 192.168.0.2:3003"
    pod = overall.trace_packet("10.0.0.2", "172.30.0.41", 80)
    assert pod.dnat == "10.180.0.1:80" and not pod.masqueraded
    # the local endpoint 10.180.0.5 reaching its own Service and landing on itself: KUBE-LOOP-BACK masquerades
    hits = [overall.trace_packet("10.180.0.5", "172.30.0.44", 80) for _ in range(2)]
    hairpin = next(t for t in hits if t.dnat == "10.180.0.5:80")
    assert hairpin.masqueraded and any("KUBE-LOOP-BACK" in s.rule and s.matched for s in hairpin.path)


def test_external_traffic_policy_local(overall):
    # svc2 has no local endpoint: IPVS falls back to cluster endpoints (kubernetes#97081) and keeps the client IP
    t = overall.trace_packet("203.0.113.9", "192.168.0.2", 3001)
    assert t.dnat == "10.180.0.2:80" and not t.masqueraded


def test_lb_source_ranges(overall):
    ok = overall.trace_packet("203.0.113.9", "5.6.7.8", 80)
    assert ok.dnat == "10.180.0.3:80" and ok.masqueraded
    denied = overall.trace_packet("198.51.100.7", "5.6.7.8", 80)
    assert denied.verdict == "DROP" and "KUBE-SOURCE-RANGES-FIREWALL" in denied.chains


def test_walk_cost_does_not_grow_with_services():
    def build(cls, n, **kw):
        p = cls(NODE, "192.168.0.2", "10.0.0.0/8", **kw)
        for i in range(n):
            p.on_service_update(None, make_service("ns", f"s{i}", clusterIP=f"172.31.{i // 200}.{i % 200 + 1}",
                                                   ports=P80))
            p.on_endpoint_slice_update(None, make_slice("ns", f"s{i}",
                                                        [{"addresses": [f"10.181.{i // 200}.{i % 200}"]}]))
        p.sync_proxy_rules(0)
        last = n - 1
        return p.trace_packet("10.0.0.2", f"172.31.{last // 200}.{last % 200 + 1}", 80).rules_evaluated
    assert build(IpvsProxier, 10) == build(IpvsProxier, 400)
    assert build(Proxier, 400) > build(Proxier, 10) + 300


def test_set_scheduler_updates_virtual_servers():
    p = one_service(2)
    p.set_scheduler("sh")
    p.sync_proxy_rules(0)
    assert "TCP  172.30.0.41:80 sh" in p.ipvsadm_ln()
    assert len({p.trace_packet("10.0.0.2", "172.30.0.41", 80).dnat for _ in range(10)}) == 1


# --- the cluster ---------------------------------------------------------------------------------------------------

def test_cluster_in_ipvs_mode_serves_requests():
    c = Cluster(nodes=2, seed=0, proxy_mode="ipvs", ipvs_scheduler="lc")
    c.apply(NGINX)
    c.settle()
    kp = c.node("node-1").kube_proxy
    assert kp.mode == "ipvs" and "rr" not in kp.ipvsadm_ln().split("Flags")[-1]
    assert c.request("http://web.default").status == "200 OK"
    svc_ip = c.get("service", "web")["spec"]["clusterIP"]
    assert "Members:\n" in kp.ipset_list("KUBE-CLUSTER-IP") and f"{svc_ip},tcp:80" in kp.ipset_list()
    t = c.trace_packet("192.168.0.11", svc_ip, 80, node="node-1")
    assert t.mode == "ipvs" and t.dnat and t.scheduler == "lc"
    assert "ESTABLISHED" in kp.ipvsadm_lnc()
    shown = kp.ip_addr_show()
    assert shown.startswith("5: kube-ipvs0: <BROADCAST,NOARP>") and f"inet {svc_ip}/32 scope global kube-ipvs0" in shown
    assert "inet 192.168.0.11/32" not in shown   # the node's own address is not on kube-ipvs0


@pytest.mark.parametrize("mode,message", [
    ("userspace", 'KubeProxyConfiguration.ProxyMode: Invalid value: "userspace": must be iptables, ipvs, nftables '
                  "or blank (blank means the best-available proxy [currently iptables])"),
    ("kernelspace", 'Invalid value: "kernelspace"'),
    ("nftables", "not modelled"),
])
def test_unsupported_proxy_modes(mode, message):
    with pytest.raises(ValueError) as e:
        Cluster(nodes=1, proxy_mode=mode)
    assert message in str(e.value)


def test_ipvs_commands_in_iptables_mode_explain_themselves():
    c = Cluster(nodes=1)
    with pytest.raises(RuntimeError, match='proxy_mode="ipvs"'):
        c.node("node-1").kube_proxy.ipvsadm_ln()


# --- upstream pkg/proxy/ipvs/proxier_test.go ----------------------------------------------------------------------

def jumps(p, table, chain):
    """What upstream's checkIptables compares: (JumpChain, MatchSet, SourceAddress) per rule of a chain."""
    return [(r.target, r.match_set[0] if r.match_set else "", r.src or "") for r in p.rules(table, chain)]


def test_upstream_load_balancer_source_ranges():
    p = ipvs_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", type="LoadBalancer", clusterIP="10.20.30.41", ports=P80,
                                           loadBalancerSourceRanges=["10.0.0.0/8"],
                                           status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]))
    p.sync_proxy_rules(0)
    assert p.ipsets["KUBE-LOAD-BALANCER"].entries == {"1.2.3.4,tcp:80"}
    assert p.ipsets["KUBE-LOAD-BALANCER-FW"].entries == {"1.2.3.4,tcp:80"}
    assert p.ipsets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].entries == {"1.2.3.4,tcp:80,10.0.0.0/8"}
    assert jumps(p, "nat", "KUBE-SERVICES") == [
        ("RETURN", "", "127.0.0.0/8"), ("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER", ""),
        ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP", "10.0.0.0/8"), ("KUBE-NODE-PORT", "", ""),
        ("ACCEPT", "KUBE-CLUSTER-IP", ""), ("ACCEPT", "KUBE-LOAD-BALANCER", "")]
    assert jumps(p, "filter", "KUBE-PROXY-FIREWALL") == [
        ("KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-FW", "")]
    assert jumps(p, "filter", "KUBE-SOURCE-RANGES-FIREWALL") == [
        ("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR", ""), ("DROP", "", "")]


def test_upstream_accept_ipvs_traffic():
    p = ipvs_proxier()
    for kind, ip, name in (("ClusterIP", "10.20.30.40", "svc1"), ("LoadBalancer", "10.20.30.41", "svc2"),
                           ("NodePort", "10.20.30.42", "svc3")):
        extra = {}
        if kind == "LoadBalancer":
            extra["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
        if kind == "ClusterIP":
            extra["externalIPs"] = ["5.6.7.8"]
        p.on_service_update(None, make_service("ns1", name, type=kind, clusterIP=ip,
                                               ports=[dict(P80[0], nodePort=80)], **extra))
    p.sync_proxy_rules(0)
    assert jumps(p, "nat", "KUBE-SERVICES") == [
        ("RETURN", "", "127.0.0.0/8"), ("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER", ""),
        ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP", "10.0.0.0/8"), ("KUBE-MARK-MASQ", "KUBE-EXTERNAL-IP", ""),
        ("ACCEPT", "KUBE-EXTERNAL-IP", ""), ("ACCEPT", "KUBE-EXTERNAL-IP", ""), ("KUBE-NODE-PORT", "", ""),
        ("ACCEPT", "KUBE-CLUSTER-IP", ""), ("ACCEPT", "KUBE-LOAD-BALANCER", "")]


def test_upstream_only_local_load_balancing():
    p = ipvs_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", type="LoadBalancer", clusterIP="10.20.30.41",
                                           externalTrafficPolicy="Local", ports=[dict(P80[0], nodePort=3001)],
                                           status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [
        {"addresses": ["10.180.0.1"], "nodeName": NODE},          # local: a real server
        {"addresses": ["10.180.1.1"], "nodeName": "other-node"}]))  # remote: not one
    p.sync_proxy_rules(0)
    lb = p.virtual_servers[("TCP", "1.2.3.4", 80)]
    assert [(d.address, d.port) for d in lb.dests] == [("10.180.0.1", 80)]
    # the cluster IP still uses every endpoint (externalTrafficPolicy does not apply to it)
    assert {d.address for d in p.virtual_servers[("TCP", "10.20.30.41", 80)].dests} == {"10.180.0.1", "10.180.1.1"}
    assert p.ipsets["KUBE-LOAD-BALANCER"].entries == {"1.2.3.4,tcp:80"}
    assert p.ipsets["KUBE-LOAD-BALANCER-LOCAL"].entries == {"1.2.3.4,tcp:80"}
    assert jumps(p, "nat", "KUBE-LOAD-BALANCER") == [
        ("RETURN", "KUBE-LOAD-BALANCER-LOCAL", ""), ("KUBE-MARK-MASQ", "", "")]


# --- scheduler invariants (hypothesis) ----------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

conns = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(0, 600)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(conns)
def test_rr_visits_every_available_server_once_per_round(specs):
    lst = dests(*specs)
    rr = RoundRobin()
    avail = [d for d in lst if d.weight > 0]
    picks = [rr.schedule(lst, "x", "v") for _ in range(2 * len(avail))]
    if not avail:
        assert picks == []
    else:
        assert picks[:len(avail)] == avail and picks[len(avail):] == avail


@settings(max_examples=60, deadline=None)
@given(conns)
def test_lc_sed_nq_pick_a_minimum(specs):
    lst = dests(*specs)
    avail = [d for d in lst if d.weight > 0]
    lc = LeastConnection().schedule(lst, "x", "v")
    sed = ShortestExpectedDelay().schedule(lst, "x", "v")
    nq = NeverQueue().schedule(lst, "x", "v")
    if not avail:
        assert lc is sed is nq is None
        return
    assert ip_vs_dest_conn_overhead(lc) == min(map(ip_vs_dest_conn_overhead, avail))
    best = min((d.activeconns + 1) / d.weight for d in avail)
    assert (sed.activeconns + 1) / sed.weight == best
    idle = [d for d in avail if d.activeconns == 0]
    assert nq is (idle[0] if idle else sed)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 8), min_size=1, max_size=6))
def test_sh_buckets_follow_the_weights(weights):
    lst = dests(*[(w, 0, 0) for w in weights])
    sh = SourceHashing()
    sh.update(lst)
    assert len(sh.buckets) == 256
    total = sum(weights)
    for d in lst:   # full rounds of sum(weights) buckets, then a partial one
        full, rest = divmod(256, total)
        extra = max(0, min(d.weight, rest - sum(x.weight for x in lst[:lst.index(d)])))
        assert sh.buckets.count(d) == full * d.weight + extra


def test_internal_traffic_policy_local_without_local_endpoints():
    p = ipvs_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           internalTrafficPolicy="Local"))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.2"], "nodeName": "other"}]))
    p.sync_proxy_rules(0)
    # CategorizeEndpoints gives no cluster endpoints to a Service that uses only local ones: no real server
    assert p.virtual_servers[("TCP", "172.30.0.41", 80)].dests == []
    t = p.trace_packet("10.0.0.2", "172.30.0.41", 80)
    assert t.verdict == "REJECT" and t.dnat is None
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.2"], "nodeName": "other"},
                                                                {"addresses": ["10.180.0.1"], "nodeName": NODE}]))
    p.sync_proxy_rules(1000)
    assert {p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=1000).dnat for _ in range(4)} == {"10.180.0.1:80"}


def test_external_ip_from_outside_and_from_a_pod(overall):
    out = overall.trace_packet("203.0.113.9", "192.168.99.33", 80)
    assert out.dnat in ("10.180.0.4:80", "10.180.0.5:80") and out.masqueraded
    assert any("KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ" in s.rule and s.matched for s in out.path)
    # Local policy external IP: not marked for masquerade, the client address is kept
    local = overall.trace_packet("203.0.113.9", "192.168.99.22", 80)
    assert local.dnat == "10.180.0.2:80" and not local.masqueraded


def test_ipvs_cluster_is_deterministic_and_replays():
    def build():
        c = Cluster(nodes=2, seed=4, proxy_mode="ipvs", ipvs_scheduler="sed")
        c.apply(NGINX)
        c.settle()
        return c
    a, b = build(), build()
    assert a.node("node-2").kube_proxy.ipvsadm_ln() == b.node("node-2").kube_proxy.ipvsadm_ln()
    assert [(e.seq, e.kind, e.ref) for e in a.trace] == [(e.seq, e.kind, e.ref) for e in b.trace]
    r = a.replay()
    assert r.proxy_mode == "ipvs"
    assert r.node("node-1").kube_proxy.ipvsadm_ln() == a.node("node-1").kube_proxy.ipvsadm_ln()
