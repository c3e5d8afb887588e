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
        monkeypatch.setitem(loop_module._gc_growth, "after_full_collection", 10**9)
        Loop()
        assert ref() is not None
        # grown to more than double: a full collection frees the dropped cluster
        monkeypatch.setitem(loop_module._gc_growth, "after_full_collection", 0)
        monkeypatch.setitem(loop_module._gc_growth, "added", 10**6)
        Loop()
        assert ref() is None
        assert loop_module._gc_growth["added"] == 0 and 0 < loop_module._gc_growth["after_full_collection"] < 10**6
    finally:
        gc.enable()


def test_a_running_cluster_leaves_no_cyclic_garbage():
    """What _batch_gc relies on: the objects a cluster drops while it runs (pods created and deleted, timers,
    watch events) are freed by reference counting, so pausing the collector between simulations leaks nothing."""
    c = Cluster(nodes=3, seed=0)
    c.settle()
    gc.collect()
    for _ in range(2):
        c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
        c.settle()
        c.delete("deployment", "web")
        c.settle()
        assert gc.collect() == 0
