"""Defaulting fills what upstream SetDefaults_* fill, and nothing the server sets elsewhere."""

import pytest

from k8slab.api.defaults import apply_defaults, image_tag, namespace_finalizers


def pod(**container):
    c = {"name": "web", "image": "nginx:1.25"}
    c.update(container)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [c]}}


def test_pod_defaults():
    p = apply_defaults(pod(ports=[{"containerPort": 80}]))
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert "priority" not in spec  # the Priority admission plugin sets it
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert set(p["metadata"]) == {"name", "namespace"}  # no uid, resourceVersion, creationTimestamp


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry.k8s.io/pause:3.10", "IfNotPresent"), ("localhost:5000/app", "Always"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    assert apply_defaults(pod(image=image))["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag_parsing():
    assert image_tag("localhost:5000/app:v2") == ("v2", "")
    assert image_tag("app") == ("latest", "")


def test_explicit_values_are_kept():
    p = apply_defaults(pod(imagePullPolicy="Never"))
    p2 = pod()
    p2["spec"]["restartPolicy"] = "Never"
    p2["spec"]["terminationGracePeriodSeconds"] = 0
    apply_defaults(p2)
    assert p["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert p2["spec"]["restartPolicy"] == "Never" and p2["spec"]["terminationGracePeriodSeconds"] == 0


def test_probe_defaults():
    p = apply_defaults(pod(livenessProbe={"httpGet": {"port": 80}}, readinessProbe={"tcpSocket": {"port": 80},
                                                                                   "periodSeconds": 5}))
    live = p["spec"]["containers"][0]["livenessProbe"]
    assert live == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                    "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert "initialDelaySeconds" not in live
    assert p["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] == 5


def test_limits_copied_into_missing_requests_for_pods_only():
    p = apply_defaults(pod(resources={"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}}))
    assert p["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    d = apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]}}}})
    tspec = d["spec"]["template"]["spec"]
    assert "requests" not in tspec["containers"][0]["resources"]
    assert "enableServiceLinks" not in tspec
    assert tspec["dnsPolicy"] == "ClusterFirst"


def test_deployment_defaults():
    d = apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}})
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    r = apply_defaults({"kind": "Deployment", "spec": {"replicas": 0, "strategy": {"type": "Recreate"}}})
    assert r["spec"]["replicas"] == 0 and r["spec"]["strategy"] == {"type": "Recreate"}


def test_replicaset_daemonset_statefulset():
    assert apply_defaults({"kind": "ReplicaSet", "spec": {}})["spec"]["replicas"] == 1
    ds = apply_defaults({"kind": "DaemonSet", "spec": {}})["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["revisionHistoryLimit"] == 10
    sts = apply_defaults({"kind": "StatefulSet", "spec": {}})["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["replicas"] == 1 and sts["revisionHistoryLimit"] == 10
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_job_and_cronjob():
    job = apply_defaults({"kind": "Job", "metadata": {"name": "j"}, "spec": {
        "template": {"metadata": {"labels": {"app": "j"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert job["metadata"]["labels"] == {"app": "j"}
    par = apply_defaults({"kind": "Job", "spec": {"parallelism": 3}})["spec"]
    assert par["parallelism"] == 3 and "completions" not in par
    cj = apply_defaults({"kind": "CronJob", "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}})["spec"]
    assert (cj["concurrencyPolicy"], cj["suspend"], cj["successfulJobsHistoryLimit"], cj["failedJobsHistoryLimit"]) \
        == ("Allow", False, 3, 1)
    assert cj["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert "backoffLimit" not in cj["jobTemplate"]["spec"]


def test_service_defaults():
    svc = apply_defaults({"kind": "Service", "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP",
                                                                                "targetPort": "dns"}]}})
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 53, "protocol": "UDP", "targetPort": "dns"}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec and "clusterIP" not in spec and "ipFamilyPolicy" not in spec
    np = apply_defaults({"kind": "Service", "spec": {"type": "NodePort", "sessionAffinity": "ClientIP"}})["spec"]
    assert np["externalTrafficPolicy"] == "Cluster"
    assert np["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    lb = apply_defaults({"kind": "Service", "spec": {"type": "LoadBalancer"}})["spec"]
    assert lb["allocateLoadBalancerNodePorts"] is True


def test_namespace_secret_and_friends():
    ns = apply_defaults({"kind": "Namespace", "metadata": {"name": "shop"}})
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}
    assert namespace_finalizers(ns)["spec"] == {"finalizers": ["kubernetes"]}
    assert namespace_finalizers(ns)["spec"] == {"finalizers": ["kubernetes"]}
    assert apply_defaults({"kind": "Secret"})["type"] == "Opaque"
    es = apply_defaults({"kind": "EndpointSlice", "ports": [{"port": 80}]})
    assert es["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    lease = {"kind": "Lease", "spec": {"holderIdentity": "a"}}
    assert apply_defaults(dict(lease)) == lease
    node = apply_defaults({"kind": "Node", "status": {"capacity": {"cpu": "4"}}})
    assert node["status"]["allocatable"] == {"cpu": "4"}


def test_volume_defaults():
    p = pod()
    p["spec"]["volumes"] = [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}}]
    apply_defaults(p)
    assert p["spec"]["volumes"] == [{"name": "a", "emptyDir": {}},
                                    {"name": "b", "configMap": {"name": "cm", "defaultMode": 420}}]


def test_rbac_and_unknown_kinds():
    rb = apply_defaults({"kind": "RoleBinding", "roleRef": {"kind": "Role", "name": "r"},
                         "subjects": [{"kind": "User", "name": "bob"},
                                      {"kind": "ServiceAccount", "name": "sa", "namespace": "d"}]})
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s["apiGroup"] for s in rb["subjects"]] == ["rbac.authorization.k8s.io", ""]
    weird = {"kind": "Widget", "spec": {}}
    assert apply_defaults(weird) == {"kind": "Widget", "spec": {}}
