"""Mirrors: pkg/scheduler/scheduler.go, schedule_one.go (ScheduleOne, schedulingCycle, bindingCycle,
handleSchedulingFailure), eventhandlers.go and backend/cache/cache.go (assumed pods).

kube-scheduler watches pods and nodes. Pods with no ``spec.nodeName`` whose ``schedulerName`` it serves go into its
scheduling queue; pods already on a node go into its cache of NodeInfos. Each scheduling cycle pops one pod, runs
the profile's Filter and Score plugins over a snapshot of the cache, *assumes* the pod onto the chosen node (so the
next cycle already counts it), and hands it to a binding cycle that writes the ``pods/binding`` subresource. A pod
that fits nowhere gets a ``FailedScheduling`` event, a ``PodScheduled=False`` condition, and waits in the queue.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy, forget_requests_keys, know_requests_key, rfc3339
from ..apiserver.authn import Credentials
from ..client import Client, SharedInformerFactory
from ..client.leaderelection import LeaderElector
from ..client.record import EventRecorder
from .algorithm import FitError, NoNodesAvailableError, schedule_pod
from .fastpath import NodeArrays, fast_schedule_pod
from .framework import (
    MODE_OVERRIDE, CycleState, Framework, ImageStateSummary, NodeInfo, Profile, SchedulerError,
    default_profile, is_success, pod_priority,
)
from .queue import FLUSH_UNSCHEDULABLE_MS, SchedulingQueue, pod_key

NAME = "kube-scheduler"


def plugin_exception_message(err: BaseException) -> str:
    """The message for a plugin that raised instead of returning a Status: names the plugin and
    the extension point (from the innermost plugin method on the stack)."""
    from .framework import EXTENSION_POINTS, Plugin

    methods = {m: ep for ep, m in EXTENSION_POINTS.items()}
    methods["normalize_score"] = "NormalizeScore"
    found = None
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        if isinstance(owner, Plugin) and frame.f_code.co_name in methods:
            found = (owner.NAME, methods[frame.f_code.co_name])
        tb = tb.tb_next
    detail = f"{type(err).__name__}: {err}"
    if found is None:
        return f"running the scheduling cycle: {detail}"
    name, ep = found
    return f'running {ep} plugin "{name}": {detail}'


def _is_terminal(pod: dict) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


class KubeScheduler:
    """kube-scheduler. ``config`` is a KubeSchedulerConfiguration (YAML text, dict or
    SchedulerConfig); its profiles decide which pods (by ``spec.schedulerName``) this scheduler
    serves. ``name`` is the component name (a second scheduler gets its own); ``leader_elect``
    False starts it without a Lease, as second schedulers are usually run."""

    def __init__(self, server, rng, profiles: list[Profile] | None = None, events: bool = True,
                 percentage_of_nodes_to_score: int = 0, config=None, name: str = NAME,
                 leader_elect: bool = True) -> None:
        self.server = server
        self.loop = server.loop
        self.rng = rng
        self.name = name
        self.client = Client(server, name, Credentials.x509("system:kube-scheduler"))
        self.factory = SharedInformerFactory(self.client)
        self.config = None
        if config is not None:
            from .config import load_config
            self.config = load_config(config)
            profiles = self.config.profiles()
            percentage_of_nodes_to_score = self.config.percentage_of_nodes_to_score
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.profiles: dict[str, Framework] = {}
        for p in profiles or [default_profile()]:
            fw = Framework(p, client=self.client)
            fw.list_objects = self._list_objects
            fw.get_object = self._get_object
            fw.namespace_labels = self._namespace_labels
            fw.rng = rng
            fw.now = lambda: self.loop.now
            fw.nominated_pods_for_node = self._nominated_pods_for_node
            fw.lower_priority_nominated_pods = self._lower_priority_nominated_pods
            fw.clear_nominated_node_name = self._clear_nominated_node_name
            self.profiles[fw.profile_name] = fw
        first = next(iter(self.profiles.values()))
        self.recorder = EventRecorder(self.client, first.profile_name, enabled=events)
        for fw in self.profiles.values():
            fw.recorder = self.recorder
        self.nominated: dict[str, tuple[str, dict]] = {}
        """The nominator: pod key -> (nominated node, pod), from status.nominatedNodeName."""
        initial_ms, max_ms = 1000, 10_000
        if self.config is not None:
            initial_ms = self.config.pod_initial_backoff_seconds * 1000
            max_ms = self.config.pod_max_backoff_seconds * 1000
        self.queue = SchedulingQueue(first.queue_sort_func(), lambda: self.loop.now, pre_enqueue=self._pre_enqueue,
                                     events=self._events_to_register, initial_backoff_ms=initial_ms,
                                     max_backoff_ms=max_ms)
        self.queue_history: list[tuple[int, int, int, int]] = []
        """(time ms, activeQ, backoffQ, unschedulablePods) sampled at every scheduling cycle, after the pop."""
        self.node_infos: dict[str, NodeInfo] = {}
        self.node_arrays = NodeArrays()
        """The cache's NodeInfos as numpy columns, for the vectorised default profile (fastpath.py)."""
        self.fast_path = True
        """Compute the default plugins over the arrays when a pod allows it; False runs every plugin per node."""
        self._snapshot_list: list[NodeInfo] | None = None
        self._snapshot_names: list[str] | None = None
        self.assumed: dict[str, str] = {}  # pod uid -> node
        self.next_start_node_index = 0
        self.results: dict[str, object] = {}  # pod uid -> ScheduleResult of the cycle that placed (or failed) it
        self.attempts = 0
        self.scheduled = 0
        self._timer = None
        self.pod_informer = self.factory.informer("pods")
        self.node_informer = self.factory.informer("nodes")
        self.pod_informer.add_event_handler(self._add_pod, self._update_pod, self._delete_pod)
        self.node_informer.add_event_handler(self._add_node, self._update_node, self._delete_node)
        # listers the plugins read (DefaultSelector for PodTopologySpread, namespace labels for InterPodAffinity)
        self.listers = {r: self.factory.informer(r) for r in ("services", "replicasets", "statefulsets",
                                                               "replicationcontrollers", "namespaces",
                                                               "poddisruptionbudgets")}
        self._services_version = 0
        """Bumped on every Service event: PodTopologySpread memoises DefaultSelector's Service part on it."""
        self.listers["services"].add_event_handler(self._services_changed, self._services_changed,
                                                   self._services_changed)
        for fw in self.profiles.values():
            fw.services_version = lambda: self._services_version
        self.image_nodes: dict[str, set[str]] = {}
        self.image_states: dict[str, ImageStateSummary] = {}
        self.leader_elect = leader_elect
        self.elector = LeaderElector(self.client, NAME, f"control-plane_{rng.getrandbits(32):08x}",
                                     on_started_leading=self._started_leading)

    # -- queue hooks ------------------------------------------------------------------------------------------------
    def _framework_for(self, pod: dict) -> Framework:
        return self.profiles.get((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") or \
            next(iter(self.profiles.values()))

    def _pre_enqueue(self, pod: dict):
        return self._framework_for(pod).run_pre_enqueue_plugins(pod)

    def _events_to_register(self, plugin: str) -> list[str]:
        out: list[str] = []
        for fw in self.profiles.values():
            if plugin in fw.plugins:
                out.extend(fw.events_to_register(plugin))
        return out or ["*"]

    def _move(self, event: str) -> None:
        if self.queue.move_all_to_active_or_backoff(event):
            self._kick()

    # -- listers ----------------------------------------------------------------------------------------------------
    def _list_objects(self, resource: str, namespace: str | None) -> list[dict]:
        inf = self.listers.get(resource)
        if inf is None:
            return []
        return inf.list() if namespace is None else inf.list_namespace(namespace)

    def _services_changed(self, *_: dict) -> None:
        self._services_version += 1

    def _get_object(self, resource: str, namespace: str, name: str) -> dict | None:
        inf = self.listers.get(resource)
        return None if inf is None else inf.get(f"{namespace}/{name}")

    # -- the nominator ----------------------------------------------------------------------------------------------
    def _update_nominated(self, pod: dict) -> None:
        k = pod_key(pod)
        node = (pod.get("status") or {}).get("nominatedNodeName")
        if node and not pod.get("spec", {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp"):
            self.nominated[k] = (node, pod)
        else:
            self.nominated.pop(k, None)

    def _nominated_pods_for_node(self, node: str) -> list[dict]:
        return [p for n, p in self.nominated.values() if n == node]

    def _lower_priority_nominated_pods(self, pod: dict, node: str) -> list[dict]:
        prio = pod_priority(pod)
        return [p for p in self._nominated_pods_for_node(node) if pod_priority(p) < prio]

    def _clear_nominated_node_name(self, pod: dict) -> None:
        cur = self.pod_informer.get(pod_key(pod))
        if cur is None or not (cur.get("status") or {}).get("nominatedNodeName"):
            return
        new = deepcopy(cur)
        new["status"].pop("nominatedNodeName", None)
        try:
            self.client.update_status("pods", new)
        except errors.StatusError:
            pass
        self.nominated.pop(pod_key(pod), None)

    def _namespace_labels(self, namespace: str) -> dict | None:
        ns = self.listers["namespaces"].get(namespace)
        return None if ns is None else (ns["metadata"].get("labels") or {})

    # -- lifecycle --------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.leader_elect:
            self.elector.run()
        else:
            self._started_leading()

    def _started_leading(self) -> None:
        self.factory.start()
        self.loop.call_later(FLUSH_UNSCHEDULABLE_MS, self._flush_unschedulable, component=self.name,
                             label="flushUnschedulablePodsLeftover", background=True)

    def _flush_unschedulable(self) -> None:
        if self.queue.flush_unschedulable_left_over():
            self._kick()
        self.loop.call_later(FLUSH_UNSCHEDULABLE_MS, self._flush_unschedulable, component=self.name,
                             label="flushUnschedulablePodsLeftover", background=True)

    # -- event handlers ---------------------------------------------------------------------------------------------
    def _responsible(self, pod: dict) -> bool:
        return pod.get("spec", {}).get("schedulerName", "default-scheduler") in self.profiles

    def _set_image_states(self, ni: NodeInfo, old_names: set[str]) -> None:
        """The cache's imageStates: one summary per image shared by every node that has it, so
        ImageLocality sees on how many nodes each image is (addNodeImageStates/removeNodeImageStates)."""
        name = ni.name
        new_names = set(ni.image_states)
        for image in old_names - new_names:
            nodes = self.image_nodes.get(image)
            if nodes is not None:
                nodes.discard(name)
                if nodes:
                    self.image_states[image].num_nodes = len(nodes)
                else:
                    del self.image_nodes[image], self.image_states[image]
        for image in new_names:
            nodes = self.image_nodes.setdefault(image, set())
            nodes.add(name)
            state = self.image_states.get(image)
            if state is None:
                state = self.image_states[image] = ImageStateSummary(ni.image_states[image].size)
            state.num_nodes = len(nodes)
            ni.image_states[image] = state

    def _nodes_changed(self) -> None:
        self._snapshot_list = self._snapshot_names = None
        self.node_arrays.invalidate()

    def _add_node(self, node: dict) -> None:
        self.node_infos[node["metadata"]["name"]] = NodeInfo(node)
        self.node_infos[node["metadata"]["name"]].on_change = self.node_arrays.touch
        self.node_infos[node["metadata"]["name"]].on_pod_change = self.node_arrays.pod_changed
        self._nodes_changed()
        self._set_image_states(self.node_infos[node["metadata"]["name"]], set())
        for p in self.pod_informer.list():
            if p.get("spec", {}).get("nodeName") == node["metadata"]["name"] and not _is_terminal(p):
                self.node_infos[node["metadata"]["name"]].add_pod(p)
        self._move("Node/Add")

    def _update_node(self, old: dict, new: dict) -> None:
        ni = self.node_infos.get(new["metadata"]["name"])
        if ni is None:
            self._add_node(new)
            return
        old_images = set(ni.image_states)
        ni.set_node(new)
        self._set_image_states(ni, old_images)
        # nodeSchedulingPropertiesChange: which kinds of update happened
        if old["metadata"].get("labels") != new["metadata"].get("labels"):
            self._move("Node/UpdateNodeLabel")
        if ((old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints")
                or (old.get("spec") or {}).get("unschedulable") != (new.get("spec") or {}).get("unschedulable")):
            self._move("Node/UpdateNodeTaint")
        if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"):
            self._move("Node/UpdateNodeAllocatable")

    def _delete_node(self, node: dict) -> None:
        ni = self.node_infos.pop(node["metadata"]["name"], None)
        self._nodes_changed()
        if ni is not None:
            ni.on_change = ni.on_pod_change = None
            images = set(ni.image_states)
            ni.image_states = {}
            self._set_image_states(ni, images)
        self._move("Node/Delete")

    def _cache_add(self, pod: dict) -> None:
        node = pod["spec"]["nodeName"]
        uid = pod["metadata"]["uid"]
        ni = self.node_infos.get(node)
        if uid in self.assumed:
            # the binding landed: confirm the assumed pod with the version from the API
            if ni is not None and not ni.replace_pod(pod):
                ni.remove_pod(pod)
                ni.add_pod(pod)
            del self.assumed[uid]
            return
        if ni is not None:
            ni.add_pod(pod)
        self._move("Pod/Add")

    def _cache_remove(self, pod: dict) -> None:
        ni = self.node_infos.get(pod["spec"].get("nodeName", ""))
        if ni is not None:
            ni.remove_pod(pod)
        self.assumed.pop(pod["metadata"]["uid"], None)

    def _add_pod(self, pod: dict) -> None:
        if pod.get("spec", {}).get("nodeName"):
            if not _is_terminal(pod):
                self._cache_add(pod)
        elif self._responsible(pod) and not pod["metadata"].get("deletionTimestamp"):
            self._update_nominated(pod)
            self.queue.add(pod)
            self._kick()

    def _update_pod(self, old: dict, new: dict) -> None:
        if new.get("spec", {}).get("nodeName"):
            if not old.get("spec", {}).get("nodeName"):
                self.queue.delete(new)
                self.nominated.pop(pod_key(new), None)
                if not _is_terminal(new):
                    self._cache_add(new)
            elif _is_terminal(new) and not _is_terminal(old):
                self._cache_remove(old)
                self._move("Pod/Delete")
            elif not _is_terminal(new):
                ni = self.node_infos.get(new["spec"]["nodeName"])
                if ni is not None and not ni.replace_pod(new):
                    ni.remove_pod(old)
                    ni.add_pod(new)
                if old["metadata"].get("labels") != new["metadata"].get("labels"):
                    self._move("Pod/UpdatePodLabel")
        elif self._responsible(new):
            self._update_nominated(new)
            if new["metadata"].get("deletionTimestamp"):
                self.queue.delete(new)
            else:
                self.queue.update(new)
                self._kick()

    def _delete_pod(self, pod: dict) -> None:
        if pod.get("spec", {}).get("nodeName"):
            if not _is_terminal(pod):
                self._cache_remove(pod)
            self._move("Pod/Delete")
        else:
            self.queue.delete(pod)
            self.nominated.pop(pod_key(pod), None)

    # -- the scheduling loop ----------------------------------------------------------------------------------------
    def _kick(self) -> None:
        if self._timer is None and len(self.queue):
            self._timer = self.loop.call_later(0, self.schedule_one, component=self.name, label="scheduleOne")
        nxt = self.queue.next_backoff_expiry()
        if nxt is not None and getattr(self, "_backoff_timer", None) is None:
            self._backoff_timer = self.loop.call_at(max(nxt, self.loop.now), self._flush_backoff, component=self.name,
                                                    label="flushBackoffQCompleted")

    def _flush_backoff(self) -> None:
        self._backoff_timer = None
        self.queue.flush_backoff_completed()
        self._kick()

    def snapshot(self) -> list[NodeInfo]:
        """The NodeInfos in cache order. The list is kept until a node is added or removed (the NodeInfos in it
        are the cache's own, so pod changes show without a new list)."""
        if self._snapshot_list is None:
            self._snapshot_list = list(self.node_infos.values())
            self._snapshot_names = [ni.name for ni in self._snapshot_list]
        return self._snapshot_list

    def schedule_one(self) -> None:
        """ScheduleOne: one scheduling cycle for the next pod in activeQ."""
        self._timer = None
        qp = self.queue.pop()
        c = self.queue.counts()
        self.queue_history.append((self.loop.now, c["active"], c["backoff"], c["unschedulable"]))
        if qp is None:
            return
        pod = self.pod_informer.get(pod_key(qp.pod)) or qp.pod
        if pod.get("spec", {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            self.queue.done(pod)
            self._kick()
            return
        fw = self.profiles[pod["spec"].get("schedulerName", "default-scheduler")]
        self.attempts += 1
        ref = f"pods/{pod_key(pod)}"
        self.loop.emit(self.name, "schedule", ref, {"attempt": qp.attempts, "profile": fw.profile_name})
        state = CycleState()
        nodes = self.snapshot()
        try:
            result = None
            if self.fast_path:
                know_requests_key(pod)  # only built-in plugins run on the fast path: none changes the pod
                try:
                    result = fast_schedule_pod(fw, state, pod, self.node_arrays, nodes, self.rng,
                                               self.next_start_node_index, self.percentage_of_nodes_to_score,
                                               nominated_pods=bool(self.nominated), node_names=self._snapshot_names)
                finally:
                    forget_requests_keys()
                if result is None:
                    state = CycleState()
            if result is None:
                result = schedule_pod(fw, state, pod, nodes, self.rng, self.next_start_node_index,
                                      global_percentage=self.percentage_of_nodes_to_score)
        except FitError as e:
            if e.result is not None:
                self.next_start_node_index = e.result.next_start_node_index
                self.results[pod["metadata"]["uid"]] = e.result
            qp.unschedulable_plugins = set(e.diagnosis.unschedulable_plugins)
            qp.pending_plugins = set(e.diagnosis.pending_plugins)
            nominating = None
            if fw.has_post_filter_plugins():
                # PostFilter (DefaultPreemption): try to make the pod schedulable in a later cycle
                try:
                    pf_result, pf_status = fw.run_post_filter_plugins(state, pod, e.diagnosis.node_to_status)
                except Exception as err:  # a learner's PostFilter plugin raised
                    self._handle_failure(qp, pod, "SchedulerError", plugin_exception_message(err), unschedulable=False)
                    return
                e.diagnosis.post_filter_msg = pf_status.message()
                if pf_result is not None:
                    nominating = pf_result.nominating_info
                if e.result is not None:
                    e.result.post_filter_status = pf_status
                    e.result.nominated_node = nominating.nominated_node_name if nominating else None
            self._handle_failure(qp, pod, "Unschedulable", e.error(), unschedulable=True, nominating=nominating)
            return
        except NoNodesAvailableError as e:
            self._handle_failure(qp, pod, "Unschedulable", str(e), unschedulable=True)
            return
        except SchedulerError as e:
            self._handle_failure(qp, pod, "SchedulerError", str(e), unschedulable=False)
            return
        except Exception as e:  # a plugin written in a notebook raised: fail this cycle, retry the pod
            self._handle_failure(qp, pod, "SchedulerError", plugin_exception_message(e), unschedulable=False)
            return
        self.next_start_node_index = result.next_start_node_index
        self.results[pod["metadata"]["uid"]] = result
        host = result.suggested_host
        self.loop.emit(self.name, "schedule.result", ref, {"node": host, "feasible": result.feasible_nodes,
                                                       "evaluated": result.evaluated_nodes})
        # assume: the cache counts the pod on its node before the binding is written
        assumed = deepcopy(pod)
        assumed["spec"]["nodeName"] = host
        ni = self.node_infos.get(host)
        if ni is not None:
            know_requests_key(pod, assumed)  # a fresh copy: the same requests
            try:
                ni.add_pod(assumed)
            finally:
                forget_requests_keys()
        self.assumed[pod["metadata"]["uid"]] = host
        st = fw.run_reserve_plugins_reserve(state, assumed, host)
        if not is_success(st):
            self._forget(assumed, host)
            fw.run_reserve_plugins_unreserve(state, assumed, host)
            self._handle_failure(qp, pod, "SchedulerError", st.message(), unschedulable=False)
            return
        _, st = fw.run_permit_plugins(state, assumed, host)
        if st is not None and not is_success(st) and not st.is_wait():
            self._forget(assumed, host)
            fw.run_reserve_plugins_unreserve(state, assumed, host)
            self._handle_failure(qp, pod, "SchedulerError", st.message(), unschedulable=st.is_rejected())
            return
        self.loop.call_later(0, self.binding_cycle, fw, state, qp, pod, assumed, host, component=self.name,
                             label=f"bindingCycle {pod_key(pod)}")
        self._kick()

    def binding_cycle(self, fw: Framework, state: CycleState, qp, pod: dict, assumed: dict, host: str) -> None:
        """bindingCycle: PreBind, Bind (DefaultBinder: POST pods/binding), PostBind."""
        ref = f"pods/{pod_key(pod)}"
        self.loop.emit(self.name, "bind", ref, {"node": host}, target="kube-apiserver")
        if (assumed.get("spec") or {}).get("volumes"):  # the VolumeBinding plugin's PreBind, as a hook
            from ..controllers.persistentvolume import volume_binding_pre_bind
            volume_binding_pre_bind(self.client, assumed, host)
        st = fw.run_pre_bind_plugins(state, assumed, host)
        if is_success(st):
            st = fw.run_bind_plugins(state, assumed, host)
        if not is_success(st):
            self._forget(assumed, host)
            fw.run_reserve_plugins_unreserve(state, assumed, host)
            self._handle_failure(qp, pod, "SchedulerError", st.message() if st else "binding failed",
                                 unschedulable=False)
            return
        self.scheduled += 1
        self.queue.done(pod)
        self.recorder.normal(pod, "Scheduled", f"Successfully assigned {pod_key(pod)} to {host}")
        fw.run_post_bind_plugins(state, assumed, host)

    def _forget(self, assumed: dict, host: str) -> None:
        ni = self.node_infos.get(host)
        if ni is not None:
            ni.remove_pod(assumed)
        self.assumed.pop(assumed["metadata"]["uid"], None)

    def _handle_failure(self, qp, pod: dict, reason: str, message: str, unschedulable: bool,
                        nominating=None) -> None:
        """handleSchedulingFailure: event, PodScheduled=False condition, and back to the queue."""
        ref = f"pods/{pod_key(pod)}"
        self.loop.emit(self.name, "schedule.failed", ref, {"reason": reason, "message": message})
        self.recorder.warning(pod, "FailedScheduling", message)
        cur = self.pod_informer.get(pod_key(pod))
        if cur is None or cur.get("spec", {}).get("nodeName"):
            self.queue.done(pod)
            return
        self.queue.add_unschedulable(qp, backoff_only=not unschedulable)
        cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                "lastTransitionTime": rfc3339(self.loop.now), "reason": reason, "message": message}
        old = next((c for c in cur.get("status", {}).get("conditions") or [] if c["type"] == "PodScheduled"), None)
        nominated_now = (cur.get("status") or {}).get("nominatedNodeName") or ""
        nominate = (nominating is not None and nominating.nominating_mode == MODE_OVERRIDE
                    and nominating.nominated_node_name != nominated_now)
        if nominate:
            node = nominating.nominated_node_name
            if node:
                self.nominated[pod_key(pod)] = (node, cur)
                self.loop.emit(self.name, "preempt.nominate", f"pods/{pod_key(pod)}", {"node": node})
            else:
                self.nominated.pop(pod_key(pod), None)
        if nominate or old is None or old.get("reason") != reason or old.get("message") != message:
            if old is not None and old.get("status") == "False":
                cond["lastTransitionTime"] = old.get("lastTransitionTime")
            new = deepcopy(cur)
            conds = new.setdefault("status", {}).setdefault("conditions", [])
            conds[:] = [c for c in conds if c["type"] != "PodScheduled"] + [cond]
            if nominate:
                if nominating.nominated_node_name:
                    new["status"]["nominatedNodeName"] = nominating.nominated_node_name
                else:
                    new["status"].pop("nominatedNodeName", None)
            try:
                self.client.update_status("pods", new)
            except errors.StatusError:
                pass
        self._kick()

    # -- explaining -------------------------------------------------------------------------------------------------
    def result_for(self, pod) -> object:
        uid = self._pod(pod)["metadata"]["uid"]
        return self.results.get(uid)

    def _pod(self, pod) -> dict:
        if isinstance(pod, dict):
            return pod
        ns, _, name = pod.rpartition("/")
        found = self.pod_informer.get(f"{ns or 'default'}/{name}")
        if found is None:
            raise KeyError(f'pod "{pod}" not found')
        return found

    def explain(self, pod):
        """A DataFrame, one row per node: each Filter plugin's verdict, each Score plugin's raw, normalized and
        weighted score, the total and the chosen node, from the cycle that placed the pod (or last tried to)."""
        import pandas as pd

        p = self._pod(pod)
        result = self.results.get(p["metadata"]["uid"])
        if result is None:
            raise KeyError(f'no scheduling cycle recorded for pod "{pod_key(p)}"')
        rows = result.table_rows()
        df = pd.DataFrame(rows).set_index("node")
        df.attrs["result"] = result
        return df


def explain_pod(pod: dict, node_infos: list[NodeInfo], profile: Profile | None = None, seed: int = 0,
                percentage_of_nodes_to_score: int = 0, evaluate_all_filters: bool = False,
                next_start_node_index: int = 0):
    """One scheduling cycle of the pure algorithm (no API, no cluster) on ``node_infos``, as a DataFrame like
    ``KubeScheduler.explain``: fast enough for thousands of nodes. ``evaluate_all_filters`` also runs the Filter
    plugins after the first rejection, for display (the decision is unchanged). The ScheduleResult (or the
    FitError's) is in ``df.attrs["result"]``."""
    import random

    import pandas as pd

    fw = Framework(profile)
    try:
        result = schedule_pod(fw, CycleState(), pod, node_infos, random.Random(seed), next_start_node_index,
                              evaluate_all_filters, percentage_of_nodes_to_score)
    except FitError as e:
        result = e.result
    df = pd.DataFrame(result.table_rows()).set_index("node")
    df.attrs["result"] = result
    return df
