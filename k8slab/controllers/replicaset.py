"""Mirrors: pkg/controller/replicaset/replica_set.go and replica_set_utils.go, pkg/controller/controller_utils.go
(ActivePodsWithRanks, slowStartBatch constants).

The ReplicaSet controller keeps ``spec.replicas`` pods running for each ReplicaSet. It counts the active pods the
ReplicaSet owns (adopting matching orphans), creates the missing ones in slow-start batches (1, 2, 4, ...) or
deletes the surplus, least valuable first, and records what it expects to see so that it does not act twice
before its informer has caught up. Then it writes the counts to ``status``.
"""

from __future__ import annotations

import math

from ..api import errors
from ..api.objects import is_pod_ready, parse_rfc3339, selector_matches
from .base import (POD_CONTROLLER_UID_INDEX, Controller, ControllerExpectations, RequeueError,
                   add_pod_controller_uid_indexer, controller_ref, get_controller_of, get_pod_from_template,
                   is_pod_active, orphan_pod_index_key_for_namespace, resolve_controller_ref)

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH_SIZE = 1
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def slow_start_batch(count: int, initial_batch_size: int, fn) -> int:
    """slowStartBatch: call ``fn`` in batches of 1, 2, 4, ...; stop at the first batch with an error.
    Returns the number of successful calls."""
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        errs = 0
        for _ in range(batch):
            try:
                fn()
                successes += 1
            except errors.StatusError:
                errs += 1
        if errs:
            return successes
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes


def _phase_rank(pod: dict) -> int:
    return {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.get("status", {}).get("phase"), 0)


def _ready_time_ms(pod: dict) -> int | None:
    for c in pod.get("status", {}).get("conditions") or ():
        if c.get("type") == "Ready" and c.get("status") == "True" and c.get("lastTransitionTime"):
            return parse_rfc3339(c["lastTransitionTime"])
    return None


def _max_restarts(pod: dict) -> int:
    return max([cs.get("restartCount", 0) for cs in pod.get("status", {}).get("containerStatuses") or ()] or [0])


def _log_bucket(ms: int | None, now_ms: int) -> int:
    """The LogarithmicScaleDown comparison: timestamps are compared by floor(log2(age in seconds))."""
    if ms is None:
        return -1
    age_s = max(0, (now_ms - ms) // 1000)
    return int(math.log2(age_s)) if age_s > 0 else -1


def pod_deletion_cost(pod: dict) -> int:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST, 0))
    except ValueError:
        return 0


def active_pods_with_ranks_less(pi: dict, pj: dict, ri: int, rj: int, now_ms: int) -> bool:
    """ActivePodsWithRanks.Less: True if ``pi`` should be deleted before ``pj``."""
    ni, nj = pi.get("spec", {}).get("nodeName"), pj.get("spec", {}).get("nodeName")
    if bool(ni) != bool(nj):
        return not ni  # 1. unassigned < assigned
    if _phase_rank(pi) != _phase_rank(pj):
        return _phase_rank(pi) < _phase_rank(pj)  # 2. Pending < Unknown < Running
    ready_i, ready_j = is_pod_ready(pi), is_pod_ready(pj)
    if ready_i != ready_j:
        return not ready_i  # 3. not ready < ready
    ci, cj = pod_deletion_cost(pi), pod_deletion_cost(pj)
    if ci != cj:
        return ci < cj  # 4. lower deletion cost first
    if ri != rj:
        return ri > rj  # 5. doubled-up pods first
    if ready_i and ready_j:  # 6. more recently ready first
        ti, tj = _log_bucket(_ready_time_ms(pi), now_ms), _log_bucket(_ready_time_ms(pj), now_ms)
        if ti != tj:
            return ti < tj
    ri_, rj_ = _max_restarts(pi), _max_restarts(pj)
    if ri_ != rj_:
        return ri_ > rj_  # 7. more restarts first
    ti = _log_bucket(parse_rfc3339(pi["metadata"]["creationTimestamp"]), now_ms)
    tj = _log_bucket(parse_rfc3339(pj["metadata"]["creationTimestamp"]), now_ms)
    if ti != tj:
        return ti < tj  # 8. newer first
    return pi["metadata"].get("uid", "") < pj["metadata"].get("uid", "")


def get_pods_to_delete(filtered: list[dict], related: list[dict], diff: int, now_ms: int) -> list[dict]:
    """getPodsToDelete: rank the pods by how many related pods share their node, then sort by the ranking."""
    if diff >= len(filtered):
        return list(filtered)
    per_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p) and p.get("spec", {}).get("nodeName"):
            n = p["spec"]["nodeName"]
            per_node[n] = per_node.get(n, 0) + 1
    ranks = {id(p): per_node.get(p.get("spec", {}).get("nodeName"), 0) for p in filtered}
    import functools

    def cmp(a, b):
        if active_pods_with_ranks_less(a, b, ranks[id(a)], ranks[id(b)], now_ms):
            return -1
        if active_pods_with_ranks_less(b, a, ranks[id(b)], ranks[id(a)], now_ms):
            return 1
        return 0

    return sorted(filtered, key=functools.cmp_to_key(cmp))[:diff]


def is_pod_available(pod: dict, min_ready_seconds: int, now_ms: int) -> bool:
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    t = _ready_time_ms(pod)
    return t is not None and t + min_ready_seconds * 1000 <= now_ms


def pod_claim_facts(pod: dict, selector: dict | None, template_labels: dict) -> tuple:
    """What a ReplicaSet's sync reads of one pod: (resourceVersion, active, matches the selector, carries every
    template label, ready, the time it became ready in ms or None)."""
    labels = pod["metadata"].get("labels") or {}
    ready = is_pod_ready(pod)
    return (pod["metadata"].get("resourceVersion"), is_pod_active(pod), selector_matches(selector, labels),
            all(labels.get(k) == v for k, v in template_labels.items()), ready,
            _ready_time_ms(pod) if ready else None)


class ClaimState:
    """What one ReplicaSet's syncs know of the pods it controls: each pod's :func:`pod_claim_facts` and their
    counts, for one (uid, selector, template labels). The pod event handlers mark the pods that changed, and the
    next sync recomputes only those, so the counts are always those a recount over every pod the controller-UID
    index lists would give (every change to a pod in the informer passes through its event handlers)."""

    __slots__ = ("tag", "uid", "facts", "dirty", "claimed", "labeled", "ready", "release", "orphans")

    def __init__(self, tag: tuple, uid: str) -> None:
        self.tag = tag
        self.uid = uid
        self.facts: dict[str, tuple] = {}  # pod key -> facts, for every pod the ReplicaSet controls
        self.dirty: set[str] = set()  # pods changed since the last sync
        self.claimed = self.labeled = self.ready = 0  # active and matching; of those, fully labelled; ready
        self.release: set[str] = set()  # active pods it controls that no longer match
        self.orphans: dict[str, tuple] = {}  # the namespace's orphans' facts, memoised on their resourceVersion

    def put(self, k: str, f: tuple | None) -> None:
        """Replace pod ``k``'s facts (None: it is no longer controlled), keeping the counts."""
        old = self.facts.pop(k, None)
        if old is not None and old[1]:
            if old[2]:
                self.claimed -= 1
                self.labeled -= old[3]
                self.ready -= old[4]
            else:
                self.release.discard(k)
        if f is None:
            return
        self.facts[k] = f
        if f[1]:
            if f[2]:
                self.claimed += 1
                self.labeled += f[3]
                self.ready += f[4]
            else:
                self.release.add(k)


class ReplicaSetController(Controller):
    NAME = "replicaset"
    RESOURCE = "replicasets"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.rs_informer = f.informer("replicasets")
        self.pod_informer = f.informer("pods")
        add_pod_controller_uid_indexer(self.pod_informer)
        self.expectations = ControllerExpectations(self.loop)
        self.rs_informer.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)
        self.burst_replicas = BURST_REPLICAS
        self._claims: dict[str, ClaimState] = {}  # ReplicaSet key -> what its syncs know of its pods
        self._claims_by_uid: dict[str, ClaimState] = {}
        self.pod_informer.add_event_handler(self._mark_changed, lambda old, new: self._mark_changed(new, old),
                                            self._mark_changed)

    def _mark_changed(self, pod: dict, old: dict | None = None) -> None:
        """Note a changed pod in the ClaimState of the ReplicaSet that controls it (before or after the change)."""
        if old is not None and old["metadata"].get("ownerReferences") == pod["metadata"].get("ownerReferences"):
            old = None  # the same owner: the same ClaimState and pod key
        for p in (pod, old) if old is not None else (pod,):
            ref = get_controller_of(p)
            if ref is not None:
                st = self._claims_by_uid.get(ref.get("uid"))
                if st is not None:
                    md = p["metadata"]
                    st.dirty.add(f"{md['namespace']}/{md['name']}")

    # -- pod event handlers: find the owning ReplicaSet and enqueue it ----------------------------------------------
    def _resolve(self, pod: dict) -> str | None:
        return resolve_controller_ref(self.rs_informer, pod["metadata"]["namespace"], get_controller_of(pod), "ReplicaSet")

    def _orphan_owners(self, pod: dict) -> list[str]:
        labels = pod["metadata"].get("labels") or {}
        return [f"{rs['metadata']['namespace']}/{rs['metadata']['name']}"
                for rs in self.rs_informer.list_namespace(pod["metadata"]["namespace"])
                if selector_matches(rs["spec"].get("selector"), labels)]

    def add_pod(self, pod: dict) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self.delete_pod(pod)
            return
        key = self._resolve(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif get_controller_of(pod) is None:
            for k in self._orphan_owners(pod):
                self.queue.add(k)

    def update_pod(self, old: dict, new: dict) -> None:
        if new["metadata"].get("resourceVersion") == old["metadata"].get("resourceVersion"):
            return
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self.delete_pod(new)  # a graceful deletion has begun: count it as observed now, as upstream
            return
        ref = get_controller_of(new)
        key = resolve_controller_ref(self.rs_informer, new["metadata"]["namespace"], ref, "ReplicaSet")
        if key is not None:
            self.queue.add(key)
            # a pod that just became ready may make the ReplicaSet available after minReadySeconds
            mrs = self.rs_informer.store[key]["spec"].get("minReadySeconds", 0)  # resolved: it is in the cache
            if mrs and not is_pod_ready(old) and is_pod_ready(new):
                self.queue.add_after(key, mrs * 1000 + 1)
        old_ref = get_controller_of(old)
        if old_ref == ref:
            return  # the same controller reference resolves to the same key
        old_key = resolve_controller_ref(self.rs_informer, old["metadata"]["namespace"], old_ref, "ReplicaSet")
        if old_key is not None and old_key != key:
            self.queue.add(old_key)

    def delete_pod(self, pod: dict) -> None:
        key = self._resolve(pod)
        if key is not None:
            self.expectations.deletion_observed(key)
            self.queue.add(key)

    # -- the sync ---------------------------------------------------------------------------------------------------
    def sync_handler(self, key: str) -> None:
        """syncReplicaSet."""
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.delete_expectations(key)
            st = self._claims.pop(key, None)
            if st is not None:
                self._claims_by_uid.pop(st.uid, None)
            return
        needs_sync = self.expectations.satisfied_expectations(key)
        st, adopted = self.claim_pods(rs, key)
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            self.manage_replicas(st, adopted, rs, key)
        self.update_status(rs, st, adopted)

    def claim_pods(self, rs: dict, key: str) -> tuple[ClaimState, list[dict]]:
        """FilterPodsByOwner, FilterActivePods and ClaimPods: the active pods the ReplicaSet controls that still match
        its selector (one that no longer matches is released), plus the matching active orphans of its namespace,
        which are adopted. Returns the ReplicaSet's :class:`ClaimState` and the pods just adopted.

        The controller-UID index gives only this ReplicaSet's pods and the namespace's orphans. What the sync reads
        of a pod (active, matches, fully labelled, ready, ready since) depends only on that pod version and on the
        ReplicaSet's selector and template labels, so it is kept per ReplicaSet and recomputed only for the pods
        whose events arrived since the last sync: the counts are those of a full recount."""
        md = rs["metadata"]
        uid = md["uid"]
        sel = rs["spec"].get("selector")
        tmpl_labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
        tag = (uid, sel, tmpl_labels)
        index = self.pod_informer.indices[POD_CONTROLLER_UID_INDEX]
        store = self.pod_informer.store
        st = self._claims.get(key)
        if st is None or st.tag != tag:
            if st is not None:
                self._claims_by_uid.pop(st.uid, None)
            st = self._claims[key] = self._claims_by_uid[uid] = ClaimState(tag, uid)
            for k in index.get(uid, ()):
                st.put(k, pod_claim_facts(store[k], sel, tmpl_labels))
        else:
            for k in st.dirty:
                p = store.get(k)
                ref = get_controller_of(p) if p is not None else None
                st.put(k, pod_claim_facts(p, sel, tmpl_labels) if ref is not None and ref.get("uid") == uid else None)
        st.dirty.clear()
        adopt: list[str] = []
        orphan_keys = index.get(orphan_pod_index_key_for_namespace(md["namespace"]), ())
        if orphan_keys or st.orphans:
            old, new = st.orphans, {}
            for k in orphan_keys:
                p = store[k]
                rv = p["metadata"].get("resourceVersion")
                f = old.get(k)
                if f is None or f[0] != rv or rv is None:
                    f = pod_claim_facts(p, sel, tmpl_labels)
                new[k] = f
                if f[1] and f[2] and not md.get("deletionTimestamp"):
                    adopt.append(k)
            st.orphans = new
        for k in sorted(st.release):  # release: remove this ReplicaSet's ownerReference
            p = store[k]
            refs = [r for r in p["metadata"]["ownerReferences"] if r.get("uid") != uid]
            try:
                self.client.patch("pods", p["metadata"]["name"], {"metadata": {"ownerReferences": refs}},
                                  namespace=p["metadata"]["namespace"])
            except errors.StatusError:
                pass
        adopted: list[dict] = []
        for k in sorted(adopt):  # adopt: add a controller reference to this ReplicaSet
            p = store[k]
            refs = list(p["metadata"].get("ownerReferences") or []) + [controller_ref(rs)]
            try:
                adopted.append(self.client.patch("pods", p["metadata"]["name"],
                                                 {"metadata": {"ownerReferences": refs}},
                                                 namespace=p["metadata"]["namespace"]))
            except errors.StatusError:
                continue
        return st, adopted

    def claimed_pods(self, st: ClaimState, adopted: list[dict]) -> list[dict]:
        """The claimed pods in listing order: the controlled ones by key, then the adopted."""
        store = self.pod_informer.store
        return [store[k] for k in sorted(k for k, f in st.facts.items() if f[1] and f[2])] + adopted

    def manage_replicas(self, st: ClaimState, adopted: list[dict], rs: dict, key: str) -> None:
        """manageReplicas: create or delete pods to reach spec.replicas."""
        diff = st.claimed + len(adopted) - rs["spec"].get("replicas", 1)
        if diff < 0:
            diff = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, diff)
            ref = controller_ref(rs)

            def create():
                pod = get_pod_from_template(rs["spec"]["template"], rs, ref)
                try:
                    created = self.client.create("pods", pod, namespace=rs["metadata"]["namespace"])
                except errors.StatusError as e:
                    self.recorder.warning(rs, "FailedCreate", f"Error creating: {e}")
                    raise
                self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

            ok = slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, create)
            if ok < diff:
                self.expectations.lower_expectations(key, diff - ok, 0)
                raise RequeueError(f"created {ok} of {diff} pods")
        elif diff > 0:
            diff = min(diff, self.burst_replicas)
            filtered = self.claimed_pods(st, adopted)
            related = self.related_pods(rs)
            victims = get_pods_to_delete(filtered, related, diff, self.loop.now)
            self.expectations.expect_deletions(key, len(victims))
            for p in victims:
                try:
                    self.client.delete("pods", p["metadata"]["name"], namespace=p["metadata"]["namespace"])
                except errors.StatusError as e:
                    self.expectations.deletion_observed(key)
                    if e.code != 404:
                        raise
                    continue
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}")

    def related_pods(self, rs: dict) -> list[dict]:
        """getIndirectlyRelatedPods: the pods of every ReplicaSet with the same controller (a Deployment's old and
        new ReplicaSets), used to rank pods by how many related pods share their node."""
        ref = get_controller_of(rs)
        siblings = [rs]
        if ref is not None:
            siblings = [o for o in self.rs_informer.list_namespace(rs["metadata"]["namespace"])
                        if (get_controller_of(o) or {}).get("uid") == ref.get("uid")] or [rs]
        out = []
        for o in siblings:
            out.extend(self.pod_informer.by_index(POD_CONTROLLER_UID_INDEX, o["metadata"]["uid"]))
        return out

    def update_status(self, rs: dict, st: ClaimState, adopted: list[dict]) -> None:
        """calculateStatus + updateReplicaSetStatus, from the ClaimState's counts and the pods just adopted."""
        mrs = rs["spec"].get("minReadySeconds", 0)
        now = self.loop.now
        sel = rs["spec"].get("selector")
        tmpl_labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
        adopted_facts = [pod_claim_facts(p, sel, tmpl_labels) for p in adopted]
        replicas = st.claimed + len(adopted_facts)
        labeled = st.labeled + sum(f[3] for f in adopted_facts)
        ready = st.ready + sum(f[4] for f in adopted_facts)
        if mrs == 0:
            available = ready
        else:  # is_pod_available: ready for at least minReadySeconds
            claimed = [f for f in st.facts.values() if f[1] and f[2]] + adopted_facts
            available = sum(1 for f in claimed if f[4] and f[5] is not None and f[5] + mrs * 1000 <= now)
        status = {
            "replicas": replicas,
            "fullyLabeledReplicas": labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        old = rs.get("status") or {}
        cur = {k: old.get(k, 0) for k in status}
        extra = {k: v for k, v in old.items() if k not in status}
        if cur == status:
            return
        new = dict(rs)  # only the status is replaced
        new["metadata"] = dict(rs["metadata"])
        new["status"] = {**extra, **{k: v for k, v in status.items() if v or k in ("replicas",)}}
        self.client.update_status("replicasets", new)
