"""Mirrors: pkg/controller/deployment/{deployment_controller.go,sync.go,rolling.go,recreate.go,progress.go} and
pkg/controller/deployment/util/deployment_util.go.

The Deployment controller owns ReplicaSets, not pods. For a Deployment it finds the ReplicaSet whose pod template
matches the Deployment's (the *new* one, named ``<deployment>-<pod-template-hash>``) and the *old* ones. A rolling
update scales the new ReplicaSet up by at most ``maxSurge`` pods above ``replicas`` and the old ones down while at
least ``replicas - maxUnavailable`` pods stay available; Recreate scales old to zero first. Then it writes the
Deployment's status and its Progressing and Available conditions.
"""

from __future__ import annotations

import json
import math

from ..api import errors
from ..api.objects import deepcopy, parse_rfc3339, rfc3339, selector_matches
from .base import ORPHAN_POD_INDEX_KEY, Controller, controller_ref, get_controller_of

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY = "pod-template-hash"
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
RS_CONTROLLER_UID_INDEX = "rsControllerUID"


# -- deployment_util.go helpers ---------------------------------------------------------------------------------------

def get_scaled_value_from_int_or_percent(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: invalid type: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid value {value!r}")
        x = pct * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable rounds down; both zero means unavailable 1."""
    surge = get_scaled_value_from_int_or_percent(max_surge, desired, True)
    unavailable = get_scaled_value_from_int_or_percent(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling_update(d: dict) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _rolling(d: dict) -> dict:
    return (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: dict) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), d["spec"].get("replicas", 1))[0]


def max_unavailable(d: dict) -> int:
    replicas = d["spec"].get("replicas", 1)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    ru = _rolling(d)
    _, unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas)
    return min(unavailable, replicas)


def _replicas(rs: dict | None) -> int:
    return 0 if rs is None else rs["spec"].get("replicas", 0)


def get_replica_count_for_replica_sets(rss: list) -> int:
    return sum(_replicas(rs) for rs in rss if rs is not None)


def get_actual_replica_count_for_replica_sets(rss: list) -> int:
    return sum(rs.get("status", {}).get("replicas", 0) for rs in rss if rs is not None)


def get_ready_replica_count_for_replica_sets(rss: list) -> int:
    return sum(rs.get("status", {}).get("readyReplicas", 0) for rs in rss if rs is not None)


def get_available_replica_count_for_replica_sets(rss: list) -> int:
    return sum(rs.get("status", {}).get("availableReplicas", 0) for rs in rss if rs is not None)


def new_rs_new_replicas(d: dict, all_rss: list, new_rs: dict) -> int:
    """NewRSNewReplicas: how many replicas the new ReplicaSet may have now."""
    replicas = d["spec"].get("replicas", 1)
    if is_rolling_update(d):
        surge = max_surge(d)
        current = get_replica_count_for_replica_sets(all_rss)
        max_total = replicas + surge
        if current >= max_total:
            return _replicas(new_rs)
        scale_up = max_total - current
        scale_up = min(scale_up, replicas - _replicas(new_rs))
        return _replicas(new_rs) + scale_up
    return replicas


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-32a of the pod template, encoded with rand.SafeEncodeString.

    Upstream hashes the template's Go value as printed by spew; here the template's canonical JSON is hashed, so
    the value differs from a real cluster's for the same template but behaves the same way."""
    h = 0x811C9DC5
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += collision_count.to_bytes(4, "little")
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(ALPHANUMS[ord(ch) % len(ALPHANUMS)] for ch in str(h))


def _template_without_hash(template: dict) -> dict:
    """The template with the pod-template-hash label removed (copying only what changes)."""
    md = template.get("metadata")
    if not md or DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY not in (md.get("labels") or {}):
        return template
    t = dict(template)
    t["metadata"] = dict(md)
    t["metadata"]["labels"] = {k: v for k, v in md["labels"].items() if k != DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY}
    return t


def equal_ignore_hash(t1: dict, t2: dict) -> bool:
    return _template_without_hash(t1) == _template_without_hash(t2)


def revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0))
    except ValueError:
        return 0


def _creation_key(rs: dict):
    return (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"])


def find_new_replica_set(d: dict, rss: list) -> dict | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's."""
    for rs in sorted(rss, key=_creation_key):
        if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
            return rs
    return None


def find_old_replica_sets(d: dict, rss: list) -> tuple[list, list]:
    """FindOldReplicaSets: (old ReplicaSets with pods, all old ReplicaSets)."""
    new = find_new_replica_set(d, rss)
    all_old = [rs for rs in rss if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]
    return [rs for rs in all_old if _replicas(rs) > 0], all_old


def filter_active_replica_sets(rss: list) -> list:
    return [rs for rs in rss if rs is not None and _replicas(rs) > 0]


def get_int_annotation(rs: dict, name: str) -> int | None:
    v = (rs["metadata"].get("annotations") or {}).get(name)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def _go_round(x: float) -> int:
    """math.Round: half away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def get_replica_set_fraction(rs: dict, d: dict) -> int:
    if d["spec"].get("replicas", 1) == 0:
        return -_replicas(rs)
    deployment_replicas = d["spec"].get("replicas", 1) + max_surge(d)
    annotated = get_int_annotation(rs, MAX_REPLICAS_ANNOTATION)
    if annotated is None:
        annotated = d.get("status", {}).get("replicas", 0)
    if not annotated:
        return 0
    return _go_round(_replicas(rs) * deployment_replicas / annotated) - _replicas(rs)


def get_proportion(rs: dict, d: dict, to_add: int, added: int) -> int:
    if rs is None or _replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = get_replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def deployment_complete(d: dict, status: dict) -> bool:
    replicas = d["spec"].get("replicas", 1)
    return (status.get("updatedReplicas", 0) == replicas and status.get("replicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def deployment_progressing(d: dict, new_status: dict) -> bool:
    old = d.get("status") or {}
    old_status_old_replicas = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_status_old_replicas = new_status.get("replicas", 0) - new_status.get("updatedReplicas", 0)
    return (new_status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or new_status_old_replicas < old_status_old_replicas
            or new_status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new_status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


# annotationsToSkip: Deployment annotations that are not copied to its ReplicaSets
ANNOTATIONS_TO_SKIP = {"kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
                       REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION,
                       "deprecated.deployment.rollback.to"}


def copy_deployment_annotations_to_replica_set(d: dict, rs: dict) -> bool:
    """copyDeploymentAnnotationsToReplicaSet: e.g. kubernetes.io/change-cause, which ``rollout history`` shows."""
    changed = False
    ann = rs["metadata"].setdefault("annotations", {})
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k in ANNOTATIONS_TO_SKIP or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def set_new_replica_set_annotations(d: dict, rs: dict, new_revision: str, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision to ``new_revision`` and,
    when an old ReplicaSet becomes the new one again (a rollback), remember its old revisions in
    deployment.kubernetes.io/revision-history."""
    changed = copy_deployment_annotations_to_replica_set(d, rs)
    ann = rs["metadata"].setdefault("annotations", {})
    had = REVISION_ANNOTATION in ann
    old_revision = ann.get(REVISION_ANNOTATION, "")
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        old_int = 0
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION_ANNOTATION] = new_revision
        changed = True
    if had and old_int < new_int:
        hist = ann.get(REVISION_HISTORY_ANNOTATION, "")
        olds = hist.split(",")
        if not olds[0]:
            ann[REVISION_HISTORY_ANNOTATION] = old_revision
        else:
            total = len(hist) + len(old_revision) + 1
            start = 0
            while total > MAX_REV_HISTORY_LENGTH_IN_CHARS and start < len(olds):
                total -= len(olds[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS:
                ann[REVISION_HISTORY_ANNOTATION] = ",".join(olds[start:] + [old_revision])
    if not exists:
        replicas = d["spec"].get("replicas", 1)
        if set_replicas_annotations(rs, replicas, replicas + max_surge(d)):
            changed = True
    return changed


def _condition(status: dict, ctype: str) -> dict | None:
    for c in status.get("conditions") or ():
        if c.get("type") == ctype:
            return c
    return None


def _set_condition(status: dict, cond: dict) -> None:
    conds = status.setdefault("conditions", [])
    cur = _condition(status, cond["type"])
    if cur is not None and cur["status"] == cond["status"] and cur.get("reason") == cond.get("reason"):
        return
    if cur is not None and cur["status"] == cond["status"]:
        cond["lastTransitionTime"] = cur["lastTransitionTime"]
    conds[:] = [c for c in conds if c["type"] != cond["type"]] + [cond]


class DeploymentController(Controller):
    NAME = "deployment"
    RESOURCE = "deployments"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        f = manager.factory
        self.d_informer = f.informer("deployments")
        self.rs_informer = f.informer("replicasets")
        if RS_CONTROLLER_UID_INDEX not in self.rs_informer.indexers:
            self.rs_informer.add_indexer(RS_CONTROLLER_UID_INDEX, lambda rs: [
                (get_controller_of(rs) or {}).get("uid") or ORPHAN_POD_INDEX_KEY])
        self.pod_informer = f.informer("pods")
        self.d_informer.add_event_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.rs_informer.add_event_handler(self._rs_event, lambda o, n: self._rs_event(n), self._rs_event)
        self.pod_informer.add_event_handler(None, None, self._pod_deleted)

    def _rs_event(self, rs: dict) -> None:
        ref = get_controller_of(rs)
        if ref is not None and ref.get("kind") == "Deployment":
            self.queue.add(f"{rs['metadata']['namespace']}/{ref['name']}")
        elif ref is None:
            labels = rs["metadata"].get("labels") or {}
            for d in self.d_informer.list_namespace(rs["metadata"]["namespace"]):
                if selector_matches(d["spec"].get("selector"), labels):
                    self.enqueue(d)

    def _pod_deleted(self, pod: dict) -> None:
        # Recreate waits for old pods to be gone.
        ref = get_controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{pod['metadata']['namespace']}/{ref['name']}")
        if rs is None:
            return
        dref = get_controller_of(rs)
        if dref is not None and dref.get("kind") == "Deployment":
            d = self.d_informer.get(f"{rs['metadata']['namespace']}/{dref['name']}")
            if d is not None and not is_rolling_update(d):
                self.enqueue(d)

    # -- helpers ----------------------------------------------------------------------------------------------------
    def get_replica_sets_for_deployment(self, d: dict) -> list[dict]:
        """The ReplicaSets this Deployment controls, adopting matching orphans."""
        uid = d["metadata"]["uid"]
        ns = d["metadata"]["namespace"]
        # the ReplicaSets it controls plus the orphans of its namespace, in the namespace's listing order (a lookup
        # shortcut through a controller-UID index: the same set a list of the namespace and a filter would give)
        candidates = self.rs_informer.by_index(RS_CONTROLLER_UID_INDEX, uid) + [
            rs for rs in self.rs_informer.by_index(RS_CONTROLLER_UID_INDEX, ORPHAN_POD_INDEX_KEY)
            if rs["metadata"].get("namespace") == ns]
        candidates.sort(key=lambda rs: f"{rs['metadata'].get('namespace', '')}/{rs['metadata']['name']}")
        out = []
        for rs in candidates:
            ref = get_controller_of(rs)
            if ref is not None:
                if ref.get("uid") == uid:
                    out.append(rs)
            elif selector_matches(d["spec"].get("selector"), rs["metadata"].get("labels") or {}) \
                    and not d["metadata"].get("deletionTimestamp"):
                refs = list(rs["metadata"].get("ownerReferences") or []) + [controller_ref(d)]
                out.append(self.client.patch("replicasets", rs["metadata"]["name"],
                                             {"metadata": {"ownerReferences": refs}},
                                             namespace=rs["metadata"]["namespace"]))
        return out

    def scale_replica_set(self, rs: dict, new_scale: int, d: dict, operation: str = "") -> dict:
        """scaleReplicaSetAndRecordEvent / scaleReplicaSet."""
        size_needs_update = _replicas(rs) != new_scale
        desired = str(d["spec"].get("replicas", 1))
        max_r = str(d["spec"].get("replicas", 1) + max_surge(d))
        ann = rs["metadata"].get("annotations") or {}
        ann_needs_update = ann.get(DESIRED_REPLICAS_ANNOTATION) != desired or ann.get(MAX_REPLICAS_ANNOTATION) != max_r
        if not size_needs_update and not ann_needs_update:
            return rs
        new = deepcopy(rs)
        new["spec"]["replicas"] = new_scale
        a = new["metadata"].setdefault("annotations", {})
        a[DESIRED_REPLICAS_ANNOTATION] = desired
        a[MAX_REPLICAS_ANNOTATION] = max_r
        updated = self.client.update("replicasets", new)
        if size_needs_update:
            op = operation or ("up" if _replicas(rs) < new_scale else "down")
            self.recorder.normal(d, "ScalingReplicaSet",
                                 f"Scaled {op} replica set {rs['metadata']['name']} from {_replicas(rs)} to "
                                 f"{new_scale}")
        return updated

    def get_all_replica_sets_and_sync_revision(self, d: dict, rss: list, create: bool):
        old_rss, all_old = find_old_replica_sets(d, rss)
        new_rs = self.get_new_replica_set(d, rss, all_old, create)
        return new_rs, all_old

    def get_new_replica_set(self, d: dict, rss: list, old_rss: list, create: bool) -> dict | None:
        existing = find_new_replica_set(d, rss)
        max_old = max([revision(rs) for rs in old_rss] or [0])
        new_revision = str(max_old + 1)
        if existing is not None:
            # a copy of what may change (the annotations, spec.minReadySeconds): the informer's object is shared
            new = dict(existing)
            new["metadata"] = dict(existing["metadata"])
            if existing["metadata"].get("annotations") is not None:
                new["metadata"]["annotations"] = dict(existing["metadata"]["annotations"])
            changed = set_new_replica_set_annotations(d, new, new_revision, True)
            if changed or new["spec"].get("minReadySeconds", 0) != d["spec"].get("minReadySeconds", 0):
                new["spec"] = dict(existing["spec"])
                new["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
                existing = self.client.update("replicasets", new)
            return existing
        if not create:
            return None
        template = deepcopy(d["spec"]["template"])
        collision = (d.get("status") or {}).get("collisionCount")
        h = compute_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = h
        selector = deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{d['metadata']['name']}-{h}", "namespace": d["metadata"]["namespace"],
                           "labels": dict(template["metadata"]["labels"]),
                           "annotations": {},
                           "ownerReferences": [controller_ref(d)]},
              "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        set_new_replica_set_annotations(d, rs, new_revision, False)
        all_rss = list(old_rss)
        rs["spec"]["replicas"] = new_rs_new_replicas(d, all_rss, rs)
        try:
            created = self.client.create("replicasets", rs)
        except errors.StatusError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                # hash collision: bump status.collisionCount and retry later
                nd = deepcopy(d)
                nd.setdefault("status", {})["collisionCount"] = (collision or 0) + 1
                self.client.update_status("deployments", nd)
            raise
        if rs["spec"]["replicas"] > 0:
            self.recorder.normal(d, "ScalingReplicaSet",
                                 f"Scaled up replica set {created['metadata']['name']} from 0 to "
                                 f"{rs['spec']['replicas']}")
        return created

    # -- sync -------------------------------------------------------------------------------------------------------
    def sync_handler(self, key: str) -> None:
        """syncDeployment."""
        d = self.d_informer.get(key)
        if d is None:
            return
        sel = d["spec"].get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.warning(d, "SelectingAll", "This deployment is selecting all pods. A non-empty selector "
                                                     "is required.")
            return
        rss = self.get_replica_sets_for_deployment(d)
        if d["metadata"].get("deletionTimestamp"):
            self.sync_status_only(d, rss)
            return
        d = self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            self.sync(d, rss)
            return
        if self.is_scaling_event(d, rss):
            self.sync(d, rss)
            return
        if is_rolling_update(d):
            self.rollout_rolling(d, rss)
        else:
            self.rollout_recreate(d, rss)

    def check_paused_conditions(self, d: dict) -> dict:
        """checkPausedConditions: Progressing becomes Unknown (DeploymentPaused / DeploymentResumed)."""
        if d["spec"].get("progressDeadlineSeconds") is None:
            return d
        cond = _condition(d.get("status") or {}, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_exists = cond is not None and cond.get("reason") == "DeploymentPaused"
        if d["spec"].get("paused") and not paused_exists:
            reason, msg = "DeploymentPaused", "Deployment is paused"
        elif not d["spec"].get("paused") and paused_exists:
            reason, msg = "DeploymentResumed", "Deployment is resumed"
        else:
            return d
        new = dict(d)
        new["metadata"] = dict(d["metadata"])
        new["status"] = deepcopy(d.get("status") or {})
        now = rfc3339(self.loop.now)
        _set_condition(new["status"], {"type": "Progressing", "status": "Unknown", "lastUpdateTime": now,
                                       "lastTransitionTime": now, "reason": reason, "message": msg})
        return self.client.update_status("deployments", new)

    def is_scaling_event(self, d: dict, rss: list) -> bool:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, False)
        for rs in filter_active_replica_sets(old_rss + [new_rs]):
            desired = get_int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired != d["spec"].get("replicas", 1):
                return True
        return False

    def sync(self, d: dict, rss: list) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, False)
        self.scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self.cleanup_deployment(old_rss, d)
        self.sync_deployment_status(d, [rs for rs in old_rss + [new_rs] if rs is not None], new_rs)

    def sync_status_only(self, d: dict, rss: list) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, False)
        self.sync_deployment_status(d, [rs for rs in old_rss + [new_rs] if rs is not None], new_rs)

    def scale(self, d: dict, new_rs: dict | None, old_rss: list) -> None:
        """scale: proportional scaling when a Deployment is resized in the middle of a rollout."""
        replicas = d["spec"].get("replicas", 1)
        active = filter_active_replica_sets(old_rss + [new_rs])
        active_or_latest = None
        if len(active) == 1:
            active_or_latest = active[0]
        elif not active:
            everything = [rs for rs in old_rss + [new_rs] if rs is not None]
            if everything:
                active_or_latest = max(everything, key=_creation_key)
        if active_or_latest is not None:
            if _replicas(active_or_latest) != replicas:
                self.scale_replica_set(active_or_latest, replicas, d)
            return
        if new_rs is not None and _replicas(new_rs) == replicas and \
                new_rs.get("status", {}).get("availableReplicas", 0) == replicas:
            for rs in filter_active_replica_sets(old_rss):
                self.scale_replica_set(rs, 0, d)
            return
        if is_rolling_update(d):
            all_rss = filter_active_replica_sets(old_rss + [new_rs])
            all_replicas = get_replica_count_for_replica_sets(all_rss)
            allowed = replicas + max_surge(d) if replicas > 0 else 0
            to_add = allowed - all_replicas
            if to_add > 0:
                all_rss.sort(key=lambda rs: (-_replicas(rs), [-ord(c) for c in rs["metadata"]["creationTimestamp"]]))
                operation = "up"
            elif to_add < 0:
                all_rss.sort(key=lambda rs: (-_replicas(rs), rs["metadata"]["creationTimestamp"]))
                operation = "down"
            else:
                operation = ""
            added = 0
            sizes = {}
            for rs in all_rss:
                if to_add != 0:
                    p = get_proportion(rs, d, to_add, added)
                    sizes[rs["metadata"]["name"]] = _replicas(rs) + p
                    added += p
                else:
                    sizes[rs["metadata"]["name"]] = _replicas(rs)
            if to_add != 0 and all_rss:
                first = all_rss[0]["metadata"]["name"]
                sizes[first] = max(0, sizes[first] + to_add - added)
            for rs in all_rss:
                self.scale_replica_set(rs, sizes[rs["metadata"]["name"]], d, operation)

    def rollout_rolling(self, d: dict, rss: list) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, True)
        all_rss = old_rss + [new_rs]
        if self.reconcile_new_replica_set(all_rss, new_rs, d):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if self.reconcile_old_replica_sets(all_rss, filter_active_replica_sets(old_rss), new_rs, d):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        self.sync_rollout_status(all_rss, new_rs, d)

    def reconcile_new_replica_set(self, all_rss: list, new_rs: dict, d: dict) -> bool:
        replicas = d["spec"].get("replicas", 1)
        if _replicas(new_rs) == replicas:
            return False
        if _replicas(new_rs) > replicas:
            self.scale_replica_set(new_rs, replicas, d, "down")
            return True
        count = new_rs_new_replicas(d, all_rss, new_rs)
        updated = self.scale_replica_set(new_rs, count, d, "up")
        return _replicas(updated) != _replicas(new_rs)

    def reconcile_old_replica_sets(self, all_rss: list, old_rss: list, new_rs: dict, d: dict) -> bool:
        old_pods = get_replica_count_for_replica_sets(old_rss)
        if old_pods == 0:
            return False
        all_pods = get_replica_count_for_replica_sets(all_rss)
        min_available = d["spec"].get("replicas", 1) - max_unavailable(d)
        new_unavailable = _replicas(new_rs) - new_rs.get("status", {}).get("availableReplicas", 0)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down)
        all_rss = old_rss + [new_rs]
        scaled = self.scale_down_old_replica_sets_for_rolling_update(all_rss, old_rss, d)
        return cleaned + scaled > 0

    def cleanup_unhealthy_replicas(self, old_rss: list, d: dict, max_cleanup: int):
        old_rss = sorted(old_rss, key=_creation_key)
        total = 0
        out = []
        for rs in old_rss:
            if total >= max_cleanup or _replicas(rs) == 0:
                out.append(rs)
                continue
            unhealthy = _replicas(rs) - rs.get("status", {}).get("availableReplicas", 0)
            if unhealthy == 0:
                out.append(rs)
                continue
            down = min(max_cleanup - total, unhealthy)
            out.append(self.scale_replica_set(rs, _replicas(rs) - down, d, "down"))
            total += down
        return out, total

    def scale_down_old_replica_sets_for_rolling_update(self, all_rss: list, old_rss: list, d: dict) -> int:
        min_available = d["spec"].get("replicas", 1) - max_unavailable(d)
        available = get_available_replica_count_for_replica_sets(all_rss)
        if available <= min_available:
            return 0
        total_down = available - min_available
        done = 0
        for rs in sorted(old_rss, key=_creation_key):
            if done >= total_down:
                break
            if _replicas(rs) == 0:
                continue
            down = min(_replicas(rs), total_down - done)
            self.scale_replica_set(rs, _replicas(rs) - down, d, "down")
            done += down
        return done

    def rollout_recreate(self, d: dict, rss: list) -> None:
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, False)
        all_rss = old_rss + ([new_rs] if new_rs else [])
        active_old = filter_active_replica_sets(old_rss)
        scaled = False
        for rs in active_old:
            self.scale_replica_set(rs, 0, d, "down")
            scaled = True
        if scaled:
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if self.old_pods_running(new_rs, old_rss):
            self.sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rss, True)
            all_rss = old_rss + [new_rs]
        if _replicas(new_rs) != d["spec"].get("replicas", 1):
            new_rs = self.scale_replica_set(new_rs, d["spec"].get("replicas", 1), d, "up")
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup_deployment(old_rss, d)
        self.sync_rollout_status(all_rss, new_rs, d)

    def old_pods_running(self, new_rs, old_rss) -> bool:
        if get_actual_replica_count_for_replica_sets(old_rss) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        if not old_uids:
            return False
        ns = old_rss[0]["metadata"]["namespace"]
        for p in self.pod_informer.list_namespace(ns):
            ref = get_controller_of(p)
            if ref and ref.get("uid") in old_uids and p.get("status", {}).get("phase") not in ("Succeeded",
                                                                                               "Failed"):
                return True
        return False

    def cleanup_deployment(self, old_rss: list, d: dict) -> None:
        """Delete old ReplicaSets beyond revisionHistoryLimit, oldest first."""
        limit = d["spec"].get("revisionHistoryLimit", 10)
        cleanable = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
        diff = len(cleanable) - limit
        if diff <= 0:
            return
        for rs in sorted(cleanable, key=lambda r: (revision(r), _creation_key(r)))[:diff]:
            if rs.get("status", {}).get("replicas", 0) != 0 or _replicas(rs) != 0 or \
                    rs["metadata"].get("generation", 1) > rs.get("status", {}).get("observedGeneration", 0):
                continue
            try:
                self.client.delete("replicasets", rs["metadata"]["name"], namespace=rs["metadata"]["namespace"])
            except errors.StatusError as e:
                if e.code != 404:
                    raise

    # -- status -----------------------------------------------------------------------------------------------------
    def calculate_status(self, all_rss: list, new_rs: dict | None, d: dict) -> dict:
        available = get_available_replica_count_for_replica_sets(all_rss)
        total = get_replica_count_for_replica_sets(all_rss)
        status = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": get_actual_replica_count_for_replica_sets(all_rss),
            "updatedReplicas": get_actual_replica_count_for_replica_sets([new_rs]) if new_rs else 0,
            "readyReplicas": get_ready_replica_count_for_replica_sets(all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
        }
        old = d.get("status") or {}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        status["conditions"] = deepcopy(old.get("conditions") or [])
        now = rfc3339(self.loop.now)
        if available >= d["spec"].get("replicas", 1) - max_unavailable(d):
            _set_condition(status, {"type": "Available", "status": "True", "lastUpdateTime": now,
                                    "lastTransitionTime": now, "reason": "MinimumReplicasAvailable",
                                    "message": "Deployment has minimum availability."})
        else:
            _set_condition(status, {"type": "Available", "status": "False", "lastUpdateTime": now,
                                    "lastTransitionTime": now, "reason": "MinimumReplicasUnavailable",
                                    "message": "Deployment does not have minimum availability."})
        return status

    def sync_deployment_status(self, d: dict, all_rss: list, new_rs: dict | None) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        self._write_status(d, status)

    def sync_rollout_status(self, all_rss: list, new_rs: dict | None, d: dict) -> None:
        """syncRolloutStatus: status plus the Progressing condition (progress.go)."""
        all_rss = [rs for rs in all_rss if rs is not None]
        status = self.calculate_status(all_rss, new_rs, d)
        now = rfc3339(self.loop.now)
        deadline = d["spec"].get("progressDeadlineSeconds")
        if deadline is not None and not d["spec"].get("paused"):
            cur = _condition(status, "Progressing")
            name = new_rs["metadata"]["name"] if new_rs else ""
            if deployment_complete(d, status):
                if not (cur and cur.get("reason") == "NewReplicaSetAvailable"):
                    _set_condition(status, {"type": "Progressing", "status": "True", "lastUpdateTime": now,
                                            "lastTransitionTime": now, "reason": "NewReplicaSetAvailable",
                                            "message": f'ReplicaSet "{name}" has successfully progressed.'})
            elif deployment_progressing(d, status):
                msg = f'ReplicaSet "{name}" is progressing.' if new_rs else "Deployment is progressing."
                reason = "ReplicaSetUpdated"
                if cur is not None and cur.get("reason") in ("NewReplicaSetCreated", "FoundNewReplicaSet") and \
                        cur["status"] == "True":
                    cur_copy = dict(cur)
                    cur_copy.update({"reason": reason, "message": msg, "lastUpdateTime": now})
                    status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"] + [cur_copy]
                else:
                    _set_condition(status, {"type": "Progressing", "status": "True", "lastUpdateTime": now,
                                            "lastTransitionTime": now, "reason": reason, "message": msg})
                    c = _condition(status, "Progressing")
                    c["lastUpdateTime"] = now
                    c["message"] = msg
                self._requeue_for_deadline(d, deadline)
            elif cur is not None and cur["status"] == "True" and cur.get("reason") != "NewReplicaSetAvailable" \
                    and parse_rfc3339(cur["lastUpdateTime"]) + deadline * 1000 <= self.loop.now:
                _set_condition(status, {"type": "Progressing", "status": "False", "lastUpdateTime": now,
                                        "lastTransitionTime": now, "reason": "ProgressDeadlineExceeded",
                                        "message": f'ReplicaSet "{name}" has timed out progressing.'})
            elif cur is None:
                msg = (f'Created new replica set "{name}"' if new_rs else "")
                _set_condition(status, {"type": "Progressing", "status": "True", "lastUpdateTime": now,
                                        "lastTransitionTime": now, "reason": "NewReplicaSetCreated",
                                        "message": msg})
                self._requeue_for_deadline(d, deadline)
            else:
                self._requeue_for_deadline(d, deadline)
        self._write_status(d, status)

    def _requeue_for_deadline(self, d: dict, deadline: int) -> None:
        self.queue.add_after(f"{d['metadata']['namespace']}/{d['metadata']['name']}", deadline * 1000 + 1000,
                             background=True)

    def _write_status(self, d: dict, status: dict) -> None:
        old = d.get("status") or {}
        if _strip_times(old) == _strip_times(status):
            return
        new = dict(d)  # only the status is replaced
        new["metadata"] = dict(d["metadata"])
        new["status"] = {k: v for k, v in status.items() if v or k in ("replicas",) or k == "conditions"}
        self.client.update_status("deployments", new)


def _strip_times(status: dict) -> dict:
    s = {k: v for k, v in status.items() if k != "conditions" and v}
    s["conditions"] = sorted((c["type"], c["status"], c.get("reason"), c.get("message"))
                             for c in status.get("conditions") or ())
    return s
