"""Mirrors: (no upstream file) the event loop that stands in for every goroutine of a real cluster.

Real components run concurrently and react to watch events, timers and responses. Here one loop holds a heap of
pending callbacks ordered by ``(time, sequence)``: ``step()`` pops the next one, advances the virtual clock to its
time and runs it. Nothing else runs between steps, so the state after any step can be inspected, and the same
inputs always produce the same sequence of steps.

Periodic housekeeping (lease renewals, resyncs) is scheduled as *background* work: ``settle()`` runs until only
background work is left.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
from typing import Any, Callable

from .trace import Trace


class Timer:
    """A pending callback; ``cancel()`` removes it (lazily) from the heap."""

    __slots__ = ("time", "seq", "fn", "args", "component", "label", "background", "cause", "cancelled", "_loop")

    def __init__(self, loop, time, seq, fn, args, component, label, background, cause):
        self._loop = loop
        self.time = time
        self.seq = seq
        self.fn = fn
        self.args = args
        self.component = component
        self.label = label
        self.background = background
        self.cause = cause
        self.cancelled = False

    def __lt__(self, other: "Timer") -> bool:
        return (self.time, self.seq) < (other.time, other.seq)

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if not self.background:
                self._loop._foreground -= 1

    def __repr__(self) -> str:
        return f"Timer(t={self.time}ms, {self.component}: {self.label})"


# how many tracked objects the batches of steps have added since the last full collection (the youngest
# generation's count at each batch's end), and how many objects that collection left
_gc_growth = {"added": 0, "after_full_collection": 0}


@contextlib.contextmanager
def _batch_gc():
    """While many steps run, Python's cycle collector is paused, and what the steps allocated is then handed
    to the oldest generation without being walked.

    The model's objects are freed by reference counting (its steps leave next to no cyclic garbage), but the
    collector would walk every object that survives, young and middle-aged, again and again as the cluster grows:
    a third of a large settle's time. Pausing it and moving the survivors straight to the oldest generation
    (``gc.freeze`` then ``gc.unfreeze``) leaves them to full collections: :func:`collect_if_grown` runs one when
    the batches have about doubled the heap since the last, which frees whole clusters that were let go. A running
    cluster leaves no cyclic garbage of its own (tests/test_sim_gc.py checks it), so waiting for the next
    simulation loses nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _gc_growth["added"] += gc.get_count()[0]
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def collect_if_grown() -> None:
    """A full collection if the batches of steps have added at least as many objects as the last one left
    (called when a new simulation starts, the moment old ones have usually been let go). Like Python's own rule for
    full collections, this walks each object a bounded number of times overall."""
    if _gc_growth["added"] > _gc_growth["after_full_collection"] + 100_000:
        gc.collect()
        _gc_growth["added"] = 0
        _gc_growth["after_full_collection"] = len(gc.get_objects())


class SettleTimeout(RuntimeError):
    """Raised when ``settle()`` does not reach a quiet cluster within its virtual time budget."""


class Loop:
    """The virtual clock and event heap."""

    def __init__(self, trace: Trace | None = None) -> None:
        collect_if_grown()  # simulations let go of earlier are freed here (see _batch_gc)
        self.now = 0
        self.trace = trace if trace is not None else Trace()
        self.steps = 0
        # entries are (time, seq, timer): tuples compare in C, and (time, seq) is unique
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self._foreground = 0
        self.cause: int | None = None  # cause of the step being run
        self.last_emitted: int | None = None  # newest trace seq recorded during the current step
        self.current: Timer | None = None

    # -- scheduling ---------------------------------------------------------------------------------------------
    def call_at(self, time: int, fn: Callable, *args: Any, component: str = "", label: str = "",
                background: bool = False, cause: int | None = None) -> Timer:
        return self.call_later(int(time) - self.now, fn, *args, component=component, label=label,
                               background=background, cause=cause)

    def call_later(self, delay_ms: int, fn: Callable, *args: Any, component: str = "", label: str = "",
                   background: bool = False, cause: int | None = None) -> Timer:
        time = self.now + int(delay_ms)
        if time < self.now:
            time = self.now
        self._seq += 1
        if cause is None:
            cause = self.last_emitted if self.last_emitted is not None else self.cause
        t = Timer(self, time, self._seq, fn, args, component, label, background, cause)
        heapq.heappush(self._heap, (time, t.seq, t))
        if not background:
            self._foreground += 1
        return t

    def call_each_later(self, delay_ms: int, calls: list, component: str = "", label: str = "",
                        cause: int | None = None) -> Timer:
        """Run several callbacks ``[(fn, args), ...]`` in one step, in order, as if each had its own step right
        after the previous one: each starts with the step's cause and nothing yet emitted. If one raises, the rest
        are scheduled again (one step) before the error propagates."""
        return self.call_later(delay_ms, self._run_each, calls, component=component, label=label, cause=cause)

    def _run_each(self, calls: list) -> None:
        for i, (fn, args) in enumerate(calls):
            self.last_emitted = None
            try:
                fn(*args)
            except BaseException:
                t = self.current
                if i + 1 < len(calls) and t is not None:
                    self.last_emitted = None
                    self.call_each_later(0, calls[i + 1:], component=t.component, label=t.label, cause=t.cause)
                raise

    # -- tracing ------------------------------------------------------------------------------------------------
    def emit(self, component: str, kind: str, ref: str = "", data: Any = None, cause: int | None = None,
             target: str = "") -> int:
        """Record a trace event for the current step; ``cause`` defaults to the step's cause."""
        seq = self.trace.record(self.now, 0 if self.current is None else self.steps, component, kind, ref, data,
                                self.cause if cause is None else cause, target)
        if seq:
            self.last_emitted = seq
        return seq

    # -- running ------------------------------------------------------------------------------------------------
    def peek(self) -> Timer | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def timers(self) -> list[Timer]:
        """Every pending (not cancelled) callback, in no particular order."""
        return [t for _, _, t in self._heap if not t.cancelled]

    @property
    def pending(self) -> int:
        """Number of pending foreground callbacks."""
        return self._foreground

    def step(self) -> Timer | None:
        """Run the next pending callback; return it (None if nothing is pending)."""
        heap = self._heap
        while True:  # peek() and the pop in one: cancelled timers are dropped on the way
            if not heap:
                return None
            t = heapq.heappop(heap)[2]
            if not t.cancelled:
                break
        if not t.background:
            self._foreground -= 1
        t.cancelled = True
        self.now = t.time
        self.steps += 1
        self.current = t
        self.cause = t.cause
        self.last_emitted = None
        try:
            t.fn(*t.args)
        finally:
            self.current = None
            self.cause = None
            self.last_emitted = None
        return t

    def run_until(self, time_ms: int) -> int:
        """Run every callback due at or before ``time_ms``; the clock ends at ``time_ms``. Returns steps run."""
        n = 0
        with _batch_gc():
            while True:
                t = self.peek()
                if t is None or t.time > time_ms:
                    break
                self.step()
                n += 1
        if self.now < time_ms:
            self.now = time_ms
        return n

    def settle(self, max_ms: int = 600_000) -> int:
        """Run until only background work is pending (or raise :class:`SettleTimeout`). Returns steps run."""
        deadline = self.now + max_ms
        n = 0
        with _batch_gc():
            while self._foreground > 0:
                t = self.peek()
                if t is None:
                    break
                if t.time > deadline:
                    raise SettleTimeout(f"cluster still busy after {max_ms} ms of virtual time "
                                        f"({self._foreground} pending, next: {t!r})")
                self.step()
                n += 1
        return n
