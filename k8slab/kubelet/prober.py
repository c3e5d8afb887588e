"""Mirrors: pkg/kubelet/prober/worker.go (doProbe), pkg/kubelet/prober/prober.go (runProbe, the Unhealthy event),
pkg/kubelet/prober/prober_manager.go (UpdatePodStatus: started and ready), pkg/probe/http/http.go,
pkg/probe/tcp/tcp.go, pkg/probe/grpc/grpc.go, pkg/probe/exec/exec.go and pkg/apis/core/v1/defaults.go
(SetDefaults_Probe).

One probe worker per (pod, container, probe type). It ticks every ``periodSeconds``; a tick is skipped while the
container is younger than ``initialDelaySeconds``, while a startup probe has not yet succeeded (for liveness and
readiness), once the startup probe has succeeded (for the startup probe), and while the worker is *on hold* after
a liveness or startup failure, until it sees a new container ID. A result changes the worker's verdict only after
``failureThreshold`` failures or ``successThreshold`` successes in a row. Every failed probe records an
``Unhealthy`` event with the prober's real output, e.g.
``Liveness probe failed: Get "http://10.244.1.5:8080/healthz": dial tcp 10.244.1.5:8080: connect: connection
refused``.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
PROBE_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
SUCCESS, FAILURE, UNKNOWN = "Success", "Failure", "Unknown"

# SetDefaults_Probe (initialDelaySeconds is not defaulted: 0)
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def default_probe(probe: dict) -> dict:
    """The probe with upstream defaults filled in (zero counts as unset, as for the API's int32 fields)."""
    p = dict(probe)
    for k, v in PROBE_DEFAULTS.items():
        if not p.get(k):
            p[k] = v
    p.setdefault("initialDelaySeconds", 0)
    if isinstance(p.get("httpGet"), dict):
        h = dict(p["httpGet"])
        h["path"] = h.get("path") or "/"
        h["scheme"] = h.get("scheme") or "HTTP"
        p["httpGet"] = h
    return p


def initial_value(kind: str) -> str:
    """newWorker: readiness starts as Failure, liveness as Success, startup as Unknown."""
    return {READINESS: FAILURE, LIVENESS: SUCCESS, STARTUP: UNKNOWN}[kind]


def handler_of(probe: dict) -> str:
    return next((h for h in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(h) is not None), "")


def resolve_port(port, container: dict) -> int:
    """extractPort / findPortByName: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    try:
        return int(port)
    except (TypeError, ValueError):
        raise ValueError(f"couldn't find port: {port} in {container.get('name')}") from None


def _go_seconds(s: int) -> str:
    return f"{s}s"


def probe_url(probe: dict, pod_ip: str, container: dict) -> str:
    """formatURL: scheme://host:port/path as the HTTP prober requests it."""
    h = probe["httpGet"]
    host = h.get("host") or pod_ip
    return f"{(h.get('scheme') or 'HTTP').lower()}://{host}:{resolve_port(h.get('port'), container)}" \
           f"{h.get('path') or '/'}"


def output_for(probe: dict, verdict: tuple[str, object], pod_ip: str, container: dict) -> str:
    """The prober's output for a result, word for word as pkg/probe/* produce it."""
    kind, detail = verdict
    handler = handler_of(probe)
    timeout = int(probe.get("timeoutSeconds") or 1)
    if handler == "httpGet":
        url = probe_url(probe, pod_ip, container)
        host = probe["httpGet"].get("host") or pod_ip
        addr = f"{host}:{resolve_port(probe['httpGet'].get('port'), container)}"
        if kind == "ok":
            return ""
        if kind == "refused":
            return f'Get "{url}": dial tcp {addr}: connect: connection refused'
        if kind == "timeout":
            return f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        return f"HTTP probe failed with statuscode: {detail}"
    if handler == "tcpSocket":
        addr = f"{probe['tcpSocket'].get('host') or pod_ip}:{resolve_port(probe['tcpSocket'].get('port'), container)}"
        if kind == "ok":
            return ""
        if kind == "timeout":
            return f"dial tcp {addr}: i/o timeout"
        return f"dial tcp {addr}: connect: connection refused"
    if handler == "grpc":
        addr = f"{pod_ip}:{resolve_port(probe['grpc'].get('port'), container)}"
        if kind == "ok":
            return "service healthy"
        if kind in ("refused", "timeout"):
            # grpc.WithBlock keeps redialling a refused port until the deadline
            return f'timeout: failed to connect service "{addr}" within {_go_seconds(timeout)}: ' \
                   f'context deadline exceeded'
        return f'service unhealthy (responded with "{detail}")'
    return str(detail or "")


@dataclass
class ProbeWorker:
    """prober/worker.go worker: the state of one probe of one container (kept across its restarts)."""

    kind: str
    spec: dict
    container_id: str = ""
    result: str = ""  # what the results manager holds for the current container
    last_result: str = ""
    result_run: int = 0
    on_hold: bool = False
    next_at: int | None = None  # virtual ms of its next tick
    probes: int = 0
    failures: int = 0
    success_event: dict | None = None  # the trace data of a steady-state success, shared by its events

    def __post_init__(self) -> None:
        self.result = initial_value(self.kind)
        self.handler = handler_of(self.spec)
        self.timeout_s = int(self.spec.get("timeoutSeconds") or 1)
        self.failure_threshold = int(self.spec.get("failureThreshold") or 3)
        self.success_threshold = int(self.spec.get("successThreshold") or 1)
        self.period_ms = max(1, int(self.spec.get("periodSeconds") or 10)) * 1000
        self.initial_delay_s = int(self.spec.get("initialDelaySeconds") or 0)

    def new_container(self, container_id: str) -> None:
        """A new container ID: reset to the initial value and resume probing."""
        if container_id != self.container_id:
            self.container_id = container_id
            self.result = initial_value(self.kind)
            self.on_hold = False
            self.last_result, self.result_run = "", 0

    def record(self, result: str) -> bool:
        """Count a probe result; returns True if the worker's verdict is now ``result`` (thresholds reached)."""
        self.probes += 1
        if result == FAILURE:
            self.failures += 1
        if self.last_result == result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        if (result == FAILURE and self.result_run < self.failure_threshold) or \
                (result == SUCCESS and self.result_run < self.success_threshold):
            return False
        self.result = result
        if self.kind in (LIVENESS, STARTUP) and result == FAILURE:
            self.on_hold = True
            self.result_run = 0
        return True
