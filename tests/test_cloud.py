"""cloud-controller-manager with the fake cloud: node initialisation, routes, load balancers, failures."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.cloud.controllers import TAINT_EXTERNAL_CLOUD_PROVIDER
from k8slab.cloud.provider import FakeCloud

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def lb_service(name):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}


@pytest.fixture(scope="module")
def c():
    c = Cluster(nodes=3, seed=0, cloud_provider="fake")
    c.apply(WEB)
    c.apply(lb_service("web"))
    c.settle()
    return c


def test_default_cluster_has_no_cloud():
    c = Cluster(nodes=1)
    assert c.cloud is None and c.cloud_controller_manager is None
    assert "providerID" not in c.get("node", "node-1")["spec"]
    with pytest.raises(ValueError):
        Cluster(nodes=1, cloud_provider="aws")


def test_nodes_initialised_from_instance_metadata(c):
    for name in c.nodes:
        node = c.get("node", name)
        inst = c.cloud.instances[name]
        assert node["spec"]["providerID"] == inst.provider_id == f"fake://lab-1/{inst.zone}/{inst.instance_id}"
        assert not any(t["key"] == TAINT_EXTERNAL_CLOUD_PROVIDER for t in node["spec"].get("taints") or ())
        labels = node["metadata"]["labels"]
        assert labels["topology.kubernetes.io/zone"] == inst.zone
        assert labels["topology.kubernetes.io/region"] == "lab-1"
        assert labels["node.kubernetes.io/instance-type"] == inst.instance_type
        assert node["status"]["addresses"] == [{"type": "InternalIP", "address": inst.private_ip},
                                               {"type": "ExternalIP", "address": inst.public_ip},
                                               {"type": "Hostname", "address": name}]
    zones = {c.cloud.instances[n].zone for n in c.nodes}
    assert zones == {"lab-1a", "lab-1b", "lab-1c"}
    reasons = [e["reason"] for e in c.events() if e["involvedObject"]["name"] == "node-1"]
    assert "Synced" in reasons


def test_registration_taint_kept_pods_off_until_initialised():
    c = Cluster(nodes=1, seed=3, cloud_provider="fake")
    first = next(e for e in c.trace if e.kind == "etcd.put" and e.ref == "nodes/node-1")
    created = [e for e in c.trace if e.kind == "request" and e.ref == "nodes/node-1" and e.data["verb"] == "create"]
    assert created and first
    init = next(e for e in c.trace if e.kind == "node.initialized" and e.ref == "nodes/node-1")
    binds = [e for e in c.trace if e.kind == "request" and e.data.get("subresource") == "binding"]
    assert binds and all(b.seq > init.seq for b in binds)


def test_one_route_per_node_pod_cidr(c):
    routes = {(r.target_node, r.destination_cidr) for r in c.cloud.routes.values()}
    assert routes == {(n, c.get("node", n)["spec"]["podCIDR"]) for n in c.nodes}
    cond = next(x for x in c.get("node", "node-1")["status"]["conditions"] if x["type"] == "NetworkUnavailable")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "RouteCreated",
                                                                 "RouteController created a route")


def test_load_balancer_for_service(c):
    svc = c.get("service", "web")
    lb = c.cloud.load_balancers[FakeCloud.get_load_balancer_name(svc)]
    assert lb.name == ("a" + svc["metadata"]["uid"].replace("-", ""))[:32]
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": lb.ip, "ipMode": "VIP"}]
    assert lb.hosts == ["node-1", "node-2", "node-3"]  # the control plane is excluded by its label
    assert lb.ports == [("TCP", 80, svc["spec"]["ports"][0]["nodePort"])]
    assert svc["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]
    reasons = [e["reason"] for e in c.events() if e["involvedObject"]["name"] == "web"
               and e["involvedObject"]["kind"] == "Service"]
    assert reasons[:2] == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    # service_controller.go records as v1.EventSource{Component: "service-controller"}
    sources = {e["source"]["component"] for e in c.events() if e["involvedObject"]["name"] == "web"
               and e["involvedObject"]["kind"] == "Service"}
    assert sources == {"service-controller"}


def test_failing_load_balancer_api_is_retried_with_backoff():
    c = Cluster(nodes=2, seed=1, cloud_provider="fake")
    c.cloud.fail("load_balancers")
    c.apply(lb_service("web"))
    c.run(seconds=40)
    evs = [e for e in c.events() if e["reason"] == "SyncLoadBalancerFailed"]
    assert len(evs) == 1 and evs[0]["type"] == "Warning" and evs[0]["count"] >= 3
    assert evs[0]["message"] == ("Error syncing load balancer: load balancers API unavailable (503 Service "
                                 "Unavailable)")
    errs = [e for e in c.trace if e.kind == "reconcile.error" and e.ref == "services/default/web"]
    gaps = [b.time - a.time for a, b in zip(errs, errs[1:])]
    assert gaps[:3] == [5000, 10000, 20000]  # minRetryDelay 5 s, doubling
    assert not c.get("service", "web")["status"]["loadBalancer"]
    c.cloud.heal()
    c.run(seconds=60)
    assert c.get("service", "web")["status"]["loadBalancer"]["ingress"]


def test_terminated_instance_node_is_deleted_and_lb_hosts_updated():
    c = Cluster(nodes=3, seed=2, cloud_provider="fake")
    c.apply(lb_service("web"))
    c.settle()
    t0 = c.now
    c.cloud.terminate_instance("node-2")
    c.run(seconds=120)
    with pytest.raises(StatusError):
        c.get("node", "node-2")
    deleted = next(e for e in c.trace if e.kind == "node.deleted" and e.ref == "nodes/node-2")
    unknown = next(e for e in c.trace if e.kind == "node.unknown" and e.ref == "nodes/node-2")
    assert t0 < unknown.time < deleted.time <= unknown.time + 5_000
    assert all(r.target_node != "node-2" for r in c.cloud.routes.values())
    lb = next(iter(c.cloud.load_balancers.values()))
    assert lb.hosts == ["node-1", "node-3"]
    msgs = [e["message"] for e in c.events() if e["reason"] == "DeletingNode"]
    assert msgs == ["Deleting node node-2 because it does not exist in the cloud provider"]


def test_deleting_service_deletes_load_balancer_first():
    c = Cluster(nodes=1, seed=4, cloud_provider="fake")
    c.apply(lb_service("web"))
    c.settle()
    assert len(c.cloud.load_balancers) == 1
    c.cloud.fail("load_balancers")
    c.delete("service", "web")
    c.run(seconds=10)
    assert c.get("service", "web")["metadata"]["deletionTimestamp"]  # held by the cleanup finalizer
    c.cloud.heal()
    c.run(seconds=60)
    assert c.cloud.load_balancers == {}
    with pytest.raises(StatusError):
        c.get("service", "web")


def test_fail_rejects_unknown_api():
    c = Cluster(nodes=1, seed=5, cloud_provider="fake")
    with pytest.raises(ValueError):
        c.cloud.fail("dns")
    with pytest.raises(KeyError):
        c.cloud.terminate_instance("node-9")


def test_pods_of_a_deleted_node_are_garbage_collected():
    c = Cluster(nodes=2, seed=6, cloud_provider="fake")
    c.apply(WEB)
    c.settle()
    victim = c.get("pods")[0]["spec"]["nodeName"]
    other = "node-1" if victim == "node-2" else "node-2"
    on_victim = sorted(p["metadata"]["name"] for p in c.get("pods") if p["spec"]["nodeName"] == victim)
    c.cloud.terminate_instance(victim)
    c.run(seconds=160)
    deleted = next(e.time for e in c.trace if e.kind == "node.deleted" and e.ref == f"nodes/{victim}")
    gc = [e for e in c.trace if e.kind == "pod.gc"]
    assert sorted(e.ref.rsplit("/", 1)[1] for e in gc if "/default/" in e.ref) == on_victim
    assert all(deleted + 40_000 <= e.time <= deleted + 40_000 + 20_000 for e in gc)
    assert all(e.data["why"] == "PodGC: node no longer exists" for e in gc)
    pods = c.get("pods")
    assert len(pods) == 2 and all(p["spec"]["nodeName"] == other for p in pods)


def test_stopped_instance_gets_shutdown_taint_and_keeps_its_node():
    c = Cluster(nodes=2, seed=7, cloud_provider="fake")
    c.cloud.stop_instance("node-2")
    c.run(seconds=120)
    node = c.get("node", "node-2")
    keys = {(t["key"], t["effect"]) for t in node["spec"]["taints"]}
    assert ("node.cloudprovider.kubernetes.io/shutdown", "NoSchedule") in keys
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert not any(e.kind == "node.deleted" for e in c.trace)
