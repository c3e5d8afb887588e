"""Mirrors: (no upstream file) pictures of kube-proxy's work: a Service's chains (iptables mode) or virtual servers
(IPVS mode) as a graph with a packet's path highlighted, and the figures of ``k8slab.proxy.lab``'s experiments.

    from k8slab.viz import proxy as vp
    vp.service_graph(c.node("node-1").kube_proxy, "default/web", trace=t)   # graphviz.Digraph
    vp.distribution_figure({kind: lab.spread(kind) for kind in lab.KINDS})
    vp.connections_figure({"rr": lab.connections_over_time("rr"), "lc": lab.connections_over_time("lc")})
    vp.cost_figure(lab.cost_vs_services())

graphviz and matplotlib are imported when a picture is first drawn.
"""

from __future__ import annotations

from . import style as S

__all__ = ["service_graph", "distribution_figure", "connections_figure", "cost_figure", "rules_table"]

_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")


def _proxier(obj):
    return getattr(obj, "proxier", obj)


def _service_chains(p, service: str) -> list:
    """The nat chains of a Service ("ns/name" or "ns/name:port"), in the order kube-proxy writes them."""
    ns_name = service.split(":", 1)[0]
    names = [spn for spn in p.svc_port_map if str(spn) == service or spn.namespaced_name == ns_name]
    if not names:
        raise KeyError(f'service "{service}" is not known to kube-proxy on {p.hostname}')
    chains = []
    for spn in sorted(names):
        rules = p._rules.get(spn)
        if rules is not None:
            chains += [c for c in rules.nat_chains if c not in chains]
    return chains


def _nid(text: str) -> str:
    """A graphviz node id: "ip:port" would be read as node "ip", port "port"."""
    return text.replace(":", "_").replace(" ", "_")


def _label(rule) -> str:
    parts = []
    if rule.probability:
        parts.append(f"p={rule.probability}")
    if rule.recent and rule.recent.get("mode") == "rcheck":
        parts.append(f"recent {rule.recent.get('seconds')}s")
    if rule.src:
        parts.append(("! " if rule.src_negated else "") + f"-s {rule.src}")
    if rule.src_type:
        parts.append(("! " if rule.src_type_negated else "") + "src LOCAL")
    if rule.dport and rule.chain in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
        parts.append(f"{rule.dst or '*'}:{rule.dport}" if rule.dst else f"dport {rule.dport}")
    return "\\n".join(parts)


def service_graph(kube_proxy, service: str, trace=None):
    """A Service's rules on one node as a ``graphviz.Digraph``; ``trace`` (a PacketTrace) highlights its path.

    iptables mode: KUBE-SERVICES / KUBE-NODEPORTS -> KUBE-EXT/FW -> KUBE-SVC/SVL -> KUBE-SEP -> endpoint, edges
    labelled with the match that decides (probability, recent, source). IPVS mode: virtual servers -> real servers
    with weight and active/inactive connections."""
    import graphviz

    p = _proxier(kube_proxy)
    g = graphviz.Digraph("proxy", graph_attr={"rankdir": "LR", "fontname": S.FONT, "fontsize": "11",
                                              "label": f"{service} on {p.hostname} ({getattr(p, 'mode', 'iptables')} "
                                                       "mode)", "labelloc": "t"},
                         node_attr={"fontname": S.FONT, "fontsize": "10", "shape": "box", "style": "rounded,filled",
                                    "fillcolor": S.NETWORK.fill, "color": S.NETWORK.line},
                         edge_attr={"fontname": S.FONT, "fontsize": "9", "color": S.EDGE})
    hot_chains = set(trace.chains) if trace is not None else set()
    hot_ep = trace.dnat if trace is not None else None

    def hot(attrs, on):
        if on:
            attrs.update(color=S.HIGHLIGHT, penwidth=str(S.HIGHLIGHT_WIDTH), fontcolor=S.HIGHLIGHT)
        return attrs

    if getattr(p, "mode", "iptables") == "ipvs":
        ns_name = service.split(":", 1)[0]
        vss = [v for v in p.virtual_servers.values() if v.service == service or v.service.split(":")[0] == ns_name]
        if not vss:
            raise KeyError(f'service "{service}" has no IPVS virtual server on {p.hostname}')
        vs_hot = trace.virtual_server if trace is not None else None
        for v in sorted(vss, key=lambda v: str(v)):
            vid = _nid(f"vs {v}")
            g.node(vid, f"{v}\\n{v.scheduler_name}" + (f" persistent {v.timeout}" if v.persistent else ""),
                   **hot({}, str(v) == vs_hot))
            for d in v.dests:
                g.node(_nid(d.endpoint), d.endpoint, fillcolor=S.PHASE_COLORS["Running"] if d.weight else S.MUTED,
                       **hot({}, d.endpoint == hot_ep and str(v) == vs_hot))
                g.edge(vid, _nid(d.endpoint), label=f"w {d.weight}\\nA {d.activeconns} I {d.inactconns}",
                       **hot({}, d.endpoint == hot_ep and str(v) == vs_hot))
        return g

    chains = _service_chains(p, service)
    entries = ["KUBE-SERVICES", "KUBE-NODEPORTS"]
    for c in entries:
        if any(r.target in chains for r in p.rules("nat", c)):
            g.node(c, c, fillcolor=S.NETWORK.fill, **hot({}, c in hot_chains))
    for c in chains:
        g.node(c, c, **hot({}, c in hot_chains))
    seen = set(chains)
    for c in entries + chains:
        for r in p.rules("nat", c):
            tgt = r.target
            if tgt is None:
                continue
            if c in entries and tgt not in seen:
                continue
            if tgt == "DNAT":
                ep = r.dnat_to
                g.node(_nid(ep), ep, fillcolor=S.PHASE_COLORS["Running"], **hot({}, ep == hot_ep))
                g.edge(c, _nid(ep), label="DNAT", **hot({}, ep == hot_ep and c in hot_chains))
            elif tgt == "KUBE-MARK-MASQ":
                g.node("KUBE-MARK-MASQ", "KUBE-MARK-MASQ", fillcolor=S.MUTED)
                g.edge(c, tgt, label=_label(r), style="dashed")
            elif tgt in seen:
                g.edge(c, tgt, label=_label(r), **hot({}, c in hot_chains and tgt in hot_chains))
    return g


def rules_table(trace):
    """A PacketTrace as a pandas DataFrame: one row per rule evaluated."""
    import pandas as pd

    return pd.DataFrame(trace.to_rows(), columns=["table", "chain", "rule", "matched"])


def _colors(n: int) -> list:
    base = [S.CONTROL_PLANE.line, S.NODE_AGENTS.line, S.NETWORK.line, S.RUNTIME.line, S.ADDONS.line, S.ETCD.line,
            S.HIGHLIGHT, S.USER.line]
    return [base[i % len(base)] for i in range(n)]


def distribution_figure(results: dict, title: str = "Where new connections land"):
    """Grouped bars: for each kind ("iptables", "rr", ...) the number of connections per endpoint."""
    import matplotlib.pyplot as plt

    kinds = list(results)
    endpoints = sorted({ep for r in results.values() for ep in r if ep})
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / max(1, len(endpoints))
    for j, (ep, color) in enumerate(zip(endpoints, _colors(len(endpoints)))):
        xs = [i + j * width for i in range(len(kinds))]
        ax.bar(xs, [results[k].get(ep, 0) for k in kinds], width, label=ep, color=color)
    ax.set_xticks([i + width * (len(endpoints) - 1) / 2 for i in range(len(kinds))])
    ax.set_xticklabels(kinds)
    ax.set_xlabel("kube-proxy mode / IPVS scheduler")
    ax.set_ylabel("connections")
    ax.set_title(title)
    ax.legend(title="endpoint", fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def connections_figure(series: dict, title: str = "Open connections per backend as load changes"):
    """One panel per kind: open connections per backend over time (rows from lab.connections_over_time)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.4), sharey=True, squeeze=False)
    for ax, (kind, rows) in zip(axes[0], series.items()):
        eps = sorted({r["endpoint"] for r in rows})
        for ep, color in zip(eps, _colors(len(eps))):
            pts = [(r["t"], r["open"]) for r in rows if r["endpoint"] == ep]
            ax.plot([t for t, _ in pts], [n for _, n in pts], label=ep, color=color)
        ax.set_title(kind)
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("open connections")
    axes[0][-1].legend(title="backend", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def cost_figure(rows: list, title: str = "Cost per packet and rule-set size, iptables vs IPVS"):
    """Two panels, log-log: rules evaluated per new connection, and the size of the rule set, against Services."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for mode, color in (("iptables", S.NETWORK.line), ("ipvs", S.NODE_AGENTS.line)):
        pts = [r for r in rows if r["mode"] == mode]
        xs = [r["services"] for r in pts]
        a.plot(xs, [r["rules_evaluated"] for r in pts], "o-", color=color, label=mode)
        b.plot(xs, [r["iptables_rules"] for r in pts], "o-", color=color, label=f"{mode}: iptables rules")
        if mode == "ipvs":
            b.plot(xs, [r["ipvs_entries"] for r in pts], "s--", color=color,
                   label="ipvs: virtual + real servers + ipset entries")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Services")
        ax.legend(fontsize=8)
    a.set_ylabel("rules evaluated per new connection")
    a.set_title("per packet")
    b.set_ylabel("entries")
    b.set_title("rule-set size")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
