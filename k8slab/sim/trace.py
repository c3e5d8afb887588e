"""Mirrors: (no upstream file) the record of everything the simulated cluster did.

Each step of the event loop appends typed, frozen :class:`TraceEvent` records. An event names the component that
acted, what kind of thing happened, the object it concerned, and the event that caused it, so a view can follow a
request's whole journey: apply -> etcd put -> watch -> workqueue -> reconcile -> bind -> CRI.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple


class TraceEvent(NamedTuple):
    """One thing a component did at one virtual instant (immutable)."""

    seq: int
    time: int  # virtual milliseconds
    step: int  # the loop step during which it happened (0 for synchronous calls outside a step)
    component: str  # e.g. "kube-apiserver", "kubelet/node-1"
    kind: str  # e.g. "request", "authn", "etcd.put", "watch", "reconcile", "bind", "cri.StartContainer"
    ref: str = ""  # object reference, e.g. "pods/default/web-7c5d-x2x"
    data: Any = None
    cause: int | None = None  # seq of the event that caused this one
    target: str = ""  # the component acted upon (e.g. "etcd", "containerd/node-1"), for drawing paths

    def as_dict(self) -> dict:
        return self._asdict()


_new_event = tuple.__new__


class Trace:
    """An append-only list of :class:`TraceEvent` with a few ways to look at it."""

    def __init__(self, enabled: bool = True, keep: int | None = None) -> None:
        self._events: list[TraceEvent] = []
        self.enabled = enabled
        self.keep = keep  # keep only the newest N events (None: all)
        self._seq = 0
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._events)

    def __getitem__(self, i):
        return self._events[i]

    @property
    def last_seq(self) -> int:
        return self._seq

    def record(self, time: int, step: int, component: str, kind: str, ref: str = "", data: Any = None,
               cause: int | None = None, target: str = "") -> int:
        """Append an event and return its sequence number (returns 0 and stores nothing when disabled)."""
        if not self.enabled:
            return 0
        seq = self._seq = self._seq + 1
        # tuple.__new__ directly: the same TraceEvent, without the Python-level __new__ NamedTuple generates
        self._events.append(_new_event(TraceEvent, (seq, time, step, component, kind, ref, data, cause, target)))
        if self.keep is not None and len(self._events) > 2 * self.keep:
            drop = len(self._events) - self.keep
            self._dropped += drop
            del self._events[:drop]
        return seq

    def by_seq(self, seq: int) -> TraceEvent | None:
        if not self._events:
            return None
        i = seq - self._events[0].seq
        if 0 <= i < len(self._events) and self._events[i].seq == seq:
            return self._events[i]
        return None

    def since(self, seq: int) -> list[TraceEvent]:
        """Events with a sequence number greater than ``seq``."""
        if not self._events:
            return []
        start = max(0, seq - self._events[0].seq + 1)
        return self._events[start:]

    def for_step(self, step: int) -> list[TraceEvent]:
        out = []
        for ev in reversed(self._events):
            if ev.step < step:
                break
            if ev.step == step:
                out.append(ev)
        out.reverse()
        return out

    def chain(self, seq: int) -> list[TraceEvent]:
        """The causal chain that led to event ``seq``, oldest first."""
        out = []
        ev = self.by_seq(seq)
        while ev is not None:
            out.append(ev)
            ev = self.by_seq(ev.cause) if ev.cause else None
        out.reverse()
        return out

    def journey(self, ref: str) -> list[TraceEvent]:
        """Every event about the object ``ref`` (e.g. "deployments/default/web") and everything it caused."""
        roots = {ev.seq for ev in self._events if ev.ref == ref}
        out = []
        caused = set(roots)
        for ev in self._events:
            if ev.seq in roots or (ev.cause is not None and ev.cause in caused):
                caused.add(ev.seq)
                out.append(ev)
        return out

    def filter(self, component: str | None = None, kind: str | None = None, ref: str | None = None) -> list[TraceEvent]:
        out = []
        for ev in self._events:
            if component is not None and not ev.component.startswith(component):
                continue
            if kind is not None and not ev.kind.startswith(kind):
                continue
            if ref is not None and ev.ref != ref:
                continue
            out.append(ev)
        return out

    def to_dataframe(self, events=None):
        """The trace (or ``events``) as a pandas DataFrame, one row per event."""
        import pandas as pd

        rows = [ev.as_dict() for ev in (self._events if events is None else events)]
        cols = ["seq", "time", "step", "component", "kind", "ref", "target", "cause", "data"]
        return pd.DataFrame(rows, columns=cols).set_index("seq")

    def fingerprint(self) -> str:
        """A digest of the whole trace: equal for equal runs."""
        import hashlib

        h = hashlib.sha256()
        for ev in self._events:
            h.update(repr((ev.seq, ev.time, ev.step, ev.component, ev.kind, ev.ref, ev.target, ev.cause,
                           _stable(ev.data))).encode())
        return h.hexdigest()


def _stable(data):
    if isinstance(data, dict):
        return tuple((k, _stable(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return tuple(_stable(v) for v in data)
    return data
