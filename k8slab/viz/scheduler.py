"""Mirrors: (no upstream file) pictures of kube-scheduler decisions, drawn from ``explain`` tables
(pkg/scheduler/schedule_one.go's filter/score/select) and the scheduler's queue history.

* ``scores(df)``: stacked per-plugin weighted scores per node, the chosen node marked;
* ``filter_funnel(df)``: how many nodes each Filter plugin removed;
* ``percentage_of_nodes_to_score()``: how many nodes the scheduler looks at, against cluster size;
* ``score_heatmap(df)``: totals over a large cluster as a grid;
* ``queue_over_time(scheduler)``: activeQ, backoffQ and unschedulablePods during a burst.

Every function returns a matplotlib Figure.
"""

from __future__ import annotations

from . import style

PLUGIN_COLORS = {
    "TaintToleration": style.NODE_AGENTS.line,
    "NodeAffinity": style.CONTROL_PLANE.line,
    "NodeResourcesFit": style.NETWORK.line,
    "PodTopologySpread": style.RUNTIME.line,
    "InterPodAffinity": style.ADDONS.line,
    "NodeResourcesBalancedAllocation": style.ETCD.line,
    "ImageLocality": style.USER.line,
}
_EXTRA = ["#5dade2", "#af7ac5", "#48c9b0", "#f4d03f", "#eb984e", "#85929e"]


def plugin_color(name: str, i: int = 0) -> str:
    return PLUGIN_COLORS.get(name, _EXTRA[i % len(_EXTRA)])


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _score_plugins(df) -> list[str]:
    return [c[: -len(" weighted")] for c in df.columns if c.endswith(" weighted")]


def scores(df, title: str = "Weighted scores per node", max_nodes: int = 40):
    """Stacked bars: each Score plugin's weighted score per scored node; the chosen node's label is marked."""
    plt = _plt()
    plugins = _score_plugins(df)
    scored = df[df["total"].notna()] if "total" in df else df.iloc[0:0]
    scored = scored.sort_values("total", ascending=False).head(max_nodes)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(scored) + 3), 4))
    bottom = [0.0] * len(scored)
    names = list(scored.index)
    for i, pl in enumerate(plugins):
        vals = [float(v or 0) for v in scored[f"{pl} weighted"].fillna(0)]
        ax.bar(names, vals, bottom=bottom, color=plugin_color(pl, i), label=pl, edgecolor="white", linewidth=0.5)
        bottom = [b + v for b, v in zip(bottom, vals)]
    for j, name in enumerate(names):
        if bool(scored.loc[name, "chosen"]):
            ax.bar([name], [bottom[j]], fill=False, edgecolor=style.HIGHLIGHT, linewidth=style.HIGHLIGHT_WIDTH,
                   label="chosen")
            ax.annotate("chosen", (j, bottom[j]), ha="center", va="bottom", color=style.HIGHLIGHT)
    ax.set_title(title)
    ax.set_xlabel("node")
    ax.set_ylabel("weighted score (normalized score x plugin weight)")
    ax.tick_params(axis="x", rotation=60)
    ax.legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    return fig


def funnel_counts(df) -> list[tuple[str, int]]:
    """[("all nodes", n), (plugin, nodes left after it), ...] in Filter plugin order."""
    result = df.attrs.get("result")
    filter_plugins = list(result.filter_plugins) if result is not None else [
        c for c in df.columns if not (c.endswith((" raw", " normalized", " weighted")) or c in ("total", "chosen",
                                                                                                  "PreFilter"))]
    left = len(df)
    out = [("all nodes", left)]
    if "PreFilter" in df.columns:
        out.append(("PreFilter", 0))
        return out
    for pl in filter_plugins:
        col = df[pl]
        removed = int(sum(1 for v in col if v not in ("pass", "skip", "", None)))
        left -= removed
        out.append((pl, left))
    return out


def filter_funnel(df, title: str = "Filter funnel: nodes left after each plugin"):
    plt = _plt()
    counts = funnel_counts(df)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(counts) + 1.5))
    labels = [c[0] for c in counts][::-1]
    vals = [c[1] for c in counts][::-1]
    ax.barh(labels, vals, color=style.CONTROL_PLANE.fill, edgecolor=style.CONTROL_PLANE.line, label="nodes left")
    for y, v in enumerate(vals):
        ax.annotate(str(v), (v, y), va="center", ha="left", fontsize="small")
    ax.set_title(title)
    ax.set_xlabel("feasible nodes")
    ax.set_ylabel("after Filter plugin")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def percentage_of_nodes_to_score(max_nodes: int = 6000, percentages=(0, 10, 50, 100),
                                 title: str = "How many nodes does the scheduler look at?"):
    """num_feasible_nodes_to_find against cluster size, for the adaptive default (0) and a few fixed values."""
    from k8slab.scheduler import num_feasible_nodes_to_find

    plt = _plt()
    sizes = list(range(1, max_nodes + 1, max(1, max_nodes // 300)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, pct in enumerate(percentages):
        found = [num_feasible_nodes_to_find(pct, n) for n in sizes]
        label = "0 (adaptive default)" if pct == 0 else f"{pct}%"
        color = style.HIGHLIGHT if pct == 0 else _EXTRA[i % len(_EXTRA)]
        ax1.plot(sizes, found, label=label, color=color)
        ax2.plot(sizes, [100 * f / n for f, n in zip(found, sizes)], label=label, color=color)
    ax1.set_title(title)
    ax1.set_xlabel("nodes in the cluster")
    ax1.set_ylabel("feasible nodes to find")
    ax2.set_title("... as a percentage of the cluster")
    ax2.set_xlabel("nodes in the cluster")
    ax2.set_ylabel("% of nodes")
    ax1.legend(title="percentageOfNodesToScore")
    ax2.legend(title="percentageOfNodesToScore")
    fig.tight_layout()
    return fig


def score_heatmap(df, columns: int | None = None, title: str = "Total score per node"):
    """Totals laid out on a grid (row-major in node order); unscored nodes (filtered out or never evaluated)
    are blank. The chosen node is circled."""
    import math

    plt = _plt()
    n = len(df)
    cols = columns or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    grid = [[float("nan")] * cols for _ in range(rows)]
    chosen = None
    for i, (name, row) in enumerate(df.iterrows()):
        r, c = divmod(i, cols)
        if row.get("total") is not None and row.get("total") == row.get("total"):
            grid[r][c] = float(row["total"])
        if bool(row.get("chosen")):
            chosen = (c, r)
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(grid, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="total weighted score")
    if chosen is not None:
        ax.scatter([chosen[0]], [chosen[1]], s=120, facecolors="none", edgecolors=style.HIGHLIGHT, linewidths=2,
                   label="chosen node")
        ax.legend(loc="upper right")
    ax.set_title(title)
    ax.set_xlabel("node index mod columns")
    ax.set_ylabel("node index // columns")
    fig.tight_layout()
    return fig


def queue_over_time(scheduler, title: str = "Scheduling queue during a burst"):
    """activeQ, backoffQ and unschedulablePods sizes, sampled at every scheduling cycle."""
    plt = _plt()
    hist = scheduler.queue_history
    fig, ax = plt.subplots(figsize=(8, 4))
    if hist:
        t0 = hist[0][0]
        xs = [(h[0] - t0) / 1000 for h in hist]
        for idx, label, color in ((1, "activeQ", style.CONTROL_PLANE.line), (2, "backoffQ", style.NODE_AGENTS.line),
                                  (3, "unschedulablePods", style.PHASE_COLORS["Failed"])):
            ax.step(xs, [h[idx] for h in hist], where="post", label=label, color=color)
    ax.set_title(title)
    ax.set_xlabel("virtual seconds since the first cycle")
    ax.set_ylabel("pods")
    ax.legend()
    fig.tight_layout()
    return fig
