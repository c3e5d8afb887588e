"""Notebook 04 exercises: right answers pass, typical wrong ones fail with useful feedback."""

from k8slab.exercises import check, hint
from k8slab.controllers.cronjob import EPOCH_UNIX_S as EPOCH_UNIX_S_FOR_TESTS
from k8slab.exercises.controllers import _CACHE, expected_victim, scenario


def test_04_1_bounds():
    assert check("04.1", (13, 8)).correct
    r = check("04.1", (12, 8))
    assert not r.correct and "rounds *up*" in r.message
    r = check("04.1", (13, 7))
    assert not r.correct and "rounds *down*" in r.message
    assert not check("04.1", None).correct


def test_04_2_victim():
    c = scenario("04.2")
    pods = sorted(p["metadata"]["name"] for p in c.get("pods", selector="app=api"))
    want = expected_victim(c)
    assert want == pods[1]  # the one with the lowest pod-deletion-cost
    assert check("04.2", want).correct
    r = check("04.2", pods[0])
    assert not r.correct and "ActivePodsWithRanks" in r.message
    assert "not one of" in check("04.2", "nope").message
    # and the controller agrees: scale to 3 and see which one went
    c.scale("replicaset", "api", 3)
    c.settle()
    left = {p["metadata"]["name"] for p in c.get("pods", selector="app=api")}
    assert want not in left and len(left) == 3
    _CACHE.pop("04.2")  # the next check builds the scenario afresh


def test_04_3_backoff():
    assert check("04.3", 40).correct
    assert "linear" in check("04.3", 30).message
    assert "4th failure" in check("04.3", 80).message
    assert not check("04.3", None).correct


def test_04_4_cronjob():
    want = f"report-{EPOCH_UNIX_S_FOR_TESTS // 60 + 25}"
    assert check("04.4", want).correct
    assert "next schedule" in check("04.4", f"report-{EPOCH_UNIX_S_FOR_TESTS // 60 + 30}").message
    assert "most recent" in check("04.4", f"report-{EPOCH_UNIX_S_FOR_TESTS // 60 + 5}").message
    # resuming the scenario's CronJob really creates that Job
    c = scenario("04.4")
    c.admin.patch("cronjobs", "report", {"spec": {"suspend": False}}, namespace="default")
    c.run(seconds=10)
    assert c.get("jobs").names == [want]
    _CACHE.pop("04.4")


def test_hints_progress():
    assert "resolve_fenceposts" in hint("04.1")
    assert "rounded up" in hint("04.1")
