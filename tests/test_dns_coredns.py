"""CoreDNS's kubernetes plugin, the pod's resolv.conf and the resolver's search-list walk."""

import pytest

from k8slab import Cluster
from k8slab.dns import resolv_conf, search_candidates
from k8slab.dns.coredns import reverse_name, srv_weight

APP = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000, targetPort: 9000, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  clusterIP: None
  selector: {app: nobody}
  ports: [{name: x, port: 1}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec: {hostname: db-0, subdomain: db, containers: [{name: pg, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec: {hostname: db-1, subdomain: db, containers: [{name: pg, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-x, labels: {app: db}}
spec: {containers: [{name: pg, image: postgres}]}
"""


@pytest.fixture(scope="module")
def c():
    c = Cluster(nodes=2, seed=5)
    c.apply(APP)
    c.run(seconds=60)
    return c


def ip(c, pod):
    return c.get("pod", pod)["status"]["podIP"]


def test_cluster_ip_service_a_record(c):
    q = c.dns.query("web.default.svc.cluster.local")
    assert q.rcode == "NOERROR" and [r.value for r in q.answers] == [c.get("service", "web")["spec"]["clusterIP"]]
    # kubeadm's Corefile sets "ttl 30" (the plugin's own default is 5)
    assert str(q.answers[0]).startswith("web.default.svc.cluster.local.\t30\tIN\tA\t")
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure" in c.dns.corefile()
    assert "ttl 30" in c.dns.corefile()


def test_headless_service_one_a_record_per_ready_endpoint(c):
    q = c.dns.query("db.default.svc.cluster.local")
    assert sorted(r.value for r in q.answers) == sorted(ip(c, p) for p in ("db-0", "db-1", "db-x"))


def test_pod_hostname_and_subdomain_records(c):
    assert c.dns.query("db-0.db.default.svc.cluster.local").answers[0].value == ip(c, "db-0")
    dashed = ip(c, "db-x").replace(".", "-")
    assert c.dns.query(f"{dashed}.db.default.svc.cluster.local").answers[0].value == ip(c, "db-x")
    assert c.dns.query("db-9.db.default.svc.cluster.local").rcode == "NXDOMAIN"


def test_srv_for_named_ports(c):
    q = c.dns.query("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert [r.value for r in q.answers] == ["0 100 80 web.default.svc.cluster.local."]
    q = c.dns.query("_pg._tcp.db.default.svc.cluster.local", "SRV")
    dashed = ip(c, "db-x").replace(".", "-")
    assert sorted(r.value for r in q.answers) == sorted(["0 33 5432 db-0.db.default.svc.cluster.local.",
                                                         "0 33 5432 db-1.db.default.svc.cluster.local.",
                                                         f"0 33 5432 {dashed}.db.default.svc.cluster.local."])
    assert c.dns.query("_http._udp.web.default.svc.cluster.local", "SRV").rcode == "NXDOMAIN"


def test_srv_weight_rounds_down():
    assert [srv_weight(n) for n in (1, 2, 3, 6, 7)] == [100, 50, 33, 16, 14]


def test_ptr_records(c):
    cip = c.get("service", "web")["spec"]["clusterIP"]
    q = c.dns.query(reverse_name(cip), "PTR")
    assert [r.value for r in q.answers] == ["web.default.svc.cluster.local."]
    q = c.dns.query(reverse_name(ip(c, "db-0")), "PTR")
    assert [r.value for r in q.answers] == ["db-0.db.default.svc.cluster.local."]
    assert c.dns.query(reverse_name("10.99.99.99"), "PTR").rcode == "NXDOMAIN"


def test_nxdomain_for_unknown_names_and_outside_the_zone(c):
    assert c.dns.query("nope.default.svc.cluster.local").rcode == "NXDOMAIN"
    assert c.dns.query("web.nowhere.svc.cluster.local").rcode == "NXDOMAIN"
    assert c.dns.query("example.com").rcode == "NXDOMAIN"


def test_search_walk_and_ndots():
    assert search_candidates("web", "default") == ["web.default.svc.cluster.local", "web.svc.cluster.local",
                                                   "web.cluster.local", "web"]
    # five dots: tried as is first
    assert search_candidates("a.b.c.d.e.f", "default")[0] == "a.b.c.d.e.f"
    assert search_candidates("a.b.c.d.e", "default")[0] == "a.b.c.d.e.default.svc.cluster.local"
    assert search_candidates("web.default.svc.cluster.local.", "x") == ["web.default.svc.cluster.local"]


def test_resolve_stops_at_the_first_answer(c):
    lk = c.dns.resolve("web.default", namespace="kube-system")
    assert [(q.name, q.rcode) for q in lk.queries] == [("web.default.kube-system.svc.cluster.local", "NXDOMAIN"),
                                                       ("web.default.svc.cluster.local", "NOERROR")]
    assert lk.addresses == [c.get("service", "web")["spec"]["clusterIP"]]
    # "web.default.svc.cluster.local" has 4 dots: still fewer than ndots:5, so the search list goes first
    lk = c.dns.resolve("web.default.svc.cluster.local")
    assert len(lk.queries) == 4 and lk.queries[-1].name == "web.default.svc.cluster.local"


def test_pod_resolv_conf(c):
    text = c.resolv_conf("web-0")
    assert text == ("search default.svc.cluster.local svc.cluster.local cluster.local\n"
                    f"nameserver {c.dns_ip}\noptions ndots:5\n") == resolv_conf("default", "10.96.0.10")
    assert c.dns_ip == "10.96.0.10"
    core = next(p for p in c.get("pods", namespace="kube-system") if p["metadata"]["name"].startswith("coredns"))
    assert c.resolv_conf(f"kube-system/{core['metadata']['name']}").startswith("# dnsPolicy Default")


def test_srv_without_port_lists_every_port_and_shares_the_weight(c):
    q = c.dns.query("web.default.svc.cluster.local", "SRV")
    assert [r.value for r in q.answers] == ["0 50 80 web.default.svc.cluster.local.",
                                            "0 50 9000 web.default.svc.cluster.local."]


def test_endpoint_names_answer_for_cluster_ip_services_too(c):
    dashed = ip(c, "web-0").replace(".", "-")
    q = c.dns.query(f"{dashed}.web.default.svc.cluster.local")
    assert [r.value for r in q.answers] == [ip(c, "web-0")]


def test_nodata_and_nxdomain(c):
    assert c.dns.query("nobody.default.svc.cluster.local").rcode == "NXDOMAIN"  # headless, no ready endpoint
    q = c.dns.query("web.default.svc.cluster.local", "AAAA")
    assert q.rcode == "NOERROR" and q.answers == []  # the name exists, no IPv6 address
    assert c.dns.query("default.svc.cluster.local").rcode == "NOERROR"
    assert c.dns.query("nowhere.svc.cluster.local").rcode == "NXDOMAIN"
