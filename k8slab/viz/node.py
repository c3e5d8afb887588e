"""Mirrors: (no upstream file) views of one node: what the kubelet runs and how it drives the runtime.

    viz.node_view(c, "node-1")                 # graphviz: kubelet and pod workers, sandboxes and containers,
                                               # images, volumes on the host, the last CRI calls
    viz.cri_calls(c, "node-1", pod="web")      # DataFrame: every CRI call, in order
    viz.pod_timeline(c, "web")                 # matplotlib: container states, probes, restarts, back-off
    df = viz.sample_node_usage(c, "node-1", seconds=300)
    viz.node_resources(df, c, "node-1")        # usage against allocatable
    viz.hpa_plot(c, "web")                     # replicas and CPU utilization against the target

Colours come from :mod:`k8slab.viz.style`: orange the kubelet, purple the runtime, pods by phase.
"""

from __future__ import annotations

from . import style


def _esc(s) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _containers(p: dict) -> str:
    return " ".join(f"{n}:{s[0]}" for n, s in p["containers"].items())


def node_view(cluster, node: str, max_calls: int = 8):
    """The node as graphviz: the kubelet with its pod workers, the runtime with sandboxes and containers,
    the images it holds, the volume directories the kubelet made, and the newest CRI calls."""
    import graphviz

    agents = cluster.node(node)
    kubelet, rt = agents.kubelet, agents.runtime
    g = graphviz.Digraph(f"node {node}", graph_attr={"rankdir": "LR", "fontname": style.FONT,
                                                     "label": f"{node}: kubelet and {rt.name} ({rt.socket})",
                                                     "labelloc": "t"},
                         node_attr={"shape": "plain", "fontname": style.FONT, "fontsize": "10"})
    na, ru = style.NODE_AGENTS, style.RUNTIME
    rows = "".join(f'<tr><td align="left" bgcolor="{style.phase_color(p["phase"] or "Pending")}">'
                   f'{_esc(p["pod"])}</td><td align="left">{_esc(_containers(p))}</td></tr>'
                   for p in kubelet.pods()) or '<tr><td colspan="2">no pods</td></tr>'
    g.node("kubelet", f'<<table border="1" cellborder="0" color="{na.line}" bgcolor="{na.fill}">'
                      f'<tr><td colspan="2"><b>kubelet</b> (pod workers)</td></tr>{rows}</table>>')
    sb_rows = []
    for sb in rt.sandboxes.values():
        cs = [c for c in rt.containers.values() if c.sandbox_id == sb.id]
        inner = "".join(f'<tr><td align="left">  {_esc(c.name)} {c.id[:8]} {c.state.replace("CONTAINER_", "")}'
                        f'</td></tr>' for c in cs)
        sb_rows.append(f'<tr><td align="left"><b>{_esc(sb.namespace)}/{_esc(sb.name)}</b> pause {sb.id[:8]} '
                       f'{_esc(sb.ip or "host")} {sb.state.replace("SANDBOX_", "")}</td></tr>{inner}')
    g.node("runtime", f'<<table border="1" cellborder="0" color="{ru.line}" bgcolor="{ru.fill}">'
                      f'<tr><td><b>{rt.name}</b> sandboxes and containers</td></tr>'
                      f'{"".join(sb_rows) or "<tr><td>none</td></tr>"}</table>>')
    imgs = "".join(f'<tr><td align="left">{_esc(i.repo_tags[0] if i.repo_tags else i.id[:19])}</td>'
                   f'<td align="right">{i.size // 1_000_000} MB</td></tr>'
                   for i in rt.images.values() if i.available_at <= cluster.now)
    g.node("images", f'<<table border="1" cellborder="0" color="{ru.line}"><tr><td colspan="2"><b>images</b>'
                     f'</td></tr>{imgs}</table>>')
    vols = sorted({p.split("/volumes/", 1)[1].rsplit("/", 1)[0] if "/volumes/" in p else p
                   for p in kubelet.volumes.tree() if "/volumes/" in p and "/.." not in p})
    vol_rows = "".join(f'<tr><td align="left">{_esc(v)}</td></tr>' for v in vols[:12]) or "<tr><td>none</td></tr>"
    g.node("volumes", f'<<table border="1" cellborder="0" color="{na.line}"><tr><td><b>/var/lib/kubelet/pods/*/'
                      f'volumes</b></td></tr>{vol_rows}</table>>')
    calls = rt.call_log[-max_calls:]
    call_rows = "".join(f'<tr><td align="right">{t / 1000:.3f}s</td><td align="left">{_esc(rpc)}</td>'
                        f'<td align="left">{_esc(ref.replace("pods/", ""))}</td></tr>' for t, rpc, ref, _ in calls)
    g.node("calls", f'<<table border="1" cellborder="0" color="{ru.line}"><tr><td colspan="3"><b>last CRI calls'
                    f'</b></td></tr>{call_rows}</table>>')
    g.edge("kubelet", "runtime", label="CRI (gRPC)", color=ru.line, fontname=style.FONT, fontsize="9")
    g.edge("runtime", "images", color=style.EDGE)
    g.edge("kubelet", "volumes", label="mounts", color=na.line, fontname=style.FONT, fontsize="9")
    g.edge("runtime", "calls", style="dotted", color=style.EDGE)
    return g


def cri_calls(cluster, node: str, pod: str | None = None):
    """Every CRI call the kubelet made on ``node`` (optionally for one pod), as a DataFrame."""
    import pandas as pd

    rows = [{"time (s)": t / 1000, "rpc": rpc, "pod": ref.replace("pods/", ""),
             "request": ", ".join(f"{k}={str(v)[:24]}" for k, v in (data or {}).items())}
            for t, rpc, ref, data in cluster.node(node).runtime.cri_calls(pod)]
    return pd.DataFrame(rows, columns=["time (s)", "rpc", "pod", "request"])


def pod_timeline(cluster, pod: str, namespace: str = "default"):
    """A pod's life from the trace: one bar per container attempt (from StartContainer until it stopped or
    exited), probe results as dots above (liveness) and below (readiness/startup) the bar, green for success and
    red for failure, kills and exits as crosses; the gaps between bars are pulls, creation and back-off."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    ref = f"pods/{namespace}/{pod}"
    evs = [e for e in cluster.trace.since(0) if e.ref == ref]
    attempts: dict[str, list[list[float]]] = {}
    probes: list[tuple[str, float, str, bool]] = []
    ends: list[tuple[str, float]] = []
    for e in evs:
        data = e.data if isinstance(e.data, dict) else {}
        t = e.time / 1000
        if e.kind == "cri.StartContainer":
            attempts.setdefault(data.get("name", "?"), []).append([t, None])
        elif e.kind in ("cri.StopContainer", "container.exit", "pleg"):
            n = data.get("name") or data.get("container")
            open_ = [a for a in attempts.get(n, []) if a[1] is None]
            if open_:
                open_[-1][1] = t
                ends.append((n, t))
        elif e.kind == "probe":
            probes.append((data.get("container", "?"), t, data.get("probe", ""), data.get("result") == "success"))
    names = list(attempts)
    y = {n: i for i, n in enumerate(names)}
    now = cluster.now / 1000
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.8 * max(1, len(names))))
    for n, spans in attempts.items():
        for i, (t0, t1) in enumerate(spans):
            ax.barh(y[n], (t1 if t1 is not None else now) - t0, left=t0, height=0.35,
                    color=style.PHASE_COLORS["Running"], edgecolor=style.TEXT, linewidth=0.5)
            ax.annotate(str(i), (t0, y[n]), xytext=(2, 0), textcoords="offset points", va="center", fontsize=7)
    for n, t in ends:
        ax.plot([t], [y[n]], "x", color=style.PHASE_COLORS["Failed"], markersize=8)
    for n, t, kind, ok in probes:
        if n in y:
            ax.plot([t], [y[n] + (0.3 if kind == "liveness" else -0.3)], "o", markersize=3,
                    color=style.PHASE_COLORS["Running"] if ok else style.PHASE_COLORS["Failed"])
    ax.set_title(f"pod {namespace}/{pod}: container attempts, probes and restarts")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("container")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.8, len(names) - 0.2)
    ax.legend(handles=[Line2D([], [], color=style.PHASE_COLORS["Running"], lw=6, label="running (attempt n)"),
                       Line2D([], [], marker="x", ls="", color=style.PHASE_COLORS["Failed"], label="stopped/exited"),
                       Line2D([], [], marker="o", ls="", color=style.PHASE_COLORS["Running"], label="probe ok"),
                       Line2D([], [], marker="o", ls="", color=style.PHASE_COLORS["Failed"], label="probe failed")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def sample_node_usage(cluster, node: str, seconds: float, every: float = 10):
    """Run the cluster for ``seconds``, reading the node's usage (what the kubelet's /metrics/resource reports)
    every ``every`` seconds; returns a DataFrame with time, CPU (milli-cores) and memory (MiB)."""
    import pandas as pd

    from ..kubelet.stats import node_usage

    kubelet = cluster.node(node).kubelet
    rows = []
    end = cluster.now + int(seconds * 1000)
    while cluster.now < end:
        u = node_usage(kubelet)
        rows.append({"time (s)": cluster.now / 1000, "cpu (m)": u["milli_cpu"], "memory (Mi)": u["memory"] / 2**20})
        cluster.run(seconds=every)
    return pd.DataFrame(rows)


def node_resources(df, cluster, node: str):
    """Node CPU and memory use over time against its capacity and allocatable."""
    import matplotlib.pyplot as plt

    from ..api.quantity import milli_value, value

    st = cluster.get("node", node, namespace=None)["status"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, col, res, unit in ((a1, "cpu (m)", "cpu", 1), (a2, "memory (Mi)", "memory", 2**20)):
        conv = (lambda q: milli_value(q)) if res == "cpu" else (lambda q: value(q) / unit)
        ax.plot(df["time (s)"], df[col], color=style.NODE_AGENTS.line, label="used")
        ax.axhline(conv(st["allocatable"][res]), color=style.CONTROL_PLANE.line, ls="--", label="allocatable")
        ax.axhline(conv(st["capacity"][res]), color=style.MUTED, ls=":", label="capacity")
        ax.set_title(f"{node}: {res}")
        ax.set_xlabel("virtual time (s)")
        ax.set_ylabel(col)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def hpa_plot(cluster, name: str, namespace: str = "default"):
    """An HPA's syncs: current and desired replicas (left axis) and CPU utilization against the target."""
    import matplotlib.pyplot as plt

    hist = cluster.controller_manager["horizontalpodautoscaling"].history.get(f"{namespace}/{name}", [])
    hpa = cluster.get("hpa", name, namespace=namespace)
    target = next((m["resource"]["target"].get("averageUtilization") for m in hpa["spec"].get("metrics") or []
                   if m.get("type") == "Resource"), None)
    t = [h["time"] / 1000 for h in hist]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.step(t, [h["currentReplicas"] for h in hist], where="post", color=style.ADDONS.line, label="current replicas")
    ax.step(t, [h["desiredReplicas"] for h in hist], where="post", color=style.CONTROL_PLANE.line, ls="--",
            label="desired replicas")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("replicas")
    ax2 = ax.twinx()
    ax2.plot(t, [h["utilization"] if h["utilization"] is not None else float("nan") for h in hist], ".-",
             color=style.NODE_AGENTS.line, label="CPU utilization (% of request)")
    if target is not None:
        ax2.axhline(target, color=style.NODE_AGENTS.line, ls=":", label=f"target {target}%")
    ax2.set_ylabel("CPU utilization (%)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(f"HorizontalPodAutoscaler {namespace}/{name}")
    fig.tight_layout()
    return fig
