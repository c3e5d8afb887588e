"""Mirrors: staging/src/k8s.io/kube-scheduler/framework/interface.go, pkg/scheduler/framework/interface.go,
pkg/scheduler/framework/cycle_state.go, pkg/scheduler/framework/types.go,
pkg/scheduler/framework/runtime/framework.go, pkg/scheduler/framework/plugins/helper/normalize_score.go,
pkg/scheduler/util/pod_resources.go, staging/src/k8s.io/component-helpers/resource/helpers.go

The scheduling framework: the vocabulary every scheduler plugin speaks.

* A plugin answers at *extension points* (QueueSort, PreFilter, Filter, PostFilter, PreScore, Score,
  Reserve, Permit, PreBind, Bind, PostBind, PreEnqueue) and reports a ``Status`` with a ``Code``.
* ``CycleState`` is the scratch pad of one scheduling cycle: PreFilter writes, Filter reads.
* ``NodeInfo`` is the scheduler's cached view of one node: the Node object, the pods assigned to it
  and the sum of their resource *requests* (not their live usage).
* ``Framework`` is built from a profile (a plugin list with score weights). It runs the plugins of
  each extension point in order, exactly like ``frameworkImpl`` in runtime/framework.go, and
  combines scores: ``weighted = normalized score x plugin weight``; ``total = sum of weighted``.

Everything here is pure: no clock, no randomness, no API calls (the Bind plugin reaches the API
through ``handle.client``).
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable

from k8slab.api.errors import go_quote
from k8slab.api.objects import memo_on_requests, pod_requests  # pod_requests: resourcehelper.PodRequests
from k8slab.api.quantity import milli_value, parse_quantity, value

# --------------------------------------------------------------------------------------------
# Scores (interface.go)
# --------------------------------------------------------------------------------------------

MAX_NODE_SCORE = 100
"""MaxNodeScore: the highest score a Score plugin may return after normalizing."""
MIN_NODE_SCORE = 0
"""MinNodeScore: the lowest score a Score plugin may return after normalizing."""
MAX_CUSTOM_PRIORITY_SCORE = 10
"""config.MaxCustomPriorityScore: user-facing shape scores (RequestedToCapacityRatio) run 0..10."""
MAX_TOTAL_SCORE = 2**63 - 1
"""MaxTotalScore (math.MaxInt64): weights must keep the sum of weighted scores below it."""

# pkg/scheduler/util/pod_resources.go
DEFAULT_MILLI_CPU_REQUEST = 100
"""0.1 core: the CPU request assumed for a container that does not state one (scoring only)."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""200 MiB: the memory request assumed for a container that does not state one (scoring only)."""

# Resource names (k8s.io/api/core/v1)
RESOURCE_CPU = "cpu"
RESOURCE_MEMORY = "memory"
RESOURCE_EPHEMERAL_STORAGE = "ephemeral-storage"
RESOURCE_PODS = "pods"

# Taint keys and effects used by the built-in plugins (k8s.io/api/core/v1/well_known_taints.go)
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_EFFECT_NO_SCHEDULE = "NoSchedule"
TAINT_EFFECT_PREFER_NO_SCHEDULE = "PreferNoSchedule"
TAINT_EFFECT_NO_EXECUTE = "NoExecute"

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


class SchedulerError(Exception):
    """An error returned inside the scheduling framework (the Go code returns plain ``error``)."""


class NotFoundError(SchedulerError):
    """cycle_state.go ErrNotFound: reading a key nobody wrote."""

    def __init__(self) -> None:
        super().__init__("not found")


# --------------------------------------------------------------------------------------------
# Code and Status (interface.go)
# --------------------------------------------------------------------------------------------

class Code(enum.IntEnum):
    """The result kind of running a plugin; same order and names as upstream ``Code``."""

    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5
    Pending = 6

    def __str__(self) -> str:
        return self.name


class Status:
    """The result of running a plugin: a code, human-readable reasons, an optional error and the
    name of the plugin that produced it. ``None`` is treated as Success everywhere, like a nil
    ``*Status`` in Go."""

    __slots__ = ("code", "_reasons", "err", "plugin")

    def __init__(self, code: Code = Code.Success, reasons: Iterable[str] | str = (), plugin: str = "",
                 err: BaseException | None = None) -> None:
        self.code = Code(code)
        self._reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        self.err = err
        self.plugin = plugin

    @property
    def reasons(self) -> list[str]:
        """Reasons, with the wrapped error's message first (Status.Reasons)."""
        if self.err is not None:
            return [str(self.err)] + self._reasons
        return list(self._reasons)

    def message(self) -> str:
        """Reasons joined with ", " (Status.Message)."""
        return ", ".join(self.reasons)

    def append_reason(self, reason: str) -> None:
        self._reasons.append(reason)

    def with_plugin(self, plugin: str) -> "Status":
        self.plugin = plugin
        return self

    def with_error(self, err: BaseException) -> "Status":
        self.err = err
        return self

    def is_success(self) -> bool:
        return self.code == Code.Success

    def is_wait(self) -> bool:
        return self.code == Code.Wait

    def is_skip(self) -> bool:
        return self.code == Code.Skip

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending (Status.IsRejected)."""
        return self.code in (Code.Unschedulable, Code.UnschedulableAndUnresolvable, Code.Pending)

    def as_error(self) -> BaseException | None:
        """None for Success, Wait and Skip; otherwise the error this status stands for."""
        if self.code in (Code.Success, Code.Wait, Code.Skip):
            return None
        if self.err is not None:
            return self.err
        return SchedulerError(self.message())

    def clone(self) -> "Status":
        return Status(self.code, list(self._reasons), self.plugin, self.err)

    def __eq__(self, other: object) -> bool:
        if other is None:
            return self.is_success()
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.reasons, self.plugin) == (other.code, other.reasons, other.plugin)

    def __hash__(self) -> int:
        return hash((self.code, tuple(self.reasons), self.plugin))

    def __str__(self) -> str:
        return self.message()

    def __repr__(self) -> str:
        plugin = f", plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({self.code.name}, {self.reasons!r}{plugin})"


def new_status(code: Code, *reasons: str) -> Status:
    """NewStatus(code, reasons...)."""
    return Status(code, reasons)


def as_status(err: BaseException | None) -> Status | None:
    """AsStatus(err): wrap an error in an Error status (None stays None)."""
    if err is None:
        return None
    return Status(Code.Error, err=err)


def code_of(status: Status | None) -> Code:
    """Status.Code() that also accepts None (a nil status is Success)."""
    return Code.Success if status is None else status.code


def is_success(status: Status | None) -> bool:
    return status is None or status.is_success()


def is_rejected(status: Status | None) -> bool:
    return status is not None and status.is_rejected()


def _wrap(msg: str, status: Status | None) -> SchedulerError:
    """fmt.Errorf("<msg>: %w", status.AsError())."""
    err = status.as_error() if status is not None else None
    return SchedulerError(f"{msg}: {err}")


# --------------------------------------------------------------------------------------------
# Small result types (interface.go)
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class NodeScore:
    """A node name and a score (one entry of a NodeScoreList)."""

    name: str
    score: int


@dataclass(slots=True)
class PluginScore:
    """One plugin's score for one node. ``score`` is the weighted score, as upstream; the raw and
    normalized scores and the weight are kept so a table can show every step."""

    name: str
    score: int
    raw: int = 0
    normalized: int = 0
    weight: int = 1


@dataclass(slots=True)
class NodePluginScores:
    """All plugin scores for one node and their weighted total (NodePluginScores)."""

    name: str
    scores: list[PluginScore] = field(default_factory=list)
    total_score: int = 0


@dataclass
class PreFilterResult:
    """Nodes a PreFilter plugin wants evaluated; ``node_names=None`` means every node."""

    node_names: set[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: "PreFilterResult | None") -> "PreFilterResult | None":
        mine = self.node_names
        theirs = None if other is None else other.node_names
        if mine is None and theirs is None:
            return None
        if mine is None:
            return PreFilterResult(set(theirs))
        if theirs is None:
            return PreFilterResult(set(mine))
        return PreFilterResult(mine & theirs)


def _prefilter_all_nodes(result: PreFilterResult | None) -> bool:
    return result is None or result.all_nodes()


MODE_NOOP = 0
MODE_OVERRIDE = 1


@dataclass
class NominatingInfo:
    """What PostFilter (preemption) wants written to ``status.nominatedNodeName``."""

    nominated_node_name: str = ""
    nominating_mode: int = MODE_NOOP


@dataclass
class PostFilterResult:
    nominating_info: NominatingInfo | None = None


@dataclass
class QueuedPodInfo:
    """A pod waiting in the scheduling queue (types.go QueuedPodInfo). ``timestamp`` is the virtual
    time (ms) the pod was added to the queue; QueueSort plugins compare it."""

    pod: dict
    timestamp: int = 0
    attempts: int = 0
    unschedulable_count: int = 0
    initial_attempt_timestamp: int | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gating_plugin: str = ""
    gating_message: str = ""


# --------------------------------------------------------------------------------------------
# CycleState (cycle_state.go)
# --------------------------------------------------------------------------------------------

class CycleState:
    """Data plugins share during one scheduling cycle, keyed by string.

    Values may define ``clone()``; ``CycleState.clone`` calls it (upstream StateData.Clone), so
    preemption can try "what if" changes on a copy."""

    def __init__(self) -> None:
        self._storage: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()
        self.record_plugin_metrics = False

    def read(self, key: str) -> Any:
        """Return the value for key, or raise NotFoundError ("not found")."""
        try:
            return self._storage[key]
        except KeyError:
            raise NotFoundError() from None

    def write(self, key: str, val: Any) -> None:
        self._storage[key] = val

    def delete(self, key: str) -> None:
        self._storage.pop(key, None)

    def clone(self) -> "CycleState":
        copy = CycleState()
        for k, v in self._storage.items():
            copy._storage[k] = v.clone() if hasattr(v, "clone") else v
        copy.skip_filter_plugins = set(self.skip_filter_plugins)
        copy.skip_score_plugins = set(self.skip_score_plugins)
        copy.record_plugin_metrics = self.record_plugin_metrics
        return copy

    def keys(self) -> list[str]:
        return sorted(self._storage)


# --------------------------------------------------------------------------------------------
# Resource names and pod requests (v1helper, component-helpers/resource)
# --------------------------------------------------------------------------------------------

def is_prefixed_native_resource(name: str) -> bool:
    return "kubernetes.io/" in name


def is_native_resource(name: str) -> bool:
    return "/" not in name or is_prefixed_native_resource(name)


def is_hugepage_resource_name(name: str) -> bool:
    return name.startswith("hugepages-")


def is_attachable_volume_resource_name(name: str) -> bool:
    return name.startswith("attachable-volumes-")


def is_extended_resource_name(name: str) -> bool:
    """Extended resources are domain-prefixed names outside kubernetes.io, e.g. nvidia.com/gpu."""
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return "/" in name


def is_scalar_resource_name(name: str) -> bool:
    """Resources tracked in Resource.scalar_resources (schedutil.IsScalarResourceName)."""
    return (is_extended_resource_name(name) or is_hugepage_resource_name(name)
            or is_prefixed_native_resource(name) or is_attachable_volume_resource_name(name))


def _quantity(q: Any) -> Fraction:
    if isinstance(q, Fraction):
        return q
    if isinstance(q, int):
        return Fraction(q)
    return parse_quantity(str(q))


def non_zero_container_defaults() -> dict[str, Fraction]:
    """The NonMissingContainerRequests used for scoring: 100m CPU and 200 MiB memory."""
    return {RESOURCE_CPU: Fraction(DEFAULT_MILLI_CPU_REQUEST, 1000), RESOURCE_MEMORY: Fraction(DEFAULT_MEMORY_REQUEST)}


def get_request_for_resource(resource: str, requests: dict | None, non_zero: bool) -> int:
    """schedutil.GetRequestForResource: a container's request in scheduler units (milli-CPU, bytes),
    with the 100m / 200Mi defaults when ``non_zero`` and the key is absent."""
    if requests is None:
        return 0
    if resource == RESOURCE_CPU:
        if RESOURCE_CPU not in requests and non_zero:
            return DEFAULT_MILLI_CPU_REQUEST
        return milli_value(_quantity(requests.get(RESOURCE_CPU, 0)))
    if resource == RESOURCE_MEMORY:
        if RESOURCE_MEMORY not in requests and non_zero:
            return DEFAULT_MEMORY_REQUEST
        return value(_quantity(requests.get(RESOURCE_MEMORY, 0)))
    if resource not in requests:
        return 0
    return value(_quantity(requests[resource]))


def get_non_zero_requests(requests: dict | None) -> tuple[int, int]:
    """(milli-CPU, memory bytes) of one container's requests with the non-zero defaults applied."""
    return (get_request_for_resource(RESOURCE_CPU, requests, True),
            get_request_for_resource(RESOURCE_MEMORY, requests, True))


def pod_priority(pod: dict) -> int:
    """corev1helpers.PodPriority: ``spec.priority`` or 0."""
    prio = (pod.get("spec") or {}).get("priority")
    return int(prio) if prio is not None else 0


# --------------------------------------------------------------------------------------------
# Resource and NodeInfo (types.go)
# --------------------------------------------------------------------------------------------

@dataclass
class Resource:
    """A collection of compute resources in scheduler units: milli-CPU, bytes, pod count and
    scalar (extended, hugepages) resources."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar_resources: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, rl: dict | None) -> "Resource":
        """NewResource(ResourceList)."""
        r = cls()
        r.add(rl)
        return r

    def add(self, rl: dict | None) -> None:
        for name, q in (rl or {}).items():
            q = _quantity(q)
            if name == RESOURCE_CPU:
                self.milli_cpu += milli_value(q)
            elif name == RESOURCE_MEMORY:
                self.memory += value(q)
            elif name == RESOURCE_PODS:
                self.allowed_pod_number += value(q)
            elif name == RESOURCE_EPHEMERAL_STORAGE:
                self.ephemeral_storage += value(q)
            elif is_scalar_resource_name(name):
                self.add_scalar(name, value(q))

    def set_max_resource(self, rl: dict | None) -> None:
        for name, q in (rl or {}).items():
            q = _quantity(q)
            if name == RESOURCE_MEMORY:
                self.memory = max(self.memory, value(q))
            elif name == RESOURCE_CPU:
                self.milli_cpu = max(self.milli_cpu, milli_value(q))
            elif name == RESOURCE_EPHEMERAL_STORAGE:
                self.ephemeral_storage = max(self.ephemeral_storage, value(q))
            elif is_scalar_resource_name(name):
                self.set_scalar(name, max(self.scalar_resources.get(name, 0), value(q)))

    def add_scalar(self, name: str, quantity: int) -> None:
        self.set_scalar(name, self.scalar_resources.get(name, 0) + quantity)

    def set_scalar(self, name: str, quantity: int) -> None:
        self.scalar_resources[name] = quantity

    def clone(self) -> "Resource":
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar_resources))


@dataclass
class PodResource:
    """What a pod adds to a node: its real requests plus the non-zero CPU and memory used for
    scoring (fwk.PodResource)."""

    resource: Resource
    non0_cpu: int
    non0_mem: int


def calculate_resource(pod: dict) -> PodResource:
    """PodInfo.CalculateResource: real requests and non-zero CPU/memory of a pod. It depends only on the pod's
    requests and is memoised on them (:func:`memo_on_requests`), so the pods of one template, and each new version
    of a pod, work it out once. Callers get their own copy."""
    hit = memo_on_requests(pod, "calculateResource", _calculate_resource)
    return PodResource(hit.resource.clone(), hit.non0_cpu, hit.non0_mem)


def _calculate_resource(pod: dict) -> PodResource:
    requests = pod_requests(pod)
    non0 = pod_requests(pod, non_missing=non_zero_container_defaults())
    res = Resource()
    res.add(requests)
    return PodResource(res, milli_value(non0.get(RESOURCE_CPU, Fraction(0))),
                       value(non0.get(RESOURCE_MEMORY, Fraction(0))))


def _affinity(pod: dict) -> dict:
    return (pod.get("spec") or {}).get("affinity") or {}


def pod_with_affinity(pod: dict) -> bool:
    a = _affinity(pod)
    return bool(a.get("podAffinity") or a.get("podAntiAffinity"))


def pod_with_required_anti_affinity(pod: dict) -> bool:
    anti = _affinity(pod).get("podAntiAffinity") or {}
    return bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


def get_pod_key(pod: dict) -> str:
    """The cache key of a pod: its UID (GetPodKey). Pods without a UID fall back to
    "namespace/name" so hand-written test pods work."""
    meta = pod.get("metadata") or {}
    uid = meta.get("uid")
    if uid:
        return str(uid)
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


@dataclass
class PodInfo:
    """A pod plus values computed once (its resource requests)."""

    pod: dict
    _resource: PodResource | None = field(default=None, repr=False, compare=False)
    key: str = field(default="", init=False, repr=False, compare=False)
    """get_pod_key(pod), kept: RemovePod compares it with every pod of the node."""

    def __post_init__(self) -> None:
        self.key = get_pod_key(self.pod)

    def calculate_resource(self) -> PodResource:
        if self._resource is None:
            self._resource = calculate_resource(self.pod)
        return self._resource


def get_host_ports(pod: dict) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) for every container port with a hostPort (schedutil.GetHostPorts)."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            out.append((p.get("hostIP") or "", p.get("protocol") or "", host_port))
    return out


def _sanitize_port(ip: str, protocol: str) -> tuple[str, str]:
    return ip or DEFAULT_BIND_ALL_HOST_IP, protocol or "TCP"


@dataclass
class ImageStateSummary:
    """An image present on a node: its size and on how many nodes of the cluster it is present."""

    size: int
    num_nodes: int = 1


_generations = itertools.count(1)


def next_generation() -> int:
    """nextGeneration: a process-wide counter, so two NodeInfos never share a generation by chance."""
    return next(_generations)


class NodeInfo:
    """Node-level aggregated information, as kept in the scheduler cache (types.go NodeInfo).

    ``requested`` sums the pods' real requests; ``non_zero_requested`` counts 100m CPU and 200 MiB
    memory for containers that request nothing (used by scoring so empty pods still spread)."""

    def __init__(self, node: dict | None = None, pods: Iterable[dict] = ()) -> None:
        self._node: dict | None = None
        self._name = "<no node>"
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports: dict[str, set[tuple[str, int]]] = {}
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.allocatable = Resource()
        self.image_states: dict[str, ImageStateSummary] = {}
        self.pvc_ref_counts: dict[str, int] = {}
        self.on_change: Callable[["NodeInfo"], None] | None = None
        """Called after every change (the scheduler's fast path re-reads this node's row)."""
        self.on_pod_change: Callable[["NodeInfo", PodInfo, int], None] | None = None
        """Called with (node info, pod info, +1 or -1) when a pod is added or removed, before ``on_change`` (the
        fast path keeps per-node counts of pods matching a selector up to date from it)."""
        self.generation = next_generation()
        """Generation: a new number after every change, unique across NodeInfos (nextGeneration)."""
        self.match_counts: dict = {}
        """(selector, namespace) -> (generation, matching pods): counts the spreading plugins reuse while the
        node is unchanged."""
        if node is not None:
            self.set_node(node)
        for pod in pods:
            self.add_pod(pod)

    @property
    def node(self) -> dict | None:
        return self._node

    @node.setter
    def node(self, node: dict | None) -> None:
        self._node = node
        self._name = "<no node>" if node is None else (node.get("metadata") or {}).get("name", "")

    @property
    def name(self) -> str:
        """The node's name (read on every Filter and Score call, so kept rather than looked up)."""
        return self._name

    def set_node(self, node: dict) -> None:
        """SetNode: remember the Node and read ``status.allocatable`` and ``status.images``. A new version of the
        same Node (a status heartbeat) with equal allocatable or images keeps what was read from them."""
        old_status = (self._node.get("status") or {}) if self._node is not None else None
        status = node.get("status") or {}
        self.node = node
        if old_status is None or old_status.get("allocatable") != status.get("allocatable"):
            self.allocatable = Resource.from_list(status.get("allocatable"))
        if old_status is None or old_status.get("images") != status.get("images"):
            self.image_states = {}
            for image in status.get("images") or []:
                for image_name in image.get("names") or []:
                    self.image_states.setdefault(image_name, ImageStateSummary(int(image.get("sizeBytes") or 0)))
        self.generation = next_generation()
        if self.on_change is not None:
            self.on_change(self)

    def add_pod(self, pod: dict) -> None:
        self.add_pod_info(PodInfo(pod))

    def add_pod_info(self, pod_info: PodInfo) -> None:
        self.pods.append(pod_info)
        if pod_with_affinity(pod_info.pod):
            self.pods_with_affinity.append(pod_info)
        if pod_with_required_anti_affinity(pod_info.pod):
            self.pods_with_required_anti_affinity.append(pod_info)
        self._update(pod_info, 1)

    def remove_pod(self, pod: dict) -> None:
        """RemovePod: subtract a pod (matched by key) or raise SchedulerError."""
        key = get_pod_key(pod)
        for lst in (self.pods_with_affinity, self.pods_with_required_anti_affinity):
            for i, pi in enumerate(lst):
                if pi.key == key:
                    del lst[i]
                    break
        for i, pi in enumerate(self.pods):
            if pi.key == key:
                del self.pods[i]
                self._update(pi, -1)
                return
        pod_name = (pod.get("metadata") or {}).get("name", "")
        raise SchedulerError(f"no corresponding pod {pod_name} in pods of node {self.name}")

    def replace_pod(self, new: dict) -> bool:
        """UpdatePod as the cache does it (RemovePod of the pod with ``new``'s key, then AddPod of ``new``) when
        nothing the NodeInfo derives from a pod differs between the one it holds and ``new``: the same spec
        (requests, host ports, volumes, affinity), labels, namespace and deletionTimestamp. Its PodInfo then takes
        ``new`` and moves to the end of the lists, where AddPod would put it; the sums and the per-pod counts stay as
        they are. Returns False, having changed nothing, otherwise (or when the pod is not here): the caller removes
        and adds."""
        key = get_pod_key(new)
        pods = self.pods
        for i, info in enumerate(pods):
            if info.key == key:
                break
        else:
            return False
        old = info.pod
        om, nm = old.get("metadata") or {}, new.get("metadata") or {}
        if (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
                or om.get("namespace", "default") != nm.get("namespace", "default")
                or om.get("deletionTimestamp") != nm.get("deletionTimestamp")):
            return False
        moves = []
        for lst in (self.pods_with_affinity, self.pods_with_required_anti_affinity):
            for j, pi in enumerate(lst):
                if pi.key == key:
                    if pi is not info:
                        return False  # two PodInfos with one key: RemovePod and AddPod decide
                    moves.append((lst, j))
                    break
        del pods[i]
        pods.append(info)
        for lst, j in moves:
            del lst[j]
            lst.append(info)
        info.pod = new
        self.generation = next_generation()
        if self.on_change is not None:
            self.on_change(self)
        return True

    def _update(self, pod_info: PodInfo, sign: int) -> None:
        res = pod_info.calculate_resource()
        self.requested.milli_cpu += sign * res.resource.milli_cpu
        self.requested.memory += sign * res.resource.memory
        self.requested.ephemeral_storage += sign * res.resource.ephemeral_storage
        for name, q in res.resource.scalar_resources.items():
            self.requested.scalar_resources[name] = self.requested.scalar_resources.get(name, 0) + sign * q
        self.non_zero_requested.milli_cpu += sign * res.non0_cpu
        self.non_zero_requested.memory += sign * res.non0_mem
        for ip, protocol, port in get_host_ports(pod_info.pod):
            ip, protocol = _sanitize_port(ip, protocol)
            if sign > 0:
                self.used_ports.setdefault(ip, set()).add((protocol, port))
            else:
                ports = self.used_ports.get(ip)
                if ports is not None:
                    ports.discard((protocol, port))
                    if not ports:
                        del self.used_ports[ip]
        meta = pod_info.pod.get("metadata") or {}
        for vol in (pod_info.pod.get("spec") or {}).get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            key = f"{meta.get('namespace', 'default')}/{claim}"
            self.pvc_ref_counts[key] = self.pvc_ref_counts.get(key, 0) + sign
            if self.pvc_ref_counts[key] <= 0:
                del self.pvc_ref_counts[key]
        self.generation = next_generation()
        if self.on_pod_change is not None:
            self.on_pod_change(self, pod_info, sign)
        if self.on_change is not None:
            self.on_change(self)

    def snapshot(self) -> "NodeInfo":
        """A copy that can be changed without touching this one (NodeInfo.Snapshot)."""
        clone = NodeInfo()
        clone.node = self.node
        clone.pods = list(self.pods)
        clone.pods_with_affinity = list(self.pods_with_affinity)
        clone.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        clone.used_ports = {ip: set(ports) for ip, ports in self.used_ports.items()}
        clone.requested = self.requested.clone()
        clone.non_zero_requested = self.non_zero_requested.clone()
        clone.allocatable = self.allocatable.clone()
        clone.image_states = {k: ImageStateSummary(v.size, v.num_nodes) for k, v in self.image_states.items()}
        clone.pvc_ref_counts = dict(self.pvc_ref_counts)
        clone.generation = self.generation
        clone.match_counts = dict(self.match_counts)
        return clone

    def __repr__(self) -> str:
        pod_names = [(p.pod.get("metadata") or {}).get("name") for p in self.pods]
        return f"NodeInfo({self.name!r}, pods={pod_names}, requested={self.requested}, allocatable={self.allocatable})"


def build_node_infos(nodes: Iterable[dict], pods: Iterable[dict] = ()) -> list[NodeInfo]:
    """Snapshot helper: one NodeInfo per node (in the given order) holding the pods whose
    ``spec.nodeName`` names it, with image states counted across all nodes."""
    infos = [NodeInfo(n) for n in nodes]
    by_name = {ni.name: ni for ni in infos}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name in by_name:
            by_name[node_name].add_pod(pod)
    counts: dict[str, int] = {}
    for ni in infos:
        for image_name in ni.image_states:
            counts[image_name] = counts.get(image_name, 0) + 1
    for ni in infos:
        for image_name, state in ni.image_states.items():
            state.num_nodes = counts[image_name]
    return infos


# --------------------------------------------------------------------------------------------
# Score normalization helper (plugins/helper/normalize_score.go)
# --------------------------------------------------------------------------------------------

def default_normalize_score(max_priority: int, reverse: bool, scores: list[NodeScore]) -> Status | None:
    """Scale scores so the highest becomes ``max_priority`` (integer division); with ``reverse``
    the result is flipped so the lowest raw score wins. Changes ``scores`` in place."""
    max_count = 0
    for s in scores:
        max_count = max(max_count, s.score)
    if max_count == 0:
        if reverse:
            for s in scores:
                s.score = max_priority
        return None
    for s in scores:
        score = max_priority * s.score // max_count
        if reverse:
            score = max_priority - score
        s.score = score
    return None


# --------------------------------------------------------------------------------------------
# Plugin interfaces (interface.go). A plugin is a small class with NAME and the methods of the
# extension points it takes part in; the framework looks for the method names below.
# --------------------------------------------------------------------------------------------

class Plugin:
    """Base of all plugins. Subclasses set ``NAME`` and take ``(args=None, handle=None)``."""

    NAME = ""

    def __init__(self, args: dict | None = None, handle: Any = None) -> None:
        self.args = args
        self.handle = handle

    def name(self) -> str:
        return self.NAME


class PreEnqueuePlugin(Plugin):
    """``pre_enqueue(pod) -> Status | None``: may the pod enter the active queue at all?"""


class QueueSortPlugin(Plugin):
    """``less(pinfo1, pinfo2) -> bool``: order of the active queue. Only one may be enabled."""


class PreFilterPlugin(Plugin):
    """``pre_filter(state, pod, nodes) -> (PreFilterResult | None, Status | None)``: compute once
    per cycle what Filter needs; may restrict the nodes or reject the pod outright (Skip skips the
    plugin's Filter)."""


class FilterPlugin(Plugin):
    """``filter(state, pod, node_info) -> Status | None``: can the pod run on this node?"""


class PostFilterPlugin(Plugin):
    """``post_filter(state, pod, node_to_status) -> (PostFilterResult | None, Status)``: called
    when no node fits (DefaultPreemption)."""


class PreScorePlugin(Plugin):
    """``pre_score(state, pod, nodes) -> Status | None``: prepare scoring (Skip skips Score)."""


class ScorePlugin(Plugin):
    """``score(state, pod, node_info) -> (int, Status | None)`` and, optionally,
    ``normalize_score(state, pod, scores) -> Status | None`` (the ScoreExtensions)."""


class ReservePlugin(Plugin):
    """``reserve(state, pod, node_name) -> Status | None`` and ``unreserve(state, pod, node_name)``."""


class PermitPlugin(Plugin):
    """``permit(state, pod, node_name) -> (Status | None, timeout_ms)``: allow, deny or wait."""


class PreBindPlugin(Plugin):
    """``pre_bind(state, pod, node_name) -> Status | None``: e.g. provision volumes."""


class BindPlugin(Plugin):
    """``bind(state, pod, node_name) -> Status | None`` (Skip lets the next binder try)."""


class PostBindPlugin(Plugin):
    """``post_bind(state, pod, node_name)``: informational, after a successful bind."""


EXTENSION_POINTS: dict[str, str] = {
    "PreEnqueue": "pre_enqueue",
    "QueueSort": "less",
    "PreFilter": "pre_filter",
    "Filter": "filter",
    "PostFilter": "post_filter",
    "PreScore": "pre_score",
    "Score": "score",
    "Reserve": "reserve",
    "Permit": "permit",
    "PreBind": "pre_bind",
    "Bind": "bind",
    "PostBind": "post_bind",
}
"""Extension point name -> the method a plugin defines to take part in it."""


def implements(plugin: Any, extension_point: str) -> bool:
    """Does the plugin take part in the extension point (the Go interface check)?"""
    return callable(getattr(plugin, EXTENSION_POINTS[extension_point], None))


# --------------------------------------------------------------------------------------------
# Profile and Framework (apis/config, runtime/framework.go)
# --------------------------------------------------------------------------------------------

DEFAULT_SCHEDULER_NAME = "default-scheduler"

DEFAULT_PLUGINS: list[tuple[str, int]] = [
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
]
"""The MultiPoint plugins of the default profile, in order, with their score weights
(pkg/scheduler/apis/config/v1/default_plugins.go)."""


@dataclass
class PluginEntry:
    name: str
    weight: int = 0


@dataclass
class Profile:
    """One KubeSchedulerConfiguration profile: a scheduler name, the MultiPoint plugin list (in
    order, with score weights), per-plugin args and an optional percentageOfNodesToScore."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: list[PluginEntry] = field(default_factory=list)
    plugin_config: dict[str, dict] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None
    extension_points: dict[str, "PluginSet"] = field(default_factory=dict)
    """Plugins enabled or disabled at one extension point (keyed "Filter", "Score", ...), on top of
    the MultiPoint list in ``plugins``."""


@dataclass
class PluginSet:
    """Plugins enabled (in order, with weights) and disabled (names; "*" for all) at one extension point."""

    enabled: list[PluginEntry] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


def default_profile(registry: dict[str, type] | None = None) -> Profile:
    """The default profile, keeping only plugins present in the registry."""
    if registry is None:
        from k8slab.scheduler.plugins import REGISTRY as registry  # noqa: N811
    return Profile(plugins=[PluginEntry(n, w) for n, w in DEFAULT_PLUGINS if n in registry])


MAX_PERMIT_TIMEOUT_MS = 15 * 60 * 1000
"""maxTimeout for Permit plugins that ask to wait (15 minutes)."""


@dataclass
class FilterVerdict:
    """One Filter plugin's answer for one node: ``status`` None means Success."""

    plugin: str
    status: Status | None


class Framework:
    """A profile turned into running plugins (frameworkImpl). It is also the plugins' ``handle``:
    ``client`` reaches the API (used by DefaultBinder) and ``snapshot`` holds the NodeInfos of the
    current cycle."""

    def __init__(self, profile: Profile | None = None, registry: dict[str, type] | None = None,
                 client: Any = None) -> None:
        if registry is None:
            from k8slab.scheduler.plugins import REGISTRY as registry  # noqa: N811
        if profile is None:
            profile = default_profile(registry)
        self.profile = profile
        self.profile_name = profile.scheduler_name
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score
        self.client = client
        self.snapshot: list[NodeInfo] = []
        self.nominated_pods_for_node: Callable[[str], list[dict]] | None = None
        self.list_objects: Callable[[str, str], list[dict]] | None = None
        """(resource, namespace) -> objects, from the scheduler's informers (Services, ReplicaSets, ...)."""
        self.get_object: Callable[[str, str, str], dict | None] | None = None
        """(resource, namespace, name) -> the lister's object or None (a lister's Get)."""
        self.services_version: Callable[[], int] | None = None
        """A number that changes whenever a Service is added, updated or deleted."""
        self.namespace_labels: Callable[[str], dict | None] | None = None
        self.plugins: dict[str, Any] = {}
        self.score_plugin_weight: dict[str, int] = {}
        self.extension_points: dict[str, list[Any]] = {ep: [] for ep in EXTENSION_POINTS}
        if not profile.extension_points:
            self._init_multi_point_only(profile, registry)
        else:
            self._init_with_extension_points(profile, registry)
        if len(self.extension_points["QueueSort"]) > 1:
            raise SchedulerError("only one QueueSort plugin can be enabled")

    def _new_plugin(self, name: str, profile: Profile, registry: dict[str, type], ep: str = "PreFilter") -> Any:
        plugin = self.plugins.get(name)
        if plugin is None:
            if name not in registry:
                raise SchedulerError(f"{ep}Plugin {go_quote(name)} does not exist")
            plugin = self.plugins[name] = registry[name](profile.plugin_config.get(name), self)
        return plugin

    def _init_multi_point_only(self, profile: Profile, registry: dict[str, type]) -> None:
        for entry in profile.plugins:
            if entry.name in self.plugins:
                raise SchedulerError(f"plugin {go_quote(entry.name)} already registered")
            plugin = self._new_plugin(entry.name, profile, registry)
            for ep in EXTENSION_POINTS:
                if implements(plugin, ep):
                    self.extension_points[ep].append(plugin)
            if implements(plugin, "Score"):
                self.score_plugin_weight[entry.name] = entry.weight or 1

    def _init_with_extension_points(self, profile: Profile, registry: dict[str, type]) -> None:
        """NewFramework: plugins of each extension point, then expandMultiPointPlugins, then
        getScoreWeights (the specific Score weight wins over the MultiPoint one)."""
        for ep in EXTENSION_POINTS:
            ps = profile.extension_points.get(ep) or PluginSet()
            enabled: list[str] = []
            for e in ps.enabled:
                plugin = self._new_plugin(e.name, profile, registry, ep)
                if not implements(plugin, ep):
                    raise SchedulerError(f"plugin {go_quote(e.name)} does not extend {ep} plugin")
                if e.name in enabled:
                    raise SchedulerError(f"plugin {go_quote(e.name)} already registered as {go_quote(ep + 'Plugin')}")
                enabled.append(e.name)
            disabled = set(ps.disabled)
            if "*" in disabled:
                names = enabled
            else:
                override: list[str] = []
                multi_point: list[str] = []
                for e in profile.plugins:
                    plugin = self._new_plugin(e.name, profile, registry, ep)
                    if not implements(plugin, ep) or e.name in disabled:
                        continue
                    if e.name in enabled:
                        override.append(e.name)
                        continue
                    if e.name in multi_point:
                        raise SchedulerError(f"plugin {go_quote(e.name)} already registered as "
                                             f"{go_quote(ep + 'Plugin')}")
                    multi_point.append(e.name)
                names = override + multi_point + [n for n in enabled if n not in override]
            self.extension_points[ep] = [self.plugins[n] for n in names]
        score_entries = list((profile.extension_points.get("Score") or PluginSet()).enabled) + list(profile.plugins)
        total = 0
        for e in score_entries:
            plugin = self.plugins.get(e.name)
            if plugin is None or not implements(plugin, "Score") or e.name in self.score_plugin_weight:
                continue
            weight = e.weight or 1
            self.score_plugin_weight[e.name] = weight
            if weight * MAX_NODE_SCORE > MAX_TOTAL_SCORE - total:
                raise SchedulerError("total score of Score plugins could overflow")
            total += weight * MAX_NODE_SCORE

    # -- handle ------------------------------------------------------------------------------
    def get_node_info(self, node_name: str) -> NodeInfo:
        for ni in self.snapshot:
            if ni.name == node_name:
                return ni
        raise SchedulerError(f'nodeinfo not found for node name "{node_name}"')

    # -- plugin lists --------------------------------------------------------------------------
    def _names(self, ep: str) -> list[str]:
        return [p.NAME for p in self.extension_points[ep]]

    @property
    def filter_plugin_names(self) -> list[str]:
        return self._names("Filter")

    @property
    def score_plugin_names(self) -> list[str]:
        return self._names("Score")

    def has_filter_plugins(self) -> bool:
        return bool(self.extension_points["Filter"])

    def has_post_filter_plugins(self) -> bool:
        return bool(self.extension_points["PostFilter"])

    def has_score_plugins(self) -> bool:
        return bool(self.extension_points["Score"])

    def list_plugins(self) -> dict[str, list[str]]:
        """Extension point -> enabled plugin names (ListPlugins)."""
        return {ep: self._names(ep) for ep in EXTENSION_POINTS if self.extension_points[ep]}

    # -- queue ---------------------------------------------------------------------------------
    def events_to_register(self, plugin_name: str) -> list[str]:
        """The cluster events ("Resource/Action") that may make a pod this plugin rejected schedulable."""
        pl = self.plugins.get(plugin_name)
        return list(getattr(pl, "EVENTS", ("*",))) if pl is not None else ["*"]

    def queue_sort_func(self) -> Callable[[QueuedPodInfo, QueuedPodInfo], bool]:
        plugins = self.extension_points["QueueSort"]
        if not plugins:
            raise SchedulerError("No QueueSort plugin is registered in the frameworkImpl.")
        return plugins[0].less

    def run_pre_enqueue_plugins(self, pod: dict) -> Status | None:
        """Run PreEnqueue plugins until one rejects; the rejecting status names the plugin (the
        queue records it as the pod's gating plugin)."""
        for pl in self.extension_points["PreEnqueue"]:
            s = pl.pre_enqueue(pod)
            if is_success(s):
                continue
            if not s.is_rejected():
                return as_status(_wrap(f"running PreEnqueue plugin {go_quote(pl.NAME)}", s)).with_plugin(pl.NAME)
            return s.with_plugin(pl.NAME)
        return None

    # -- filtering -----------------------------------------------------------------------------
    def run_pre_filter_plugins(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                               ) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """Run PreFilter plugins. Returns (result, status, plugins that rejected nodes via result)."""
        skip: set[str] = set()
        result: PreFilterResult | None = None
        plugins_with_nodes: list[str] = []
        unschedulable: set[str] = set()
        return_status: Status | None = None
        try:
            for pl in self.extension_points["PreFilter"]:
                r, s = pl.pre_filter(state, pod, nodes)
                if s is not None and s.is_skip():
                    skip.add(pl.NAME)
                    continue
                if not is_success(s):
                    s.plugin = pl.NAME
                    if s.code == Code.UnschedulableAndUnresolvable:
                        return None, s, unschedulable
                    if s.code == Code.Unschedulable:
                        return_status = s
                        continue
                    err = _wrap(f"running PreFilter plugin {go_quote(pl.NAME)}", s)
                    return None, as_status(err).with_plugin(pl.NAME), unschedulable
                if not _prefilter_all_nodes(r):
                    plugins_with_nodes.append(pl.NAME)
                    unschedulable.add(pl.NAME)
                result = r if result is None else result.merge(r)
                if not _prefilter_all_nodes(result) and not result.node_names:
                    if len(plugins_with_nodes) == 1:
                        msg = f"node(s) didn't satisfy plugin {plugins_with_nodes[0]}"
                    else:
                        msg = f"node(s) didn't satisfy plugin(s) [{' '.join(plugins_with_nodes)}] simultaneously"
                    return result, Status(Code.UnschedulableAndUnresolvable, [msg]), unschedulable
            return result, return_status, unschedulable
        finally:
            state.skip_filter_plugins = skip

    def run_filter_plugins_with_verdicts(self, state: CycleState, pod: dict, node_info: NodeInfo,
                                         evaluate_all: bool = False) -> tuple[Status | None, list[FilterVerdict]]:
        """RunFilterPlugins, also returning each plugin's verdict. Like upstream, the first
        rejection decides; with ``evaluate_all`` the remaining plugins still run, for display only."""
        final: Status | None = None
        verdicts: list[FilterVerdict] = []
        for pl in self.extension_points["Filter"]:
            if pl.NAME in state.skip_filter_plugins:
                continue
            if final is not None and not evaluate_all:
                break
            s = pl.filter(state, pod, node_info)
            if not is_success(s):
                if not s.is_rejected():
                    s = as_status(_wrap(f"running {go_quote(pl.NAME)} filter plugin", s))
                s.plugin = pl.NAME
            verdicts.append(FilterVerdict(pl.NAME, s))
            if final is None and not is_success(s):
                final = s
        return final, verdicts

    def run_filter_plugins(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        """RunFilterPlugins: stop at the first plugin that does not return Success."""
        return self.run_filter_plugins_with_verdicts(state, pod, node_info)[0]

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: dict, pod_info_to_add: PodInfo,
                                         node_info: NodeInfo) -> Status | None:
        for pl in self.extension_points["PreFilter"]:
            ext = getattr(pl, "add_pod", None)
            if ext is None or pl.NAME in state.skip_filter_plugins:
                continue
            s = ext(state, pod, pod_info_to_add, node_info)
            if not is_success(s):
                return as_status(_wrap(f"running AddPod on PreFilter plugin {go_quote(pl.NAME)}", s))
        return None

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: dict, pod_info_to_remove: PodInfo,
                                            node_info: NodeInfo) -> Status | None:
        for pl in self.extension_points["PreFilter"]:
            ext = getattr(pl, "remove_pod", None)
            if ext is None or pl.NAME in state.skip_filter_plugins:
                continue
            s = ext(state, pod, pod_info_to_remove, node_info)
            if not is_success(s):
                return as_status(_wrap(f"running RemovePod on PreFilter plugin {go_quote(pl.NAME)}", s))
        return None

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: dict, node_info: NodeInfo,
                                               evaluate_all: bool = False
                                               ) -> tuple[Status | None, list[FilterVerdict]]:
        """RunFilterPluginsWithNominatedPods: if pods of equal or higher priority are nominated to
        this node, the pod must fit both with and without them."""
        status: Status | None = None
        verdicts: list[FilterVerdict] = []
        pods_added = False
        for i in range(2):
            state_to_use, info_to_use = state, node_info
            if i == 0:
                pods_added, state_to_use, info_to_use, err = self._add_nominated_pods(pod, state, node_info)
                if err is not None:
                    return err, verdicts
            elif not pods_added or not is_success(status):
                break
            status, verdicts = self.run_filter_plugins_with_verdicts(state_to_use, pod, info_to_use, evaluate_all)
            if not is_success(status) and not status.is_rejected():
                return status, verdicts
        return status, verdicts

    def _add_nominated_pods(self, pod: dict, state: CycleState, node_info: NodeInfo):
        if self.nominated_pods_for_node is None:
            return False, state, node_info, None
        nominated = self.nominated_pods_for_node(node_info.name)
        if not nominated:
            return False, state, node_info, None
        info_out = node_info.snapshot()
        state_out = state.clone()
        added = False
        for other in nominated:
            if pod_priority(other) >= pod_priority(pod) and get_pod_key(other) != get_pod_key(pod):
                pi = PodInfo(other)
                info_out.add_pod_info(pi)
                s = self.run_pre_filter_extension_add_pod(state_out, pod, pi, info_out)
                if not is_success(s):
                    return False, state, node_info, s
                added = True
        return added, state_out, info_out, None

    def run_post_filter_plugins(self, state: CycleState, pod: dict, node_to_status: Any
                                ) -> tuple[PostFilterResult | None, Status]:
        """Run PostFilter plugins until one succeeds, errors or says UnschedulableAndUnresolvable."""
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for pl in self.extension_points["PostFilter"]:
            r, s = pl.post_filter(state, pod, node_to_status)
            if is_success(s):
                return r, s if s is not None else Status()
            if s.code == Code.UnschedulableAndUnresolvable:
                return r, s.with_plugin(pl.NAME)
            if not s.is_rejected():
                return None, as_status(s.as_error()).with_plugin(pl.NAME)
            if r is not None and r.nominating_info is not None and r.nominating_info.nominating_mode != MODE_NOOP:
                result = r
            reasons.extend(s.reasons)
            if not rejector:
                rejector = pl.NAME
        return result, Status(Code.Unschedulable, reasons, plugin=rejector)

    # -- scoring -------------------------------------------------------------------------------
    def run_pre_score_plugins(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        """Run PreScore plugins; a Skip status skips that plugin's Score in this cycle."""
        skip: set[str] = set()
        try:
            for pl in self.extension_points["PreScore"]:
                s = pl.pre_score(state, pod, nodes)
                if s is not None and s.is_skip():
                    skip.add(pl.NAME)
                    continue
                if not is_success(s):
                    return as_status(_wrap(f"running PreScore plugin {go_quote(pl.NAME)}", s))
            return None
        finally:
            state.skip_score_plugins = skip

    def run_score_plugins(self, state: CycleState, pod: dict, nodes: list[NodeInfo]
                          ) -> tuple[list[NodePluginScores] | None, Status | None]:
        """Score every node with every (not skipped) Score plugin, normalize per plugin, check the
        0..100 range, multiply by the plugin weight and add up per node."""
        plugins = [pl for pl in self.extension_points["Score"] if pl.NAME not in state.skip_score_plugins]
        plugin_to_node_scores: dict[str, list[NodeScore]] = {pl.NAME: [] for pl in plugins}
        raw: dict[str, list[int]] = {}
        names = [ni.name for ni in nodes]
        # each plugin scores every node (upstream runs nodes in parallel; plugins are independent)
        for pl in plugins:
            score, out = pl.score, plugin_to_node_scores[pl.NAME]
            for name, ni in zip(names, nodes):
                s, status = score(state, pod, ni)
                if status is not None and not status.is_success():
                    err = SchedulerError(f"plugin {go_quote(pl.NAME)} failed with: {status.as_error()}")
                    return None, as_status(SchedulerError(f"running Score plugins: {err}"))
                out.append(NodeScore(name, int(s)))
        for pl in plugins:
            raw[pl.NAME] = [ns.score for ns in plugin_to_node_scores[pl.NAME]]
            normalize = getattr(pl, "normalize_score", None)
            if normalize is None:
                continue
            status = normalize(state, pod, plugin_to_node_scores[pl.NAME])
            if not is_success(status):
                err = SchedulerError(f"plugin {go_quote(pl.NAME)} failed with: {status.as_error()}")
                return None, as_status(SchedulerError(f"running Normalize on Score plugins: {err}"))
        out: list[NodePluginScores] = []
        weights = [(pl, self.score_plugin_weight[pl.NAME], plugin_to_node_scores[pl.NAME], raw[pl.NAME])
                   for pl in plugins]
        for index, name in enumerate(names):
            nps = NodePluginScores(name)
            for pl, weight, node_scores, raw_scores in weights:
                score = node_scores[index].score
                if score > MAX_NODE_SCORE or score < MIN_NODE_SCORE:
                    err = SchedulerError(
                        f"plugin {go_quote(pl.NAME)} returns an invalid score {score}, it should in the range of "
                        f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing")
                    return None, as_status(SchedulerError(f"applying score defaultWeights on Score plugins: {err}"))
                weighted = score * weight
                nps.scores.append(PluginScore(pl.NAME, weighted, raw_scores[index], score, weight))
                nps.total_score += weighted
            out.append(nps)
        return out, None

    # -- reserve, permit, binding ---------------------------------------------------------------
    def run_reserve_plugins_reserve(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        for pl in self.extension_points["Reserve"]:
            s = pl.reserve(state, pod, node_name)
            if not is_success(s):
                if s.is_rejected():
                    s.plugin = pl.NAME
                    return s
                return as_status(_wrap(f"running Reserve plugin {go_quote(pl.NAME)}", s))
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: dict, node_name: str) -> None:
        """Unreserve runs in the reverse order of Reserve."""
        for pl in reversed(self.extension_points["Reserve"]):
            pl.unreserve(state, pod, node_name)

    def run_permit_plugins(self, state: CycleState, pod: dict, node_name: str
                           ) -> tuple[dict[str, int], Status | None]:
        """Returns (plugin -> wait timeout in ms, status). Wait is capped at 15 minutes."""
        wait_time: dict[str, int] = {}
        waiting = False
        for pl in self.extension_points["Permit"]:
            s, timeout_ms = pl.permit(state, pod, node_name)
            if is_success(s):
                continue
            if s.is_rejected():
                return {}, s.with_plugin(pl.NAME)
            if s.is_wait():
                wait_time[pl.NAME] = min(int(timeout_ms), MAX_PERMIT_TIMEOUT_MS)
                waiting = True
            else:
                return {}, as_status(_wrap(f"running Permit plugin {go_quote(pl.NAME)}", s)).with_plugin(pl.NAME)
        if waiting:
            name = (pod.get("metadata") or {}).get("name", "")
            msg = f'one or more plugins asked to wait and no plugin rejected pod "{name}"'
            return wait_time, Status(Code.Wait, [msg])
        return wait_time, None

    def run_pre_bind_plugins(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        for pl in self.extension_points["PreBind"]:
            s = pl.pre_bind(state, pod, node_name)
            if not is_success(s):
                if s.is_rejected():
                    s.plugin = pl.NAME
                    return s
                return as_status(_wrap(f"running PreBind plugin {go_quote(pl.NAME)}", s))
        return None

    def run_bind_plugins(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        """Try binders in order; a binder may Skip to let the next one bind."""
        if not self.extension_points["Bind"]:
            return Status(Code.Skip, [""])
        status: Status | None = None
        for pl in self.extension_points["Bind"]:
            status = pl.bind(state, pod, node_name)
            if status is not None and status.is_skip():
                continue
            if not is_success(status):
                if status.is_rejected():
                    status.plugin = pl.NAME
                    return status
                return as_status(_wrap(f"binding {go_quote(pl.NAME)}", status))
            return status
        return status

    def run_post_bind_plugins(self, state: CycleState, pod: dict, node_name: str) -> None:
        for pl in self.extension_points["PostBind"]:
            pl.post_bind(state, pod, node_name)
