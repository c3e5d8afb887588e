"""Mirrors: pkg/kubelet/cm/helpers_linux.go (MilliCPUToShares, MilliCPUToQuota),
pkg/kubelet/kuberuntime/kuberuntime_container_linux.go (generateLinuxContainerResources,
calculateLinuxResources), pkg/kubelet/qos/policy.go (GetContainerOOMScoreAdjust).

How the kubelet turns a container's requests and limits into the cgroup settings it hands the runtime in
``CreateContainer`` (``LinuxContainerResources``): CPU requests become ``cpu.shares`` (cgroup v1 weight, converted
to ``cpu.weight`` on cgroup v2 by runc), CPU limits become a CFS quota per 100 ms period, memory limits become
``memory.limit_in_bytes`` (``memory.max``), and the QoS class sets the OOM score adjustment.
"""

from __future__ import annotations

from ..api.quantity import milli_value, value

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
QUOTA_PERIOD = 100000  # cpuCFSQuotaPeriod default: 100ms in microseconds
MIN_QUOTA_PERIOD = 1000

GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
KUBELET_OOM_SCORE_ADJ = -999


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """MilliCPUToShares: 1 CPU = 1024 shares, at least 2 (also for no request), at most 262144."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = milli_cpu * SHARES_PER_CPU // MILLI_CPU_TO_CPU
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period: int = QUOTA_PERIOD) -> int:
    """MilliCPUToQuota: microseconds of CPU per period; 0 (no limit) for no limit, at least 1000."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_PERIOD, milli_cpu * period // MILLI_CPU_TO_CPU)


def _res(container: dict, kind: str) -> dict:
    return ((container.get("resources") or {}).get(kind)) or {}


def container_oom_score_adjust(pod: dict, container: dict, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust: -997 for Guaranteed (and critical) pods, 1000 for BestEffort, in between
    for Burstable by the share of node memory the container requests."""
    priority = (pod.get("spec") or {}).get("priorityClassName", "")
    if priority in ("system-node-critical",):
        return GUARANTEED_OOM_SCORE_ADJ
    from ..apiserver.registry import pod_qos_class

    qos = (pod.get("status") or {}).get("qosClass") or pod_qos_class(pod)
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    mem_req = value(_res(container, "requests").get("memory", "0"))
    adj = 1000 - (1000 * mem_req) // max(1, memory_capacity)
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BESTEFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj


def linux_container_resources(pod: dict, container: dict, memory_capacity: int) -> dict:
    """generateLinuxContainerResources: the CRI LinuxContainerResources for one container."""
    req, lim = _res(container, "requests"), _res(container, "limits")
    cpu_request = milli_value(req["cpu"]) if "cpu" in req else 0
    cpu_limit = milli_value(lim["cpu"]) if "cpu" in lim else 0
    memory_limit = value(lim["memory"]) if "memory" in lim else 0
    if cpu_request == 0 and cpu_limit != 0:
        shares = milli_cpu_to_shares(cpu_limit)
    else:
        shares = milli_cpu_to_shares(cpu_request)
    return {"cpu_period": QUOTA_PERIOD, "cpu_quota": milli_cpu_to_quota(cpu_limit, QUOTA_PERIOD),
            "cpu_shares": shares, "memory_limit_in_bytes": memory_limit,
            "oom_score_adj": container_oom_score_adjust(pod, container, memory_capacity)}
