"""Mirrors: containernetworking/plugins (plugins/main/bridge, plugins/ipam/host-local).

Pod networking on a node: the container runtime calls the CNI plugin to give each pod sandbox a network
interface and an IP address from the node's podCIDR.
"""

from .bridge import CNI_VERSION, NOT_INITIALIZED, BridgePlugin, CNIError
from .ipam import HostLocalIPAM, IPAMError

__all__ = ["BridgePlugin", "CNIError", "CNI_VERSION", "HostLocalIPAM", "IPAMError", "NOT_INITIALIZED"]
