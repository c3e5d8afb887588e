"""Mirrors: (no upstream file) the one colour palette every k8slab picture uses.

A colour always means the same thing, in every notebook: blue is the control plane, slate is etcd, orange the node
agents (kubelet, kube-proxy), purple the container runtime, teal the network (CNI, iptables), gold the add-ons,
grey the user. Pods are filled by phase. Magenta is reserved for the highlight: "this is what the last step
touched".

Each component family has a ``line`` colour (borders, text, figure lines) and a light ``fill``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    line: str
    fill: str


CONTROL_PLANE = Family("control plane", "#326ce5", "#dce6fa")
ETCD = Family("etcd", "#3d5166", "#d9e0e8")
NODE_AGENTS = Family("node agents", "#d35400", "#fbe5d2")
RUNTIME = Family("container runtime", "#7d3c98", "#ecdff5")
NETWORK = Family("network", "#117a7d", "#d3efef")
ADDONS = Family("add-ons", "#9a7d0a", "#fcf3cf")
USER = Family("user", "#4d4d4d", "#f2f2f2")

FAMILIES = {f.name: f for f in (CONTROL_PLANE, ETCD, NODE_AGENTS, RUNTIME, NETWORK, ADDONS, USER)}

# Pod phases (core/v1 PodPhase) plus "Terminating", the STATUS kubectl prints for a pod being deleted.
PHASE_COLORS = {
    "Pending": "#f5b041",
    "Running": "#58d68d",
    "Succeeded": "#aab7c4",
    "Failed": "#e74c3c",
    "Unknown": "#d0d3d4",
    "Terminating": "#909497",
}
PHASES = tuple(PHASE_COLORS)

HIGHLIGHT = "#e4007c"
HIGHLIGHT_WIDTH = 3.0
EDGE = "#7b7d7d"  # an edge nobody is using right now
MUTED = "#b3b6b7"  # empty slots, inactive things
TEXT = "#1c2833"
FONT = "Helvetica,Arial,sans-serif"

# Trace component name (prefix before "/") -> family.
_COMPONENT_FAMILY = {
    "kube-apiserver": CONTROL_PLANE,
    "kube-scheduler": CONTROL_PLANE,
    "kube-controller-manager": CONTROL_PLANE,
    "cloud-controller-manager": CONTROL_PLANE,
    "etcd": ETCD,
    "kubelet": NODE_AGENTS,
    "kube-proxy": NODE_AGENTS,
    "containerd": RUNTIME,
    "cni": NETWORK,
    "iptables": NETWORK,
    "ipvs": NETWORK,
    "coredns": ADDONS,
    "kubectl": USER,
}


def family_of(component: str) -> Family:
    """The family of a trace component name, e.g. ``"kubelet/node-1"`` -> node agents."""
    return _COMPONENT_FAMILY.get(component.split("/", 1)[0], USER)


def pod_phase(pod: dict) -> str:
    """The phase a picture shows for a pod: ``Terminating`` once deletion started, else ``status.phase``."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    return (pod.get("status") or {}).get("phase") or "Pending"


def phase_color(phase: str) -> str:
    return PHASE_COLORS.get(phase, PHASE_COLORS["Unknown"])


# Short names for ``color=`` arguments in figures: ``viz.style.COLORS["pod"]``.
COLORS = {
    "control-plane": CONTROL_PLANE.line,
    "etcd": ETCD.line,
    "node": NODE_AGENTS.line,
    "runtime": RUNTIME.line,
    "network": NETWORK.line,
    "addon": ADDONS.line,
    "user": USER.line,
    "pod": PHASE_COLORS["Running"],
    "highlight": HIGHLIGHT,
    **PHASE_COLORS,
}
