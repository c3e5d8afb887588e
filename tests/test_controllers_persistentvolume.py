"""The PV controller (persistentvolume-binder) and a CSI driver's external-provisioner, through the cluster."""

import json

from k8slab import Cluster
from k8slab.controllers.persistentvolume import find_best_match_for_claim, find_matching_volume


def pv(name, size, modes=("ReadWriteOnce",), cls="", phase="Available", labels=None, claim_ref=None, mode=None):
    obj = {"metadata": {"name": name, "labels": labels or {}},
           "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls},
           "status": {"phase": phase}}
    if claim_ref:
        obj["spec"]["claimRef"] = claim_ref
    if mode:
        obj["spec"]["volumeMode"] = mode
    return obj


def pvc(name, size, modes=("ReadWriteOnce",), cls="", selector=None, uid="uid-1", mode=None):
    obj = {"metadata": {"name": name, "namespace": "default", "uid": uid},
           "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}},
                    "storageClassName": cls}}
    if selector:
        obj["spec"]["selector"] = selector
    if mode:
        obj["spec"]["volumeMode"] = mode
    return obj


# -- FindMatchingVolume (pv_helpers_test.go / index_test.go cases) ---------------------------------------------------
def test_smallest_volume_that_fits_wins():
    vols = [pv("gce-pd-10", "10G"), pv("gce-pd-5", "5G"), pv("gce-pd-1", "1G"), pv("gce-pd-20", "20G")]
    assert find_matching_volume(pvc("c", "3G"), vols)["metadata"]["name"] == "gce-pd-5"
    assert find_matching_volume(pvc("c", "5G"), vols)["metadata"]["name"] == "gce-pd-5"
    assert find_matching_volume(pvc("c", "21G"), vols) is None


def test_filters_phase_claimref_selector_class_and_volume_mode():
    claim = pvc("c", "1G", cls="fast", selector={"matchLabels": {"tier": "db"}})
    vols = [pv("released", "1G", cls="fast", phase="Released", labels={"tier": "db"}),
            pv("taken", "1G", cls="fast", labels={"tier": "db"}, claim_ref={"namespace": "x", "name": "y"}),
            pv("other-label", "1G", cls="fast", labels={"tier": "web"}),
            pv("other-class", "1G", cls="slow", labels={"tier": "db"}),
            pv("block", "1G", cls="fast", labels={"tier": "db"}, mode="Block")]
    assert find_matching_volume(claim, vols) is None
    vols.append(pv("right", "2G", cls="fast", labels={"tier": "db"}))
    assert find_matching_volume(claim, vols)["metadata"]["name"] == "right"


def test_pre_bound_volume_wins_over_a_smaller_one_and_delay_binding_returns_only_it():
    claim = pvc("c", "1G")
    pre = pv("pre", "10G", claim_ref={"namespace": "default", "name": "c"})
    vols = [pv("small", "1G"), pre]
    assert find_matching_volume(claim, vols)["metadata"]["name"] == "pre"
    assert find_matching_volume(claim, [pv("small", "1G")], delay_binding=True) is None
    assert find_matching_volume(claim, vols, delay_binding=True)["metadata"]["name"] == "pre"
    # a claimRef with another claim's UID is not this claim's
    pre["spec"]["claimRef"]["uid"] = "uid-other"
    assert find_matching_volume(claim, vols)["metadata"]["name"] == "small"


def test_access_mode_sets_with_fewest_extra_modes_are_tried_first():
    vols = [pv("rwo-rox", "1G", modes=("ReadWriteOnce", "ReadOnlyMany")), pv("rwo-big", "5G"),
            pv("rwx", "1G", modes=("ReadWriteMany",))]
    assert find_best_match_for_claim(vols, pvc("c", "1G"))["metadata"]["name"] == "rwo-big"
    assert find_best_match_for_claim(vols, pvc("c", "1G", modes=("ReadOnlyMany",)))["metadata"]["name"] == "rwo-rox"
    assert find_best_match_for_claim(vols, pvc("c", "1G", modes=("ReadWriteMany", "ReadWriteOnce"))) is None


# -- the controller in a cluster -------------------------------------------------------------------------------------
STATIC = """
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-small}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], csi: {driver: hostpath.csi.k8s.io, volumeHandle: v1}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-big}
spec: {capacity: {storage: 5Gi}, accessModes: [ReadWriteOnce], persistentVolumeReclaimPolicy: Delete,
       csi: {driver: hostpath.csi.k8s.io, volumeHandle: v2}}
"""


def claim_yaml(name, size, cls='""'):
    return f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}}}
spec: {{accessModes: [ReadWriteOnce], storageClassName: {cls}, resources: {{requests: {{storage: {size}}}}}}}
"""


def pod_yaml(name, claim):
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers: [{{name: db, image: "nginx:1.27", volumeMounts: [{{name: data, mountPath: /data}}]}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: {claim}}}}}]
"""


def stored(c, name):
    """The PersistentVolume as etcd holds it (what the API server wrote, not a cached object)."""
    return json.loads(c.etcd.get(f"/registry/persistentvolumes/{name}").value)


def events(c, name):
    return [(e["reason"], e["message"]) for e in c.admin.list("events", "default")["items"]
            if e["involvedObject"].get("name") == name]


def test_static_binding_both_sides_then_pod_mounts_through_csi():
    c = Cluster(nodes=1, seed=0)
    c.apply(STATIC)
    c.settle()
    c.apply(claim_yaml("data", "500Mi"))
    c.apply(pod_yaml("db", "data"))
    c.settle()
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    vol = c.admin.get("persistentvolumes", "pv-small")
    assert claim["spec"]["volumeName"] == "pv-small"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    anns = claim["metadata"]["annotations"]
    assert anns["pv.kubernetes.io/bind-completed"] == "yes" and anns["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert vol["status"]["phase"] == "Bound"
    assert vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert stored(c, "pv-small")["spec"]["claimRef"] == vol["spec"]["claimRef"]
    assert vol["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert c.admin.get("persistentvolumes", "pv-big")["status"]["phase"] == "Available"
    pod = c.admin.get("pods", "db", "default")
    assert pod["status"]["phase"] == "Running"
    drv = c.node(pod["spec"]["nodeName"]).kubelet.volumes.csi_drivers["hostpath.csi.k8s.io"]
    assert [k for k, _ in drv.calls] == ["NodeStageVolume", "NodePublishVolume"]
    assert drv.calls[1][1]["target_path"].endswith("/volumes/kubernetes.io~csi/pv-small/mount")


def test_released_volume_retain_keeps_it_delete_without_deleter_fails():
    c = Cluster(nodes=1, seed=0)
    c.apply(STATIC)
    c.settle()
    c.apply(claim_yaml("a", "1Gi"))
    c.settle()
    c.apply(claim_yaml("b", "2Gi"))
    c.settle()
    assert c.admin.get("persistentvolumeclaims", "b", "default")["spec"]["volumeName"] == "pv-big"
    c.delete("pvc", "a")
    c.delete("pvc", "b")
    c.settle()
    small = c.admin.get("persistentvolumes", "pv-small")
    assert small["status"]["phase"] == "Released" and small["spec"]["claimRef"]["name"] == "a"
    big = c.admin.get("persistentvolumes", "pv-big")
    msg = 'error getting deleter volume plugin for volume "pv-big": no deletable volume plugin matched'
    assert big["status"] == {"phase": "Failed", "message": msg}
    assert ("VolumeFailedDelete", msg) in [(e["reason"], e["message"]) for e in c.admin.list("events", "default")["items"]]
    # a Released volume is not Available: a new claim waits
    c.apply(claim_yaml("c", "1Gi"))
    c.run(seconds=20)
    assert c.admin.get("persistentvolumeclaims", "c", "default")["status"]["phase"] == "Pending"
    assert ("FailedBinding", "no persistent volumes available for this claim and no storage class is set") \
        in events(c, "c")


def test_claim_made_with_its_volumes_binds_at_the_next_resync():
    c = Cluster(nodes=1, seed=0)
    c.apply(STATIC + "---" + claim_yaml("data", "1Gi"))
    c.settle()
    assert c.admin.get("persistentvolumeclaims", "data", "default")["status"]["phase"] == "Pending"
    c.run(seconds=15)
    assert c.admin.get("persistentvolumeclaims", "data", "default")["status"]["phase"] == "Bound"


SC = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: csi-hostpath}}
provisioner: hostpath.csi.k8s.io
volumeBindingMode: {mode}
"""


def test_storage_class_defaults():
    c = Cluster(nodes=1, seed=0)
    c.apply("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: x.csi.io\n")
    sc = c.admin.get("storageclasses", "s")
    assert sc["reclaimPolicy"] == "Delete" and sc["volumeBindingMode"] == "Immediate"


def test_dynamic_provisioning_immediate_then_delete():
    c = Cluster(nodes=1, seed=0)
    prov = c.install_csi_driver("hostpath.csi.k8s.io")
    c.apply(SC.format(mode="Immediate"))
    c.apply(claim_yaml("data", "2Gi", "csi-hostpath"))
    c.settle()
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    name = f"pvc-{claim['metadata']['uid']}"
    assert claim["spec"]["volumeName"] == name and claim["status"]["phase"] == "Bound"
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == "hostpath.csi.k8s.io"
    vol = c.admin.get("persistentvolumes", name)
    assert vol["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "hostpath.csi.k8s.io"
    assert "pv.kubernetes.io/bound-by-controller" not in vol["metadata"]["annotations"]
    assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert vol["spec"]["capacity"] == {"storage": "2Gi"} and vol["spec"]["storageClassName"] == "csi-hostpath"
    assert vol["spec"]["csi"]["driver"] == "hostpath.csi.k8s.io"
    assert prov.csi.calls[0] == ("CreateVolume", {"name": name, "capacity_range": {"required_bytes": 2 * 1024 ** 3},
                                                  "parameters": {}, "accessibility_requirements": None})
    reasons = [r for r, _ in events(c, "data")]
    assert reasons.index("ExternalProvisioning") < reasons.index("Provisioning") < reasons.index(
        "ProvisioningSucceeded")
    c.apply(pod_yaml("db", "data"))
    c.settle()
    assert c.admin.get("pods", "db", "default")["status"]["phase"] == "Running"
    c.delete("pod", "db")
    c.settle()
    c.delete("pvc", "data")
    c.settle()
    assert name not in [v["metadata"]["name"] for v in c.admin.list("persistentvolumes")["items"]]
    assert prov.csi.calls[-1] == ("DeleteVolume", {"volume_id": vol["spec"]["csi"]["volumeHandle"]})


def test_wait_for_first_consumer_provisions_on_the_scheduled_node():
    c = Cluster(nodes=2, seed=0)
    prov = c.install_csi_driver()
    c.apply(SC.format(mode="WaitForFirstConsumer"))
    c.apply(claim_yaml("data", "1Gi", "csi-hostpath"))
    c.settle()
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    assert claim["status"]["phase"] == "Pending" and prov.csi.calls == []
    assert ("WaitForFirstConsumer", "waiting for first consumer to be created before binding") in events(c, "data")
    c.apply(pod_yaml("db", "data"))
    c.settle()
    pod = c.admin.get("pods", "db", "default")
    node = pod["spec"]["nodeName"]
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert claim["status"]["phase"] == "Bound"
    vol = c.admin.get("persistentvolumes", claim["spec"]["volumeName"])
    assert vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "topology.hostpath.csi/node", "operator": "In", "values": [node]}]
    c.run(seconds=5)
    assert c.admin.get("pods", "db", "default")["status"]["phase"] == "Running"


def test_volume_pre_bound_by_the_user_gets_the_uid_but_no_bound_by_controller():
    c = Cluster(nodes=1, seed=0)
    c.apply("""
apiVersion: v1
kind: PersistentVolume
metadata: {name: mine}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], claimRef: {namespace: default, name: data},
       csi: {driver: hostpath.csi.k8s.io, volumeHandle: v9}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: smaller}
spec: {capacity: {storage: 500Mi}, accessModes: [ReadWriteOnce], csi: {driver: hostpath.csi.k8s.io, volumeHandle: v8}}
""")
    c.settle()
    assert c.admin.get("persistentvolumes", "mine")["status"]["phase"] == "Available"
    c.apply(claim_yaml("data", "100Mi"))
    c.settle()
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    vol = c.admin.get("persistentvolumes", "mine")
    assert claim["spec"]["volumeName"] == "mine"  # pre-bound wins over the smaller volume
    assert vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert "pv.kubernetes.io/bound-by-controller" not in (vol["metadata"].get("annotations") or {})
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"


def test_replay_reinstalls_the_csi_driver():
    c = Cluster(nodes=1, seed=0)
    c.install_csi_driver()
    c.apply(SC.format(mode="Immediate"))
    c.apply(claim_yaml("data", "1Gi", "csi-hostpath"))
    c.settle()
    r = c.replay()
    assert r.admin.get("persistentvolumeclaims", "data", "default")["spec"]["volumeName"] == \
        c.admin.get("persistentvolumeclaims", "data", "default")["spec"]["volumeName"]
    assert [(e.kind, e.ref) for e in r.trace] == [(e.kind, e.ref) for e in c.trace]


def test_wait_for_first_consumer_binds_a_local_volume_of_the_chosen_node():
    c = Cluster(nodes=1, seed=0)
    c.apply("""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-storage}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-elsewhere}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  csi: {driver: hostpath.csi.k8s.io, volumeHandle: l0}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
    {key: kubernetes.io/hostname, operator: In, values: [node-9]}]}]}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-node-1}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  csi: {driver: hostpath.csi.k8s.io, volumeHandle: l1}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
    {key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]}}
""")
    c.apply(claim_yaml("data", "1Gi", "local-storage"))
    c.settle()
    c.run(seconds=15)
    assert c.admin.get("persistentvolumeclaims", "data", "default")["status"]["phase"] == "Pending"
    c.apply(pod_yaml("db", "data"))
    c.settle()
    claim = c.admin.get("persistentvolumeclaims", "data", "default")
    assert claim["spec"]["volumeName"] == "local-node-1" and claim["status"]["phase"] == "Bound"
    assert stored(c, "local-node-1")["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert stored(c, "local-node-1")["status"]["phase"] == "Bound"
    assert "volume.kubernetes.io/selected-node" not in claim["metadata"]["annotations"]
    c.run(seconds=5)
    assert c.admin.get("pods", "db", "default")["status"]["phase"] == "Running"
