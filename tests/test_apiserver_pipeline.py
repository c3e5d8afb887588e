"""The API server's request pipeline, storage and watch, without the rest of the cluster."""

import json

import pytest

from k8slab.api.errors import StatusError
from k8slab.apiserver import APIServer, Credentials
from k8slab.client import Client
from k8slab.etcd import MVCCStore
from k8slab.sim import Loop

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}}


@pytest.fixture
def api():
    loop = Loop()
    server = APIServer(loop, MVCCStore(), seed=1)
    server.bootstrap()
    return server


@pytest.fixture
def admin(api):
    return Client(api, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))


def _busybox_pod(admin, **extra):
    """The namespace's default ServiceAccount (the ServiceAccount admission plugin needs it), then pod "p"."""
    admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": {"name": "default", "namespace": "default"}})
    return admin.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}, **extra})


def test_bootstrap_creates_namespaces_rbac_and_kubernetes_service(api):
    keys = api.etcd.keys("/registry/")
    for k in ("/registry/namespaces/default", "/registry/namespaces/kube-system",
              "/registry/namespaces/kube-node-lease", "/registry/clusterroles/system:kube-scheduler",
              "/registry/clusterrolebindings/system:kube-scheduler", "/registry/services/specs/default/kubernetes",
              "/registry/priorityclasses/system-node-critical"):
        assert k in keys
    svc = api.storage_get("services", "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"


def test_create_stores_json_under_registry_key_with_server_fields(api, admin):
    d = admin.create("deployments", DEPLOY)
    kv = api.etcd.get("/registry/deployments/default/web")
    stored = json.loads(kv.value)
    assert stored["metadata"]["uid"] == d["metadata"]["uid"]
    assert d["metadata"]["resourceVersion"] == str(kv.mod_revision)
    assert d["metadata"]["generation"] == 1
    # defaulting as pkg/apis/apps/v1/defaults.go
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    assert d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_every_stage_is_traced_in_order(api, admin):
    before = api.loop.trace.last_seq
    admin.create("deployments", DEPLOY)
    kinds = [e.kind for e in api.loop.trace.since(before)]
    assert kinds == ["request", "authn", "authz", "admission.mutating", "validation", "admission.validating",
                     "etcd.put", "response"]


def test_invalid_object_is_422_with_field_path_and_store_untouched(api, admin):
    bad = json.loads(json.dumps(DEPLOY))
    bad["spec"]["replicas"] = -1
    rev = api.etcd.revision
    with pytest.raises(StatusError) as ei:
        admin.create("deployments", bad)
    e = ei.value
    assert e.code == 422 and e.reason == "Invalid"
    assert 'Deployment.apps "web" is invalid' in e.message
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in e.message
    assert e.status["details"]["causes"][0]["field"] == "spec.replicas"
    assert api.etcd.revision == rev


def test_stale_resource_version_is_409_conflict(api, admin):
    d = admin.create("deployments", DEPLOY)
    stale = json.loads(json.dumps(d))
    fresh = json.loads(json.dumps(d))
    fresh["spec"]["replicas"] = 5
    admin.update("deployments", fresh)
    rev = api.etcd.revision
    stale["spec"]["replicas"] = 7
    with pytest.raises(StatusError) as ei:
        admin.update("deployments", stale)
    assert ei.value.code == 409 and ei.value.reason == "Conflict"
    assert ei.value.message == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                                'modified; please apply your changes to the latest version and try again')
    assert api.etcd.revision == rev


def test_update_with_a_wrongly_typed_field_is_400_whichever_part_changed(api, admin):
    d = admin.create("deployments", DEPLOY)
    rev = api.etcd.revision
    # the spec is byte for byte the stored one, a label is of the wrong type
    bad = json.loads(json.dumps(d))
    bad["metadata"]["labels"] = {"app": 1}
    with pytest.raises(StatusError) as ei:
        admin.update("deployments", bad)
    assert ei.value.code == 400
    assert "cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string" in ei.value.message
    # the metadata is unchanged, a quantity in the spec does not parse
    bad = json.loads(json.dumps(d))
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "lots"}}
    with pytest.raises(StatusError) as ei:
        admin.update("deployments", bad)
    assert ei.value.code == 400 and "quantities must match the regular expression" in ei.value.message
    assert api.etcd.revision == rev


def test_not_found_and_already_exists(api, admin):
    with pytest.raises(StatusError) as ei:
        admin.get("deployments", "nope", namespace="default")
    assert ei.value.code == 404 and ei.value.message == 'deployments.apps "nope" not found'
    admin.create("deployments", DEPLOY)
    with pytest.raises(StatusError) as ei:
        admin.create("deployments", DEPLOY)
    assert ei.value.code == 409 and ei.value.reason == "AlreadyExists"


def test_rbac_forbids_and_allows_per_identity(api):
    sched = Client(api, "kube-scheduler", Credentials.x509("system:kube-scheduler"))
    sched.list("nodes")
    with pytest.raises(StatusError) as ei:
        sched.create("deployments", DEPLOY)
    assert ei.value.code == 403
    assert ei.value.message == ('deployments.apps is forbidden: User "system:kube-scheduler" cannot create '
                                'resource "deployments" in API group "apps" in the namespace "default"')
    anon = Client(api, "curl", None)
    with pytest.raises(StatusError) as ei:
        anon.list("pods", "default")
    assert ei.value.code == 403 and 'User "system:anonymous"' in ei.value.message


def test_unknown_token_is_401(api):
    c = Client(api, "curl", Credentials.bearer("not-a-token"))
    with pytest.raises(StatusError) as ei:
        c.list("pods", "default")
    assert ei.value.code == 401 and ei.value.reason == "Unauthorized"


def test_node_authorizer_limits_kubelet_to_its_own_node(api, admin):
    kubelet = Client(api, "kubelet/n1", Credentials.x509("system:node:n1", "system:nodes"))
    kubelet.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    admin.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}})
    with pytest.raises(StatusError) as ei:
        kubelet.patch("nodes", "n2", {"metadata": {"labels": {"x": "y"}}})
    assert ei.value.code == 403


def test_namespace_must_exist(api, admin):
    bad = json.loads(json.dumps(DEPLOY))
    bad["metadata"]["namespace"] = "nowhere"
    with pytest.raises(StatusError) as ei:
        admin.create("deployments", bad)
    assert ei.value.code == 404 and ei.value.message == 'namespaces "nowhere" not found'


def test_status_subresource_and_main_resource_are_kept_apart(api, admin):
    d = admin.create("deployments", DEPLOY)
    d2 = json.loads(json.dumps(d))
    d2["status"] = {"replicas": 99}
    d2["spec"]["replicas"] = 3
    out = admin.update("deployments", d2)
    assert out["status"] == {} and out["spec"]["replicas"] == 3 and out["metadata"]["generation"] == 2
    d3 = json.loads(json.dumps(out))
    d3["status"] = {"replicas": 3}
    d3["spec"]["replicas"] = 50
    out2 = admin.update_status("deployments", d3)
    assert out2["status"] == {"replicas": 3} and out2["spec"]["replicas"] == 3 and out2["metadata"]["generation"] == 2


def test_binding_sets_node_name_once(api, admin):
    pod = admin.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}) \
        if api.storage_get("serviceaccounts", "default", "default") else None
    if pod is None:
        admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": "default"}})
        pod = admin.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "p", "namespace": "default"},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert pod["status"]["phase"] == "Pending" and pod["spec"]["priority"] == 0
    assert pod["spec"]["serviceAccountName"] == "default"
    assert any(t["key"] == "node.kubernetes.io/not-ready" and t["tolerationSeconds"] == 300
               for t in pod["spec"]["tolerations"])
    admin.bind(pod, "n1")
    bound = admin.get("pods", "p", "default")
    assert bound["spec"]["nodeName"] == "n1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][0].items()
    with pytest.raises(StatusError) as ei:
        admin.bind(pod, "n2")
    assert ei.value.code == 409 and 'is already assigned to node "n1"' in ei.value.message


def test_watch_delivers_events_as_later_steps_and_respects_field_selector(api, admin):
    seen = []
    admin.watch("pods", lambda t, o: seen.append((t, o["metadata"]["name"], o["spec"].get("nodeName"))),
                field_selector="spec.nodeName=n1")
    pod = _busybox_pod(admin)
    api.loop.settle()
    assert seen == []  # not on n1 yet
    admin.bind(pod, "n1")
    assert seen == []  # delivered by a later loop step
    api.loop.settle()
    assert seen == [("ADDED", "p", "n1")]  # entered the selector: ADDED


def test_service_cluster_ip_allocation_and_errors(api, admin):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    out = admin.create("services", svc)
    import ipaddress
    assert ipaddress.ip_address(out["spec"]["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert out["spec"]["ports"][0]["targetPort"] == 80 and out["spec"]["type"] == "ClusterIP"
    taken = json.loads(json.dumps(svc))
    taken["metadata"]["name"] = "web2"
    taken["spec"]["clusterIP"] = out["spec"]["clusterIP"]
    rev = api.etcd.revision
    with pytest.raises(StatusError) as ei:
        admin.create("services", taken)
    assert ei.value.code == 422 and "provided IP is already allocated" in ei.value.message
    outside = json.loads(json.dumps(taken))
    outside["spec"]["clusterIP"] = "10.200.0.1"
    with pytest.raises(StatusError) as ei:
        admin.create("services", outside)
    assert "The range of valid IPs is 10.96.0.0/12" in ei.value.message
    assert api.etcd.revision == rev


def test_graceful_pod_deletion_marks_then_removes(api, admin):
    pod = _busybox_pod(admin)
    admin.bind(pod, "n1")
    marked = admin.delete("pods", "p", "default")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30 and marked["metadata"]["deletionTimestamp"]
    assert api.etcd.get("/registry/pods/default/p") is not None
    admin.delete("pods", "p", "default", grace_period_seconds=0)
    assert api.etcd.get("/registry/pods/default/p") is None


def _count_authorizations(api) -> list:
    calls = []
    real = api.authorizer.authorize

    def counting(attrs):
        calls.append(attrs)
        return real(attrs)

    api.authorizer.authorize = counting
    return calls


def test_decisions_are_shared_across_names_only_when_no_rule_names_objects(api, admin):
    admin.create("roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                           "metadata": {"name": "r", "namespace": "default"},
                           "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                                     {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                                      "resourceNames": ["a"]}]})
    admin.create("rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                  "metadata": {"name": "rb", "namespace": "default"},
                                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                                  "subjects": [{"kind": "User", "name": "jane"}]})
    calls = _count_authorizations(api)
    jane = Client(api, "kubectl", Credentials.x509("jane"))
    for name in ("p1", "p2", "p3"):  # no rule names pods: one evaluation answers every name
        with pytest.raises(StatusError) as ei:
            jane.get("pods", name, "default")
        assert ei.value.code == 404
    assert len(calls) == 1
    for name, code in (("a", 404), ("b", 403), ("a", 404), ("b", 403)):  # a rule names configmaps: per name
        with pytest.raises(StatusError) as ei:
            jane.get("configmaps", name, "default")
        assert ei.value.code == code
    assert len(calls) == 3


def test_node_lease_decisions_stay_per_name(api, admin):
    kubelet = Client(api, "kubelet/n1", Credentials.x509("system:node:n1", "system:nodes"))
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "n1"}}
    mine = kubelet.create("leases", lease)
    other = admin.create("leases", {**lease, "metadata": {"name": "n2", "namespace": "kube-node-lease"}})
    kubelet.update("leases", mine)
    with pytest.raises(StatusError) as ei:
        kubelet.update("leases", other)
    assert ei.value.code == 403 and '"n2" is forbidden' in ei.value.message
    kubelet.get("leases", "n1", "kube-node-lease")


def test_binding_leaves_the_object_it_replaced_unchanged(api, admin):
    pod = _busybox_pod(admin, status={"conditions": [{"type": "PodScheduled", "status": "False"}]})
    before = json.dumps(pod, sort_keys=True)
    admin.bind(pod, "n1")
    assert json.dumps(pod, sort_keys=True) == before  # what watchers and informers hold is never changed
    bound = admin.get("pods", "p", "default")
    assert bound is not pod and int(bound["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])
    assert [c["type"] for c in bound["status"]["conditions"]] == ["PodScheduled"]
    assert bound["status"]["conditions"][0]["status"] == "True"
    assert json.loads(api.etcd.get("/registry/pods/default/p").value)["spec"]["nodeName"] == "n1"


def test_indexed_node_watches_see_their_pods_enter_change_and_leave(api, admin):
    seen = {n: [] for n in ("n1", "n2")}
    for n in seen:
        admin.watch("pods", lambda t, o, n=n: seen[n].append((t, o["metadata"]["name"])),
                    field_selector=f"spec.nodeName={n}")
    others = []
    admin.watch("pods", lambda t, o: others.append((t, o["metadata"]["name"])), field_selector="spec.nodeName!=n1")
    pod = _busybox_pod(admin)
    admin.bind(pod, "n1")
    bound = admin.get("pods", "p", "default")
    admin.update_status("pods", {**bound, "status": {**bound["status"], "phase": "Running"}})
    admin.delete("pods", "p", "default", grace_period_seconds=0)
    api.loop.settle()
    assert seen == {"n1": [("ADDED", "p"), ("MODIFIED", "p"), ("DELETED", "p")], "n2": []}
    assert others == [("ADDED", "p"), ("DELETED", "p")]  # on no node, then bound to n1: it left the selector


def test_a_stopped_indexed_watch_is_forgotten_at_its_next_event(api, admin):
    seen = []
    w = admin.watch("pods", lambda t, o: seen.append(t), field_selector="spec.nodeName=n1")
    kept = admin.watch("pods", lambda t, o: seen.append(("kept", t)), field_selector="spec.nodeName=n1")
    assert api.triggered["pods"]["n1"] == [w, kept]
    w.stop()
    pod = _busybox_pod(admin)
    admin.bind(pod, "n1")
    api.loop.settle()
    assert seen == [("kept", "ADDED")]  # a stopped watch gets nothing
    assert api.triggered["pods"]["n1"] == [kept]
    kept.stop()
    admin.delete("pods", "p", "default", grace_period_seconds=0)
    api.loop.settle()
    assert "n1" not in api.triggered["pods"]
