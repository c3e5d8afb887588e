"""Mirrors: pkg/proxy

kube-proxy's proxiers: they turn Services and EndpointSlices into kernel state, iptables rules
(``k8slab.proxy.iptables``) or IPVS virtual servers, ipsets and a few iptables rules (``k8slab.proxy.ipvs``, with
the kernel's schedulers in ``k8slab.proxy.ipvs_schedulers``). ``trace_packet`` follows a packet through either,
with conntrack (``k8slab.proxy.conntrack``, ``k8slab.proxy.trace``)."""

from k8slab.proxy import iptables, ipvs
from k8slab.proxy.iptables import Proxier as IptablesProxier
from k8slab.proxy.ipvs import IpvsProxier

__all__ = ["iptables", "ipvs", "IptablesProxier", "IpvsProxier"]
