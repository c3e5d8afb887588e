"""NetworkPolicy enforcement: the allow/deny matrices of upstream's e2e suite (test/e2e/network/netpol).

The e2e model: namespaces x, y, z; pods a, b, c in each (label ``pod: <name>``); every pod serves TCP and UDP on
80 and 81 with named ports ``serve-80-tcp`` etc. A truth table row is the client, a column the server.
"""

import pytest

from k8slab.api.defaults import apply_defaults
from k8slab.cni.policy import Endpoint, evaluate, reachability, truth_table

NAMESPACES = ["x", "y", "z"]
PODS = ["a", "b", "c"]


def _pod(ns, name, ip):
    ports = [{"name": f"serve-{p}-{proto.lower()}", "containerPort": p, "protocol": proto}
             for p in (80, 81) for proto in ("TCP", "UDP")]
    return {"metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
            "spec": {"containers": [{"name": "cont", "image": "agnhost", "ports": ports}]},
            "status": {"podIP": ip, "phase": "Running"}}


MODEL = [_pod(ns, p, f"10.244.{i}.{j + 2}") for i, ns in enumerate(NAMESPACES) for j, p in enumerate(PODS)]
NS_LABELS = {ns: {"ns": ns, "kubernetes.io/metadata.name": ns} for ns in NAMESPACES}


def np(name, ns, spec):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": ns}, "spec": spec}
    apply_defaults(obj)
    return obj


def table(policies, port=80, protocol="TCP"):
    return truth_table(reachability(policies, MODEL, NS_LABELS, port, protocol))


def expect(allowed):
    """Build the expected table from a predicate (src, dst) -> bool over "ns/pod" names; loopback always works."""
    names = [f"{ns}/{p}" for ns in NAMESPACES for p in PODS]
    return truth_table({(a, b): a == b or allowed(a, b) for a in names for b in names})


def test_no_policy_everything_connects():
    assert table([]) == expect(lambda a, b: True)
    assert table([]).splitlines()[1] == "x/a\t.\t.\t.\t.\t.\t.\t.\t.\t."


def test_default_deny_ingress():
    pol = np("deny-ingress", "x", {"podSelector": {}, "ingress": []})
    assert table([pol]) == expect(lambda a, b: not b.startswith("x/"))


def test_default_deny_all_ingress_and_egress():
    pol = np("deny-all", "x", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert table([pol]) == expect(lambda a, b: not a.startswith("x/") and not b.startswith("x/"))


def test_allow_from_pods_in_server_namespace_by_pod_selector():
    # "should enforce policy to allow traffic from pods within server namespace based on PodSelector"
    pol = np("allow-b", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                              "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    assert table([pol]) == expect(lambda a, b: b != "x/a" or a == "x/b")


def test_namespace_selector_with_match_expressions():
    pol = np("allow-ns", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "In", "values": ["y"]}]}}]}]})
    assert table([pol]) == expect(lambda a, b: b != "x/a" or a.startswith("y/"))


def test_pod_selector_or_namespace_selector_two_peers():
    pol = np("or", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    assert table([pol]) == expect(lambda a, b: b != "x/a" or a.startswith("y/") or a == "x/b")


def test_pod_selector_and_namespace_selector_one_peer():
    pol = np("and", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    assert table([pol]) == expect(lambda a, b: b != "x/a" or a == "y/b")


def test_deny_ingress_from_other_namespaces():
    pol = np("same-ns", "x", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    assert table([pol]) == expect(lambda a, b: not b.startswith("x/") or a.startswith("x/"))


def test_ports_number_and_named_and_protocol():
    pol = np("port-81", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                              "ingress": [{"ports": [{"port": 81}]}]})
    assert table([pol], 80) == expect(lambda a, b: b != "x/a")
    assert table([pol], 81) == expect(lambda a, b: True)
    named = np("named", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                              "ingress": [{"ports": [{"port": "serve-80-tcp"}]}]})
    assert table([named], 80) == expect(lambda a, b: True)
    assert table([named], 81) == expect(lambda a, b: b != "x/a")
    udp_only = np("udp", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                               "ingress": [{"ports": [{"port": 80, "protocol": "UDP"}]}]})
    assert table([udp_only], 80, "TCP") == expect(lambda a, b: b != "x/a")  # only UDP is allowed
    assert table([udp_only], 80, "UDP") == expect(lambda a, b: True)
    any_tcp = np("any-tcp", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                                  "ingress": [{"ports": [{"protocol": "TCP"}]}]})
    assert table([any_tcp], 81, "TCP") == expect(lambda a, b: True)
    assert table([any_tcp], 81, "UDP") == expect(lambda a, b: b != "x/a")


def test_end_port_range():
    pol = np("range", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                            "ingress": [{"ports": [{"port": 79, "endPort": 80}]}]})
    assert table([pol], 80) == expect(lambda a, b: True)
    assert table([pol], 81) == expect(lambda a, b: b != "x/a")


def test_allow_all_takes_precedence_over_a_narrower_policy():
    narrow = np("narrow", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                                "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    allow_all = np("allow-all", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{}]})
    assert table([narrow, allow_all]) == expect(lambda a, b: True)


def test_egress_denied_on_the_client_even_if_the_server_allows():
    deny_egress = np("deny-egress", "x", {"podSelector": {"matchLabels": {"pod": "a"}},
                                          "policyTypes": ["Egress"]})
    allow_in = np("allow-in", "y", {"podSelector": {}, "ingress": [{}]})
    assert table([deny_egress, allow_in]) == expect(lambda a, b: a != "x/a")


def test_egress_to_other_namespace_by_pod_and_namespace_selector():
    pol = np("egress", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    assert table([pol]) == expect(lambda a, b: a != "x/a" or b == "y/b")


def test_egress_named_port_resolves_on_the_destination_pod():
    pol = np("egress-named", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                                   "egress": [{"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]})
    assert table([pol], 81, "UDP") == expect(lambda a, b: True)
    assert table([pol], 80, "UDP") == expect(lambda a, b: a != "x/a")


def test_ip_block_with_except_for_egress():
    # x/a may reach 10.244.1.0/24 (namespace y) except 10.244.1.3/32 (y/b)
    pol = np("cidr", "x", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "10.244.1.0/24", "except": ["10.244.1.3/32"]}}]}]})
    assert table([pol]) == expect(lambda a, b: a != "x/a" or (b.startswith("y/") and b != "y/b"))


def test_ip_block_matches_an_external_client_selectors_never_do():
    pol = np("cidr-in", "x", {"podSelector": {}, "ingress": [
        {"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}, {"namespaceSelector": {}}]}]})
    server = Endpoint("10.244.0.2", MODEL[0], NS_LABELS["x"])
    [v] = evaluate([pol], Endpoint("203.0.113.9"), server, 80)
    assert v.allowed and v.allowed_by == "x/cidr-in ingress[0]"
    [v] = evaluate([pol], Endpoint("198.51.100.1"), server, 80)
    assert not v.allowed and v.isolated and v.selecting == ["x/cidr-in"]
    assert "denied (selected by x/cidr-in; no rule allows it)" in str(v)


def test_default_namespace_label_selects_namespace_by_name():
    pol = np("by-name", "x", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]})
    assert table([pol]) == expect(lambda a, b: not b.startswith("x/") or a.startswith("z/"))


def test_policy_types_egress_only_leaves_ingress_open():
    pol = np("egress-only", "x", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})
    assert table([pol]) == expect(lambda a, b: True)


@pytest.mark.parametrize("spec,types", [({"podSelector": {}}, ["Ingress"]),
                                        ({"podSelector": {}, "egress": [{}]}, ["Ingress", "Egress"])])
def test_policy_types_default(spec, types):
    assert np("p", "x", spec)["spec"]["policyTypes"] == types


def test_own_node_and_the_pod_itself_are_always_allowed():
    server = dict(MODEL[0], status={**MODEL[0]["status"], "hostIP": "192.168.0.11"})
    deny = np("deny", "x", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    end = Endpoint(server["status"]["podIP"], server, NS_LABELS["x"])
    [v] = evaluate([deny], Endpoint("192.168.0.11"), end, 10250)
    assert v.allowed and v.allowed_by == "its own node (always allowed)"
    [v] = evaluate([deny], Endpoint("192.168.0.12"), end, 10250)
    assert not v.allowed  # another node is an ordinary peer
    out, inn = evaluate([deny], end, end, 80)
    assert out.allowed and inn.allowed and "cannot block itself" in inn.allowed_by
