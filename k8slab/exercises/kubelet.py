"""Mirrors: (no upstream file) the exercises of notebooks/06-kubelet-and-container-runtime.ipynb.

Every check derives the right answer from a simulated cluster: the learner's when given (``cluster=c``),
otherwise one built the same deterministic way as in the notebook.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

STARTING_RPCS = ("RunPodSandbox", "PullImage", "CreateContainer", "StartContainer")
CHANGING_RPCS = {"RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PullImage", "CreateContainer",
                 "StartContainer", "StopContainer", "RemoveContainer", "ExecSync", "Exec", "RemoveImage"}


def crash_cluster():
    """The notebook's crash-loop pod: exits with code 3 five seconds after each start."""
    if "crash" not in _CACHE:
        from .. import Cluster
        from ..cri import Behavior

        c = Cluster(nodes=1, seed=6)
        c.set_behavior("crashy", "app", Behavior(run_ms=5_000, exit_code=3))
        c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crashy"},
                 "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
        c.run(seconds=120)
        _CACHE["crash"] = c
    return _CACHE["crash"]


def liveness_cluster():
    """The notebook's liveness pod: its health endpoint fails 25 s after every start."""
    if "liveness" not in _CACHE:
        from .. import Cluster
        from ..cri import Behavior

        c = Cluster(nodes=1, seed=6)
        c.set_behavior("flaky", "app", Behavior(fail_ms=25_000))
        c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "flaky"},
                 "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "livenessProbe": {
                     "httpGet": {"path": "/healthz", "port": 80}}}]}})
        c.run(seconds=130)
        _CACHE["liveness"] = c
    return _CACHE["liveness"]


def _pod_calls(c, pod: str) -> list[str]:
    obj = c.get("pod", pod)
    rt = c.node(obj["spec"]["nodeName"]).runtime
    return [rpc for _, rpc, _, _ in rt.cri_calls(pod)]


# -- 06.1: the CRI calls that start a pod ----------------------------------------------------------------------------

def _check_cri_calls(answer, cluster=None):
    c = cluster if cluster is not None else liveness_cluster()
    pod = "flaky" if cluster is None else next((p for p in ("web", "flaky") if _exists(c, p)), "flaky")
    calls = [x for x in _pod_calls(c, pod) if x in CHANGING_RPCS]
    want = []
    for rpc in calls:
        want.append(rpc)
        if rpc == "StartContainer":
            break
    if not isinstance(answer, (list, tuple)) or not answer:
        return False, "answer with a list of RPC names, e.g. ['RunPodSandbox', ...]"
    got = [str(a).strip() for a in answer]
    unknown = [a for a in got if a not in CHANGING_RPCS and a not in ("PodSandboxStatus", "ImageStatus",
                                                                        "ContainerStatus")]
    if unknown:
        return False, f"{unknown[0]} is not a CRI RuntimeService or ImageService call the kubelet makes here"
    got = [a for a in got if a in CHANGING_RPCS]
    if got == want:
        return True, f"{' -> '.join(want)}: the sandbox (pause container and network) comes first, then for each " \
                     f"container its image, CreateContainer and StartContainer."
    extra = [g for g in got if g not in want]
    if extra:
        return False, f"{extra[0]} was not called for pod {pod} before its container started (look at the log)"
    missing = [w for w in want if w not in got]
    if missing:
        return False, f"{missing[0]} is missing: look at c.node(...).runtime.cri_calls('{pod}')"
    return False, "right calls, wrong order: which one must exist before a container can join its namespaces?"


def _exists(c, pod: str) -> bool:
    try:
        c.get("pod", pod)
        return True
    except Exception:
        return False


register(Exercise(
    "06.1", "Which CRI calls start a pod?",
    "List, in order, the CRI calls that change something on the node for the notebook's first pod (web), from its "
    "first call until its container is started (leave out the read-only status calls).",
    _check_cri_calls,
    ["c.node(node).runtime.cri_calls(pod) lists every call with its time.",
     "The read-only ones are PodSandboxStatus, ImageStatus and ContainerStatus: skip them.",
     "A sandbox, an image, then CreateContainer and StartContainer."]))


# -- 06.2: CrashLoopBackOff ------------------------------------------------------------------------------------------

def crash_facts(c, pod: str = "crashy", namespace: str = "default") -> tuple[int, int]:
    """(exit code of the last termination, seconds of back-off before the next start)."""
    obj = c.get("pod", pod, namespace=namespace)
    cs = obj["status"]["containerStatuses"][0]
    term = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated") or {}
    kubelet = c.node(obj["spec"]["nodeName"]).kubelet
    key = f"{pod}_{namespace}_{obj['metadata']['uid']}_{cs['name']}"
    return int(term.get("exitCode", 0)), kubelet.container_backoff.get(key) // 1000


def _check_crash(answer, cluster=None):
    c = cluster if cluster is not None else crash_cluster()
    code, backoff = crash_facts(c)
    try:
        got_code, got_backoff = int(answer[0]), int(answer[1])
    except (TypeError, ValueError, IndexError):
        return False, "answer with (exit code, seconds), e.g. (1, 10)"
    if got_code != code:
        return False, f"the exit code is in status.containerStatuses[0].lastState.terminated (not {got_code})"
    if got_backoff != backoff:
        if got_backoff in (10, 20, 40, 80, 160, 300):
            return False, ("a step of the right sequence, but not the current one: the pod has kept crashing while "
                           "the notebook ran on; look at its waiting message and restart count again now")
        return False, "the back-off starts at 10 s and doubles after each restart, up to 300 s"
    return True, f"exit code {code}; the kubelet waits {backoff} s after the last exit (10 s doubling per restart, " \
                 f"at most 5 minutes, reset after 10 minutes without a crash)."


register(Exercise(
    "06.2", "Why is this pod in CrashLoopBackOff, and when will it restart?",
    "The pod crashy keeps exiting. Give (the exit code of its last run, the seconds the kubelet waits after "
    "that exit before starting it again).",
    _check_crash,
    ["c.describe('pod', 'crashy') shows Last State and the restart count.",
     "The waiting message says 'back-off 40s restarting failed container...' for example.",
     "10 s, doubled after each restart: 10, 20, 40, 80, 160, 300."]))


# -- 06.3: liveness probe timing -------------------------------------------------------------------------------------

def first_kill_after_start(c, pod: str = "flaky") -> int:
    """Seconds from the first StartContainer to the first liveness kill (StopContainer)."""
    rpcs = [(t, rpc) for t, rpc, _, _ in c.node(c.get("pod", pod)["spec"]["nodeName"]).runtime.cri_calls(pod)]
    start = next(t for t, r in rpcs if r == "StartContainer")
    stop = next(t for t, r in rpcs if r == "StopContainer")
    return round((stop - start) / 1000)


def _check_liveness(answer, cluster=None):
    c = cluster if cluster is not None else liveness_cluster()
    want = first_kill_after_start(c)
    try:
        got = round(float(answer))
    except (TypeError, ValueError):
        return False, "answer with a number of seconds"
    if got == want:
        return True, f"about {want} s: failures at the ticks after 25 s, and the third one in a row " \
                     f"(failureThreshold 3) makes the kubelet kill the container."
    if got in (25, 26):
        return False, "that is when the endpoint starts failing; the kubelet needs failureThreshold failures in a row"
    if abs(got - want) <= 10:
        return False, "close: the probe ticks every periodSeconds on the worker's own grid, not from the failure"
    return False, "periodSeconds 10, failureThreshold 3: count the ticks after 25 s"


register(Exercise(
    "06.3", "When does a failing liveness probe kill the container?",
    "The container of pod flaky answers its liveness probe (period 10 s, failureThreshold 3) with HTTP 500 from "
    "25 s after it starts. About how many seconds after the first start is it killed?",
    _check_liveness,
    ["Look at the Unhealthy events and the Killing event's time.",
     "The probe worker ticks every 10 s; the first tick after 25 s fails, then two more.",
     "c.node('node-1').runtime.cri_calls('flaky') gives StartContainer and StopContainer times."]))


# -- 06.4: cgroups from resources ------------------------------------------------------------------------------------

def _check_cgroups(answer, cluster=None):
    from ..kubelet.cm import milli_cpu_to_quota, milli_cpu_to_shares

    want = (milli_cpu_to_shares(250), milli_cpu_to_quota(500), 128 * 2**20)
    try:
        got = tuple(int(x) for x in answer)
    except (TypeError, ValueError):
        return False, "answer with (cpu shares, cpu quota in µs per 100 ms period, memory limit in bytes)"
    if len(got) != 3:
        return False, "three numbers: (shares, quota, memory limit)"
    if got[0] != want[0]:
        return False, "shares = milli-CPU request x 1024 / 1000 (MilliCPUToShares)"
    if got[1] != want[1]:
        return False, "quota = milli-CPU limit x period (100000 µs) / 1000 (MilliCPUToQuota); it comes from the limit"
    if got[2] != want[2]:
        return False, "128Mi in bytes: 128 x 1024 x 1024"
    return True, f"{want}: the request sets the weight (cpu.shares), the limit sets the CFS quota, and the memory " \
                 f"limit is the cgroup's memory.max."


register(Exercise(
    "06.4", "Requests and limits in the OCI spec",
    "A container requests cpu 250m and is limited to cpu 500m and memory 128Mi. What does the kubelet put in "
    "linux.resources of its config.json? Answer (cpu shares, cpu quota, memory limit in bytes).",
    _check_cgroups,
    ["c.node(n).runtime.oci_spec(container_id)['linux']['resources'] shows them for a running container.",
     "MilliCPUToShares and MilliCPUToQuota in pkg/kubelet/cm/helpers_linux.go.",
     "shares = 250 x 1024 / 1000; quota = 500 x 100000 / 1000."]))


# -- 06.5: a missing ConfigMap -------------------------------------------------------------------------------------

def _check_missing_configmap(answer, cluster=None):
    want = ("FailedMount", "ContainerCreating")
    try:
        got = (str(answer[0]).strip(), str(answer[1]).strip())
    except (TypeError, IndexError):
        return False, "answer with (event reason, container waiting reason)"
    if got == want:
        return True, "FailedMount, and the container stays ContainerCreating: the volume manager mounts volumes " \
                     "before the sandbox exists, and retries with back-off until the ConfigMap appears."
    if got[1] == "CreateContainerConfigError":
        return False, "that is for a ConfigMap used in env/envFrom; a volume fails earlier, before any container"
    if got[0] != want[0]:
        return False, "look at the Warning events of the pod (c.describe)"
    return False, "the container never got created: which waiting reason does a pod show before that?"


register(Exercise(
    "06.5", "A volume from a missing ConfigMap",
    "A pod mounts a configMap volume whose ConfigMap does not exist. Which event reason does the kubelet record, "
    "and which waiting reason does the container show? Answer (event reason, waiting reason).",
    _check_missing_configmap,
    ["Try it: apply such a pod and c.describe('pod', name).",
     "The volume manager runs before RunPodSandbox."]))
