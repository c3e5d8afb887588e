"""EndpointSlice and Endpoints controllers through the Cluster: each Service's per-pod entries are kept from pod
events (ServicePodTracker), so after any sequence of changes they must equal a fresh computation, a node's zone
change must reach the endpoints, and a sync with nothing changed writes nothing."""

from k8slab import Cluster
from k8slab.controllers.endpointslice import MAX_ENDPOINTS_PER_SLICE, services_for_labels


def _app(name, replicas, labels=""):
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}{labels}}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{{name: http, containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


def _fresh(ctrl, key):
    """The entries a list of the selected pods and a fresh computation give."""
    svc = ctrl.svc_informer.get(key)
    sel = svc["spec"]["selector"]
    ns = svc["metadata"]["namespace"]
    out = {}
    for k, p in ctrl.pod_informer.store.items():
        labels = p["metadata"].get("labels") or {}
        if p["metadata"]["namespace"] == ns and all(labels.get(a) == b for a, b in sel.items()):
            out[k] = (p["metadata"]["resourceVersion"], ctrl._pod_entry(p, svc))
    return out


def test_tracked_entries_equal_a_fresh_computation():
    c = Cluster(nodes=2, seed=2)
    c.apply(_app("web", 5))
    c.settle()
    names = sorted(p["metadata"]["name"] for p in c.get("pods") if p["metadata"]["name"].startswith("web-"))
    c.admin.patch("pods", names[0], {"metadata": {"labels": {"app": "debug"}}}, namespace="default")
    c.delete("pod", names[1])
    c.scale("deployment", "web", 3)
    c.settle()
    for name in ("endpointslice", "endpoints"):
        ctrl = c.controller_manager[name]
        st = ctrl.tracker.states["default/web"]
        assert st.entries == _fresh(ctrl, "default/web"), name
        assert st.ordered() == sorted(k for k, (_rv, e) in st.entries.items() if e is not None)
    eps = c.get("endpointslices", selector="kubernetes.io/service-name=web")[0]["endpoints"]
    assert len(eps) == 3 and all(e["conditions"]["ready"] for e in eps)
    ep = c.get("endpoints", "web")
    assert len(ep["subsets"][0]["addresses"]) == 3


def test_node_zone_change_reaches_the_endpoints():
    c = Cluster(nodes=2, seed=0)
    c.apply(_app("web", 4))
    c.settle()
    node = c.get("endpointslices", selector="kubernetes.io/service-name=web")[0]["endpoints"][0]["nodeName"]
    c.admin.patch("nodes", node, {"metadata": {"labels": {"topology.kubernetes.io/zone": "zone-x"}}})
    c.settle()
    c.delete("pod", sorted(p["metadata"]["name"] for p in c.get("pods") if p["spec"].get("nodeName") == node)[0])
    c.settle()  # the pod event wakes the Service; the zone comes from the node as it is now
    eps = c.get("endpointslices", selector="kubernetes.io/service-name=web")[0]["endpoints"]
    assert {e.get("zone") for e in eps if e["nodeName"] == node} == {"zone-x"}
    assert all("zone" not in e for e in eps if e["nodeName"] != node)


def test_resync_with_nothing_changed_writes_nothing_and_slices_split_at_the_maximum():
    c = Cluster(nodes=3, seed=1)
    c.apply(_app("big", MAX_ENDPOINTS_PER_SLICE + 20))
    c.settle()
    slices = c.get("endpointslices", selector="kubernetes.io/service-name=big")
    assert sorted(len(s["endpoints"]) for s in slices) == [20, MAX_ENDPOINTS_PER_SLICE]
    ctrl = c.controller_manager["endpointslice"]
    writes = len([e for e in c.trace if e.kind == "request" and e.component.endswith("/endpointslice")])
    ctrl.queue.add("default/big")
    c.settle()
    assert len([e for e in c.trace if e.kind == "request" and e.component.endswith("/endpointslice")]) == writes
    # what the API holds is what a fresh computation gives, chunk by chunk
    endpoints, ports = ctrl.desired_endpoints(ctrl.svc_informer.get("default/big"))
    stored = sorted(slices, key=lambda s: s["metadata"]["name"])
    assert [e for s in stored for e in s["endpoints"]] == endpoints
    assert all(s["ports"] == ports for s in stored)


def test_services_for_labels_matches_every_selector_pair():
    c = Cluster(nodes=1, seed=0)
    c.apply("""
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {selector: {app: web, tier: fe}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: c}
spec: {ports: [{port: 80}]}
""")
    c.settle()
    inf = c.controller_manager["endpoints"].svc_informer
    assert services_for_labels(inf, "default", {"app": "web", "tier": "fe", "x": "y"}) == ["default/a", "default/b"]
    assert services_for_labels(inf, "default", {"app": "web"}) == ["default/b"]
    assert services_for_labels(inf, "default", {"tier": "fe"}) == []
    assert services_for_labels(inf, "kube-system", {"app": "web"}) == []


def test_services_for_labels_follows_service_changes():
    """The answers are remembered per label set; every change of a Service (create, selector change, delete)
    and a relist of the informer gives a fresh answer, and the caller may change the list it gets."""
    c = Cluster(nodes=1, seed=0)
    c.settle()
    inf = c.controller_manager["endpoints"].svc_informer
    web = {"app": "web", "tier": "fe"}
    assert services_for_labels(inf, "default", web) == []
    c.apply("""
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {selector: {app: web}, ports: [{port: 80}]}
""")
    c.settle()
    got = services_for_labels(inf, "default", web)
    assert got == ["default/a"]
    got.append("changed by the caller")
    assert services_for_labels(inf, "default", web) == ["default/a"]
    c.apply("""
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {selector: {app: web, tier: be}, ports: [{port: 80}]}
""")
    c.settle()
    assert services_for_labels(inf, "default", web) == []
    assert services_for_labels(inf, "default", {"app": "web", "tier": "be"}) == ["default/a"]
    inf.stop()
    c.delete("services", "a")
    c.settle()
    inf.store.clear()  # a relist into an emptied cache (the reflector's Replace)
    for idx in inf.indices.values():
        idx.clear()
    inf.start()
    assert services_for_labels(inf, "default", {"app": "web", "tier": "be"}) == []
    assert services_for_labels(inf, "default", {"app": 7, "tier": ["x"]}) == []  # unhashable values are not kept


def test_a_slice_or_endpoints_changed_by_someone_else_is_restored():
    c = Cluster(nodes=1, seed=0)
    c.apply(_app("web", 2))
    c.settle()
    s = c.get("endpointslices", selector="kubernetes.io/service-name=web")[0]
    want = s["endpoints"]
    c.admin.update("endpointslices", dict(s, endpoints=[]))
    ep = c.get("endpoints", "web")
    c.admin.update("endpoints", {k: v for k, v in ep.items() if k != "subsets"})
    c.settle()  # a changed slice wakes its Service; the Endpoints controller does not watch Endpoints updates
    c.controller_manager["endpoints"].queue.add("default/web")  # as a resync would
    c.settle()
    assert c.get("endpointslices", selector="kubernetes.io/service-name=web")[0]["endpoints"] == want
    assert c.get("endpoints", "web")["subsets"] == ep["subsets"]
