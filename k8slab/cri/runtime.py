"""Mirrors: k8s.io/cri-api/pkg/apis/runtime/v1/api.proto (RuntimeService, ImageService) and containerd's CRI
plugin (internal/cri/server: sandbox_run.go, sandbox_stop.go, container_create.go, container_start.go,
container_stop.go, images/image_pull.go, status.go).

The container runtime on one node, as the kubelet sees it through the Container Runtime Interface. The kubelet
is a gRPC client of containerd over ``unix:///run/containerd/containerd.sock``; every call here is one CRI RPC
and is traced as ``cri.<RPC>`` from ``kubelet/<node>`` to ``containerd/<node>``.

A pod is a *sandbox* (the ``pause`` container holding the pod's network namespace, set up by CNI) plus the
pod's containers, which join that namespace. Containers do not run real programs: a :class:`Behavior` says how
long one runs, how it exits and how it reacts to SIGTERM, and what its probes answer. By default a server image
(nginx, redis...) runs until stopped, a command with ``sleep N`` runs N seconds, another one-shot command exits
at once. ``runtime.set_behavior(...)`` scripts a container, e.g. to crash or to fail its readiness probe.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field
from typing import Callable

from . import oci
from .errors import CRIError
from .images import PAUSE_IMAGE, ImagePullError, InvalidImageName, Registry, normalize

EPOCH_NS = 1767225600 * 10**9  # 2026-01-01T00:00:00Z, the simulation's time zero
CRI_API_VERSION = "v1"

SANDBOX_READY, SANDBOX_NOTREADY = "SANDBOX_READY", "SANDBOX_NOTREADY"
CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED = "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED"

SIGKILL_EXIT_CODE = 137  # 128 + 9


BEHAVIOR_ANNOTATION = "k8slab.io/behavior"


def _steps(value, scale_ms: int, parse) -> tuple[tuple[int, int], ...]:
    """A usage curve: a single amount, or a list of (time, amount) steps; returns ((ms, amount), ...)."""
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return ((0, parse(value)),)
    out = []
    for item in value:
        t, amount = item
        out.append((int(float(t) * scale_ms), parse(amount)))
    return tuple(sorted(out))


def _milli_cpu(v) -> int:
    from ..api.quantity import milli_value
    return milli_value(str(v))


def _bytes(v) -> int:
    from ..api.quantity import value
    return value(str(v))


def _at(steps: tuple[tuple[int, int], ...], t_ms: int, default: int) -> int:
    amount = default
    for start, v in steps:
        if start > t_ms:
            break
        amount = v
    return amount


class SharedLoad:
    """Load shared by every running container that uses it (like requests spread over a Service's pods): the
    total CPU, one amount or steps ``[(ms since the simulation started, amount), ...]``, divided by the number of
    containers running it. Use it as ``Behavior(cpu=SharedLoad(...))`` to drive a HorizontalPodAutoscaler."""

    def __init__(self, total) -> None:
        self.total_steps = _steps(total, 1, _milli_cpu)
        self.members: set[str] = set()
        self.history: list[tuple[int, int]] = [(0, 0)]  # (ms, running members from then on)

    def set_total(self, now_ms: int, amount) -> None:
        """Change the total load from ``now_ms`` on."""
        self.total_steps = tuple(s for s in self.total_steps if s[0] < now_ms) + ((now_ms, _milli_cpu(amount)),)

    def join(self, cid: str, now_ms: int) -> None:
        self.members.add(cid)
        self.history.append((now_ms, len(self.members)))

    def leave(self, cid: str, now_ms: int) -> None:
        if cid in self.members:
            self.members.discard(cid)
            self.history.append((now_ms, len(self.members)))

    def _n(self, t: int) -> int:
        n = 0
        for at, k in self.history:
            if at > t:
                break
            n = k
        return n

    def per_pod(self, now_ms: int) -> int:
        n = self._n(now_ms)
        return _at(self.total_steps, now_ms, 0) // n if n else 0

    def cpu_ms(self, start: int, end: int) -> int:
        """CPU-ms one member used between ``start`` and ``end`` (absolute ms)."""
        points = sorted({start, end} | {t for t, _ in self.total_steps if start < t < end} |
                        {t for t, _ in self.history if start < t < end})
        total = 0.0
        for a, b in zip(points, points[1:]):
            n = self._n(a)
            if n:
                total += (b - a) * _at(self.total_steps, a, 0) / n
        return int(total // 1000)


@dataclass
class Behavior:
    """What a container's process does (the hook notebooks and exercises use to make a pod misbehave).

    Times are milliseconds since the container started:

    - ``run_ms``: exit by itself after this long (None: run until stopped), with ``exit_code``.
    - ``startup_ms``: the process listens on its ports from then on (before, a probe gets "connection refused").
    - ``ready_ms``: its readiness endpoint answers 200 from then on (default: ``startup_ms``).
    - ``fail_ms``: its health endpoint fails from then on (HTTP 500, gRPC NOT_SERVING, exec exit 1); a
      ``tcpSocket`` probe still succeeds, because the port stays open.
    - ``response_ms``: how long the health endpoint takes to answer (a probe times out past ``timeoutSeconds``).
    - ``cpu`` / ``memory``: usage, one amount (``"250m"``, ``"64Mi"``) or steps ``[(ms, amount), ...]``. A
      container whose memory goes over its limit is OOM-killed (reason OOMKilled, exit code 137).
    - ``handles_sigterm``: whether it exits on SIGTERM (after ``stop_ms``, with ``stop_exit_code``); a shell
      running as PID 1 ignores SIGTERM and is killed (exit 137) when the grace period ends.
    - ``probe``: ``probe(kind, now_ms) -> bool`` overrides every probe answer (kind: readiness/liveness/startup).
    - ``logs``: ``[(ms, line), ...]`` the process writes to stdout.

    The same fields in YAML (seconds, camelCase) go in the pod annotation ``k8slab.io/behavior``, keyed by
    container name; see :func:`behavior_from_yaml`.
    """

    run_ms: int | None = None
    exit_code: int = 0
    handles_sigterm: bool = True
    stop_ms: int = 40
    stop_exit_code: int = 0
    probe: Callable[[str, int], bool] | None = None
    startup_ms: int = 0
    ready_ms: int | None = None
    fail_ms: int | None = None
    response_ms: int = 2
    cpu: object = None
    memory: object = None
    logs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cpu_steps = () if isinstance(self.cpu, SharedLoad) else _steps(self.cpu, 1, _milli_cpu)
        self.memory_steps = _steps(self.memory, 1, _bytes)

    def probe_result(self, kind: str, now_ms: int) -> bool:
        return True if self.probe is None else bool(self.probe(kind, now_ms))

    def usage(self, t_ms: int) -> tuple[int, int]:
        """(milli-CPU, memory bytes) the process uses ``t_ms`` after it started."""
        return _at(self.cpu_steps, t_ms, 1), _at(self.memory_steps, t_ms, 4 * 1024 * 1024)

    def cpu_ms(self, t_ms: int) -> int:
        """CPU time (milli-CPU x ms / 1000 = CPU milliseconds) used in the first ``t_ms`` after the start."""
        total, prev_t, prev_v = 0, 0, 1
        for start, v in self.cpu_steps:
            if start >= t_ms:
                break
            total += (start - prev_t) * prev_v
            prev_t, prev_v = start, v
        total += (t_ms - prev_t) * prev_v
        return total // 1000

    def oom_at(self, limit_bytes: int) -> int | None:
        """When the memory use first goes over ``limit_bytes`` (ms after start), or None."""
        if not limit_bytes:
            return None
        for start, v in self.memory_steps:
            if v > limit_bytes:
                return start
        return None

    def answer(self, kind: str, handler: str, t_ms: int, timeout_ms: int, now_ms: int) -> tuple[str, object]:
        """How the process answers a probe of ``kind`` by ``handler`` (httpGet, tcpSocket, grpc, exec) at
        ``t_ms`` after its start: ("ok", None) or a failure ("refused", None), ("timeout", None),
        ("http", status code), ("grpc", "NOT_SERVING"), ("exit", code)."""
        if self.probe is not None:
            if self.probe_result(kind, now_ms):
                return "ok", None
            return {"httpGet": ("http", 503 if kind == "readiness" else 500), "tcpSocket": ("refused", None),
                    "grpc": ("grpc", "NOT_SERVING")}.get(handler, ("exit", 1))
        if t_ms < self.startup_ms:
            return ("exit", 1) if handler == "exec" else ("refused", None)
        if handler == "tcpSocket":
            return "ok", None
        if self.response_ms > timeout_ms:
            return "timeout", None
        failing = self.fail_ms is not None and t_ms >= self.fail_ms
        unready = kind == "readiness" and t_ms < (self.ready_ms if self.ready_ms is not None else self.startup_ms)
        if not failing and not unready:
            return "ok", None
        if handler == "httpGet":
            return "http", 500 if failing else 503
        if handler == "grpc":
            return "grpc", "NOT_SERVING"
        return "exit", 1


_YAML_FIELDS = {"exitAfterSeconds": "run_ms", "startupSeconds": "startup_ms", "readyAfterSeconds": "ready_ms",
                "failAfterSeconds": "fail_ms", "stopSeconds": "stop_ms", "responseMilliseconds": "response_ms"}
_YAML_PLAIN = {"exitCode": "exit_code", "handlesSigterm": "handles_sigterm", "stopExitCode": "stop_exit_code"}


def behavior_from_yaml(text: str) -> dict[str, Behavior]:
    """Parse the ``k8slab.io/behavior`` annotation: container name -> behaviour, e.g.

    .. code-block:: yaml

        app:
          startupSeconds: 5        # ports open 5 s after start
          readyAfterSeconds: 10    # readiness endpoint OK from 10 s
          failAfterSeconds: 60     # health endpoint fails from 60 s (liveness probe fails)
          exitAfterSeconds: 300    # the process exits after 300 s...
          exitCode: 1              # ...with this code
          cpu: [[0, 50m], [120, 900m]]
          memory: [[0, 40Mi], [90, 300Mi]]
          logs: [[0, "listening on :8080"]]

    Raises ValueError with the reason for anything it cannot read.
    """
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"invalid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ValueError("must be a map of container name to behavior")
    out = {}
    for name, spec in doc.items():
        if not isinstance(spec, dict):
            raise ValueError(f"{name}: must be a map")
        kw: dict = {}
        for key, v in spec.items():
            try:
                if key in _YAML_FIELDS:
                    kw[_YAML_FIELDS[key]] = int(round(float(v) * 1000))
                elif key in _YAML_PLAIN:
                    kw[_YAML_PLAIN[key]] = bool(v) if key == "handlesSigterm" else int(v)
                elif key in ("cpu", "memory"):
                    kw[key] = v if isinstance(v, (str, int, float)) else [(float(t) * 1000, a) for t, a in v]
                elif key == "logs":
                    kw["logs"] = [(int(float(t) * 1000), str(line)) for t, line in v]
                else:
                    raise ValueError(f"{name}.{key}: unknown field (known: "
                                     f"{', '.join(sorted([*_YAML_FIELDS, *_YAML_PLAIN, 'cpu', 'memory', 'logs']))})")
            except (TypeError, ValueError) as e:
                if "unknown field" in str(e):
                    raise
                raise ValueError(f"{name}.{key}: {e}") from None
        try:
            out[str(name)] = Behavior(**kw)
        except Exception as e:  # a bad quantity
            raise ValueError(f"{name}: {e}") from None
    return out


_SLEEP_RE = re.compile(r"\bsleep\s+(\d+)")
_EXIT_RE = re.compile(r"\bexit\s+(\d+)")
_FOREVER = ("sleep infinity", "while true", "while :", "tail -f", "sleep inf")


def default_behavior(command: list[str], args: list[str], daemon_image: bool) -> Behavior:
    """The process an image and command line give, by default (see the module docstring)."""
    line = " ".join(list(command or []) + list(args or []))
    if not line:
        if daemon_image:
            return Behavior()
        return Behavior(run_ms=10)  # e.g. busybox's default "sh" exits at once without a terminal
    shell = not daemon_image
    if any(f in line for f in _FOREVER):
        return Behavior(handles_sigterm=not shell, stop_exit_code=0)
    m = _SLEEP_RE.search(line)
    ex = _EXIT_RE.search(line)
    code = int(ex.group(1)) if ex else 0
    if m:
        return Behavior(run_ms=int(m.group(1)) * 1000 + 20, exit_code=code, handles_sigterm=not shell)
    if daemon_image:
        return Behavior()
    return Behavior(run_ms=100, exit_code=code, handles_sigterm=not shell)


def run_command(c: "Container", cmd: list[str], t_ms: int, timeout_ms: int, now_ms: int, hostname: str = "") -> dict:
    """What a command run in the container prints and returns (a small model of a few common commands; the
    health checks people write as exec probes follow the container's behaviour)."""
    b = c.behavior
    if timeout_ms and b.response_ms > timeout_ms:
        raise CRIError(f'command "{" ".join(cmd)}" timed out', "DeadlineExceeded")
    verdict, code = b.answer("exec", "exec", t_ms, timeout_ms or 10**9, now_ms)
    prog = cmd[0].rsplit("/", 1)[-1] if cmd else ""
    if prog == "cat" and len(cmd) > 1:
        if cmd[1] == "/etc/hostname":
            return {"exitCode": 0, "stdout": hostname + "\n", "stderr": ""}
        if verdict == "ok" and cmd[1].startswith("/tmp/"):
            # a health marker file (the classic exec liveness check): present while the process is healthy
            return {"exitCode": 0, "stdout": "", "stderr": ""}
        return {"exitCode": 1, "stdout": "",
                "stderr": f"cat: can't open '{cmd[1]}': No such file or directory\n"}
    if prog == "echo":
        return {"exitCode": 0, "stdout": " ".join(cmd[1:]) + "\n", "stderr": ""}
    if prog == "hostname":
        return {"exitCode": 0, "stdout": hostname + "\n", "stderr": ""}
    if prog in ("env", "printenv"):
        envs = [f"{e['key']}={e['value']}" for e in c.config.get("envs") or []]
        return {"exitCode": 0, "stdout": "".join(line + "\n" for line in envs), "stderr": ""}
    if prog in ("true",):
        return {"exitCode": 0, "stdout": "", "stderr": ""}
    if prog in ("false",):
        return {"exitCode": 1, "stdout": "", "stderr": ""}
    if verdict == "ok":
        return {"exitCode": 0, "stdout": "", "stderr": ""}
    return {"exitCode": int(code or 1), "stdout": "", "stderr": ""}


NGINX_LOGS = [(5, "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform "
                  "configuration"),
              (6, "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/"),
              (9, "/docker-entrypoint.sh: Configuration complete; ready for start up"),
              (12, "2026/01/01 00:00:00 [notice] 1#1: using the \"epoll\" event method"),
              (13, "2026/01/01 00:00:00 [notice] 1#1: start worker processes")]


def default_logs(repo_tag: str) -> list[tuple[int, str]]:
    """What a well-known image prints when it starts (others print nothing unless scripted)."""
    if "/library/nginx:" in repo_tag:
        return NGINX_LOGS
    return []


def _rfc3339_nano(ms: int) -> str:
    """Virtual time (ms since the simulation's epoch) as RFC 3339 with nanoseconds, as CRI log lines carry."""
    from ..api.objects import rfc3339

    return rfc3339(ms)[:-1] + f".{ms % 1000:03d}000000Z"


@dataclass
class Image:
    id: str  # sha256:<config digest>
    repo_tags: list[str]
    repo_digests: list[str]
    size: int
    pinned: bool = False
    daemon: bool = True
    available_at: int = 0  # virtual ms at which the pull completes


@dataclass
class PullResult:
    """PullImageResponse plus what the model needs: how long the pull takes and the image size."""

    image_ref: str
    size: int
    duration_ms: int


@dataclass
class PodSandbox:
    id: str
    config: dict
    created_at: int  # ns since the Unix epoch
    netns: str
    state: str = SANDBOX_READY
    ip: str = ""
    cni_result: dict | None = None
    host_network: bool = False
    pause_pid: int = 0
    build_spec: Callable[[], dict] | None = field(default=None, repr=False)  # writes the config.json

    @property
    def spec(self) -> dict:
        """The pause container's OCI config.json, as runc was given it."""
        return self.build_spec() if self.build_spec is not None else {}

    @property
    def name(self) -> str:
        return self.config.get("metadata", {}).get("name", "")

    @property
    def namespace(self) -> str:
        return self.config.get("metadata", {}).get("namespace", "")

    @property
    def uid(self) -> str:
        return self.config.get("metadata", {}).get("uid", "")


@dataclass
class Container:
    id: str
    sandbox_id: str
    config: dict
    image_ref: str
    image: Image
    created_at: int
    behavior: Behavior
    state: str = CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    exit_timer: object = field(default=None, repr=False)
    started_ms: int = 0
    build_spec: Callable[[], dict] | None = field(default=None, repr=False)  # writes the config.json
    pid: int = 0

    @property
    def spec(self) -> dict:
        """The container's OCI config.json, as runc was given it."""
        return self.build_spec() if self.build_spec is not None else {}

    @property
    def name(self) -> str:
        return self.config.get("metadata", {}).get("name", "")


class ContainerRuntime:
    """containerd's CRI service on one node (RuntimeService and ImageService)."""

    def __init__(self, loop, node_name: str, rng: random.Random, name: str = "containerd",
                 version: str | None = None, cni=None, registry: Registry | None = None,
                 sandbox_image: str = PAUSE_IMAGE) -> None:
        self.loop = loop
        self.node_name = node_name
        self.rng = rng
        self.profile = oci.profile(name)
        self.name = self.profile.name
        self.runtime_version = version or self.profile.version
        self.socket = self.profile.socket
        self.runc = oci.Runc()
        self.call_log: list[tuple[int, str, str, dict]] = []  # (ms, RPC, pod, request) for every CRI call
        self.cni = cni
        self.registry = registry if registry is not None else Registry()
        self.sandbox_image = normalize(sandbox_image)
        self.sandboxes: dict[str, PodSandbox] = {}
        self.containers: dict[str, Container] = {}
        self.images: dict[str, Image] = {}  # id -> image
        self.behaviors: dict[tuple[str, str, str], Behavior] = {}
        self.label_behaviors: list[tuple[str, dict, str, Behavior]] = []
        self.listeners: list[Callable[[str, str], None]] = []  # (event type, container id): the event stream
        self.calls = 0
        self._add_image(self.registry.resolve(self.sandbox_image), available_at=0)  # pre-pulled (kubeadm)

    # -- helpers ----------------------------------------------------------------------------------------------
    @property
    def component(self) -> str:
        return f"{self.name}/{self.node_name}"

    @property
    def caller(self) -> str:
        return f"kubelet/{self.node_name}"

    def _now_ns(self) -> int:
        return EPOCH_NS + self.loop.now * 1_000_000

    def _new_id(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def _trace(self, rpc: str, ref: str = "", data=None) -> None:
        self.calls += 1
        self.call_log.append((self.loop.now, rpc, ref, data or {}))
        self.loop.emit(self.caller, f"cri.{rpc}", ref, data, target=self.component)

    @staticmethod
    def _ref_of(config: dict) -> str:
        md = config.get("metadata") or {}
        if md.get("namespace") and md.get("name"):
            return f"pods/{md['namespace']}/{md['name']}"
        return ""

    def _sandbox(self, sandbox_id: str) -> PodSandbox:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None:
            raise CRIError(f'an error occurred when try to find sandbox "{sandbox_id}": not found', "NotFound")
        return sb

    def _container(self, container_id: str) -> Container:
        c = self.containers.get(container_id)
        if c is None:
            raise CRIError(f'an error occurred when try to find container "{container_id}": not found',
                           "NotFound")
        return c

    def _add_image(self, resolved, available_at: int) -> Image:
        img = self.images.get(resolved.image_id)
        if img is None:
            img = self.images[resolved.image_id] = Image(resolved.image_id, [], [], resolved.size, resolved.pinned,
                                                         resolved.daemon, available_at)
        if resolved.repo_tag not in img.repo_tags:
            img.repo_tags.append(resolved.repo_tag)
        if resolved.repo_digest not in img.repo_digests:
            img.repo_digests.append(resolved.repo_digest)
        return img

    def _find_image(self, image: str, include_pulling: bool = False) -> Image | None:
        """Look an image up by id, by name or by digest reference (containerd's image store)."""
        if image.startswith("sha256:"):
            img = self.images.get(image)
        else:
            try:
                ref = normalize(image)
            except InvalidImageName:
                return None
            img = next((i for i in self.images.values() if ref in i.repo_tags or ref in i.repo_digests), None)
        if img is None or (not include_pulling and img.available_at > self.loop.now):
            return None
        return img

    def _emit_event(self, etype: str, container_id: str) -> None:
        for fn in list(self.listeners):
            fn(etype, container_id)

    # -- RuntimeService: runtime --------------------------------------------------------------------------------
    def version(self) -> dict:
        self._trace("Version")
        return {"version": "0.1.0", "runtimeName": self.name, "runtimeVersion": f"v{self.runtime_version}",
                "runtimeApiVersion": CRI_API_VERSION}

    def status(self) -> dict:
        """StatusResponse: the RuntimeReady and NetworkReady conditions."""
        self._trace("Status")
        conds = [{"type": "RuntimeReady", "status": True, "reason": "", "message": ""}]
        if self.cni is not None and self.cni.initialized:
            conds.append({"type": "NetworkReady", "status": True, "reason": "", "message": ""})
        else:
            conds.append({"type": "NetworkReady", "status": False, "reason": "NetworkPluginNotReady",
                          "message": "Network plugin returns error: cni plugin not initialized"})
        return {"conditions": conds}

    # -- RuntimeService: sandboxes ------------------------------------------------------------------------------
    def run_pod_sandbox(self, config: dict, runtime_handler: str = "") -> str:
        """RunPodSandbox: create the network namespace, run CNI ADD, start the pause container."""
        ref = self._ref_of(config)
        sid = self._new_id()
        self._trace("RunPodSandbox", ref, {"sandboxID": sid, "runtimeHandler": runtime_handler})
        if self._find_image(self.sandbox_image) is None:
            raise CRIError(f'failed to get sandbox image "{self.sandbox_image}": not found', "NotFound")
        ns_opts = (((config.get("linux") or {}).get("securityContext") or {}).get("namespaceOptions") or {})
        host_network = ns_opts.get("network") == "NODE"
        u = self.rng.getrandbits(128).to_bytes(16, "big").hex()
        netns = "" if host_network else f"/var/run/netns/cni-{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
        sb = PodSandbox(sid, config, self._now_ns(), netns, host_network=host_network)
        if not host_network:
            if self.cni is None:
                raise CRIError(f'failed to setup network for sandbox "{sid}": cni plugin not initialized')
            from ..cni.bridge import CNIError  # the runtime drives CNI; imported here to keep cri standalone

            try:
                result = self.cni.add(sid, netns, "eth0", ref)
            except CNIError as e:
                raise CRIError(f'failed to setup network for sandbox "{sid}": plugin type="bridge" '
                               f'name="{self.cni.network}" failed (add): {e.msg}') from None
            sb.cni_result = result
            sb.ip = result["ips"][0]["address"].split("/")[0]
        # config.json is a pure function of the request, the sandbox and the image (none of which change): it is
        # written out when read, identical to writing it now
        sb.build_spec = functools.partial(oci.sandbox_spec, self.profile, sid, config, netns, self.sandbox_image)
        sb.pause_pid = self.runc.create(sid, self.profile.bundle(sid), sb.build_spec)
        self.runc.start(sid)
        self.sandboxes[sid] = sb
        return sid

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """StopPodSandbox: kill any container left, stop the pause container, tear the network down (CNI DEL)."""
        sb = self.sandboxes.get(sandbox_id)
        self._trace("StopPodSandbox", self._ref_of(sb.config) if sb else "", {"sandboxID": sandbox_id})
        if sb is None:
            return  # idempotent, as the CRI requires
        for c in self.containers.values():
            if c.sandbox_id == sandbox_id and c.state == CONTAINER_RUNNING:
                self._exit(c, SIGKILL_EXIT_CODE, "Error", notify=False)
        if sb.state == SANDBOX_READY and not sb.host_network and self.cni is not None:
            self.cni.delete(sandbox_id, sb.netns, "eth0", self._ref_of(sb.config))
        if sb.state == SANDBOX_READY:
            self.runc.kill(sandbox_id, "SIGKILL")
        sb.state = SANDBOX_NOTREADY

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """RemovePodSandbox: remove the sandbox and every container in it."""
        sb = self.sandboxes.get(sandbox_id)
        self._trace("RemovePodSandbox", self._ref_of(sb.config) if sb else "", {"sandboxID": sandbox_id})
        if sb is None:
            return
        if sb.state == SANDBOX_READY:
            raise CRIError(f'sandbox container "{sandbox_id}" is not fully stopped', "FailedPrecondition")
        for cid in [c.id for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            self.containers.pop(cid)
            self.runc.delete(cid)
        self.runc.delete(sandbox_id)
        del self.sandboxes[sandbox_id]

    def pod_sandbox_status(self, sandbox_id: str) -> dict:
        sb = self._sandbox(sandbox_id)
        self._trace("PodSandboxStatus", self._ref_of(sb.config), {"sandboxID": sandbox_id})
        return self._sandbox_status(sb)

    def _sandbox_status(self, sb: PodSandbox) -> dict:
        return {"id": sb.id, "metadata": dict(sb.config.get("metadata") or {}), "state": sb.state,
                "createdAt": sb.created_at,
                "network": {"ip": sb.ip, "additionalIps": []},
                "linux": {"namespaces": {"options": {"network": "NODE" if sb.host_network else "POD",
                                                     "pid": "CONTAINER", "ipc": "POD"}}},
                "labels": dict(sb.config.get("labels") or {}),
                "annotations": dict(sb.config.get("annotations") or {}), "runtimeHandler": ""}

    def list_pod_sandboxes(self, filter: dict | None = None) -> list[dict]:
        self._trace("ListPodSandbox", "", {"filter": filter})
        out = []
        for sb in self.sandboxes.values():
            if filter and filter.get("state") and sb.state != filter["state"]:
                continue
            if filter and filter.get("labelSelector") and any(
                    (sb.config.get("labels") or {}).get(k) != v for k, v in filter["labelSelector"].items()):
                continue
            out.append({"id": sb.id, "metadata": dict(sb.config.get("metadata") or {}), "state": sb.state,
                        "createdAt": sb.created_at, "labels": dict(sb.config.get("labels") or {})})
        return out

    # -- RuntimeService: containers -----------------------------------------------------------------------------
    def set_behavior(self, pod: str | None, container: str, behavior: Behavior, namespace: str = "default",
                     selector: dict[str, str] | None = None) -> None:
        """Script what container ``container`` of pod ``namespace/pod`` (or of every pod whose labels match
        ``selector``, e.g. a Deployment's) does from its next start on."""
        if selector is not None:
            self.label_behaviors.append((namespace, dict(selector), container, behavior))
        else:
            self.behaviors[(namespace, pod, container)] = behavior

    def _behavior_for(self, sb: PodSandbox, config: dict, image: Image) -> Behavior:
        name = config.get("metadata", {}).get("name", "")
        scripted = self.behaviors.get((sb.namespace, sb.name, name))
        if scripted is not None:
            return scripted
        labels = sb.config.get("labels") or {}
        for ns, sel, cname, b in reversed(self.label_behaviors):
            if ns == sb.namespace and cname == name and all(labels.get(k) == v for k, v in sel.items()):
                return b
        text = (sb.config.get("annotations") or {}).get(BEHAVIOR_ANNOTATION)
        if text:
            try:
                found = behavior_from_yaml(text).get(name)
            except ValueError as e:
                raise CRIError(f"invalid {BEHAVIOR_ANNOTATION} annotation: {e}", "InvalidArgument") from None
            if found is not None:
                return found
        return default_behavior(config.get("command") or [], config.get("args") or [], image.daemon)

    def create_container(self, sandbox_id: str, config: dict, sandbox_config: dict | None = None) -> str:
        """CreateContainer: create (not start) a container in the sandbox from an image already pulled."""
        sb = self._sandbox(sandbox_id)
        cid = self._new_id()
        image = (config.get("image") or {}).get("image", "")
        self._trace("CreateContainer", self._ref_of(sb.config),
                    {"containerID": cid, "name": config.get("metadata", {}).get("name"), "image": image})
        if sb.state != SANDBOX_READY:
            raise CRIError(f'failed to create containerd container: sandbox "{sandbox_id}" is not running',
                           "FailedPrecondition")
        img = self._find_image(image)
        if img is None:
            raise CRIError(f'failed to get image "{image}": not found', "NotFound")
        behavior = self._behavior_for(sb, config, img)
        c = self.containers[cid] = Container(cid, sandbox_id, config, img.id, img, self._now_ns(), behavior)
        c.build_spec = functools.partial(oci.container_spec_for_tag, self.profile, cid, config, sandbox_id,
                                         sb.config, sb.netns, sb.pause_pid, img.repo_tags[0] if img.repo_tags else "")
        c.pid = self.runc.create(cid, self.profile.bundle(cid), c.build_spec)
        return cid

    def start_container(self, container_id: str) -> None:
        """StartContainer: start the container's process; it may exit later by itself (see :class:`Behavior`)."""
        c = self._container(container_id)
        sb = self.sandboxes.get(c.sandbox_id)
        self._trace("StartContainer", self._ref_of(sb.config) if sb else "",
                    {"containerID": container_id, "name": c.name})
        if c.state != CONTAINER_CREATED:
            raise CRIError(f'container "{container_id}" is not in created state', "FailedPrecondition")
        c.state = CONTAINER_RUNNING
        c.started_at = self._now_ns()
        c.started_ms = self.loop.now
        self.runc.start(container_id)
        if isinstance(c.behavior.cpu, SharedLoad):
            c.behavior.cpu.join(c.id, self.loop.now)
        limit = int((((c.config.get("linux") or {}).get("resources") or {}).get("memory_limit_in_bytes")) or 0)
        oom = c.behavior.oom_at(limit)
        run = c.behavior.run_ms
        if oom is not None and (run is None or oom <= run):
            # the kernel's OOM killer: the cgroup went over memory.max; containerd reports OOMKilled
            c.exit_timer = self.loop.call_later(oom, self._on_process_exit, container_id, SIGKILL_EXIT_CODE,
                                                "OOMKilled", component=self.component,
                                                label=f"{c.name} OOM-killed")
        elif run is not None:
            code = c.behavior.exit_code
            c.exit_timer = self.loop.call_later(
                run, self._on_process_exit, container_id, code,
                component=self.component, label=f"{c.name} exits ({code})")

    def _on_process_exit(self, container_id: str, code: int, reason: str = "") -> None:
        c = self.containers.get(container_id)
        if c is None or c.state != CONTAINER_RUNNING:
            return
        self._exit(c, code, reason or ("Completed" if code == 0 else "Error"))
        self.loop.emit(self.component, "container.exit", self._ref_of(self.sandboxes[c.sandbox_id].config)
                       if c.sandbox_id in self.sandboxes else "",
                       {"containerID": container_id, "name": c.name, "exitCode": code,
                        **({"reason": reason} if reason else {})})

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int = 0) -> dict:
        """ExecSync: run a command in a running container; returns exitCode, stdout, stderr. A command that
        outlasts ``timeout`` seconds fails with DeadlineExceeded, as the CRI's ExecSync does."""
        c = self._container(container_id)
        sb = self.sandboxes.get(c.sandbox_id)
        self._trace("ExecSync", self._ref_of(sb.config) if sb else "",
                    {"containerID": container_id, "cmd": list(cmd), "timeout": timeout})
        if c.state != CONTAINER_RUNNING:
            raise CRIError(f'container is not created or running: container "{container_id}" in state '
                           f'"{c.state}"', "FailedPrecondition")
        return run_command(c, list(cmd), self.loop.now - c.started_ms, timeout * 1000, self.loop.now,
                           (sb.config.get("hostname") or "") if sb else "")

    def container_cpu_ms(self, container_id: str) -> int:
        """Cumulative CPU time (ms) of a container (cpuacct.usage / cpu.stat usage_usec)."""
        c = self._container(container_id)
        if not c.started_ms and c.state == CONTAINER_CREATED:
            return 0
        end = self.loop.now if c.state == CONTAINER_RUNNING else (c.finished_at - EPOCH_NS) // 1_000_000
        if isinstance(c.behavior.cpu, SharedLoad):
            return c.behavior.cpu.cpu_ms(c.started_ms, end)
        return c.behavior.cpu_ms(max(0, end - c.started_ms))

    def running_container_stats(self, c: "Container") -> tuple[int, int, int]:
        """(milli-CPU now, working-set bytes, cumulative CPU ms) of a running container, in one pass (what one
        cAdvisor housekeeping read gives the summary API)."""
        now = self.loop.now
        t = now - c.started_ms
        b = c.behavior
        if isinstance(b.cpu, SharedLoad):
            return b.cpu.per_pod(now), b.usage(t)[1], b.cpu.cpu_ms(c.started_ms, now)
        milli, mem = b.usage(t)
        return milli, mem, b.cpu_ms(t if t > 0 else 0)

    def container_usage(self, container_id: str) -> tuple[int, int]:
        """(milli-CPU, working-set bytes) a running container uses now (what cAdvisor measures)."""
        c = self._container(container_id)
        if c.state != CONTAINER_RUNNING:
            return 0, 0
        milli, mem = c.behavior.usage(self.loop.now - c.started_ms)
        if isinstance(c.behavior.cpu, SharedLoad):
            milli = c.behavior.cpu.per_pod(self.loop.now)
        return milli, mem

    def _exit(self, c: Container, code: int, reason: str, notify: bool = True, at_ns: int | None = None) -> None:
        if isinstance(c.behavior.cpu, SharedLoad):
            c.behavior.cpu.leave(c.id, self.loop.now)
        c.state = CONTAINER_EXITED
        self.runc.stopped(c.id)
        c.exit_code = code
        c.reason = reason
        c.finished_at = self._now_ns() if at_ns is None else at_ns
        if c.exit_timer is not None:
            c.exit_timer.cancel()
            c.exit_timer = None
        if notify:
            self._emit_event("ContainerStopped", c.id)

    def stop_container(self, container_id: str, timeout: int = 0) -> int:
        """StopContainer: SIGTERM, then SIGKILL after ``timeout`` seconds. Returns how long (ms) the call took."""
        c = self._container(container_id)
        sb = self.sandboxes.get(c.sandbox_id)
        self._trace("StopContainer", self._ref_of(sb.config) if sb else "",
                    {"containerID": container_id, "name": c.name, "timeout": timeout})
        if c.state != CONTAINER_RUNNING:
            return 0
        b = c.behavior
        self.runc.kill(container_id, "SIGTERM")
        if b.handles_sigterm and b.stop_ms <= timeout * 1000:
            took = b.stop_ms
            self._exit(c, b.stop_exit_code, "Completed" if b.stop_exit_code == 0 else "Error", notify=False,
                       at_ns=self._now_ns() + took * 1_000_000)
        else:
            took = timeout * 1000
            self._exit(c, SIGKILL_EXIT_CODE, "Error", notify=False, at_ns=self._now_ns() + took * 1_000_000)
        return took

    def remove_container(self, container_id: str) -> None:
        c = self.containers.get(container_id)
        sb = self.sandboxes.get(c.sandbox_id) if c else None
        self._trace("RemoveContainer", self._ref_of(sb.config) if sb else "", {"containerID": container_id})
        if c is None:
            return
        if c.state == CONTAINER_RUNNING:
            raise CRIError(f'container "{container_id}" is running, stop it first', "FailedPrecondition")
        del self.containers[container_id]
        self.runc.delete(container_id)

    def _container_entry(self, c: Container) -> dict:
        return {"id": c.id, "podSandboxId": c.sandbox_id, "metadata": dict(c.config.get("metadata") or {}),
                "image": {"image": c.image.repo_tags[0] if c.image.repo_tags else c.image_ref},
                "imageRef": c.image_ref, "state": c.state, "createdAt": c.created_at,
                "labels": dict(c.config.get("labels") or {}),
                "annotations": dict(c.config.get("annotations") or {})}

    def list_containers(self, filter: dict | None = None) -> list[dict]:
        self._trace("ListContainers", "", {"filter": filter})
        out = []
        for c in self.containers.values():
            if filter:
                if filter.get("id") and c.id != filter["id"]:
                    continue
                if filter.get("podSandboxId") and c.sandbox_id != filter["podSandboxId"]:
                    continue
                if filter.get("state") and c.state != filter["state"]:
                    continue
                if filter.get("labelSelector") and any(
                        (c.config.get("labels") or {}).get(k) != v for k, v in filter["labelSelector"].items()):
                    continue
            out.append(self._container_entry(c))
        return out

    def container_status(self, container_id: str) -> dict:
        """ContainerStatus; ``image`` is the repo tag and ``imageRef`` the repo digest, as containerd reports."""
        c = self._container(container_id)
        sb = self.sandboxes.get(c.sandbox_id)
        self._trace("ContainerStatus", self._ref_of(sb.config) if sb else "", {"containerID": container_id})
        return self._status(c)

    def _status(self, c: Container) -> dict:
        return {"id": c.id, "metadata": dict(c.config.get("metadata") or {}), "state": c.state,
                "createdAt": c.created_at, "startedAt": c.started_at, "finishedAt": c.finished_at,
                "exitCode": c.exit_code,
                "image": {"image": c.image.repo_tags[0] if c.image.repo_tags else c.image_ref},
                "imageRef": c.image.repo_digests[0] if c.image.repo_digests else c.image_ref,
                "reason": c.reason, "message": c.message,
                "labels": dict(c.config.get("labels") or {}),
                "annotations": dict(c.config.get("annotations") or {}),
                "mounts": list(c.config.get("mounts") or []), "logPath": c.config.get("logPath", "")}

    # -- ImageService ---------------------------------------------------------------------------------------------
    def pull_image(self, image: str, auth: dict | None = None, sandbox_config: dict | None = None) -> PullResult:
        """PullImage. Returns the image ref (``sha256:...``), its size, and how long the pull takes: the image is
        usable (ImageStatus finds it) only once that virtual time has passed. Raises :class:`ImagePullError`
        (with ``duration_ms``) for an unknown repository or tag."""
        ref = self._ref_of(sandbox_config or {})
        self._trace("PullImage", ref, {"image": image})
        try:
            resolved = self.registry.resolve(image)
        except ImagePullError:
            raise
        existing = self.images.get(resolved.image_id)
        if existing is not None and existing.available_at > self.loop.now:
            # another pull of the same image is in flight: containerd waits for it
            self._add_image(resolved, existing.available_at)
            return PullResult(resolved.image_id, resolved.size, existing.available_at - self.loop.now)
        if existing is not None:
            # already pulled: containerd resolves the manifest, finds every layer in its content store and has
            # nothing to fetch; the image stays usable meanwhile
            self._add_image(resolved, existing.available_at)
            return PullResult(resolved.image_id, resolved.size, self.registry.latency_ms)
        duration = self.registry.pull_duration_ms(resolved.size)
        img = self._add_image(resolved, self.loop.now + duration)
        img.available_at = self.loop.now + duration
        return PullResult(resolved.image_id, resolved.size, duration)

    def image_status(self, image: str) -> dict | None:
        """ImageStatus: the image if it is present, else None (an empty response)."""
        self._trace("ImageStatus", "", {"image": image})
        img = self._find_image(image)
        return None if img is None else self._image_dict(img)

    @staticmethod
    def _image_dict(img: Image) -> dict:
        return {"id": img.id, "repoTags": list(img.repo_tags), "repoDigests": list(img.repo_digests),
                "size": img.size, "pinned": img.pinned}

    def list_images(self) -> list[dict]:
        self._trace("ListImages")
        return [self._image_dict(i) for i in self.images.values() if i.available_at <= self.loop.now]

    def remove_image(self, image: str) -> None:
        self._trace("RemoveImage", "", {"image": image})
        img = self._find_image(image, include_pulling=True)
        if img is not None:
            del self.images[img.id]

    # -- container logs (what the shim / conmon writes to the kubelet's log path) ----------------------------------
    def log_lines(self, container_id: str) -> list[str]:
        """The container's log file in the CRI logging format: ``<RFC3339Nano> stdout F <line>``."""
        c = self._container(container_id)
        if not c.started_ms and c.state == CONTAINER_CREATED:
            return []
        end = self.loop.now if c.state == CONTAINER_RUNNING else (c.finished_at - EPOCH_NS) // 1_000_000
        lines = c.behavior.logs or default_logs(c.image.repo_tags[0] if c.image.repo_tags else "")
        out = []
        for t, line in lines:
            at = c.started_ms + t
            if at > end:
                break
            out.append(f"{_rfc3339_nano(at)} stdout F {line}")
        return out

    def exec(self, container_id: str, cmd: list[str], tty: bool = False, stdin: bool = False) -> dict:
        """Exec: the runtime prepares a streaming session and returns its URL; the kubelet proxies the stream.
        Here the command runs at once; returns the ExecResponse url plus the command's output and exit code."""
        c = self._container(container_id)
        sb = self.sandboxes.get(c.sandbox_id)
        self._trace("Exec", self._ref_of(sb.config) if sb else "",
                    {"containerID": container_id, "cmd": list(cmd), "tty": tty, "stdin": stdin})
        if c.state != CONTAINER_RUNNING:
            raise CRIError(f'container {container_id} is not running (state={c.state})', "FailedPrecondition")
        token = f"{self.rng.getrandbits(32):08x}"
        res = run_command(c, list(cmd), self.loop.now - c.started_ms, 0, self.loop.now,
                          (sb.config.get("hostname") or "") if sb else "")
        return {"url": f"http://127.0.0.1:{'35000' if self.name == 'containerd' else '38121'}/exec/{token}", **res}

    # -- the OCI layer (no trace: for notebooks) -------------------------------------------------------------------
    def oci_spec(self, container_id: str) -> dict:
        """The config.json the runtime wrote for a container (or a sandbox's pause container)."""
        if container_id in self.sandboxes:
            return self.sandboxes[container_id].spec
        return self._container(container_id).spec

    def config_json(self, container_id: str) -> str:
        import json

        return json.dumps(self.oci_spec(container_id), indent=2)

    def cri_calls(self, pod: str | None = None, since_ms: int = 0) -> list[tuple[int, str, str, dict]]:
        """The CRI call log: (ms, RPC, pod, request), optionally for one pod ("ns/name" or "name")."""
        out = []
        for t, rpc, ref, data in self.call_log:
            if t < since_ms:
                continue
            if pod is not None and ref not in (f"pods/{pod}", f"pods/default/{pod}"):
                continue
            out.append((t, rpc, ref, data))
        return out

    # -- crictl-like views (no trace: for notebooks) ----------------------------------------------------------------
    def crictl_pods(self) -> str:
        rows = [("POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT")]
        for sb in self.sandboxes.values():
            rows.append((sb.id[:13], _ago(self.loop.now, sb.created_at), sb.state.replace("SANDBOX_", "").title()
                         .replace("Notready", "NotReady"), sb.name, sb.namespace,
                         str(sb.config.get("metadata", {}).get("attempt", 0))))
        return _table(rows)

    def crictl_ps(self, all: bool = False) -> str:
        rows = [("CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD")]
        for c in self.containers.values():
            if not all and c.state != CONTAINER_RUNNING:
                continue
            sb = self.sandboxes.get(c.sandbox_id)
            rows.append((c.id[:13], c.image.id[7:20], _ago(self.loop.now, c.created_at),
                         c.state.replace("CONTAINER_", "").title(), c.name,
                         str(c.config.get("metadata", {}).get("attempt", 0)), c.sandbox_id[:13],
                         sb.name if sb else ""))
        return _table(rows)

    def crictl_images(self) -> str:
        rows = [("IMAGE", "TAG", "IMAGE ID", "SIZE")]
        for img in self.images.values():
            if img.available_at > self.loop.now:
                continue
            for t in img.repo_tags:
                repo, _, tag = t.rpartition(":")
                rows.append((repo, tag, img.id[7:20], _human_size(img.size)))
        return _table(rows)

    def __repr__(self) -> str:
        return (f"ContainerRuntime({self.component}, {len(self.sandboxes)} sandboxes, "
                f"{len(self.containers)} containers, {len(self.images)} images)")


def _ago(now_ms: int, created_ns: int) -> str:
    secs = max(0, (EPOCH_NS + now_ms * 1_000_000 - created_ns) // 10**9)
    if secs < 60:
        return f"{secs} seconds ago" if secs != 1 else "1 second ago"
    mins = secs // 60
    return f"{mins} minutes ago" if mins != 1 else "1 minute ago"


def _human_size(n: int) -> str:
    """go-units HumanSize (decimal, 4 significant digits), as crictl images prints."""
    units = ["B", "kB", "MB", "GB", "TB"]
    size = float(n)
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{units[i]}"


def _table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
