"""Mirrors: (no upstream file) the "Kubernetes components" picture of kubernetes.io/docs/concepts/overview/components,
drawn from a live k8slab cluster.

The control plane (kube-apiserver, etcd, kube-scheduler, kube-controller-manager) runs on the control-plane node, as
kubeadm sets it up. Every node runs a kubelet, a container runtime (containerd), a CNI plugin and kube-proxy; pods
run on nodes. kubectl is outside the cluster. Each arrow is a real connection and says what it carries. An arrow
points from the side that opens the connection: a kubelet *opens* its HTTPS connection to the API server, and the
watch events then stream back along it.

``architecture(cluster)`` returns a ``graphviz.Digraph``. ``ArchitectureView(cluster)`` lays that graph out once
and afterwards only restyles the SVG (pod slots, phases, highlight), so a picture redrawn after every step keeps its
layout and takes well under a millisecond to update.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import graphviz

from . import style as S

APISERVER = "kube-apiserver"
ETCD = "etcd"
SCHEDULER = "kube-scheduler"
CONTROLLER_MANAGER = "kube-controller-manager"
KUBECTL = "kubectl"
COREDNS = "coredns"
MAX_PODS_PER_NODE = 5
POD_NAME_CHARS = 26
POD_BOX_WIDTH = 1.9  # inches
POD_ROW_HEIGHT = 0.2  # inches per pod slot

API_LABEL = "HTTPS (REST + watch)"
LABELS = {
    "kubectl": "HTTPS REST",
    "api": API_LABEL,
    "etcd": "gRPC (etcd v3 API)",
    "cri": "CRI (gRPC over unix socket)",
    "cni": "CNI (exec plugin)",
    "netfilter": "iptables (netfilter)",
    "kubelet-api": "HTTPS (logs/exec)",
}


def _sid(kind: str, name: str) -> str:
    """A stable SVG/DOT id: letters, digits, '-', '_' only."""
    return kind + "_" + re.sub(r"[^A-Za-z0-9_-]", "_", name.replace("/", "__"))


def node_id(component: str) -> str:
    return _sid("n", component)


def edge_id(src: str, dst: str) -> str:
    return _sid("e", f"{src}--{dst}")


@dataclass
class Look:
    """How one drawn element looks right now (``None`` keeps what the layout drew)."""

    stroke: str | None = None
    fill: str | None = None
    width: float | None = None
    dash: bool = False
    text_color: str | None = None
    bold: bool = False
    texts: dict[int, str] = field(default_factory=dict)  # line index -> text
    line_colors: dict[int, str] = field(default_factory=dict)  # line index -> colour (one line of a label)


@dataclass
class _Element:
    """One node of the picture: its DOT name, id, label lines and base attributes."""

    name: str
    id: str
    lines: list[str]
    attrs: dict[str, str]
    left: bool = False  # left-justified label lines


class Layout:
    """What the picture contains for a cluster: components, per-node agents, pod slots and edges.

    The layout depends only on the node set and the controllers, never on pods, so it stays valid (and its SVG
    stays laid out) while the cluster runs.
    """

    def __init__(self, cluster, max_pods: int = MAX_PODS_PER_NODE) -> None:
        self.max_pods = max_pods
        self.nodes: list[tuple[str, str, str]] = []
        for name in cluster.nodes:
            agents = cluster.node(name)
            self.nodes.append((name, getattr(agents, "role", "worker"), getattr(agents, "ip", "")))
        cm = getattr(cluster, "controller_manager", None)
        self.controllers: list[str] = list(getattr(cm, "controllers", {}) or {})
        self.has_dns = getattr(cluster, "dns", None) is not None
        self.dns_ip = getattr(cluster, "dns_ip", "")
        self.elements: dict[str, _Element] = {}  # DOT node name -> element
        self.edges: dict[tuple[str, str], tuple[str, str]] = {}  # (src, dst) -> (edge id, label)
        self.controller_line = {c: i + 1 for i, c in enumerate(self.controllers)}
        self.pod_slots: dict[str, list[str]] = {}  # node -> slot DOT names
        self._define()

    # -- what is drawn ----------------------------------------------------------------------------------------------
    def _el(self, name: str, lines: list[str], fam: S.Family | None, left: bool = False, **attrs) -> str:
        base = {"fillcolor": fam.fill, "color": fam.line} if fam else {}
        base.update(attrs)
        self.elements[name] = _Element(name, node_id(name), lines, base, left)
        return name

    def _edge(self, src: str, dst: str, label: str) -> None:
        self.edges[(src, dst)] = (edge_id(src, dst), label)

    def _define(self) -> None:
        self._el(KUBECTL, ["kubectl", "(kubernetes-admin)"], S.USER, shape="box", style="filled")
        self._el(APISERVER, ["kube-apiserver"], S.CONTROL_PLANE, penwidth="1.5")
        self._el(ETCD, ["etcd", "revision 0000000"], S.ETCD, shape="cylinder", style="filled")
        self._el(SCHEDULER, ["kube-scheduler"], S.CONTROL_PLANE)
        self._el(CONTROLLER_MANAGER, ["kube-controller-manager"] + [f"  {c}" for c in self.controllers],
                 S.CONTROL_PLANE, left=True)
        self._el("unscheduled", ["pods without a node: 000"], None, shape="plaintext", style="",
                 fontcolor=S.TEXT, fontsize="9")
        self._edge(KUBECTL, APISERVER, LABELS["kubectl"])
        self._edge(APISERVER, ETCD, LABELS["etcd"])
        self._edge(SCHEDULER, APISERVER, LABELS["api"])
        self._edge(CONTROLLER_MANAGER, APISERVER, LABELS["api"])
        if self.has_dns:
            lines = ["CoreDNS add-on", "Deployment kube-system/coredns"]
            if self.dns_ip:
                lines.append(f"Service kube-dns {self.dns_ip}")
            self._el(COREDNS, lines, S.ADDONS)
            self._edge(COREDNS, APISERVER, LABELS["api"])
        for name, role, ip in self.nodes:
            self._el(f"kubelet/{name}", ["kubelet"], S.NODE_AGENTS)
            self._el(f"kube-proxy/{name}", ["kube-proxy"], S.NODE_AGENTS)
            self._el(f"containerd/{name}", ["containerd"], S.RUNTIME)
            self._el(f"cni/{name}", ["CNI (bridge)"], S.NETWORK)
            self._el(f"iptables/{name}", ["iptables"], S.NETWORK, shape="box", style="filled")
            self.pod_slots[name] = [f"pod/{name}/{i}" for i in range(self.max_pods)]
            self._el(f"pods/{name}", ["no pods yet"], None, shape="box", style="rounded,filled", fillcolor="white",
                     color="#bfc9ca", fontsize="8", labelloc="t", width=str(POD_BOX_WIDTH),
                     height=str(round(0.22 + self.max_pods * POD_ROW_HEIGHT, 2)), fixedsize="true")
            self._edge(f"kubelet/{name}", APISERVER, LABELS["api"])
            self._edge(f"kube-proxy/{name}", APISERVER, LABELS["api"])
            self._edge(APISERVER, f"kubelet/{name}", LABELS["kubelet-api"])
            self._edge(f"kubelet/{name}", f"containerd/{name}", LABELS["cri"])
            self._edge(f"containerd/{name}", f"cni/{name}", LABELS["cni"])
            self._edge(f"kube-proxy/{name}", f"iptables/{name}", LABELS["netfilter"])

    def node_title(self, name: str, role: str, ip: str, status: str = "") -> str:
        return f"{name}  ({role}, {ip})" + (f"  {status}" if status else "")

    # -- DOT --------------------------------------------------------------------------------------------------------
    def digraph(self, looks: dict[str, Look] | None = None, title: tuple[str, str] = ("", "")) -> graphviz.Digraph:
        """The DOT graph, with ``looks`` (by element id) applied as attributes."""
        looks = looks or {}
        g = graphviz.Digraph("k8slab", graph_attr={
            "label": _title_label(*title, looks.get("graph")), "labelloc": "t", "fontname": S.FONT,
            "fontsize": "15", "fontcolor": S.TEXT, "rankdir": "TB", "newrank": "true", "nodesep": "0.22",
            "ranksep": "0.42", "compound": "true", "bgcolor": "white", "id": "graph"},
            node_attr={"fontname": S.FONT, "fontsize": "10", "shape": "box", "style": "rounded,filled",
                       "fontcolor": S.TEXT, "margin": "0.12,0.05"},
            edge_attr={"fontname": S.FONT, "fontsize": "7.5", "color": S.EDGE, "fontcolor": "#566573",
                       "arrowsize": "0.6"})

        def add(sub, name):
            el = self.elements[name]
            sub.node(name, **self._node_attrs(el, looks.get(el.id), looks))

        def add_control_plane(sub, node):
            with sub.subgraph(name=f"cluster_{node}_cp", graph_attr={
                    "label": "control plane (static pods)" if node else "control plane", "id": _sid("c", node + "_cp"),
                    "style": "rounded,dashed", "color": S.CONTROL_PLANE.line, "fontsize": "9",
                    "fontcolor": S.CONTROL_PLANE.line, "labeljust": "l"}) as cp:
                with cp.subgraph() as same:
                    same.attr(rank="same")
                    for n in (SCHEDULER, APISERVER, CONTROLLER_MANAGER):
                        add(same, n)
                add(cp, ETCD)
                add(cp, "unscheduled")
            sub.edge(SCHEDULER, "unscheduled", style="invis")

        add(g, KUBECTL)
        if not self._cp():
            add_control_plane(g, "")
        for name, role, ip in self.nodes:
            cid = _sid("c", name)
            look = looks.get(cid)
            label = look.texts.get(0) if look and 0 in look.texts else self.node_title(name, role, ip,
                                                                                        "not registered")
            with g.subgraph(name=f"cluster_{name}", graph_attr={
                    "label": label, "id": cid, "style": "rounded", "color": "#95a5a6", "fontsize": "10",
                    "fontcolor": S.TEXT, "labeljust": "l", "margin": "10"}) as sub:
                if name == self._cp():
                    add_control_plane(sub, name)
                for n in (f"kubelet/{name}", f"kube-proxy/{name}", f"containerd/{name}", f"cni/{name}",
                          f"iptables/{name}", f"pods/{name}"):
                    add(sub, n)
                with sub.subgraph() as same:
                    same.attr(rank="same")
                    same.node(f"kubelet/{name}")
                    same.node(f"kube-proxy/{name}")
                # layout only: the pods hang under the runtime that runs them
                sub.edge(f"cni/{name}", f"pods/{name}", style="invis")
        if self.has_dns:
            with g.subgraph(name="cluster_addons", graph_attr={
                    "label": "add-ons", "id": "c_addons", "style": "rounded,dashed", "color": S.ADDONS.line,
                    "fontcolor": S.ADDONS.line, "fontsize": "9", "labeljust": "l"}) as sub:
                add(sub, COREDNS)
        with g.subgraph() as same:
            same.attr(rank="same")
            same.node(KUBECTL)
            if self.has_dns:
                same.node(COREDNS)
        for (src, dst), (eid, label) in self.edges.items():
            attrs = {"id": eid, "label": label}
            if dst == APISERVER and src != KUBECTL:
                attrs["constraint"] = "false"  # the APIServer -> kubelet edge places the nodes below it
            if src == APISERVER and dst.startswith("kubelet/"):
                attrs.update(style="dashed", minlen="3" if not dst.endswith("/" + self._cp()) else "2")
            look = looks.get(eid)
            if look is not None:
                if look.stroke:
                    attrs.update(color=look.stroke, fontcolor=look.stroke)
                if look.width:
                    attrs["penwidth"] = str(look.width)
            g.edge(src, dst, **attrs)
        g.subgraph(self._legend())
        return g

    def _cp(self) -> str:
        return next((n for n, role, _ in self.nodes if role == "control-plane"), "")

    def _node_attrs(self, el: _Element, look: Look | None, looks: dict[str, Look]) -> dict[str, str]:
        attrs = dict(el.attrs)
        attrs["id"] = el.id
        lines = list(el.lines)
        if look is not None:
            for i, t in look.texts.items():
                if i < len(lines):
                    lines[i] = t
            if look.stroke:
                attrs["color"] = look.stroke
            if look.fill:
                attrs["fillcolor"] = look.fill
            if look.width:
                attrs["penwidth"] = str(look.width)
            if look.text_color:
                attrs["fontcolor"] = look.text_color
        sep = "\\l" if el.left else "\\n"
        attrs["label"] = sep.join(_dot_escape(x) for x in lines) + ("\\l" if el.left else "")
        if el.name.startswith("pods/") and looks:
            attrs["label"] = self._pod_table(el.name.split("/", 1)[1], lines[0], looks)
            attrs.pop("fixedsize", None)
            attrs.pop("height", None)
        return attrs

    def _pod_table(self, node: str, summary: str, looks: dict[str, Look]) -> str:
        """The pods of a node as an HTML-like label (for the one-shot picture; the view draws slots itself)."""
        rows = [f'<TR><TD>{html.escape(summary)}</TD></TR>']
        for slot in self.pod_slots[node]:
            look = looks.get(node_id(slot))
            if look is None or not look.texts.get(0):
                continue
            border = 2 if (look.width or 1) > 1.5 else 1
            rows.append(f'<TR><TD BGCOLOR="{look.fill or "white"}" COLOR="{look.stroke or S.MUTED}" '
                        f'BORDER="{border}" STYLE="rounded">{html.escape(look.texts[0])}</TD></TR>')
        return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"

    def _legend(self) -> graphviz.Digraph:
        rows = []
        for fam, what in ((S.CONTROL_PLANE, "control plane"), (S.ETCD, "etcd"),
                          (S.NODE_AGENTS, "node agents (kubelet, kube-proxy)"),
                          (S.RUNTIME, "container runtime"), (S.NETWORK, "network (CNI, iptables)"),
                          (S.ADDONS, "add-ons"), (S.USER, "user")):
            rows.append(f'<TR><TD BGCOLOR="{fam.fill}" COLOR="{fam.line}" BORDER="1" WIDTH="18"></TD>'
                        f'<TD ALIGN="LEFT">{html.escape(what)}</TD></TR>')
        phases = "".join(f'<TD BGCOLOR="{c}" BORDER="1" COLOR="#7f8c8d">{p}</TD>'
                         for p, c in S.PHASE_COLORS.items())
        legend = (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
            '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(rows) +
            '<TR><TD COLSPAN="2" ALIGN="LEFT">pods by phase (gold border: add-on pod):</TD></TR>'
            f'<TR><TD COLSPAN="2"><TABLE BORDER="0" CELLSPACING="2" CELLPADDING="2"><TR>{phases}</TR></TABLE>'
            '</TD></TR>'
            f'<TR><TD BGCOLOR="{S.HIGHLIGHT}" WIDTH="18"></TD><TD ALIGN="LEFT">touched by the last step</TD></TR>'
            '<TR><TD COLSPAN="2" ALIGN="LEFT">arrow: from the side that opens the connection;<BR ALIGN="LEFT"/>'
            'watch events stream back along it<BR ALIGN="LEFT"/></TD></TR>'
            '</TABLE>>')
        leg = graphviz.Digraph(name="cluster_legend", graph_attr={"label": "", "id": "c_legend", "style": "rounded",
                                                                   "color": "#d5d8dc"})
        leg.node("legend", legend, shape="plaintext", style="", fontsize="8", id="legend")
        return leg


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _title_label(title: str, subtitle: str, look: Look | None = None) -> str:
    if look is not None and 1 in look.texts:
        subtitle = look.texts[1]
    return f"{title}\n{subtitle}" if subtitle else title


# -- what a cluster looks like right now ---------------------------------------------------------------------------
def _pods_by_node(cluster, layout: Layout) -> tuple[dict[str, list[dict]], int]:
    """Pods grouped by ``spec.nodeName`` (user pods first, then oldest first) and the number without a node."""
    by_node: dict[str, list[dict]] = {n: [] for n, _, _ in layout.nodes}
    unscheduled = 0
    for pod in cluster.apiserver.cache.get("pods", {}).values():
        node = (pod.get("spec") or {}).get("nodeName")
        lst = by_node.get(node) if node else None
        if lst is None:
            unscheduled += 1
        else:
            lst.append(pod)
    for lst in by_node.values():
        lst.sort(key=_pod_order)
    return by_node, unscheduled


def _pod_order(pod: dict) -> tuple:
    md = pod["metadata"]
    return (md.get("namespace") == "kube-system", md.get("creationTimestamp") or "", md.get("namespace", ""),
            md["name"])


def _short(name: str, n: int = POD_NAME_CHARS) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def _node_status(cluster, name: str) -> str:
    node = cluster.apiserver.cache.get("nodes", {}).get(name)
    if node is None:
        return "not registered"
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return "Ready" if c.get("status") == "True" else "NotReady"
    return "NotReady"


def state_looks(cluster, layout: Layout) -> dict[str, Look]:
    """Pods in their slots, per-node summaries, node status, the etcd revision and the clock."""
    looks: dict[str, Look] = {}
    by_node, unscheduled = _pods_by_node(cluster, layout)
    looks[node_id("unscheduled")] = Look(texts={0: f"pods without a node: {unscheduled}"},
                                         text_color=S.PHASE_COLORS["Pending"] if unscheduled else None)
    for name, role, ip in layout.nodes:
        pods = by_node[name]
        slots = layout.pod_slots[name]
        shown = pods if len(pods) <= len(slots) else pods[: len(slots) - 1]
        for slot, pod in zip(slots, shown):
            md = pod["metadata"]
            addon = md.get("namespace") == "kube-system"
            looks[node_id(slot)] = Look(stroke=S.ADDONS.line if addon else "#5d6d7e",
                                        fill=S.phase_color(S.pod_phase(pod)), texts={0: _short(md["name"])},
                                        width=1.6 if addon else 1.0)
        for slot in slots[len(shown):]:
            looks[node_id(slot)] = Look(texts={0: ""})
        counts: dict[str, int] = {}
        for p in pods:
            ph = S.pod_phase(p)
            counts[ph] = counts.get(ph, 0) + 1
        if pods:
            summary = f"{len(pods)} pod{'s' if len(pods) != 1 else ''}: " + ", ".join(
                f"{v} {k}" for k, v in counts.items())
            if len(shown) < len(pods):
                summary += f" (+{len(pods) - len(shown)} more)"
        else:
            summary = "no pods"
        looks[node_id(f"pods/{name}")] = Look(texts={0: summary})
        looks[_sid("c", name)] = Look(texts={0: layout.node_title(name, role, ip, _node_status(cluster, name))})
    looks[node_id(ETCD)] = Look(texts={1: f"revision {cluster.etcd.revision}"})
    looks["graph"] = Look(texts={1: f"step {cluster.loop.steps}   t = {cluster.loop.now / 1000:.3f} s"})
    return looks


def _resolve(layout: Layout, component: str, near: str = "") -> str | None:
    """The drawn element for a trace component name ("kube-controller-manager/deployment" -> the manager;
    target "iptables" from "kube-proxy/node-1" -> "iptables/node-1")."""
    if not component:
        return None
    if component in layout.elements:
        return component
    head, _, node = component.partition("/")
    if head in layout.elements:
        return head
    if not node and "/" in near:
        cand = f"{component}/{near.split('/', 1)[1]}"
        if cand in layout.elements:
            return cand
    return None


def highlight_looks(layout: Layout, events, pod_slots: dict[str, str] | None = None) -> dict[str, Look]:
    """Looks for the components and edges the ``events`` touched (see :func:`touched`)."""
    looks: dict[str, Look] = {}
    nodes, edges, lines = touched(layout, events)
    for n in nodes:
        looks[node_id(n)] = Look(stroke=S.HIGHLIGHT, width=S.HIGHLIGHT_WIDTH)
    for e in edges:
        looks[e] = Look(stroke=S.HIGHLIGHT, width=S.HIGHLIGHT_WIDTH - 0.5, text_color=S.HIGHLIGHT, bold=True)
    for ctrl in lines:
        look = looks.setdefault(node_id(CONTROLLER_MANAGER), Look(stroke=S.HIGHLIGHT, width=S.HIGHLIGHT_WIDTH))
        look.line_colors[layout.controller_line[ctrl]] = S.HIGHLIGHT
    if pod_slots:
        for ev in events:
            slot = pod_slots.get("/".join(ev.ref.split("/", 3)[:3])) if ev.ref.startswith("pods/") else None
            if slot is not None:
                looks[node_id(slot)] = Look(stroke=S.HIGHLIGHT, width=S.HIGHLIGHT_WIDTH)
    return looks


def touched(layout: Layout, events) -> tuple[set[str], set[str], set[str]]:
    """Which components (DOT names), edges (ids) and controller lines the ``events`` touched.

    A ``request`` goes component -> kube-apiserver; its ``response`` and a ``watch`` event come back along the same
    connection; ``etcd.*`` is kube-apiserver -> etcd; ``cri.*`` kubelet -> containerd; ``cni.*`` containerd -> CNI;
    ``sync_proxy_rules`` kube-proxy -> iptables; any other event with a ``target`` is the edge component -> target.
    """
    nodes: set[str] = set()
    edges: set[str] = set()
    lines: set[str] = set()
    for ev in events:
        comp = _resolve(layout, ev.component)
        if comp is None:
            continue
        nodes.add(comp)
        if ev.component.startswith(CONTROLLER_MANAGER + "/"):
            ctrl = ev.component.split("/", 1)[1]
            if ctrl in layout.controller_line:
                lines.add(ctrl)
        kind = ev.kind
        if kind == "watch":
            pair = (comp, APISERVER)
        elif kind == "response":
            pair = (_resolve(layout, ev.target), comp)
        else:
            pair = (comp, _resolve(layout, ev.target, ev.component))
        if pair[0] is None or pair[1] is None:
            continue
        nodes.update(pair)
        hit = layout.edges.get(pair) or layout.edges.get((pair[1], pair[0]))
        if hit is not None:
            edges.add(hit[0])
    return nodes, edges, lines


def last_step_events(cluster) -> list:
    """The events of the newest step in the trace (or of the newest facade call made between steps)."""
    trace = cluster.trace
    if not len(trace):
        return []
    step = trace[-1].step
    out = []
    for ev in reversed(trace):
        if ev.step != step:
            break
        out.append(ev)
    out.reverse()
    return out


def _slot_of_pods(cluster, layout: Layout) -> dict[str, str]:
    """``{"pods/<ns>/<name>": slot}`` for every pod drawn in a slot."""
    by_node = _pods_by_node(cluster, layout)[0]
    out = {}
    for name, slots in layout.pod_slots.items():
        pods = by_node.get(name, [])
        shown = pods if len(pods) <= len(slots) else pods[: len(slots) - 1]
        for slot, pod in zip(slots, shown):
            md = pod["metadata"]
            out[f"pods/{md.get('namespace')}/{md['name']}"] = slot
    return out


def _overlay(looks: dict[str, Look], highlight: dict[str, Look]) -> None:
    """Put the highlight on top of the state looks (a highlighted pod keeps its name and phase colour)."""
    for k, v in highlight.items():
        base = looks.get(k)
        if base is None:
            looks[k] = v
            continue
        base.stroke, base.width = v.stroke, v.width
        base.line_colors.update(v.line_colors)
        base.text_color = v.text_color or base.text_color
        base.bold = base.bold or v.bold


def _title(cluster, layout: Layout) -> str:
    workers = sum(1 for _, role, _ in layout.nodes if role != "control-plane")
    cps = len(layout.nodes) - workers
    return (f"Kubernetes cluster: {cps} control-plane node{'s' if cps != 1 else ''}, "
            f"{workers} worker{'s' if workers != 1 else ''}")


def architecture(cluster, highlight="last", max_pods: int = MAX_PODS_PER_NODE) -> graphviz.Digraph:
    """The cluster's architecture as a ``graphviz.Digraph``: components, nodes and their pods, and the
    connections between them, labelled with what they carry.

    ``highlight``: ``"last"`` draws what the newest step touched in the highlight colour; ``None`` nothing; or a
    list of :class:`~k8slab.sim.TraceEvent`.
    """
    layout = Layout(cluster, max_pods)
    looks = state_looks(cluster, layout)
    events = last_step_events(cluster) if highlight == "last" else (highlight or [])
    _overlay(looks, highlight_looks(layout, events, _slot_of_pods(cluster, layout)))
    return layout.digraph(looks, (_title(cluster, layout), looks["graph"].texts[1]))


# -- the restylable SVG ----------------------------------------------------------------------------------------------
_TOKEN = re.compile(r'<g id="([^"]*)" class="(graph|cluster|node|edge)"[^>]*>|</g>'
                    r'|<(path|polygon|ellipse|polyline|rect)\b|(<text\b)([^>]*>)(.*?)</text>', re.S)


class SvgTemplate:
    """An SVG laid out once by dot, cut into static text and slots so it can be restyled quickly.

    Every shape (``path``, ``polygon``, ``ellipse``) and every ``text`` inside a group with an id gets a slot right
    after its tag name, where a ``style="..."`` attribute can be injected (inline style overrides the presentation
    attributes dot wrote), and every text's content is a slot too.
    """

    def __init__(self, svg: str) -> None:
        start = svg.find("<svg")
        svg = svg[start:] if start >= 0 else svg
        # scale to the width of the notebook cell (the viewBox keeps the aspect ratio), never above natural size
        svg = re.sub(r'^<svg width="([\d.]+)pt" height="[\d.]+pt"',
                     r'<svg width="100%" style="max-width:\1pt"', svg, count=1)
        self.parts: list = []
        self.ids: set[str] = set()
        pos = 0
        stack: list[list] = []  # [group id, group class, shape count, text count]
        buf = []
        for m in _TOKEN.finditer(svg):
            buf.append(svg[pos:m.start()])
            pos = m.end()
            if m.group(1) is not None:
                gid = "graph" if m.group(2) == "graph" else html.unescape(m.group(1))
                self.ids.add(gid)
                stack.append([gid, m.group(2), 0, 0])
                buf.append(m.group(0))
            elif m.group(0) == "</g>":
                if stack:
                    stack.pop()
                buf.append(m.group(0))
            elif m.group(3) is not None:
                buf.append(m.group(0))
                if stack:
                    top = stack[-1]
                    self._flush(buf)
                    self.parts.append(("shape", top[0], top[1], m.group(3), top[2]))
                    top[2] += 1
            else:
                buf.append(m.group(4))
                if stack:
                    top = stack[-1]
                    self._flush(buf)
                    self.parts.append(("tstyle", top[0], top[3]))
                    buf.append(m.group(5))
                    self._flush(buf)
                    self.parts.append(("text", top[0], top[3], m.group(6)))
                    top[3] += 1
                else:
                    buf.append(m.group(5) + m.group(6))
                buf.append("</text>")
        buf.append(svg[pos:])
        self._flush(buf)

    def _flush(self, buf: list) -> None:
        if buf:
            s = "".join(buf)
            buf.clear()
            if self.parts and isinstance(self.parts[-1], str):
                self.parts[-1] += s
            else:
                self.parts.append(s)

    def render(self, looks: dict[str, Look]) -> str:
        out = []
        append = out.append
        get = looks.get
        for p in self.parts:
            if p.__class__ is str:
                append(p)
                continue
            look = get(p[1])
            if p[0] == "text":
                if look is not None and p[2] in look.texts:
                    append(html.escape(look.texts[p[2]], quote=False))
                else:
                    append(p[3])
                continue
            if look is None:
                continue
            if p[0] == "tstyle":
                color = look.line_colors.get(p[2]) or look.text_color
                css = []
                if color:
                    css.append(f"fill:{color}")
                if look.bold or p[2] in look.line_colors:
                    css.append("font-weight:bold")
                if css:
                    append(f' style="{";".join(css)}"')
                continue
            _, _, cls, tag, _ = p
            css = []
            if cls == "edge":
                if look.stroke:
                    css.append(f"stroke:{look.stroke}")
                    if tag == "polygon":
                        css.append(f"fill:{look.stroke}")
            elif cls in ("node", "cluster"):
                if look.stroke:
                    css.append(f"stroke:{look.stroke}")
                if look.fill:
                    css.append(f"fill:{look.fill}")
                    if not look.dash:
                        css.append("stroke-dasharray:none")
            if look.width and not (cls == "edge" and tag == "polygon"):  # arrowheads keep their size
                css.append(f"stroke-width:{look.width}")
            if css:
                append(f' style="{";".join(css)}"')
        return "".join(out)


_NODE_GROUP = re.compile(r'<g id="([^"]*)" class="node">(.*?)</g>', re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def add_pod_slots(svg: str, layout: Layout) -> str:
    """Draw each node's pod slots (empty, dashed) inside its laid-out pods box, as groups with stable ids."""
    boxes = {node_id(f"pods/{name}"): name for name in layout.pod_slots}

    def fill(m: re.Match) -> str:
        name = boxes.get(html.unescape(m.group(1)))
        if name is None:
            return m.group(0)
        shape = re.search(r'(?:points|d)="([^"]*)"', m.group(2))
        nums = [float(x) for x in _NUMBER.findall(shape.group(1))] if shape else []
        if len(nums) < 4:
            return m.group(0)
        xs, ys = nums[0::2], nums[1::2]
        left, right, top = min(xs), max(xs), min(ys)
        row = POD_ROW_HEIGHT * 72
        out = []
        for i, slot in enumerate(layout.pod_slots[name]):
            y = top + 15 + i * row
            out.append(
                f'<g id="{node_id(slot)}" class="node"><title>{html.escape(slot)}</title>'
                f'<rect x="{left + 5:.2f}" y="{y:.2f}" width="{right - left - 10:.2f}" height="{row - 2.5:.2f}" '
                f'rx="3" fill="white" stroke="{S.MUTED}" stroke-dasharray="3,2"/>'
                f'<text text-anchor="middle" x="{(left + right) / 2:.2f}" y="{y + row / 2 + 1.5:.2f}" '
                f'font-family="{S.FONT}" font-size="8.00" fill="{S.TEXT}">·</text></g>\n')
        return m.group(0)[:-4] + "".join(out) + "</g>"

    return _NODE_GROUP.sub(fill, svg)


class ArchitectureView:
    """The architecture picture of a running cluster, laid out once and restyled after each step.

    ``view.svg(events)`` returns the SVG with the cluster's current pods and the ``events`` highlighted (or the
    newest step's events with ``"last"``, nothing with ``None``). The graph is laid out again only when the set of
    nodes changes.
    """

    def __init__(self, cluster, max_pods: int = MAX_PODS_PER_NODE) -> None:
        self.max_pods = max_pods
        self.layouts = 0
        self._layout: Layout | None = None
        self._template: SvgTemplate | None = None
        self.cluster = cluster

    @property
    def cluster(self):
        return self._cluster

    @cluster.setter
    def cluster(self, cluster) -> None:
        """Point the view at ``cluster`` (e.g. a replayed one); keeps the layout if the nodes are the same."""
        self._cluster = cluster
        self._ensure_layout()

    @property
    def layout(self) -> Layout:
        return self._layout

    def _ensure_layout(self) -> None:
        c = self._cluster
        if self._layout is not None and tuple(c.nodes) == self._node_names:
            return
        layout = Layout(c, self.max_pods)
        svg = layout.digraph({}, (_title(c, layout), "step 0000000   t = 000000.000 s")).pipe(format="svg")
        self._template = SvgTemplate(add_pod_slots(svg.decode("utf-8"), layout))
        self._layout = layout
        self._node_names = tuple(c.nodes)
        self.layouts += 1

    def looks(self, highlight_events=None) -> dict[str, Look]:
        self._ensure_layout()
        c, layout = self._cluster, self._layout
        looks = state_looks(c, layout)
        events = last_step_events(c) if highlight_events == "last" else (highlight_events or [])
        if events:
            _overlay(looks, highlight_looks(layout, events, _slot_of_pods(c, layout)))
        return looks

    def svg(self, highlight_events=None) -> str:
        """The SVG text (no XML prolog), ready for an HTML page or an ``ipywidgets.HTML``."""
        return self._template.render(self.looks(highlight_events))

    def _repr_svg_(self) -> str:
        return self.svg("last")
