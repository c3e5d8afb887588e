"""Mirrors: net/netfilter/nf_conntrack_core.c, nf_conntrack_proto_tcp.c, nf_conntrack_proto_udp.c (the kernel's
connection tracking that kube-proxy's NAT rules rely on) and pkg/proxy/conntrack (the timeouts kube-proxy sets).

Netfilter's nat table only sees the *first* packet of a connection. Its DNAT decision is stored in a conntrack
entry keyed by the original 5-tuple (protocol, source, source port, destination, destination port); every later
packet of the same flow is rewritten from that entry without walking the nat rules again. That is why an open
connection keeps its backend even when kube-proxy rewrites the rules, and why ``trace_packet`` reports a second
packet of the same 5-tuple as ``ESTABLISHED``.

Timeouts (virtual milliseconds): TCP established 86400 s (kube-proxy's ``conntrack.tcpEstablishedTimeout``
default, 24 h), TCP close-wait 3600 s (``conntrack.tcpCloseWaitTimeout``), UDP 30 s (the kernel's
``nf_conntrack_udp_timeout``; kube-proxy leaves it unless ``conntrack.udpTimeout`` is set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["ConntrackEntry", "Conntrack", "TCP_ESTABLISHED_TIMEOUT_S", "TCP_CLOSE_WAIT_TIMEOUT_S",
           "UDP_TIMEOUT_S", "EPHEMERAL_PORT_RANGE"]

TCP_ESTABLISHED_TIMEOUT_S = 86400
TCP_CLOSE_WAIT_TIMEOUT_S = 3600
UDP_TIMEOUT_S = 30
# net.ipv4.ip_local_port_range default: the source ports a client picks from.
EPHEMERAL_PORT_RANGE = (32768, 60999)


@dataclass
class ConntrackEntry:
    """One tracked flow: the original tuple and where NAT sent it (``conntrack -L`` shows the same fields)."""
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    reply_src: str          # the endpoint the reply comes from (after DNAT), or dst when not NATed
    reply_sport: int
    state: str              # ESTABLISHED / CLOSE_WAIT for TCP, "" for UDP
    expires_ms: int
    masqueraded: bool = False
    packets: int = 1

    @property
    def key(self) -> tuple:
        return (self.proto, self.src, self.sport, self.dst, self.dport)

    @property
    def dnat(self) -> Optional[str]:
        if (self.reply_src, self.reply_sport) == (self.dst, self.dport):
            return None
        return f"{self.reply_src}:{self.reply_sport}"

    def line(self, remaining_s: int) -> str:
        """One line of ``conntrack -L``."""
        p = self.proto.lower()
        num = {"tcp": 6, "udp": 17, "sctp": 132}.get(p, 0)
        return (f"{p:<7} {num} {remaining_s} {self.state + ' ' if self.state else ''}"
                f"src={self.src} dst={self.dst} sport={self.sport} dport={self.dport} "
                f"src={self.reply_src} dst={self.src} sport={self.reply_sport} dport={self.sport}"
                + (" [ASSURED]" if self.packets > 1 else ""))


class Conntrack:
    """The node's conntrack table (``conntrack -L``), with expiry in virtual time."""

    def __init__(self) -> None:
        self._entries: dict = {}
        self._next_port = EPHEMERAL_PORT_RANGE[0]

    @staticmethod
    def timeout_ms(proto: str, state: str = "ESTABLISHED") -> int:
        if proto.upper() == "UDP":
            return UDP_TIMEOUT_S * 1000
        if state == "CLOSE_WAIT":
            return TCP_CLOSE_WAIT_TIMEOUT_S * 1000
        return TCP_ESTABLISHED_TIMEOUT_S * 1000

    def ephemeral_port(self) -> int:
        """The next source port a client would use (sequential, so runs are reproducible)."""
        port = self._next_port
        lo, hi = EPHEMERAL_PORT_RANGE
        self._next_port = lo if port >= hi else port + 1
        return port

    def expire(self, now_ms: int) -> int:
        dead = [k for k, e in self._entries.items() if e.expires_ms <= now_ms]
        for k in dead:
            del self._entries[k]
        return len(dead)

    def lookup(self, proto: str, src: str, sport: int, dst: str, dport: int, now_ms: int):
        e = self._entries.get((proto.upper(), src, sport, dst, dport))
        if e is None:
            return None
        if e.expires_ms <= now_ms:
            del self._entries[e.key]
            return None
        e.packets += 1
        e.expires_ms = now_ms + self.timeout_ms(e.proto, e.state)
        return e

    def add(self, proto: str, src: str, sport: int, dst: str, dport: int, dnat: Optional[str], now_ms: int,
            masqueraded: bool = False) -> ConntrackEntry:
        proto = proto.upper()
        if dnat:
            ip, _, port = dnat.rpartition(":")
            reply = (ip, int(port))
        else:
            reply = (dst, dport)
        state = "ESTABLISHED" if proto == "TCP" else ""
        e = ConntrackEntry(proto, src, sport, dst, dport, reply[0], reply[1], state,
                           now_ms + self.timeout_ms(proto, state), masqueraded)
        self._entries[e.key] = e
        return e

    def close(self, proto: str, src: str, sport: int, dst: str, dport: int, now_ms: int) -> bool:
        """The client closed a TCP flow: the entry moves to CLOSE_WAIT with its shorter timeout."""
        e = self._entries.get((proto.upper(), src, sport, dst, dport))
        if e is None or e.proto != "TCP":
            return False
        e.state = "CLOSE_WAIT"
        e.expires_ms = now_ms + self.timeout_ms("TCP", "CLOSE_WAIT")
        return True

    def flush(self) -> None:
        self._entries.clear()

    def entries(self, now_ms: Optional[int] = None) -> list:
        if now_ms is not None:
            self.expire(now_ms)
        return sorted(self._entries.values(), key=lambda e: e.key)

    def __len__(self) -> int:
        return len(self._entries)

    def listing(self, now_ms: int) -> str:
        """``conntrack -L`` style text (the timeout column counts down in seconds)."""
        return "\n".join(e.line(max(0, (e.expires_ms - now_ms) // 1000)) for e in self.entries(now_ms))
