"""Mirrors: net/netfilter/ipvs/ip_vs_rr.c, ip_vs_lc.c, ip_vs_dh.c, ip_vs_sh.c, ip_vs_sed.c, ip_vs_nq.c and the
helpers of include/net/ip_vs.h (ip_vs_dest_conn_overhead) and include/linux/hash.h (hash_32).

The six IPVS schedulers kube-proxy can be configured with (``--ipvs-scheduler``), as the kernel implements them.
Each scheduler sees the service's destination list in the kernel's order: ``__ip_vs_update_dest`` inserts a new
destination with ``list_add_rcu`` at the *head* of ``svc->destinations``, so the most recently added real server
comes first. ``ipvsadm -Ln`` sorts what it prints, so the list order is not what you see there.

A destination is never chosen while its weight is 0 ("quiesced", which is how kube-proxy's graceful termination
drains a removed endpoint). The ``IP_VS_DEST_F_OVERLOAD`` flag (upper connection thresholds) is not modelled:
kube-proxy never sets thresholds.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

__all__ = ["Dest", "hash_32", "ip_vs_dest_conn_overhead", "RoundRobin", "LeastConnection", "DestinationHashing",
           "SourceHashing", "ShortestExpectedDelay", "NeverQueue", "SCHEDULERS", "new_scheduler",
           "IP_VS_DH_TAB_BITS", "IP_VS_SH_TAB_BITS"]

GOLDEN_RATIO_32 = 0x61C88647
IP_VS_DH_TAB_BITS = 8          # CONFIG_IP_VS_DH_TAB_BITS
IP_VS_SH_TAB_BITS = 8          # CONFIG_IP_VS_SH_TAB_BITS


def hash_32(val: int, bits: int) -> int:
    """include/linux/hash.h: (val * GOLDEN_RATIO_32) >> (32 - bits), in 32-bit arithmetic."""
    return ((val * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


def _ip_int(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


class Dest:
    """struct ip_vs_dest: one real server of a virtual service, with its connection counters."""
    __slots__ = ("address", "port", "weight", "activeconns", "inactconns", "persistconns")

    def __init__(self, address: str, port: int, weight: int = 1) -> None:
        self.address, self.port, self.weight = address, int(port), int(weight)
        self.activeconns = 0
        self.inactconns = 0
        self.persistconns = 0

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def __repr__(self) -> str:
        return (f"<Dest {self.endpoint} weight {self.weight} active {self.activeconns} "
                f"inactive {self.inactconns}>")


def ip_vs_dest_conn_overhead(dest: Dest) -> int:
    """include/net/ip_vs.h: (activeconns << 8) + inactconns. (The comment in ip_vs_lc.c still says << 5.)"""
    return (dest.activeconns << 8) + dest.inactconns


class Scheduler:
    NAME = ""

    def update(self, dests: list) -> None:
        """add_dest / del_dest / upd_dest: the destination list or a weight changed."""

    def del_dest(self, dests: list, dest: Dest) -> None:
        """Called before ``dest`` is unlinked from ``dests``."""

    def schedule(self, dests: list, saddr: str, daddr: str, sport: int = 0) -> Optional[Dest]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.NAME


class RoundRobin(Scheduler):
    """ip_vs_rr.c: a cursor (``sched_data``) at the last destination chosen; scan on from it, circularly, for the
    next destination with weight > 0. Weights only matter as 0 / not 0 (that is ``wrr``'s job)."""
    NAME = "rr"

    def __init__(self) -> None:
        self.cursor: Optional[Dest] = None   # None: the list head (&svc->destinations)

    def del_dest(self, dests: list, dest: Dest) -> None:
        # ip_vs_rr_del_dest: a cursor on the removed entry moves to the entry before it (or the head).
        if self.cursor is dest:
            i = next(k for k, d in enumerate(dests) if d is dest)
            self.cursor = dests[i - 1] if i > 0 else None

    def schedule(self, dests, saddr, daddr, sport=0):
        start = -1
        if self.cursor is not None:
            start = next((k for k, d in enumerate(dests) if d is self.cursor), -1)
        order = list(range(start + 1, len(dests))) + (list(range(0, start + 1)) if start >= 0 else [])
        for k in order:
            if dests[k].weight > 0:
                self.cursor = dests[k]
                return dests[k]
        return None


class LeastConnection(Scheduler):
    """ip_vs_lc.c: the destination with the least overhead (active*256 + inactive); ties keep the earlier one."""
    NAME = "lc"

    def schedule(self, dests, saddr, daddr, sport=0):
        least, loh = None, 0
        for d in dests:
            if d.weight == 0:
                continue
            doh = ip_vs_dest_conn_overhead(d)
            if least is None or doh < loh:
                least, loh = d, doh
        return least


def _sed_overhead(d: Dest) -> int:
    """ip_vs_sed_dest_overhead / ip_vs_nq_dest_overhead: activeconns + 1 (inactive connections are ignored)."""
    return d.activeconns + 1


class ShortestExpectedDelay(Scheduler):
    """ip_vs_sed.c: minimise (active + 1) / weight, compared as loh * w_dest > doh * w_least; ties keep the
    earlier destination. The first available destination (weight > 0) is the starting point."""
    NAME = "sed"

    def schedule(self, dests, saddr, daddr, sport=0):
        start = next((k for k, d in enumerate(dests) if d.weight > 0), None)
        if start is None:
            return None
        least = dests[start]
        loh = _sed_overhead(least)
        for d in dests[start + 1:]:
            doh = _sed_overhead(d)
            if loh * d.weight > doh * least.weight:
                least, loh = d, doh
        return least


class NeverQueue(Scheduler):
    """ip_vs_nq.c: an idle destination (no active connections, weight > 0) is taken at once; otherwise as sed."""
    NAME = "nq"

    def schedule(self, dests, saddr, daddr, sport=0):
        least, loh = None, 0
        for d in dests:
            if d.weight == 0:
                continue
            doh = _sed_overhead(d)
            if d.activeconns == 0:
                return d
            if least is None or loh * d.weight > doh * least.weight:
                least, loh = d, doh
        return least


class DestinationHashing(Scheduler):
    """ip_vs_dh.c: 256 buckets filled round-robin over the destination list (weights ignored); the bucket is
    hash_32(ntohl(daddr), 8) of the packet's *destination* address. An unavailable bucket gives no destination."""
    NAME = "dh"

    def __init__(self) -> None:
        self.buckets: list = [None] * (1 << IP_VS_DH_TAB_BITS)

    def update(self, dests):
        # ip_vs_dh_reassign
        n = len(dests)
        self.buckets = [dests[i % n] if n else None for i in range(1 << IP_VS_DH_TAB_BITS)]

    @staticmethod
    def hashkey(daddr: str) -> int:
        return hash_32(_ip_int(daddr), IP_VS_DH_TAB_BITS)

    def schedule(self, dests, saddr, daddr, sport=0):
        d = self.buckets[self.hashkey(daddr)]
        if d is None or d.weight <= 0:
            return None
        return d


class SourceHashing(Scheduler):
    """ip_vs_sh.c: 256 buckets; each destination fills ``weight`` consecutive buckets before the next one (cycling
    through the list); the bucket is hash_32(ntohs(port) + ntohl(saddr), 8), port 0 unless the ``sh-port`` flag is
    set (kube-proxy does not set it). Without ``sh-fallback`` an unavailable bucket gives no destination."""
    NAME = "sh"

    def __init__(self, port: bool = False) -> None:
        self.buckets: list = [None] * (1 << IP_VS_SH_TAB_BITS)
        self.use_port = port

    def update(self, dests):
        # ip_vs_sh_reassign
        size = 1 << IP_VS_SH_TAB_BITS
        if not dests:
            self.buckets = [None] * size
            return
        buckets, j, d_count = [], 0, 0
        for _ in range(size):
            dest = dests[j]
            buckets.append(dest)
            d_count += 1
            if d_count >= dest.weight:
                j = (j + 1) % len(dests)
                d_count = 0
        self.buckets = buckets

    def hashkey(self, saddr: str, sport: int = 0) -> int:
        port = sport if self.use_port else 0
        return hash_32((port + _ip_int(saddr)) & 0xFFFFFFFF, IP_VS_SH_TAB_BITS)

    def schedule(self, dests, saddr, daddr, sport=0):
        d = self.buckets[self.hashkey(saddr, sport)]
        if d is None or d.weight <= 0:
            return None
        return d


SCHEDULERS = {cls.NAME: cls for cls in (RoundRobin, LeastConnection, DestinationHashing, SourceHashing,
                                        ShortestExpectedDelay, NeverQueue)}


def new_scheduler(name: str) -> Scheduler:
    try:
        return SCHEDULERS[name]()
    except KeyError:
        raise ValueError(f"IPVS scheduler {name!r} is not modelled; choose one of "
                         f"{', '.join(SCHEDULERS)}") from None
