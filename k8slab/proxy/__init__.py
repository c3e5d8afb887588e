"""Mirrors: pkg/proxy

kube-proxy's proxiers: they turn Services and EndpointSlices into kernel rules (iptables mode in
``k8slab.proxy.iptables``)."""

from k8slab.proxy import iptables
from k8slab.proxy.iptables import Proxier as IptablesProxier

__all__ = ["iptables", "IptablesProxier"]
