"""Mirrors: pkg/controller/volume/persistentvolume/pv_controller.go (syncClaim, syncUnboundClaim, syncBoundClaim,
syncVolume, bind, reclaimVolume, provisionClaim), pv_controller_base.go, index.go (findBestMatchForClaim,
allPossibleMatchingAccessModes) and staging/src/k8s.io/component-helpers/storage/volume/pv_helpers.go
(FindMatchingVolume, IsVolumeBoundToClaim, CheckVolumeModeMismatches).

The "persistentvolume-binder" controller of kube-controller-manager joins PersistentVolumeClaims to
PersistentVolumes. For an unbound claim it looks for the *smallest* Available volume that satisfies it (capacity
at least the request, every requested access mode, the same storageClassName and volumeMode, the claim's label
selector), preferring volumes whose access modes add the fewest extras; a volume already pre-bound to the claim
(its claimRef names it) wins outright. Binding is two writes on each side: the volume gets ``spec.claimRef`` and
phase Bound, the claim gets ``spec.volumeName``, the ``pv.kubernetes.io/bind-completed`` annotation and phase
Bound with the volume's capacity and access modes. ``pv.kubernetes.io/bound-by-controller`` marks the side the
controller filled in (rather than the user).

When nothing matches and the claim names a StorageClass, the controller does not create storage itself: it writes
``volume.kubernetes.io/storage-provisioner`` on the claim and waits for the CSI driver's external-provisioner
(k8slab.controllers.persistentvolume_provisioner) to create a PV named ``pvc-<claim uid>`` already pre-bound to
the claim. A class with ``volumeBindingMode: WaitForFirstConsumer`` delays all of this until the scheduler has
picked a node for a pod using the claim (the ``volume.kubernetes.io/selected-node`` annotation).

When a bound claim is deleted, its volume becomes Released and its reclaim policy decides: Retain keeps it (an
administrator must clean it up), Delete removes it (for a dynamically provisioned volume, the external-provisioner
deletes the storage and the PV object).
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy, selector_matches
from ..api.quantity import parse_quantity
from ..client.record import EventRecorder
from .base import Controller

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
ANN_YES = "yes"

PV_CLAIM_BINDER_SYNC_PERIOD_MS = 15_000  # --pvclaimbinder-sync-period
VOLUME_BINDING_IMMEDIATE = "Immediate"
VOLUME_BINDING_WAIT = "WaitForFirstConsumer"


# -- pv_helpers.go ---------------------------------------------------------------------------------------------------
def get_persistent_volume_claim_class(claim: dict) -> str:
    """GetPersistentVolumeClaimClass: spec.storageClassName (the beta annotation first, as upstream)."""
    ann = (claim["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    if ann is not None:
        return ann
    return (claim.get("spec") or {}).get("storageClassName") or ""


def get_persistent_volume_class(volume: dict) -> str:
    ann = (volume["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    if ann is not None:
        return ann
    return (volume.get("spec") or {}).get("storageClassName") or ""


def is_volume_bound_to_claim(volume: dict, claim: dict) -> bool:
    """IsVolumeBoundToClaim: the volume's claimRef names this claim (and its UID, if the ref has one)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    md = claim["metadata"]
    if ref.get("name") != md["name"] or ref.get("namespace") != md.get("namespace"):
        return False
    return not ref.get("uid") or ref["uid"] == md.get("uid")


def check_volume_mode_mismatches(claim_spec: dict, volume_spec: dict) -> bool:
    """CheckVolumeModeMismatches: a nil volumeMode counts as Filesystem on both sides."""
    return (claim_spec.get("volumeMode") or "Filesystem") != (volume_spec.get("volumeMode") or "Filesystem")


def check_access_modes(claim: dict, volume: dict) -> bool:
    """CheckAccessModes: the volume offers every access mode the claim asks for."""
    have = set((volume.get("spec") or {}).get("accessModes") or ())
    return all(m in have for m in (claim.get("spec") or {}).get("accessModes") or ())


def _storage(obj_spec_field: dict | None) -> int | float:
    q = (obj_spec_field or {}).get("storage")
    return parse_quantity(q) if q is not None else 0


def check_node_affinity(volume: dict, node: dict) -> bool:
    """CheckNodeAffinity: the volume's required node selector terms (ORed) match the node; none means any."""
    from .daemonset import node_selector_term_matches

    terms = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")
    if terms is None:
        return True
    return any(node_selector_term_matches(t, node) for t in terms)


def find_matching_volume(claim: dict, volumes: list[dict], delay_binding: bool = False,
                         excluded_volumes: dict | None = None, node: dict | None = None) -> dict | None:
    """FindMatchingVolume: the volume pre-bound to the claim if it is big enough, else the smallest Available,
    unclaimed volume of the claim's class, volumeMode and selector whose capacity covers the request. In the PV
    controller's path (no ``node``) with ``delay_binding`` only pre-bound volumes are returned; in the
    scheduler's path the volume's node affinity must match ``node`` and its access modes the claim's."""
    spec = claim.get("spec") or {}
    requested = _storage((spec.get("resources") or {}).get("requests"))
    requested_class = get_persistent_volume_claim_class(claim)
    selector = spec.get("selector")
    smallest, smallest_qty = None, None
    for volume in volumes:
        if excluded_volumes and volume["metadata"]["name"] in excluded_volumes:
            continue
        vspec = volume.get("spec") or {}
        qty = _storage(vspec.get("capacity"))
        if check_volume_mode_mismatches(spec, vspec):
            continue
        if volume["metadata"].get("deletionTimestamp"):
            continue
        node_affinity_valid = node is None or check_node_affinity(volume, node)
        if is_volume_bound_to_claim(volume, claim):
            if qty < requested:
                continue
            return volume if node_affinity_valid else None
        if node is None and delay_binding:
            continue
        if (volume.get("status") or {}).get("phase") != "Available":
            continue
        if vspec.get("claimRef"):
            continue
        if selector is not None and not selector_matches(selector, volume["metadata"].get("labels") or {}):
            continue
        if get_persistent_volume_class(volume) != requested_class:
            continue
        if not node_affinity_valid:
            continue
        if node is not None and not check_access_modes(claim, volume):
            continue
        if qty >= requested and (smallest is None or smallest_qty > qty):
            smallest, smallest_qty = volume, qty
    return smallest


ACCESS_MODE_ORDER = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def find_best_match_for_claim(volumes: list[dict], claim: dict, delay_binding: bool = False) -> dict | None:
    """persistentVolumeOrderedIndex.findByClaim: volumes are indexed by their access-mode set; every set that
    contains the claim's modes is tried, fewest modes first, and the first set with a match wins."""
    want = set((claim.get("spec") or {}).get("accessModes") or ())
    by_modes: dict[tuple, list[dict]] = {}
    for v in volumes:
        modes = tuple(sorted(set((v.get("spec") or {}).get("accessModes") or ()), key=_mode_rank))
        by_modes.setdefault(modes, []).append(v)
    possible = sorted((m for m in by_modes if want <= set(m)), key=lambda m: (len(m), [_mode_rank(x) for x in m]))
    for modes in possible:
        best = find_matching_volume(claim, sorted(by_modes[modes], key=lambda v: v["metadata"]["name"]),
                                    delay_binding)
        if best is not None:
            return best
    return None


def _mode_rank(mode: str) -> int:
    return ACCESS_MODE_ORDER.index(mode) if mode in ACCESS_MODE_ORDER else len(ACCESS_MODE_ORDER)


def claim_to_claim_key(claim: dict) -> str:
    return f"{claim['metadata'].get('namespace')}/{claim['metadata']['name']}"


def claim_ref(claim: dict) -> dict:
    """GetReference(claim): the ObjectReference stored in the volume's spec.claimRef."""
    md = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace"), "name": md["name"],
            "uid": md.get("uid"), "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}


class PersistentVolumeController(Controller):
    """The persistentvolume-binder: a claim queue and a volume queue (one work queue here, keyed by kind)."""

    NAME = "persistentvolume-binder"
    RESOURCE = "persistentvolumeclaims"

    def __init__(self, manager, client) -> None:
        super().__init__(manager, client)
        self.recorder = EventRecorder(client, "persistentvolume-controller", enabled=manager.events)
        self.claims = manager.factory.informer("persistentvolumeclaims")
        self.volumes = manager.factory.informer("persistentvolumes")
        self.classes = manager.factory.informer("storageclasses")
        self.claims.add_event_handler(self._claim, lambda o, n: self._claim(n), self._claim_deleted)
        self.volumes.add_event_handler(self._volume, lambda o, n: self._volume(n), None)
        self.resync_armed = False

    def _arm_resync(self) -> None:
        """resync: every sync period every claim and volume is queued again, which is how a claim that found no
        match (the volumes were not Available yet) gets another look. Armed when the first claim or volume
        appears, so a cluster without storage has no timer."""
        if not self.resync_armed:
            self.resync_armed = True
            self.loop.call_later(PV_CLAIM_BINDER_SYNC_PERIOD_MS, self.resync, component=self.component,
                                 label="persistentvolume-binder resync", background=True)

    def resync(self) -> None:
        for claim in self.claims.list():
            self._claim(claim)
        for volume in self.volumes.list():
            self._volume(volume)
        self.loop.call_later(PV_CLAIM_BINDER_SYNC_PERIOD_MS, self.resync, component=self.component,
                             label="persistentvolume-binder resync", background=True)

    # -- handlers: keys only ------------------------------------------------------------------------------------------
    def _claim(self, claim: dict) -> None:
        self._arm_resync()
        self.queue.add(("claim", "persistentvolumeclaims", claim_to_claim_key(claim)))

    def _claim_deleted(self, claim: dict) -> None:
        # deleteClaim: the volume it was bound to needs a sync (it becomes Released)
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(("volume", "persistentvolumes", name))

    def _volume(self, volume: dict) -> None:
        self._arm_resync()
        self.queue.add(("volume", "persistentvolumes", volume["metadata"]["name"]))

    def sync_handler(self, key) -> None:
        kind, _, name = key
        if kind == "claim":
            claim = self.claims.get(name)
            if claim is not None:
                self.sync_claim(deepcopy(claim))
        else:
            volume = self.volumes.get(name)
            if volume is not None:
                self.sync_volume(deepcopy(volume))

    # -- claims ------------------------------------------------------------------------------------------------------
    def sync_claim(self, claim: dict) -> None:
        if ANN_BIND_COMPLETED not in (claim["metadata"].get("annotations") or {}):
            self.sync_unbound_claim(claim)
        else:
            self.sync_bound_claim(claim)

    def _class(self, claim: dict) -> dict | None:
        name = get_persistent_volume_claim_class(claim)
        return self.classes.get(name) if name else None

    def is_delay_binding_mode(self, claim: dict) -> bool:
        sc = self._class(claim)
        return sc is not None and sc.get("volumeBindingMode") == VOLUME_BINDING_WAIT

    def sync_unbound_claim(self, claim: dict) -> None:
        spec = claim.get("spec") or {}
        if not spec.get("volumeName"):
            delay_binding = self.is_delay_binding_mode(claim)
            volume = find_best_match_for_claim(self.volumes.list(), claim, delay_binding)
            if volume is None:
                anns = claim["metadata"].get("annotations") or {}
                if delay_binding and ANN_SELECTED_NODE not in anns:
                    self.recorder.normal(claim, "WaitForFirstConsumer",
                                         "waiting for first consumer to be created before binding")
                elif get_persistent_volume_claim_class(claim):
                    self.provision_claim(claim)
                    return
                else:
                    self.recorder.normal(claim, "FailedBinding",
                                         "no persistent volumes available for this claim and no storage class is "
                                         "set")
                self.update_claim_status(claim, "Pending", None)
                return
            self.bind(deepcopy(volume), claim)
            return
        # the user asked for a particular volume
        volume = self.volumes.get(spec["volumeName"])
        if volume is None:
            self.update_claim_status(claim, "Pending", None)
            return
        volume = deepcopy(volume)
        if not (volume.get("spec") or {}).get("claimRef"):
            err = self.check_volume_satisfy_claim(volume, claim)
            if err:
                self.recorder.warning(claim, "VolumeMismatch", err)
                self.update_claim_status(claim, "Pending", None)
                return
            self.bind(volume, claim)
        elif is_volume_bound_to_claim(volume, claim):
            self.bind(volume, claim)
        else:
            # the volume is bound to another claim: this one waits
            self.update_claim_status(claim, "Pending", None)

    def check_volume_satisfy_claim(self, volume: dict, claim: dict) -> str:
        """checkVolumeSatisfyClaim: the message of the VolumeMismatch event, or ''."""
        spec, vspec = claim.get("spec") or {}, volume.get("spec") or {}
        requested = _storage((spec.get("resources") or {}).get("requests"))
        if _storage(vspec.get("capacity")) < requested:
            return "requested PV is too small"
        if get_persistent_volume_class(volume) != get_persistent_volume_claim_class(claim):
            return "storageClassName does not match"
        if check_volume_mode_mismatches(spec, vspec):
            return "incompatible volumeMode"
        if not check_access_modes(claim, volume):
            return "incompatible accessMode"
        return ""

    def sync_bound_claim(self, claim: dict) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if not name:
            self.update_claim_status_with_event(claim, "Lost", "Warning", "ClaimLost",
                                                "Bound claim has lost reference to PersistentVolume. "
                                                "Data on the volume is lost!")
            return
        volume = self.volumes.get(name)
        if volume is None:
            self.update_claim_status_with_event(claim, "Lost", "Warning", "ClaimLost",
                                                "Bound claim has lost its PersistentVolume. Data on the volume is "
                                                "lost!")
            return
        volume = deepcopy(volume)
        if not (volume.get("spec") or {}).get("claimRef") or is_volume_bound_to_claim(volume, claim):
            self.bind(volume, claim)
        else:
            self.update_claim_status_with_event(claim, "Lost", "Warning", "ClaimMisbound",
                                                "Two claims are bound to the same volume, this one is bound "
                                                "incorrectly")

    def provision_claim(self, claim: dict) -> None:
        """provisionClaim -> provisionClaimOperationExternal: a CSI driver provisions the volume; the controller
        names the provisioner on the claim and waits."""
        sc = self._class(claim)
        if sc is None:
            self.recorder.warning(claim, "ProvisioningFailed",
                                  f'storageclass.storage.k8s.io "{get_persistent_volume_claim_class(claim)}" '
                                  f"not found")
            self.update_claim_status(claim, "Pending", None)
            return
        provisioner = sc.get("provisioner", "")
        anns = claim["metadata"].setdefault("annotations", {})
        if anns.get(ANN_STORAGE_PROVISIONER) != provisioner or anns.get(ANN_BETA_STORAGE_PROVISIONER) != provisioner:
            anns[ANN_STORAGE_PROVISIONER] = provisioner
            anns[ANN_BETA_STORAGE_PROVISIONER] = provisioner
            claim = self.client.update("persistentvolumeclaims", claim)
        self.recorder.normal(claim, "ExternalProvisioning",
                             f"Waiting for a volume to be created either by the external provisioner "
                             f"'{provisioner}' or manually by the system administrator. If volume creation is "
                             f"delayed, please verify that the provisioner is running and correctly registered.")

    # -- binding -----------------------------------------------------------------------------------------------------
    def bind(self, volume: dict, claim: dict) -> None:
        """bind: volume.spec.claimRef, volume phase Bound, claim.spec.volumeName + annotations, claim phase
        Bound."""
        volume = self.bind_volume_to_claim(volume, claim)
        volume = self.update_volume_phase(volume, "Bound")
        claim = self.bind_claim_to_volume(claim, volume)
        self.update_claim_status(claim, "Bound", volume)
        self.loop.emit(self.component, "pv.bound", f"persistentvolumeclaims/{claim_to_claim_key(claim)}",
                       {"volume": volume["metadata"]["name"]})

    def bind_volume_to_claim(self, volume: dict, claim: dict) -> dict:
        dirty = False
        # the controller (not the user) chose this volume for the claim
        should_set_bound_by_controller = not is_volume_bound_to_claim(volume, claim)
        spec = volume.setdefault("spec", {})
        ref = spec.get("claimRef") or {}
        md = claim["metadata"]
        if (ref.get("name"), ref.get("namespace"), ref.get("uid")) != (md["name"], md.get("namespace"), md.get("uid")):
            spec["claimRef"] = claim_ref(claim)
            dirty = True
        anns = volume["metadata"].setdefault("annotations", {})
        if should_set_bound_by_controller and ANN_BOUND_BY_CONTROLLER not in anns:
            anns[ANN_BOUND_BY_CONTROLLER] = ANN_YES
            dirty = True
        if not dirty:
            return volume
        return self.client.update("persistentvolumes", volume)

    def bind_claim_to_volume(self, claim: dict, volume: dict) -> dict:
        dirty = False
        spec = claim.setdefault("spec", {})
        anns = claim["metadata"].setdefault("annotations", {})
        if spec.get("volumeName") != volume["metadata"]["name"]:
            spec["volumeName"] = volume["metadata"]["name"]
            anns[ANN_BOUND_BY_CONTROLLER] = ANN_YES
            dirty = True
        if anns.get(ANN_BIND_COMPLETED) != ANN_YES:
            anns[ANN_BIND_COMPLETED] = ANN_YES
            dirty = True
        if not dirty:
            return claim
        return self.client.update("persistentvolumeclaims", claim)

    def update_claim_status(self, claim: dict, phase: str, volume: dict | None) -> dict:
        status = claim.setdefault("status", {})
        want = dict(status)
        want["phase"] = phase
        if volume is None:
            want.pop("accessModes", None)
            want.pop("capacity", None)
        else:
            want["accessModes"] = list((volume.get("spec") or {}).get("accessModes") or [])
            want["capacity"] = dict((volume.get("spec") or {}).get("capacity") or {})
        if want == status:
            return claim
        claim["status"] = want
        return self.client.update_status("persistentvolumeclaims", claim)

    def update_claim_status_with_event(self, claim: dict, phase: str, type_: str, reason: str, msg: str) -> None:
        if (claim.get("status") or {}).get("phase") == phase:
            return
        claim = self.update_claim_status(claim, phase, None)
        self.recorder.event(claim, type_, reason, msg)

    def update_volume_phase(self, volume: dict, phase: str, message: str = "") -> dict:
        status = volume.setdefault("status", {})
        if status.get("phase") == phase and status.get("message", "") == message:
            return volume
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        return self.client.update_status("persistentvolumes", volume)

    # -- volumes -----------------------------------------------------------------------------------------------------
    def sync_volume(self, volume: dict) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref:
            self.update_volume_phase(volume, "Available")
            return
        if not ref.get("uid"):
            # pre-bound by the user to a claim that does not exist yet
            self.update_volume_phase(volume, "Available")
            return
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
            claim = None  # deleted and re-created under the same name
        if claim is None:
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = self.update_volume_phase(volume, "Released")
            self.reclaim_volume(volume)
            return
        if not (claim.get("spec") or {}).get("volumeName"):
            # binding in progress (or the user unbound the claim): the claim's sync fixes it
            self._claim(claim)
            return
        if claim["spec"]["volumeName"] == volume["metadata"]["name"]:
            self.update_volume_phase(volume, "Bound")
            return
        # the claim is bound to another volume
        anns = volume["metadata"].get("annotations") or {}
        if anns.get(ANN_DYNAMICALLY_PROVISIONED) and \
                volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = self.update_volume_phase(volume, "Released")
            self.reclaim_volume(volume)
        else:
            self.unbind_volume(volume)

    def unbind_volume(self, volume: dict) -> None:
        """unbindVolume: a volume the controller bound loses its claimRef; one the user pre-bound keeps the name
        and loses the UID."""
        anns = volume["metadata"].setdefault("annotations", {})
        if anns.pop(ANN_BOUND_BY_CONTROLLER, None) == ANN_YES:
            volume["spec"].pop("claimRef", None)
        else:
            volume["spec"]["claimRef"].pop("uid", None)
        volume = self.client.update("persistentvolumes", volume)
        self.update_volume_phase(volume, "Available")

    def reclaim_volume(self, volume: dict) -> None:
        """reclaimVolume: Retain does nothing; Delete deletes (through the external-provisioner for a volume it
        provisioned; a volume no plugin can delete goes Failed with VolumeFailedDelete)."""
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        name = volume["metadata"]["name"]
        if policy == "Retain":
            self.loop.emit(self.component, "pv.reclaim", f"persistentvolumes/{name}",
                           {"policy": "Retain", "action": "none"})
            return
        if policy != "Delete":
            return
        if (volume.get("status") or {}).get("phase") == "Failed":
            return
        provisioned_by = (volume["metadata"].get("annotations") or {}).get(ANN_DYNAMICALLY_PROVISIONED)
        if provisioned_by:
            # findDeletablePlugin: not an in-tree plugin, so an external deleter is requested; it does the work
            self.loop.emit(self.component, "pv.reclaim", f"persistentvolumes/{name}",
                           {"policy": "Delete", "action": f"external deleter {provisioned_by}"})
            return
        msg = f'error getting deleter volume plugin for volume "{name}": no deletable volume plugin matched'
        volume = self.update_volume_phase(volume, "Failed", msg)
        self.recorder.warning(volume, "VolumeFailedDelete", msg)


def volume_binding_pre_bind(client, pod: dict, node_name: str) -> list[str]:
    """The scheduler side of WaitForFirstConsumer (pkg/scheduler/framework/plugins/volumebinding, FindPodVolumes
    and PreBind -> BindPodVolumes): for each unbound claim of the pod whose class delays binding, an existing
    volume that fits the claim and the chosen node is pre-bound to it (``spec.claimRef``, which the PV controller
    then completes); otherwise the claim gets the ``volume.kubernetes.io/selected-node`` annotation, which lets
    the external-provisioner create a volume for that node. Returns the claims it handled. Upstream PreBind also
    waits until the claims are bound before the pod is bound; here the kubelet's mount retry covers that wait."""
    ns = pod["metadata"].get("namespace", "default")
    done = []
    node = None
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if not name:
            continue
        try:
            claim = client.get("persistentvolumeclaims", name, ns)
        except errors.StatusError:
            continue
        anns = claim["metadata"].get("annotations") or {}
        if (claim.get("spec") or {}).get("volumeName") or ANN_SELECTED_NODE in anns:
            continue
        class_name = get_persistent_volume_claim_class(claim)
        if not class_name:
            continue
        try:
            sc = client.get("storageclasses", class_name)
        except errors.StatusError:
            continue
        if sc.get("volumeBindingMode") != VOLUME_BINDING_WAIT:
            continue
        if node is None:
            node = client.get("nodes", node_name)
        volumes = client.list("persistentvolumes")["items"]
        match = find_matching_volume(claim, sorted(volumes, key=lambda v: v["metadata"]["name"]), True,
                                     node=node)
        if match is not None:
            # bindAPIUpdate: GetBindVolumeToClaim, then the PV controller finishes the binding
            match = deepcopy(match)
            match["spec"]["claimRef"] = claim_ref(claim)
            match["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = ANN_YES
            client.update("persistentvolumes", match)
            done.append(name)
            continue
        client.patch("persistentvolumeclaims", name, {"metadata": {"annotations": {ANN_SELECTED_NODE: node_name}}},
                     ns)
        done.append(name)
    return done
