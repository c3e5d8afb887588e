"""Notebook 08's exercises: right answers pass, typical wrong answers get specific feedback."""

import pytest

from k8slab.exercises import check
from k8slab.exercises import networking as ex


@pytest.fixture(scope="module")
def c():
    return ex.shop_cluster()


GOOD_POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 5432}]
"""


def test_08_1_policy(c):
    assert check("08.1", GOOD_POLICY, c).correct
    r = check("08.1", GOOD_POLICY.replace("ports: [{port: 5432}]", "ports: []"), c)
    assert not r.correct and "any port" in r.message
    r = check("08.1", GOOD_POLICY.replace("{matchLabels: {app: db}}", "{}"), c)
    assert not r.correct and "backend can no longer reach frontend" in r.message
    r = check("08.1", GOOD_POLICY.replace("podSelector: {matchLabels: {app: frontend}}", "namespaceSelector: {}"), c)
    assert not r.correct and "backend still reaches db" in r.message
    r = check("08.1", GOOD_POLICY.replace("5432}]", "5432, endPort: 10}]"), c)
    assert not r.correct and "API server would reject it" in r.message and "endPort" in r.message
    r = check("08.1", GOOD_POLICY.replace("namespace: shop", "namespace: payments"), c)
    assert not r.correct and "namespace shop" in r.message
    assert not check("08.1", None, c).correct


def test_08_2_queries(c):
    want = ex.lookup_queries(c)
    assert want == ["api.payments.shop.svc.cluster.local", "api.payments.svc.cluster.local"]
    assert check("08.2", want, c).correct
    r = check("08.2", ["api.payments"] + want, c)
    assert not r.correct and "search list" in r.message
    r = check("08.2", want + ["api.payments.cluster.local"], c)
    assert not r.correct and "stops at the first answer" in r.message
    assert "Not yet" in repr(check("08.2", None, c))


def test_08_3_route(c):
    want = ex.route_for(c)
    assert "dev flannel.1 onlink" in want
    assert check("08.3", want, c).correct
    cni = next(line for line in c.ip_route("node-1").splitlines() if "cni0" in line)
    r = check("08.3", cni, c)
    assert not r.correct and "db runs on node-2" in r.message
    r = check("08.3", "default via 192.168.0.1 dev eth0", c)
    assert not r.correct and "default route" in r.message
    r = check("08.3", want.replace(" onlink", ""), c)
    assert not r.correct and "right destination" in r.message


def test_08_4_port(c):
    assert ex.seen_port(c) == 8080
    assert check("08.4", 8080, c).correct
    r = check("08.4", 80, c)
    assert not r.correct and "after kube-proxy's DNAT" in r.message
    assert not check("08.4", "eighty", c).correct


DNS_POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"""


def test_08_5_dns_egress(c):
    assert check("08.5", DNS_POLICY, c).correct
    r = check("08.5", DNS_POLICY.replace("{port: 53, protocol: UDP}, ", ""), c)
    assert not r.correct and "UDP 53" in r.message
    r = check("08.5", {"kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": {"podSelector": {}}}, c)
    assert not r.correct and r.message.startswith("kubectl would refuse it: Object 'apiVersion' is missing")
    open_all = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "all"},
                "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}}
    r = check("08.5", open_all, c)
    assert not r.correct and "payments/api too" in r.message
    any_dns = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "dns"},
               "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}
    r = check("08.5", any_dns, c)
    assert not r.correct and "any address" in r.message
    every_port = DNS_POLICY.replace("    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n", "")
    r = check("08.5", every_port, c)
    assert not r.correct and "every port of the CoreDNS pods" in r.message
    either_peer = DNS_POLICY.replace("      podSelector: {matchLabels: {k8s-app", "    - podSelector: {matchLabels: {k8s-app")
    r = check("08.5", either_peer, c)
    assert not r.correct and "same peer" in r.message
    udp_only = DNS_POLICY.replace(", {port: 53, protocol: TCP}", "")
    r = check("08.5", udp_only, c)
    assert r.correct and "TCP 53" in r.message


def test_the_data_path_agrees_with_the_checks(c):
    c.apply(GOOD_POLICY)
    try:
        assert c.trace_route("db", 5432, from_pod="shop/frontend").ok
        assert not c.trace_route("db", 5432, from_pod="shop/backend").ok
    finally:
        c.delete("networkpolicy", "db-from-frontend", namespace="shop")


def test_checks_make_no_api_requests(c):
    before = c.trace.last_seq
    check("08.1", GOOD_POLICY, c)
    check("08.3", ex.route_for(c), c)
    check("08.5", DNS_POLICY, c)
    assert list(c.trace.since(before)) == []
