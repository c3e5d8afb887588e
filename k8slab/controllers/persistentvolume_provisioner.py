"""Mirrors: kubernetes-csi/external-provisioner (pkg/controller/controller.go Provision, Delete) and
sigs.k8s.io/sig-storage-lib-external-provisioner (controller/controller.go shouldProvision,
provisionClaimOperation, shouldDelete, deleteVolumeOperation).

The external-provisioner is a sidecar in a CSI driver's controller pod, not part of kube-controller-manager. It
watches claims whose ``volume.kubernetes.io/storage-provisioner`` annotation names its driver (the PV controller
writes it), calls the driver's ``CreateVolume`` and creates a PersistentVolume named ``pvc-<claim uid>``, already
pre-bound to the claim through ``spec.claimRef`` and annotated ``pv.kubernetes.io/provisioned-by``; the PV
controller then finishes the binding. For a ``WaitForFirstConsumer`` class it waits for the scheduler's
``volume.kubernetes.io/selected-node`` annotation and gives the volume node affinity to that node's topology.
When such a volume is Released with reclaim policy Delete, it calls ``DeleteVolume`` and deletes the PV.
"""

from __future__ import annotations

from ..api import errors
from ..api.quantity import format_quantity, parse_quantity
from ..client import RateLimitingQueue
from ..client.record import EventRecorder
from .persistentvolume import (ANN_BETA_STORAGE_PROVISIONER, ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE,
                               ANN_STORAGE_PROVISIONER, VOLUME_BINDING_WAIT, claim_ref,
                               get_persistent_volume_claim_class)

# the topology key each driver reports in NodeGetInfo (csi-driver-host-path: topology.hostpath.csi/node)
TOPOLOGY_KEYS = {"hostpath.csi.k8s.io": "topology.hostpath.csi/node"}
FSTYPE_PARAM = "csi.storage.k8s.io/fstype"


class CSIControllerService:
    """The controller half of a CSI driver: CreateVolume / DeleteVolume, recorded by name."""

    def __init__(self, name: str, rng) -> None:
        self.name = name
        self.rng = rng
        self.calls: list[tuple[str, dict]] = []
        self.volumes: dict[str, dict] = {}  # volume_id -> volume

    def create_volume(self, name: str, capacity_bytes: int, parameters: dict,
                      accessibility_requirements: dict | None) -> dict:
        self.calls.append(("CreateVolume", {"name": name, "capacity_range": {"required_bytes": capacity_bytes},
                                            "parameters": dict(parameters),
                                            "accessibility_requirements": accessibility_requirements}))
        for vol in self.volumes.values():  # CreateVolume is idempotent by name
            if vol["name"] == name:
                return vol
        vid = "%08x-%04x-%04x-%04x-%012x" % (self.rng.getrandbits(32), self.rng.getrandbits(16),
                                             0x4000 | self.rng.getrandbits(12), 0x8000 | self.rng.getrandbits(14),
                                             self.rng.getrandbits(48))
        topo = (accessibility_requirements or {}).get("preferred") or []
        vol = {"name": name, "volume_id": vid, "capacity_bytes": capacity_bytes,
               "accessible_topology": topo[:1]}
        self.volumes[vid] = vol
        return vol

    def delete_volume(self, volume_id: str) -> None:
        self.calls.append(("DeleteVolume", {"volume_id": volume_id}))
        self.volumes.pop(volume_id, None)


def rbac_manifests(namespace: str = "kube-system", sa: str = "csi-provisioner") -> list[dict]:
    """external-provisioner's deploy/kubernetes/rbac.yaml: the external-provisioner-runner ClusterRole."""
    def rule(verbs, resources, group=""):
        return {"apiGroups": [group], "resources": resources, "verbs": verbs}

    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "external-provisioner-runner"},
         "rules": [rule(["get", "list", "watch", "create", "patch", "delete"], ["persistentvolumes"]),
                   rule(["get", "list", "watch", "update"], ["persistentvolumeclaims"]),
                   rule(["get", "list", "watch"], ["storageclasses"], "storage.k8s.io"),
                   rule(["list", "watch", "create", "update", "patch"], ["events"]),
                   rule(["get", "list", "watch"], ["nodes"])]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "csi-provisioner-role"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "external-provisioner-runner"},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]},
    ]


class ExternalProvisioner:
    """One driver's external-provisioner: informers on claims, volumes and classes, one work queue."""

    def __init__(self, loop, client, factory, driver: str, rng) -> None:
        self.loop = loop
        self.client = client
        self.driver = driver
        self.component = f"csi-provisioner/{driver}"
        self.csi = CSIControllerService(driver, rng)
        self.identity = f"{loop.now}-{rng.getrandbits(13)}-{driver}"
        self.recorder = EventRecorder(client, f"{driver}_csi-provisioner")
        self.queue = RateLimitingQueue(loop, "csi-provisioner", self.component, self.process_next_work_item)
        self.claims = factory.informer("persistentvolumeclaims")
        self.volumes = factory.informer("persistentvolumes")
        self.classes = factory.informer("storageclasses")
        self.nodes = factory.informer("nodes")
        self.factory = factory
        self.claims.add_event_handler(self._claim, lambda o, n: self._claim(n), None)
        self.volumes.add_event_handler(self._volume, lambda o, n: self._volume(n), None)

    def start(self) -> None:
        self.factory.start()

    def _claim(self, claim: dict) -> None:
        self.queue.add(("claim", f"{claim['metadata'].get('namespace')}/{claim['metadata']['name']}"))

    def _volume(self, volume: dict) -> None:
        self.queue.add(("volume", volume["metadata"]["name"]))

    def process_next_work_item(self, key) -> None:
        kind, name = key
        self.loop.emit(self.component, "reconcile", f"{'persistentvolumeclaims' if kind == 'claim' else 'persistentvolumes'}/{name}",
                       {"controller": "csi-provisioner"})
        try:
            if kind == "claim":
                claim = self.claims.get(name)
                if claim is not None and self.should_provision(claim):
                    self.provision_claim_operation(claim)
            else:
                volume = self.volumes.get(name)
                if volume is not None and self.should_delete(volume):
                    self.delete_volume_operation(volume)
        except errors.StatusError as e:
            self.loop.emit(self.component, "reconcile.error", str(name), {"error": str(e)})
            self.queue.add_rate_limited(key)
            return
        self.queue.forget(key)

    # -- provisioning ------------------------------------------------------------------------------------------------
    def should_provision(self, claim: dict) -> bool:
        if (claim.get("spec") or {}).get("volumeName"):
            return False
        anns = claim["metadata"].get("annotations") or {}
        if (anns.get(ANN_STORAGE_PROVISIONER) or anns.get(ANN_BETA_STORAGE_PROVISIONER)) != self.driver:
            return False
        if f"pvc-{claim['metadata'].get('uid')}" in {v["metadata"]["name"] for v in self.volumes.list()}:
            return False
        sc = self.classes.get(get_persistent_volume_claim_class(claim))
        if sc is not None and sc.get("volumeBindingMode") == VOLUME_BINDING_WAIT:
            return ANN_SELECTED_NODE in anns
        return True

    def provision_claim_operation(self, claim: dict) -> None:
        md = claim["metadata"]
        key = f"{md.get('namespace')}/{md['name']}"
        class_name = get_persistent_volume_claim_class(claim)
        sc = self.classes.get(class_name)
        if sc is None:
            self.recorder.warning(claim, "ProvisioningFailed",
                                  f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        self.recorder.normal(claim, "Provisioning", f'External provisioner is provisioning volume for claim "{key}"')
        spec = claim.get("spec") or {}
        request = (spec.get("resources") or {}).get("requests", {}).get("storage", "0")
        capacity_bytes = int(parse_quantity(request))
        params = dict(sc.get("parameters") or {})
        topology_key = TOPOLOGY_KEYS.get(self.driver)
        selected = (md.get("annotations") or {}).get(ANN_SELECTED_NODE)
        requirements = None
        if topology_key and selected:
            seg = {topology_key: selected}
            requirements = {"requisite": [{"segments": seg}], "preferred": [{"segments": seg}]}
        name = f"pvc-{md.get('uid')}"
        vol = self.csi.create_volume(name, capacity_bytes, {k: v for k, v in params.items()
                                                            if not k.startswith("csi.storage.k8s.io/")},
                                     requirements)
        csi = {"driver": self.driver, "volumeHandle": vol["volume_id"],
               "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": self.identity}}
        if params.get(FSTYPE_PARAM):
            csi["fsType"] = params[FSTYPE_PARAM]
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": name, "annotations": {ANN_DYNAMICALLY_PROVISIONED: self.driver}},
              "spec": {"accessModes": list(spec.get("accessModes") or []),
                       "capacity": {"storage": format_quantity(vol["capacity_bytes"], "BinarySI")},
                       "claimRef": claim_ref(claim),
                       "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                       "storageClassName": class_name,
                       "volumeMode": spec.get("volumeMode") or "Filesystem",
                       "csi": csi}}
        if sc.get("mountOptions"):
            pv["spec"]["mountOptions"] = list(sc["mountOptions"])
        if vol["accessible_topology"]:
            seg = vol["accessible_topology"][0]["segments"]
            pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": k, "operator": "In", "values": [v]} for k, v in sorted(seg.items())]}]}}
        try:
            self.client.create("persistentvolumes", pv)
        except errors.StatusError as e:
            if e.reason != "AlreadyExists":
                raise
        self.recorder.normal(claim, "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    # -- deletion ----------------------------------------------------------------------------------------------------
    def should_delete(self, volume: dict) -> bool:
        return ((volume.get("status") or {}).get("phase") == "Released"
                and (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete"
                and (volume["metadata"].get("annotations") or {}).get(ANN_DYNAMICALLY_PROVISIONED) == self.driver
                and not volume["metadata"].get("deletionTimestamp"))

    def delete_volume_operation(self, volume: dict) -> None:
        self.csi.delete_volume(((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle", ""))
        try:
            self.client.delete("persistentvolumes", volume["metadata"]["name"])
        except errors.StatusError as e:
            if not errors.is_not_found(e):
                raise
        self.loop.emit(self.component, "pv.deleted", f"persistentvolumes/{volume['metadata']['name']}",
                       {"volumeHandle": ((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle")})
