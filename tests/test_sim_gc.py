"""The event loop's handling of Python's cycle collector during long runs (sim/loop.py _batch_gc)."""

import gc
import weakref

from k8slab import Cluster
from k8slab.sim import Loop


def test_the_collector_is_paused_only_while_steps_run():
    loop = Loop()
    seen = []
    loop.call_later(10, lambda: seen.append(gc.isenabled()))
    assert gc.isenabled()
    loop.settle()
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        loop.call_later(10, lambda: seen.append(gc.isenabled()))
        loop.run_until(loop.now + 20)
        assert seen == [False, False] and not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_a_new_simulation_frees_clusters_let_go_once_the_heap_has_grown(monkeypatch):
    from k8slab.sim import loop as loop_module

    gc.collect()
    gc.disable()  # nothing but collect_if_grown may collect here
    try:
        c = Cluster(nodes=2, seed=0)
        c.settle()
        ref = weakref.ref(c.loop)
        del c
        assert ref() is not None  # a cluster is one big cycle: only the collector frees it
        # not grown since the last full collection: nothing is collected
        monkeypatch.setitem(loop_module._heap, "after_full_collection", 10**9)
        Loop()
        assert ref() is not None
        # grown to more than double: a full collection frees the dropped cluster
        monkeypatch.setitem(loop_module._heap, "after_full_collection", 0)
        monkeypatch.setitem(loop_module._heap, "added", 10**6)
        Loop()
        assert ref() is None
        assert loop_module._heap["added"] == 0 and 0 < loop_module._heap["after_full_collection"] < 10**6
    finally:
        gc.enable()
