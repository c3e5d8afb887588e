"""Mirrors: (no upstream file) pictures of an etcd Raft cluster (k8slab.etcd.raft): who leads, in which term, what
each member's log holds, and which messages are on the wire.

    viz.raft_graph(c)        # graphviz: members on a circle with role, term, log tail, commit; messages in flight
    viz.raft_timeline(c)     # matplotlib: each member's term over time, and who led when
    viz.raft_table(c)        # pandas: one row per member (role, term, vote, leader, last index, commit, applied)

Each accepts a Cluster built with ``etcd_members > 1``, an EtcdCluster or a RaftNetwork.
"""

from __future__ import annotations

import html
import math

import graphviz

from . import style as S

#: Colours of Raft roles: the leader in etcd's dark slate, followers light, elections in gold, crashed muted.
ROLE_COLORS = {
    "Leader": (S.ETCD.line, "#ffffff"),
    "Follower": (S.ETCD.fill, S.TEXT),
    "PreCandidate": ("#fcf3cf", S.TEXT),
    "Candidate": ("#f5b041", S.TEXT),
    "Crashed": ("#f2f2f2", S.MUTED),
}
#: Term colours for log entries (cycled).
TERM_COLORS = ("#d6eaf8", "#d5f5e3", "#fdebd0", "#e8daef", "#fadbd8", "#d1f2eb", "#fcf3cf", "#eaeded")
LOG_TAIL = 8
MESSAGE_COLORS = {
    "MsgApp": "#2e86c1", "MsgAppResp": "#2e86c1", "MsgHeartbeat": S.EDGE, "MsgHeartbeatResp": S.EDGE,
    "MsgVote": "#d35400", "MsgVoteResp": "#d35400", "MsgPreVote": "#b7950b", "MsgPreVoteResp": "#b7950b",
    "MsgProp": S.CONTROL_PLANE.line, "MsgReadIndex": "#117a7d", "MsgReadIndexResp": "#117a7d",
}


def raft_network(obj):
    """The RaftNetwork behind a Cluster, an EtcdCluster or a RaftNetwork."""
    if getattr(obj, "etcd_cluster", None) is not None:
        obj = obj.etcd_cluster
    elif hasattr(obj, "etcd_cluster"):
        raise ValueError("this cluster has a single etcd member: build it with Cluster(..., etcd_members=3)")
    if hasattr(obj, "net") and hasattr(obj.net, "members"):
        obj = obj.net
    if not hasattr(obj, "members") or not hasattr(obj, "in_flight"):
        raise TypeError(f"not a Raft cluster: {type(obj).__name__}")
    return obj


def _role(row: dict) -> str:
    return row["state"]


def _log_cells(net, id: int) -> str:
    r = net.members[id]
    log = r.raft_log if r is not None else net._stable[id][0]
    commit = r.raft_log.committed if r is not None else net._stable[id][1].commit
    entries = log.entries[max(1, len(log.entries) - LOG_TAIL):]
    if not entries:
        return '<TD BORDER="1" COLOR="#b3b6b7"><FONT POINT-SIZE="9">empty log</FONT></TD>'
    cells = []
    for e in entries:
        bg = TERM_COLORS[e.term % len(TERM_COLORS)]
        style = ' STYLE="dashed"' if e.index > commit else ""
        cells.append(f'<TD BORDER="1" BGCOLOR="{bg}"{style}><FONT POINT-SIZE="8">{e.index}<BR/>t{e.term}</FONT></TD>')
    return "".join(cells)


def raft_graph(obj, title: str = "") -> graphviz.Digraph:
    """Members on a circle (fixed positions, so the picture stays put from step to step): fill = role; inside,
    term, vote, commit and the tail of the log (one cell per entry, coloured by term, dashed until committed).
    An arrow per message in flight, labelled with its type; cut links drawn as red dotted lines."""
    net = raft_network(obj)
    rows = {i: row for i, row in zip(net.ids, net.status())}
    g = graphviz.Digraph("raft", engine="neato")
    n = len(net.ids)
    lead = net.leader()
    head = title or (f"etcd Raft: {n} members, leader {net.name(lead) if lead else 'none'}, t={net.now} ms")
    g.attr(label=f"{head}\nfill = role; log cells coloured by term, dashed = not yet committed; arrows = "
                 f"messages in flight", labelloc="t", fontname=S.FONT, fontsize="12", overlap="true",
           splines="true", outputorder="edgesfirst")
    g.attr("node", shape="plaintext", fontname=S.FONT)
    radius = 2.2 if n > 2 else 1.6
    for k, id in enumerate(net.ids):
        a = math.pi / 2 - 2 * math.pi * k / n
        row = rows[id]
        role = _role(row)
        fill, text = ROLE_COLORS.get(role, ROLE_COLORS["Follower"])
        border = S.HIGHLIGHT if id == lead else S.ETCD.line
        label = (f'<<TABLE BORDER="2" COLOR="{border}" CELLBORDER="0" CELLSPACING="1" BGCOLOR="{fill}">'
                 f'<TR><TD COLSPAN="{LOG_TAIL}"><FONT COLOR="{text}"><B>{html.escape(net.name(id))}</B> '
                 f'{role}</FONT></TD></TR>'
                 f'<TR><TD COLSPAN="{LOG_TAIL}"><FONT COLOR="{text}" POINT-SIZE="9">term {row["term"]} · vote '
                 f'{row["vote"] or "-"} · commit {row["commit"]} · last {row["last_index"]}</FONT></TD></TR>'
                 f'<TR>{_log_cells(net, id)}</TR></TABLE>>')
        g.node(str(id), label, pos=f"{radius * 1.6 * math.cos(a):.2f},{radius * math.sin(a):.2f}!")
    for a in net.ids:
        for b in net.ids:
            if a < b and (a, b) in net.cut_links:
                g.edge(str(a), str(b), color="#e74c3c", style="dotted", dir="none", penwidth="2",
                       tooltip="link cut")
    counts: dict = {}
    for _t, m in net.in_flight():
        counts.setdefault((m.frm, m.to, m.type), 0)
        counts[(m.frm, m.to, m.type)] += 1
    for (frm, to, typ), k in sorted(counts.items()):
        label = typ + (f" ×{k}" if k > 1 else "")
        g.edge(str(frm), str(to), label=label, color=MESSAGE_COLORS.get(typ, S.EDGE), fontsize="8",
               fontname=S.FONT, fontcolor=MESSAGE_COLORS.get(typ, S.EDGE))
    with g.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", fontname=S.FONT, fontsize="9", color=S.MUTED)
        cells = "".join(f'<TD BGCOLOR="{ROLE_COLORS[r][0]}"><FONT POINT-SIZE="8" COLOR="{ROLE_COLORS[r][1]}">{r}'
                        f'</FONT></TD>' for r in ROLE_COLORS)
        leg.node("legend", f'<<TABLE BORDER="0" CELLSPACING="2"><TR>{cells}</TR></TABLE>>',
                 pos=f"0,{-radius - 1.2:.2f}!")
    return g


def raft_table(obj):
    """One row per member, like ``etcdctl endpoint status --cluster -w table``."""
    import pandas as pd

    net = raft_network(obj)
    df = pd.DataFrame(net.status())
    lead = net.leader()
    df["is_leader"] = [i == lead for i in net.ids]
    return df.set_index("member")


def raft_timeline(obj, ax=None):
    """Each member's term over time (a step line per member), and bars showing who was leader when."""
    import matplotlib.pyplot as plt

    net = raft_network(obj)
    if ax is None:
        fig, (ax_term, ax_lead) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True,
                                               gridspec_kw={"height_ratios": [2, 1]})
    else:
        fig, ax_term = ax.figure, ax
        ax_lead = None
    end = net.now
    per: dict[int, list] = {i: [] for i in net.ids}
    for t, id, state, term in net.history:
        per[id].append((t, state, term))
    palette = ("#326ce5", "#d35400", "#117a7d", "#7d3c98", "#9a7d0a", "#3d5166", "#e74c3c")
    for k, id in enumerate(net.ids):
        pts = per[id]
        if not pts:
            continue
        xs = [p[0] / 1000 for p in pts] + [end / 1000]
        ys = [p[2] for p in pts] + [pts[-1][2]]
        ax_term.step(xs, ys, where="post", color=palette[k % len(palette)], label=net.name(id),
                     linewidth=2, alpha=0.85)
    from matplotlib.ticker import MaxNLocator

    ax_term.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_term.set_ylabel("term")
    ax_term.set_title(f"Raft terms and leaders ({len(net.ids)} members)")
    ax_term.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="member")
    ax_term.grid(alpha=0.3)
    if ax_lead is not None:
        for k, id in enumerate(net.ids):
            pts = per[id]
            for j, (t, state, term) in enumerate(pts):
                t_end = pts[j + 1][0] if j + 1 < len(pts) else end
                if state == "StateLeader":
                    ax_lead.barh(k, (t_end - t) / 1000, left=t / 1000, color=palette[k % len(palette)])
                elif state == "Crashed":
                    ax_lead.barh(k, (t_end - t) / 1000, left=t / 1000, color=S.MUTED, hatch="//")
        ax_lead.set_yticks(range(len(net.ids)), [net.name(i) for i in net.ids], fontsize=8)
        ax_lead.set_xlabel("time (s)")
        ax_lead.set_ylabel("leader")
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette[0]), plt.Rectangle((0, 0), 1, 1, color=S.MUTED,
                                                                                 hatch="//")]
        ax_lead.legend(handles, ["leading (member colour)", "crashed"], loc="upper left", bbox_to_anchor=(1.01, 1),
                       fontsize=8)
        ax_lead.set_xlim(0, max(end / 1000, 0.1))
    else:
        ax_term.set_xlabel("time (s)")
    fig.tight_layout()
    plt.close(fig)
    return fig
