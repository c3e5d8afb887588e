"""The ``kubernetes`` Service: created by the API server, with endpoints the API server writes itself."""

from k8slab import Cluster


def test_kubernetes_service_points_at_the_apiserver_advertise_address():
    c = Cluster(nodes=1, seed=0)
    svc = c.get("service", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert "selector" not in svc["spec"]
    ep = c.get("endpoints", "kubernetes")
    assert ep["subsets"] == [{"addresses": [{"ip": "192.168.0.10"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    es = c.get("endpointslice", "kubernetes")
    assert es["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert [e["addresses"] for e in es["endpoints"]] == [["192.168.0.10"]]
    # no controller rewrites or removes them after the cluster settles
    c.run(seconds=60)
    assert c.get("endpointslice", "kubernetes")["endpoints"] == es["endpoints"]


def test_kube_proxy_routes_the_kubernetes_service_to_the_apiserver():
    c = Cluster(nodes=1, seed=0)
    rules = c.node("node-1").kube_proxy.iptables_save()
    assert "-j DNAT --to-destination 192.168.0.10:6443" in rules
    assert "default/kubernetes:https has no endpoints" not in rules
