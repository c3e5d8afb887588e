"""The scheduler notebook's exercises: right answers pass, typical wrong answers get specific feedback."""

from k8slab.exercises import check
from k8slab.exercises import scheduler as ex
from k8slab.scheduler.framework import Plugin


def test_03_1_why_pending():
    assert not check("03.1", None)
    r = check("03.1", {"control-plane": "NodeAffinity", "node-1": "NodeResourcesFit", "node-2": "NodeAffinity"})
    assert not r and "first rejection decides" in r.message
    r = check("03.1", {"control-plane": "TaintToleration", "node-1": "NodeResourcesFit",
                       "node-2": "NodeResourcesFit"})
    assert not r and "look at its labels" in r.message
    assert check("03.1", {"control-plane": "TaintToleration", "node-1": "NodeResourcesFit",
                          "node-2": "NodeAffinity"})


def test_03_2_decisive_plugin():
    assert check("03.2", "NodeAffinity")
    r = check("03.2", "ImageLocality")
    assert not r and "biggest lead" in r.message
    assert "not one of the Score plugins" in check("03.2", "Foo").message


def test_03_3_percentage():
    assert check("03.3", 500)
    assert "myth" in check("03.3", 2500).message
    assert not check("03.3", "lots")


class GoldFirst(Plugin):
    NAME = "GoldFirst"

    def score(self, state, pod, node_info):
        return (100 if node_info.node["metadata"]["labels"].get("tier") == "gold" else 0), None


class Backwards(Plugin):
    NAME = "Backwards"

    def score(self, state, pod, node_info):
        return (0 if node_info.node["metadata"]["labels"].get("tier") == "gold" else 100), None


class TooBig(Plugin):
    NAME = "TooBig"

    def score(self, state, pod, node_info):
        return 1000, None


def test_03_4_score_plugin():
    assert check("03.4", GoldFirst)
    assert "should prefer the gold node-3" in check("03.4", Backwards).message
    assert "keep scores in 0..100" in check("03.4", TooBig).message

    class GoldIsOne(Plugin):
        NAME = "GoldIsOne"

        def score(self, state, pod, node_info):
            return (1 if node_info.node["metadata"]["labels"].get("tier") == "gold" else 0), None

    r = check("03.4", GoldIsOne)  # wins at weight 10 all the same, but is not what was asked
    assert not r and "scores the gold node-3 1" in r.message
    assert not check("03.4", None)
    from k8slab.scheduler.plugins import REGISTRY
    assert "GoldFirst" not in REGISTRY                  # the checker leaves the registry as it found it


def test_03_5_victim():
    assert check("03.5", "batch")
    assert "preemptor" in check("03.5", "urgent").message
    assert not check("03.5", "api")


def test_the_learners_cluster_is_used_when_given():
    c = ex.pending_cluster()
    assert check("03.1", ex._rejections(c, "db"), c)
