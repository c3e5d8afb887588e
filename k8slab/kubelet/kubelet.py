"""Mirrors: pkg/kubelet/kubelet.go (syncPod, HandlePodAdditions, rejectPod), pkg/kubelet/pod_workers.go,
pkg/kubelet/kuberuntime/kuberuntime_manager.go (SyncPod, computePodActions, killPodWithSyncResult),
pkg/kubelet/kuberuntime/kuberuntime_container.go (startContainer, killContainer),
pkg/kubelet/kuberuntime/kuberuntime_sandbox.go (generatePodSandboxConfig), pkg/kubelet/images/image_manager.go
(EnsureImageExists), pkg/kubelet/images/puller.go (serial image pulls), pkg/kubelet/kubelet_node_status.go
(registerWithAPIServer, initialNode, syncNodeStatus), pkg/kubelet/nodelease and
staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go, pkg/kubelet/status/status_manager.go,
pkg/kubelet/prober/worker.go, pkg/kubelet/pleg/generic.go, pkg/kubelet/events/event.go.

The kubelet is the node agent. It registers its Node, renews its Lease every 10 s, and watches the pods bound to
its node (field selector ``spec.nodeName=<node>``). For each pod a *pod worker* drives the container runtime over
CRI one step at a time, exactly in the order the real kubelet does: admit the pod, run the sandbox (containerd
calls CNI, which gives the pod its IP), then for each init container and then each container: make sure the image
is there (pulling it, one pull at a time), create the container, start it. The *status manager* writes what it
sees to ``pods/status``. When a pod gets a ``deletionTimestamp`` the worker stops its containers, stops the
sandbox (CNI DEL frees the IP) and deletes the pod object with grace period 0.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..api import errors
from ..api.objects import deepcopy, rfc3339, rfc3339_micro
from ..client import SharedInformerFactory
from ..client.record import EventRecorder
from ..cri.images import InvalidImageName, ImagePullError, apply_default_image_tag
from ..cri.runtime import CONTAINER_EXITED, CONTAINER_RUNNING, CRIError, EPOCH_NS
from . import status as st

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
    probe_timer: object = None
    probe_failures: int = 0

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

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.pod["metadata"].get("namespace", "default")

    @property
    def ref(self) -> str:
        return f"pods/{self.namespace}/{self.name}"

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
                 kernel_version: str = "6.8.0-51-generic", architecture: str = "amd64") -> None:
        self.loop = loop
        self.client = client
        self.node_name = node_name
        self.runtime = runtime
        self.cni = cni
        if getattr(runtime, "cni", None) is None:
            runtime.cni = cni
        self.rng = rng
        self.node_ip = node_ip
        self.capacity = dict(DEFAULT_CAPACITY if capacity is None else capacity)
        self.allocatable = st.node_allocatable(self.capacity, kube_reserved, system_reserved, eviction_hard)
        self.control_plane = control_plane
        self.extra_labels = dict(labels or {})
        if taints is None:  # kubeadm taints a control-plane node unless told otherwise
            taints = [{"key": CONTROL_PLANE_ROLE, "effect": "NoSchedule"}] if control_plane else []
        self.taints = list(taints)
        self.recorder = recorder or EventRecorder(client, "kubelet", node_name)
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
        self.node: dict | None = None  # the Node as last written
        self.node_uid = ""
        self.lease: dict | None = None
        self.started_at: int | None = None
        self.registered = False
        self.image_backoff = Backoff()
        self.container_backoff = Backoff()
        self._puller_free_at = 0
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

    def _call(self, delay: int, fn, *args, label: str = "", background: bool = False):
        if self.stopped:
            return None
        return self.loop.call_later(delay, fn, *args, component=self.component, label=label, background=background)

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
        self._register_node()
        self._call(0, self._start_lease_and_watches, label="start lease and informers")

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
        for type_, reason, message, _ in st.PRESSURE_CONDITIONS:
            prev = old_conds.get(type_)
            conds.append({"lastHeartbeatTime": now,
                          "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == "False"
                          else now, "message": message, "reason": reason, "status": "False", "type": type_})
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

    def _node_status_tick(self) -> None:
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
        changed = _strip_heartbeats(new) != _strip_heartbeats(old)
        if not (force or changed or self.loop.now - self._last_node_report >= NODE_STATUS_REPORT_FREQUENCY_MS):
            return False
        was_ready = st.get_condition_status(current, "Ready")
        try:
            self.node = self.client.patch("nodes", self.node_name, {"status": new}, subresource="status")
        except errors.StatusError:
            return False
        self._last_node_report = self.loop.now
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
        uid = pod["metadata"].get("uid", "")
        if uid in self.workers:
            self._on_pod_update(None, pod)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # a terminal pod is never run again
        key = f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"
        spec = pod.get("spec") or {}
        records = ([ContainerRecord(c, True) for c in spec.get("initContainers") or []] +
                   [ContainerRecord(c, False) for c in spec.get("containers") or []])
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
        w = self.workers.get(pod["metadata"].get("uid", ""))
        if w is None:
            self._on_pod_add(pod)
            return
        w.pod = pod
        if pod["metadata"].get("deletionTimestamp") and not w.terminating:
            w.terminating = True
            self._schedule_sync(w, 0)

    def _on_pod_delete(self, pod: dict) -> None:
        w = self.workers.get(pod["metadata"].get("uid", ""))
        if w is None:
            return
        w.deleted = True
        w.terminating = True
        if w.status_timer is not None:
            w.status_timer.cancel()
            w.status_timer = None
        self._schedule_sync(w, 0)

    def _schedule_sync(self, w: PodWorker, delay: int) -> None:
        if w.finished:
            return
        if w.timer is not None:
            if w.timer.time <= self.loop.now + delay:
                return
            w.timer.cancel()
        w.timer = self._call(delay, self._sync_pod, w.uid, label=f"sync pod {w.key}")

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
        r.ready = False
        self._cancel_probe(r)
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
        if not w.sandbox_id:
            self._create_sandbox(w)
            return
        # init containers run one at a time, in order, each to completion
        for r in w.containers:
            if not r.init:
                continue
            if r.spec.get("restartPolicy") == "Always" and r.stage == "running":
                continue  # a sidecar keeps running
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
                continue
            if r.stage == "exited":
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
    def _active_pods(self, exclude: str) -> list[dict]:
        return [w.pod for w in self.workers.values()
                if w.admitted and w.rejected is None and not w.terminal and not w.finished and w.uid != exclude]

    def _admit(self, w: PodWorker) -> None:
        """canAdmitPod: the pod must fit in what is left of the node's allocatable resources."""
        result = st.fits(w.pod, self._active_pods(w.uid), self.allocatable)
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
                "linux": {"cgroupParent": f"{parent}/kubepods-{qos.lower()}-pod{uid_}.slice"
                          if qos != "Guaranteed" else f"kubepods.slice/kubepods-pod{uid_}.slice",
                          "securityContext": {"namespaceOptions": {
                              "network": "NODE" if host_network else "POD", "pid": "CONTAINER", "ipc": "POD"}}}}

    def _create_sandbox(self, w: PodWorker) -> None:
        """SyncPod step 4: create the sandbox (containerd runs CNI ADD) and read its IP."""
        config = self.sandbox_config(w.pod)
        try:
            w.sandbox_id = self.runtime.run_pod_sandbox(config)
            status = self.runtime.pod_sandbox_status(w.sandbox_id)
        except CRIError as e:
            self.recorder.warning(w.pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e.message}")
            w.sandbox_id = ""
            self._schedule_sync(w, self._jitter(WORKER_BACKOFF_MS, WORKER_BACKOFF_MS * 3 // 2))
            return
        host_network = bool((w.pod.get("spec") or {}).get("hostNetwork"))
        w.pod_ip = self.node_ip if host_network else status["network"]["ip"]
        w.sandbox_ready = True
        took = self._jitter(100, 300)
        self._schedule_sync(w, took)
        self._mark_status(w, took)

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
        if self._puller_free_at > self.loop.now:
            r.stage = "queued"  # serializeImagePulls: wait for the pull in progress
            self._schedule_sync(w, self._puller_free_at - self.loop.now)
            return
        self._begin_pull(w, r)

    def _begin_pull(self, w: PodWorker, r: ContainerRecord) -> None:
        if self._puller_free_at > self.loop.now:
            self._schedule_sync(w, self._puller_free_at - self.loop.now)
            return
        image = r.spec.get("image", "")
        r.pull_begun = self.loop.now
        r.stage = "pulling"
        try:
            res = self.runtime.pull_image(image, None, self.sandbox_config(w.pod))
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

    def _finish_pull(self, w: PodWorker, r: ContainerRecord) -> None:
        if self.loop.now < r.pull_done:
            self._schedule_sync(w, r.pull_done - self.loop.now)
            return
        image = r.spec.get("image", "")
        if r.pull_error is not None:
            e, r.pull_error = r.pull_error, None
            self.recorder.warning(w.pod, "Failed", f'Failed to pull image "{image}": {e.message}', r.field_path)
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
        env = [{"key": e["name"], "value": str(e.get("value", ""))} for e in c.get("env") or [] if "name" in e]
        mounts = [{"containerPath": m["mountPath"],
                   "hostPath": f"/var/lib/kubelet/pods/{md.get('uid', '')}/volumes/{m['name']}",
                   "readonly": bool(m.get("readOnly"))} for m in c.get("volumeMounts") or []]
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
                "logPath": f"{c['name']}/{r.restart_count}.log"}

    def _create(self, w: PodWorker, r: ContainerRecord) -> None:
        """startContainer step 2: CreateContainer (the start is the next step)."""
        try:
            r.container_id = self.runtime.create_container(w.sandbox_id, self.container_config(w, r),
                                                           self.sandbox_config(w.pod))
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
        probe = r.spec.get("readinessProbe") if not r.init or r.spec.get("restartPolicy") == "Always" else None
        if r.init and r.spec.get("restartPolicy") != "Always":
            r.ready = False
        elif probe is None:
            r.ready = True
        else:
            self._schedule_probe(w, r)
        took = self._jitter(60, 150)
        self._schedule_sync(w, took)
        self._mark_status(w, took + self._next_relist_after(took))

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
            self._schedule_sync(w, self._jitter(WORKER_BACKOFF_MS, WORKER_BACKOFF_MS * 3 // 2))

    # -- restarts -----------------------------------------------------------------------------------------------
    def _should_restart(self, w: PodWorker, r: ContainerRecord) -> bool:
        policy = (w.pod.get("spec") or {}).get("restartPolicy", "Always")
        if r.init and r.spec.get("restartPolicy") == "Always":
            return True
        return policy == "Always" or (policy == "OnFailure" and r.exit_code != 0)

    def _restart_or_back_off(self, w: PodWorker, r: ContainerRecord) -> None:
        """computePodActions + doBackOff: restart an exited container, or wait in CrashLoopBackOff."""
        md = w.pod["metadata"]
        key = f"{md['name']}_{md.get('namespace', 'default')}_{w.uid}_{r.name}"
        finished = r.finished_at if r.finished_at is not None else self.loop.now
        if self.container_backoff.is_in_back_off_since(key, finished, self.loop.now):
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
            self._schedule_sync(w, max(1, finished + back - self.loop.now))
            return
        self.container_backoff.next(key, self.loop.now)
        if r.stage != "backoff":
            r.last_state = {"terminated": self._terminated_state(r)}
        if r.container_id:
            try:
                self.runtime.remove_container(r.container_id)
            except CRIError:
                pass
        r.restart_count += 1
        r.container_id = ""
        r.stage = "pending"
        self._ensure_image(w, r)

    # -- probes (prober/worker.go) ------------------------------------------------------------------------------
    def _schedule_probe(self, w: PodWorker, r: ContainerRecord) -> None:
        """The readiness probe worker ticks every periodSeconds from when the pod was added; a tick within
        initialDelaySeconds of the container's start is skipped."""
        probe = r.spec.get("readinessProbe") or {}
        period = max(1, int(probe.get("periodSeconds", 10))) * 1000
        initial = int(probe.get("initialDelaySeconds", 0)) * 1000
        started = r.started_at if r.started_at is not None else self.loop.now
        t = w.added_at + ((self.loop.now - w.added_at) // period + 1) * period  # the next tick after now
        while (t - started) // 1000 * 1000 < initial:
            t += period
        background = r.ready or r.probe_failures >= int(probe.get("failureThreshold", 3))
        r.probe_timer = self._call(t - self.loop.now, self._probe, w.uid, r.name,
                                   label=f"readiness probe {w.key}/{r.name}", background=background)

    def _probe(self, uid: str, name: str) -> None:
        w = self.workers.get(uid)
        if w is None or w.finished or w.terminating:
            return
        r = w.record(name)
        if r is None or r.stage != "running":
            return
        r.probe_timer = None
        c = self.runtime.containers.get(r.container_id)
        ok = c.behavior.probe_result("readiness", self.loop.now) if c is not None else False
        self.loop.emit(self.component, "probe", w.ref, {"container": name, "probe": "readiness",
                                                         "result": "success" if ok else "failure"})
        if ok:
            r.probe_failures = 0
        else:
            r.probe_failures += 1
            self.recorder.warning(w.pod, "Unhealthy", "Readiness probe failed: ", r.field_path)
        if ok != r.ready:
            r.ready = ok
            self._mark_status(w)
        self._schedule_probe(w, r)

    def _cancel_probe(self, r: ContainerRecord) -> None:
        if r.probe_timer is not None:
            r.probe_timer.cancel()
            r.probe_timer = None

    # -- termination ----------------------------------------------------------------------------------------------
    def _finish_pod(self, w: PodWorker) -> None:
        """Every container is done for good: the pod is terminal; the worker stops its sandbox."""
        w.terminal = True
        self._mark_status(w)
        self._schedule_sync(w, 0)

    def _grace_period(self, w: PodWorker) -> int:
        md, spec = w.pod["metadata"], w.pod.get("spec") or {}
        g = md.get("deletionGracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        return max(int(g), MINIMUM_GRACE_PERIOD_S)

    def _sync_terminating_pod(self, w: PodWorker) -> None:
        """killPod, then the status manager's final update and delete, then garbage collection."""
        if not w.killed:
            w.killed = True
            grace = self._grace_period(w)
            longest = 0
            for r in w.containers:
                self._cancel_probe(r)
                if r.stage == "running":
                    self.recorder.normal(w.pod, "Killing", f"Stopping container {r.name}", r.field_path)
                    took = self.runtime.stop_container(r.container_id, grace)
                    s = self.runtime.containers[r.container_id]
                    r.stage = "exited"
                    r.exit_code = s.exit_code
                    r.term_reason = s.reason
                    r.finished_at = self.loop.now + took
                    r.ready = False
                    longest = max(longest, took)
            if longest or w.sandbox_id:
                self._schedule_sync(w, longest)
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
    def _mark_status(self, w: PodWorker, delay: int = 0) -> None:
        if w.deleted or w.finished:
            return
        if w.status_timer is not None:
            if w.status_timer.time <= self.loop.now + delay:
                return
            w.status_timer.cancel()
        w.status_timer = self._call(delay, self._sync_status, w.uid, label=f"status update {w.key}")

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
        s["lastState"] = deepcopy(r.last_state)
        s["ready"] = r.ready if not r.init or r.spec.get("restartPolicy") == "Always" else \
            (r.stage == "exited" and r.exit_code == 0)
        s["restartCount"] = r.restart_count
        s["started"] = r.stage == "running"
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
        conds = st.generate_conditions(spec, phase, w.sandbox_ready, inits, apps)
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


def _strip_heartbeats(status: dict) -> dict:
    s = deepcopy(status or {})
    for c in s.get("conditions") or []:
        c.pop("lastHeartbeatTime", None)
    return s
