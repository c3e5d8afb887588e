"""Mirrors: sigs.k8s.io/metrics-server pkg/scraper (scraper.go, client/resource/client.go, decode.go),
pkg/storage (node.go, pod.go: the rate from the last two points), pkg/api (node.go, pod.go: NodeMetrics and
PodMetrics of metrics.k8s.io/v1beta1) and staging/src/k8s.io/kubectl/pkg/cmd/top (top_node.go, top_pod.go and
metricsutil/metrics_printer.go).

metrics-server is an add-on, not part of the control plane. Every ``--metric-resolution`` (15 s) it scrapes
``https://<node>:10250/metrics/resource`` on every node, keeps the last two samples of each container's and node's
cumulative CPU counter and its current memory working set, and serves the Metrics API
(``metrics.k8s.io/v1beta1``) through the API server's aggregation layer: CPU usage is the counter's rate between
two scrapes, memory the last working set. ``kubectl top`` and the HorizontalPodAutoscaler read it. It keeps
nothing on disk and no history: it is a pipeline for autoscaling, not a monitoring system.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api.objects import rfc3339
from ..api.quantity import format_quantity, parse_quantity

METRIC_RESOLUTION_MS = 15_000
FRESH_CONTAINER_MIN_METRICS_RESOLUTION_MS = 10_000
API_VERSION = "metrics.k8s.io/v1beta1"
EPOCH_MS = 1767225600 * 1000


@dataclass
class Point:
    ts_ms: int  # sample time (ms since the simulation's epoch)
    cpu_ms: float  # cumulative CPU time, CPU-milliseconds
    memory: int  # working set bytes
    start_ms: int | None = None  # container start (ms)


def parse_resource_metrics(text: str) -> tuple[dict, dict]:
    """decodeBatch: the node point and {(namespace, pod): {container: Point}} from /metrics/resource text."""
    node: dict = {}
    pods: dict = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, rest = line.partition(" ")
        parts = rest.split()
        val = float(parts[0])
        ts = int(parts[1]) - EPOCH_MS if len(parts) > 1 else 0
        name, _, labels_text = name_labels.partition("{")
        labels = {}
        for kv in labels_text.rstrip("}").split(","):
            if "=" in kv:
                k, v = kv.split("=", 1)
                labels[k] = v.strip('"')
        if name == "node_cpu_usage_seconds_total":
            node["cpu"] = (val * 1000, ts)
        elif name == "node_memory_working_set_bytes":
            node["memory"] = int(val)
        elif name.startswith("container_"):
            key = (labels["namespace"], labels["pod"])
            c = pods.setdefault(key, {}).setdefault(labels["container"], {})
            if name == "container_cpu_usage_seconds_total":
                c["cpu"] = (val * 1000, ts)
            elif name == "container_memory_working_set_bytes":
                c["memory"] = int(val)
            elif name == "container_start_time_seconds":
                c["start"] = int(round(val * 1000)) - EPOCH_MS
    node_point = Point(node["cpu"][1], node["cpu"][0], node.get("memory", 0)) if "cpu" in node else None
    pod_points = {k: {n: Point(c["cpu"][1], c["cpu"][0], c.get("memory", 0), c.get("start"))
                      for n, c in cs.items() if "cpu" in c} for k, cs in pods.items()}
    return node_point, pod_points


def _rate_nanocores(prev: Point, last: Point) -> int | None:
    if last.ts_ms <= prev.ts_ms or last.cpu_ms < prev.cpu_ms:
        return None  # counter reset or no time passed
    return int((last.cpu_ms - prev.cpu_ms) * 1_000_000 / (last.ts_ms - prev.ts_ms) * 1000)


def cpu_quantity(nanocores: int) -> str:
    return f"{nanocores}n"


def memory_quantity(b: int) -> str:
    """resource.NewQuantity(bytes, BinarySI) as the Metrics API prints it (Ki when divisible by 1024...)."""
    return format_quantity(parse_quantity(str(b)), "BinarySI")


def _window(ms: int) -> str:
    from ..kubelet.status import go_duration

    return go_duration(ms)


class MetricsServer:
    """The metrics-server add-on: a scraper on a 15 s timer and the Metrics API over its in-memory storage."""

    def __init__(self, loop, client, kubelets, resolution_ms: int = METRIC_RESOLUTION_MS) -> None:
        self.loop = loop
        self.client = client  # lists Nodes through the API server (to know whom to scrape)
        self.kubelets = kubelets  # node name -> kubelet: the network path to https://<node>:10250
        self.resolution_ms = resolution_ms
        self.component = "metrics-server"
        self.nodes: dict[str, tuple[Point | None, Point]] = {}
        self.pods_last: dict[tuple[str, str], dict[str, Point]] = {}
        self.pods_prev: dict[tuple[str, str], dict[str, Point]] = {}
        self.scrapes = 0
        self.timer = None

    def start(self) -> None:
        self.timer = self.loop.call_later(self.resolution_ms, self.scrape, component=self.component,
                                          label="scrape kubelets", background=True)

    def scrape(self) -> None:
        """One scrape cycle: every Ready node's /metrics/resource, then store."""
        self.scrapes += 1
        nodes = self.client.list("nodes")["items"]
        seen_pods: set = set()
        for node in nodes:
            name = node["metadata"]["name"]
            kubelet = self.kubelets(name)
            if kubelet is None or not kubelet.registered:
                continue
            from ..kubelet.stats import resource_metrics

            text = resource_metrics(kubelet)
            self.loop.emit(self.component, "scrape", f"nodes/{name}", {"path": "/metrics/resource",
                                                                        "bytes": len(text)},
                           target=f"kubelet/{name}")
            node_point, pod_points = parse_resource_metrics(text)
            if node_point is not None:
                prev = self.nodes.get(name, (None, None))[1]
                self.nodes[name] = (prev, node_point)
            for key, containers in pod_points.items():
                seen_pods.add(key)
                self._store_pod(key, containers)
        for key in [k for k in self.pods_last if k not in seen_pods]:
            del self.pods_last[key]
            self.pods_prev.pop(key, None)
        self.timer = self.loop.call_later(self.resolution_ms, self.scrape, component=self.component,
                                          label="scrape kubelets", background=True)

    def _store_pod(self, key: tuple[str, str], containers: dict[str, Point]) -> None:
        """podStorage.Store: keep the last point and the one before it, unless the container restarted; a fresh
        container (started 10 s to one resolution ago) gets a synthetic previous point of 0 CPU at its start."""
        last_pod, prev_pod = self.pods_last.get(key, {}), self.pods_prev.get(key, {})
        prev: dict[str, Point] = {}
        for name, p in containers.items():
            age = p.ts_ms - p.start_ms if p.start_ms is not None else -1
            if 0 < age < self.resolution_ms and age >= FRESH_CONTAINER_MIN_METRICS_RESOLUTION_MS:
                prev[name] = Point(p.start_ms, 0.0, p.memory, p.start_ms)
            elif name in last_pod and p.start_ms is not None and p.start_ms < last_pod[name].ts_ms:
                if p.ts_ms > last_pod[name].ts_ms:
                    prev[name] = last_pod[name]
                elif name in prev_pod and prev_pod[name].ts_ms < p.ts_ms:
                    prev[name] = prev_pod[name]
        if prev:
            self.pods_prev[key] = prev
        else:
            self.pods_prev.pop(key, None)
        self.pods_last[key] = dict(containers)

    # -- the Metrics API --------------------------------------------------------------------------------------
    def node_metrics(self, name: str | None = None) -> list[dict]:
        """GET /apis/metrics.k8s.io/v1beta1/nodes: one NodeMetrics per node with two samples."""
        out = []
        for node, (prev, last) in sorted(self.nodes.items()):
            if name is not None and node != name:
                continue
            if prev is None:
                continue
            rate = _rate_nanocores(prev, last)
            if rate is None:
                continue
            out.append({"kind": "NodeMetrics", "apiVersion": API_VERSION,
                        "metadata": {"name": node, "creationTimestamp": rfc3339(self.loop.now)},
                        "timestamp": rfc3339(last.ts_ms), "window": _window(last.ts_ms - prev.ts_ms),
                        "usage": {"cpu": cpu_quantity(rate), "memory": memory_quantity(last.memory)}})
        return out

    def pod_metrics(self, namespace: str | None = "default", name: str | None = None) -> list[dict]:
        """GET /apis/metrics.k8s.io/v1beta1/namespaces/<ns>/pods: a PodMetrics per pod whose every container
        has two points."""
        out = []
        for (ns, pod), containers in sorted(self.pods_last.items()):
            if namespace is not None and ns != namespace or name is not None and pod != name:
                continue
            prevs = self.pods_prev.get((ns, pod), {})
            cs, ts, window = [], 0, 0
            for cname, last in sorted(containers.items()):
                prev = prevs.get(cname)
                if prev is None:
                    cs = None  # every container needs two points
                    break
                rate = _rate_nanocores(prev, last)
                if rate is None:
                    cs = None
                    break
                cs.append({"name": cname, "usage": {"cpu": cpu_quantity(rate),
                                                    "memory": memory_quantity(last.memory)}})
                ts, window = last.ts_ms, last.ts_ms - prev.ts_ms
            if not cs:
                continue
            out.append({"kind": "PodMetrics", "apiVersion": API_VERSION,
                        "metadata": {"name": pod, "namespace": ns, "creationTimestamp": rfc3339(self.loop.now)},
                        "timestamp": rfc3339(ts), "window": _window(window), "containers": cs})
        return out


def components_yaml(image: str = "registry.k8s.io/metrics-server/metrics-server:v0.8.0") -> list[dict]:
    """What ``kubectl apply -f components.yaml`` creates (the parts the model uses): the ServiceAccount, its
    ClusterRole and binding, the Deployment, and the Service the APIService points at."""
    labels = {"k8s-app": "metrics-server"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": dict(labels)}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:metrics-server", "labels": dict(labels)},
         "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:metrics-server", "labels": dict(labels)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:metrics-server"},
         "subjects": [{"kind": "ServiceAccount", "name": "metrics-server", "namespace": "kube-system"}]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": dict(labels)},
         "spec": {"selector": {"matchLabels": dict(labels)}, "strategy": {"rollingUpdate": {"maxUnavailable": 0}},
                  "template": {"metadata": {"labels": dict(labels)}, "spec": {
                      "serviceAccountName": "metrics-server", "priorityClassName": "system-cluster-critical",
                      "containers": [{"name": "metrics-server", "image": image,
                                      "args": ["--cert-dir=/tmp", "--secure-port=10250",
                                               "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
                                               "--kubelet-use-node-status-port", "--metric-resolution=15s"],
                                      "ports": [{"name": "https", "containerPort": 10250, "protocol": "TCP"}],
                                      "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
                                      "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https",
                                                                     "scheme": "HTTPS"},
                                                         "initialDelaySeconds": 20, "periodSeconds": 10}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": dict(labels)},
         "spec": {"selector": dict(labels), "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                        "targetPort": "https"}]}},
    ]
