"""Deployment controller: upstream helper cases (deployment_util_test.go, sync_test.go, rollback.go) and behaviour
through the Cluster (rolling-update bounds at every step, rollback, pause and resume, progress deadline)."""

import pytest

from k8slab import Cluster
from k8slab.controllers.deployment import (MAX_REV_HISTORY_LENGTH_IN_CHARS, REVISION_ANNOTATION,
                                           REVISION_HISTORY_ANNOTATION, max_surge, max_unavailable,
                                           set_new_replica_set_annotations)
from k8slab.examples import NGINX
from k8slab.rollout import RolloutError, deployment_revision

DEPLOY = NGINX.split("---")[0]


def _d(replicas=3, surge="25%", unavail="25%", annotations=None):
    return {"metadata": {"name": "web", "annotations": annotations or {}},
            "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": surge, "maxUnavailable": unavail}}}}


def _rs(rev=None, hist=None):
    ann = {}
    if rev is not None:
        ann[REVISION_ANNOTATION] = str(rev)
    if hist is not None:
        ann[REVISION_HISTORY_ANNOTATION] = hist
    return {"metadata": {"name": f"rs-{rev}", "annotations": ann}, "spec": {"replicas": 0}}


@pytest.mark.parametrize("replicas,surge,unavail,want", [
    (10, "25%", "25%", (3, 2)), (3, "25%", "25%", (1, 0)), (4, 0, "50%", (0, 2)), (0, "25%", "25%", (0, 0)),
    (5, "100%", 0, (5, 0)), (1, 0, 0, (0, 1)),
])
def test_max_surge_and_max_unavailable(replicas, surge, unavail, want):
    d = _d(replicas, surge, unavail)
    assert (max_surge(d), max_unavailable(d)) == want


def test_new_replica_set_annotations_copy_and_revision():
    # TestAnnotationUtils: the revision is raised, never lowered; change-cause is copied; skipped keys are not
    d = _d(annotations={"kubernetes.io/change-cause": "v2", REVISION_ANNOTATION: "99",
                        "kubectl.kubernetes.io/last-applied-configuration": "{}"})
    rs = _rs()
    assert set_new_replica_set_annotations(d, rs, "1", False)
    ann = rs["metadata"]["annotations"]
    assert ann[REVISION_ANNOTATION] == "1" and ann["kubernetes.io/change-cause"] == "v2"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in ann
    assert ann["deployment.kubernetes.io/desired-replicas"] == "3"
    assert ann["deployment.kubernetes.io/max-replicas"] == "4"
    rs = _rs(5)
    assert not set_new_replica_set_annotations(_d(), rs, "3", True)
    assert rs["metadata"]["annotations"][REVISION_ANNOTATION] == "5"


def test_rollback_records_revision_history():
    rs = _rs(1)
    set_new_replica_set_annotations(_d(), rs, "3", True)
    assert rs["metadata"]["annotations"][REVISION_ANNOTATION] == "3"
    assert rs["metadata"]["annotations"][REVISION_HISTORY_ANNOTATION] == "1"
    set_new_replica_set_annotations(_d(), rs, "5", True)
    assert rs["metadata"]["annotations"][REVISION_HISTORY_ANNOTATION] == "1,3"
    # the history is trimmed from the front to stay within maxRevHistoryLengthInChars
    long = ",".join(str(i) for i in range(1000, 1000 + MAX_REV_HISTORY_LENGTH_IN_CHARS // 5))
    rs = _rs(1, long)
    set_new_replica_set_annotations(_d(), rs, "7", True)
    hist = rs["metadata"]["annotations"][REVISION_HISTORY_ANNOTATION]
    assert len(hist) <= MAX_REV_HISTORY_LENGTH_IN_CHARS and hist.endswith(",1") and not hist.startswith("1000,")


def test_deployment_revision_picks_previous_or_named():
    d = {"metadata": {"name": "web"}}
    rss = [_rs(1), _rs(3), _rs(2)]
    assert deployment_revision(d, rss)["metadata"]["name"] == "rs-2"
    assert deployment_revision(d, rss, 1)["metadata"]["name"] == "rs-1"
    with pytest.raises(RolloutError, match="unable to find specified revision 9 in history"):
        deployment_revision(d, rss, 9)
    with pytest.raises(RolloutError, match='no rollout history found for deployment "web"'):
        deployment_revision(d, [_rs(1)])


def _web_pods(c):
    return [p for p in c.apiserver.cache["pods"].values()
            if (p["metadata"].get("labels") or {}).get("app") == "web" and not p["metadata"].get("deletionTimestamp")]


def _ready(p):
    return any(x["type"] == "Ready" and x["status"] == "True" for x in p.get("status", {}).get("conditions", []))


@pytest.mark.parametrize("replicas,surge,unavail", [(10, "25%", "25%"), (6, 0, 2), (5, 2, 0), (4, "50%", "50%")])
def test_rolling_update_stays_within_bounds_at_every_step(replicas, surge, unavail):
    c = Cluster(nodes=3, seed=5)
    spec = DEPLOY.replace("replicas: 3", f"replicas: {replicas}").replace(
        "  selector:", f"  strategy:\n    rollingUpdate:\n      maxSurge: {surge!r}\n"
                       f"      maxUnavailable: {unavail!r}\n  selector:".replace("'", '"'))
    c.apply(spec)
    c.settle()
    d = c.get("deployment", "web")
    s, u = max_surge(d), max_unavailable(d)
    c.apply(spec.replace("nginx:1.27", "nginx:1.28"))
    hi, lo, steps = 0, replicas, 0
    while c.loop.pending and steps < 200_000:
        c.step()
        steps += 1
        pods = _web_pods(c)
        hi = max(hi, len(pods))
        lo = min(lo, sum(1 for p in pods if _ready(p)))
        assert len(pods) <= replicas + s, f"{len(pods)} pods > {replicas}+{s}"
        assert sum(1 for p in pods if _ready(p)) >= replicas - u
    pods = _web_pods(c)
    assert len(pods) == replicas and all(p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in pods)
    assert hi > replicas or lo < replicas  # the update did use its room


def test_rollback_pause_resume_and_history():
    c = Cluster(nodes=2, seed=1)
    c.apply(DEPLOY)
    c.settle()
    c.apply(DEPLOY.replace("nginx:1.27", "nginx:1.28"))
    c.settle()
    assert [r for r, _ in [(int(x.split()[0]), 0) for x in str(c.rollout_history("deploy", "web")).splitlines()[1:]]] \
        == [1, 2]
    out = c.rollout_undo("deployment", "web")
    assert str(out) == "deployment.apps/web rolled back"
    c.settle()
    d = c.get("deployment", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    rss = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in c.get("replicasets")}
    assert len(rss) == 2  # the old ReplicaSet became the new one again
    old = rss["nginx:1.27"]["metadata"]["annotations"]
    assert old[REVISION_ANNOTATION] == "3" and old[REVISION_HISTORY_ANNOTATION] == "1"
    assert rss["nginx:1.27"]["spec"]["replicas"] == 3 and rss["nginx:1.28"]["spec"]["replicas"] == 0
    assert "skipped rollback (current template already matches revision 3)" in str(
        c.rollout_undo("deployment", "web", to_revision=3))
    with pytest.raises(RolloutError, match="unable to find specified revision 7"):
        c.rollout_undo("deployment", "web", to_revision=7)

    assert str(c.rollout_pause("deployment", "web")) == "deployment.apps/web paused"
    c.settle()
    cond = {x["type"]: x for x in c.get("deployment", "web")["status"]["conditions"]}["Progressing"]
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")
    with pytest.raises(RolloutError, match="you cannot rollback a paused deployment"):
        c.rollout_undo("deployment", "web")
    with pytest.raises(RolloutError, match="is already paused"):
        c.rollout_pause("deployment", "web")
    c.apply(DEPLOY.replace("nginx:1.27", "nginx:1.29"))
    c.settle()
    assert len(c.get("replicasets")) == 2  # paused: no new ReplicaSet for the new template
    c.scale("deployment", "web", 4)  # scaling still works while paused
    c.settle()
    assert len(_web_pods(c)) == 4
    c.rollout_resume("deployment", "web")
    c.settle()
    d = c.get("deployment", "web")
    assert {p["spec"]["containers"][0]["image"] for p in _web_pods(c)} == {"nginx:1.29"}
    cond = {x["type"]: x for x in d["status"]["conditions"]}["Progressing"]
    assert (cond["status"], cond["reason"]) == ("True", "NewReplicaSetAvailable")


def test_revision_history_limit_deletes_oldest_replica_sets():
    c = Cluster(nodes=2, seed=2)
    base = DEPLOY.replace("  selector:", "  revisionHistoryLimit: 1\n  selector:")
    for tag in ("1.25", "1.26", "1.27", "1.28"):
        c.apply(base.replace("nginx:1.27", f"nginx:{tag}"))
        c.settle()
    imgs = sorted(rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in c.get("replicasets"))
    assert imgs == ["nginx:1.27", "nginx:1.28"]  # the new one plus one old one


def test_progress_deadline_exceeded_when_pods_never_become_ready():
    c = Cluster(nodes=2, seed=3)
    c.apply(DEPLOY.replace("  selector:", "  progressDeadlineSeconds: 30\n  selector:"))
    c.settle()
    c.apply(DEPLOY.replace("  selector:", "  progressDeadlineSeconds: 30\n  selector:")
            .replace("nginx:1.27", "nginx:does-not-exist-9"))
    c.run(seconds=120)
    d = c.get("deployment", "web")
    cond = {x["type"]: x for x in d["status"]["conditions"]}
    assert cond["Progressing"]["status"] == "False"
    assert cond["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert cond["Available"]["reason"] == "MinimumReplicasAvailable"  # the old pods still serve


@pytest.mark.parametrize("change,message", [
    (("  selector:", "  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0}\n  selector:"),
     "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    (("      labels:\n        app: web", "      labels:\n        app: api"),
     "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match "
     "template `labels`"),
])
def test_invalid_deployments_are_rejected_with_field_paths(change, message):
    c = Cluster(nodes=1, seed=6)
    with pytest.raises(Exception) as e:
        c.apply(DEPLOY.replace(*change))
    assert e.value.code == 422 and message in str(e.value)
    assert c.get("deployments").names == []
