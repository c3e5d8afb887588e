"""Mirrors: pkg/kubelet/metrics/collectors/resource_metrics.go (the ``/metrics/resource`` endpoint),
pkg/kubelet/server/stats/summary.go (``/stats/summary``), pkg/kubelet/eviction/helpers.go (makeSignalObservations,
thresholdsMet) and pkg/kubelet/eviction/eviction_manager.go (the pressure transition period).

What the kubelet measures on its node, from the runtime's per-container usage (cAdvisor's role): CPU time and
memory working set per container, per pod and for the node (pods plus the system daemons), served in Prometheus
text format at ``/metrics/resource`` for metrics-server, and turned into eviction signals
(``memory.available``, ``nodefs.available``, ``pid.available``) that set the node's pressure conditions.
"""

from __future__ import annotations

from ..api.quantity import parse_quantity, value
from . import status as st

# What the node's own daemons (systemd, containerd, the kubelet) use: a model parameter, not an upstream value.
SYSTEM_CPU_MILLI = 60
SYSTEM_MEMORY_BYTES = 400 * 2**20
SYSTEM_DISK_BYTES = 6 * 2**30  # the OS and the kubelet's and containerd's state
SYSTEM_PIDS = 250
PIDS_PER_CONTAINER = 4
PID_MAX = 4194304  # kernel.pid_max on a 64-bit node
EVICTION_PRESSURE_TRANSITION_PERIOD_MS = 5 * 60 * 1000  # --eviction-pressure-transition-period default
EVICTION_MONITORING_INTERVAL_MS = 10_000  # the eviction manager's housekeeping interval

HELP = {
    "container_cpu_usage_seconds_total": ("counter", "[STABLE] Cumulative cpu time consumed by the container in "
                                                     "core-seconds"),
    "container_memory_working_set_bytes": ("gauge", "[STABLE] Current working set of the container in bytes"),
    "container_start_time_seconds": ("gauge", "[STABLE] Start time of the container since unix epoch in seconds"),
    "node_cpu_usage_seconds_total": ("counter", "[STABLE] Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "[STABLE] Current working set of the node in bytes"),
    "pod_cpu_usage_seconds_total": ("counter", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "[STABLE] Current working set of the pod in bytes"),
    "resource_scrape_error": ("gauge", "[STABLE] 1 if there was an error while getting container metrics, "
                                       "0 otherwise"),
}


def container_stats(kubelet) -> list[dict]:
    """One row per running container the kubelet runs: pod, namespace, name, cpu_ms (cumulative), memory
    (working set bytes), milli_cpu (current rate), start_ms."""
    rt = kubelet.runtime
    containers = rt.containers
    stats_of = rt.running_container_stats
    out = []
    for w in kubelet.workers.values():
        for r in w.containers:
            cid = r.container_id
            c = containers.get(cid) if cid else None
            if c is None or c.state != "CONTAINER_RUNNING":
                continue
            milli, mem, cpu_ms = stats_of(c)
            out.append({"pod": w.name, "namespace": w.namespace, "container": r.name, "id": cid,
                        "cpu_ms": cpu_ms, "memory": mem, "milli_cpu": milli, "start_ms": c.started_ms})
    return out


def node_usage(kubelet) -> dict:
    """The node's usage now: pods plus the system daemons (cpu_ms cumulative since the kubelet started)."""
    rt = kubelet.runtime
    containers = rt.containers
    stats_of = rt.running_container_stats
    up = kubelet.loop.now - (kubelet.started_at or 0)
    seen = kubelet.cpu_seen  # container id -> CPU ms last measured: exited containers keep counting
    milli_total = mem_total = n = 0
    for w in kubelet.workers.values():
        for r in w.containers:
            cid = r.container_id
            c = containers.get(cid) if cid else None
            if c is None or c.state != "CONTAINER_RUNNING":
                continue
            milli, mem, seen[cid] = stats_of(c)
            milli_total += milli
            mem_total += mem
            n += 1
    return {"cpu_ms": sum(seen.values()) + SYSTEM_CPU_MILLI * up // 1000,
            "milli_cpu": milli_total + SYSTEM_CPU_MILLI,
            "memory": mem_total + SYSTEM_MEMORY_BYTES,
            "containers": n}


def _seconds(ms: int) -> str:
    return repr(ms / 1000)


def resource_metrics(kubelet) -> str:
    """GET /metrics/resource: the Prometheus text metrics-server scrapes (values with millisecond timestamps)."""
    now_ms = kubelet.loop.now
    ts = str(1767225600 * 1000 + now_ms)
    rows = container_stats(kubelet)
    pods: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        agg = pods.setdefault((r["namespace"], r["pod"]), [0, 0])
        agg[0] += r["cpu_ms"]
        agg[1] += r["memory"]
    node = node_usage(kubelet)
    lines: list[str] = []

    def family(name: str, samples: list[tuple[str, str]]) -> None:
        kind, help_ = HELP[name]
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, v in samples:
            lines.append(f"{name}{labels} {v}" + ("" if name == "resource_scrape_error" else f" {ts}"))

    def lbl(r: dict) -> str:
        return f'{{container="{r["container"]}",namespace="{r["namespace"]}",pod="{r["pod"]}"}}'

    family("container_cpu_usage_seconds_total", [(lbl(r), _seconds(r["cpu_ms"])) for r in rows])
    family("container_memory_working_set_bytes", [(lbl(r), str(r["memory"])) for r in rows])
    family("container_start_time_seconds", [(lbl(r), repr((1767225600 * 1000 + r["start_ms"]) / 1000))
                                            for r in rows])
    family("node_cpu_usage_seconds_total", [("", _seconds(node["cpu_ms"]))])
    family("node_memory_working_set_bytes", [("", str(node["memory"]))])
    family("pod_cpu_usage_seconds_total", [(f'{{namespace="{ns}",pod="{p}"}}', _seconds(v[0]))
                                           for (ns, p), v in pods.items()])
    family("pod_memory_working_set_bytes", [(f'{{namespace="{ns}",pod="{p}"}}', str(v[1]))
                                            for (ns, p), v in pods.items()])
    family("resource_scrape_error", [("", "0")])
    return "\n".join(lines) + "\n"


# -- eviction signals ---------------------------------------------------------------------------------------------

SIGNALS = (("memory.available", "MemoryPressure"), ("nodefs.available", "DiskPressure"),
           ("pid.available", "PIDPressure"))


def signal_observations(kubelet) -> dict[str, tuple[int, int]]:
    """makeSignalObservations: signal -> (available, capacity)."""
    mem_cap = value(kubelet.capacity.get("memory", "0"))
    disk_cap = value(kubelet.capacity.get("ephemeral-storage", "0"))
    usage = node_usage(kubelet)
    images = sum(i.size for i in kubelet.runtime.images.values() if i.available_at <= kubelet.loop.now)
    pids = SYSTEM_PIDS + PIDS_PER_CONTAINER * usage["containers"]
    return {"memory.available": (mem_cap - usage["memory"], mem_cap),
            "nodefs.available": (disk_cap - SYSTEM_DISK_BYTES - images, disk_cap),
            "pid.available": (PID_MAX - pids, PID_MAX)}


def thresholds_met(observations: dict[str, tuple[int, int]], eviction_hard: dict[str, str]) -> list[str]:
    """thresholdsMet: the signals whose available amount is below their hard eviction threshold."""
    met = []
    for signal, (available, capacity) in observations.items():
        if signal not in eviction_hard:
            continue
        threshold = st.threshold_quantity(eviction_hard[signal], parse_quantity(capacity))
        if available < threshold:
            met.append(signal)
    return met
