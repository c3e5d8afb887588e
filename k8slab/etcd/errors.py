"""Mirrors: etcd-io/etcd api/v3rpc/rpctypes/error.go, server/storage/mvcc/kvstore.go

Errors the etcd store raises, with the exact upstream messages. The two MVCC errors
keep the text of the mvcc package ("mvcc: required revision has been compacted");
over gRPC etcd prefixes them with "etcdserver: ", which :attr:`EtcdError.grpc_message`
gives.
"""

from __future__ import annotations


class EtcdError(Exception):
    """Base class; ``str(e)`` is the upstream message, ``code`` the gRPC status code."""

    message = "etcdserver: unknown error"
    code = "Unknown"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)

    @property
    def grpc_message(self) -> str:
        text = str(self)
        return text if text.startswith("etcdserver: ") else "etcdserver: " + text


class ErrCompacted(EtcdError):
    """The requested revision was removed by compaction.

    ``compact_revision`` is the store's compact revision, as etcd puts it in the
    WatchResponse (CompactRevision) that cancels a watch starting too far back.
    """

    message = "mvcc: required revision has been compacted"
    code = "OutOfRange"

    def __init__(self, compact_revision: int = 0):
        super().__init__()
        self.compact_revision = compact_revision


class ErrFutureRev(EtcdError):
    message = "mvcc: required revision is a future revision"
    code = "OutOfRange"


class ErrEmptyKey(EtcdError):
    message = "etcdserver: key is not provided"
    code = "InvalidArgument"


class ErrTooManyOps(EtcdError):
    message = "etcdserver: too many operations in txn request"
    code = "InvalidArgument"


class ErrDuplicateKey(EtcdError):
    message = "etcdserver: duplicate key given in txn request"
    code = "InvalidArgument"


class ErrLeaseNotFound(EtcdError):
    message = "etcdserver: requested lease not found"
    code = "NotFound"


class ErrLeaseExist(EtcdError):
    message = "etcdserver: lease already exists"
    code = "FailedPrecondition"


class ErrLeaseTTLTooLarge(EtcdError):
    message = "etcdserver: too large lease TTL"
    code = "OutOfRange"


class ErrTimeout(EtcdError):
    """A proposal that was not committed and applied within the request timeout (etcdserver ErrTimeout): what a
    client gets when the cluster has lost quorum. Whether the write happened is unknown: it may still commit."""

    message = "etcdserver: request timed out"
    code = "Unavailable"
