"""Mirrors: pkg/proxy

kube-proxy's proxiers: they turn Services and EndpointSlices into kernel state, iptables rules
(``k8slab.proxy.iptables``) or IPVS virtual servers, ipsets and a few iptables rules (``k8slab.proxy.ipvs``, with
the kernel's schedulers in ``k8slab.proxy.ipvs_schedulers``). ``trace_packet`` follows a packet through either,
with conntrack (``k8slab.proxy.conntrack``, ``k8slab.proxy.trace``)."""

from k8slab.proxy import iptables
from k8slab.proxy.iptables import Proxier as IptablesProxier

__all__ = ["iptables", "ipvs", "IptablesProxier", "IpvsProxier"]


def __getattr__(name):
    # IPVS mode is loaded when first used, so that ``import k8slab`` stays fast.
    if name in ("ipvs", "IpvsProxier"):
        from k8slab.proxy import ipvs

        return ipvs if name == "ipvs" else ipvs.IpvsProxier
    raise AttributeError(f"module 'k8slab.proxy' has no attribute {name!r}")
