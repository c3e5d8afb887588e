"""Mirrors: etcd-io/etcd server/storage/mvcc/kvstore.go, kvstore_txn.go, watchable_store.go,
index.go, key_index.go; server/etcdserver/txn/txn.go; server/etcdserver/api/v3rpc/key.go;
api/etcdserverpb/rpc.proto (Compare); etcdctl/ctlv3/command/printer_simple.go, printer_json.go

etcd keeps every version of every key. Each write (a put, a delete, or a whole
transaction) creates one new *revision* of the store, numbered 2, 3, 4, ... (a fresh
etcd reports revision 1 before its first write). A key-value carries:

- ``create_revision``: the revision that created this incarnation of the key,
- ``mod_revision``: the revision of its last change (Kubernetes shows it as
  ``metadata.resourceVersion``),
- ``version``: how many times it was written since it was created (reset by a delete).

Older versions stay readable (``range(..., revision=r)``) until ``compact(r)``
discards them, and a watcher can start from a past revision and replay everything
since. The Kubernetes API server updates objects with a transaction "if the key's
mod_revision is still the one I read, put the new value" — optimistic concurrency.

The store is pure: no clock, no threads. Watch callbacks run synchronously after
each write, in revision order; lease expiry happens when the caller calls
``expire_leases(now_ms)``.
"""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

from .errors import (
    ErrCompacted,
    ErrDuplicateKey,
    ErrEmptyKey,
    ErrFutureRev,
    ErrLeaseNotFound,
    ErrTooManyOps,
)
from .lease import DEFAULT_MEMBER_ID, NO_LEASE, LeaseTimeToLive, Lessor

#: embed.DefaultMaxTxnOps: the most operations a txn branch (or its compares) may hold.
DEFAULT_MAX_TXN_OPS = 128

#: Cluster ID of a default single-member etcd, shown in response headers.
DEFAULT_CLUSTER_ID = 0xCDF818194E3A8C32


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class KeyValue:
    """mvccpb.KeyValue."""

    key: str
    create_revision: int
    mod_revision: int
    version: int
    value: str = ""
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """mvccpb.Event: ``type`` is "PUT" or "DELETE".

    For a DELETE, ``kv`` holds only the key and ``mod_revision`` = the deleting
    revision (create_revision and version are 0, value is empty), as etcd sends it.
    ``prev_kv`` is set only for watchers that asked for it.
    """

    type: str
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    revision: int
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class RangeResult:
    """RangeResponse: ``count`` is the number of keys in the range (ignoring limit)."""

    kvs: list[KeyValue]
    count: int
    more: bool
    revision: int


@dataclass(frozen=True, slots=True)
class DeleteResult:
    revision: int
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    responses: list
    revision: int


_RESULT_ALIASES = {"=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


@dataclass(frozen=True, slots=True)
class Compare:
    """etcdserverpb.Compare: ``target`` of ``key`` compared with ``value``.

    target: VERSION, CREATE, MOD, VALUE, LEASE. result: EQUAL, NOT_EQUAL, LESS, GREATER
    (clientv3's "=", "!=", "<", ">" are accepted too). A missing key compares as
    version/create/mod/lease 0; a VALUE compare on a missing key is always false.
    With ``range_end`` every key in the range must satisfy the comparison.
    """

    key: str
    target: str
    result: str
    value: int | str
    range_end: str | None = None

    VERSION: ClassVar[str] = "VERSION"
    CREATE: ClassVar[str] = "CREATE"
    MOD: ClassVar[str] = "MOD"
    VALUE: ClassVar[str] = "VALUE"
    LEASE: ClassVar[str] = "LEASE"
    EQUAL: ClassVar[str] = "EQUAL"
    NOT_EQUAL: ClassVar[str] = "NOT_EQUAL"
    LESS: ClassVar[str] = "LESS"
    GREATER: ClassVar[str] = "GREATER"

    def __post_init__(self):
        result = _RESULT_ALIASES.get(self.result, self.result)
        if result not in ("EQUAL", "NOT_EQUAL", "LESS", "GREATER"):
            raise ValueError(f"unknown compare result {self.result!r}")
        if self.target not in ("VERSION", "CREATE", "MOD", "VALUE", "LEASE"):
            raise ValueError(f"unknown compare target {self.target!r}")
        object.__setattr__(self, "result", result)

    def matches(self, kv: KeyValue | None) -> bool:
        """compareKV: does ``kv`` (None for a missing key) satisfy the comparison?"""
        t = self.target
        if t == "VALUE":
            a, b = (kv.value if kv else ""), self.value
        elif t == "MOD":
            a, b = (kv.mod_revision if kv else 0), self.value
        elif t == "VERSION":
            a, b = (kv.version if kv else 0), self.value
        elif t == "CREATE":
            a, b = (kv.create_revision if kv else 0), self.value
        else:
            a, b = (kv.lease if kv else 0), self.value
        r = self.result
        if r == "EQUAL":
            return a == b
        if r == "NOT_EQUAL":
            return a != b
        if r == "LESS":
            return a < b
        return a > b


@dataclass(frozen=True, slots=True)
class Op:
    """etcdserverpb.RequestOp: build with ``Op.put``, ``Op.get`` or ``Op.delete``."""

    type: str  # "put", "range", "delete_range"
    key: str
    value: str = ""
    lease: int = 0
    range_end: str | None = None
    revision: int = 0
    limit: int = 0
    keys_only: bool = False
    count_only: bool = False
    prev_kv: bool = False

    @staticmethod
    def put(key: str, value: str, lease: int = 0, prev_kv: bool = False) -> "Op":
        return Op("put", key, value=value, lease=lease, prev_kv=prev_kv)

    @staticmethod
    def get(key: str, range_end: str | None = None, revision: int = 0, limit: int = 0,
            keys_only: bool = False, count_only: bool = False) -> "Op":
        return Op("range", key, range_end=range_end, revision=revision, limit=limit,
                  keys_only=keys_only, count_only=count_only)

    @staticmethod
    def delete(key: str, range_end: str | None = None, prev_kv: bool = False) -> "Op":
        return Op("delete_range", key, range_end=range_end, prev_kv=prev_kv)


class CommandOutput(str):
    """Text a command line tool would print; shows as plain text in a notebook."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):  # IPython
        p.text(str(self))


def prefix_end(key: str) -> str:
    """clientv3.GetPrefixRangeEnd: the smallest key greater than every key with this prefix.

    Increments the last character that can be incremented and drops what follows;
    if there is none, returns "\\0" (meaning "every key >= key").
    """
    for i in range(len(key) - 1, -1, -1):
        c = ord(key[i])
        if c < 0x10FFFF:
            return key[:i] + chr(c + 1)
    return "\0"


def _in_range(k: str, key: str, end: str | None) -> bool:
    if end is None:
        return k == key
    if end == "":
        return k >= key
    return key <= k < end


def _norm_end(range_end: str | None) -> str | None:
    """None: the single key. "": every key >= key ("\\0" on the wire, mkGteRange)."""
    if not range_end:
        return None
    if range_end == "\0":
        return ""
    return range_end


class _Watcher:
    __slots__ = ("id", "key", "end", "callback", "prev_kv", "min_rev", "cancelled")

    def __init__(self, wid, key, end, callback, prev_kv, min_rev):
        self.id = wid
        self.key = key
        self.end = end
        self.callback = callback
        self.prev_kv = prev_kv
        self.min_rev = min_rev
        self.cancelled = False


# --------------------------------------------------------------------------- store


class MVCCStore:
    """etcd's watchable MVCC key-value store with its lessor.

    Per key, the history is two parallel lists (revisions, KeyValues); a delete is a
    tombstone KeyValue with version 0. The current values live in a dict, and two
    sorted key lists (keys alive now; keys with any stored history) serve range
    queries with bisect.
    """

    def __init__(self, *, member_id: int = DEFAULT_MEMBER_ID, cluster_id: int = DEFAULT_CLUSTER_ID,
                 raft_term: int = 2, min_lease_ttl: int | None = None,
                 max_txn_ops: int = DEFAULT_MAX_TXN_OPS):
        self._rev = 1  # currentRev: a new store is at revision 1
        self._compact_rev = -1  # compactMainRev: -1 until the first compaction
        self._live: dict[str, KeyValue] = {}
        self._live_keys: list[str] = []
        self._hist: dict[str, tuple[list[int], list[KeyValue]]] = {}
        self._all_keys: list[str] = []
        self._entries = 0
        self._log_revs: list[int] = []
        self._log_events: list[list[Event]] = []
        self._watchers: dict[int, _Watcher] = {}
        self._next_watch_id = 0
        self._pending: deque = deque()
        self._notifying = False
        self.lessor = Lessor(min_lease_ttl, member_id)
        self.member_id = member_id
        self.cluster_id = cluster_id
        self.raft_term = raft_term
        self.max_txn_ops = max_txn_ops

    # ------------------------------------------------------------------ revisions

    @property
    def revision(self) -> int:
        """The revision of the last completed write (1 for an empty store)."""
        return self._rev

    @property
    def compact_revision(self) -> int:
        """The revision of the last compaction; -1 if never compacted (as etcd)."""
        return self._compact_rev

    # ------------------------------------------------------------------ reads

    def range(self, key: str, range_end: str | None = None, revision: int = 0, limit: int = 0,
              keys_only: bool = False, count_only: bool = False) -> RangeResult:
        """Range: the key (or keys in [key, range_end)) at ``revision`` (0 = now)."""
        if not key:
            raise ErrEmptyKey()
        return self._range(key, range_end, revision, limit, keys_only, count_only, self._rev)

    def _range(self, key, range_end, revision, limit, keys_only, count_only, cur_rev):
        if revision > cur_rev:
            raise ErrFutureRev()
        if revision <= 0:
            revision = cur_rev
        if revision < self._compact_rev:
            raise ErrCompacted(self._compact_rev)
        end = _norm_end(range_end)
        if revision == cur_rev:
            if end is None:
                kv = self._live.get(key)
                kvs = [kv] if kv is not None else []
                count = len(kvs)
            else:
                keys = self._live_keys
                lo = bisect_left(keys, key)
                hi = len(keys) if end == "" else max(lo, bisect_left(keys, end))
                count = hi - lo
                if count_only:
                    return RangeResult([], count, False, cur_rev)
                n = count if limit <= 0 else min(limit, count)
                live = self._live
                kvs = [live[k] for k in keys[lo:lo + n]]
        else:
            kvs = self._range_at(key, end, revision)
            count = len(kvs)
            if limit > 0:
                kvs = kvs[:limit]
        if count_only:
            return RangeResult([], count, False, cur_rev)
        if keys_only:
            kvs = [KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version, "", kv.lease)
                   for kv in kvs]
        return RangeResult(kvs, count, 0 < limit < count, cur_rev)

    def _range_at(self, key: str, end: str | None, revision: int) -> list[KeyValue]:
        """Every key's version visible at a past revision (treeIndex.Revisions)."""
        if end is None:
            candidates = [key] if key in self._hist else []
        else:
            keys = self._all_keys
            lo = bisect_left(keys, key)
            hi = len(keys) if end == "" else max(lo, bisect_left(keys, end))
            candidates = keys[lo:hi]
        out = []
        for k in candidates:
            revs, kvs = self._hist[k]
            i = bisect_right(revs, revision) - 1
            if i >= 0 and kvs[i].version:
                out.append(kvs[i])
        return out

    def get(self, key: str) -> KeyValue | None:
        """The current KeyValue of ``key``, or None."""
        return self._live.get(key)

    def keys(self, prefix: str = "/") -> list[str]:
        """Current keys starting with ``prefix``, sorted (like ``etcdctl get --prefix --keys-only``)."""
        keys = self._live_keys
        lo = bisect_left(keys, prefix)
        if not prefix:
            return keys[:]
        end = prefix_end(prefix)
        hi = len(keys) if end == "\0" else bisect_left(keys, end)
        return keys[lo:hi]

    def history(self, key: str) -> list[dict]:
        """Every stored version of ``key``, oldest first (what compaction has not removed).

        Each row: type (PUT or DELETE), mod_revision, create_revision, version, lease, value.
        """
        h = self._hist.get(key)
        if h is None:
            return []
        return [{"type": "PUT" if kv.version else "DELETE", "mod_revision": kv.mod_revision,
                 "create_revision": kv.create_revision, "version": kv.version,
                 "lease": kv.lease, "value": kv.value} for kv in h[1]]

    def stats(self) -> dict:
        """Sizes: live keys, keys with history, stored versions, revision, compaction, watchers, leases."""
        return {
            "keys": len(self._live),
            "keys_with_history": len(self._hist),
            "history_entries": self._entries,
            "revision": self._rev,
            "compact_revision": self._compact_rev,
            "logged_revisions": len(self._log_revs),
            "watchers": len(self._watchers),
            "leases": len(self.lessor.leases),
        }

    # ------------------------------------------------------------------ writes

    def put(self, key: str, value: str, lease: int = 0, prev_kv: bool = False) -> PutResult:
        """Put: one new revision. ``prev_kv`` returns the value it replaced."""
        if not key:
            raise ErrEmptyKey()
        if lease != NO_LEASE and lease not in self.lessor.leases:
            raise ErrLeaseNotFound()
        rev = self._rev + 1
        ev = self._put(key, value, lease, rev)
        self._rev = rev
        self._commit(rev, [ev])
        return PutResult(rev, ev.prev_kv if prev_kv else None)

    def delete_range(self, key: str, range_end: str | None = None, prev_kv: bool = False) -> DeleteResult:
        """DeleteRange: deleting nothing creates no revision."""
        if not key:
            raise ErrEmptyKey()
        keys = self._live_range_keys(key, _norm_end(range_end))
        if not keys:
            return DeleteResult(self._rev, 0, [])
        rev = self._rev + 1
        events = self._delete_keys(keys, rev)
        self._rev = rev
        self._commit(rev, events)
        return DeleteResult(rev, len(events), [e.prev_kv for e in events] if prev_kv else [])

    def txn(self, compares: Sequence[Compare] = (), success: Sequence[Op] = (),
            failure: Sequence[Op] = ()) -> TxnResult:
        """Txn: if every compare holds run ``success`` else ``failure``, atomically.

        All writes of the txn share one new revision (events keep the ops' order);
        a txn that writes nothing does not change the revision. Reads inside the
        txn see its earlier writes. A branch may not put the same key twice or put
        a key it also deletes (ErrDuplicateKey).
        """
        if len(compares) == 1 and len(success) == 1 and not failure and self.max_txn_ops >= 1:
            c, op = compares[0], success[0]
            if op.type == "put" and op.lease == NO_LEASE and c.key and op.key and not c.range_end:
                return self._compare_and_put(c, op)
        self._check_txn_request(compares, success, failure)
        succeeded = all(self._compare(c) for c in compares)
        ops = success if succeeded else failure
        for op in ops:  # checkTxn: fail before writing anything
            if op.type == "range":
                if op.revision > self._rev:
                    raise ErrFutureRev()
                if 0 < op.revision < self._compact_rev:
                    raise ErrCompacted(self._compact_rev)
            elif op.type == "put" and op.lease != NO_LEASE and op.lease not in self.lessor.leases:
                raise ErrLeaseNotFound()
        begin = self._rev
        rev = begin + 1
        changes: list[Event] = []
        responses = []
        for op in ops:
            if op.type == "put":
                ev = self._put(op.key, op.value, op.lease, rev)
                changes.append(ev)
                responses.append(PutResult(rev, ev.prev_kv if op.prev_kv else None))
            elif op.type == "range":
                responses.append(self._range(op.key, op.range_end, op.revision, op.limit, op.keys_only,
                                             op.count_only, rev if changes else begin))
            else:
                keys = self._live_range_keys(op.key, _norm_end(op.range_end))
                evs = self._delete_keys(keys, rev)
                changes.extend(evs)
                responses.append(DeleteResult(rev if changes else begin, len(evs),
                                              [e.prev_kv for e in evs] if op.prev_kv else []))
        if not changes:
            return TxnResult(succeeded, responses, begin)
        self._rev = rev
        self._commit(rev, changes)
        return TxnResult(succeeded, responses, rev)

    def _compare_and_put(self, c: Compare, op: Op) -> TxnResult:
        """The txn every API server write sends (one compare of one key, one put without a lease; the failure
        branch empty): what the general path does for it, step for step, without its checks that cannot fail."""
        if not self._compare(c):
            return TxnResult(False, [], self._rev)
        rev = self._rev + 1
        ev = self._put(op.key, op.value, NO_LEASE, rev)
        self._rev = rev
        self._commit(rev, [ev])
        return TxnResult(True, [PutResult(rev, ev.prev_kv if op.prev_kv else None)], rev)

    def compact(self, revision: int) -> None:
        """Compact: forget versions older than ``revision``.

        Per key the newest version at or before ``revision`` survives (a tombstone
        older than ``revision`` goes, with its whole generation); later ones stay.
        Reads and watches from before ``revision`` then fail with ErrCompacted.
        """
        if revision <= self._compact_rev:
            raise ErrCompacted(self._compact_rev)
        if revision > self._rev:
            raise ErrFutureRev()
        self._compact_rev = revision
        entries = 0
        dead = []
        for k, (revs, kvs) in self._hist.items():
            i = bisect_right(revs, revision) - 1
            if i >= 0:
                if not kvs[i].version and revs[i] < revision:
                    i += 1  # tombstone before the compact revision: drop the generation
                if i > 0:
                    del revs[:i]
                    del kvs[:i]
                if not revs:
                    dead.append(k)
                    continue
            entries += len(revs)
        if dead:
            for k in dead:
                del self._hist[k]
            self._all_keys = sorted(self._hist)
        self._entries = entries
        i = bisect_left(self._log_revs, revision)
        del self._log_revs[:i]
        del self._log_events[:i]

    # ------------------------------------------------------------------ internals

    def _live_range_keys(self, key: str, end: str | None) -> list[str]:
        if end is None:
            return [key] if key in self._live else []
        keys = self._live_keys
        lo = bisect_left(keys, key)
        hi = len(keys) if end == "" else max(lo, bisect_left(keys, end))
        return keys[lo:hi]

    def _put(self, key: str, value: str, lease: int, rev: int) -> Event:
        prev = self._live.get(key)
        if prev is None:
            kv = KeyValue(key, rev, rev, 1, value, lease)
            insort(self._live_keys, key)
            h = self._hist.get(key)
            if h is None:
                h = self._hist[key] = ([], [])
                insort(self._all_keys, key)
            old_lease = NO_LEASE
        else:
            kv = KeyValue(key, prev.create_revision, rev, prev.version + 1, value, lease)
            h = self._hist[key]
            old_lease = prev.lease
        h[0].append(rev)
        h[1].append(kv)
        self._entries += 1
        self._live[key] = kv
        if old_lease != lease:
            leases = self.lessor.leases
            if old_lease != NO_LEASE and old_lease in leases:
                leases[old_lease].keys.discard(key)
            if lease != NO_LEASE:
                leases[lease].keys.add(key)
        return Event("PUT", kv, prev)

    def _delete_keys(self, keys: list[str], rev: int) -> list[Event]:
        """Delete sorted live keys; a run of neighbours leaves the sorted list in one slice."""
        events = [self._delete(k, rev, unlist=len(keys) == 1) for k in keys]
        if len(keys) > 1:
            live_keys = self._live_keys
            lo = bisect_left(live_keys, keys[0])
            if live_keys[lo:lo + len(keys)] == keys:
                del live_keys[lo:lo + len(keys)]
            else:
                gone = set(keys)
                live_keys[:] = [k for k in live_keys if k not in gone]
        return events

    def _delete(self, key: str, rev: int, unlist: bool = True) -> Event:
        prev = self._live.pop(key)
        if unlist:
            keys = self._live_keys
            del keys[bisect_left(keys, key)]
        tomb = KeyValue(key, 0, rev, 0, "", 0)
        h = self._hist[key]
        h[0].append(rev)
        h[1].append(tomb)
        self._entries += 1
        if prev.lease != NO_LEASE:
            lease = self.lessor.leases.get(prev.lease)
            if lease is not None:
                lease.keys.discard(key)
        return Event("DELETE", tomb, prev)

    def _compare(self, c: Compare) -> bool:
        """applyCompare: against the store as it is before the txn."""
        end = _norm_end(c.range_end)
        if end is None:
            kv = self._live.get(c.key)
            if kv is None:
                return c.target != "VALUE" and c.matches(None)
            return c.matches(kv)
        keys = self._live_range_keys(c.key, end)
        if not keys:
            return c.target != "VALUE" and c.matches(None)
        live = self._live
        return all(c.matches(live[k]) for k in keys)

    def _check_txn_request(self, compares, success, failure) -> None:
        """v3rpc checkTxnRequest + checkIntervals."""
        if max(len(compares), len(success), len(failure)) > self.max_txn_ops:
            raise ErrTooManyOps()
        for c in compares:
            if not c.key:
                raise ErrEmptyKey()
        for ops in (success, failure):
            for op in ops:
                if not op.key:
                    raise ErrEmptyKey()
            dels = [(op.key, _norm_end(op.range_end)) for op in ops if op.type == "delete_range"]
            puts = set()
            for op in ops:
                if op.type != "put":
                    continue
                if op.key in puts or any(_in_range(op.key, k, e) for k, e in dels):
                    raise ErrDuplicateKey()
                puts.add(op.key)

    # ------------------------------------------------------------------ watch

    def watch(self, key: str, range_end: str | None = None, start_revision: int = 0,
              callback: Callable[[list[Event]], None] | None = None, prev_kv: bool = False) -> int:
        """Watch a key (or range): ``callback(events)`` runs after each matching revision.

        ``start_revision`` 0 means "from the next write". A past ``start_revision``
        first replays, revision by revision, everything stored since then (inside
        this call); one older than the compact revision raises ErrCompacted, whose
        ``compact_revision`` tells where history now begins. Returns the watch ID.
        """
        if callback is None:
            raise TypeError("watch() needs a callback")
        end = _norm_end(range_end)
        wid = self._next_watch_id
        self._next_watch_id += 1
        synced = start_revision == 0 or start_revision > self._rev
        if synced:
            w = _Watcher(wid, key, end, callback, prev_kv, max(self._rev + 1, start_revision))
            self._watchers[wid] = w
            return wid
        if start_revision < self._compact_rev:
            raise ErrCompacted(self._compact_rev)
        # Unsynced: replay from the event log, then join the synced watchers.
        w = _Watcher(wid, key, end, callback, prev_kv, 1 << 62)
        self._watchers[wid] = w
        next_rev = start_revision
        while not w.cancelled:
            i = bisect_left(self._log_revs, next_rev)
            if i >= len(self._log_revs):
                break
            rev = self._log_revs[i]
            evs = self._match(w, self._log_events[i], None, replay=True)
            next_rev = rev + 1
            if evs:
                callback(evs)
        w.min_rev = max(next_rev, self._rev + 1)
        return wid

    def cancel_watch(self, watch_id: int) -> bool:
        """Stop a watch; returns whether it existed."""
        w = self._watchers.pop(watch_id, None)
        if w is None:
            return False
        w.cancelled = True
        return True

    def _commit(self, rev: int, events: list[Event]) -> None:
        self._log_revs.append(rev)
        self._log_events.append(events)
        if not self._watchers:
            return
        self._pending.append((rev, events))
        if self._notifying:
            return  # a callback wrote: its revision is delivered after this one
        self._notifying = True
        error = None
        try:
            while self._pending:
                rev, events = self._pending.popleft()
                stripped = None
                for w in list(self._watchers.values()):
                    if w.cancelled or rev < w.min_rev:
                        continue
                    w.min_rev = rev + 1
                    if not w.prev_kv and stripped is None:
                        stripped = [Event(e.type, e.kv) for e in events]
                    evs = self._match(w, events, stripped)
                    if evs:
                        try:
                            w.callback(evs)
                        except Exception as e:  # deliver to everyone, then raise
                            if error is None:
                                error = e
        finally:
            self._notifying = False
        if error is not None:
            raise error

    def _match(self, w: _Watcher, events: list[Event], stripped, replay: bool = False) -> list[Event]:
        key, end = w.key, w.end
        out = []
        for i, e in enumerate(events):
            k = e.kv.key
            if end is None:
                if k != key:
                    continue
            elif k < key or (end and k >= end):
                continue
            if w.prev_kv:
                if replay and e.prev_kv is not None and e.kv.mod_revision - 1 < self._compact_rev:
                    e = Event(e.type, e.kv)  # the previous version is compacted away
                out.append(e)
            elif stripped is not None:
                out.append(stripped[i])
            else:
                out.append(Event(e.type, e.kv) if e.prev_kv is not None else e)
        return out

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl_s: int, now_ms: int, lease_id: int | None = None) -> int:
        """LeaseGrant: a lease of ``ttl_s`` seconds (at least the minimum TTL, 2s by default)."""
        return self.lessor.grant(lease_id or NO_LEASE, ttl_s, now_ms).id

    def lease_keepalive(self, lease_id: int, now_ms: int) -> int:
        """LeaseKeepAlive: renew the lease for its full TTL; returns the TTL."""
        return self.lessor.renew(lease_id, now_ms)

    def lease_revoke(self, lease_id: int) -> int:
        """LeaseRevoke: drop the lease and delete its keys (sorted) in one revision."""
        lease = self.lessor.leases.pop(lease_id, None)
        if lease is None:
            raise ErrLeaseNotFound()
        keys = [k for k in sorted(lease.keys) if k in self._live]
        if not keys:
            return self._rev
        rev = self._rev + 1
        events = self._delete_keys(keys, rev)
        self._rev = rev
        self._commit(rev, events)
        return rev

    def lease_time_to_live(self, lease_id: int, now_ms: int, keys: bool = False) -> LeaseTimeToLive:
        """LeaseTimeToLive: remaining whole seconds (truncated); ttl -1 if the lease is gone."""
        lease = self.lessor.leases.get(lease_id)
        if lease is None:
            return LeaseTimeToLive(lease_id, -1, 0)
        ms = lease.remaining_ms(now_ms)
        ttl = ms // 1000 if ms >= 0 else -((-ms) // 1000)
        return LeaseTimeToLive(lease_id, ttl, lease.ttl, tuple(sorted(lease.keys)) if keys else ())

    def leases(self) -> list[int]:
        """IDs of the live leases (LeaseLeases), sorted."""
        return sorted(self.lessor.leases)

    def expire_leases(self, now_ms: int) -> list[int]:
        """Revoke every lease whose TTL has run out by ``now_ms``; returns their IDs.

        Each revoke is its own revision, in expiry order, as the leader proposes one
        LeaseRevoke per expired lease.
        """
        expired = self.lessor.find_expired(now_ms)
        for lease_id in expired:
            self.lease_revoke(lease_id)
        return expired

    def next_lease_expiry_ms(self) -> int | None:
        """When the next lease runs out (None if there are no leases)."""
        return self.lessor.next_expiry_ms()

    # ------------------------------------------------------------------ etcdctl

    def etcdctl_get(self, key: str, prefix: bool = False, keys_only: bool = False,
                    print_value_only: bool = False, write_out: str = "simple", rev: int = 0,
                    limit: int = 0) -> CommandOutput:
        """The text ``etcdctl get`` prints (``--prefix``, ``--keys-only``, ``--print-value-only``,
        ``-w simple|json``, ``--rev``, ``--limit``)."""
        range_end = None
        if prefix:
            if key == "":
                key, range_end = "\0", "\0"  # clientv3.WithPrefix on an empty key
            else:
                range_end = prefix_end(key)
        res = self._range(key, range_end, rev, limit, keys_only, False, self._rev)
        if write_out == "simple":
            lines = []
            for kv in res.kvs:
                if not print_value_only:
                    lines.append(kv.key)
                lines.append(kv.value)
            return CommandOutput("".join(line + "\n" for line in lines))
        if write_out == "json":
            return CommandOutput(self._json_range(res) + "\n")
        raise ValueError(f"unsupported output format {write_out!r}")

    def _json_range(self, res: RangeResult) -> str:
        """printJSON of a RangeResponse: protobuf field names, zero values omitted, bytes base64."""
        out: dict = {"header": self._header(res.revision)}
        if res.kvs:
            out["kvs"] = [_kv_json(kv) for kv in res.kvs]
        if res.more:
            out["more"] = True
        if res.count:
            out["count"] = res.count
        return json.dumps(out, separators=(",", ":"))

    def _header(self, revision: int) -> dict:
        h = {"cluster_id": self.cluster_id, "member_id": self.member_id, "revision": revision,
             "raft_term": self.raft_term}
        return {k: v for k, v in h.items() if v}


def _kv_json(kv: KeyValue) -> dict:
    d = {"key": base64.b64encode(kv.key.encode()).decode()}
    for name in ("create_revision", "mod_revision", "version"):
        v = getattr(kv, name)
        if v:
            d[name] = v
    if kv.value:
        d["value"] = base64.b64encode(kv.value.encode()).decode()
    if kv.lease:
        d["lease"] = kv.lease
    return d


__all__ = [
    "Compare", "CommandOutput", "DeleteResult", "Event", "KeyValue", "MVCCStore", "Op", "PutResult",
    "RangeResult", "TxnResult", "prefix_end",
]
