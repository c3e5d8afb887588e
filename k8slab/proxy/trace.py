"""Mirrors: the netfilter hook order of net/ipv4 (PREROUTING/OUTPUT -> routing -> INPUT/FORWARD -> POSTROUTING)
as kube-proxy's rules use it, with the conntrack lookup of net/netfilter/nf_conntrack_core.c in front.

``trace_packet`` follows one packet of a flow through a node's kube-proxy state:

* a packet whose 5-tuple is already in conntrack is ``ESTABLISHED``: the nat table is skipped and the stored
  DNAT is applied, so the flow keeps its backend;
* otherwise it is ``NEW``: in iptables mode it walks nat PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC/SVL/EXT/
  FW -> KUBE-SEP rule by rule (``-m statistic --mode random`` drawn from the proxy's seeded rng, ``-m recent`` in
  virtual time); in IPVS mode it meets the few ipset-based rules and then the IPVS hash lookup and scheduler.

The result lists every rule evaluated as ``(chain, rule text, matched?)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

__all__ = ["PacketTrace"]


@dataclass
class PacketTrace:
    """What happened to one packet on one node."""
    node: str
    mode: str                       # "iptables" or "ipvs"
    src: str
    sport: int
    dst: str
    dport: int
    proto: str
    hook: str                       # "PREROUTING" (from a pod or another host) or "OUTPUT" (from the node)
    conntrack: str = "NEW"          # "NEW" or "ESTABLISHED"
    path: list = field(default_factory=list)      # Step(chain, rule, matched, table) per rule evaluated
    chains: list = field(default_factory=list)    # chains entered, in order
    dnat: Optional[str] = None      # "ip:port" the destination was rewritten to
    verdict: str = "ACCEPT"         # ACCEPT, REJECT or DROP
    masqueraded: bool = False       # source NAT in POSTROUTING (KUBE-MARK-MASQ mark or KUBE-LOOP-BACK)
    sep_chain: Optional[str] = None         # iptables: the KUBE-SEP chain that did the DNAT
    virtual_server: Optional[str] = None    # ipvs: "TCP 10.96.0.10:53"
    scheduler: Optional[str] = None         # ipvs: the scheduler that picked the real server
    lookups: int = 0                # ipvs: hash-table lookups (connection table, service table)
    reason: str = ""                # why a packet was rejected or dropped

    @property
    def rules_evaluated(self) -> int:
        """iptables rules evaluated (the IPVS lookups are counted in ``lookups``)."""
        return sum(1 for s in self.path if s.table != "ipvs")

    @property
    def endpoint(self) -> Optional[str]:
        return self.dnat

    @property
    def matched_service(self) -> bool:
        return self.dnat is not None or self.verdict in ("REJECT", "DROP")

    @property
    def five_tuple(self) -> tuple:
        return (self.proto, self.src, self.sport, self.dst, self.dport)

    def summary(self) -> str:
        head = (f"{self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport} on {self.node} "
                f"({self.mode}, {self.hook}, conntrack {self.conntrack})")
        if self.verdict != "ACCEPT":
            tail = f"{self.verdict}" + (f": {self.reason}" if self.reason else "")
        elif self.dnat:
            tail = f"DNAT to {self.dnat}" + (" via " + self.sep_chain if self.sep_chain else "") + \
                   (f" (IPVS {self.virtual_server} {self.scheduler})" if self.virtual_server else "") + \
                   (", masqueraded" if self.masqueraded else "")
        else:
            tail = "ACCEPT (no service matched)"
        return f"{head}: {tail}; {self.rules_evaluated} rules evaluated"

    def __repr__(self) -> str:
        lines = [self.summary()]
        for s in self.path:
            lines.append(f"  {'+' if s.matched else '-'} [{s.table}] {s.rule}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def to_rows(self) -> list:
        """One dict per rule evaluated (for a DataFrame)."""
        return [{"table": s.table, "chain": s.chain, "rule": s.rule, "matched": s.matched} for s in self.path]
