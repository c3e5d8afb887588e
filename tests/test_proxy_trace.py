"""trace_packet: packet walks for every Service type and traffic policy, with conntrack (iptables mode)."""

import pytest

from k8slab.examples import tour_cluster
from k8slab.proxy.conntrack import Conntrack, TCP_ESTABLISHED_TIMEOUT_S, UDP_TIMEOUT_S
from tests.test_proxy_iptables import P80, NODE, make_service, make_slice, new_proxier, overall_proxier


@pytest.fixture
def overall():
    p = overall_proxier()
    p.sync_proxy_rules()
    return p


def test_cluster_ip_new_flow_is_dnated_and_tracked(overall):
    t = overall.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=40000)
    assert (t.verdict, t.conntrack, t.dnat) == ("ACCEPT", "NEW", "10.180.0.1:80")
    assert t.sep_chain == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert [c for c in t.chains if c.startswith("KUBE-")][:3] == [
        "KUBE-SERVICES", "KUBE-SVC-XPGD46QRK7WJZT7O", "KUBE-SEP-SXIVWICOYRO3J4NJ"]
    # every step is (chain, rule, matched); the DNAT rule matched in the SEP chain
    [(chain, rule, matched)] = [s for s in t.path if "-j DNAT" in s.rule]
    assert chain == t.sep_chain and rule.endswith("--to-destination 10.180.0.1:80") and matched
    assert t.rules_evaluated == len(t.path) > 10
    assert not t.masqueraded  # pod source inside the cluster CIDR
    [entry] = overall.conntrack.entries()
    assert entry.key == ("TCP", "10.0.0.2", 40000, "172.30.0.41", 80) and entry.dnat == "10.180.0.1:80"
    assert entry.expires_ms == TCP_ESTABLISHED_TIMEOUT_S * 1000


def test_established_flow_skips_nat_and_keeps_its_backend():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80))
    ips = [f"10.180.0.{i}" for i in range(1, 5)]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [ip]} for ip in ips]))
    p.sync_proxy_rules()
    first = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=41000, now_ms=0)
    # the backend's pod goes away from the rules: the open flow still goes to it (conntrack), new flows do not
    keep = [ip for ip in ips if f"{ip}:80" != first.dnat]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [ip]} for ip in keep]))
    p.sync_proxy_rules()
    for t in range(1, 20):
        again = p.trace_packet("10.0.0.2", "172.30.0.41", 80, src_port=41000, now_ms=t * 1000)
        assert again.conntrack == "ESTABLISHED" and again.dnat == first.dnat
        assert all(s.table == "filter" for s in again.path)
    fresh = {p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=30_000).dnat for _ in range(40)}
    assert first.dnat not in fresh and len(fresh) == 3


def test_new_source_ports_spread_over_endpoints(overall):
    got = {overall.trace_packet("10.0.0.2", "172.30.0.44", 80).dnat for _ in range(40)}
    assert got == {"10.180.0.4:80", "10.180.0.5:80"}
    ports = {e.sport for e in overall.conntrack.entries()}
    assert len(ports) == 40 and min(ports) == 32768


def test_udp_entries_expire_after_30s():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "dns", clusterIP="172.30.0.10",
                                           ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]))
    p.on_endpoint_slice_update(None, make_slice("ns1", "dns", [{"addresses": [f"10.180.0.{i}"]} for i in (1, 2)],
                                                ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]))
    p.sync_proxy_rules()
    t = p.trace_packet("10.0.0.2", "172.30.0.10", 53, "UDP", src_port=5000, now_ms=0)
    assert t.dnat and p.conntrack.entries()[0].state == ""
    assert p.trace_packet("10.0.0.2", "172.30.0.10", 53, "UDP", 5000, now_ms=29_000).conntrack == "ESTABLISHED"
    # refreshed at 29 s; idle for 30 s more and it is gone
    later = p.trace_packet("10.0.0.2", "172.30.0.10", 53, "UDP", 5000, now_ms=29_000 + UDP_TIMEOUT_S * 1000)
    assert later.conntrack == "NEW"


def test_no_endpoints_is_rejected_and_not_tracked(overall):
    t = overall.trace_packet("10.0.0.2", "172.30.0.46", 80)
    assert t.verdict == "REJECT" and t.dnat is None and t.reason == '"ns6/svc6:p80 has no endpoints"'.strip('"')
    assert len(overall.conntrack) == 0


def test_nodeport_from_outside_is_masqueraded(overall):
    t = overall.trace_packet("203.0.113.9", "192.168.0.2", 3003)
    assert t.hook == "PREROUTING" and t.dnat == "10.180.0.3:80" and t.masqueraded
    assert "KUBE-NODEPORTS" in t.chains and "KUBE-EXT-X27LE4BHSL4DOUIK" in t.chains


def test_nodeport_from_the_node_itself_uses_output(overall):
    t = overall.trace_packet("192.168.0.2", "127.0.0.1", 3003)
    assert t.hook == "OUTPUT" and t.dnat == "10.180.0.3:80" and t.masqueraded


def test_external_ip_and_load_balancer(overall):
    ext = overall.trace_packet("203.0.113.9", "192.168.99.33", 80)
    assert ext.dnat in ("10.180.0.4:80", "10.180.0.5:80") and ext.masqueraded
    assert "KUBE-EXT-4SW47YFZTEDKD3PK" in ext.chains
    # svc5: loadBalancerSourceRanges 203.0.113.0/25 -> KUBE-FW chain lets this source in
    lb = overall.trace_packet("203.0.113.9", "5.6.7.8", 80)
    assert lb.dnat == "10.180.0.3:80" and "KUBE-FW-NUKIZ6OKUXPJNT4C" in lb.chains
    # a source outside the ranges falls through KUBE-FW and is dropped by KUBE-PROXY-FIREWALL
    denied = overall.trace_packet("198.51.100.7", "5.6.7.8", 80)
    assert denied.verdict == "DROP" and "KUBE-PROXY-FIREWALL" in denied.chains


def test_external_traffic_policy_local_without_local_endpoints_drops(overall):
    # svc2: Local policy, its only endpoint is on another node
    t = overall.trace_packet("203.0.113.9", "1.2.3.4", 80)
    assert t.verdict == "DROP" and t.reason == "ns2/svc2:p80 has no local endpoints"
    # pods still reach it through the cluster IP (internal policy Cluster)
    assert overall.trace_packet("10.0.0.2", "172.30.0.42", 80).dnat == "10.180.0.2:80"
    # ... and a pod using the external IP is short-circuited to the cluster chain
    short = overall.trace_packet("10.0.0.2", "192.168.99.22", 80)
    assert short.dnat == "10.180.0.2:80" and "KUBE-SVC-GNZBNJ2PO5MGZ6GT" in short.chains


def test_external_traffic_policy_local_keeps_the_client_ip():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", type="NodePort", clusterIP="172.30.0.41",
                                           externalTrafficPolicy="Local", ports=[dict(P80[0], nodePort=30080)]))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"], "nodeName": NODE},
                                                                {"addresses": ["10.180.0.2"], "nodeName": "other"}]))
    p.sync_proxy_rules()
    got = [p.trace_packet("203.0.113.9", "192.168.0.2", 30080) for _ in range(10)]
    assert {t.dnat for t in got} == {"10.180.0.1:80"}           # only the local endpoint (KUBE-SVL)
    assert not any(t.masqueraded for t in got)                    # client IP preserved
    assert all(any(c.startswith("KUBE-SVL-") for c in t.chains) for t in got)


def test_internal_traffic_policy_local():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           internalTrafficPolicy="Local"))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.2"], "nodeName": "other"}]))
    p.sync_proxy_rules()
    t = p.trace_packet("10.0.0.2", "172.30.0.41", 80)
    assert t.verdict == "DROP" and t.reason == "ns1/svc1:p80 has no local endpoints"


def test_session_affinity_uses_recent_in_virtual_time():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           sessionAffinity="ClientIP",
                                           sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [f"10.180.0.{i}"]} for i in range(1, 5)]))
    p.sync_proxy_rules()
    first = p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=0)
    # new connections (new source ports) from the same client stick, with no random draw
    for k in range(1, 10):
        t = p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=k * 5000)
        assert t.conntrack == "NEW" and t.dnat == first.dnat
        assert any("--rcheck" in s.rule and s.matched for s in t.path)
    # idle longer than timeoutSeconds: the recent entry is stale, a fresh random choice is made
    later = {p.trace_packet("10.0.0.2", "172.30.0.41", 80, now_ms=10**6 * (k + 1)).dnat for k in range(12)}
    assert len(later) > 1


def test_trace_is_reproducible_with_the_seeded_rng():
    def run():
        p = overall_proxier()
        p.sync_proxy_rules()
        return [p.trace_packet("10.0.0.2", "172.30.0.44", 80).dnat for _ in range(20)]
    assert run() == run()


def test_conntrack_listing_and_close():
    ct = Conntrack()
    ct.add("TCP", "10.0.0.2", 40000, "10.96.0.1", 443, "192.168.0.10:6443", 0)
    assert ct.listing(1000) == ("tcp     6 86399 ESTABLISHED src=10.0.0.2 dst=10.96.0.1 sport=40000 dport=443 "
                                "src=192.168.0.10 dst=10.0.0.2 sport=6443 dport=40000")
    assert ct.close("TCP", "10.0.0.2", 40000, "10.96.0.1", 443, 1000)
    assert ct.entries()[0].state == "CLOSE_WAIT" and ct.entries()[0].expires_ms == 1000 + 3600 * 1000
    assert ct.expire(3601 * 1000) == 1 and len(ct) == 0


def test_cluster_trace_packet_from_a_pod():
    c = tour_cluster()
    svc_ip = c.get("service", "web")["spec"]["clusterIP"]
    pod = c.get("pods", selector="app=web")[0]
    t = c.trace_packet(pod["status"]["podIP"], svc_ip, 80)
    assert t.node == pod["spec"]["nodeName"] and t.hook == "PREROUTING"
    web_ips = {p["status"]["podIP"] for p in c.get("pods", selector="app=web")}
    assert t.dnat.rpartition(":")[0] in web_ips
    again = c.trace_packet(pod["status"]["podIP"], svc_ip, 80, src_port=t.sport)
    assert again.conntrack == "ESTABLISHED" and again.dnat == t.dnat
    # request() still works on top of walk()
    assert c.request("http://web.default").status == "200 OK"
