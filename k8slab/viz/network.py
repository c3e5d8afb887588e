"""Mirrors: (no upstream file) the pod network of a k8slab cluster as flannel and the bridge CNI plugin build it:
nodes with their podCIDRs and route tables, the cni0 bridge, each pod's veth, and the overlay (VXLAN) or host
routes between nodes; a connection's path through it, highlighted; and the hop-by-hop table of that path.

    viz.pod_network(c)                       # graphviz.Digraph
    viz.pod_network(c, c.trace_route(...))   # the same, the path in magenta
    viz.path_table(p)                        # pandas DataFrame, one row per hop
    viz.route_table(c, "node-1")             # the node's routes, one row each
"""

from __future__ import annotations

import html
import re

import graphviz
import pandas as pd

from ..cni.network import gateway_of
from . import style as S

_POD_LIMIT = 6


def _id(*parts: str) -> str:
    return "net_" + re.sub(r"[^A-Za-z0-9_]", "_", "__".join(parts))


def _pods_by_node(cluster) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {n: [] for n in cluster.nodes}
    for p in cluster.apiserver.cache.get("pods", {}).values():  # read-only: a picture makes no API requests
        st, spec = p.get("status") or {}, p.get("spec") or {}
        if st.get("podIP") and not spec.get("hostNetwork") and spec.get("nodeName") in out:
            out[spec["nodeName"]].append(p)
    for pods in out.values():
        pods.sort(key=lambda p: tuple(int(x) for x in p["status"]["podIP"].split(".")))
    return out


def pod_network(cluster, path=None, max_pods: int = _POD_LIMIT) -> graphviz.Digraph:
    """The pod network as a graph. ``path`` (from ``cluster.trace_route``) is drawn in the highlight colour."""
    backend = cluster.pod_network
    lit_dev = {(n, d) for n, d in (path.devices if path is not None else [])}
    lit_pods = set()
    if path is not None:
        lit_pods = {x for x in (path.src, path.pod) if x and "/" in x}
    hot = {"color": S.HIGHLIGHT, "penwidth": str(S.HIGHLIGHT_WIDTH)}
    net = S.NETWORK
    g = graphviz.Digraph("pod_network", graph_attr={
        "label": f"Pod network ({backend} backend): nodes, podCIDRs, cni0, veths and routes",
        "labelloc": "t", "fontsize": "16", "fontname": S.FONT, "rankdir": "TB", "compound": "true",
        "nodesep": "0.25", "ranksep": "0.45"},
        node_attr={"fontname": S.FONT, "fontsize": "10", "shape": "box", "style": "rounded,filled",
                   "color": net.line, "fillcolor": net.fill, "fontcolor": S.TEXT},
        edge_attr={"color": S.EDGE, "fontname": S.FONT, "fontsize": "9", "arrowhead": "none"})
    pods = _pods_by_node(cluster)
    nodes = cluster._node_nets()
    for n in nodes:
        agents = cluster.node(n.name)
        routes = cluster.routes(n.name)
        with g.subgraph(name="cluster_" + _id(n.name)) as sg:
            rt = "<BR ALIGN='LEFT'/>".join(html.escape(str(r)) for r in routes)
            sg.attr(label=f"<<B>{html.escape(n.name)}</B> {n.ip}  podCIDR {n.pod_cidr or 'none'}"
                          f"<BR/><FONT POINT-SIZE='8'>{rt}<BR ALIGN='LEFT'/></FONT>>",
                    color=S.NODE_AGENTS.line, style="rounded", fontname=S.FONT, fontsize="11")
            eth = _id(n.name, "eth0")
            sg.node(eth, f"eth0\n{n.ip}", **(hot if (n.name, "eth0") in lit_dev else {}))
            if backend == "vxlan" and n.pod_cidr:
                fl = _id(n.name, "flannel.1")
                sg.node(fl, f"flannel.1\n{n.vtep_ip}/32 VNI 1", **(hot if (n.name, "flannel.1") in lit_dev else {}))
                sg.edge(fl, eth, **(hot if {(n.name, "flannel.1"), (n.name, "eth0")} <= lit_dev else {}))
            if n.pod_cidr and agents.cni.bridge_up:
                br = _id(n.name, "cni0")
                gw = gateway_of(n.pod_cidr)
                sg.node(br, f"cni0 (bridge)\n{gw}", **(hot if (n.name, "cni0") in lit_dev else {}))
                target = _id(n.name, "flannel.1") if backend == "vxlan" else eth
                sg.edge(br, target, label="host routing", **(hot if (n.name, "cni0") in lit_dev and (
                    (n.name, "flannel.1") in lit_dev or (n.name, "eth0") in lit_dev) else {}))
                for p in pods[n.name][:max_pods]:
                    ip = p["status"]["podIP"]
                    name = f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}"
                    veth = agents.cni.veth_of(ip) or "veth?"
                    pid, vid = _id(n.name, "pod", name), _id(n.name, veth)
                    sg.node(pid, f"{name}\neth0 {ip}", shape="box", style="filled",
                            fillcolor=S.PHASE_COLORS["Running"], color=S.HIGHLIGHT if name in lit_pods else S.EDGE,
                            penwidth=str(S.HIGHLIGHT_WIDTH) if name in lit_pods else "1")
                    lit = (n.name, veth) in lit_dev
                    sg.node(vid, veth, shape="ellipse", fontsize="8", **(hot if lit else {}))
                    sg.edge(pid, vid, label="veth pair", **(hot if lit else {}))
                    sg.edge(vid, br, **(hot if lit else {}))
                extra = len(pods[n.name]) - max_pods
                if extra > 0:
                    sg.node(_id(n.name, "more"), f"+{extra} more pods", shape="plaintext", style="")
    # between nodes
    with_cidr = [n for n in nodes if n.pod_cidr]
    for i, a in enumerate(with_cidr):
        for b in with_cidr[i + 1:]:
            lit = {(a.name, "eth0"), (b.name, "eth0")} <= lit_dev
            if backend == "vxlan":
                g.edge(_id(a.name, "flannel.1"), _id(b.name, "flannel.1"), style="dashed", constraint="false",
                       label="VXLAN UDP 8472", **(hot if lit else {"color": net.line}))
            else:
                g.edge(_id(a.name, "eth0"), _id(b.name, "eth0"), constraint="false",
                       label=f"{b.pod_cidr} via {b.ip}", **(hot if lit else {"color": net.line}))
    with g.subgraph(name="cluster_legend") as lg:
        lg.attr(label="Legend", fontname=S.FONT, fontsize="10", color=S.MUTED, style="rounded")
        lg.node("net_legend_dev", "network device", fontsize="9")
        lg.node("net_legend_pod", "pod (Running)", style="filled", fillcolor=S.PHASE_COLORS["Running"],
                color=S.EDGE, fontsize="9")
        lg.node("net_legend_path", "the traced path", color=S.HIGHLIGHT, penwidth=str(S.HIGHLIGHT_WIDTH),
                fontsize="9")
        lg.node("net_legend_tunnel", "overlay / host route", shape="plaintext", style="", fontsize="9",
                fontcolor=net.line)
    return g


def path_table(path) -> pd.DataFrame:
    """One row per hop of a traced connection."""
    df = pd.DataFrame(path.table(), columns=["hop", "where", "kind", "detail"]).set_index("hop")
    df.attrs["title"] = f"{path.src} -> {path.dst}:{path.port}/{path.protocol}: {path.status}"
    return df


def route_table(cluster, node: str) -> pd.DataFrame:
    """The node's routing table, one row per route."""
    rows = [{"destination": r.dst, "via": r.via or "", "dev": r.dev, "scope": r.scope or "",
             "src": r.src or "", "onlink": r.onlink, "ip route": str(r)} for r in cluster.routes(node)]
    return pd.DataFrame(rows)
