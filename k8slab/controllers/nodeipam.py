"""Mirrors: pkg/controller/nodeipam/ipam/range_allocator.go and pkg/controller/nodeipam/ipam/cidrset/cidr_set.go.

The node IPAM controller (``--allocate-node-cidrs=true``, as kubeadm sets it when a pod network CIDR is given)
gives every Node a slice of the cluster's pod network: ``spec.podCIDR``, a /24 out of ``--cluster-cidr`` by default.
The CNI plugin on the node then hands out pod IPs from that range. Subnets are taken in order; when none is left
the Node gets a ``CIDRNotAvailable`` event and keeps no podCIDR.
"""

from __future__ import annotations

import ipaddress

from ..api import errors
from .base import Controller


class CIDRSet:
    """cidrset.CidrSet: the subnets of one cluster CIDR, allocated in order from a moving candidate."""

    def __init__(self, cluster_cidr: str, node_mask_size: int) -> None:
        self.net = ipaddress.ip_network(cluster_cidr)
        if node_mask_size < self.net.prefixlen:
            raise ValueError("CIDRSet node mask is smaller than the cluster CIDR mask")
        self.node_mask_size = node_mask_size
        self.max_cidrs = 1 << (node_mask_size - self.net.prefixlen)
        self.used: set[int] = set()
        self.next_candidate = 0

    def _cidr(self, i: int) -> str:
        base = int(self.net.network_address) + (i << (self.net.max_prefixlen - self.node_mask_size))
        return f"{ipaddress.ip_address(base)}/{self.node_mask_size}"

    def allocate_next(self) -> str:
        if len(self.used) >= self.max_cidrs:
            raise RuntimeError("CIDR allocation failed; there are no remaining CIDRs left to allocate in the "
                               "accepted range")
        for j in range(self.max_cidrs):
            i = (self.next_candidate + j) % self.max_cidrs
            if i not in self.used:
                self.used.add(i)
                self.next_candidate = (i + 1) % self.max_cidrs
                return self._cidr(i)
        raise RuntimeError("CIDR allocation failed")

    def occupy(self, cidr: str) -> None:
        n = ipaddress.ip_network(cidr)
        i = (int(n.network_address) - int(self.net.network_address)) >> (self.net.max_prefixlen - self.node_mask_size)
        if 0 <= i < self.max_cidrs:
            self.used.add(i)

    def release(self, cidr: str) -> None:
        n = ipaddress.ip_network(cidr)
        i = (int(n.network_address) - int(self.net.network_address)) >> (self.net.max_prefixlen - self.node_mask_size)
        self.used.discard(i)


class NodeIpamController(Controller):
    NAME = "nodeipam"
    EVENT_SOURCE = "cidrAllocator"  # the range allocator's recorder
    RESOURCE = "nodes"

    def __init__(self, manager, client, cluster_cidr: str = "10.244.0.0/16", node_cidr_mask_size: int = 24) -> None:
        super().__init__(manager, client)
        self.cluster_cidr = cluster_cidr
        self.cidrs = CIDRSet(cluster_cidr, node_cidr_mask_size)
        self.node_informer = manager.factory.informer("nodes")
        self.node_informer.add_event_handler(self._add, lambda o, n: self._update(n), self._delete)

    def _add(self, node: dict) -> None:
        if node.get("spec", {}).get("podCIDR"):
            self.cidrs.occupy(node["spec"]["podCIDR"])
        else:
            self.enqueue(node)

    def _update(self, node: dict) -> None:
        if not node.get("spec", {}).get("podCIDR"):
            self.enqueue(node)

    def _delete(self, node: dict) -> None:
        if node.get("spec", {}).get("podCIDR"):
            self.cidrs.release(node["spec"]["podCIDR"])

    def sync_handler(self, key: str) -> None:
        """AllocateOrOccupyCIDR + updateCIDRsAllocation."""
        node = self.node_informer.get(key)
        if node is None or node.get("spec", {}).get("podCIDR"):
            return
        try:
            cidr = self.cidrs.allocate_next()
        except RuntimeError as e:
            # controllerutil.RecordNodeStatusChange, then the error the controller logs as
            # "Error while processing Node Add/Delete"
            self.recorder.event(node, "Warning", "CIDRNotAvailable", f"Node {key} status is now: CIDRNotAvailable")
            self.loop.emit(self.component, "nodeipam.error", f"nodes/{key}",
                           {"err": f"failed to allocate cidr from cluster cidr at idx:0: {e}"})
            return
        try:
            self.client.patch("nodes", key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.StatusError:
            self.cidrs.release(cidr)
            raise
