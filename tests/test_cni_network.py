"""Pod network: routes per node (flannel vxlan and host-gw), veths, and the errors of exhausted CIDRs."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8slab import Cluster
from k8slab.cni import HostLocalIPAM, IPAMError
from k8slab.cni import network as net


def _nodes():
    return [net.NodeNet("control-plane", "192.168.0.10", "10.244.0.0/24"),
            net.NodeNet("node-1", "192.168.0.11", "10.244.1.0/24"),
            net.NodeNet("node-2", "192.168.0.12", "10.244.2.0/24")]


def test_vxlan_routes_in_ip_route_format():
    nodes = _nodes()
    text = net.ip_route(net.node_routes(nodes[1], nodes, "vxlan"))
    assert text == ("default via 192.168.0.1 dev eth0\n"
                    "10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink\n"
                    "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1\n"
                    "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink\n"
                    "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.11\n")


def test_host_gw_routes_point_at_node_ips():
    nodes = _nodes()
    routes = net.node_routes(nodes[1], nodes, "host-gw")
    assert [str(r) for r in routes if r.dst.startswith("10.244.") and r.dev == "eth0"] == [
        "10.244.0.0/24 via 192.168.0.10 dev eth0", "10.244.2.0/24 via 192.168.0.12 dev eth0"]


def test_no_cni0_route_before_the_first_pod_and_no_route_to_a_node_without_pod_cidr():
    nodes = _nodes()[:2] + [net.NodeNet("node-2", "192.168.0.12", None)]
    routes = net.node_routes(nodes[1], nodes, "vxlan", bridge_up=False)
    assert not any(r.dev == "cni0" for r in routes)
    assert not any(r.dst == "10.244.2.0/24" for r in routes)
    with pytest.raises(ValueError, match="unknown pod network backend"):
        net.node_routes(nodes[1], nodes, "ipip")


def test_longest_prefix_lookup():
    nodes = _nodes()
    routes = net.node_routes(nodes[1], nodes, "vxlan")
    assert str(net.lookup(routes, "10.244.2.7")) == "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"
    assert net.lookup(routes, "10.244.1.9").dev == "cni0"
    assert net.lookup(routes, "192.168.0.12").dev == "eth0" and net.lookup(routes, "192.168.0.12").via is None
    assert net.lookup(routes, "8.8.8.8").dst == "default"


def test_fdb_and_neighbours_for_vxlan():
    nodes = _nodes()
    fdb = net.fdb_entries(nodes[1], nodes)
    neigh = net.neighbours(nodes[1], nodes)
    assert len(fdb) == 2 and fdb[1].endswith("dev flannel.1 dst 192.168.0.12 self permanent")
    assert neigh[1].startswith("10.244.2.0 dev flannel.1 lladdr ") and nodes[2].vtep_mac in neigh[1]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(nodes=2, seed=1)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    c.settle()
    return c


def test_cluster_routes_follow_node_objects(cluster):
    text = cluster.ip_route("node-1")
    pod_cidrs = {n: cluster.get("node", n)["spec"]["podCIDR"] for n in cluster.nodes}
    assert f"{pod_cidrs['node-1']} dev cni0 proto kernel scope link src" in text
    other = pod_cidrs["node-2"]
    assert f"{other} via {other.split('/')[0]} dev flannel.1 onlink" in text


def test_each_pod_has_its_own_ip_and_veth(cluster):
    pods = [p for p in cluster.get("pods") if p["metadata"]["name"].startswith("web-")]
    ips = [p["status"]["podIP"] for p in pods]
    assert len(ips) == 4 and len(set(ips)) == 4
    for p in pods:
        agents = cluster.node(p["spec"]["nodeName"])
        assert re.fullmatch(r"veth[0-9a-f]{8}", agents.cni.veth_of(p["status"]["podIP"]))


def test_host_gw_cluster_option():
    c = Cluster(nodes=1, seed=0, pod_network="host-gw")
    assert "via 192.168.0.10 dev eth0" in c.ip_route("node-1")
    with pytest.raises(ValueError, match='unknown pod_network "calico"'):
        Cluster(nodes=1, pod_network="calico")


def test_exhausted_cluster_cidr_gives_cidr_not_available():
    # a /23 holds two /24s: the control plane and node-1 get one, node-2 none
    c = Cluster(nodes=2, seed=0, pod_cidr="10.244.0.0/23")
    cidrs = [c.get("node", n)["spec"].get("podCIDR") for n in c.nodes]
    assert sorted(x for x in cidrs if x) == ["10.244.0.0/24", "10.244.1.0/24"] and cidrs.count(None) == 1
    starved = c.nodes[cidrs.index(None)]
    evs = [e for e in c.events(None) if e["reason"] == "CIDRNotAvailable"]
    assert evs and evs[0]["type"] == "Warning"
    assert evs[0]["message"] == f"Node {starved} status is now: CIDRNotAvailable"
    # no podCIDR, no CNI config: the node stays NotReady, gets the not-ready taint and no pods
    node = c.get("node", starved)
    assert {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert not [p for p in c.get("pods", all_namespaces=True) if p["spec"].get("nodeName") == starved]
    errs = [e.data["err"] for e in c.trace if e.kind == "nodeipam.error"]
    assert errs[0] == ("failed to allocate cidr from cluster cidr at idx:0: CIDR allocation failed; there are no "
                       "remaining CIDRs left to allocate in the accepted range")


def test_exhausted_pod_cidr_leaves_pod_container_creating_without_duplicate_ips():
    # /29 per node: .1 is cni0, .2-.6 for pods: five pods per node
    c = Cluster(nodes=1, seed=0, pod_cidr="10.244.0.0/16", node_cidr_mask_size=29, coredns_replicas=0)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    c.run(seconds=60)
    pods = list(c.get("pods"))
    ips = [p["status"].get("podIP") for p in pods if p["status"].get("podIP")]
    assert len(ips) == 5 and len(set(ips)) == 5
    stuck = [p for p in pods if not p["status"].get("podIP")]
    assert len(stuck) == 1
    text = c.describe("pod", stuck[0]["metadata"]["name"])
    assert "ContainerCreating" in text
    cidr = c.get("node", "node-1")["spec"]["podCIDR"]
    base = cidr.rsplit(".", 1)[0]
    lo = int(cidr.split("/")[0].rsplit(".", 1)[1])
    assert "FailedCreatePodSandBox" in text
    assert (f'failed (add): failed to allocate for range 0: no IP addresses available in range set: '
            f'{base}.{lo + 1}-{base}.{lo + 6}') in text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 19)), max_size=80))
def test_host_local_never_hands_out_an_address_twice(ops):
    ipam = HostLocalIPAM("10.244.3.0/28")  # .2-.14 usable: 13 pods
    held: dict[str, str] = {}
    for add, n in ops:
        cid = f"c{n}"
        if add:
            if cid in held.values():
                continue
            try:
                ip = ipam.allocate(cid)["address"].split("/")[0]
            except IPAMError as e:
                assert len(held) == 13 and "no IP addresses available in range set: 10.244.3.1-10.244.3.14" in str(e)
                continue
            assert ip not in held and ip != "10.244.3.1"
            assert 2 <= int(ip.rsplit(".", 1)[1]) <= 14
            held[ip] = cid
        else:
            freed = ipam.release(cid)
            for ip in freed:
                assert held.pop(ip) == cid
    assert ipam.allocated() == dict(sorted(held.items(), key=lambda kv: int(kv[0].rsplit(".", 1)[1])))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.sampled_from(["vxlan", "host-gw"]))
def test_every_pod_address_has_exactly_one_best_route(third, fourth, backend):
    nodes = [net.NodeNet(f"n{i}", f"192.168.0.{10 + i}", f"10.244.{i}.0/24") for i in range(4)]
    routes = net.node_routes(nodes[1], nodes, backend)
    ip = f"10.244.{third}.{fourth}"
    r = net.lookup(routes, ip)
    if third < 4:
        assert r.dst == f"10.244.{third}.0/24"
        assert r.dev == ("cni0" if third == 1 else ("flannel.1" if backend == "vxlan" else "eth0"))
    else:
        assert r.dst == "default"
