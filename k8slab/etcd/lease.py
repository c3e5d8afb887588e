"""Mirrors: etcd-io/etcd server/lease/lessor.go, server/lease/lease.go, pkg/idutil/id.go

Leases: a lease is a TTL (in seconds) that a client keeps alive. Keys written with
a lease are deleted when the lease is revoked, or when it expires because nobody
renewed it in time. Kubernetes uses leases for Events (so old Events vanish by
themselves) and the API server's endpoint reconciler.

This module is the bookkeeping half of etcd's lessor: lease IDs, TTLs, expiry times
and the set of attached keys. It is pure: time is the caller's ``now_ms``. The key
deletions on revoke are done by :class:`k8slab.etcd.mvcc.MVCCStore`, as etcd's lessor
calls back into the MVCC store through its ``RangeDeleter``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from .errors import ErrLeaseExist, ErrLeaseNotFound, ErrLeaseTTLTooLarge

#: lease.NoLease: the ID meaning "no lease".
NO_LEASE = 0

#: lease.MaxLeaseTTL (seconds); larger grants fail with ErrLeaseTTLTooLarge.
MAX_LEASE_TTL = 9_000_000_000

#: etcd defaults (server/embed/config.go): --heartbeat-interval=100ms, --election-timeout=1000ms.
DEFAULT_HEARTBEAT_MS = 100
DEFAULT_ELECTION_TICKS = 10

#: Unix time (ms) of the simulation epoch 2026-01-01T00:00:00Z, used to seed lease IDs.
EPOCH_UNIX_MS = 1_767_225_600_000

#: Member ID of a default single-member etcd (``etcd`` started with no flags). Its low
#: 16 bits (0x694d) prefix every ID that member generates, so lease IDs read 694d....
DEFAULT_MEMBER_ID = 0x8E9E05C52164694D


def min_lease_ttl(election_ticks: int = DEFAULT_ELECTION_TICKS,
                  heartbeat_ms: int = DEFAULT_HEARTBEAT_MS) -> int:
    """The shortest TTL etcd grants, in seconds (server/etcdserver/server.go).

    ``minTTL = ((3 * electionTicks) / 2) * heartbeat`` rounded up to whole seconds:
    a lease must outlive a leader election. With the defaults: 15 * 100ms -> 2s.
    """
    return math.ceil(((3 * election_ticks) // 2) * heartbeat_ms / 1000)


class IDGenerator:
    """pkg/idutil Generator: ``memberID(16 bits) | timestamp_ms(40 bits) | count(8 bits)``.

    etcd seeds the suffix from the wall clock when the server starts; here it is seeded
    from the simulation epoch so IDs are deterministic. (A real server also draws
    request IDs from the same generator, so its lease IDs are not consecutive.)
    """

    TS_LEN = 5 * 8
    CNT_LEN = 8
    SUFFIX_LEN = TS_LEN + CNT_LEN

    def __init__(self, member_id: int = DEFAULT_MEMBER_ID, now_unix_ms: int = EPOCH_UNIX_MS):
        self.prefix = (member_id & 0xFFFF) << self.SUFFIX_LEN
        self.suffix = (now_unix_ms & ((1 << self.TS_LEN) - 1)) << self.CNT_LEN

    def next(self) -> int:
        self.suffix += 1
        return self.prefix | (self.suffix & ((1 << self.SUFFIX_LEN) - 1))


@dataclass(eq=False)
class Lease:
    """lease.Lease: ID, granted TTL (s), expiry (virtual ms) and attached keys."""

    id: int
    ttl: int
    expiry_ms: int
    keys: set[str] = field(default_factory=set)

    def remaining_ms(self, now_ms: int) -> int:
        return self.expiry_ms - now_ms

    def expired(self, now_ms: int) -> bool:
        """``Remaining() <= 0``."""
        return self.expiry_ms <= now_ms


@dataclass(frozen=True, slots=True)
class LeaseTimeToLive:
    """LeaseTimeToLiveResponse: ``ttl`` is -1 for an unknown (expired) lease."""

    id: int
    ttl: int
    granted_ttl: int
    keys: tuple[str, ...] = ()


class Lessor:
    """The lease table (lessor.leaseMap) plus an expiry heap (LeaseExpiredNotifier)."""

    def __init__(self, min_ttl: int | None = None, member_id: int = DEFAULT_MEMBER_ID):
        self.min_ttl = min_lease_ttl() if min_ttl is None else min_ttl
        self.leases: dict[int, Lease] = {}
        self._ids = IDGenerator(member_id)
        self._heap: list[tuple[int, int]] = []  # (expiry_ms, lease id); stale entries skipped

    def grant(self, lease_id: int, ttl: int, now_ms: int) -> Lease:
        """Lessor.Grant: a TTL below the minimum is raised to it, silently."""
        if lease_id == NO_LEASE:
            # etcdserver.LeaseGrant: "r.ID = int64(s.reqIDGen.Next() & ((1 << 63) - 1))"
            lease_id = self._ids.next() & ((1 << 63) - 1)
            while lease_id in self.leases:
                lease_id = self._ids.next() & ((1 << 63) - 1)
        if ttl > MAX_LEASE_TTL:
            raise ErrLeaseTTLTooLarge()
        ttl = max(ttl, self.min_ttl)
        if lease_id in self.leases:
            raise ErrLeaseExist()
        lease = Lease(lease_id, ttl, now_ms + ttl * 1000)
        self.leases[lease_id] = lease
        heapq.heappush(self._heap, (lease.expiry_ms, lease_id))
        return lease

    def renew(self, lease_id: int, now_ms: int) -> int:
        """Lessor.Renew: push the expiry to now + TTL and return the TTL.

        An expired lease that is still waiting to be revoked cannot be renewed: etcd
        waits for the revoke and then answers "lease not found".
        """
        lease = self.leases.get(lease_id)
        if lease is None or lease.expired(now_ms):
            raise ErrLeaseNotFound()
        lease.expiry_ms = now_ms + lease.ttl * 1000
        heapq.heappush(self._heap, (lease.expiry_ms, lease_id))
        return lease.ttl

    def find_expired(self, now_ms: int) -> list[int]:
        """findExpiredLeases: IDs whose expiry has passed, earliest first."""
        out = []
        while self._heap and self._heap[0][0] <= now_ms:
            expiry, lease_id = heapq.heappop(self._heap)
            lease = self.leases.get(lease_id)
            if lease is not None and lease.expiry_ms == expiry:
                out.append(lease_id)
        return out

    def next_expiry_ms(self) -> int | None:
        """When the earliest live lease expires (for a caller scheduling expire_leases)."""
        while self._heap:
            expiry, lease_id = self._heap[0]
            lease = self.leases.get(lease_id)
            if lease is not None and lease.expiry_ms == expiry:
                return expiry
            heapq.heappop(self._heap)
        return None
