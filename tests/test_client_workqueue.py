"""client-go's work queue semantics: dedup while queued, no concurrent processing of a key, rate limits."""

from k8slab.client.workqueue import (BucketRateLimiter, ItemExponentialFailureRateLimiter, RateLimitingQueue,
                                     default_controller_rate_limiter)
from k8slab.sim import Loop


def test_key_is_queued_once_and_reprocessed_if_dirty_while_processing():
    loop = Loop()
    processed = []

    def worker(k):
        processed.append(k)
        if len(processed) == 1:
            q.add("a")  # an event arrives while "a" is being processed

    q = RateLimitingQueue(loop, "q", "test", worker)
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    loop.settle()
    assert processed == ["a", "b", "a"]


def test_item_exponential_backoff_sequence():
    lim = ItemExponentialFailureRateLimiter(5, 1000_000)
    assert [lim.when("k", 0) for _ in range(5)] == [5, 10, 20, 40, 80]
    assert lim.num_requeues("k") == 5
    lim.forget("k")
    assert lim.when("k", 0) == 5


def test_bucket_allows_burst_then_paces_at_qps():
    b = BucketRateLimiter(10, 100)
    delays = [b.when(i, 0) for i in range(101)]
    assert delays[:100] == [0] * 100 and delays[100] == 100  # the 101st waits 1/10 s


def test_default_controller_rate_limiter_is_max_of_both():
    lim = default_controller_rate_limiter()
    assert lim.when("x", 0) == 5
    assert lim.when("x", 0) == 10


def test_add_rate_limited_delays_in_virtual_time():
    loop = Loop()
    seen = []
    q = RateLimitingQueue(loop, "q", "test", lambda k: seen.append((k, loop.now)))
    q.add_rate_limited("x")
    q.add_rate_limited("x")  # the earlier due time wins
    loop.settle()
    assert seen == [("x", 5)]
