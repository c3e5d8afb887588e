"""PodTopologySpread's per-node match counts are reused only while the node is unchanged."""

from k8slab.api.objects import label_selector_as_selector
from k8slab.scheduler.framework import NodeInfo
from k8slab.scheduler.plugins.podtopologyspread import node_count_pods_match_selector


def pod(name, labels, ns="default"):
    return {"metadata": {"name": name, "namespace": ns, "uid": name, "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]}}


def test_counts_follow_every_change_of_the_node():
    ni = NodeInfo({"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "pods": "110"}}},
                  [pod("a", {"app": "web"}), pod("b", {"app": "db"}), pod("c", {"app": "web"}, ns="other")])
    web = label_selector_as_selector({"matchLabels": {"app": "web"}})
    nothing = label_selector_as_selector(None)
    everything = label_selector_as_selector({})
    assert node_count_pods_match_selector(ni, web, "default") == 1
    assert node_count_pods_match_selector(ni, web, "other") == 1
    assert node_count_pods_match_selector(ni, nothing, "default") == 0     # same text as "everything", not equal
    assert node_count_pods_match_selector(ni, everything, "default") == 2
    gen = ni.generation
    ni.add_pod(pod("d", {"app": "web"}))
    assert ni.generation != gen
    assert node_count_pods_match_selector(ni, web, "default") == 2
    ni.remove_pod(pod("a", {}))
    assert node_count_pods_match_selector(ni, web, "default") == 1
    # a snapshot keeps the counts of its generation and goes its own way after a change
    snap = ni.snapshot()
    assert snap.generation == ni.generation
    snap.add_pod(pod("e", {"app": "web"}))
    assert node_count_pods_match_selector(snap, web, "default") == 2
    assert node_count_pods_match_selector(ni, web, "default") == 1
