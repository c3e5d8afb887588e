"""Mirrors: pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth, tryUpdateNodeHealth,
processTaintBaseEviction, doNoScheduleTaintingPass, doNoExecuteTaintingPass, ComputeZoneState, handleDisruption),
pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go and pkg/controller/util/node/controller_utils.go.

Every ``--node-monitor-period`` (5 s) the controller looks at each Node's health signals: the kubelet's Lease in
``kube-node-lease`` (renewed every 10 s) and the Ready condition's heartbeat. The moment it *notices* a new signal
is the node's probe timestamp. When nothing new arrived for ``--node-monitor-grace-period`` (50 s; 60 s for a node
that never posted status), it writes every kubelet-owned condition as ``Unknown`` ("Kubelet stopped posting node
status."). On the next pass it sees the node Unknown (or NotReady) and queues the NoExecute taint
``node.kubernetes.io/unreachable`` (or ``not-ready``) in the node's zone queue, which a token bucket drains at
``--node-eviction-rate`` (0.1 node/s) every 100 ms. Separately, every Node update maps conditions to NoSchedule
taints (taint-nodes-by-condition). Evicting the pods is the taint-eviction controller's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api import errors
from ..api.objects import deepcopy, parse_rfc3339, rfc3339
from .base import Controller

NODE_MONITOR_PERIOD_MS = 5_000
NODE_MONITOR_GRACE_PERIOD_MS = 50_000  # default since v1.32 (40 s before)
NODE_STARTUP_GRACE_PERIOD_MS = 60_000
NODE_EVICTION_PERIOD_MS = 100  # how often the NoExecute tainting pass runs
EVICTION_LIMITER_QPS = 0.1  # --node-eviction-rate
SECONDARY_EVICTION_LIMITER_QPS = 0.01  # --secondary-node-eviction-rate
LARGE_CLUSTER_SIZE_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
EVICTION_RATE_LIMITER_BURST = 1

TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NODE_CONDITION_TO_TAINT_KEY_STATUS = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
TAINT_KEY_TO_NODE_CONDITION = {k: cond for cond, m in NODE_CONDITION_TO_TAINT_KEY_STATUS.items() for k in m.values()}
# the conditions the kubelet owns: the controller sets them Unknown when the kubelet goes silent
NODE_CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

STATE_INITIAL, STATE_NORMAL = "Initial", "Normal"
STATE_FULL_DISRUPTION, STATE_PARTIAL_DISRUPTION = "FullDisruption", "PartialDisruption"


def get_zone_key(node: dict) -> str:
    """utilnode.GetZoneKey: region and zone from the topology labels ("" when the node has neither)."""
    labels = node["metadata"].get("labels") or {}
    region = labels.get("topology.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone", "")
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def compute_zone_state(ready_conditions: list, unhealthy_zone_threshold: float = UNHEALTHY_ZONE_THRESHOLD):
    """ComputeZoneState: (not-ready nodes, state) of one zone."""
    ready = sum(1 for c in ready_conditions if c is not None and c.get("status") == "True")
    not_ready = len(ready_conditions) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, STATE_FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= unhealthy_zone_threshold:
        return not_ready, STATE_PARTIAL_DISRUPTION
    return not_ready, STATE_NORMAL


def reduced_qps_func(node_num: int) -> float:
    """ReducedQPSFunc: a partially disrupted zone taints slowly in a large cluster and not at all in a small one."""
    return SECONDARY_EVICTION_LIMITER_QPS if node_num > LARGE_CLUSTER_SIZE_THRESHOLD else 0.0


class TokenBucket:
    """flowcontrol.NewTokenBucketRateLimiter(qps, burst) on the virtual clock; qps 0 never accepts."""

    def __init__(self, qps: float, burst: int, now: int) -> None:
        self.qps, self.burst = qps, burst
        self.tokens = float(burst)
        self.last = now

    def try_accept(self, now: int) -> bool:
        if self.qps <= 0:
            return False
        self.tokens = min(self.burst, self.tokens + (now - self.last) / 1000 * self.qps)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimitedTimedQueue:
    """scheduler.RateLimitedTimedQueue: a set of node names drained through a token bucket."""

    def __init__(self, limiter: TokenBucket) -> None:
        self.limiter = limiter
        self.items: dict[str, tuple[str, int]] = {}  # name -> (uid, added at), still to process
        self.set: set[str] = set()  # UniqueQueue's set: a processed name stays here until remove()

    def add(self, name: str, uid: str, now: int) -> bool:
        if name in self.set:
            return False
        self.set.add(name)
        self.items[name] = (uid, now)
        return True

    def remove(self, name: str) -> bool:
        """Remove from the queue and the set (the node may be queued again)."""
        self.set.discard(name)
        return self.items.pop(name, None) is not None

    def swap_limiter(self, qps: float, now: int) -> None:
        if qps == self.limiter.qps:
            return
        self.limiter = TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, now)

    def try_(self, now: int, fn) -> None:
        """Try: process items in order while the limiter accepts; an item whose fn fails stays queued."""
        for name in sorted(self.items, key=lambda n: (self.items[n][1], n)):
            if not self.limiter.try_accept(now):
                return
            if fn(name, self.items[name][0]):
                del self.items[name]  # RemoveFromQueue: the name stays in the set


@dataclass
class NodeHealthData:
    probe_timestamp: int
    ready_transition_timestamp: int
    status: dict
    lease_renew: str | None = None


class NodeLifecycleController(Controller):
    NAME = "nodelifecycle"
    EVENT_SOURCE = "node-controller"
    RESOURCE = "nodes"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.node_informer = f.informer("nodes")
        self.lease_informer = f.informer("leases", namespace="kube-node-lease")
        self.pod_informer = f.informer("pods")
        self.node_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n),
                                             self._on_node_delete)
        self.node_health: dict[str, NodeHealthData] = {}
        self.known_nodes: set[str] = set()
        self.zone_states: dict[str, str] = {}
        self.zone_no_execute_tainter: dict[str, RateLimitedTimedQueue] = {}
        self.node_monitor_period_ms = NODE_MONITOR_PERIOD_MS
        self.node_monitor_grace_period_ms = NODE_MONITOR_GRACE_PERIOD_MS
        self.node_startup_grace_period_ms = NODE_STARTUP_GRACE_PERIOD_MS
        self.eviction_limiter_qps = EVICTION_LIMITER_QPS
        self._started = False
        self.node_informer.add_event_handler(self._start_loops)

    def _start_loops(self, _node=None) -> None:
        if self._started:
            return
        self._started = True
        self.loop.call_later(self.node_monitor_period_ms, self._monitor_tick, component=self.component,
                             label="monitorNodeHealth", background=True)
        self.loop.call_later(NODE_EVICTION_PERIOD_MS, self._tainting_tick, component=self.component,
                             label="doNoExecuteTaintingPass", background=True)

    def _on_node_delete(self, node: dict) -> None:
        name = node["metadata"]["name"]
        self.node_health.pop(name, None)
        self.known_nodes.discard(name)
        for q in self.zone_no_execute_tainter.values():
            q.remove(name)

    # -- taint-nodes-by-condition (the node update worker) -----------------------------------------------------------
    def sync_handler(self, name: str) -> None:
        node = self.node_informer.get(name)
        if node is None:
            return
        self.do_no_schedule_tainting_pass(node)

    def do_no_schedule_tainting_pass(self, node: dict) -> None:
        taints = []
        for cond in (node.get("status") or {}).get("conditions") or ():
            key = NODE_CONDITION_TO_TAINT_KEY_STATUS.get(cond.get("type"), {}).get(cond.get("status"))
            if key:
                taints.append({"key": key, "effect": "NoSchedule"})
        if (node.get("spec") or {}).get("unschedulable"):
            taints.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
        node_taints = [t for t in (node.get("spec") or {}).get("taints") or ()
                       if t.get("effect") == "NoSchedule" and
                       (t["key"] in TAINT_KEY_TO_NODE_CONDITION or t["key"] == TAINT_UNSCHEDULABLE)]
        to_add = [t for t in taints if not any(o["key"] == t["key"] for o in node_taints)]
        to_del = [t for t in node_taints if not any(n["key"] == t["key"] for n in taints)]
        if to_add or to_del:
            self.swap_node_controller_taint(node["metadata"]["name"], to_add, to_del)

    # -- taint helpers (controller_utils.go) ------------------------------------------------------------------------
    def swap_node_controller_taint(self, name: str, to_add: list[dict], to_remove: list[dict]) -> bool:
        """Add and remove taints in one write of spec.taints (AddOrUpdateTaintOnNode / RemoveTaintOffNode)."""
        node = self.node_informer.get(name)
        if node is None:
            return False
        cur = list((node.get("spec") or {}).get("taints") or ())
        new = [t for t in cur if not any(t["key"] == r["key"] and t["effect"] == r["effect"] for r in to_remove)]
        removed = [t for t in cur if t not in new]
        for t in to_add:
            new = [o for o in new if not (o["key"] == t["key"] and o["effect"] == t["effect"])] + [t]
        if new == cur:
            return True
        obj = deepcopy(node)
        obj["spec"]["taints"] = new or None
        if not new:
            obj["spec"].pop("taints", None)
        self.client.update("nodes", obj)
        self.loop.emit(self.component, "node.taints", f"nodes/{name}",
                       {"added": [f"{t['key']}:{t['effect']}" for t in to_add],
                        "removed": [f"{t['key']}:{t['effect']}" for t in removed]})
        return True

    # -- monitorNodeHealth -------------------------------------------------------------------------------------------
    def _monitor_tick(self) -> None:
        if not self.manager.paused:
            try:
                self.monitor_node_health()
            except errors.StatusError as e:
                self.loop.emit(self.component, "reconcile.error", "nodes", {"error": str(e)})
        self.loop.call_later(self.node_monitor_period_ms, self._monitor_tick, component=self.component,
                             label="monitorNodeHealth", background=True)

    def monitor_node_health(self) -> None:
        nodes = sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"])
        zone_to_ready: dict[str, list] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            if name not in self.known_nodes:
                self.known_nodes.add(name)
                self.add_pod_evictor_for_new_zone(node)
            _, observed, current = self.try_update_node_health(node)
            zone_to_ready.setdefault(get_zone_key(node), []).append(current)
            if current is None:
                continue
            if current.get("status") != "True" and observed.get("status") == "True":
                self.record_node_status_change(name, "NodeNotReady")
                self.mark_pods_not_ready(name)
            self.process_taint_base_eviction(node, observed)
        self.handle_disruption(zone_to_ready, nodes)

    def try_update_node_health(self, node: dict):
        """Returns (grace period, observed Ready condition, current Ready condition)."""
        name = node["metadata"]["name"]
        now = self.loop.now
        conds = (node.get("status") or {}).get("conditions") or []
        ready = next((c for c in conds if c.get("type") == "Ready"), None)
        if ready is None:
            created = node["metadata"].get("creationTimestamp")
            observed = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                        "lastTransitionTime": created}
            grace = self.node_startup_grace_period_ms
            health = self.node_health.get(name)
            if health is None:
                health = self.node_health[name] = NodeHealthData(parse_rfc3339(created), parse_rfc3339(created),
                                                                 deepcopy(node.get("status") or {}))
        else:
            observed = dict(ready)
            grace = self.node_monitor_grace_period_ms
            health = self.node_health.get(name)
            saved = None
            if health is not None:
                saved = next((c for c in health.status.get("conditions") or () if c.get("type") == "Ready"),
                             None)
            if health is None or saved is None:
                health = self.node_health[name] = NodeHealthData(now, now, deepcopy(node["status"]),
                                                                 health.lease_renew if health else None)
            elif saved.get("lastHeartbeatTime") != ready.get("lastHeartbeatTime"):
                transition = now if saved.get("lastTransitionTime") != ready.get("lastTransitionTime") \
                    else health.ready_transition_timestamp
                health = self.node_health[name] = NodeHealthData(now, transition, deepcopy(node["status"]),
                                                                 health.lease_renew)
        # the Lease: a newer renewTime counts as a probe
        lease = self.lease_informer.get(f"kube-node-lease/{name}")
        renew = (lease or {}).get("spec", {}).get("renewTime")
        # MicroTime strings have one fixed format, so comparing them as strings compares the times
        if renew and renew != health.lease_renew and (health.lease_renew is None or renew > health.lease_renew):
            health.lease_renew = renew
            health.probe_timestamp = now
        current = ready
        if now > health.probe_timestamp + grace:
            new = deepcopy(node)
            stamp = rfc3339(now)
            nconds = new["status"].setdefault("conditions", [])
            for ctype in NODE_CONDITION_TYPES:
                c = next((x for x in nconds if x.get("type") == ctype), None)
                if c is None:
                    nconds.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                                   "lastTransitionTime": stamp})
                elif c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
            current = next(x for x in nconds if x.get("type") == "Ready")
            if current != ready:
                updated = self.client.update_status("nodes", new)
                self.loop.emit(self.component, "node.unknown", f"nodes/{name}",
                               {"probe_timestamp_ms": health.probe_timestamp, "grace_period_ms": grace})
                health.status = deepcopy(updated["status"])
                health.ready_transition_timestamp = now
        return grace, observed, current

    def record_node_status_change(self, name: str, new_status: str) -> None:
        ref = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": name}}
        self.recorder.normal(ref, new_status, f"Node {name} status is now: {new_status}")

    def mark_pods_not_ready(self, node_name: str) -> None:
        """MarkPodsNotReady: set the Ready condition of every pod on the node to False."""
        for pod in self.pod_informer.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            conds = (pod.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Ready" and c.get("status") != "False" for c in conds):
                continue
            new = deepcopy(pod)
            for c in new["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c["status"] = "False"
                    c["lastTransitionTime"] = rfc3339(self.loop.now)
            try:
                self.client.update_status("pods", new)
            except errors.StatusError as e:
                if e.code not in (404, 409):
                    raise

    # -- NoExecute taints -------------------------------------------------------------------------------------------
    def add_pod_evictor_for_new_zone(self, node: dict) -> None:
        zone = get_zone_key(node)
        if zone not in self.zone_states:
            self.zone_states[zone] = STATE_INITIAL
            self.zone_no_execute_tainter[zone] = RateLimitedTimedQueue(
                TokenBucket(self.eviction_limiter_qps, EVICTION_RATE_LIMITER_BURST, self.loop.now))

    def process_taint_base_eviction(self, node: dict, observed: dict) -> None:
        name = node["metadata"]["name"]
        taints = (node.get("spec") or {}).get("taints") or ()
        has = {t["key"] for t in taints if t.get("effect") == "NoExecute"}
        status = observed.get("status")
        zone = get_zone_key(node)
        if status == "False":
            if TAINT_UNREACHABLE in has:
                self.swap_node_controller_taint(name, [self._taint(TAINT_NOT_READY)],
                                                [{"key": TAINT_UNREACHABLE, "effect": "NoExecute"}])
            elif self.zone_no_execute_tainter[zone].add(name, node["metadata"]["uid"], self.loop.now):
                self.loop.emit(self.component, "node.queued-for-taint", f"nodes/{name}", {"ready": status})
        elif status == "Unknown":
            if TAINT_NOT_READY in has:
                self.swap_node_controller_taint(name, [self._taint(TAINT_UNREACHABLE)],
                                                [{"key": TAINT_NOT_READY, "effect": "NoExecute"}])
            elif self.zone_no_execute_tainter[zone].add(name, node["metadata"]["uid"], self.loop.now):
                self.loop.emit(self.component, "node.queued-for-taint", f"nodes/{name}", {"ready": status})
        elif status == "True":
            self.mark_node_as_reachable(name)

    def _taint(self, key: str) -> dict:
        return {"key": key, "effect": "NoExecute", "timeAdded": rfc3339(self.loop.now)}

    def mark_node_as_reachable(self, name: str) -> None:
        node = self.node_informer.get(name)
        rm = [t for t in (node or {}).get("spec", {}).get("taints") or ()
              if t["key"] in (TAINT_UNREACHABLE, TAINT_NOT_READY) and t.get("effect") == "NoExecute"]
        if rm:
            self.swap_node_controller_taint(name, [], rm)
        for q in self.zone_no_execute_tainter.values():
            q.remove(name)

    def _tainting_tick(self) -> None:
        if not self.manager.paused:
            self.do_no_execute_tainting_pass()
        self.loop.call_later(NODE_EVICTION_PERIOD_MS, self._tainting_tick, component=self.component,
                             label="doNoExecuteTaintingPass", background=True)

    def do_no_execute_tainting_pass(self) -> None:
        for zone in sorted(self.zone_no_execute_tainter):
            q = self.zone_no_execute_tainter[zone]
            if q.items:
                q.try_(self.loop.now, self._taint_one)

    def _taint_one(self, name: str, uid: str) -> bool:
        node = self.node_informer.get(name)
        if node is None or node["metadata"]["uid"] != uid:
            return True
        ready = next((c for c in (node.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"),
                     None)
        status = (ready or {}).get("status")
        if status == "False":
            add, rm = TAINT_NOT_READY, TAINT_UNREACHABLE
        elif status == "Unknown":
            add, rm = TAINT_UNREACHABLE, TAINT_NOT_READY
        else:
            return True  # the node is Ready again: nothing to do
        try:
            return self.swap_node_controller_taint(name, [self._taint(add)], [{"key": rm, "effect": "NoExecute"}])
        except errors.StatusError:
            return False

    # -- disruption -------------------------------------------------------------------------------------------------
    def handle_disruption(self, zone_to_ready: dict, nodes: list[dict]) -> None:
        new_states = {z: compute_zone_state(c)[1] for z, c in zone_to_ready.items()}
        all_full = bool(new_states) and all(s == STATE_FULL_DISRUPTION for s in new_states.values())
        all_were_full = bool(self.zone_states) and all(s == STATE_FULL_DISRUPTION
                                                       for s in self.zone_states.values())
        if all_full:
            if not all_were_full:
                self.loop.emit(self.component, "node.full-disruption", "nodes",
                               {"message": "Controller detected that all Nodes are not-Ready. Entering master "
                                           "disruption mode."})
                for n in nodes:
                    self.mark_node_as_reachable(n["metadata"]["name"])
            for q in self.zone_no_execute_tainter.values():
                q.swap_limiter(0, self.loop.now)
            self.zone_states.update(new_states)
            return
        for zone, state in new_states.items():
            size = len(zone_to_ready[zone])
            q = self.zone_no_execute_tainter.get(zone)
            if q is None:
                continue
            if state in (STATE_NORMAL, STATE_FULL_DISRUPTION):
                q.swap_limiter(self.eviction_limiter_qps, self.loop.now)
            else:
                q.swap_limiter(reduced_qps_func(size), self.loop.now)
            self.zone_states[zone] = state
