"""Mirrors: pkg/scheduler/framework/plugins/nodeports/node_ports.go, pkg/scheduler/framework/types.go (HostPortInfo)

NodePorts rejects a node when a container of the pod asks for a ``hostPort`` that a pod already on
the node holds, for the same protocol and an overlapping host IP. ``0.0.0.0`` (or no hostIP)
overlaps every IP; two different specific IPs do not. The rejection is Unschedulable (not
"unresolvable"): preempting the pod holding the port would free it.
"""

from __future__ import annotations

from k8slab.scheduler.framework import (
    DEFAULT_BIND_ALL_HOST_IP, Code, CycleState, NodeInfo, NotFoundError, Plugin, PreFilterResult, SchedulerError,
    Status, as_status, get_host_ports,
)

NAME = "NodePorts"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def get_container_ports(*pods: dict) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every container port with a hostPort > 0."""
    out: list[tuple[str, str, int]] = []
    for pod in pods:
        out.extend(get_host_ports(pod))
    return out


def check_conflict(used_ports: dict[str, set[tuple[str, int]]], ip: str, protocol: str, port: int) -> bool:
    """HostPortInfo.CheckConflict: is (ip, protocol, port) already taken on the node?"""
    if port <= 0:
        return False
    ip = ip or DEFAULT_BIND_ALL_HOST_IP
    protocol = protocol or "TCP"
    pp = (protocol, port)
    if ip == DEFAULT_BIND_ALL_HOST_IP:
        return any(pp in ports for ports in used_ports.values())
    for key in (DEFAULT_BIND_ALL_HOST_IP, ip):
        if pp in used_ports.get(key, ()):
            return True
    return False


def fits_ports(want_ports: list[tuple[str, str, int]], node_info: NodeInfo) -> bool:
    return not any(check_conflict(node_info.used_ports, ip, proto, port) for ip, proto, port in want_ports)


class _PreFilterState(list):
    def clone(self) -> "_PreFilterState":
        return self


def fits(pod: dict, node_info: NodeInfo) -> bool:
    return fits_ports(get_container_ports(pod), node_info)


class NodePorts(Plugin):
    NAME = NAME
    EVENTS = ("Pod/Delete", "Node/Add", "Node/Update")
    """EventsToRegister: cluster events that may make a pod this plugin rejected schedulable."""

    def pre_filter(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status | None]:
        ports = get_container_ports(pod)
        if not ports:
            return None, Status(Code.Skip)
        state.write(PRE_FILTER_STATE_KEY, _PreFilterState(ports))
        return None, None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        try:
            want = state.read(PRE_FILTER_STATE_KEY)
        except NotFoundError as err:
            return as_status(SchedulerError(f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: {err}'))
        if not fits_ports(want, node_info):
            return Status(Code.Unschedulable, [ERR_REASON])
        return None
