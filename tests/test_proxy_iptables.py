"""Tests for k8slab.proxy.iptables against upstream pkg/proxy/iptables/proxier_test.go."""

import random
import textwrap

import pytest

from k8slab.proxy.iptables import (
    Proxier, ServicePortName, compute_probability, parse_rule, port_proto_hash,
    service_external_chain_name, service_firewall_chain_name, service_port_endpoint_chain_name,
    service_port_policy_cluster_chain, service_port_policy_local_chain_name)

NODE = "test-node"
P80 = [{"name": "p80", "port": 80, "protocol": "TCP"}]


def make_service(ns, name, status=None, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec,
            "status": status or {}}


def make_slice(ns, name, endpoints, ports=P80, suffix="1"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"namespace": ns, "name": f"{name}-{suffix}",
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": endpoints, "ports": ports}


def new_proxier(**kw):
    # The upstream fake proxier: pod CIDR 10.0.0.0/8, node IP 192.168.0.2, mark 0x4000, no --random-fully.
    kw.setdefault("random_fully", False)
    return Proxier(NODE, "192.168.0.2", "10.0.0.0/8", **kw)


def parse_dump(text):
    """{table: {chain: [rules]}} from restore/save text, plus each table's set of declared chains."""
    tables, chains, table = {}, {}, None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table], chains[table] = {}, set()
        elif line.startswith(":"):
            chains[table].add(line[1:].split()[0])
        elif line.startswith("-A "):
            tables[table].setdefault(line.split()[1], []).append(line)
    return tables, chains


# --- names -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,proto,expected", [
    ("ns1/svc1:p80", "tcp", "XPGD46QRK7WJZT7O"),
    ("ns2/svc2:p80", "tcp", "GNZBNJ2PO5MGZ6GT"),
    ("ns3/svc3:p80", "tcp", "X27LE4BHSL4DOUIK"),
    ("ns4/svc4:p80", "tcp", "4SW47YFZTEDKD3PK"),
    ("ns5/svc5:p80", "tcp", "NUKIZ6OKUXPJNT4C"),
    ("default/nginx:http", "tcp", "P4Q3KNUAWJVP4ILH"),
    ("default/kubernetes:https", "tcp", "NPX46M4PTMTKRN6Y"),
    ("kube-system/kube-dns:dns", "udp", "TCOU7JCQXEZGVUNU"),
    ("kube-system/kube-dns:dns-tcp", "tcp", "ERIFXISQEP7F7OF4"),
])
def test_port_proto_hash_matches_upstream(name, proto, expected):
    assert port_proto_hash(name, proto) == expected
    assert service_port_policy_cluster_chain(name, proto) == "KUBE-SVC-" + expected
    assert service_port_policy_local_chain_name(name, proto) == "KUBE-SVL-" + expected
    assert service_external_chain_name(name, proto) == "KUBE-EXT-" + expected
    assert service_firewall_chain_name(name, proto) == "KUBE-FW-" + expected


@pytest.mark.parametrize("name,endpoint,expected", [
    ("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ"),
    ("ns2/svc2:p80", "10.180.0.2:80", "KUBE-SEP-RS4RBKLTHTF2IUXJ"),
    ("ns3/svc3:p80", "10.180.0.3:80", "KUBE-SEP-OYPFS5VJICHGATKP"),
    ("ns4/svc4:p80", "10.180.0.4:80", "KUBE-SEP-UKSFD7AGPMPPLUHC"),
    ("ns4/svc4:p80", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ"),
    ("ns5/svc5:p80", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN"),
    ("default/nginx:http", "10.244.1.5:80", "KUBE-SEP-FNYMQD6U2SU53ZDU"),
])
def test_endpoint_chain_names_match_upstream(name, endpoint, expected):
    assert service_port_endpoint_chain_name(name, "tcp", endpoint) == expected


def test_protocol_is_part_of_the_hash():
    assert port_proto_hash("ns1/svc1:p80", "TCP") != port_proto_hash("ns1/svc1:p80", "tcp")


def test_service_port_name_string():
    assert str(ServicePortName("ns1", "svc1", "p80")) == "ns1/svc1:p80"
    assert str(ServicePortName("ns1", "svc1", "")) == "ns1/svc1"
    assert service_port_policy_cluster_chain(ServicePortName("ns1", "svc1", "p80"), "tcp") == \
        "KUBE-SVC-XPGD46QRK7WJZT7O"


@pytest.mark.parametrize("n,expected", [
    (1, "1.0000000000"), (2, "0.5000000000"), (3, "0.3333333333"), (4, "0.2500000000"), (6, "0.1666666667"),
    (7, "0.1428571429"), (1000, "0.0010000000"),
])
def test_compute_probability(n, expected):
    assert compute_probability(n) == expected


# --- TestOverallIPTablesRules ------------------------------------------------------------------------------------

def overall_proxier(p=None):
    """The services and slices of upstream TestOverallIPTablesRules, fed to ``p`` (default: a fake proxier)."""
    p = new_proxier() if p is None else p
    services = [
        make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80),
        make_service("ns2", "svc2", type="LoadBalancer", externalTrafficPolicy="Local", clusterIP="172.30.0.42",
                     ports=[dict(P80[0], nodePort=3001)], externalIPs=["192.168.99.22"], healthCheckNodePort=30000,
                     status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}),
        make_service("ns3", "svc3", type="NodePort", clusterIP="172.30.0.43", ports=[dict(P80[0], nodePort=3003)]),
        make_service("ns4", "svc4", type="NodePort", clusterIP="172.30.0.44", externalIPs=["192.168.99.33"],
                     ports=[dict(P80[0], targetPort=80)]),
        make_service("ns5", "svc5", type="LoadBalancer", externalTrafficPolicy="Cluster", clusterIP="172.30.0.45",
                     ports=[dict(P80[0], nodePort=3002)], healthCheckNodePort=30000,
                     loadBalancerSourceRanges=[" 203.0.113.0/25"], sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}},
                     status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}),
        make_service("ns6", "svc6", type="ClusterIP", clusterIP="172.30.0.46", ports=[dict(P80[0], targetPort=80)]),
    ]
    for svc in services:
        p.on_service_update(None, svc)
    slices = [
        make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]),
        make_slice("ns2", "svc2", [{"addresses": ["10.180.0.2"]}]),
        make_slice("ns3", "svc3", [{"addresses": ["10.180.0.3"]}]),
        make_slice("ns4", "svc4", [{"addresses": ["10.180.0.4"]}, {"addresses": ["10.180.0.5"], "nodeName": NODE}]),
        make_slice("ns5", "svc5", [{"addresses": ["10.180.0.3"]}]),
    ]
    for eps in slices:
        p.on_endpoint_slice_update(None, eps)
    return p


# Expected output of upstream TestOverallIPTablesRules (proxier_test.go), copied verbatim.
OVERALL_EXPECTED = textwrap.dedent("""\
    *filter
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FIREWALL - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
    -A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
    -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    -A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
    COMMIT
    *nat
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
    :KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
    :KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
    :KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
    :KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
    :KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
    :KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
    :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
    :KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
    :KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
    :KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
    :KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
    :KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
    :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK
    -A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
    -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
    -A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
    -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    -A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
    -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
    -A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
    -A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
    -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
    -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
    -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
    -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
    -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
    -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
    -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
    -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
    -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
    -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
    -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
    -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
    -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
    -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
    COMMIT
    """)


def test_overall_iptables_rules_match_upstream():
    p = overall_proxier()
    stats = p.sync_proxy_rules()
    assert stats["full_sync"] and not stats["partial_sync"]
    # Like upstream's assertIPTablesRulesEqual: same chains, and the same rules in the same order per chain.
    got_rules, got_chains = parse_dump(p.restore_data())
    want_rules, want_chains = parse_dump(OVERALL_EXPECTED)
    assert got_chains == want_chains
    assert got_rules == want_rules
    # The kernel view holds the same kube-proxy chains and rules.
    saved_rules, saved_chains = parse_dump(p.iptables_save())
    for table in ("filter", "nat"):
        assert want_chains[table] <= saved_chains[table]
        for chain, rules in want_rules[table].items():
            assert saved_rules[table][chain] == rules
    assert stats["nat_rules"] == sum(len(r) for r in saved_rules["nat"].values()) - 3  # minus 3 jump rules


def test_ns4_svc4_subset_from_facts_file():
    p = overall_proxier()
    p.sync_proxy_rules()
    expected = [
        '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK',
        '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
        '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC',
        '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ',
        "-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80",
        "-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80",
    ]
    lines = p.iptables_save("nat").splitlines()
    subset = [l for l in lines if "ns4/svc4" in l and "EXT" not in l and "external IP" not in l]
    assert sorted(subset) == sorted(expected)
    for chain in ("KUBE-SVC-4SW47YFZTEDKD3PK", "KUBE-SEP-UKSFD7AGPMPPLUHC", "KUBE-SEP-C6EBXVWJJZMIWKLZ"):
        assert [r.text for r in p.rules("nat", chain)] == [l for l in expected if l.split()[1] == chain]


def test_iptables_save_layout():
    p = overall_proxier()
    p.sync_proxy_rules()
    text = p.iptables_save()
    assert text.endswith("COMMIT\n")
    nat = p.iptables_save("nat").splitlines()
    assert nat[:5] == ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                       ":POSTROUTING ACCEPT [0:0]"]
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat
    assert '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat
    assert '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' in nat
    # all chain declarations come before the first rule
    first_rule = next(i for i, l in enumerate(nat) if l.startswith("-A"))
    assert not any(l.startswith(":") for l in nat[first_rule:])
    user_chains = [l.split()[0][1:] for l in nat if l.startswith(":") and " - " in l]
    assert user_chains == sorted(user_chains)
    # The nodeports jump is the last rule of KUBE-SERVICES.
    assert p.rules("nat", "KUBE-SERVICES")[-1].target == "KUBE-NODEPORTS"
    filt = p.iptables_save("filter").splitlines()
    assert [l for l in filt if l.startswith("-A FORWARD")] == [
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    ]


def test_random_fully_and_masquerade_bit():
    p = Proxier(NODE, "192.168.0.2", "10.0.0.0/8", masquerade_bit=13)
    p.sync_proxy_rules()
    post = [r.text for r in p.rules("nat", "KUBE-POSTROUTING")]
    assert post == [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x2000/0x2000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x2000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ]
    assert [r.text for r in p.rules("nat", "KUBE-MARK-MASQ")] == ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x2000"]


def test_masquerade_all_drops_the_source_match():
    p = new_proxier(masquerade_all=True)
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]))
    p.sync_proxy_rules()
    assert p.rules("nat", "KUBE-SVC-XPGD46QRK7WJZT7O")[0].text == (
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp '
        "-d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ")


# --- no endpoints, NodePort, traffic policies -------------------------------------------------------------------

def test_no_endpoints_reject():
    # TestNoEndpointsReject: REJECT for the ClusterIP, external IP, NodePort and LB IP, and no nat chains.
    p = new_proxier()
    p.on_service_update(None, make_service(
        "ns1", "svc1", type="LoadBalancer", clusterIP="172.30.0.41", externalIPs=["192.168.99.11"],
        ports=[dict(P80[0], nodePort=3001)], status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}))
    p.sync_proxy_rules()
    comment = '-m comment --comment "ns1/svc1:p80 has no endpoints"'
    assert [r.text for r in p.rules("filter", "KUBE-SERVICES")] == [
        f"-A KUBE-SERVICES {comment} -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT"]
    assert [r.text for r in p.rules("filter", "KUBE-EXTERNAL-SERVICES")] == [
        f"-A KUBE-EXTERNAL-SERVICES {comment} -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT",
        f"-A KUBE-EXTERNAL-SERVICES {comment} -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
        f"-A KUBE-EXTERNAL-SERVICES {comment} -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT",
    ]
    assert not [c for c in p.chains("nat") if c.startswith(("KUBE-SVC", "KUBE-SEP", "KUBE-EXT"))]
    walk = p.walk("172.30.0.41", 80, src_ip="10.0.0.2", hook="PREROUTING")
    assert walk.rejected and walk.endpoint is None
    assert walk.steps[-1].table == "filter" and walk.steps[-1].rule.endswith("-j REJECT")


def test_nodeport_rules_and_walk():
    p = new_proxier()
    p.on_service_update(None, make_service("ns3", "svc3", type="NodePort", clusterIP="172.30.0.43",
                                           ports=[dict(P80[0], nodePort=3003)]))
    p.on_endpoint_slice_update(None, make_slice("ns3", "svc3", [{"addresses": ["10.180.0.3"]}]))
    p.sync_proxy_rules()
    assert [r.text for r in p.rules("nat", "KUBE-NODEPORTS")] == [
        "-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 "
        "-m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK",
        "-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK",
    ]
    # A client outside the cluster reaches the node IP: masqueraded (Cluster policy), DNATed to the pod.
    walk = p.walk("192.168.0.2", 3003, src_ip="203.0.113.9", hook="PREROUTING")
    assert walk.endpoint == "10.180.0.3:80" and walk.verdict == "DNAT"
    assert walk.masqueraded
    assert walk.sep_chain == "KUBE-SEP-OYPFS5VJICHGATKP"
    assert [c for c in walk.chains if c.startswith("KUBE-")][:4] == [
        "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXT-X27LE4BHSL4DOUIK", "KUBE-MARK-MASQ"]
    # Another port on the node is not a service.
    other = p.walk("192.168.0.2", 3004, src_ip="203.0.113.9", hook="PREROUTING")
    assert other.endpoint is None and other.verdict == "ACCEPT" and not other.matched_service


def test_nodeport_addresses_and_no_localhost_nodeports():
    p = new_proxier(node_port_addresses=["192.168.0.0/24"])
    assert not p.localhost_nodeports  # the CIDRs do not include loopback
    p.sync_proxy_rules()
    assert p.rules("nat", "KUBE-SERVICES")[-1].text == (
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
        'this chain" -d 192.168.0.2 -j KUBE-NODEPORTS')
    # The chain exists (INPUT and OUTPUT jump to it) but stays empty, and is not written in the restore data.
    assert "KUBE-FIREWALL" in p.chains("filter") and p.rules("filter", "KUBE-FIREWALL") == []
    assert ":KUBE-FIREWALL" not in p.restore_data()
    assert p.walk("192.168.0.2", 22).verdict == "ACCEPT"
    q = new_proxier(localhost_nodeports=False)
    q.sync_proxy_rules()
    assert q.rules("nat", "KUBE-SERVICES")[-1].text.endswith(
        "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS")


def test_internal_traffic_policy_local():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           internalTrafficPolicy="Local"))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]))
    p.sync_proxy_rules()
    # The only endpoint is remote: traffic to the ClusterIP is dropped in filter, not rejected.
    assert [r.text for r in p.rules("filter", "KUBE-SERVICES")] == [
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp '
        "-d 172.30.0.41 --dport 80 -j DROP"]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]},
                                                                {"addresses": ["10.180.0.9"], "nodeName": NODE}]))
    p.sync_proxy_rules()
    svl = service_port_policy_local_chain_name("ns1/svc1:p80", "tcp")
    assert p.rules("nat", "KUBE-SERVICES")[0].target == svl
    assert [r.target for r in p.rules("nat", svl)] == ["KUBE-MARK-MASQ",
                                                       service_port_endpoint_chain_name("ns1/svc1:p80", "tcp",
                                                                                        "10.180.0.9:80")]
    assert p.walk("172.30.0.41", 80).endpoint == "10.180.0.9:80"


def test_external_traffic_policy_local_with_local_endpoint():
    p = new_proxier()
    p.on_service_update(None, make_service("ns2", "svc2", type="NodePort", externalTrafficPolicy="Local",
                                           clusterIP="172.30.0.42", ports=[dict(P80[0], nodePort=3001)]))
    p.on_endpoint_slice_update(None, make_slice("ns2", "svc2", [{"addresses": ["10.180.0.2"]},
                                                                {"addresses": ["10.180.0.7"], "nodeName": NODE}]))
    p.sync_proxy_rules()
    ext = "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
    assert p.rules("nat", ext)[-1].text == f"-A {ext} -j KUBE-SVL-GNZBNJ2PO5MGZ6GT"
    # External clients keep their source IP and only reach the local endpoint.
    rng = random.Random(3)
    for _ in range(20):
        walk = p.walk("192.168.0.2", 3001, src_ip="203.0.113.9", hook="PREROUTING", rng=rng)
        assert walk.endpoint == "10.180.0.7:80" and not walk.masqueraded
    # Pods on this node are short-circuited to the Cluster chain (both endpoints).
    seen = {p.walk("192.168.0.2", 3001, src_ip="10.0.5.5", hook="PREROUTING", rng=rng).endpoint for _ in range(40)}
    assert seen == {"10.180.0.2:80", "10.180.0.7:80"}


def test_load_balancer_source_ranges_firewall():
    p = overall_proxier()
    p.sync_proxy_rules()
    allowed = p.walk("5.6.7.8", 80, src_ip="203.0.113.7", hook="PREROUTING")
    assert allowed.endpoint == "10.180.0.3:80"
    blocked = p.walk("5.6.7.8", 80, src_ip="198.51.100.1", hook="PREROUTING")
    assert blocked.dropped and blocked.endpoint is None
    assert blocked.steps[-1].rule.startswith("-A KUBE-PROXY-FIREWALL")


def test_terminating_endpoints_used_only_when_none_ready():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80))
    term = {"ready": False, "serving": True, "terminating": True}
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [
        {"addresses": ["10.180.0.1"], "conditions": {"ready": True}},
        {"addresses": ["10.180.0.2"], "conditions": term},
        {"addresses": ["10.180.0.3"], "conditions": {"ready": False, "serving": False, "terminating": True}}]))
    p.sync_proxy_rules()
    svc = "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert [r.comment for r in p.rules("nat", svc)[1:]] == ["ns1/svc1:p80 -> 10.180.0.1:80"]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [
        {"addresses": ["10.180.0.1"], "conditions": {"ready": False}},
        {"addresses": ["10.180.0.2"], "conditions": term}]))
    p.sync_proxy_rules()
    assert [r.comment for r in p.rules("nat", svc)[1:]] == ["ns1/svc1:p80 -> 10.180.0.2:80"]


def test_ports_matched_by_name_and_target_port_from_slice():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "web", clusterIP="172.30.0.50", ports=[
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
        {"name": "metrics", "port": 9090, "protocol": "TCP"}]))
    p.on_endpoint_slice_update(None, make_slice("ns1", "web", [{"addresses": ["10.1.0.5"]}], ports=[
        {"name": "metrics", "port": 9100, "protocol": "TCP"}, {"name": "http", "port": 8080, "protocol": "TCP"}]))
    p.sync_proxy_rules()
    assert p.walk("172.30.0.50", 80).endpoint == "10.1.0.5:8080"
    assert p.walk("172.30.0.50", 9090).endpoint == "10.1.0.5:9100"


# --- probabilities and the walk ---------------------------------------------------------------------------------

def test_probabilities_in_svc_chain_and_endpoint_order():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80))
    ips = ["10.180.0.%d" % i for i in (1, 2, 3, 10)]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [ip]} for ip in ips]))
    p.sync_proxy_rules()
    rules = p.rules("nat", "KUBE-SVC-XPGD46QRK7WJZT7O")[1:]
    assert [r.probability for r in rules] == ["0.2500000000", "0.3333333333", "0.5000000000", None]
    # Endpoints are sorted as strings, like upstream's byEndpoint.
    assert [r.comment.split(" -> ")[1] for r in rules] == [
        "10.180.0.10:80", "10.180.0.1:80", "10.180.0.2:80", "10.180.0.3:80"]


def test_walk_spreads_uniformly_over_endpoints():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80))
    ips = ["10.180.0.%d" % i for i in range(1, 6)]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [ip]} for ip in ips]))
    p.sync_proxy_rules()
    rng = random.Random(42)
    n = 5000
    counts = {f"{ip}:80": 0 for ip in ips}
    for _ in range(n):
        counts[p.walk("172.30.0.41", 80, src_ip="10.0.0.2", hook="PREROUTING", rng=rng).endpoint] += 1
    expected = n / len(ips)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 18.47  # chi-square, 4 degrees of freedom, p = 0.001


def test_walk_steps_follow_the_rules():
    p = overall_proxier()
    p.sync_proxy_rules()
    walk = p.walk("172.30.0.41", 80)  # from the node itself (OUTPUT), source = node IP
    assert walk.endpoint == "10.180.0.1:80"
    assert walk.src_ip == "192.168.0.2"
    nat_steps = [s for s in walk.steps if s.table == "nat"]
    chain, rule, matched = nat_steps[0]
    assert (chain, matched) == ("OUTPUT", True)
    matched_rules = [s.rule for s in nat_steps if s.matched]
    assert matched_rules[:5] == [
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    ]
    assert walk.masqueraded  # node-originated traffic to a ClusterIP is masqueraded (not from the pod CIDR)
    assert walk.rules_evaluated == len(walk.steps)
    # From a pod: no masquerade.
    assert not p.walk("172.30.0.41", 80, src_ip="10.0.0.7", hook="PREROUTING").masqueraded
    # Not a service at all.
    miss = p.walk("8.8.8.8", 53, protocol="UDP")
    assert miss.endpoint is None and miss.verdict == "ACCEPT"


def test_session_affinity_keeps_the_backend():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           sessionAffinity="ClientIP",
                                           sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    ips = ["10.180.0.%d" % i for i in range(1, 5)]
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": [ip]} for ip in ips]))
    p.sync_proxy_rules()
    svc_rules = p.rules("nat", "KUBE-SVC-XPGD46QRK7WJZT7O")
    sep1 = service_port_endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.0.1:80")
    assert svc_rules[1].text == (
        f'-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent '
        f"--name {sep1} --rcheck --seconds 60 --reap -j {sep1}")
    assert p.rules("nat", sep1)[1].text == (
        f"-A {sep1} -m comment --comment ns1/svc1:p80 -m recent --name {sep1} --set -m tcp -p tcp "
        "-j DNAT --to-destination 10.180.0.1:80")
    rng = random.Random(7)
    first = p.walk("172.30.0.41", 80, src_ip="10.0.0.2", hook="PREROUTING", rng=rng, now_ms=0)
    for t in range(1, 30):
        again = p.walk("172.30.0.41", 80, src_ip="10.0.0.2", hook="PREROUTING", rng=rng, now_ms=t * 1000)
        assert again.endpoint == first.endpoint
        assert not any("statistic" in s.rule for s in again.steps)  # decided by -m recent, before any draw
    # Other clients are still spread over all endpoints.
    others = {p.walk("172.30.0.41", 80, src_ip=f"10.0.1.{i}", hook="PREROUTING", rng=rng, now_ms=0).endpoint
              for i in range(60)}
    assert len(others) == 4
    # After the timeout without traffic the entry expires and a fresh choice is made.
    later = [p.walk("172.30.0.41", 80, src_ip="10.0.0.2", hook="PREROUTING", rng=rng, now_ms=10**6 * (k + 1))
             for k in range(12)]
    assert len({w.endpoint for w in later}) > 1


def test_default_affinity_timeout():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80,
                                           sessionAffinity="ClientIP"))
    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]))
    p.sync_proxy_rules()
    assert "--seconds 10800 --reap" in p.rules("nat", "KUBE-SVC-XPGD46QRK7WJZT7O")[1].text


# --- partial sync, deletion -------------------------------------------------------------------------------------

def test_partial_sync_only_rewrites_changed_services():
    p = overall_proxier()
    assert p.sync_proxy_rules()["full_sync"]
    stats = p.sync_proxy_rules()
    assert stats["partial_sync"] and stats["services_rebuilt"] == 0
    restore = p.restore_data()
    assert "KUBE-SVC-" not in "".join(l for l in restore.splitlines() if l.startswith(":"))
    # Top-level chains are always rewritten.
    assert '"ns1/svc1:p80 cluster IP"' in restore

    p.on_endpoint_slice_update(None, make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]},
                                                                {"addresses": ["10.180.0.9"]}]))
    stats = p.sync_proxy_rules()
    assert stats["partial_sync"] and stats["services_rebuilt"] == 1
    declared = {l[1:].split()[0] for l in p.restore_data().splitlines() if l.startswith(":")}
    assert "KUBE-SVC-XPGD46QRK7WJZT7O" in declared
    assert "KUBE-SVC-4SW47YFZTEDKD3PK" not in declared
    # Unchanged services keep their chains in the kernel.
    assert len(p.rules("nat", "KUBE-SVC-4SW47YFZTEDKD3PK")) == 3
    assert len(p.rules("nat", "KUBE-SVC-XPGD46QRK7WJZT7O")) == 3

    # An update that does not change anything kube-proxy uses is not a change.
    svc1 = make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80)
    labelled = make_service("ns1", "svc1", clusterIP="172.30.0.41", ports=P80)
    labelled["metadata"]["labels"] = {"app": "x"}
    assert not p.on_service_update(svc1, labelled)
    assert p.sync_proxy_rules()["services_rebuilt"] == 0
    # A full sync is forced after an hour.
    p.sync_proxy_rules(now_ms=0, force_full=True)
    assert p.sync_proxy_rules(now_ms=3600 * 1000 + 1)["full_sync"]


def test_removing_a_service_removes_its_chains():
    p = overall_proxier()
    p.sync_proxy_rules()
    svc4 = make_service("ns4", "svc4", type="NodePort", clusterIP="172.30.0.44", externalIPs=["192.168.99.33"],
                        ports=P80)
    assert p.on_service_update(svc4, None)
    stats = p.sync_proxy_rules()
    assert stats["partial_sync"]
    gone = ["KUBE-SVC-4SW47YFZTEDKD3PK", "KUBE-EXT-4SW47YFZTEDKD3PK", "KUBE-SEP-UKSFD7AGPMPPLUHC",
            "KUBE-SEP-C6EBXVWJJZMIWKLZ"]
    saved = p.iptables_save()
    for chain in gone:
        assert chain not in saved
        assert f"-X {chain}" in p.restore_data()
        with pytest.raises(KeyError):
            p.rules("nat", chain)
    assert stats["deleted_chains"] == 4
    assert p.walk("172.30.0.44", 80).endpoint is None
    # Endpoints removed from a service: their SEP chains go too.
    p.on_endpoint_slice_update(make_slice("ns1", "svc1", [{"addresses": ["10.180.0.1"]}]), None)
    p.sync_proxy_rules()
    assert "KUBE-SEP-SXIVWICOYRO3J4NJ" not in p.chains("nat")
    assert p.walk("172.30.0.41", 80).rejected


def test_headless_and_external_name_services_are_ignored():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "headless", clusterIP="None", ports=P80))
    p.on_service_update(None, make_service("ns1", "ext", type="ExternalName", externalName="example.com"))
    stats = p.sync_proxy_rules()
    assert stats["services"] == 0


def test_large_cluster_mode_drops_endpoint_comments():
    p = new_proxier()
    p.on_service_update(None, make_service("ns1", "big", clusterIP="172.30.1.1", ports=P80))
    p.on_endpoint_slice_update(None, make_slice("ns1", "big", [
        {"addresses": [f"10.1.{i // 250}.{i % 250 + 1}"]} for i in range(1001)]))
    stats = p.sync_proxy_rules()
    assert stats["large_cluster_mode"] and stats["endpoints"] == 1001
    rules = p.rules("nat", service_port_policy_cluster_chain("ns1/big:p80", "tcp"))
    assert rules[0].comment == "ns1/big:p80 cluster IP"  # not an endpoint rule: keeps its comment
    assert all(r.comment is None for r in rules[1:])
    assert rules[1].probability == compute_probability(1001)
    sep = rules[1].target
    assert p.rules("nat", sep)[0].text.startswith(f"-A {sep} -s ")


def test_parse_rule():
    r = parse_rule("nat", '-A KUBE-SVC-X -m comment --comment "a b -> 1.2.3.4:80" -m recent --name KUBE-SEP-Y '
                          "--rcheck --seconds 10800 --reap -j KUBE-SEP-Y")
    assert (r.chain, r.comment, r.target) == ("KUBE-SVC-X", "a b -> 1.2.3.4:80", "KUBE-SEP-Y")
    assert r.recent == {"name": "KUBE-SEP-Y", "mode": "rcheck", "seconds": 10800, "reap": True}
    d = parse_rule("nat", "-A KUBE-SEP-Y -m comment --comment ns/s:p -m tcp -p tcp -j DNAT --to-destination "
                          "10.1.0.1:8080")
    assert (d.proto, d.dnat_to, d.jump) == ("tcp", "10.1.0.1:8080", "DNAT")
    n = parse_rule("nat", '-A KUBE-SVC-X -m comment --comment "c" -m tcp -p tcp -d 10.96.0.1 --dport 443 '
                          "! -s 10.0.0.0/8 -j KUBE-MARK-MASQ")
    assert (n.dst, n.dport, n.src, n.src_negated) == ("10.96.0.1", 443, "10.0.0.0/8", True)
