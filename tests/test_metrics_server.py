"""metrics-server: scraping /metrics/resource, the rate from two points, the Metrics API and kubectl top."""

from k8slab import Cluster
from k8slab.api import errors
from k8slab.cri import Behavior
from k8slab.metrics import parse_resource_metrics
from k8slab.metrics.server import MetricsServer, Point, _rate_nanocores, memory_quantity
from k8slab.metrics.top import top_nodes, top_pods

import pytest


def test_rate_and_quantities():
    assert _rate_nanocores(Point(0, 0.0, 0), Point(15_000, 3_750.0, 0)) == 250_000_000  # 250m
    assert _rate_nanocores(Point(0, 10.0, 0), Point(15_000, 5.0, 0)) is None  # counter reset
    assert memory_quantity(64 * 2**20) == "64Mi" and memory_quantity(1000) == "1k"  # below 1024: DecimalSI


def test_parse_resource_metrics():
    text = ('# TYPE container_cpu_usage_seconds_total counter\n'
            'container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2.5 1767225610000\n'
            'container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 1024 1767225610000\n'
            'container_start_time_seconds{container="app",namespace="default",pod="web"} 1767225600.5 '
            '1767225610000\n'
            'node_cpu_usage_seconds_total 7.25 1767225610000\nnode_memory_working_set_bytes 4096 1767225610000\n'
            'resource_scrape_error 0\n')
    node, pods = parse_resource_metrics(text)
    assert (node.ts_ms, node.cpu_ms, node.memory) == (10_000, 7250.0, 4096)
    p = pods[("default", "web")]["app"]
    assert (p.cpu_ms, p.memory, p.start_ms) == (2500.0, 1024, 500)


def test_top_formats_like_kubectl():
    nodes = [{"metadata": {"name": "node-1"}, "status": {"allocatable": {"cpu": "4", "memory": "8092Mi"}}},
             {"metadata": {"name": "node-2"}, "status": {"allocatable": {"cpu": "4", "memory": "8092Mi"}}}]
    metrics = [{"metadata": {"name": "node-1"}, "usage": {"cpu": "250000001n", "memory": "1024Mi"}}]
    assert top_nodes(metrics, nodes) == (
        "NAME     CPU(cores)   CPU(%)      MEMORY(bytes)   MEMORY(%)\n"
        "node-1   251m         6%          1024Mi          12%\n"
        "node-2   <unknown>    <unknown>   <unknown>       <unknown>\n")
    pods = [{"metadata": {"name": "web", "namespace": "default"},
             "containers": [{"name": "a", "usage": {"cpu": "1500000n", "memory": "3Mi"}},
                            {"name": "b", "usage": {"cpu": "1500000n", "memory": "2Mi"}}]}]
    assert top_pods(pods) == "NAME   CPU(cores)   MEMORY(bytes)\nweb    3m           5Mi\n"
    assert top_pods(pods, all_namespaces=True).splitlines()[1].split() == ["default", "web", "3m", "5Mi"]


def test_metrics_api_through_the_cluster():
    c = Cluster(nodes=1, metrics_server=True)
    c.set_behavior("web", "app", Behavior(cpu="250m", memory="64Mi"))
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
    c.settle()
    c.run(seconds=35)
    pm = c.metrics_server.pod_metrics("default", "web")[0]
    assert pm["apiVersion"] == "metrics.k8s.io/v1beta1" and pm["kind"] == "PodMetrics"
    assert pm["containers"] == [{"name": "app", "usage": {"cpu": "250000000n", "memory": "64Mi"}}]
    assert pm["window"] in ("15s",) or pm["window"].endswith("s")
    assert c.top_pods().splitlines()[1].split() == ["web", "250m", "64Mi"]
    lines = c.top_nodes().splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    scrapes = c.trace.filter(kind="scrape")
    times = sorted({e.time for e in scrapes})
    assert all(b - a == 15_000 for a, b in zip(times, times[1:]))  # --metric-resolution=15s
    assert {e.target for e in scrapes} == {"kubelet/control-plane", "kubelet/node-1"}


def test_top_without_metrics_server_is_an_error():
    c = Cluster(nodes=1)
    with pytest.raises(errors.StatusError, match="Metrics API not available"):
        c.top_nodes()


def test_fresh_container_gets_a_start_point():
    ms = MetricsServer(None, None, None)
    ms._store_pod(("default", "p"), {"c": Point(20_000, 1200.0, 10, start_ms=8_000)})
    assert ms.pods_prev[("default", "p")]["c"].ts_ms == 8_000  # 12 s old: between 10 s and one resolution
    ms._store_pod(("default", "q"), {"c": Point(20_000, 1200.0, 10, start_ms=15_000)})
    assert ("default", "q") not in ms.pods_prev  # only 5 s old: too fresh for an accurate rate
