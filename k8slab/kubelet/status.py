"""Mirrors: pkg/kubelet/status/generate.go (GeneratePodReadyCondition, GenerateContainersReadyCondition,
GeneratePodInitializedCondition, GeneratePodReadyToStartContainersCondition), pkg/kubelet/kubelet_pods.go
(getPhase, convertToAPIContainerStatuses), pkg/kubelet/status/status_manager.go (updateLastTransitionTime),
pkg/kubelet/nodestatus/setters.go, pkg/kubelet/cm/node_container_manager_linux.go (GetNodeAllocatableReservation,
hardEvictionReservation), pkg/kubelet/eviction/defaults_linux.go, pkg/kubelet/lifecycle/predicate.go.

Pure functions the kubelet uses to describe what it runs: a pod's phase and conditions, a node's allocatable
resources and conditions, and the kubelet's admission check that a pod fits on the node.
"""

from __future__ import annotations

import struct
from fractions import Fraction

from ..api.objects import pod_requests
from ..api.quantity import BINARY_SI, DECIMAL_SI, format_quantity, milli_value, parse_quantity, value

# -- node allocatable ----------------------------------------------------------------------------------------------

# DefaultEvictionHard (pkg/kubelet/eviction/defaults_linux.go), also kubeadm's kubelet default.
DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%",
                         "imagefs.available": "15%", "imagefs.inodesFree": "5%"}


def _float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def threshold_quantity(value_text: str, capacity: Fraction) -> Fraction:
    """evictionapi.GetThresholdQuantity: an absolute quantity, or a percentage (a float32) of capacity."""
    if value_text.endswith("%"):
        pct = _float32(float(value_text[:-1]) / 100)
        return Fraction(int(float(value(capacity)) * pct))  # int64(float64(capacity.Value()) * float64(pct))
    return parse_quantity(value_text)


def hard_eviction_reservation(eviction_hard: dict[str, str], capacity: dict[str, str]) -> dict[str, Fraction]:
    """hardEvictionReservation: memory.available reserves memory, nodefs.available reserves ephemeral-storage."""
    out: dict[str, Fraction] = {}
    for signal, resource in (("memory.available", "memory"), ("nodefs.available", "ephemeral-storage")):
        if signal in eviction_hard and resource in capacity:
            out[resource] = threshold_quantity(eviction_hard[signal], parse_quantity(capacity[resource]))
    return out


def _format_of(text) -> str:
    s = str(text)
    return BINARY_SI if s.endswith("i") else DECIMAL_SI


def node_allocatable(capacity: dict[str, str], kube_reserved: dict[str, str] | None = None,
                     system_reserved: dict[str, str] | None = None,
                     eviction_hard: dict[str, str] | None = None) -> dict[str, str]:
    """allocatable = capacity - kubeReserved - systemReserved - hard eviction thresholds (never negative).

    With kubeadm's defaults (nothing reserved, ``memory.available<100Mi``, ``nodefs.available<10%``) an 8Gi node
    has 8286208Ki of allocatable memory.
    """
    eviction = hard_eviction_reservation(DEFAULT_EVICTION_HARD if eviction_hard is None else eviction_hard,
                                         capacity)
    out = {}
    for name, q in capacity.items():
        reserved = Fraction(0)
        for src in (system_reserved or {}, kube_reserved or {}):
            if name in src:
                reserved += parse_quantity(src[name])
        reserved += eviction.get(name, Fraction(0))
        amount = max(Fraction(0), parse_quantity(q) - reserved)
        out[name] = str(q) if reserved == 0 else format_quantity(amount, _format_of(q))
    return out


# -- node conditions (nodestatus setters) ---------------------------------------------------------------------------

NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                     "message:Network plugin returns error: cni plugin not initialized")

PRESSURE_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
     "NodeHasSufficientMemory"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID"),
)


# the same conditions when the signal is over its threshold (nodestatus setters), with the node event
PRESSURE_CONDITIONS_TRUE = (
    ("MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
     "NodeHasInsufficientMemory"),
    ("DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure", "NodeHasDiskPressure"),
    ("PIDPressure", "KubeletHasInsufficientPID", "kubelet has insufficient PID available", "NodeHasInsufficientPID"),
)


def ready_condition(errors: list[str]) -> tuple[str, str, str]:
    """ReadyCondition: (status, reason, message) from the runtime and network errors."""
    if errors:
        return "False", "KubeletNotReady", ",".join(errors)
    return "True", "KubeletReady", "kubelet is posting ready status"


# -- admission (lifecycle/predicate.go) ------------------------------------------------------------------------------

def _requests_in_units(pod: dict) -> dict[str, int]:
    req = pod_requests(pod)
    out = {}
    for name, q in req.items():
        out[name] = milli_value(q) if name == "cpu" else value(q)
    return out


def _allocatable_in_units(allocatable: dict[str, str]) -> dict[str, int]:
    """The allocatable resources parsed (cpu in millicores, the rest in units)."""
    return {name: milli_value(q) if name == "cpu" else value(q) for name, q in allocatable.items()}


def fits(pod: dict, active_pods: list[dict], allocatable: dict[str, str],
         requests_in_units=_requests_in_units) -> tuple[str, str] | None:
    """noderesources.Fits as the kubelet's admission runs it: None if the pod fits, else (reason, message),
    e.g. ("OutOfcpu", "Node didn't have enough resource: cpu, requested: 3000, used: 500, capacity: 2000").
    ``requests_in_units(pod)`` gives a pod's requests (cpu in millicores, the rest in units)."""
    return fits_requests(requests_in_units(pod), [requests_in_units(p) for p in active_pods], allocatable)


def fits_requests(want: dict[str, int], active: list[dict[str, int]],
                  allocatable: dict[str, str]) -> tuple[str, str] | None:
    """:func:`fits` from the requests already worked out: the pod's, and each active pod's."""
    units = _allocatable_in_units(allocatable)
    allowed_pods = units["pods"] if "pods" in allocatable else 110
    if len(active) + 1 > allowed_pods:
        return ("OutOfpods", f"Node didn't have enough resource: pods, requested: 1, used: {len(active)}, "
                             f"capacity: {allowed_pods}")
    used: dict[str, int] = {}
    for req in active:
        for name, v in req.items():
            used[name] = used.get(name, 0) + v
    order = ["cpu", "memory", "ephemeral-storage"] + sorted(k for k in want if k not in
                                                             ("cpu", "memory", "ephemeral-storage"))
    for name in order:
        req = want.get(name, 0)
        if req <= 0:
            continue
        cap = units.get(name, 0)
        if req > cap - used.get(name, 0):
            return (f"OutOf{name}", f"Node didn't have enough resource: {name}, requested: {req}, "
                                    f"used: {used.get(name, 0)}, capacity: {cap}")
    return None


# -- pod phase and conditions --------------------------------------------------------------------------------------

def get_phase(spec: dict, init_statuses: list[dict], statuses: list[dict], pod_is_terminal: bool) -> str:
    """getPhase: the pod phase from its (API) container statuses."""
    restart_policy = spec.get("restartPolicy", "Always")
    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}
    pending_init = failed_init = 0
    for st in init_statuses:
        if init_specs.get(st["name"], {}).get("restartPolicy") == "Always":
            continue  # a sidecar does not block initialization once started
        state = st.get("state") or {}
        term = state.get("terminated")
        if term is not None:
            if term.get("exitCode", 0) != 0:
                failed_init += 1
        elif state.get("waiting") is not None and (st.get("lastState") or {}).get("terminated"):
            failed_init += 1
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for st in statuses:
        state = st.get("state") or {}
        if state.get("running") is not None:
            running += 1
        elif state.get("terminated") is not None:
            stopped += 1
            if state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif state.get("waiting") is not None:
            if (st.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or failed_init:
        return "Pending"
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _cond(type_: str, ok: bool, reason: str = "", message: str = "") -> dict:
    c = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def generate_conditions(spec: dict, phase: str, sandbox_ready: bool, init_statuses: list[dict],
                        statuses: list[dict]) -> list[dict]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady (in the kubelet's order)."""
    conds = [_cond("PodReadyToStartContainers", sandbox_ready)]
    # Initialized
    incomplete = [st["name"] for st in init_statuses
                  if not ((st.get("state") or {}).get("terminated") or {}).get("exitCode", 1) == 0
                  and not ((st.get("state") or {}).get("running") is not None and
                           any(c["name"] == st["name"] and c.get("restartPolicy") == "Always"
                               for c in spec.get("initContainers") or []))]
    if not incomplete:
        conds.append(_cond("Initialized", True, "PodCompleted" if phase == "Succeeded" and init_statuses else ""))
    else:
        conds.append(_cond("Initialized", False, "ContainersNotInitialized",
                           f"containers with incomplete status: [{' '.join(incomplete)}]"))
    # ContainersReady / Ready
    unready = [st["name"] for st in statuses if not st.get("ready")]
    if phase == "Succeeded":
        ready = _cond("ContainersReady", False, "PodCompleted")
    elif incomplete:
        ready = _cond("ContainersReady", False, "ContainersNotInitialized",
                      f"containers with incomplete status: [{' '.join(incomplete)}]")
    elif unready:
        ready = _cond("ContainersReady", False, "ContainersNotReady",
                      f"containers with unready status: [{' '.join(unready)}]")
    else:
        ready = _cond("ContainersReady", True)
    pod_ready = dict(ready, type="Ready")
    conds.append(pod_ready)
    conds.append(ready)
    return conds


def merge_conditions(old: list[dict] | None, new: list[dict], now: str) -> list[dict]:
    """updateLastTransitionTime: a condition keeps its lastTransitionTime while its status does not change.
    Conditions the kubelet does not own (PodScheduled, DisruptionTarget, readiness gates) are kept."""
    old_by_type = {c.get("type"): c for c in old or []}
    out = []
    for c in new:
        prev = old_by_type.get(c["type"])
        if prev is not None and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            since = prev["lastTransitionTime"]
        else:
            since = now
        # the keys in the order the API server writes them (lastProbeTime, lastTransitionTime, message, ...)
        m = {"lastProbeTime": c["lastProbeTime"]} if "lastProbeTime" in c else {}
        m["lastTransitionTime"] = since
        for k in ("message", "reason", "status", "type"):
            if k in c:
                m[k] = c[k]
        out.append(m)
    owned = {c["type"] for c in new}
    out.extend(c for c in old or [] if c.get("type") not in owned)
    return out


# -- Go formatting ----------------------------------------------------------------------------------------------------

def go_duration(ms: int) -> str:
    """time.Duration.String() of a whole number of milliseconds: 796ms, 2.1s, 1m2.5s, 1h0m0s."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, frac = divmod(rem, 1000)
    secs = f"{s}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if h:
        return f"{sign}{h}h{m}m{secs}"
    if m:
        return f"{sign}{m}m{secs}"
    return sign + secs


def get_condition_status(obj: dict | None, type_: str) -> str:
    """The status ("True", "False", "Unknown") of a condition of an object, or "" if it has none."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c.get("status", "")
    return ""
