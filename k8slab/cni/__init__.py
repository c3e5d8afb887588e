"""Mirrors: containernetworking/plugins (plugins/main/bridge, plugins/ipam/host-local), flannel-io/flannel and the
NetworkPolicy semantics a policy plugin (Calico, Cilium, ...) enforces.

Pod networking on a node: the container runtime calls the CNI plugin to give each pod sandbox a network
interface and an IP address from the node's podCIDR (``bridge``, ``ipam``); the nodes' routes join the podCIDRs
over a VXLAN overlay or host routes (``network``); NetworkPolicy decides which connections pass (``policy``); and
``path`` walks one connection through all of it, hop by hop.
"""

from .bridge import CNI_VERSION, NOT_INITIALIZED, BridgePlugin, CNIError
from .ipam import HostLocalIPAM, IPAMError

__all__ = ["BridgePlugin", "CNIError", "CNI_VERSION", "HostLocalIPAM", "IPAMError", "NOT_INITIALIZED"]
