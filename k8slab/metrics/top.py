"""Mirrors: staging/src/k8s.io/kubectl/pkg/cmd/top/top_node.go, top_pod.go and
staging/src/k8s.io/kubectl/pkg/metricsutil/metrics_printer.go.

``kubectl top nodes`` and ``kubectl top pods``: the Metrics API's usage printed as milli-cores and Mi, nodes as a
percentage of their *allocatable* resources (``--show-capacity`` uses capacity instead).
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..api.quantity import milli_value, parse_quantity, value

NODE_COLUMNS = ("NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)")
POD_COLUMNS = ("NAME", "CPU(cores)", "MEMORY(bytes)")


def _table(rows: list[tuple]) -> str:
    """tabwriter.NewWriter(out, 0, 8, 3, ' ', 0): left-aligned columns, three spaces of padding."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("".join(str(v).ljust(w + 3) if i < len(r) - 1 else str(v)
                             for i, (v, w) in enumerate(zip(r, widths))) for r in rows) + "\n"


def _cpu(q: str) -> str:
    return f"{milli_value(q)}m"


def _mem(q: str) -> str:
    return f"{value(q) // (1024 * 1024)}Mi"


def top_nodes(node_metrics: list[dict], nodes: list[dict], show_capacity: bool = False,
              sort_by: str = "") -> str:
    """printNodeMetrics: one line per node; nodes without metrics show <unknown>."""
    by_name = {m["metadata"]["name"]: m for m in node_metrics}
    rows = [NODE_COLUMNS]
    items = sorted(nodes, key=lambda n: n["metadata"]["name"])
    if sort_by in ("cpu", "memory"):
        items.sort(key=lambda n: -(milli_value(by_name[n["metadata"]["name"]]["usage"][sort_by])
                                   if n["metadata"]["name"] in by_name else -1))
    missing = []
    for n in items:
        name = n["metadata"]["name"]
        m = by_name.get(name)
        if m is None:
            missing.append((name, "<unknown>", "<unknown>", "<unknown>", "<unknown>"))
            continue
        avail = (n.get("status") or {}).get("capacity" if show_capacity else "allocatable") or {}
        cpu, mem = m["usage"]["cpu"], m["usage"]["memory"]
        cpu_pct = int(milli_value(cpu) / milli_value(avail.get("cpu", "1")) * 100)
        mem_pct = int(milli_value(mem) / milli_value(avail.get("memory", "1")) * 100)
        rows.append((name, _cpu(cpu), f"{cpu_pct}%", _mem(mem), f"{mem_pct}%"))
    return _table(rows + missing)


def top_pods(pod_metrics: list[dict], all_namespaces: bool = False, containers: bool = False,
             sort_by: str = "") -> str:
    """printPodMetrics: one line per pod (per container with ``containers=True``), summed over containers."""
    header = (("NAMESPACE",) if all_namespaces else ()) + (("NAME",) if not containers else ("POD", "NAME")) + \
        POD_COLUMNS[1:]
    rows = [header]
    items = sorted(pod_metrics, key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"]))
    if sort_by in ("cpu", "memory"):
        items.sort(key=lambda m: -sum(milli_value(c["usage"][sort_by]) for c in m["containers"]))
    for m in items:
        ns = (m["metadata"].get("namespace", ""),) if all_namespaces else ()
        if containers:
            for c in m["containers"]:
                rows.append(ns + (m["metadata"]["name"], c["name"], _cpu(c["usage"]["cpu"]),
                                  _mem(c["usage"]["memory"])))
            continue
        cpu = sum((parse_quantity(c["usage"]["cpu"]) for c in m["containers"]), Fraction(0))
        mem = sum(value(c["usage"]["memory"]) for c in m["containers"])
        rows.append(ns + (m["metadata"]["name"], f"{math.ceil(cpu * 1000)}m", f"{mem // (1024 * 1024)}Mi"))
    return _table(rows)
