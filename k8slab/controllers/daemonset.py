"""Mirrors: pkg/controller/daemon/{daemon_controller.go,update.go,util/daemonset_util.go} and
staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity (the required node affinity match).

The DaemonSet controller wants exactly one pod on every node that should run it. For each node it asks
``node_should_run_daemon_pod``: does the node match the template's nodeSelector and required node affinity, and
does the pod tolerate the node's NoSchedule/NoExecute taints (with the tolerations the controller always adds, so
daemons survive not-ready, unreachable, pressure and cordoned nodes)? It then creates the missing pods and deletes
the extra ones. It does not place pods itself: since 1.12 each pod gets a required node affinity
``matchFields metadata.name In [<node>]`` and the default scheduler binds it. A rolling update replaces old pods
node by node within ``maxUnavailable`` (or surges new pods first within ``maxSurge``); OnDelete waits for you to
delete them. The template's history is kept in ControllerRevision objects whose hash labels the pods
(``controller-revision-hash``).
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy, is_pod_ready, selector_matches
from ..scheduler.plugins.tainttoleration import find_matching_untolerated_taint
from .base import (Controller, ControllerExpectations, RequeueError, controller_ref, get_controller_of,
                   resolve_controller_ref)
from .deployment import compute_hash, get_scaled_value_from_int_or_percent
from .replicaset import SLOW_START_INITIAL_BATCH_SIZE, is_pod_available, slow_start_batch

CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_KEY = "pod-template-generation"
BURST_REPLICAS = 250
OBJECT_NAME_FIELD = "metadata.name"

# AddOrUpdateDaemonPodTolerations: (key, effect); all with operator Exists
DAEMON_POD_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]
NETWORK_UNAVAILABLE_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# -- component-helpers nodeaffinity -----------------------------------------------------------------------------------

def _requirement_matches(req: dict, value: str | None, present: bool) -> bool:
    op, values = req.get("operator"), req.get("values") or []
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            a, b = int(value), int(values[0])
        except (TypeError, ValueError):
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_selector_term_matches(term: dict, node: dict) -> bool:
    """A term matches when all its matchExpressions (labels) and matchFields (only metadata.name) match; an
    empty term matches nothing."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    for r in exprs:
        if not _requirement_matches(r, labels.get(r.get("key")), r.get("key") in labels):
            return False
    for r in fields:
        if r.get("key") != OBJECT_NAME_FIELD:
            return False
        if not _requirement_matches(r, node["metadata"]["name"], True):
            return False
    return True


def required_node_affinity_matches(pod: dict, node: dict) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector and the required node affinity terms (ORed)."""
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if req is None:
        return True
    return any(node_selector_term_matches(t, node) for t in req.get("nodeSelectorTerms") or [])


# -- daemonset_util.go --------------------------------------------------------------------------------------------------

def add_or_update_daemon_pod_tolerations(spec: dict) -> None:
    tols = spec.setdefault("tolerations", [])
    wanted = list(DAEMON_POD_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE_TOLERATION)
    for key, effect in wanted:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        # v1helper.AddOrUpdateTolerationInPodSpec: replace a toleration with the same key and effect
        for i, t in enumerate(tols):
            if t.get("key") == key and t.get("effect") == effect:
                tols[i] = tol
                break
        else:
            tols.append(tol)


def replace_daemon_set_pod_node_name_node_affinity(affinity: dict | None, node_name: str) -> dict:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the pod may only go to ``node_name`` (its other required terms are
    replaced; nodeShouldRunDaemonPod already checked them)."""
    term = {"matchFields": [{"key": OBJECT_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    affinity = deepcopy(affinity) if affinity else {}
    na = affinity.setdefault("nodeAffinity", {})
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return affinity


def get_target_node_name(pod: dict) -> str | None:
    """GetTargetNodeName: spec.nodeName, else the node named in the pod's matchFields affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for t in req.get("nodeSelectorTerms") or []:
        for f in t.get("matchFields") or []:
            if f.get("key") == OBJECT_NAME_FIELD and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return f["values"][0]
    return None


def new_pod(ds: dict, node_name: str) -> dict:
    """NewPod: the template as the pod would be on ``node_name`` (used for the predicates)."""
    spec = deepcopy(ds["spec"]["template"].get("spec") or {})
    spec["nodeName"] = node_name
    add_or_update_daemon_pod_tolerations(spec)
    return {"metadata": deepcopy(ds["spec"]["template"].get("metadata") or {}), "spec": spec}


def predicates(pod: dict, node: dict, taints: list) -> tuple[bool, bool, bool]:
    fits_node_name = not pod["spec"].get("nodeName") or pod["spec"]["nodeName"] == node["metadata"]["name"]
    fits_affinity = required_node_affinity_matches(pod, node)
    untolerated = find_matching_untolerated_taint(taints, pod["spec"].get("tolerations") or [],
                                                  lambda t: t.get("effect") in ("NoExecute", "NoSchedule"))
    return fits_node_name, fits_affinity, untolerated is None


def node_should_run_daemon_pod(node: dict, ds: dict) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run, should continue running)."""
    pod = new_pod(ds, node["metadata"]["name"])
    tnode = (ds["spec"]["template"].get("spec") or {}).get("nodeName")
    if tnode and tnode != node["metadata"]["name"]:
        return False, False
    taints = node.get("spec", {}).get("taints") or []
    fits_name, fits_affinity, fits_taints = predicates(pod, node, taints)
    if not fits_name or not fits_affinity:
        return False, False
    if not fits_taints:
        untolerated = find_matching_untolerated_taint(taints, pod["spec"].get("tolerations") or [],
                                                      lambda t: t.get("effect") == "NoExecute")
        return False, untolerated is None
    return True, True


class Backoff:
    """client-go util/flowcontrol.Backoff without jitter: per-key delays that double up to a maximum and are
    forgotten after twice the maximum without a new failure."""

    def __init__(self, initial_ms: int, max_ms: int) -> None:
        self.initial_ms, self.max_ms = initial_ms, max_ms
        self.entries: dict[str, list[int]] = {}  # key -> [backoff ms, last update ms]

    def _expired(self, now: int, last: int) -> bool:
        return now - last > 2 * self.max_ms

    def get(self, key: str) -> int:
        e = self.entries.get(key)
        return e[0] if e else 0

    def next(self, key: str, now: int) -> None:
        e = self.entries.get(key)
        if e is None or self._expired(now, e[1]):
            self.entries[key] = [self.initial_ms, now]
        else:
            e[0] = min(e[0] * 2, self.max_ms)
            e[1] = now

    def is_in_back_off_since_update(self, key: str, now: int) -> bool:
        e = self.entries.get(key)
        if e is None or self._expired(now, e[1]):
            return False
        return now - e[1] < e[0]


def failed_pods_backoff_key(ds: dict, node_name: str) -> str:
    return f"{ds['metadata']['uid']}/{(ds.get('status') or {}).get('observedGeneration', 0)}/{node_name}"


def surge_count(ds: dict, number_to_schedule: int) -> int:
    us = ds["spec"].get("updateStrategy") or {}
    if us.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    return get_scaled_value_from_int_or_percent((us.get("rollingUpdate") or {}).get("maxSurge"),
                                                number_to_schedule, True)


def unavailable_count(ds: dict, number_to_schedule: int) -> int:
    us = ds["spec"].get("updateStrategy") or {}
    if us.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    ru = us.get("rollingUpdate")
    if ru is None:
        return 0
    return get_scaled_value_from_int_or_percent(ru.get("maxUnavailable"), number_to_schedule, True)


def _by_creation_and_phase(pods: list[dict]) -> list[dict]:
    """podByCreationTimestampAndPhase: running (scheduled) pods before pending ones, then oldest first."""
    return sorted(pods, key=lambda p: (not p.get("spec", {}).get("nodeName"),
                                       p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))


def is_pod_updated(pod: dict, hash_: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod's template generation or its controller-revision-hash is the current one."""
    labels = pod["metadata"].get("labels") or {}
    gen_matches = generation is not None and labels.get(TEMPLATE_GENERATION_KEY) == str(generation)
    return gen_matches or (bool(hash_) and labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_)


def find_updated_pods_on_node(pods: list[dict], hash_: str, generation: int | None):
    """findUpdatedPodsOnNode: (new pod, old pod, ok); not ok when a node has two new or two old pods."""
    new = old = None
    for p in pods:
        if p["metadata"].get("deletionTimestamp"):
            continue
        if is_pod_updated(p, hash_, generation):
            if new is not None:
                return None, None, False
            new = p
        else:
            if old is not None:
                return None, None, False
            old = p
    return new, old, True


class DaemonSetsController(Controller):
    NAME = "daemonset"
    RESOURCE = "daemonsets"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.ds_informer = f.informer("daemonsets")
        self.pod_informer = f.informer("pods")
        self.node_informer = f.informer("nodes")
        self.history_informer = f.informer("controllerrevisions")
        self.expectations = ControllerExpectations(self.loop)
        self.burst_replicas = BURST_REPLICAS
        self.failed_pods_backoff = Backoff(1000, 15 * 60 * 1000)
        self.ds_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self._delete_ds)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)
        self.node_informer.add_event_handler(self.add_node, self.update_node, None)

    # -- event handlers ---------------------------------------------------------------------------------------------
    def _delete_ds(self, ds: dict) -> None:
        self.expectations.delete_expectations(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}")

    def _owner_key(self, pod: dict) -> str | None:
        return resolve_controller_ref(self.ds_informer, pod["metadata"]["namespace"], get_controller_of(pod), "DaemonSet")

    def add_pod(self, pod: dict) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def update_pod(self, old: dict, new: dict) -> None:
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self.delete_pod(new)  # a graceful deletion has begun: count it as observed now, as upstream
            return
        key = self._owner_key(new)
        if key is not None:
            self.queue.add(key)
            ds = self.ds_informer.get(key)
            mrs = (ds or {}).get("spec", {}).get("minReadySeconds", 0)
            if mrs and not is_pod_ready(old) and is_pod_ready(new):
                self.queue.add_after(key, mrs * 1000 + 1)

    def delete_pod(self, pod: dict) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key)
            self.queue.add(key)

    def add_node(self, node: dict) -> None:
        for ds in self.ds_informer.list():
            should_run, _ = node_should_run_daemon_pod(node, ds)
            if should_run:
                self.enqueue(ds)

    def update_node(self, old: dict, new: dict) -> None:
        """updateNode: only a change in labels, taints or readiness can change where daemons should run."""
        if (old["metadata"].get("labels") == new["metadata"].get("labels")
                and (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints")
                and _node_ready(old) == _node_ready(new)):
            return
        for ds in self.ds_informer.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(new, ds):
                self.enqueue(ds)

    # -- history ----------------------------------------------------------------------------------------------------
    def controlled_histories(self, ds: dict) -> list[dict]:
        uid = ds["metadata"]["uid"]
        return [h for h in self.history_informer.list_namespace(ds["metadata"]["namespace"])
                if (get_controller_of(h) or {}).get("uid") == uid]

    def construct_history(self, ds: dict) -> tuple[dict, list[dict]]:
        """constructHistory: the ControllerRevision for the current template (created if missing, its revision
        raised if it is an old one coming back) and the old ones."""
        histories = self.controlled_histories(ds)
        data = {"spec": {"template": dict(deepcopy(ds["spec"]["template"]), **{"$patch": "replace"})}}
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = compute_hash(data, collision)
        name = f"{ds['metadata']['name'][:223]}-{hash_}"
        cur = next((h for h in histories if h["metadata"]["name"] == name), None)
        old = [h for h in histories if h["metadata"]["name"] != name]
        max_rev = max([h.get("revision", 0) for h in histories] or [0])
        if cur is None:
            labels = dict((ds["spec"]["template"].get("metadata") or {}).get("labels") or {})
            labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
            cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                  "metadata": {"name": name, "namespace": ds["metadata"]["namespace"], "labels": labels,
                               "ownerReferences": [controller_ref(ds)]},
                  "data": data, "revision": max_rev + 1}
            try:
                cur = self.client.create("controllerrevisions", cr)
            except errors.StatusError as e:
                if e.code != 409:
                    raise
                cur = self.client.get("controllerrevisions", name, namespace=ds["metadata"]["namespace"])
        elif cur.get("revision", 0) < max_rev:
            new = deepcopy(cur)
            new["revision"] = max_rev + 1
            cur = self.client.update("controllerrevisions", new)
        return cur, old

    def cleanup_history(self, ds: dict, old: list[dict], node_to_pods: dict) -> None:
        """cleanupHistory: delete old ControllerRevisions beyond revisionHistoryLimit that no live pod uses."""
        limit = ds["spec"].get("revisionHistoryLimit", 10)
        if len(old) <= limit:
            return
        live = {(p["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
                for pods in node_to_pods.values() for p in pods}
        to_kill = len(old) - limit
        for h in sorted(old, key=lambda h: h.get("revision", 0)):
            if to_kill <= 0:
                break
            if (h["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) in live:
                continue
            try:
                self.client.delete("controllerrevisions", h["metadata"]["name"], namespace=h["metadata"]["namespace"])
            except errors.StatusError as e:
                if e.code != 404:
                    raise
            to_kill -= 1

    # -- sync -------------------------------------------------------------------------------------------------------
    def get_nodes_to_daemon_pods(self, ds: dict) -> dict[str, list[dict]]:
        """getNodesToDaemonPods: the DaemonSet's pods grouped by target node (terminating ones included, so a
        replacement waits until the old pod is gone)."""
        uid = ds["metadata"]["uid"]
        out: dict[str, list[dict]] = {}
        for p in self.pod_informer.list_namespace(ds["metadata"]["namespace"]):
            ref = get_controller_of(p)
            if ref is None or ref.get("uid") != uid:
                continue
            if not selector_matches(ds["spec"].get("selector"), p["metadata"].get("labels") or {}):
                continue
            node = get_target_node_name(p)
            if node is not None:
                out.setdefault(node, []).append(p)
        return out

    def sync_handler(self, key: str) -> None:
        """syncDaemonSet."""
        ds = self.ds_informer.get(key)
        if ds is None:
            self.expectations.delete_expectations(key)
            return
        sel = ds["spec"].get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.warning(ds, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector "
                                                      "is required.")
            return
        if ds["metadata"].get("deletionTimestamp"):
            return
        cur, old = self.construct_history(ds)
        hash_ = (cur["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL, "")
        nodes = sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"])
        if not self.expectations.satisfied_expectations(key):
            self.update_daemon_set_status(ds, nodes, hash_, False)
            return
        node_to_pods = self.get_nodes_to_daemon_pods(ds)
        self.manage(ds, nodes, node_to_pods, hash_)
        if self.expectations.satisfied_expectations(key):
            if (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                self.rolling_update(ds, nodes, node_to_pods, hash_)
            self.cleanup_history(ds, old, node_to_pods)
        self.update_daemon_set_status(ds, nodes, hash_, True)

    def pods_should_be_on_node(self, node: dict, node_to_pods: dict, ds: dict, hash_: str):
        """podsShouldBeOnNode: (create here?, pods to delete here)."""
        should_run, should_continue = node_should_run_daemon_pod(node, ds)
        pods = node_to_pods.get(node["metadata"]["name"], [])
        exists = bool(pods)
        to_delete: list[str] = []
        create = False
        if should_run and not exists:
            create = True
        elif should_continue:
            running = []
            for p in pods:
                if p["metadata"].get("deletionTimestamp"):
                    continue
                if p.get("status", {}).get("phase") == "Failed":
                    # a failed daemon pod is deleted and replaced, with a per-node backoff (1 s doubling to 15 min)
                    # against fighting a kubelet that keeps rejecting it
                    bkey = failed_pods_backoff_key(ds, node["metadata"]["name"])
                    now = self.loop.now
                    if self.failed_pods_backoff.is_in_back_off_since_update(bkey, now):
                        self.queue.add_after(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}",
                                             self.failed_pods_backoff.get(bkey))
                        continue
                    self.failed_pods_backoff.next(bkey, now)
                    self.recorder.warning(ds, "FailedDaemonPod",
                                          f"Found failed daemon pod {p['metadata']['namespace']}/"
                                          f"{p['metadata']['name']} on node {node['metadata']['name']}, will try "
                                          f"to kill it")
                    to_delete.append(p["metadata"]["name"])
                else:
                    running.append(p)
            if len(running) > 1:
                running = _by_creation_and_phase(running)
                if surge_count(ds, 1) > 0:  # AllowsSurge: keep the oldest new and the oldest old pod
                    oldest_new = oldest_old = None
                    for p in running:
                        if (p["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) == hash_:
                            if oldest_new is None:
                                oldest_new = p
                                continue
                        elif oldest_old is None:
                            oldest_old = p
                            continue
                        to_delete.append(p["metadata"]["name"])
                else:
                    to_delete += [p["metadata"]["name"] for p in running[1:]]
        elif exists:
            to_delete += [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]
        return create, to_delete

    def manage(self, ds: dict, nodes: list[dict], node_to_pods: dict, hash_: str) -> None:
        """manage: which nodes need a daemon pod and which daemon pods must go."""
        need: list[str] = []
        delete: list[str] = []
        for node in nodes:
            create, to_delete = self.pods_should_be_on_node(node, node_to_pods, ds, hash_)
            if create:
                need.append(node["metadata"]["name"])
            delete += to_delete
        known = {n["metadata"]["name"] for n in nodes}
        for name, pods in node_to_pods.items():  # pods bound to nodes that no longer exist
            if name not in known:
                delete += [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]
        self.sync_nodes(ds, delete, need, hash_)

    def sync_nodes(self, ds: dict, pods_to_delete: list[str], nodes_needing_pods: list[str], hash_: str) -> None:
        """syncNodes: create pods (slow-start batches) for nodes and delete pods, within burstReplicas."""
        key = f"{ds['metadata']['namespace']}/{ds['metadata']['name']}"
        create_diff = min(len(nodes_needing_pods), self.burst_replicas)
        delete_diff = min(len(pods_to_delete), self.burst_replicas)
        nodes_needing_pods = nodes_needing_pods[:create_diff]
        self.expectations.set_expectations(key, create_diff, delete_diff)
        ref = controller_ref(ds)
        template = self.create_pod_template(ds, hash_)
        todo = list(nodes_needing_pods)

        def create_one():
            node_name = todo.pop(0)
            md = template.get("metadata") or {}
            spec = deepcopy(template.get("spec") or {})
            spec["affinity"] = replace_daemon_set_pod_node_name_node_affinity(spec.get("affinity"), node_name)
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"generateName": ds["metadata"]["name"] + "-",
                                "namespace": ds["metadata"]["namespace"],
                                "labels": dict(md.get("labels") or {}), "ownerReferences": [ref]},
                   "spec": spec}
            if md.get("annotations"):
                pod["metadata"]["annotations"] = dict(md["annotations"])
            try:
                created = self.client.create("pods", pod, namespace=ds["metadata"]["namespace"])
            except errors.StatusError as e:
                self.recorder.warning(ds, "FailedCreate", f"Error creating: {e}")
                raise
            self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

        ok = slow_start_batch(create_diff, SLOW_START_INITIAL_BATCH_SIZE, create_one)
        if ok < create_diff:
            self.expectations.lower_expectations(key, create_diff - ok, 0)
        for name in pods_to_delete[:delete_diff]:
            try:
                self.client.delete("pods", name, namespace=ds["metadata"]["namespace"])
            except errors.StatusError as e:
                self.expectations.deletion_observed(key)
                if e.code != 404:
                    raise
                continue
            self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {name}")
        if ok < create_diff:
            raise RequeueError(f"created {ok} of {create_diff} pods")

    def create_pod_template(self, ds: dict, hash_: str) -> dict:
        """CreatePodTemplate: the template with the daemon tolerations, template generation and revision hash."""
        t = deepcopy(ds["spec"]["template"])
        add_or_update_daemon_pod_tolerations(t.setdefault("spec", {}))
        labels = t.setdefault("metadata", {}).setdefault("labels", {})
        gen = ds["metadata"].get("generation")
        if gen is not None:
            labels[TEMPLATE_GENERATION_KEY] = str(gen)
        if hash_:
            labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
        return t

    def updated_desired_node_counts(self, ds: dict, nodes: list[dict], node_to_pods: dict):
        """updatedDesiredNodeCounts: (maxSurge, maxUnavailable, desiredNumberScheduled)."""
        desired = 0
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, ds)
            if should_run:
                desired += 1
        surge = surge_count(ds, desired)
        unavailable = unavailable_count(ds, desired)
        if desired > 0 and unavailable == 0 and surge == 0:
            unavailable = 1  # an impossible configuration obeys the default
        return surge, unavailable, desired

    def rolling_update(self, ds: dict, nodes: list[dict], node_to_pods: dict, hash_: str) -> None:
        """rollingUpdate (update.go): replace old pods node by node within maxUnavailable, or surge within
        maxSurge."""
        now = self.loop.now
        mrs = ds["spec"].get("minReadySeconds", 0)
        max_surge, max_unavailable, _ = self.updated_desired_node_counts(ds, nodes, node_to_pods)
        gen = ds["metadata"].get("generation")
        if max_surge == 0:
            num_unavailable = 0
            allowed, candidates = [], []
            for node_name in sorted(node_to_pods):
                new, old, ok = find_updated_pods_on_node(node_to_pods[node_name], hash_, gen)
                if not ok:
                    num_unavailable += 1
                    continue
                if (old is None and new is None) or (old is not None and new is not None):
                    num_unavailable += 1
                elif new is not None:
                    if not is_pod_available(new, mrs, now):
                        num_unavailable += 1
                else:
                    if not is_pod_available(old, mrs, now):
                        allowed.append(old["metadata"]["name"])
                    elif num_unavailable >= max_unavailable:
                        continue
                    else:
                        candidates.append(old["metadata"]["name"])
            remaining = max(0, max_unavailable - num_unavailable)
            remaining = min(remaining, len(candidates))
            to_delete = allowed + candidates[:remaining]
            if to_delete:
                self.sync_nodes(ds, to_delete, [], hash_)
            return
        num_surge = 0
        allowed_nodes, candidate_nodes, old_to_delete = [], [], []
        for node_name in sorted(node_to_pods):
            new, old, ok = find_updated_pods_on_node(node_to_pods[node_name], hash_, gen)
            if not ok:
                num_surge += 1
                continue
            if old is None:
                continue
            if new is None:
                if not is_pod_available(old, mrs, now):
                    allowed_nodes.append(node_name)
                elif num_surge >= max_surge:
                    continue
                else:
                    candidate_nodes.append(node_name)
            else:
                if not is_pod_available(new, mrs, now):
                    num_surge += 1
                    continue
                old_to_delete.append(old["metadata"]["name"])
        remaining = min(max(0, max_surge - num_surge), len(candidate_nodes))
        to_create = allowed_nodes + candidate_nodes[:remaining]
        if to_create or old_to_delete:
            self.sync_nodes(ds, old_to_delete, to_create, hash_)

    def update_daemon_set_status(self, ds: dict, nodes: list[dict], hash_: str, update_observed_gen: bool) -> None:
        """updateDaemonSetStatus: the counts, from a fresh look at the pods."""
        node_to_pods = self.get_nodes_to_daemon_pods(ds)
        now = self.loop.now
        mrs = ds["spec"].get("minReadySeconds", 0)
        gen = ds["metadata"].get("generation")
        desired = current = ready = available = updated = misscheduled = 0
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, ds)
            pods = node_to_pods.get(node["metadata"]["name"], [])
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = _by_creation_and_phase(pods)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, mrs, now):
                        available += 1
                if is_pod_updated(pod, hash_, gen):
                    updated += 1
            elif pods:
                misscheduled += 1
        old = ds.get("status") or {}
        status = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                  "desiredNumberScheduled": desired, "numberReady": ready, "updatedNumberScheduled": updated,
                  "numberAvailable": available, "numberUnavailable": desired - available,
                  "observedGeneration": ds["metadata"].get("generation", 1) if update_observed_gen
                  else old.get("observedGeneration", 0)}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        if {k: old.get(k, 0) for k in status} == status:
            return
        new = dict(ds)
        new["metadata"] = dict(ds["metadata"])
        new["status"] = {k: v for k, v in status.items()
                         if v or k in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                       "numberReady")}
        self.client.update_status("daemonsets", new)
        # pods that become available after minReadySeconds need another look then
        if mrs and ready != available:
            self.queue.add_after(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}", mrs * 1000 + 1)


def _node_ready(node: dict) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status")
    return None
