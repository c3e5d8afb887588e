"""Behaviour through the Cluster facade: a Deployment and a Service from apply to traffic."""

import ipaddress
import json

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.examples import NGINX, tour_cluster


@pytest.fixture(scope="module")
def tour():
    return tour_cluster()


def test_cluster_boots_with_ready_nodes_and_coredns():
    c = Cluster(nodes=2, seed=3)
    nodes = c.get("nodes")
    assert nodes.names == ["control-plane", "node-1", "node-2"]
    for n in nodes:
        ready = next(x for x in n["status"]["conditions"] if x["type"] == "Ready")
        assert ready["status"] == "True"
        assert n["spec"]["podCIDR"].startswith("10.244.")
    dns = c.get("pods", namespace="kube-system", selector="k8s-app=kube-dns")
    assert len(dns) == 2 and all(p["status"]["phase"] == "Running" for p in dns)
    assert c.get("service", "kube-dns", namespace="kube-system")["spec"]["clusterIP"] == "10.96.0.10"


def test_pods_run_on_workers_with_ips_from_their_node_cidr(tour):
    pods = tour.get("pods", selector="app=web")
    assert len(pods) == 3
    for p in pods:
        assert p["status"]["phase"] == "Running"
        node = tour.get("node", p["spec"]["nodeName"])
        assert node["metadata"]["name"] != "control-plane"  # tainted NoSchedule
        assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
        conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
        assert conds["Ready"] == "True" and conds["PodScheduled"] == "True"
    d = tour.get("deployment", "web")
    assert d["status"]["availableReplicas"] == 3
    assert {c["type"]: c["reason"] for c in d["status"]["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


def test_journey_is_in_the_trace_with_causes(tour):
    kinds = [(e.component.split("/")[0], e.kind) for e in tour.trace]
    for want in [("kube-controller-manager", "reconcile"), ("kube-scheduler", "bind"),
                 ("kubelet", "cri.RunPodSandbox"), ("kubelet", "cri.StartContainer"),
                 ("kube-proxy", "sync_proxy_rules")]:
        assert want in kinds
    binds = [e for e in tour.trace if e.kind == "request" and e.ref.endswith("/binding")]
    assert len(binds) >= 3 and all(e.component == "kube-scheduler" for e in binds)
    # every step's first event points to an earlier event that caused it
    for e in tour.trace.filter(kind="watch"):
        cause = tour.trace.by_seq(e.cause)
        assert cause is not None and cause.kind.startswith("etcd.")


def test_endpointslice_and_iptables_follow_the_pods(tour):
    slices = tour.get("endpointslices", selector="kubernetes.io/service-name=web")
    assert len(slices) == 1
    eps = slices[0]["endpoints"]
    assert sorted(e["addresses"][0] for e in eps) == sorted(p["status"]["podIP"] for p in
                                                            tour.get("pods", selector="app=web"))
    assert all(e["conditions"]["ready"] for e in eps)
    assert slices[0]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    nat = tour.node("node-2").kube_proxy.iptables_save("nat")
    assert "--probability 0.3333333333" in nat and "--probability 0.5000000000" in nat
    assert nat.count("-j DNAT --to-destination 10.244.") >= 3


def test_dns_and_requests_reach_every_pod(tour):
    ip = tour.get("service", "web")["spec"]["clusterIP"]
    assert tour.dns.resolve("web.default.svc.cluster.local").addresses == [ip]
    look = tour.dns.resolve("web", namespace="default")
    assert look.queries[0].name == "web.default.svc.cluster.local" and look.addresses == [ip]
    assert tour.dns.resolve("nope.default.svc.cluster.local").addresses == []
    answered = {}
    for _ in range(300):
        r = tour.request("http://web.default")
        assert r.status == "200 OK"
        answered[r.pod] = answered.get(r.pod, 0) + 1
    assert set(answered) == set(tour.get("pods", selector="app=web").names)
    assert min(answered.values()) > 60  # about a third each


def test_same_seed_same_trace_different_seed_different():
    def run(seed):
        c = Cluster(nodes=2, seed=seed)
        c.apply(NGINX)
        c.settle()
        return c.trace.fingerprint(), [p["metadata"]["name"] for p in c.get("pods", selector="app=web")]

    a, b, d = run(7), run(7), run(8)
    assert a == b
    assert a[0] != d[0]


BAD = [
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n", 400, "yaml: line"),
    ("apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", None, 'no matches for kind "Pdo" in version "v1"'),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}\n", 422,
     "spec.containers[0].image: Required value"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -2\n  selector: {matchLabels: "
     "{a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: nginx}]}}\n", 422,
     "spec.replicas: Invalid value: -2: must be greater than or equal to 0"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 70000}]}\n", 422,
     "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, image: i, resources: {requests: "
     "{cpu: lots}}}]}\n", 400, "quantities must match the regular expression"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: three\n  selector: "
     "{matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: nginx}]}}\n",
     400, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
]


@pytest.mark.parametrize("text,code,message", BAD)
def test_bad_input_is_rejected_and_changes_nothing(tour, text, code, message):
    rev = tour.etcd.revision
    with pytest.raises(StatusError) as ei:
        tour.apply(text)
    if code is not None:
        assert ei.value.code == code
    assert message in str(ei.value)
    assert tour.etcd.revision == rev


def test_stale_resource_version_conflicts(tour):
    d = tour.get("deployment", "web")
    tour.admin.update("deployments", json.loads(json.dumps(d)))  # a no-op update keeps the version
    d2 = json.loads(json.dumps(d))
    d2["spec"]["minReadySeconds"] = 1
    tour.admin.update("deployments", d2)
    rev = tour.etcd.revision
    d["spec"]["minReadySeconds"] = 2
    with pytest.raises(StatusError) as ei:
        tour.admin.update("deployments", d)
    assert ei.value.code == 409 and tour.etcd.revision == rev


def test_scale_and_delete_cascade():
    c = Cluster(nodes=2, seed=1)
    c.apply(NGINX)
    c.settle()
    c.scale("deployment", "web", 5)
    c.settle()
    assert len(c.get("pods", selector="app=web")) == 5
    c.scale("deployment", "web", 0)
    c.settle()
    assert len(c.get("pods", selector="app=web")) == 0
    r = c.request("http://web.default")
    assert r.status.startswith("connection refused") and r.walk.rejected
    c.delete("deployment", "web")
    c.settle()
    assert len(c.get("replicasets")) == 0
    c.delete("service", "web")
    c.settle()
    assert "default/web:http" not in c.node("node-1").kube_proxy.iptables_save()
    assert len(c.get("endpointslices", selector="kubernetes.io/service-name=web")) == 0


def test_rolling_update_replaces_pods_within_bounds():
    c = Cluster(nodes=3, seed=2)
    c.apply(NGINX)
    c.settle()
    old = set(c.get("pods", selector="app=web").names)
    c.apply(NGINX.replace("nginx:1.27", "nginx:1.28"))
    max_pods, min_avail = 0, 99
    while c.loop.pending:
        c.step()
        pods = [p for p in c.apiserver.cache["pods"].values()
                if (p["metadata"].get("labels") or {}).get("app") == "web"]
        max_pods = max(max_pods, len([p for p in pods if not p["metadata"].get("deletionTimestamp")]))
        ready = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and any(
            x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions", [])))
        min_avail = min(min_avail, ready)
    new = c.get("pods", selector="app=web")
    assert not (set(new.names) & old) and len(new) == 3
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in new)
    assert max_pods <= 3 + 1  # maxSurge 25% of 3 rounds up to 1
    assert min_avail >= 3 - 0  # maxUnavailable 25% of 3 rounds down to 0
    assert len(c.get("replicasets")) == 2


def test_failed_pod_creation_is_requeued_with_backoff_and_reported():
    c = Cluster(nodes=1, seed=4)
    c.apply(NGINX.split("---")[0].replace("      containers:", "      serviceAccountName: missing\n      containers:"))
    c.run(seconds=5)
    errors_ = [e for e in c.trace.filter(kind="reconcile.error") if e.component.endswith("/replicaset")]
    assert len(errors_) >= 3
    times = [e.time for e in errors_]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # exponential backoff between retries
    assert len(c.get("pods")) == 0
    assert any(e["reason"] == "FailedCreate" and 'serviceaccount "missing" not found' in e["message"]
               for e in c.get("events"))


def test_events_false_means_no_component_writes_events():
    c = Cluster(nodes=2, seed=0, events=False)
    c.apply("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: quiet}
spec:
  replicas: 2
  selector: {matchLabels: {app: quiet}}
  template:
    metadata: {labels: {app: quiet}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
""")
    c.settle()
    assert sum(1 for p in c.apiserver.cache["pods"].values() if p["status"].get("phase") == "Running"
               and p["metadata"]["namespace"] == "default") == 2
    assert not c.apiserver.cache.get("events")
