"""Mirrors: etcd-io/etcd tests/robustness/validate (which checks histories with anishathalye/porcupine), after
Wing & Gong's linearizability search with Lowe's memoization

A history is linearizable if every operation can be given a single instant between its call and its return such
that, in that order, the operations are a correct sequential run of the model. Here the model is a key-value
store: ``put(key, value)`` and ``get(key) -> value`` (None when the key is absent). An operation whose outcome the
client never learned (a write that timed out) has ``ret = inf``: it may have happened at any time after its call,
or not at all.

The check is per key (a KV history is linearizable iff each key's is: P-compositionality), and per key it is a
depth-first search over which pending operation to linearize next, with a cache of (set of linearized operations,
model state) pairs already explored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INF = math.inf


@dataclass
class Operation:
    client: int
    kind: str  # "put" or "get"
    key: str
    value: object = None  # the value written (put) or read (get; None if absent)
    call: float = 0
    ret: float = INF  # INF: outcome unknown
    id: int = field(default=0, compare=False)

    def __repr__(self) -> str:
        ret = "?" if self.ret == INF else self.ret
        verb = f"put({self.key}={self.value!r})" if self.kind == "put" else f"get({self.key})->{self.value!r}"
        return f"c{self.client} {verb} [{self.call}, {ret}]"


@dataclass
class CheckResult:
    ok: bool
    key: str | None = None  # the first key whose history is not linearizable
    ops: list = field(default_factory=list)  # that key's operations

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return "CheckResult(Ok: linearizable)"
        return f"CheckResult(Illegal: key {self.key!r} is not linearizable: {self.ops})"


def _step(state, op):
    if op.kind == "put":
        return True, op.value
    return op.value == state, state


class _Node:
    __slots__ = ("op", "idx", "is_call", "match", "prev", "next")

    def __init__(self, op, idx, is_call):
        self.op, self.idx, self.is_call = op, idx, is_call
        self.match = self.prev = self.next = None


def check_operations(ops: list[Operation], init=None) -> bool:
    """Is this history of one key linearizable, starting from ``init``?"""
    if not ops:
        return True
    events = []
    for i, op in enumerate(ops):
        c, r = _Node(op, i, True), _Node(op, i, False)
        c.match = r
        events.append((op.call, 0, i, c))
        events.append((op.ret, 1, i, r))  # at equal times calls come first: such operations overlap
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = _Node(None, -1, False)
    prev = head
    for _, _, _, node in events:
        prev.next = node
        node.prev = prev
        prev = node

    def lift(c):
        c.prev.next = c.next
        if c.next:
            c.next.prev = c.prev
        r = c.match
        r.prev.next = r.next
        if r.next:
            r.next.prev = r.prev

    def unlift(c):
        r = c.match
        r.prev.next = r
        if r.next:
            r.next.prev = r
        c.prev.next = c
        if c.next:
            c.next.prev = c

    state = init
    linearized = 0
    cache = {(0, init)}
    calls = []
    entry = head.next
    while head.next is not None:
        if entry.is_call:
            ok, new_state = _step(state, entry.op)
            if ok:
                new_lin = linearized | (1 << entry.idx)
                key = (new_lin, new_state)
                if key not in cache:
                    cache.add(key)
                    calls.append((entry, state))
                    state = new_state
                    linearized = new_lin
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # a return reached with its call not linearized: backtrack
            if not calls:
                return False
            entry, state = calls.pop()
            linearized &= ~(1 << entry.idx)
            unlift(entry)
            entry = entry.next
    return True


def check_history(ops: list[Operation], init=None) -> CheckResult:
    """Check a whole KV history, key by key."""
    by_key: dict[str, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    for key in sorted(by_key):
        if not check_operations(by_key[key], init):
            return CheckResult(False, key, sorted(by_key[key], key=lambda o: o.call))
    return CheckResult(True)
