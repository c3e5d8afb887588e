"""Admission: LimitRanger, ResourceQuota, PodSecurity and webhooks, each refusal with its real code and message
and nothing stored."""

import base64
import json

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.apiserver.admission_podsecurity import evaluate_pod
from k8slab.apiserver.admission_resources import limit_request_ratio_constraint, pod_limit_func
from k8slab.apiserver.webhook import add_webhook, apply_json_patch, to_status_err


def pod(name, ns="default", resources=None, **spec):
    c = {"name": "app", "image": "nginx:1.27"}
    if resources is not None:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [c], **spec}}


def ns(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


@pytest.fixture
def cluster():
    c = Cluster(nodes=1, seed=11, coredns_replicas=0)
    return c


def setup(c, *objs):
    c.apply(list(objs))
    c.settle()  # the ServiceAccount controller creates each new namespace's "default" ServiceAccount


def refused(c, obj, namespace=None):
    keys = c.etcd.keys("/registry/")
    with pytest.raises(StatusError) as e:
        c.apply(obj, namespace=namespace)
    assert c.etcd.keys("/registry/") == keys, "a refused request must store nothing"
    return e.value


# -- LimitRanger -------------------------------------------------------------------------------------------------

LIMITS = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": "lr"},
          "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                               "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}, "min": {"cpu": "50m"}}]}}


def test_limitrange_is_defaulted_like_setdefaults_limitrangeitem(cluster):
    setup(cluster, ns("lr"), LIMITS)
    lr = cluster.get("limitranges", "limits", namespace="lr")
    item = lr["spec"]["limits"][0]
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}  # memory request from the default limit
    assert item["default"] == {"cpu": "500m", "memory": "256Mi"}


def test_limitranger_fills_defaults_and_annotates(cluster):
    setup(cluster, ns("lr"), LIMITS)
    p = cluster.apply(pod("p", "lr"))
    assert p["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                                       "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app")


def test_limitranger_refuses_over_max_and_under_min(cluster):
    setup(cluster, ns("lr"), LIMITS)
    e = refused(cluster, pod("big", "lr", {"limits": {"cpu": "2"}}))
    assert e.code == 403
    assert e.message == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    e = refused(cluster, pod("two", "lr", {"requests": {"cpu": "10m"}, "limits": {"cpu": "3"}}))
    assert e.message == ('pods "two" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, '
                         'maximum cpu usage per Container is 1, but limit is 3]')


def test_pod_type_limits_sum_containers_and_ratio():
    lr = {"spec": {"limits": [{"type": "Pod", "max": {"memory": "1Gi"}}]}}
    p = {"metadata": {}, "spec": {"containers": [
        {"name": "a", "resources": {"limits": {"memory": "768Mi"}}},
        {"name": "b", "resources": {"limits": {"memory": "512Mi"}}}]}}
    assert pod_limit_func(lr, p) == ["maximum memory usage per Pod is 1Gi, but limit is 1342177280"]
    assert limit_request_ratio_constraint("Container", "cpu", "2", {"cpu": "100m"}, {"cpu": "500m"}) == \
        "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000"
    assert limit_request_ratio_constraint("Container", "cpu", "2", {"cpu": "100m"}, {"cpu": "200m"}) is None


# -- ResourceQuota ------------------------------------------------------------------------------------------------

def quota(hard, name="compute", namespace="q"):
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": namespace},
            "spec": {"hard": hard}}


def test_quota_counts_pods_and_refuses_with_the_real_message(cluster):
    setup(cluster, ns("q"), quota({"pods": "2"}))
    cluster.apply(pod("a", "q"))
    cluster.apply(pod("b", "q"))
    e = refused(cluster, pod("c", "q"))
    assert (e.code, e.reason) == (403, "Forbidden")
    assert e.message == ('pods "c" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, '
                         'limited: pods=2')
    cluster.apiserver.request("delete", "pods", namespace="q", name="a", user=_admin(),
                              options={"gracePeriodSeconds": 0})
    cluster.apply(pod("c", "q"))  # usage went down: the pod fits again


def _admin():
    from k8slab.apiserver.authn import UserInfo
    return UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))


def test_quota_on_cpu_requires_requests_and_sums_them(cluster):
    setup(cluster, ns("q"), quota({"requests.cpu": "1", "requests.memory": "1Gi"}))
    e = refused(cluster, pod("bare", "q"))
    assert e.message == ('pods "bare" is forbidden: failed quota: compute: must specify requests.cpu for: app; '
                         'requests.memory for: app')
    cluster.apply(pod("a", "q", {"requests": {"cpu": "600m", "memory": "512Mi"}}))
    e = refused(cluster, pod("b", "q", {"requests": {"cpu": "600m", "memory": "256Mi"}}))
    assert e.message == ('pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
                         'used: requests.cpu=600m, limited: requests.cpu=1')
    cluster.apply(pod("c", "q", {"requests": {"cpu": "400m", "memory": "512Mi"}}))


def test_quota_object_counts(cluster):
    setup(cluster, ns("q"), quota({"count/configmaps": "1"}, "objects"))
    n = sum(1 for k in cluster.etcd.keys("/registry/configmaps/q/"))  # kube-root-ca.crt, if published
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "q"}}
    if n == 0:
        cluster.apply(cm)
        cm = dict(cm, metadata={"name": "y", "namespace": "q"})
    e = refused(cluster, cm)
    assert "exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, " \
           "limited: count/configmaps=1" in e.message


# -- PodSecurity ------------------------------------------------------------------------------------------------

def test_restricted_namespace_refuses_a_plain_pod(cluster):
    setup(cluster, ns("secure", {"pod-security.kubernetes.io/enforce": "restricted"}))
    e = refused(cluster, pod("plain", "secure"))
    assert e.code == 403
    assert e.message == (
        'pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must '
        'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    good = pod("good", "secure")
    good["spec"]["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    good["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False,
                                                        "capabilities": {"drop": ["ALL"]}}
    assert cluster.apply(good)["metadata"]["name"] == "good"


def test_baseline_namespace(cluster):
    setup(cluster, ns("base", {"pod-security.kubernetes.io/enforce": "baseline",
                               "pod-security.kubernetes.io/enforce-version": "v1.30"}))
    assert cluster.apply(pod("plain", "base"))  # a plain pod is baseline
    bad = pod("bad", "base", hostNetwork=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    bad["spec"]["containers"][0].update(securityContext={"privileged": True,
                                                         "capabilities": {"add": ["NET_ADMIN", "CHOWN"]}},
                                        ports=[{"containerPort": 80, "hostPort": 80}])
    e = refused(cluster, bad)
    assert e.message == (
        'pods "bad" is forbidden: violates PodSecurity "baseline:v1.30": non-default capabilities (container "app" '
        'must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), '
        'hostPath volumes (volume "root"), hostPort (container "app" uses hostPort 80), privileged (container "app" '
        'must not set securityContext.privileged=true)')


def test_restricted_order_baseline_first_and_overrides():
    spec = {"volumes": [{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {"server": "x"}}],
            "containers": [{"name": "a", "securityContext": {"privileged": True, "runAsUser": 0,
                                                             "allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                                                             "runAsNonRoot": True,
                                                             "seccompProfile": {"type": "RuntimeDefault"}}}]}
    got = evaluate_pod("restricted", spec)
    # privileged (baseline) comes before the restricted checks; hostPath volumes and non-default capabilities
    # are replaced by their restricted versions
    assert [r for r, _ in got] == ["privileged", "unrestricted capabilities", "restricted volume types",
                                   "runAsUser=0"]
    assert got[2][1] == 'volumes "h", "n" use restricted volume types "hostPath", "nfs"'
    assert got[1][1] == 'container "a" must not include "SYS_ADMIN" in securityContext.capabilities.add'
    assert [r for r, _ in evaluate_pod("baseline", spec)] == ["non-default capabilities", "hostPath volumes",
                                                              "privileged"]


def test_privileged_level_allows_everything():
    spec = {"hostPID": True, "containers": [{"name": "a", "securityContext": {"privileged": True}}]}
    assert evaluate_pod("privileged", spec) == []
    assert [r for r, _ in evaluate_pod("baseline", spec)] == ["host namespaces", "privileged"]


# -- webhooks -------------------------------------------------------------------------------------------------------

def test_validating_webhook_denies_with_its_status(cluster):
    seen = []

    def no_latest(review):
        seen.append(review)
        obj = review["request"]["object"]
        images = [c["image"] for c in obj["spec"]["containers"]]
        if any(i.endswith(":latest") or ":" not in i for i in images):
            return {"uid": review["request"]["uid"], "allowed": False,
                    "status": {"code": 403, "reason": "Forbidden", "message": "images must be pinned"}}
        return {"uid": review["request"]["uid"], "allowed": True}

    add_webhook(cluster, "no-latest", no_latest)
    p = pod("latest")
    p["spec"]["containers"][0]["image"] = "nginx:latest"
    e = refused(cluster, p)
    assert (e.code, e.message) == (403, 'admission webhook "no-latest.k8slab.io" denied the request: images must '
                                        'be pinned')
    assert seen[-1]["request"]["operation"] == "CREATE"
    assert seen[-1]["request"]["userInfo"]["username"] == "kubernetes-admin"
    assert cluster.apply(pod("pinned"))
    kinds = [ev.kind for ev in cluster.trace if ev.kind == "admission.webhook"]
    assert len(kinds) == 2


def test_denial_without_code_is_400_and_without_message():
    e = to_status_err("x.io", None)
    assert (e.code, e.message) == (400, 'admission webhook "x.io" denied the request without explanation')


def test_mutating_webhook_patch_is_applied(cluster):
    def add_label(review):
        patch = [{"op": "add", "path": "/metadata/labels", "value": {"injected": "yes"}}]
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True, "patchType": "JSONPatch",
                             "patch": base64.b64encode(json.dumps(patch).encode()).decode()}}

    add_webhook(cluster, "labeller", add_label, mutating=True)
    assert cluster.apply(pod("m"))["metadata"]["labels"] == {"injected": "yes"}


def test_a_webhook_that_breaks_the_object_fails_validation_and_nothing_is_stored(cluster):
    def breaker(review):
        return {"uid": review["request"]["uid"], "allowed": True,
                "patch": [{"op": "replace", "path": "/spec/containers/0/name", "value": "Not_A_DNS_Label"}]}

    add_webhook(cluster, "breaker", breaker, mutating=True)
    e = refused(cluster, pod("broken"))
    assert (e.code, e.reason) == (422, "Invalid")
    assert 'spec.containers[0].name: Invalid value: "Not_A_DNS_Label"' in e.message


def test_webhook_failures_follow_failure_policy(cluster):
    def crash(review):
        raise RuntimeError("boom")

    add_webhook(cluster, "ignored", crash, failure_policy="Ignore")
    assert cluster.apply(pod("ok"))
    add_webhook(cluster, "fatal", crash)
    e = refused(cluster, pod("nope"))
    assert (e.code, e.message) == (500, 'Internal error occurred: failed calling webhook "fatal.k8slab.io": '
                                        'RuntimeError: boom')


def test_webhook_type_breaking_patch_is_an_internal_error(cluster):
    add_webhook(cluster, "typebreak", lambda r: {"uid": r["request"]["uid"], "allowed": True,
                                                 "patch": [{"op": "replace", "path": "/spec/containers",
                                                            "value": "oops"}]}, mutating=True)
    e = refused(cluster, pod("t"))
    assert e.code == 500


def test_webhook_selectors_and_rules(cluster):
    calls = []
    add_webhook(cluster, "only-labelled", lambda r: calls.append(r) or {"uid": r["request"]["uid"], "allowed": True},
                namespace_selector={"matchLabels": {"hooks": "on"}}, operations=("CREATE", "DELETE"))
    cluster.apply(pod("a"))
    assert calls == []
    setup(cluster, ns("hooked", {"hooks": "on"}))
    cluster.apply(pod("b", "hooked"))
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "hooked"}})
    assert [c["request"]["name"] for c in calls] == ["b"]  # configmaps are not in the rules


def test_json_patch_ops():
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = apply_json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3},
                                 {"op": "remove", "path": "/b/c"},
                                 {"op": "copy", "from": "/a/0", "path": "/b/d"},
                                 {"op": "move", "from": "/a/1", "path": "/e"},
                                 {"op": "test", "path": "/e", "value": 2}])
    assert out == {"a": [1, 3], "b": {"d": 1}, "e": 2}
    assert doc == {"a": [1, 2], "b": {"c": 1}}
    with pytest.raises(ValueError):
        apply_json_patch(doc, [{"op": "test", "path": "/a/0", "value": 9}])


def test_quota_status_is_kept_by_the_resourcequota_controller(cluster):
    setup(cluster, ns("q"), quota({"pods": "3", "requests.memory": "1Gi", "count/configmaps": "5"}))
    status = cluster.get("resourcequotas", "compute", namespace="q")["status"]
    assert status["hard"] == {"pods": "3", "requests.memory": "1Gi", "count/configmaps": "5"}
    assert status["used"]["pods"] == "0" and status["used"]["requests.memory"] == "0"
    cluster.apply(pod("a", "q", {"requests": {"memory": "256Mi"}}))
    cluster.apply(pod("b", "q", {"requests": {"memory": "256Mi"}}))
    cluster.settle()
    used = cluster.get("resourcequotas", "compute", namespace="q")["status"]["used"]
    assert (used["pods"], used["requests.memory"]) == ("2", "512Mi")
    cluster.apiserver.request("delete", "pods", namespace="q", name="a", user=_admin(),
                              options={"gracePeriodSeconds": 0})
    cluster.settle()
    used = cluster.get("resourcequotas", "compute", namespace="q")["status"]["used"]
    assert (used["pods"], used["requests.memory"]) == ("1", "256Mi")
