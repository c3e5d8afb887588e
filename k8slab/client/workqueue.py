"""Mirrors: staging/src/k8s.io/client-go/util/workqueue (queue.go, delaying_queue.go, rate_limiting_queue.go,
default_rate_limiters.go).

The queue between a controller's informer handlers and its worker. A key is in the queue at most once, however
many events arrive for it ("dirty" set), and is never handed to two workers at once ("processing" set): events
that arrive while a key is being processed mark it dirty so it is processed once more afterwards. A failed
reconcile puts the key back with ``add_rate_limited``: per-item exponential backoff from 5 ms to 1000 s, combined
with an overall token bucket of 10 per second with a burst of 100 (DefaultControllerRateLimiter).
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Hashable


class ItemExponentialFailureRateLimiter:
    def __init__(self, base_ms: float = 5, max_ms: float = 1000_000) -> None:
        self.base_ms, self.max_ms = base_ms, max_ms
        self.failures: dict[Hashable, int] = {}

    def when(self, item: Hashable, now_ms: int) -> float:
        exp = self.failures.get(item, 0)
        self.failures[item] = exp + 1
        return min(self.base_ms * (2 ** exp), self.max_ms)

    def num_requeues(self, item: Hashable) -> int:
        return self.failures.get(item, 0)

    def forget(self, item: Hashable) -> None:
        self.failures.pop(item, None)


class BucketRateLimiter:
    """golang.org/x/time/rate.Limiter used as a workqueue rate limiter (qps, burst)."""

    def __init__(self, qps: float = 10, burst: int = 100) -> None:
        self.qps, self.burst = qps, burst
        self.tokens = float(burst)
        self.last_ms = 0

    def when(self, item: Hashable, now_ms: int) -> float:
        elapsed = max(0, now_ms - self.last_ms)
        self.tokens = min(self.burst, self.tokens + elapsed * self.qps / 1000)
        self.last_ms = now_ms
        self.tokens -= 1
        if self.tokens >= 0:
            return 0
        return -self.tokens * 1000 / self.qps

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def forget(self, item: Hashable) -> None:
        pass


class MaxOfRateLimiter:
    def __init__(self, *limiters) -> None:
        self.limiters = limiters

    def when(self, item: Hashable, now_ms: int) -> float:
        return max(lim.when(item, now_ms) for lim in self.limiters)

    def num_requeues(self, item: Hashable) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)

    def forget(self, item: Hashable) -> None:
        for lim in self.limiters:
            lim.forget(item)


def default_controller_rate_limiter() -> MaxOfRateLimiter:
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(5, 1000_000), BucketRateLimiter(10, 100))


class RateLimitingQueue:
    """A typed rate-limited work queue driven by the simulation loop.

    ``worker`` is called with one key per loop step, the way one of the controller's worker goroutines runs
    ``processNextWorkItem``. The worker must call :meth:`done` (``process_next_work_item`` below does).
    """

    def __init__(self, loop, name: str, component: str, worker: Callable[[Hashable], None] | None = None,
                 rate_limiter=None) -> None:
        self.loop = loop
        self.name = name
        self.component = component
        self.worker = worker
        self.rate_limiter = rate_limiter or default_controller_rate_limiter()
        self.queue: deque = deque()
        self.dirty: set = set()
        self.processing: set = set()
        self._scheduled = None
        self._waiting: dict[Hashable, object] = {}
        self.paused = False
        self.adds = 0

    def __len__(self) -> int:
        return len(self.queue)

    def add(self, item: Hashable) -> None:
        self.adds += 1
        if item in self.dirty:
            return
        self.dirty.add(item)
        if item in self.processing:
            return
        self.queue.append(item)
        self._kick()

    def add_after(self, item: Hashable, delay_ms: float, background: bool = False) -> None:
        """Add ``item`` after ``delay_ms``. A ``background`` wait (a periodic re-check rather than pending work)
        does not keep ``settle()`` running."""
        if delay_ms <= 0:
            self.add(item)
            return
        due = self.loop.now + int(round(delay_ms))
        prev = self._waiting.get(item)
        if prev is not None and prev.time <= due:
            return  # the delaying queue keeps the earliest time for an item
        if prev is not None:
            prev.cancel()
        self._waiting[item] = self.loop.call_at(due, self._fire, item, component=self.component,
                                                label=f"{self.name} requeue {item}", background=background)

    def _fire(self, item: Hashable) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: Hashable) -> None:
        self.add_after(item, self.rate_limiter.when(item, self.loop.now))

    def forget(self, item: Hashable) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.rate_limiter.num_requeues(item)

    def get(self) -> Hashable | None:
        if not self.queue:
            return None
        item = self.queue.popleft()
        self.processing.add(item)
        self.dirty.discard(item)
        return item

    def done(self, item: Hashable) -> None:
        self.processing.discard(item)
        if item in self.dirty:
            self.queue.append(item)
            self._kick()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._kick()

    def _kick(self) -> None:
        if self._scheduled is None and self.worker is not None and self.queue and not self.paused:
            self._scheduled = self.loop.call_later(0, self._run_one, component=self.component,
                                                   label=f"{self.name} worker")

    def _run_one(self) -> None:
        self._scheduled = None
        if self.paused:
            return
        item = self.get()
        if item is not None:
            try:
                self.worker(item)
            finally:
                self.done(item)
        self._kick()
