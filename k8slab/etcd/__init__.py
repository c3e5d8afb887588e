"""Mirrors: etcd-io/etcd server/storage/mvcc, server/lease

The etcd v3 key-value store that the API server writes every object to: an MVCC
store with revisions, transactions, watches, compaction and leases. See
:mod:`k8slab.etcd.mvcc` for how revisions work.
"""

from .errors import (
    ErrCompacted,
    ErrDuplicateKey,
    ErrEmptyKey,
    ErrFutureRev,
    ErrLeaseExist,
    ErrLeaseNotFound,
    ErrLeaseTTLTooLarge,
    ErrTimeout,
    ErrTooManyOps,
    EtcdError,
)
from .lease import MAX_LEASE_TTL, LeaseTimeToLive, min_lease_ttl
from .mvcc import (
    CommandOutput,
    Compare,
    DeleteResult,
    Event,
    KeyValue,
    MVCCStore,
    Op,
    PutResult,
    RangeResult,
    TxnResult,
    prefix_end,
)

__all__ = [
    "CommandOutput", "Compare", "DeleteResult", "ErrCompacted", "ErrDuplicateKey", "ErrEmptyKey",
    "ErrFutureRev", "ErrLeaseExist", "ErrLeaseNotFound", "ErrLeaseTTLTooLarge", "ErrTimeout", "ErrTooManyOps",
    "EtcdError", "Event", "KeyValue", "LeaseTimeToLive", "MAX_LEASE_TTL", "MVCCStore", "Op",
    "PutResult", "RangeResult", "TxnResult", "min_lease_ttl", "prefix_end",
]
