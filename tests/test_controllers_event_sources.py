"""Each controller signs its Events with the source.component its upstream recorder uses."""

from k8slab import Cluster

UPSTREAM = {  # controller -> v1.EventSource{Component: ...} in pkg/controller/...
    "deployment": "deployment-controller",
    "replicaset": "replicaset-controller",
    "daemonset": "daemonset-controller",
    "job": "job-controller",
    "cronjob": "cronjob-controller",
    "endpointslice": "endpoint-slice-controller",
    "endpoints": "endpoint-controller",
    "nodelifecycle": "node-controller",
    "nodeipam": "cidrAllocator",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler",
    "taint-eviction-controller": "taint-eviction-controller",
}


def test_event_sources_are_upstreams():
    c = Cluster(nodes=1, seed=0)
    got = {name: c.controller_manager[name].recorder.component for name in UPSTREAM}
    assert got == UPSTREAM


def test_a_scaled_deployment_event_names_the_deployment_controller():
    c = Cluster(nodes=1, seed=0)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    c.settle()
    sources = {e["source"]["component"] for e in c.admin.list("events", "default")["items"]
               if e["reason"] == "ScalingReplicaSet"}
    assert sources == {"deployment-controller"}
