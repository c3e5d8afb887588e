"""Mirrors: pkg/kubelet/kubelet.go (syncPod, HandlePodAdditions, rejectPod), pkg/kubelet/pod_workers.go,
pkg/kubelet/kuberuntime/kuberuntime_manager.go (SyncPod, computePodActions, killPodWithSyncResult),
pkg/kubelet/kuberuntime/kuberuntime_container.go (startContainer, killContainer),
pkg/kubelet/kuberuntime/kuberuntime_sandbox.go (generatePodSandboxConfig), pkg/kubelet/images/image_manager.go
(EnsureImageExists), pkg/kubelet/images/puller.go (serial image pulls), pkg/kubelet/kubelet_node_status.go
(registerWithAPIServer, initialNode, syncNodeStatus), pkg/kubelet/nodelease and
staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go, pkg/kubelet/status/status_manager.go,
pkg/kubelet/prober/worker.go and prober_manager.go, pkg/kubelet/pleg/generic.go, pkg/kubelet/events/event.go,
pkg/kubelet/kubelet_pods.go (makeEnvironmentVariables), pkg/kubelet/server/server.go (containerLogs, exec).

The kubelet is the node agent. It registers its Node, renews its Lease every 10 s, and watches the pods bound to
its node (field selector ``spec.nodeName=<node>``). For each pod a *pod worker* drives the container runtime over
CRI one step at a time, exactly in the order the real kubelet does: admit the pod, run the sandbox (containerd
calls CNI, which gives the pod its IP), then for each init container and then each container: make sure the image
is there (pulling it, one pull at a time), create the container, start it. The *status manager* writes what it
sees to ``pods/status``. When a pod gets a ``deletionTimestamp`` the worker stops its containers, stops the
sandbox (CNI DEL frees the IP) and deletes the pod object with grace period 0.

Before the sandbox, the volume manager mounts the pod's volumes (:mod:`.volumes`). Probe workers
(:mod:`.prober`) tick on each container; a liveness or startup failure makes the next sync kill the container
(preStop hook, then StopContainer) and start it again, with the crash-loop back-off. Static pods come from the
manifest directory (:mod:`.static`) and get mirror pods in the API. The node's usage and eviction signals
(:mod:`.stats`) set its pressure conditions and feed ``/metrics/resource``.
"""

from __future__ import annotations

import collections
import functools
import random
import re
from fractions import Fraction
from dataclasses import dataclass, field

from ..api import errors
from ..api.objects import deepcopy, rfc3339, rfc3339_micro
from ..client import SharedInformerFactory
from ..client.record import EventRecorder
from ..cri.images import InvalidImageName, ImagePullError, apply_default_image_tag
from ..cri.runtime import CONTAINER_EXITED, CRIError, EPOCH_NS
from . import cm
from . import prober as pr
from . import static as static_mod
from . import status as st
from . import volumes as volumes_mod

KUBELET_VERSION = "v1.34.1"
KUBELET_PORT = 10250
NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_LEASE_DURATION_SECONDS = 40
LEASE_RENEW_INTERVAL_MS = int(NODE_LEASE_DURATION_SECONDS * 1000 * 0.25)  # renewIntervalFraction = 0.25
NODE_STATUS_UPDATE_FREQUENCY_MS = 10_000
NODE_STATUS_REPORT_FREQUENCY_MS = 300_000
PLEG_RELIST_PERIOD_MS = 1_000
HOUSEKEEPING_PERIOD_MS = 2_000  # housekeepingPeriod: pod cleanups run every 2 s
BACKOFF_PERIOD_MS = 10_000  # container restart and image pull back-off start here...
MAX_CONTAINER_BACKOFF_MS = 300_000  # ...and double up to this
WORKER_BACKOFF_MS = 10_000  # a failed sync is retried after this, with jitter factor 0.5
MINIMUM_GRACE_PERIOD_S = 2
# volume plugin names as they appear in the pod's volume directories (kubernetes.io/configmap -> ~configmap)
PLUGIN_NAMES = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
                "secret": "kubernetes.io~secret", "projected": "kubernetes.io~projected",
                "downwardAPI": "kubernetes.io~downward-api", "persistentVolumeClaim": "kubernetes.io~csi"}
_SLEEP_RE = re.compile(r"\bsleep\s+(\d+)")
DEFAULT_CAPACITY = {"cpu": "2", "ephemeral-storage": "61202244Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                    "memory": "8Gi", "pods": "110"}
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"


class Backoff:
    """client-go util/flowcontrol.Backoff: per-key exponential back-off (10 s doubling to 300 s)."""

    def __init__(self, initial_ms: int = BACKOFF_PERIOD_MS, max_ms: int = MAX_CONTAINER_BACKOFF_MS) -> None:
        self.initial_ms, self.max_ms = initial_ms, max_ms
        self.entries: dict[str, tuple[int, int]] = {}  # key -> (backoff ms, last update ms)

    def next(self, key: str, now: int) -> None:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.max_ms:
            self.entries[key] = (self.initial_ms, now)
        else:
            self.entries[key] = (min(entry[0] * 2, self.max_ms), now)

    def get(self, key: str) -> int:
        return self.entries.get(key, (0, 0))[0]

    def is_in_back_off_since(self, key: str, event_time: int, now: int) -> bool:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.max_ms:
            return False
        return now - event_time < entry[0]

    def is_in_back_off_since_update(self, key: str, now: int) -> bool:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.max_ms:
            return False
        return now - entry[1] < entry[0]

    def until(self, key: str) -> int:
        entry = self.entries.get(key)
        return 0 if entry is None else entry[1] + entry[0]


@dataclass
class ContainerRecord:
    """What the kubelet knows of one container of a pod it runs."""

    spec: dict
    init: bool
    stage: str = "pending"  # pending, queued, pulling, created, running, exited, backoff
    container_id: str = ""
    image: str = ""  # as the runtime reports it (repo tag)
    image_id: str = ""  # repo digest
    image_ref: str = ""  # sha256:... for CreateContainer
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    started_at: int | None = None
    finished_at: int | None = None
    exit_code: int = 0
    term_reason: str = ""
    restart_count: int = 0
    last_state: dict = field(default_factory=dict)
    ready: bool = False
    pull_started: int = 0  # when the kubelet asked for the image (the "including waiting" clock)
    pull_begun: int = 0  # when the runtime started pulling
    pull_done: int = 0
    pull_size: int = 0
    pull_error: ImagePullError | None = None
    probes: dict = field(default_factory=dict)  # probe type -> prober.ProbeWorker
    probe_timer: object = None  # the next tick of its probe workers
    probe_label: str = ""  # that timer's label
    started: bool = False  # the startup probe succeeded (or there is none) and the container runs
    kill_message: str = ""  # set when a liveness or startup probe failed: kill (and restart) it
    kill_reason: str = ""
    force_restart: bool = False
    last_finished_ms: int | None = None  # when the previous attempt finished
    backoff_since: int | None = None  # the exit the crash-loop back-off is measured from
    previous_log: list = field(default_factory=list)  # the log of the previous attempt (kubectl logs -p)

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"


@dataclass
class PodWorker:
    """One pod's worker (pod_workers.go podSyncStatus plus the runtime state the kubelet tracks)."""

    uid: str
    key: str
    pod: dict
    containers: list[ContainerRecord]
    admitted: bool = False
    rejected: tuple[str, str] | None = None
    sandbox_id: str = ""
    sandbox_config: dict | None = None  # the RunPodSandbox config it was created with
    sandbox_ready: bool = False
    pod_ip: str = ""
    start_time: str = ""
    added_at: int = 0
    terminating: bool = False
    terminal: bool = False  # all containers are done and will not restart
    killed: bool = False
    sandbox_stopped: bool = False
    deleted: bool = False  # gone from the API
    finished: bool = False
    timer: object = None
    status_timer: object = None
    volumes_ready: bool = False
    kill_deadline: int = 0
    sidecars_to_kill: list = field(default_factory=list)
    static: bool = False  # from a manifest file, not from the API server
    evicted: str = ""  # the eviction manager's message, once evicted
    manifest: str = ""  # its file
    mount_started: int | None = None
    mount_timeout_reported: bool = False
    requests: dict | None = None  # its requests for admission (cpu in millicores), once worked out

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.pod["metadata"].get("namespace", "default")

    @functools.cached_property
    def ref(self) -> str:
        return f"pods/{self.namespace}/{self.name}"

    @functools.cached_property
    def sync_label(self) -> str:
        return f"sync pod {self.key}"

    @functools.cached_property
    def status_label(self) -> str:
        return f"status update {self.key}"

    def record(self, name: str) -> ContainerRecord | None:
        return next((c for c in self.containers if c.name == name), None)


class Kubelet:
    """The node agent of one node."""

    def __init__(self, loop, client, node_name: str, runtime, cni, rng: random.Random, node_ip: str,
                 capacity: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                 taints: list[dict] | None = None, control_plane: bool = False,
                 recorder: EventRecorder | None = None, kube_reserved: dict[str, str] | None = None,
                 system_reserved: dict[str, str] | None = None, eviction_hard: dict[str, str] | None = None,
                 cluster_dns: str = "10.96.0.10", cluster_domain: str = "cluster.local",
                 version: str = KUBELET_VERSION, os_image: str = "Ubuntu 24.04.1 LTS",
                 kernel_version: str = "6.8.0-51-generic", architecture: str = "amd64", events: bool = True) -> None:
        self.loop = loop
        self.client = client
        self.node_name = node_name
        self.runtime = runtime
        self.cni = cni
        if getattr(runtime, "cni", None) is None:
            runtime.cni = cni
        self.rng = rng
        # klog -v: a successful probe is logged at V(3) ("Probe succeeded", prober.go) and only counted
        # (prober_probe_total) otherwise; the lab's kubelets run at -v=3 so every probe is in the trace
        self.log_verbosity = 3
        self.node_ip = node_ip
        # what the kubelet measures itself (disk, hugepages) unless given: a real node reports every resource
        self.capacity = {**DEFAULT_CAPACITY, **(capacity or {})}
        self.allocatable = st.node_allocatable(self.capacity, kube_reserved, system_reserved, eviction_hard)
        self.control_plane = control_plane
        self.extra_labels = dict(labels or {})
        if taints is None:  # kubeadm taints a control-plane node unless told otherwise
            taints = [{"key": CONTROL_PLANE_ROLE, "effect": "NoSchedule"}] if control_plane else []
        self.taints = list(taints)
        # events=False: the kubelet records no Event objects (as Cluster(events=False) asks of every component)
        self.recorder = recorder or EventRecorder(client, "kubelet", node_name, enabled=events)
        self.cluster_dns = cluster_dns
        self.cluster_domain = cluster_domain
        self.version = version
        self.os_image = os_image
        self.kernel_version = kernel_version
        self.architecture = architecture
        self.component = f"kubelet/{node_name}"
        self.factory = SharedInformerFactory(client)
        self.node_informer = None
        self.pod_informer = None
        self.workers: dict[str, PodWorker] = {}  # by pod UID
        self.by_key: dict[str, str] = {}  # "ns/name" -> UID
        self._resync: set[str] = set()  # after a restart: workers to sync when the informer lists their pod
        self.node: dict | None = None  # the Node as last written
        self.node_uid = ""
        self.lease: dict | None = None
        self.started_at: int | None = None
        self.registered = False
        self.static_pod_path = static_mod.STATIC_POD_PATH
        self.manifests: dict[str, object] = {}  # file name in static_pod_path -> its content (YAML text or dict)
        self._static_timer = None
        self.cpu_seen: dict[str, int] = {}  # container id -> CPU ms (for the node's cumulative CPU counter)
        self.eviction_hard = dict(st.DEFAULT_EVICTION_HARD if eviction_hard is None else eviction_hard)
        self.pressure_seen: dict[str, int] = {}  # node condition -> when its signal last crossed the threshold
        from .volumes import VolumeManager

        self.volumes = VolumeManager(self)
        self.image_backoff = Backoff()
        self.container_backoff = Backoff()
        self._puller_free_at = 0  # when the pull in progress ends (serializeImagePulls: one pull at a time)
        self._pull_queue: collections.deque = collections.deque()  # (worker, record, cause) waiting for the puller
        self._last_node_report = -NODE_STATUS_REPORT_FREQUENCY_MS
        self._node_status_timer = None
        self._lease_timer = None
        self.stopped = False
        self._ids = {k: self._hex(n) for k, n in (("machineID", 32), ("systemUUID", 32), ("bootID", 32))}
        runtime.listeners.append(self._on_runtime_event)

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(n * 4):0{n}x}"

    def _jitter(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def _call(self, delay: int, fn, *args, label: str = "", background: bool = False, cause: int | None = None):
        if self.stopped:
            return None
        return self.loop.call_later(delay, fn, *args, component=self.component, label=label, background=background,
                                    cause=cause)

    # =============================================================================================================
    # start-up: node registration, lease, informers
    # =============================================================================================================
    def start(self) -> None:
        """Start the kubelet: the first step registers the Node, the next ones start the lease and the watches.
        After :meth:`stop` this is a restart: fresh informers, a fresh lease read, every pod worker re-synced."""
        if self.stopped:
            self.stopped = False
            self.factory = SharedInformerFactory(self.client)
            self.lease = None
            for w in self.workers.values():
                w.timer = w.status_timer = None
                for r in w.containers:
                    r.probe_timer = None
            self._resync = set(self.workers)  # synced again when the new informer lists them
            self._call(HOUSEKEEPING_PERIOD_MS, self._handle_pod_cleanups, label="pod cleanups")
        self._call(0, self._run, label="kubelet start")

    def _handle_pod_cleanups(self) -> None:
        """HandlePodCleanups (after a restart): stop the workers of pods deleted from the API meanwhile."""
        for w in list(self.workers.values()):
            cur = self.pod_informer.get(w.key) if self.pod_informer else None
            if not w.finished and (cur is None or cur["metadata"].get("uid") != w.uid):
                self._on_pod_delete(w.pod)

    def stop(self) -> None:
        """Stop the kubelet process (``systemctl stop kubelet``): its containers keep running, but it no longer
        renews its Lease, posts node status, watches or syncs pods, so the API server hears nothing from it."""
        if self.stopped:
            return
        for t in self.loop.timers():
            if t.component == self.component:
                t.cancel()
        self.factory.stop()
        self.stopped = True
        self.loop.emit(self.component, "kubelet.stop", f"nodes/{self.node_name}", {})

    @property
    def node_ref(self) -> dict:
        """The object reference the kubelet uses for node events (its UID is the node name)."""
        return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": self.node_name, "uid": self.node_name}}

    def _run(self) -> None:
        self.started_at = self.loop.now
        self.loop.emit(self.component, "kubelet.start", f"nodes/{self.node_name}",
                       {"version": self.version, "runtime": f"{self.runtime.name}://{self.runtime.runtime_version}"})
        self.recorder.normal(self.node_ref, "Starting", "Starting kubelet.")
        self.runtime.version()
        self._sync_static_pods()  # the file source needs no API server
        self._register_node()
        self._call(0, self._start_lease_and_watches, label="start lease and informers")

    # -- static pods (config/file.go) -----------------------------------------------------------------------------
    def add_manifest(self, filename: str, manifest) -> None:
        """Write a manifest into the static pod directory; the kubelet's inotify watch reacts at once."""
        self.manifests[filename] = manifest
        self._call(0, self._sync_static_pods, label=f"inotify {self.static_pod_path}/{filename}")

    def remove_manifest(self, filename: str) -> None:
        self.manifests.pop(filename, None)
        self._call(0, self._sync_static_pods, label=f"inotify {self.static_pod_path}/{filename}")

    def _sync_static_pods(self) -> None:
        """The file source: every 20 s (and on inotify events) read the directory and hand the kubelet the set of
        static pods; a changed file is a new pod (new hash), a removed one is a pod to stop."""
        if self._static_timer is not None:
            self._static_timer.cancel()
        self._static_timer = self._call(static_mod.FILE_CHECK_FREQUENCY_MS, self._sync_static_pods,
                                        label=f"read {self.static_pod_path}", background=True)
        desired: dict[str, tuple[str, dict]] = {}
        for fname, content in sorted(self.manifests.items()):
            path = f"{self.static_pod_path}/{fname}"
            try:
                pod = static_mod.static_pod(content, self.node_name, path, rfc3339(self.loop.now))
            except Exception as e:  # a bad file is skipped, as the file source logs and skips it
                self.loop.emit(self.component, "static.invalid", "", {"file": path, "error": str(e)})
                continue
            desired[pod["metadata"]["uid"]] = (path, pod)
        for w in list(self.workers.values()):
            if w.static and w.uid not in desired and not w.terminating:
                w.terminating = True
                self._schedule_sync(w, 0)
        for uid, (path, pod) in desired.items():
            if uid in self.workers:
                continue
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            spec = pod["spec"]
            records = ([ContainerRecord(c, True) for c in spec.get("initContainers") or []] +
                       [ContainerRecord(c, False) for c in spec.get("containers") or []])
            for r in records:
                for kind, fld in pr.PROBE_FIELDS.items():
                    if r.spec.get(fld) and (not r.init or r.spec.get("restartPolicy") == "Always"):
                        r.probes[kind] = pr.ProbeWorker(kind, pr.default_probe(r.spec[fld]))
            w = PodWorker(uid, key, pod, records, added_at=self.loop.now, static=True, manifest=path)
            self.workers[uid] = w
            self.by_key[key] = uid
            self.loop.emit(self.component, "static.add", f"pods/{key}", {"file": path, "hash": uid})
            self._schedule_sync(w, 0)

    def static_pods(self) -> list[str]:
        return sorted(w.key for w in self.workers.values() if w.static)

    def labels(self) -> dict[str, str]:
        labels = {"beta.kubernetes.io/arch": self.architecture, "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": self.architecture, "kubernetes.io/hostname": self.node_name,
                  "kubernetes.io/os": "linux"}
        if self.control_plane:
            labels[CONTROL_PLANE_ROLE] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        labels.update(self.extra_labels)
        return dict(sorted(labels.items()))

    def initial_node(self) -> dict:
        """initialNode: the Node object the kubelet registers."""
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name, "labels": self.labels(),
                             "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {}, "status": {}}
        if self.taints:
            node["spec"]["taints"] = deepcopy(self.taints)
        node["status"] = self._node_status(None)
        return node

    def _register_node(self) -> None:
        """registerWithAPIServer: create the Node; if it exists already (a restart), take it over."""
        node = self.initial_node()
        try:
            self.node = self.client.create("nodes", node)
        except errors.StatusError as e:
            if not errors.is_already_exists(e):
                self._call(7000, self._register_node, label="retry node registration")
                return
            existing = self.client.get("nodes", self.node_name)
            patched = deepcopy(existing)
            patched["status"] = node["status"]
            self.node = self.client.update_status("nodes", patched)
        self.node_uid = self.node["metadata"].get("uid", "")
        self.registered = True
        self._last_node_report = self.loop.now
        for _, _, _, event in st.PRESSURE_CONDITIONS:
            self.recorder.normal(self.node_ref, event, f"Node {self.node_name} status is now: {event}")
        self.recorder.normal(self.node_ref, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        if st.get_condition_status(self.node, "Ready") == "True":
            self.recorder.normal(self.node_ref, "NodeReady", f"Node {self.node_name} status is now: NodeReady")

    def _start_lease_and_watches(self) -> None:
        self._renew_lease()
        self.node_informer = self.factory.informer("nodes", field_selector=f"metadata.name={self.node_name}")
        self.node_informer.add_event_handler(self._on_node, lambda old, new: self._on_node(new), None)
        self.pod_informer = self.factory.informer("pods", field_selector=f"spec.nodeName={self.node_name}")
        self.pod_informer.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.factory.start()
        self._node_status_timer = self._call(NODE_STATUS_UPDATE_FREQUENCY_MS, self._node_status_tick,
                                             label="node status update", background=True)

    # -- lease ------------------------------------------------------------------------------------------------------
    def _lease_object(self) -> dict:
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE},
                 "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS,
                          "renewTime": rfc3339_micro(self.loop.now)}}
        if self.node_uid:
            lease["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                                                     "uid": self.node_uid}]
        return lease

    def _renew_lease(self) -> None:
        """The node lease controller: create the Lease once, then bump spec.renewTime every 10 s."""
        try:
            if self.lease is None:
                try:
                    self.lease = self.client.get("leases", self.node_name, NODE_LEASE_NAMESPACE)
                except errors.StatusError as e:
                    if not errors.is_not_found(e):
                        raise
                    self.lease = self.client.create("leases", self._lease_object(), NODE_LEASE_NAMESPACE)
            if self.lease["spec"].get("renewTime") != rfc3339_micro(self.loop.now):
                lease = deepcopy(self.lease)
                lease["spec"]["renewTime"] = rfc3339_micro(self.loop.now)
                lease["spec"]["holderIdentity"] = self.node_name
                lease["spec"]["leaseDurationSeconds"] = NODE_LEASE_DURATION_SECONDS
                self.lease = self.client.update("leases", lease)
        except errors.StatusError:
            self.lease = None  # re-read it next time (e.g. after a 409 Conflict)
        self._lease_timer = self._call(LEASE_RENEW_INTERVAL_MS, self._renew_lease, label="renew node lease",
                                       background=True)

    # -- node status ------------------------------------------------------------------------------------------------
    def network_errors(self) -> list[str]:
        return [] if self.cni.initialized else [st.NETWORK_NOT_READY]

    def _node_status(self, old: dict | None) -> dict:
        """setNodeStatus: run the status setters on (a copy of) the current status."""
        now = rfc3339(self.loop.now)
        old_status = (old or {}).get("status") or {}
        old_conds = {c["type"]: c for c in old_status.get("conditions") or []}
        conds = []
        under = self.pressure_conditions()
        for (type_, reason, message, _), (_, t_reason, t_message, _) in zip(st.PRESSURE_CONDITIONS,
                                                                         st.PRESSURE_CONDITIONS_TRUE):
            status = "True" if type_ in under else "False"
            if status == "True":
                reason, message = t_reason, t_message
            prev = old_conds.get(type_)
            conds.append({"lastHeartbeatTime": now,
                          "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status
                          else now, "message": message, "reason": reason, "status": status, "type": type_})
        status, reason, message = st.ready_condition(self.network_errors())
        prev = old_conds.get("Ready")
        conds.append({"lastHeartbeatTime": now,
                      "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status else now,
                      "message": message, "reason": reason, "status": status, "type": "Ready"})
        images = []
        for img in sorted(self.runtime.images.values(), key=lambda i: -i.size):
            if img.available_at <= self.loop.now:
                images.append({"names": list(img.repo_digests) + list(img.repo_tags), "sizeBytes": img.size})
        return {
            "addresses": [{"address": self.node_ip, "type": "InternalIP"},
                          {"address": self.node_name, "type": "Hostname"}],
            "allocatable": dict(self.allocatable),
            "capacity": dict(self.capacity),
            "conditions": conds,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "images": images[:50],
            "nodeInfo": {"architecture": self.architecture, "bootID": _uuid(self._ids["bootID"]),
                         "containerRuntimeVersion": f"{self.runtime.name}://{self.runtime.runtime_version}",
                         "kernelVersion": self.kernel_version, "kubeletVersion": self.version,
                         "machineID": self._ids["machineID"], "operatingSystem": "linux",
                         "osImage": self.os_image, "systemUUID": _uuid(self._ids["systemUUID"])},
        }

    def observe_pressure(self) -> list[str]:
        """The eviction manager's synchronize: observe the signals, note which thresholds are met."""
        from . import stats

        observations = stats.signal_observations(self)
        met = stats.thresholds_met(observations, self.eviction_hard)
        for signal, cond in stats.SIGNALS:
            if signal in met:
                self.pressure_seen[cond] = self.loop.now
        if "memory.available" in met:
            self._evict_for_memory(observations)
        return met

    def _evict_for_memory(self, observations: dict) -> None:
        """eviction_manager.synchronize for memory.available: rank the active pods (rankMemoryPressure: usage
        above requests first, then lower priority, then the most memory above requests) and evict one."""
        from ..api.quantity import format_quantity, value
        from .stats import container_stats

        usage: dict[str, dict[str, int]] = {}
        for row in container_stats(self):
            usage.setdefault(f"{row['namespace']}/{row['pod']}", {})[row["container"]] = row["memory"]
        ranked = []
        for w in self.workers.values():
            if not w.admitted or w.terminal or w.terminating or w.killed or w.finished:
                continue
            spec = w.pod.get("spec") or {}
            if w.static or spec.get("priorityClassName") == "system-node-critical":
                continue  # critical pods are never evicted
            req = sum(value(((c.get("resources") or {}).get("requests") or {}).get("memory", "0"))
                      for c in spec.get("containers") or [])
            used = sum(usage.get(w.key, {}).values())
            ranked.append((not used > req, int(spec.get("priority") or 0), -(used - req), w.key, w))
        if not ranked:
            return
        ranked.sort(key=lambda x: x[:4])
        w = ranked[0][4]
        available, _ = observations["memory.available"]
        threshold = self.eviction_hard["memory.available"]
        msg = (f"The node was low on resource: memory. Threshold quantity: {threshold}, available: "
               f"{format_quantity(Fraction(available), 'BinarySI')}. ")
        for c in (w.pod.get("spec") or {}).get("containers") or []:
            used = usage.get(w.key, {}).get(c["name"])
            req = ((c.get("resources") or {}).get("requests") or {}).get("memory", "0")
            if used is not None and used > value(req):
                msg += (f"Container {c['name']} was using {format_quantity(Fraction(used), 'BinarySI')}, "
                        f"request is {req}, has larger consumption of memory. ")
        self.recorder.warning(w.pod, "Evicted", msg)
        self.loop.emit(self.component, "evict", w.ref, {"signal": "memory.available", "message": msg})
        w.evicted = msg
        w.terminal = True
        self._mark_status(w)
        self._schedule_sync(w, 0)

    def pressure_conditions(self) -> set[str]:
        """Node conditions under pressure: a threshold met within the last 5 minutes (the transition period)."""
        from .stats import EVICTION_PRESSURE_TRANSITION_PERIOD_MS

        return {c for c, t in self.pressure_seen.items() if self.loop.now - t < EVICTION_PRESSURE_TRANSITION_PERIOD_MS}

    def _node_status_tick(self) -> None:
        if self.registered:
            self.observe_pressure()
        self.sync_node_status()
        self._node_status_timer = self._call(NODE_STATUS_UPDATE_FREQUENCY_MS, self._node_status_tick,
                                             label="node status update", background=True)

    def sync_node_status(self, force: bool = False) -> bool:
        """syncNodeStatus/tryUpdateNodeStatus: patch nodes/status when something changed or every 5 minutes."""
        if not self.registered:
            return False
        current = (self.node_informer.get(self.node_name) if self.node_informer else None) or self.node
        new = self._node_status(current)
        old = (current or {}).get("status") or {}
        changed = not _same_but_heartbeats(new, old)
        if not (force or changed or self.loop.now - self._last_node_report >= NODE_STATUS_REPORT_FREQUENCY_MS):
            return False
        was_ready = st.get_condition_status(current, "Ready")
        was = {t: st.get_condition_status(current, t) for t, *_ in st.PRESSURE_CONDITIONS}
        try:
            self.node = self.client.patch("nodes", self.node_name, {"status": new}, subresource="status")
        except errors.StatusError:
            return False
        self._last_node_report = self.loop.now
        for (t, _, _, ok_event), (_, _, _, bad_event) in zip(st.PRESSURE_CONDITIONS, st.PRESSURE_CONDITIONS_TRUE):
            now_s = st.get_condition_status(self.node, t)
            if was[t] and now_s != was[t]:
                event = bad_event if now_s == "True" else ok_event
                self.recorder.normal(self.node_ref, event, f"Node {self.node_name} status is now: {event}")
        now_ready = st.get_condition_status(self.node, "Ready")
        if now_ready != was_ready:
            event = "NodeReady" if now_ready == "True" else "NodeNotReady"
            self.recorder.normal(self.node_ref, event, f"Node {self.node_name} status is now: {event}")
        return True

    def _on_node(self, node: dict) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr and cidr != self.cni.pod_cidr:
            # the CNI daemonset writes its config for the node's podCIDR; containerd then reports NetworkReady,
            # and the kubelet's fast status update posts Ready
            self.cni.set_pod_cidr(cidr)
            self.loop.emit(self.component, "cni.configured", f"nodes/{self.node_name}", {"podCIDR": cidr},
                           target=self.cni.component)
            self._call(100, self._update_runtime_up, label="runtime network ready")

    def _update_runtime_up(self) -> None:
        self.runtime.status()
        self.sync_node_status()

    # =============================================================================================================
    # pod config: informer handlers
    # =============================================================================================================
    def _on_pod_add(self, pod: dict) -> None:
        if static_mod.is_mirror_pod(pod):
            return  # a mirror pod is the API's copy of a static pod this kubelet already runs
        uid = pod["metadata"].get("uid", "")
        if uid in self.workers:
            self._on_pod_update(None, pod)
            if uid in self._resync:  # after a restart, HandlePodAdditions syncs the pods it was running
                self._resync.discard(uid)
                w = self.workers[uid]
                self._schedule_sync(w, 0)
                self._mark_status(w)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # a terminal pod is never run again
        key = f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"
        spec = pod.get("spec") or {}
        records = ([ContainerRecord(c, True) for c in spec.get("initContainers") or []] +
                   [ContainerRecord(c, False) for c in spec.get("containers") or []])
        for r in records:
            if r.init and r.spec.get("restartPolicy") != "Always":
                continue  # probes are not allowed on (non-sidecar) init containers
            for kind, fld in pr.PROBE_FIELDS.items():
                if r.spec.get(fld):
                    r.probes[kind] = pr.ProbeWorker(kind, pr.default_probe(r.spec[fld]))
        if spec.get("initContainers"):
            for r in records:
                r.waiting_reason = "PodInitializing"
        w = PodWorker(uid, key, pod, records, added_at=self.loop.now)
        self.workers[uid] = w
        self.by_key[key] = uid
        if pod["metadata"].get("deletionTimestamp"):
            w.terminating = True
        self._schedule_sync(w, 0)

    def _on_pod_update(self, old, pod: dict) -> None:
        if static_mod.is_mirror_pod(pod):
            if pod["metadata"].get("deletionTimestamp"):
                self._on_pod_delete(pod)  # a mirror pod being deleted is replaced, the static pod runs on
            return
        w = self.workers.get(pod["metadata"].get("uid", ""))
        if w is None:
            self._on_pod_add(pod)
            return
        w.pod = pod
        if pod["metadata"].get("deletionTimestamp") and not w.terminating:
            w.terminating = True
            self._schedule_sync(w, 0)

    def _on_pod_delete(self, pod: dict) -> None:
        if static_mod.is_mirror_pod(pod):
            uid = self.by_key.get(f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}")
            w = self.workers.get(uid) if uid else None
            if w is not None and w.static and not w.finished:
                self._mark_status(w)  # the static pod keeps running: its mirror pod is created again
            return
        w = self.workers.get(pod["metadata"].get("uid", ""))
        if w is None:
            return
        w.deleted = True
        w.terminating = True
        if w.status_timer is not None:
            w.status_timer.cancel()
            w.status_timer = None
        self._schedule_sync(w, 0)

    def _schedule_sync(self, w: PodWorker, delay: int, background: bool = False, cause: int | None = None) -> None:
        if w.finished:
            return
        if w.timer is not None:
            if w.timer.time <= self.loop.now + delay:
                return
            w.timer.cancel()
        w.timer = self._call(delay, self._sync_pod, w.uid, label=w.sync_label, background=background, cause=cause)

    def _next_relist(self) -> int:
        """Delay to the next PLEG relist (the generic PLEG lists containers every second)."""
        phase = (self.started_at or 0) % PLEG_RELIST_PERIOD_MS
        nxt = ((self.loop.now - phase) // PLEG_RELIST_PERIOD_MS + 1) * PLEG_RELIST_PERIOD_MS + phase
        return nxt - self.loop.now

    def _on_runtime_event(self, etype: str, container_id: str) -> None:
        """A container exited by itself: PLEG notices at its next relist and the pod is synced."""
        if self.stopped:
            return
        for w in self.workers.values():
            for r in w.containers:
                if r.container_id == container_id:
                    self._call(self._next_relist(), self._pleg_relist, w.uid, container_id,
                               label=f"PLEG relist ({w.key})")
                    return

    def _pleg_relist(self, uid: str, container_id: str) -> None:
        w = self.workers.get(uid)
        if w is None or w.finished:
            return
        r = next((c for c in w.containers if c.container_id == container_id), None)
        if r is None or r.stage != "running":
            return
        s = self.runtime.container_status(container_id)
        if s["state"] != CONTAINER_EXITED:
            return
        self.loop.emit(self.component, "pleg", w.ref, {"event": "ContainerDied", "container": r.name,
                                                        "exitCode": s["exitCode"]})
        r.stage = "exited"
        r.exit_code = s["exitCode"]
        r.term_reason = s["reason"] or ("Completed" if s["exitCode"] == 0 else "Error")
        r.finished_at = (s["finishedAt"] - EPOCH_NS) // 1_000_000
        r.last_finished_ms = r.backoff_since = r.finished_at
        r.ready = False
        r.started = False
        self._schedule_sync(w, 0)
        self._mark_status(w)

    # =============================================================================================================
    # the pod worker: one externally visible action per step
    # =============================================================================================================
    def _sync_pod(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is None or w.finished:
            return
        w.timer = None
        if w.terminating or (w.terminal and not w.sandbox_stopped):
            self._sync_terminating_pod(w)
            return
        if w.terminal:
            return
        if not w.admitted:
            self._admit(w)
            return
        if not w.volumes_ready:
            self._wait_for_attach_and_mount(w)
            return
        if not w.sandbox_id:
            self._create_sandbox(w)
            return
        # init containers run one at a time, in order, each to completion
        for r in w.containers:
            if not r.init:
                continue
            if r.spec.get("restartPolicy") == "Always" and r.stage == "running":
                if r.kill_message:
                    self._kill_for_probe(w, r)
                    return
                continue  # a sidecar keeps running
            if r.spec.get("restartPolicy") == "Always" and r.stage == "exited":
                if r.finished_at is not None and r.finished_at > self.loop.now:
                    self._schedule_sync(w, r.finished_at - self.loop.now)
                    return
                self._restart_or_back_off(w, r)
                return
            if r.stage == "exited":
                if r.exit_code == 0:
                    continue
                if (w.pod.get("spec") or {}).get("restartPolicy") == "Never":
                    self._finish_pod(w)
                    return
                self._restart_or_back_off(w, r)
                return
            if r.stage == "running":
                return  # wait for it to exit (PLEG)
            self._advance_container(w, r)
            return
        for r in w.containers:
            if r.init:
                continue
            if r.stage == "running":
                if r.kill_message:
                    self._kill_for_probe(w, r)
                    return
                continue
            if r.stage == "exited":
                if r.finished_at is not None and r.finished_at > self.loop.now:
                    self._schedule_sync(w, r.finished_at - self.loop.now)  # still stopping
                    return
                if self._should_restart(w, r):
                    self._restart_or_back_off(w, r)
                    return
                continue
            self._advance_container(w, r)
            return
        if all(r.stage == "exited" for r in w.containers if not r.init) and not any(
                self._should_restart(w, r) for r in w.containers if not r.init):
            self._finish_pod(w)

    # -- admission ----------------------------------------------------------------------------------------------
    def _active_workers(self, exclude: str) -> list[PodWorker]:
        return [w for w in self.workers.values()
                if w.admitted and w.rejected is None and not w.terminal and not w.finished and w.uid != exclude]

    @staticmethod
    def _worker_requests(w: PodWorker) -> dict[str, int]:
        """A pod's requests for admission, remembered on its worker: a pod's container resources cannot change
        (the API server rejects such an update), so they are worked out once per pod instead of at every
        admission of another pod."""
        got = w.requests
        if got is None:
            got = w.requests = st._requests_in_units(w.pod)
        return got

    def _admit(self, w: PodWorker) -> None:
        """canAdmitPod: the pod must fit in what is left of the node's allocatable resources."""
        active = self._active_workers(w.uid)
        result = st.fits_requests(self._worker_requests(w), [self._worker_requests(o) for o in active],
                                  self.allocatable)
        self.loop.emit(self.component, "admit", w.ref, {"admitted": result is None,
                                                         **({"reason": result[0]} if result else {})})
        w.admitted = True
        if result is not None:
            reason, message = result
            w.rejected = (reason, message)
            w.terminal = True
            w.sandbox_stopped = True
            self.recorder.warning(w.pod, reason, message)
            self._mark_status(w)
            return
        w.start_time = rfc3339(self.loop.now)
        self._mark_status(w)
        self._schedule_sync(w, 0)

    # -- volumes ------------------------------------------------------------------------------------------------
    def _wait_for_attach_and_mount(self, w: PodWorker) -> None:
        """WaitForAttachAndMount: the sandbox is created only once every volume is mounted."""
        if w.mount_started is None:
            w.mount_started = self.loop.now
        errs, wait = self.volumes.mount_pod(w.pod)
        for e in errs:
            self.recorder.warning(w.pod, "FailedMount", e)
        if not errs and not wait:
            w.volumes_ready = True
            self._schedule_sync(w, 0)
            return
        if self.loop.now - w.mount_started >= volumes_mod.POD_ATTACH_AND_MOUNT_TIMEOUT_MS and \
                not w.mount_timeout_reported:
            w.mount_timeout_reported = True
            done = self.volumes.mounted.get(w.uid, {})
            unmounted = sorted(v["name"] for v in (w.pod.get("spec") or {}).get("volumes") or []
                               if v["name"] not in done)
            self.recorder.warning(w.pod, "FailedMount", f"Unable to attach or mount volumes: unmounted volumes="
                                                        f"[{' '.join(unmounted)}], unattached volumes=[], failed to "
                                                        f"process volumes=[]: context deadline exceeded")
        self._schedule_sync(w, max(1, wait), background=True)

    # -- sandbox ------------------------------------------------------------------------------------------------
    def sandbox_config(self, pod: dict, attempt: int = 0) -> dict:
        """generatePodSandboxConfig: what the kubelet asks the runtime for in RunPodSandbox."""
        md, spec = pod["metadata"], pod.get("spec") or {}
        ns = md.get("namespace", "default")
        labels = dict(md.get("labels") or {})
        labels.update({"io.kubernetes.pod.name": md["name"], "io.kubernetes.pod.namespace": ns,
                       "io.kubernetes.pod.uid": md.get("uid", "")})
        annotations = dict(md.get("annotations") or {})
        annotations.update({"kubernetes.io/config.seen": rfc3339(self.loop.now),
                            "kubernetes.io/config.source": "api"})
        host_network = bool(spec.get("hostNetwork"))
        dns_policy = spec.get("dnsPolicy", "ClusterFirst")
        if dns_policy == "ClusterFirst" and not host_network or dns_policy == "ClusterFirstWithHostNet":
            dns = {"servers": [self.cluster_dns],
                   "searches": [f"{ns}.svc.{self.cluster_domain}", f"svc.{self.cluster_domain}",
                                self.cluster_domain], "options": ["ndots:5"]}
        else:
            dns = {"servers": [], "searches": [], "options": []}
        ports = [{"protocol": p.get("protocol", "TCP"), "containerPort": p["containerPort"],
                  "hostPort": p["hostPort"], "hostIp": p.get("hostIP", "")}
                 for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")]
        qos = (pod.get("status") or {}).get("qosClass", "BestEffort")
        uid_ = md.get("uid", "").replace("-", "_")
        parent = "kubepods.slice" if qos == "Guaranteed" else f"kubepods-{qos.lower()}.slice"
        return {"metadata": {"name": md["name"], "uid": md.get("uid", ""), "namespace": ns, "attempt": attempt},
                "hostname": spec.get("hostname") or (self.node_name if host_network else md["name"]),
                "logDirectory": f"/var/log/pods/{ns}_{md['name']}_{md.get('uid', '')}",
                "dnsConfig": dns, "portMappings": ports, "labels": labels, "annotations": annotations,
                "linux": {"cgroupParent": f"/kubepods.slice/{parent}/kubepods-{qos.lower()}-pod{uid_}.slice"
                          if qos != "Guaranteed" else f"/kubepods.slice/kubepods-pod{uid_}.slice",
                          "securityContext": {"namespaceOptions": {
                              "network": "NODE" if host_network else "POD", "pid": "CONTAINER", "ipc": "POD"}}}}

    def _create_sandbox(self, w: PodWorker) -> None:
        """SyncPod step 4: create the sandbox (containerd runs CNI ADD) and read its IP."""
        config = self.sandbox_config(w.pod)
        try:
            w.sandbox_id = self.runtime.run_pod_sandbox(config)
            status = self.runtime.pod_sandbox_status(w.sandbox_id)
        except CRIError as e:
            self.recorder.warning(w.pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
            w.sandbox_id = ""
            self._schedule_sync(w, self._jitter(WORKER_BACKOFF_MS, WORKER_BACKOFF_MS * 3 // 2))
            return
        w.sandbox_config = config  # PullImage and CreateContainer get the same config (upstream: one per SyncPod)
        host_network = bool((w.pod.get("spec") or {}).get("hostNetwork"))
        w.pod_ip = self.node_ip if host_network else status["network"]["ip"]
        w.sandbox_ready = True
        # No status write here: the kubelet generates a pod's status at the start of SyncPod, before the sandbox
        # is created and the images are pulled, so the pod IP and PodReadyToStartContainers reach the API server
        # with the next sync's status (a container started, or an error such as ErrImagePull).
        self._schedule_sync(w, self._jitter(100, 300))

    # -- containers ---------------------------------------------------------------------------------------------
    def _advance_container(self, w: PodWorker, r: ContainerRecord) -> None:
        if r.stage == "pending":
            self._ensure_image(w, r)
        elif r.stage == "queued":
            self._begin_pull(w, r)
        elif r.stage == "pulling":
            self._finish_pull(w, r)
        elif r.stage == "created":
            self._start(w, r)
        elif r.stage == "backoff":
            self._restart_or_back_off(w, r)

    def _ensure_image(self, w: PodWorker, r: ContainerRecord) -> None:
        """EnsureImageExists: use the image if it is present (and the policy allows), else pull it."""
        image = r.spec.get("image", "")
        policy = r.spec.get("imagePullPolicy", "IfNotPresent")
        try:
            apply_default_image_tag(image)
        except InvalidImageName as e:
            msg = f'Failed to apply default image tag "{image}": {e}'
            self.recorder.warning(w.pod, "InspectFailed", msg, r.field_path)
            self.recorder.warning(w.pod, "Failed", "Error: InvalidImageName", r.field_path)
            self._wait(w, r, "InvalidImageName", msg)
            return
        present = self.runtime.image_status(image)
        if present is not None and policy != "Always":
            self.recorder.normal(w.pod, "Pulled", f'Container image "{image}" already present on machine',
                                 r.field_path)
            r.image_ref = present["id"]
            self._create(w, r)
            return
        if present is None and policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self.recorder.warning(w.pod, "ErrImageNeverPull", msg, r.field_path)
            self.recorder.warning(w.pod, "Failed", "Error: ErrImageNeverPull", r.field_path)
            self._wait(w, r, "ErrImageNeverPull", msg)
            return
        key = f"{w.uid}_{image}"
        if self.image_backoff.is_in_back_off_since_update(key, self.loop.now):
            msg = f'Back-off pulling image "{image}"'
            self.recorder.normal(w.pod, "BackOff", msg, r.field_path)
            self.recorder.warning(w.pod, "Failed", "Error: ImagePullBackOff", r.field_path)
            prev = f": ErrImagePull: {r.waiting_message}" if r.waiting_reason == "ErrImagePull" else ""
            self._wait(w, r, "ImagePullBackOff", msg + prev if prev else msg, retry=True)
            return
        self.recorder.normal(w.pod, "Pulling", f'Pulling image "{image}"', r.field_path)
        r.pull_started = self.loop.now
        if self._puller_free_at > self.loop.now or self._pull_queue:
            # serializeImagePulls: the request waits in the puller's queue behind the pull in progress
            r.stage = "queued"
            loop = self.loop
            self._pull_queue.append((w, r, loop.last_emitted if loop.last_emitted is not None else loop.cause))
            self._wake_pull_queue()
            return
        self._begin_pull(w, r)

    def _wake_pull_queue(self) -> None:
        """serialImagePuller: requests are served one at a time, in the order they were queued. The worker at the
        head of the queue is synced when the puller becomes free; the others wait without syncing, as a pod worker
        blocked in the pull does."""
        head = self._pull_queue_head()
        if head is not None:  # the wake-up is caused by the request itself (the worker waits on its own pull)
            self._schedule_sync(head[0], max(0, self._puller_free_at - self.loop.now), cause=head[2])

    def _pull_queue_head(self) -> tuple[PodWorker, ContainerRecord, int | None] | None:
        q = self._pull_queue
        while q:
            w, r, _ = q[0]
            if w.finished or w.terminating or w.terminal or r.stage != "queued":
                q.popleft()  # the pod went away (or the record moved on): its request is dropped
                continue
            return q[0]
        return None

    def _begin_pull(self, w: PodWorker, r: ContainerRecord) -> None:
        if r.stage == "queued":
            head = self._pull_queue_head()
            if head is None or head[1] is not r or self._puller_free_at > self.loop.now:
                self._wake_pull_queue()  # not its turn yet: the queue syncs it when it is
                return
            self._pull_queue.popleft()
        image = r.spec.get("image", "")
        r.pull_begun = self.loop.now
        r.stage = "pulling"
        try:
            res = self.runtime.pull_image(image, None, w.sandbox_config or self.sandbox_config(w.pod))
        except ImagePullError as e:
            r.pull_error = e
            r.pull_done = self.loop.now + e.duration_ms
        else:
            r.pull_error = None
            r.image_ref = res.image_ref
            r.pull_size = res.size
            r.pull_done = self.loop.now + res.duration_ms
        self._puller_free_at = r.pull_done
        self._schedule_sync(w, r.pull_done - self.loop.now)
        self._wake_pull_queue()

    def _finish_pull(self, w: PodWorker, r: ContainerRecord) -> None:
        if self.loop.now < r.pull_done:
            self._schedule_sync(w, r.pull_done - self.loop.now)
            return
        image = r.spec.get("image", "")
        if r.pull_error is not None:
            e, r.pull_error = r.pull_error, None
            self.recorder.warning(w.pod, "Failed", f'Failed to pull image "{image}": {e}', r.field_path)
            self.recorder.warning(w.pod, "Failed", "Error: ErrImagePull", r.field_path)
            self.image_backoff.next(f"{w.uid}_{image}", self.loop.now)
            r.stage = "pending"
            self._wait(w, r, "ErrImagePull", e.message, retry=True)
            return
        pulled = go_ms(r.pull_done - r.pull_begun)
        total = go_ms(r.pull_done - r.pull_started)
        self.recorder.normal(w.pod, "Pulled", f'Successfully pulled image "{image}" in {pulled} ({total} including '
                                              f'waiting). Image size: {r.pull_size} bytes.', r.field_path)
        self._create(w, r)

    def container_config(self, w: PodWorker, r: ContainerRecord) -> dict:
        """generateContainerConfig: the CRI ContainerConfig for one container."""
        md, c = w.pod["metadata"], r.spec
        ns = md.get("namespace", "default")
        env = [{"key": k, "value": v} for k, v in self.make_environment_variables(w.pod, c)]
        mounts = [{"containerPath": m["mountPath"],
                   "hostPath": self.volume_host_path(w.pod, m["name"]),
                   "readonly": bool(m.get("readOnly"))} for m in c.get("volumeMounts") or []]
        pod_dir = f"/var/lib/kubelet/pods/{md.get('uid', '')}"
        if not (w.pod.get("spec") or {}).get("hostNetwork"):
            mounts.append({"containerPath": "/etc/hosts", "hostPath": f"{pod_dir}/etc-hosts", "readonly": False})
        mounts.append({"containerPath": c.get("terminationMessagePath", "/dev/termination-log"),
                       "hostPath": f"{pod_dir}/containers/{c['name']}/{self._hex(8)}", "readonly": False})
        psc = (w.pod.get("spec") or {}).get("securityContext") or {}
        csc = c.get("securityContext") or {}
        sc = {}
        for api, cri in (("runAsUser", "runAsUser"), ("runAsGroup", "runAsGroup")):
            v = csc.get(api, psc.get(api))
            if v is not None:
                sc[cri] = {"value": int(v)}
        if csc.get("privileged"):
            sc["privileged"] = True
        if csc.get("capabilities"):
            sc["capabilities"] = {"add": list(csc["capabilities"].get("add") or []),
                                  "drop": list(csc["capabilities"].get("drop") or [])}
        if csc.get("readOnlyRootFilesystem"):
            sc["readonlyRootfs"] = True
        if csc.get("allowPrivilegeEscalation") is False:
            sc["noNewPrivs"] = True
        return {"metadata": {"name": c["name"], "attempt": r.restart_count},
                "image": {"image": r.image_ref, "userSpecifiedImage": c.get("image", "")},
                "command": list(c.get("command") or []), "args": list(c.get("args") or []),
                "workingDir": c.get("workingDir", ""), "envs": env, "mounts": mounts,
                "labels": {"io.kubernetes.container.name": c["name"], "io.kubernetes.pod.name": md["name"],
                           "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": md.get("uid", "")},
                "annotations": {"io.kubernetes.container.restartCount": str(r.restart_count),
                                "io.kubernetes.container.terminationMessagePath":
                                    c.get("terminationMessagePath", "/dev/termination-log"),
                                "io.kubernetes.container.terminationMessagePolicy":
                                    c.get("terminationMessagePolicy", "File"),
                                "io.kubernetes.pod.terminationGracePeriod":
                                    str((w.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))},
                "logPath": f"{c['name']}/{r.restart_count}.log",
                "linux": {"resources": cm.linux_container_resources(w.pod, c, self._memory_capacity()),
                          "securityContext": sc}}

    def volume_host_path(self, pod: dict, volume: str) -> str:
        """Where the kubelet mounts a pod volume on the host:
        /var/lib/kubelet/pods/<uid>/volumes/<plugin, / escaped as ~>/<volume name>."""
        uid = pod["metadata"].get("uid", "")
        mounted = self.volumes.mounted.get(uid, {}).get(volume)
        if mounted:
            return mounted
        spec = next((v for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("name") == volume), {})
        plugin = next((PLUGIN_NAMES[k] for k in PLUGIN_NAMES if k in spec), "kubernetes.io~empty-dir")
        if "hostPath" in spec:
            return spec["hostPath"].get("path", "")
        return f"/var/lib/kubelet/pods/{uid}/volumes/{plugin}/{volume}"

    def _memory_capacity(self) -> int:
        from ..api.quantity import value

        return value(self.capacity.get("memory", "0"))

    def make_environment_variables(self, pod: dict, c: dict) -> list[tuple[str, str]]:
        """makeEnvironmentVariables: envFrom first, then env (later wins), resolving ConfigMap and Secret keys
        through the API server and fieldRefs from the pod. Raises CRIError-like ValueError with the message the
        kubelet reports as CreateContainerConfigError."""
        ns = pod["metadata"].get("namespace", "default")
        out: dict[str, str] = {}

        def fetch(kind: str, name: str, optional: bool) -> dict | None:
            try:
                obj = self.client.get(kind, name, ns)
            except errors.StatusError as e:
                if errors.is_not_found(e) and optional:
                    return None
                raise ValueError(f'{kind[:-1]} "{name}" not found') from None
            data = dict(obj.get("data") or {})
            if kind == "secrets":
                import base64

                data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
            return data

        for src in c.get("envFrom") or []:
            prefix = src.get("prefix", "")
            if "configMapRef" in src:
                data = fetch("configmaps", src["configMapRef"].get("name", ""), src["configMapRef"].get("optional"))
            else:
                data = fetch("secrets", src.get("secretRef", {}).get("name", ""),
                             src.get("secretRef", {}).get("optional"))
            for k, v in (data or {}).items():
                out[prefix + k] = v
        for e in c.get("env") or []:
            if "name" not in e:
                continue
            vf = e.get("valueFrom")
            if not vf:
                out[e["name"]] = str(e.get("value", ""))
                continue
            if "fieldRef" in vf:
                out[e["name"]] = volumes_mod.field_value(pod, vf["fieldRef"].get("fieldPath", ""))
            for ref_key, kind, label in (("configMapKeyRef", "configmaps", "ConfigMap"),
                                         ("secretKeyRef", "secrets", "Secret")):
                if ref_key in vf:
                    ref = vf[ref_key]
                    data = fetch(kind, ref.get("name", ""), ref.get("optional"))
                    if data is None:
                        continue
                    if ref.get("key") not in data:
                        if ref.get("optional"):
                            continue
                        raise ValueError(f"couldn't find key {ref.get('key')} in {label} {ns}/{ref.get('name')}")
                    out[e["name"]] = data[ref["key"]]
        return list(out.items())

    def _create(self, w: PodWorker, r: ContainerRecord) -> None:
        """startContainer step 2: CreateContainer (the start is the next step)."""
        try:
            config = self.container_config(w, r)
        except ValueError as e:
            self.recorder.warning(w.pod, "Failed", f"Error: {e}", r.field_path)
            self._wait(w, r, "CreateContainerConfigError", str(e), retry=True)
            return
        try:
            r.container_id = self.runtime.create_container(w.sandbox_id, config,
                                                           w.sandbox_config or self.sandbox_config(w.pod))
        except CRIError as e:
            self.recorder.warning(w.pod, "Failed", f"Error: {e.message}", r.field_path)
            self._wait(w, r, "CreateContainerError", e.message, retry=True)
            return
        self.recorder.normal(w.pod, "Created", f"Created container: {r.name}", r.field_path)
        c = self.runtime.containers[r.container_id]
        r.image = c.image.repo_tags[0] if c.image.repo_tags else r.spec.get("image", "")
        r.image_id = c.image.repo_digests[0] if c.image.repo_digests else c.image_ref
        r.stage = "created"
        self._schedule_sync(w, self._jitter(40, 120))

    def _start(self, w: PodWorker, r: ContainerRecord) -> None:
        """startContainer step 3: StartContainer."""
        try:
            self.runtime.start_container(r.container_id)
        except CRIError as e:
            self.recorder.warning(w.pod, "Failed", f"Error: {e.message}", r.field_path)
            self._wait(w, r, "RunContainerError", e.message, retry=True)
            return
        self.recorder.normal(w.pod, "Started", f"Started container {r.name}", r.field_path)
        r.stage = "running"
        r.started_at = self.loop.now
        r.finished_at = None
        r.waiting_reason = ""
        r.waiting_message = ""
        r.ready = False
        r.started = False
        r.kill_message = r.kill_reason = ""
        took = self._jitter(60, 150)
        seen = took + self._next_relist_after(took)
        if r.init and r.spec.get("restartPolicy") != "Always":
            r.started = True
        else:
            self._start_probes(w, r, seen)
        if any(c.stage != "running" and not (c.init and c.stage == "exited" and c.exit_code == 0)
               for c in w.containers):
            self._schedule_sync(w, took)  # the worker goes on to the next container
        # else nothing is left to start: the next sync is the one the PLEG event brings (the status below), and
        # a probe failure, an exit or a deletion each schedule their own
        self._mark_status(w, seen)

    def _next_relist_after(self, delay: int) -> int:
        phase = (self.started_at or 0) % PLEG_RELIST_PERIOD_MS
        t = self.loop.now + delay
        return ((t - phase) // PLEG_RELIST_PERIOD_MS + 1) * PLEG_RELIST_PERIOD_MS + phase - t

    def _wait(self, w: PodWorker, r: ContainerRecord, reason: str, message: str, retry: bool = False) -> None:
        r.waiting_reason = reason
        r.waiting_message = message
        if r.stage not in ("exited",):
            r.stage = "pending"
        self._mark_status(w)
        if retry:
            self._schedule_sync(w, self._jitter(WORKER_BACKOFF_MS, WORKER_BACKOFF_MS * 3 // 2), background=True)

    # -- restarts -----------------------------------------------------------------------------------------------
    def _kill_for_probe(self, w: PodWorker, r: ContainerRecord) -> None:
        """computePodActions: a container that failed its liveness (or startup) probe is killed, and restarted
        unless restartPolicy is Never ("Container app failed liveness probe, will be restarted")."""
        restart = (w.pod.get("spec") or {}).get("restartPolicy", "Always") != "Never" or \
            r.spec.get("restartPolicy") == "Always"
        message = r.kill_message + (", will be restarted" if restart else "")
        fld = "livenessProbe" if r.kill_reason == "LivenessProbe" else "startupProbe"
        grace = (r.spec.get(fld) or {}).get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (w.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        r.kill_message = ""
        r.force_restart = restart
        since = r.last_finished_ms
        took = self._kill_container(w, r, message, max(int(grace), MINIMUM_GRACE_PERIOD_S), r.kill_reason)
        r.backoff_since = since  # SyncPod starts it again at once, checking back-off against the previous exit
        r.last_finished_ms = r.finished_at
        self._mark_status(w, took)
        self._schedule_sync(w, took)

    def _should_restart(self, w: PodWorker, r: ContainerRecord) -> bool:
        policy = (w.pod.get("spec") or {}).get("restartPolicy", "Always")
        if r.init and r.spec.get("restartPolicy") == "Always":
            return True
        if r.force_restart:
            return True
        return policy == "Always" or (policy == "OnFailure" and r.exit_code != 0)

    def _restart_or_back_off(self, w: PodWorker, r: ContainerRecord) -> None:
        """computePodActions + doBackOff: restart an exited container, or wait in CrashLoopBackOff."""
        md = w.pod["metadata"]
        key = f"{md['name']}_{md.get('namespace', 'default')}_{w.uid}_{r.name}"
        finished = r.backoff_since
        if finished is not None and self.container_backoff.is_in_back_off_since(key, finished, self.loop.now):
            back = self.container_backoff.get(key)
            pod_desc = f"{md['name']}_{md.get('namespace', 'default')}({w.uid})"
            self.recorder.warning(w.pod, "BackOff", f"Back-off restarting failed container {r.name} in pod "
                                                    f"{pod_desc}", r.field_path)
            if r.stage != "backoff":
                r.last_state = {"terminated": self._terminated_state(r)}
            r.stage = "backoff"
            r.waiting_reason = "CrashLoopBackOff"
            r.waiting_message = f"back-off {go_ms(back)} restarting failed container={r.name} pod={pod_desc}"
            self._mark_status(w)
            self._schedule_sync(w, max(1, finished + back - self.loop.now), background=True)
            return
        self.container_backoff.next(key, self.loop.now)
        if r.stage != "backoff":
            r.last_state = {"terminated": self._terminated_state(r)}
        if r.container_id:
            try:
                r.previous_log = self.runtime.log_lines(r.container_id)
            except CRIError:
                r.previous_log = []
            try:
                self.runtime.remove_container(r.container_id)
            except CRIError:
                pass
        r.restart_count += 1
        r.force_restart = False
        r.container_id = ""
        r.stage = "pending"
        self._ensure_image(w, r)

    # -- probes (prober/worker.go, prober_manager.go) ---------------------------------------------------------
    def _start_probes(self, w: PodWorker, r: ContainerRecord, delay: int) -> None:
        """A container started: its probe workers follow the new container ID. Ticks stay on the pod's grid
        (every periodSeconds from when the pod was added); a readiness probe also runs at once when the status
        manager first sees the container (UpdatePodStatus triggers it manually)."""
        for pw in r.probes.values():
            pw.new_container(r.container_id)
            self._schedule_probe(w, r, pw)
        if not r.probes.get(pr.STARTUP):
            self._container_started(w, r, delay)

    def _container_started(self, w: PodWorker, r: ContainerRecord, delay: int = 0) -> None:
        r.started = True
        rp = r.probes.get(pr.READINESS)
        if rp is None:
            r.ready = not r.init or r.spec.get("restartPolicy") == "Always"
        else:
            self._schedule_probe(w, r, rp, manual=delay)

    def _schedule_probe(self, w: PodWorker, r: ContainerRecord, pw, manual: int | None = None) -> None:
        """Set the worker's next tick (the next one on its grid, or ``manual`` ms from now if that is sooner)
        and (re)arm the container's probe timer: workers due at the same instant run in one step."""
        now = self.loop.now
        if manual is not None:
            t = now + manual
            if pw.next_at is not None and pw.next_at <= t:
                return
        else:
            period = pw.period_ms
            t = w.added_at + ((now - w.added_at) // period + 1) * period  # the next tick after now
        pw.next_at = t
        self._arm_probes(w, r)

    def _arm_probes(self, w: PodWorker, r: ContainerRecord) -> None:
        t = None
        open_ = False  # a probe whose verdict is still open keeps settle() waiting; settled ones tick in background
        for pw in r.probes.values():
            na = pw.next_at
            if na is not None and (t is None or na < t):
                t = na
            if not open_ and ((pw.kind == pr.READINESS and pw.result != pr.SUCCESS and
                               pw.failures < pw.failure_threshold) or
                              (pw.kind == pr.STARTUP and not r.started and not pw.on_hold)):
                open_ = True
        if t is None:
            return
        timer = r.probe_timer
        if timer is not None and not timer.cancelled:
            if timer.time == t and timer.background == (not open_):
                return
            timer.cancel()
        if self.stopped:
            r.probe_timer = None
            return
        if not r.probe_label:
            r.probe_label = f"probes {w.key}/{r.name}"
        r.probe_timer = self.loop.call_at(t, self._probe, w, r, component=self.component, label=r.probe_label,
                                          background=not open_)

    def _probe(self, w: PodWorker, r: ContainerRecord) -> None:
        r.probe_timer = None
        if w.finished or w.terminal or w.killed:
            return  # the pod is terminated: its workers exit
        now = self.loop.now
        for pw in r.probes.values():
            if pw.next_at != now:
                continue
            pw.next_at = None
            if w.terminating and pw.kind in (pr.LIVENESS, pr.STARTUP):
                pw.result = pr.SUCCESS  # graceful shutdown: a last Success, then stop probing
                continue
            self._do_probe(w, r, pw)
            if pw.next_at is None:
                period = pw.period_ms
                pw.next_at = w.added_at + ((now - w.added_at) // period + 1) * period
        self._arm_probes(w, r)

    def _do_probe(self, w: PodWorker, r: ContainerRecord, pw) -> None:
        """doProbe: probe once (unless the tick is skipped) and act on a verdict that changed."""
        if r.stage != "running" or not r.container_id:
            return
        if pw.container_id != r.container_id:
            pw.new_container(r.container_id)
        if pw.on_hold:
            return
        if pw.initial_delay_s and (self.loop.now - (r.started_at or 0)) // 1000 < pw.initial_delay_s:
            return
        if r.started != (pw.kind != pr.STARTUP):
            return  # startup gates liveness and readiness; a started container needs no startup probe
        ok, output = self.run_probe(w, r, pw)
        if ok and pw.result == pr.SUCCESS and pw.last_result == pr.SUCCESS:
            # the steady state: a success after successes changes nothing (no results-manager update, no API
            # write); it is counted, and logged only at -v=3
            pw.probes += 1
            pw.result_run += 1
            if self.log_verbosity >= 3:
                data = pw.success_event
                if data is None or data["container"] != r.name:
                    data = pw.success_event = {"container": r.name, "probe": pw.kind, "result": "success"}
                self.loop.emit(self.component, "probe", w.ref, data)
            return
        result = pr.SUCCESS if ok else pr.FAILURE
        if not ok or self.log_verbosity >= 3:
            self.loop.emit(self.component, "probe", w.ref, {"container": r.name, "probe": pw.kind,
                                                             "result": "success"}
                           if ok else {"container": r.name, "probe": pw.kind, "result": "failure",
                                       "output": output})
        if not ok:
            self.recorder.warning(w.pod, "Unhealthy", f"{pw.kind.capitalize()} probe failed: {output}",
                                  r.field_path)
        prev = pw.result
        if pw.record(result) and pw.result != prev:  # the results manager only notifies changes
            self._on_probe_result(w, r, pw.kind, result)

    def run_probe(self, w: PodWorker, r: ContainerRecord, pw) -> tuple[bool, str]:
        """runProbe: exec through the runtime (ExecSync); httpGet, tcpSocket and grpc straight to the pod IP."""
        spec = pw.spec
        handler = pw.handler
        timeout = pw.timeout_s
        if handler == "exec":
            try:
                res = self.runtime.exec_sync(r.container_id, list(spec["exec"].get("command") or []), timeout)
            except CRIError as e:
                return False, e.message
            return res["exitCode"] == 0, res["stdout"] + res["stderr"]
        c = self.runtime.containers.get(r.container_id)
        if c is None:
            return False, ""
        verdict = c.behavior.answer(pw.kind, handler, self.loop.now - c.started_ms, timeout * 1000, self.loop.now)
        if verdict[0] == "ok":
            return True, ""
        try:
            return False, pr.output_for(spec, verdict, w.pod_ip, r.spec)
        except ValueError as e:
            return False, str(e)

    def _on_probe_result(self, w: PodWorker, r: ContainerRecord, kind: str, result: str) -> None:
        """The results managers' updates: readiness sets ready; startup success starts the other probes;
        a liveness or startup failure makes the next sync kill (and restart) the container."""
        self.loop.emit(self.component, "probe.result", w.ref, {"container": r.name, "probe": kind,
                                                                "result": result})
        if kind == pr.READINESS:
            ready = result == pr.SUCCESS and r.started
            if ready != r.ready:
                r.ready = ready
                self._mark_status(w)
        elif kind == pr.LIVENESS and result == pr.SUCCESS:
            return
        elif result == pr.SUCCESS:  # startup
            self._container_started(w, r)
            self._mark_status(w)
        else:
            r.kill_reason = "LivenessProbe" if kind == pr.LIVENESS else "StartupProbe"
            r.kill_message = f"Container {r.name} failed {kind} probe"
            self._schedule_sync(w, 0)

    def _cancel_probe(self, r: ContainerRecord) -> None:
        for pw in r.probes.values():
            pw.next_at = None
        if r.probe_timer is not None:
            r.probe_timer.cancel()
            r.probe_timer = None

    def _kill_container(self, w: PodWorker, r: ContainerRecord, message: str, grace: int,
                        reason: str = "") -> int:
        """killContainer: run the preStop hook, then StopContainer with what is left of the grace period.
        Returns how long (ms) the container takes to stop."""
        self.recorder.normal(w.pod, "Killing", message, r.field_path)
        hook_ms = self._pre_stop(w, r, grace)
        grace_left = max(grace - hook_ms // 1000, MINIMUM_GRACE_PERIOD_S)
        took = hook_ms + self.runtime.stop_container(r.container_id, grace_left)
        s = self.runtime.containers[r.container_id]
        r.stage = "exited"
        r.exit_code = s.exit_code
        r.term_reason = s.reason
        r.finished_at = self.loop.now + took
        r.ready = False
        r.started = False
        return took

    def _pre_stop(self, w: PodWorker, r: ContainerRecord, grace: int) -> int:
        """executePreStopHook: how long (ms) the preStop hook runs, at most the grace period."""
        hook = ((r.spec.get("lifecycle") or {}).get("preStop")) or {}
        if not hook:
            return 0
        ms = 0
        if hook.get("sleep") is not None:
            ms = int(hook["sleep"].get("seconds", 0)) * 1000
        elif hook.get("exec") is not None:
            cmd = list(hook["exec"].get("command") or [])
            m = _SLEEP_RE.search(" ".join(cmd))
            ms = int(m.group(1)) * 1000 if m else 10
            try:
                self.runtime.exec_sync(r.container_id, cmd, grace)
            except CRIError:
                pass
        elif hook.get("httpGet") is not None:
            ms = 10
        ms = min(ms, grace * 1000)
        self.loop.emit(self.component, "hook.preStop", w.ref, {"container": r.name, "ms": ms})
        return ms

    # -- termination ----------------------------------------------------------------------------------------------
    def _finish_pod(self, w: PodWorker) -> None:
        """Every container is done for good: the pod is terminal; the worker stops its sandbox."""
        w.terminal = True
        self._mark_status(w)
        self._schedule_sync(w, 0)

    def _grace_period(self, w: PodWorker) -> int:
        if w.evicted:
            return MINIMUM_GRACE_PERIOD_S  # a hard eviction kills at once (immediateEvictionGracePeriodSeconds)
        md, spec = w.pod["metadata"], w.pod.get("spec") or {}
        g = md.get("deletionGracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        return max(int(g), MINIMUM_GRACE_PERIOD_S)

    def _sync_terminating_pod(self, w: PodWorker) -> None:
        """killPod, then the status manager's final update and delete, then garbage collection."""
        if not w.killed:
            # killContainersWithSyncResult: the main containers first; sidecars (restartable init containers)
            # after them, in reverse order, each with what is left of the grace period
            w.killed = True
            grace = self._grace_period(w)
            w.kill_deadline = self.loop.now + grace * 1000
            longest = 0
            for r in w.containers:
                self._cancel_probe(r)
                if r.stage == "running" and not r.init:
                    took = self._kill_container(w, r, f"Stopping container {r.name}", grace)
                    longest = max(longest, took)
            w.sidecars_to_kill = [r for r in reversed(w.containers) if r.init and r.stage == "running"]
            if self._pull_queue and self._pull_queue[0][0] is w:
                self._wake_pull_queue()  # its queued pull is dropped: the next request is served
            if longest or w.sandbox_id:
                self._schedule_sync(w, longest)
                return
        if w.sidecars_to_kill:
            r = w.sidecars_to_kill.pop(0)
            took = 0
            if r.stage == "running":
                left = max(-(-(w.kill_deadline - self.loop.now) // 1000), MINIMUM_GRACE_PERIOD_S)
                took = self._kill_container(w, r, f"Stopping container {r.name}", left)
            self._schedule_sync(w, took)
            return
        if w.sandbox_id and not w.sandbox_stopped:
            self.runtime.stop_pod_sandbox(w.sandbox_id)
            w.sandbox_stopped = True
            w.sandbox_ready = False
            if not w.deleted:
                self._mark_status(w)
            if w.terminating:
                self._schedule_sync(w, 0)
            return
        w.sandbox_stopped = True
        if not w.terminating:
            return  # a finished pod stays (Succeeded/Failed) until someone deletes it
        if w.deleted:
            self._remove_pod_resources(w)
            return
        self._mark_status(w)  # the status manager writes the final status, then deletes the pod

    def _remove_pod_resources(self, w: PodWorker) -> None:
        """Container and sandbox garbage collection for a pod that is gone from the API."""
        for r in w.containers:
            if r.container_id and r.container_id in self.runtime.containers:
                try:
                    self.runtime.remove_container(r.container_id)
                except CRIError:
                    pass
        if w.sandbox_id and w.sandbox_id in self.runtime.sandboxes:
            if self.runtime.sandboxes[w.sandbox_id].state != "SANDBOX_NOTREADY":
                self.runtime.stop_pod_sandbox(w.sandbox_id)
            self.runtime.remove_pod_sandbox(w.sandbox_id)
        w.finished = True
        self.volumes.tear_down(w.pod)
        if w.timer is not None:
            w.timer.cancel()
        if w.status_timer is not None:
            w.status_timer.cancel()
        self.workers.pop(w.uid, None)
        if self.by_key.get(w.key) == w.uid:
            del self.by_key[w.key]

    # =============================================================================================================
    # the status manager
    # =============================================================================================================
    def _mark_status(self, w: PodWorker, delay: int = 0, background: bool = False) -> None:
        if w.deleted or w.finished:
            return
        if w.status_timer is not None:
            if w.status_timer.time <= self.loop.now + delay:
                return
            w.status_timer.cancel()
        w.status_timer = self._call(delay, self._sync_status, w.uid, label=w.status_label, background=background)

    def _container_status(self, w: PodWorker, r: ContainerRecord) -> dict:
        s = {"name": r.name}
        if r.stage == "running":
            state = {"running": {"startedAt": rfc3339(r.started_at or self.loop.now)}}
        elif r.stage == "exited":
            state = {"terminated": self._terminated_state(r)}
        else:
            waiting = {"reason": r.waiting_reason or "ContainerCreating"}
            if r.waiting_message:
                waiting["message"] = r.waiting_message
            state = {"waiting": waiting}
        if r.container_id and r.stage in ("running", "exited", "backoff", "created"):
            s["containerID"] = f"{self.runtime.name}://{r.container_id}"
        s["image"] = r.image if r.image and r.container_id else r.spec.get("image", "")
        s["imageID"] = r.image_id if r.container_id else ""
        s["lastState"] = deepcopy(r.last_state) if r.last_state else {}
        s["ready"] = r.ready if not r.init or r.spec.get("restartPolicy") == "Always" else \
            (r.stage == "exited" and r.exit_code == 0)
        s["restartCount"] = r.restart_count
        s["started"] = r.stage == "running" and r.started
        s["state"] = state
        res = r.spec.get("resources") or {}
        if res.get("requests") or res.get("limits"):
            s["allocatedResources"] = dict(res.get("requests") or {})
            s["resources"] = deepcopy(res)
        mounts = [{"mountPath": m["mountPath"], "name": m["name"],
                   **({"readOnly": True, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else {})}
                  for m in r.spec.get("volumeMounts") or []]
        if mounts:
            s["volumeMounts"] = mounts
        return {k: s[k] for k in sorted(s)}

    def _terminated_state(self, r: ContainerRecord) -> dict:
        t = {"containerID": f"{self.runtime.name}://{r.container_id}", "exitCode": r.exit_code,
             "finishedAt": rfc3339(r.finished_at if r.finished_at is not None else self.loop.now),
             "reason": r.term_reason or ("Completed" if r.exit_code == 0 else "Error"),
             "startedAt": rfc3339(r.started_at or self.loop.now)}
        return t

    def generate_pod_status(self, w: PodWorker) -> dict:
        """generateAPIPodStatus: the status the kubelet reports for the pod."""
        api_status = (w.pod.get("status") or {})
        status = {k: api_status[k] for k in ("qosClass", "nominatedNodeName") if k in api_status}
        now = rfc3339(self.loop.now)
        if w.rejected is not None:
            reason, message = w.rejected
            status.update({"phase": "Failed", "reason": reason, "message": f"Pod was rejected: {message}",
                           "startTime": api_status.get("startTime") or now})
            if "conditions" in api_status:
                status["conditions"] = deepcopy(api_status["conditions"])
            return status
        spec = w.pod.get("spec") or {}
        inits = [self._container_status(w, r) for r in w.containers if r.init]
        apps = [self._container_status(w, r) for r in w.containers if not r.init]
        phase = st.get_phase(spec, inits, apps, w.terminal or w.killed)
        if w.evicted:
            phase = "Failed"
            status.update({"reason": "Evicted", "message": w.evicted})
        conds = st.generate_conditions(spec, phase, w.sandbox_ready, inits, apps)
        if w.evicted:
            conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                          "reason": "TerminationByKubelet", "message": w.evicted})
        status["conditions"] = st.merge_conditions(api_status.get("conditions"), conds, now)
        status["containerStatuses"] = apps
        status["hostIP"] = self.node_ip
        status["hostIPs"] = [{"ip": self.node_ip}]
        if inits:
            status["initContainerStatuses"] = inits
        status["phase"] = phase
        if w.pod_ip:
            status["podIP"] = w.pod_ip
            status["podIPs"] = [{"ip": w.pod_ip}]
        status["startTime"] = api_status.get("startTime") or w.start_time or now
        return {k: status[k] for k in sorted(status)}

    def _sync_status(self, uid: str) -> None:
        """status_manager.syncPod: write the status if it changed; once a deleted pod's containers and sandbox
        are stopped (canBeDeleted), delete it with grace period 0."""
        w = self.workers.get(uid)
        if w is None or w.deleted or w.finished:
            return
        w.status_timer = None
        if w.static:
            self._sync_mirror_status(w)
            return
        current = self.pod_informer.get(w.key) if self.pod_informer else None
        if current is None or current["metadata"].get("uid") != w.uid:
            return
        if int(w.pod["metadata"].get("resourceVersion") or 0) > int(current["metadata"].get("resourceVersion") or 0):
            current = w.pod  # our own last write, not yet seen through the watch
        new_status = self.generate_pod_status(w)
        if new_status != current.get("status"):
            pod = dict(current)  # only the status is replaced: a shallow copy keeps the cached object intact
            pod["metadata"] = dict(current["metadata"])
            pod["status"] = new_status
            try:
                w.pod = current = self.client.update_status("pods", pod)
            except errors.StatusError as e:
                if not errors.is_not_found(e):
                    self._mark_status(w, PLEG_RELIST_PERIOD_MS)  # 409 Conflict: retry on the next sync
                return
        if w.killed and w.sandbox_stopped and current["metadata"].get("deletionTimestamp"):
            try:
                self.client.delete("pods", w.name, w.namespace, grace_period_seconds=0)
            except errors.StatusError as e:
                if not errors.is_not_found(e):
                    self._mark_status(w, PLEG_RELIST_PERIOD_MS)
                    return
            w.deleted = True
            self._schedule_sync(w, 0)

    # =============================================================================================================
    # the kubelet's HTTPS server (:10250): what the API server proxies pods/log and pods/exec to
    # =============================================================================================================
    def _served_record(self, namespace: str, name: str, container: str) -> tuple[PodWorker, ContainerRecord]:
        uid = self.by_key.get(f"{namespace}/{name}")
        w = self.workers.get(uid) if uid else None
        if w is None:
            raise errors.new_not_found("pods", name)
        r = w.record(container)
        if r is None:
            raise errors.new_bad_request(f"container {container} is not valid for pod {name}")
        return w, r

    def container_logs(self, namespace: str, name: str, container: str, previous: bool = False,
                       tail: int | None = None, timestamps: bool = False) -> str:
        """GET /containerLogs/<ns>/<pod>/<container>: read the container's log file (CRI format) and strip
        the prefix unless timestamps are asked for."""
        w, r = self._served_record(namespace, name, container)
        self.loop.emit(self.component, "kubelet.containerLogs", w.ref, {"container": container,
                                                                          "previous": previous})
        if previous:
            if not r.previous_log:
                raise errors.new_bad_request(f'previous terminated container "{container}" in pod "{name}" not '
                                             f'found')
            lines = r.previous_log
        else:
            if not r.container_id or r.container_id not in self.runtime.containers:
                reason = r.waiting_reason or "ContainerCreating"
                raise errors.new_bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                                             f'{reason}')
            lines = self.runtime.log_lines(r.container_id)
        if tail is not None:
            lines = lines[-tail:] if tail else []
        out = []
        for line in lines:
            ts, _stream, _tag, text = line.split(" ", 3)
            out.append(f"{ts} {text}" if timestamps else text)
        return "".join(x + "\n" for x in out)

    def run_in_container(self, namespace: str, name: str, container: str, command: list[str]) -> dict:
        """POST /exec/<ns>/<pod>/<container>: CRI Exec, then the stream (stdout, stderr, exit code)."""
        w, r = self._served_record(namespace, name, container)
        if r.stage != "running":
            raise errors.new_bad_request(f"unable to upgrade connection: container not found (\"{container}\")")
        self.loop.emit(self.component, "kubelet.exec", w.ref, {"container": container, "command": list(command)})
        try:
            res = self.runtime.exec(r.container_id, list(command))
        except CRIError as e:
            raise errors.new_bad_request(e.message) from None
        return {"stdout": res["stdout"], "stderr": res["stderr"], "exitCode": res["exitCode"]}

    def _sync_mirror_status(self, w: PodWorker) -> None:
        """A static pod's status goes to its mirror pod, created first if it is missing (or stale)."""
        current = self.pod_informer.get(w.key) if self.pod_informer else None
        ann = ((current or {}).get("metadata") or {}).get("annotations") or {}
        try:
            if w.terminating and w.killed and w.sandbox_stopped:
                if current is not None and static_mod.is_mirror_pod(current):
                    self.client.delete("pods", w.name, w.namespace, grace_period_seconds=0)
                w.deleted = True
                self._schedule_sync(w, 0)
                return
            if current is None or ann.get(static_mod.CONFIG_MIRROR) != w.uid or \
                    current["metadata"].get("deletionTimestamp"):
                if current is not None and static_mod.is_mirror_pod(current):
                    self.client.delete("pods", w.name, w.namespace, grace_period_seconds=0)
                current = self.client.create("pods", static_mod.mirror_pod(w.pod, self.node_name, self.node_uid))
                self.loop.emit(self.component, "mirror.create", w.ref, {"hash": w.uid})
            new_status = self.generate_pod_status(w)
            if new_status != current.get("status"):
                pod = dict(current)
                pod["metadata"] = dict(current["metadata"])
                pod["status"] = new_status
                self.client.update_status("pods", pod)
        except errors.StatusError:
            # e.g. the API server is down: the static pod runs on; try again later
            self._mark_status(w, 10_000, background=True)

    # =============================================================================================================
    # for notebooks
    # =============================================================================================================
    def pods(self) -> list[dict]:
        """What this kubelet runs: one row per pod with its sandbox, IP and containers."""
        out = []
        for w in self.workers.values():
            out.append({"pod": w.key, "uid": w.uid, "sandbox": w.sandbox_id[:13], "ip": w.pod_ip,
                        "phase": self.generate_pod_status(w).get("phase"),
                        "containers": {r.name: (r.stage, r.container_id[:13]) for r in w.containers}})
        return out

    @property
    def pod_cidr(self) -> str | None:
        """The podCIDR the node IPAM controller gave this node (None until then)."""
        return self.cni.pod_cidr

    def node_status(self) -> dict:
        """The Node status the kubelet would report now."""
        current = (self.node_informer.get(self.node_name) if self.node_informer else None) or self.node
        return self._node_status(current)

    def __repr__(self) -> str:
        return f"Kubelet({self.node_name}, {len(self.workers)} pods)"


def go_ms(ms: int) -> str:
    return st.go_duration(ms)


def _uuid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _same_but_heartbeats(a: dict, b: dict) -> bool:
    """Whether two node statuses are equal apart from their conditions' lastHeartbeatTime (what a heartbeat
    alone changes). Only the conditions are copied, without that field."""
    def strip(status: dict) -> dict:
        conds = status.get("conditions")
        if not isinstance(conds, list):
            return status
        return {**status, "conditions": [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                                         if isinstance(c, dict) else c for c in conds]}

    return strip(a or {}) == strip(b or {})
