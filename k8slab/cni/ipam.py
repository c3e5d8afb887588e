"""Mirrors: containernetworking/plugins plugins/ipam/host-local (backend/allocator/allocator.go, range.go,
range_set.go, backend/disk/backend.go).

host-local IPAM: hands out pod IPs from one node's podCIDR. The range starts at the first address after the
network address (``.1``) and ends before the broadcast address (``.254`` for a /24); the gateway (the bridge,
``.1`` by default) is inside the range but always skipped. Allocation is round-robin: the search starts after the
*last reserved* address, so a released IP is not handed out again until the whole range has been used once.
Reservations are files named after the IP in ``/var/lib/cni/networks/<network>/``; here they are a dict.
"""

from __future__ import annotations

import ipaddress


class IPAMError(Exception):
    """An error the host-local plugin returns (its text is what containerd and the kubelet report)."""


class HostLocalIPAM:
    """host-local allocator for one IPv4 range (``subnet``)."""

    def __init__(self, subnet: str, range_start: str | None = None, range_end: str | None = None,
                 gateway: str | None = None, network: str = "cbr0") -> None:
        net = ipaddress.ip_network(subnet, strict=False)
        if net.prefixlen > net.max_prefixlen - 2:
            raise IPAMError(f"Network {net} too small to allocate from")  # Range.Canonicalize
        self.subnet = net
        self.network = network
        first = int(net.network_address) + 1
        last = int(net.broadcast_address) - 1  # lastIP: the broadcast address is excluded for IPv4
        self.gateway = ipaddress.ip_address(gateway) if gateway else ipaddress.ip_address(first)
        self.range_start = ipaddress.ip_address(range_start) if range_start else ipaddress.ip_address(first)
        self.range_end = ipaddress.ip_address(range_end) if range_end else ipaddress.ip_address(last)
        self.reserved: dict[str, tuple[str, str]] = {}  # ip -> (container id, ifname): the store's files
        self.last_reserved_ip: str | None = None  # the "last_reserved_ip.0" file

    # -- RangeSet.String ---------------------------------------------------------------------------------------
    def range_set_string(self) -> str:
        return f"{self.range_start}-{self.range_end}"

    @property
    def prefix_len(self) -> int:
        return self.subnet.prefixlen

    def _iter(self):
        """RangeIter: round-robin from the last reserved IP + 1 (or from rangeStart), skipping the gateway."""
        lo, hi = int(self.range_start), int(self.range_end)
        size = hi - lo + 1
        if self.last_reserved_ip is not None and lo <= int(ipaddress.ip_address(self.last_reserved_ip)) <= hi:
            start = int(ipaddress.ip_address(self.last_reserved_ip)) + 1
        else:
            start = lo
        for i in range(size):
            cur = lo + (start - lo + i) % size
            if cur == int(self.gateway):
                continue
            yield ipaddress.ip_address(cur)

    def allocate(self, container_id: str, ifname: str = "eth0") -> dict:
        """IPAllocator.Get: reserve the next free IP; returns ``{"address": "10.244.1.2/24", "gateway": ...}``."""
        for ip, owner in self.reserved.items():
            if owner == (container_id, ifname):
                raise IPAMError(f"{ip} has been allocated to {container_id}, duplicate allocation is not allowed")
        for ip in self._iter():
            s = str(ip)
            if s not in self.reserved:
                self.reserved[s] = (container_id, ifname)
                self.last_reserved_ip = s
                return {"address": f"{s}/{self.prefix_len}", "gateway": str(self.gateway)}
        raise IPAMError(f"no IP addresses available in range set: {self.range_set_string()}")

    def release(self, container_id: str, ifname: str = "eth0") -> list[str]:
        """IPAllocator.Release (ReleaseByID): free every IP held by the container; returns them."""
        freed = [ip for ip, owner in self.reserved.items() if owner == (container_id, ifname)]
        for ip in freed:
            del self.reserved[ip]
        return freed

    def allocated(self) -> dict[str, str]:
        """``{ip: container id}`` of every reservation, in address order."""
        return {ip: self.reserved[ip][0] for ip in sorted(self.reserved, key=lambda s: int(ipaddress.ip_address(s)))}

    def __repr__(self) -> str:
        return f"HostLocalIPAM({self.subnet}, {len(self.reserved)} allocated)"
