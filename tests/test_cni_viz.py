"""The pod network picture and the path tables (k8slab.viz.network)."""

import re

import pytest

from k8slab import Cluster, viz
from k8slab.viz import style

APP = """
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, labels: {app: b}}
spec: {nodeName: node-2, containers: [{name: c, image: nginx}]}
"""


@pytest.fixture(scope="module", params=["vxlan", "host-gw"])
def c(request):
    c = Cluster(nodes=2, seed=2, pod_network=request.param)
    c.apply(APP)
    c.run(seconds=40)
    return c


def test_graph_has_title_nodes_devices_and_legend(c):
    src = viz.pod_network(c).source
    assert f"Pod network ({c.pod_network} backend)" in src
    assert "cluster_legend" in src and "the traced path" in src
    for n in c.nodes:
        assert "podCIDR " + c.get("node", n)["spec"]["podCIDR"] in src
    assert "default/a" in src and "default/b" in src
    veth = c.node("node-1").cni.veth_of(c.get("pod", "a")["status"]["podIP"])
    assert veth in src
    if c.pod_network == "vxlan":
        assert "flannel.1" in src and "VXLAN UDP 8472" in src
    else:
        assert "flannel.1" not in src and f"via {c.node('node-2').ip}" in src
    assert style.HIGHLIGHT not in src.split("cluster_legend")[0]


def test_path_is_highlighted(c):
    p = c.trace_route(c.get("pod", "b")["status"]["podIP"], 80, from_pod="a")
    assert p.ok
    src = viz.pod_network(c, p).source
    lit = [line for line in src.splitlines() if style.HIGHLIGHT in line and "legend" not in line]
    veth_a = c.node("node-1").cni.veth_of(c.get("pod", "a")["status"]["podIP"])
    veth_b = c.node("node-2").cni.veth_of(c.get("pod", "b")["status"]["podIP"])
    assert any(veth_a in line for line in lit) and any(veth_b in line for line in lit)
    assert any(re.search(r"net_node_2__eth0", line) for line in lit)
    svg = viz.pod_network(c, p).pipe(format="svg").decode()
    assert svg.startswith("<?xml") and "<svg" in svg


def test_path_and_route_tables(c):
    p = c.trace_route("10.96.0.1", 443, from_pod="b")
    df = viz.path_table(p)
    assert list(df.columns) == ["where", "kind", "detail"] and df.index[0] == 1
    assert df.attrs["title"].startswith("default/b -> 10.96.0.1:443/TCP")
    rt = viz.route_table(c, "node-1")
    assert rt.iloc[0]["destination"] == "default" and set(rt["dev"]) >= {"eth0", "cni0"}


def test_drawing_makes_no_api_requests(c):
    before = c.trace.last_seq
    viz.pod_network(c)
    viz.route_table(c, "node-2")
    assert list(c.trace.since(before)) == []
