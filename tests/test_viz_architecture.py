"""The architecture picture: every component is drawn, every connection says what it carries, the highlight marks
what a step touched, and the laid-out view restyles (not re-lays-out) as pods change phase."""

from __future__ import annotations

import html
import re

import pytest

from k8slab import Cluster, viz
from k8slab.examples import NGINX, tour_cluster
from k8slab.sim import TraceEvent
from k8slab.viz import style
from k8slab.viz.architecture import ArchitectureView, Layout, SvgTemplate, edge_id, node_id

NODES = ["control-plane", "node-1", "node-2", "node-3"]


@pytest.fixture(scope="module")
def tour():
    return tour_cluster()


def dot_edges(source: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(tail, head): attributes} of the visible edges in DOT source written by the graphviz package."""
    out = {}
    for line in source.splitlines():
        m = re.match(r'\s*("[^"]+"|\S+) -> ("[^"]+"|\S+) \[(.*)\]\s*$', line)
        if m:
            attrs = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(3)))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            if attrs.get("style") != "invis":
                out[(m.group(1).strip('"'), m.group(2).strip('"'))] = attrs
    return out


def svg_group(svg: str, gid: str) -> str:
    """The markup of the SVG group with id ``gid`` (ids are XML-escaped by dot)."""
    for m in re.finditer(r'<g id="([^"]*)" class="(?:node|edge|cluster)"[^>]*>', svg):
        if html.unescape(m.group(1)) == gid:
            return svg[m.end():svg.index("</g>", m.end())]
    raise AssertionError(f"no group {gid!r} in the SVG")


def ev(component, kind, ref="", target="", data=None, seq=1):
    return TraceEvent(seq, 0, 1, component, kind, ref, data, None, target)


def test_graph_draws_every_component(tour):
    src = viz.architecture(tour, highlight=None).source
    for name in ["kubectl", "kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "coredns"]:
        assert f'"{name}" [' in src or f"\t{name} [" in src, name
    for node in NODES:
        for agent in ["kubelet", "kube-proxy", "containerd", "cni", "iptables", "pods"]:
            assert f'"{agent}/{node}" [' in src, f"{agent} on {node}"
        assert f"subgraph cluster_{node}" in src or f'subgraph "cluster_{node}"' in src
    for ctrl in tour.controller_manager.controllers:
        assert ctrl in src, f"controller {ctrl} listed in the controller-manager"
    assert "Legend" in src


def test_edges_are_labelled_with_what_they_carry(tour):
    edges = dot_edges(viz.architecture(tour, highlight=None).source)
    assert edges[("kubectl", "kube-apiserver")]["label"] == "HTTPS REST"
    assert edges[("kube-apiserver", "etcd")]["label"] == "gRPC (etcd v3 API)"
    for comp in ["kube-scheduler", "kube-controller-manager", "coredns"]:
        assert edges[(comp, "kube-apiserver")]["label"] == "HTTPS (REST + watch)"
    for node in NODES:
        assert edges[(f"kubelet/{node}", "kube-apiserver")]["label"] == "HTTPS (REST + watch)"
        assert edges[(f"kube-proxy/{node}", "kube-apiserver")]["label"] == "HTTPS (REST + watch)"
        assert edges[("kube-apiserver", f"kubelet/{node}")]["label"] == "HTTPS (logs/exec)"
        assert edges[(f"kubelet/{node}", f"containerd/{node}")]["label"] == "CRI (gRPC over unix socket)"
        assert edges[(f"containerd/{node}", f"cni/{node}")]["label"] == "CNI (exec plugin)"
        assert edges[(f"kube-proxy/{node}", f"iptables/{node}")]["label"] == "iptables (netfilter)"
    # components never talk to each other directly: every control connection ends at the API server
    assert not any(a in ("kube-scheduler", "kube-controller-manager") and b != "kube-apiserver" for a, b in edges)


def test_pods_are_drawn_with_their_phase(tour):
    src = viz.architecture(tour, highlight=None).source
    web = [p for p in tour.apiserver.cache["pods"].values() if p["metadata"]["name"].startswith("web-")]
    assert len(web) == 3
    for p in web:
        assert p["metadata"]["name"] in src
    assert style.PHASE_COLORS["Running"] in src


def test_many_pods_are_summarised(tour):
    src = viz.architecture(tour, highlight=None, max_pods=1).source
    per_node = {}
    for p in tour.apiserver.cache["pods"].values():
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    busy = [n for n, k in per_node.items() if k > 1]
    assert busy, "the tour cluster has a node with several pods"
    assert f"{per_node[busy[0]]} pods: {per_node[busy[0]]} Running (+{per_node[busy[0]]} more)" in src


@pytest.mark.parametrize("event, edge, nodes", [
    (ev("kubelet/node-1", "request", "pods/default/x", "kube-apiserver"), ("kubelet/node-1", "kube-apiserver"),
     {"kubelet/node-1", "kube-apiserver"}),
    (ev("kube-apiserver", "response", "pods/default/x", "kube-proxy/node-2"),
     ("kube-proxy/node-2", "kube-apiserver"), {"kube-proxy/node-2", "kube-apiserver"}),
    (ev("kube-controller-manager", "watch", "deployments/default/web", "kube-apiserver"),
     ("kube-controller-manager", "kube-apiserver"), {"kube-controller-manager", "kube-apiserver"}),
    (ev("kube-controller-manager/replicaset", "request", "pods/default/x", "kube-apiserver"),
     ("kube-controller-manager", "kube-apiserver"), {"kube-controller-manager", "kube-apiserver"}),
    (ev("kube-scheduler", "bind", "pods/default/x", "kube-apiserver"), ("kube-scheduler", "kube-apiserver"),
     {"kube-scheduler", "kube-apiserver"}),
    (ev("kube-apiserver", "etcd.put", "pods/default/x", "etcd"), ("kube-apiserver", "etcd"),
     {"kube-apiserver", "etcd"}),
    (ev("kubelet/node-3", "cri.RunPodSandbox", "pods/default/x", "containerd/node-3"),
     ("kubelet/node-3", "containerd/node-3"), {"kubelet/node-3", "containerd/node-3"}),
    (ev("containerd/node-3", "cni.ADD", "pods/default/x", "cni/node-3"), ("containerd/node-3", "cni/node-3"),
     {"containerd/node-3", "cni/node-3"}),
    (ev("kube-proxy/node-1", "sync_proxy_rules", "nodes/node-1", "iptables"),
     ("kube-proxy/node-1", "iptables/node-1"), {"kube-proxy/node-1", "iptables/node-1"}),
    (ev("coredns", "watch", "services/default/web", "kube-apiserver"), ("coredns", "kube-apiserver"),
     {"coredns", "kube-apiserver"}),
])
def test_events_touch_the_right_edge(tour, event, edge, nodes):
    layout = Layout(tour)
    touched_nodes, touched_edges, _ = viz.touched(layout, [event])
    assert touched_edges == {edge_id(*edge)}
    assert touched_nodes == nodes


def test_a_response_to_a_kubelet_is_its_watch_connection_not_logs_exec(tour):
    layout = Layout(tour)
    _, edges, _ = viz.touched(layout, [ev("kube-apiserver", "response", "pods/default/x", "kubelet/node-1")])
    assert edges == {edge_id("kubelet/node-1", "kube-apiserver")}


def test_reconcile_highlights_the_controller_line(tour):
    layout = Layout(tour)
    _, edges, lines = viz.touched(layout, [ev("kube-controller-manager/deployment", "reconcile", "deployments/d/w")])
    assert lines == {"deployment"} and not edges


def test_highlight_marks_real_trace_events_in_svg_and_dot(tour):
    cri = tour.trace.filter(kind="cri.RunPodSandbox")[0]
    watch = next(e for e in tour.trace.filter(kind="watch") if e.component.startswith("kubelet/"))
    view = ArchitectureView(tour)
    svg = view.svg([cri, watch])
    hl = f"stroke:{style.HIGHLIGHT}"
    assert hl in svg_group(svg, edge_id(cri.component, cri.target))
    assert hl in svg_group(svg, edge_id(watch.component, "kube-apiserver"))
    assert hl not in svg_group(svg, edge_id("kube-apiserver", "etcd"))
    assert hl not in view.svg(None)
    edges = dot_edges(viz.architecture(tour, highlight=[cri]).source)
    assert edges[(cri.component, cri.target)].get("color") == style.HIGHLIGHT
    assert edges[("kube-apiserver", "etcd")].get("color") != style.HIGHLIGHT


def test_highlight_last_uses_the_newest_step(tour):
    c = Cluster(nodes=1, seed=3)
    c.apply(NGINX)  # a facade call: kubectl -> kube-apiserver -> etcd
    edges = dot_edges(viz.architecture(c).source)
    assert edges[("kubectl", "kube-apiserver")].get("color") == style.HIGHLIGHT
    assert edges[("kube-apiserver", "etcd")].get("color") == style.HIGHLIGHT
    assert edges[("kube-scheduler", "kube-apiserver")].get("color") != style.HIGHLIGHT


def _phases(c) -> dict[str, str]:
    return {p["metadata"]["name"]: style.pod_phase(p) for p in c.apiserver.cache["pods"].values()}


def test_view_restyles_without_new_layout_when_pods_change_phase():
    c = Cluster(nodes=2, seed=1)
    c.apply(NGINX)
    view = ArchitectureView(c)
    first = view.svg(None)
    view_box = re.search(r'viewBox="[^"]*"', first).group(0)
    before = _phases(c)
    for _ in range(5000):
        c.step()
        now = _phases(c)
        changed = [n for n in now if n.startswith("web-") and before.get(n) != now[n]]
        if any(now[n] == "Running" for n in changed):
            break
        before = now
    else:
        pytest.fail("no web pod reached Running")
    after = view.svg(None)
    assert after != first
    assert view.layouts == 1
    assert re.search(r'viewBox="[^"]*"', after).group(0) == view_box
    name = next(n for n in changed if now[n] == "Running")
    slot = next(m for m in re.finditer(r'<g id="(n_pod__[^"]*)" class="node">(.*?)</g>', after, re.S)
                if f">{name}<" in m.group(2))
    assert f"fill:{style.PHASE_COLORS['Running']}" in slot.group(2)


def test_view_lays_out_again_only_when_the_nodes_change():
    small = Cluster(nodes=1, seed=0)
    view = ArchitectureView(small)
    view.cluster = small.replay()
    assert view.layouts == 1
    view.cluster = Cluster(nodes=2, seed=0)
    assert view.layouts == 2
    assert "node-2" in view.svg(None)


def test_template_without_looks_reproduces_the_layout():
    import graphviz

    g = graphviz.Digraph()
    g.node("a", "A\nsecond line", id="n_a")
    g.edge("a", "b", label="x", id="e_ab")
    svg = g.pipe(format="svg").decode()
    t = SvgTemplate(svg)
    plain = re.sub(r'<svg width="[^"]*" height="[^"]*"', "<svg", svg[svg.find("<svg"):], count=1)
    assert re.sub(r'<svg width="[^"]*" style="[^"]*"', "<svg", t.render({}), count=1) == plain
    from k8slab.viz.architecture import Look

    out = t.render({"n_a": Look(texts={1: "changed <&>"}, stroke="#123456")})
    assert "changed &lt;&amp;&gt;" in out and "second line" not in out
    assert 'style="stroke:#123456' in svg_group(out, "n_a")


def test_node_ids_are_stable_and_safe():
    assert node_id("kubelet/node-1") == "n_kubelet__node-1"
    assert edge_id("kubelet/node-1", "kube-apiserver") == "e_kubelet__node-1--kube-apiserver"
