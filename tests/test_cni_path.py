"""The end-to-end data path: DNS, kube-proxy DNAT, routes, overlay, NetworkPolicy, delivery (Cluster.trace_route)."""

import pytest

from k8slab import Cluster

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}}

APP = """
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  nodeName: node-2
  containers: [{name: pg, image: postgres, ports: [{name: postgres, containerPort: 5432}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: shop, labels: {app: other}}
spec: {nodeName: node-2, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{name: pg, port: 5432, targetPort: postgres}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: shop}
spec: {selector: {app: nothing}, ports: [{port: 80}]}
"""

ONLY_FRONTEND = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 5432}]
"""

DENY_EGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Egress]}
"""

ALLOW_DNS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}},
          podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"""


def _build(pod_network):
    c = Cluster(nodes=2, seed=3, pod_network=pod_network)
    c.apply(NS)
    c.run(seconds=2)  # the service account controller creates shop/default
    c.apply(APP)
    c.run(seconds=60)
    return c


@pytest.fixture(scope="module")
def cluster():
    return _build("vxlan")


def kinds(path):
    return [h.kind for h in path.hops]


def test_pod_to_service_across_nodes_over_vxlan(cluster):
    p = cluster.trace_route("db", 5432, from_pod="shop/frontend")
    assert p.ok and p.status == "connected" and p.pod == "shop/db" and p.node == "node-2"
    db_ip = cluster.get("pod", "db", namespace="shop")["status"]["podIP"]
    assert p.endpoint == f"{db_ip}:5432"
    assert [q.name for q in p.lookup.queries] == ["db.shop.svc.cluster.local"]
    text = repr(p)
    assert "search shop.svc.cluster.local svc.cluster.local cluster.local" in text
    assert "KUBE-SVC-" in text and "KUBE-SEP-" in text and f"-> {db_ip}:5432" in text
    fl = [str(h) for h in p.hops if h.kind == "overlay"]
    assert fl[0].startswith("node-1: [overlay] flannel.1:") and ":8472" in fl[0]
    assert fl[1].startswith("node-2: [overlay] eth0 UDP :8472 -> flannel.1 decapsulates")
    assert kinds(p)[-2:] == ["deliver", "reply"]
    # the order of the data path
    order = [k for k in kinds(p) if k in ("nat", "veth", "overlay", "deliver")]
    assert order[0] == "nat" and order.index("veth") < order.index("overlay") < order.index("deliver")


def test_same_node_traffic_stays_on_cni0(cluster):
    db_ip = cluster.get("pod", "db", namespace="shop")["status"]["podIP"]
    p = cluster.trace_route(db_ip, 5432, from_pod="shop/intruder")
    # same podCIDR: on-link for the pod, switched by cni0 at layer 2, no host route at all
    assert p.ok and "overlay" not in kinds(p) and "dns" not in kinds(p) and "route" not in kinds(p)
    assert "on-link" in p.hops[0].detail and "layer 2" in p.hops[1].detail
    # through the Service: to the gateway, DNAT on the host, then the host's cni0 route back down
    p = cluster.trace_route("db", 5432, from_pod="shop/intruder")
    assert p.ok and "overlay" not in kinds(p)
    assert kinds(p)[kinds(p).index("veth"):kinds(p).index("veth") + 4] == ["veth", "bridge", "nat", "route"]
    assert any("dev cni0" in h.detail for h in p.hops if h.kind == "route")


def test_host_gw_routes_without_encapsulation():
    c = _build("host-gw")
    p = c.trace_route("db.shop", 5432, from_pod="shop/frontend")
    assert p.ok and "overlay" not in kinds(p)
    assert any(f"via {c.node('node-2').ip} dev eth0" in h.detail for h in p.hops)
    # "db.shop" has one dot: the search list is tried first, the second suffix answers
    assert [q.rcode for q in p.lookup.queries] == ["NXDOMAIN", "NOERROR"]
    assert p.lookup.queries[1].name == "db.shop.svc.cluster.local"


def test_network_policy_allows_frontend_and_drops_others_after_dnat(cluster):
    cluster.apply(ONLY_FRONTEND)
    try:
        ok = cluster.trace_route("db", 5432, from_pod="shop/frontend")
        assert ok.ok
        assert any("allowed by shop/db-from-frontend ingress[0]" in h.detail for h in ok.hops)
        bad = cluster.trace_route("db", 5432, from_pod="shop/intruder")
        assert not bad.ok and bad.status == "connection timed out (dropped by NetworkPolicy ingress)"
        assert bad.hops[-1].kind == "policy" and "denied (selected by shop/db-from-frontend" in bad.hops[-1].detail
        r = cluster.request("http://db:5432", from_pod="shop/intruder", namespace="shop")
        assert r.status == "connection timed out (dropped by NetworkPolicy ingress)" and r.pod is None
        assert cluster.request("http://db:5432", from_pod="shop/frontend").status == "200 OK"
    finally:
        cluster.delete("networkpolicy", "db-from-frontend", namespace="shop")


def test_default_deny_egress_breaks_dns_until_dns_is_allowed(cluster):
    cluster.apply(DENY_EGRESS)
    try:
        p = cluster.trace_route("db", 5432, from_pod="shop/frontend")
        assert not p.ok and p.status.startswith("could not resolve host: db (DNS query timed out")
        cluster.apply(ALLOW_DNS)
        p = cluster.trace_route("db", 5432, from_pod="shop/frontend")
        assert not p.ok and p.status == "connection timed out (dropped by NetworkPolicy egress)"
        assert p.lookup.addresses  # DNS works now; the connection to db is still denied at the source
    finally:
        cluster.delete("networkpolicy", "deny-egress", namespace="shop")
        cluster.delete("networkpolicy", "allow-dns", namespace="shop")


def test_service_without_endpoints_is_refused(cluster):
    p = cluster.trace_route("empty", 80, from_pod="shop/frontend")
    assert not p.ok and p.status == "connection refused (service has no endpoints)"
    assert "REJECT" in p.hops[-1].detail


def test_unknown_name_walks_the_whole_search_list(cluster):
    p = cluster.trace_route("nope", 80, from_pod="shop/frontend")
    assert p.status == "could not resolve host: nope"
    assert [q.name for q in p.lookup.queries] == ["nope.shop.svc.cluster.local", "nope.svc.cluster.local",
                                                  "nope.cluster.local", "nope"]


def test_own_ip_is_loopback_and_node_destination(cluster):
    ip = cluster.get("pod", "frontend", namespace="shop")["status"]["podIP"]
    p = cluster.trace_route(ip, 80, from_pod="shop/frontend")
    assert p.ok and kinds(p) == ["deliver"] and "over lo" in p.hops[0].detail
    p = cluster.trace_route(cluster.node("node-2").ip, 10250, from_pod="shop/frontend")
    assert p.ok and p.node == "node-2" and p.hops[-1].kind == "deliver"


def test_table_rows_and_from_node(cluster):
    p = cluster.trace_route("db.shop", 5432, from_node="node-1")
    assert p.ok and p.src == "node-1" and "veth" not in kinds(p)
    rows = p.table()
    assert rows[0]["hop"] == 1 and set(rows[0]) == {"hop", "where", "kind", "detail"}


def test_default_deny_still_lets_the_pods_own_node_in(cluster):
    cluster.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "deny-all", "namespace": "shop"}, "spec": {"podSelector": {}}})
    try:
        db_ip = cluster.get("pod", "db", namespace="shop")["status"]["podIP"]
        own = cluster.trace_route(db_ip, 5432, from_node="node-2")  # the kubelet's probes come from here
        assert own.ok and any("its own node (always allowed)" in h.detail for h in own.hops)
        other = cluster.trace_route(db_ip, 5432, from_node="node-1")
        assert not other.ok and other.status == "connection timed out (dropped by NetworkPolicy ingress)"
    finally:
        cluster.delete("networkpolicy", "deny-all", namespace="shop")


def test_node_traffic_leaves_with_the_address_of_its_route(cluster):
    db_ip = cluster.get("pod", "db", namespace="shop")["status"]["podIP"]
    p = cluster.trace_route(db_ip, 5432, from_node="node-1")
    vtep = cluster.get("node", "node-1")["spec"]["podCIDR"].split("/")[0]
    assert any(f"source {cluster.node('node-1').ip} -> {vtep} (flannel.1's address)" in h.detail for h in p.hops)
    p = cluster.trace_route(db_ip, 5432, from_node="node-2")
    gw = cluster.get("node", "node-2")["spec"]["podCIDR"].replace("0/24", "1")
    assert any(f"-> {gw} (cni0's address)" in h.detail for h in p.hops)


def test_unknown_source_pod_is_not_found_and_the_walk_makes_no_api_requests(cluster):
    from k8slab.api import errors

    with pytest.raises(errors.StatusError, match='pods "ghost" not found'):
        cluster.trace_route("db", 5432, from_pod="shop/ghost")
    before = cluster.trace.last_seq
    cluster.trace_route("db", 5432, from_pod="shop/frontend")
    assert {e.kind for e in cluster.trace.since(before)} == {"dns.query"}


def test_request_from_a_node_takes_the_same_path_and_policy(cluster):
    r = cluster.request("http://db.shop:5432")
    assert r.status == "200 OK" and r.pod == "db" and r.node == "node-2"
    assert any("[overlay]" in h for h in r.path) or any("dev cni0" in h for h in r.path)
    cluster.apply(ONLY_FRONTEND)
    try:
        r = cluster.request("http://db.shop:5432")
        assert r.status == "connection timed out (dropped by NetworkPolicy ingress)" and r.pod is None
    finally:
        cluster.delete("networkpolicy", "db-from-frontend", namespace="shop")


def test_dns_policy_default_pods_do_not_resolve_cluster_names(cluster):
    core = next(p for p in cluster.get("pods", namespace="kube-system") if p["metadata"]["name"].startswith("coredns"))
    p = cluster.trace_route("db.shop", 5432, from_pod=f"kube-system/{core['metadata']['name']}")
    assert p.status == "could not resolve host: db.shop" and "dnsPolicy Default" in p.hops[0].detail
    db_ip = cluster.get("pod", "db", namespace="shop")["status"]["podIP"]
    assert cluster.trace_route(db_ip, 5432, from_pod=f"kube-system/{core['metadata']['name']}").ok


def test_ipvs_mode_dnat_step():
    c = Cluster(nodes=2, seed=3, proxy_mode="ipvs")
    c.apply(NS)
    c.run(seconds=2)
    c.apply(APP)
    c.run(seconds=60)
    p = c.trace_route("db", 5432, from_pod="shop/frontend")
    db_ip = c.get("pod", "db", namespace="shop")["status"]["podIP"]
    assert p.ok and p.endpoint == f"{db_ip}:5432" and p.pod == "shop/db"
    assert any(h.kind == "nat" and h.detail.startswith("IPVS (rr): ") and f"real server {db_ip}:5432" in h.detail
               for h in p.hops)


def test_replies_of_an_allowed_connection_pass_an_egress_deny(cluster):
    cluster.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "db-no-egress", "namespace": "shop"},
                   "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Egress"]}})
    try:
        p = cluster.trace_route("db", 5432, from_pod="shop/frontend")
        assert p.ok and p.hops[-1].kind == "reply" and "conntrack ESTABLISHED" in p.hops[-1].detail
        fe_ip = cluster.get("pod", "frontend", namespace="shop")["status"]["podIP"]
        back = cluster.trace_route(fe_ip, 80, from_pod="shop/db")  # a new connection from db is egress
        assert not back.ok and back.status == "connection timed out (dropped by NetworkPolicy egress)"
    finally:
        cluster.delete("networkpolicy", "db-no-egress", namespace="shop")
