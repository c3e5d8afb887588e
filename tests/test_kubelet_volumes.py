"""Volumes the kubelet mounts before the sandbox: host directories, the atomic writer, CSI, and missing sources."""

from types import SimpleNamespace

from test_kubelet_pods import Mini

from k8slab.client import SharedInformerFactory
from k8slab.controllers.persistentvolume import PersistentVolumeController


def cm(m, name, data):
    m.admin.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": name, "namespace": "default"}, "data": data})


def test_volume_directories_on_the_host():
    m = Mini()
    cm(m, "app-config", {"app.properties": "mode=prod\n"})
    m.admin.create("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds",
                                                                                 "namespace": "default"},
                               "data": {"password": "aHVudGVyMg=="}})
    m.pod("web", [{"name": "app", "image": "nginx:1.27",
                   "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                                    {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
                                    {"name": "scratch", "mountPath": "/tmp/scratch"},
                                    {"name": "logs", "mountPath": "/host/logs"}]}],
          volumes=[{"name": "config", "configMap": {"name": "app-config"}},
                   {"name": "creds", "secret": {"secretName": "creds"}},
                   {"name": "scratch", "emptyDir": {}},
                   {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}])
    m.loop.settle()
    pod = m.get("web")
    assert pod["status"]["phase"] == "Running"
    uid = pod["metadata"]["uid"]
    base = f"/var/lib/kubelet/pods/{uid}/volumes"
    files = m.kubelet.volumes.host_files
    cfg = f"{base}/kubernetes.io~configmap/config"
    assert files[f"{cfg}/app.properties"] == "-> ..data/app.properties"
    target = files[f"{cfg}/..data"][3:]
    assert target.startswith("..2026_01_01_") and files[f"{cfg}/{target}/app.properties"] == "mode=prod\n"
    sec = f"{base}/kubernetes.io~secret/creds"
    assert files[f"{sec}/{files[sec + '/..data'][3:]}/password"] == "hunter2"
    assert f"{base}/kubernetes.io~empty-dir/scratch" in files
    sa = sorted(p for p in files if "/kubernetes.io~projected/kube-api-access-" in p and p.endswith("/namespace"))
    assert len(sa) == 2 and files[sa[1]] == "-> ..data/namespace" and files[sa[0]] == "default"
    assert any(e.data["expirationSeconds"] == 3607 for e in m.loop.trace.filter(kind="token.request"))
    # the mounts the runtime got point at those directories
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    mounts = {mt["destination"]: mt for mt in m.runtime.oci_spec(cid)["mounts"]}
    assert mounts["/etc/app"]["source"] == cfg and mounts["/etc/creds"]["options"][-1] == "ro"
    assert mounts["/host/logs"]["source"] == "/var/log"
    # volumes are mounted before the sandbox exists
    kinds = [e.kind for e in m.loop.trace.since(0) if e.kind in ("volume.mounted", "cri.RunPodSandbox")]
    assert kinds.index("cri.RunPodSandbox") > kinds.index("volume.mounted")
    m.admin.delete("pods", "web", "default")
    m.loop.settle()
    assert m.kubelet.volumes.tree(uid) == []


def test_missing_configmap_volume_is_failed_mount_until_it_exists():
    m = Mini()
    m.pod("web", [{"name": "app", "image": "nginx:1.27", "volumeMounts": [{"name": "config", "mountPath": "/c"}]}],
          volumes=[{"name": "config", "configMap": {"name": "app-config"}}])
    m.loop.run_until(m.loop.now + 130_000)
    pod = m.get("web")
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    ev = m.events("web")
    assert ("FailedMount", 'MountVolume.SetUp failed for volume "config" : configmap "app-config" not found') in ev
    assert any(r == "FailedMount" and msg.startswith("Unable to attach or mount volumes: unmounted volumes=[config]")
               for r, msg in ev)
    assert not m.runtime.sandboxes  # no sandbox while a volume is missing
    cm(m, "app-config", {"k": "v"})
    m.loop.run_until(m.loop.now + 130_000)
    assert m.get("web")["status"]["phase"] == "Running"


def test_mount_retries_back_off_exponentially():
    m = Mini()
    m.pod("web", [{"name": "app", "image": "nginx:1.27"}], volumes=[{"name": "s", "secret": {"secretName": "nope"}}])
    m.loop.run_until(m.loop.now + 20_000)
    b = m.kubelet.volumes.retry[(m.get("web")["metadata"]["uid"], "s")][0]
    assert b == 16_000  # 0.5, 1, 2, 4, 8, 16 s
    assert ("FailedMount", 'MountVolume.SetUp failed for volume "s" : secret "nope" not found') in m.events("web")


def test_missing_configmap_env_is_create_container_config_error():
    m = Mini()
    m.pod("web", [{"name": "app", "image": "nginx:1.27",
                   "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]}])
    m.loop.run_until(m.loop.now + 15_000)
    w = m.get("web")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert (w["reason"], w["message"]) == ("CreateContainerConfigError", 'configmap "settings" not found')
    assert ("Failed", 'Error: configmap "settings" not found') in m.events("web")
    cm(m, "settings", {"other": "x"})
    m.loop.run_until(m.loop.now + 20_000)
    w = m.get("web")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert w["message"] == "couldn't find key mode in ConfigMap default/settings"
    m.admin.patch("configmaps", "settings", {"data": {"mode": "prod"}}, "default")
    m.loop.run_until(m.loop.now + 20_000)
    pod = m.get("web")
    assert pod["status"]["phase"] == "Running"
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    assert "MODE=prod" in m.runtime.oci_spec(cid)["process"]["env"]


def test_pvc_through_csi_stage_and_publish():
    m = Mini()
    m.admin.create("persistentvolumes", {"apiVersion": "v1", "kind": "PersistentVolume",
                                         "metadata": {"name": "pv-data"},
                                         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                                  "csi": {"driver": "hostpath.csi.k8s.io", "volumeHandle": "vol-1"},
                                                  "claimRef": {"namespace": "default", "name": "data"}}})
    m.admin.create("persistentvolumeclaims", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                              "metadata": {"name": "data", "namespace": "default"},
                                              "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-data",
                                                       "resources": {"requests": {"storage": "1Gi"}}}})
    pvc = m.admin.get("persistentvolumeclaims", "data", "default")
    m.pod("early", [{"name": "db", "image": "nginx:1.27"}],
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    m.loop.run_until(m.loop.now + 5_000)
    assert ("FailedMount", 'MountVolume.SetUp failed for volume "data" : PVC default/data is not bound') \
        in m.events("early")
    assert pvc["status"]["phase"] == "Pending"
    # kube-controller-manager's persistentvolume-binder completes the pre-binding
    mgr = SimpleNamespace(loop=m.loop, events=True, factory=SharedInformerFactory(m.admin))
    PersistentVolumeController(mgr, m.admin)
    mgr.factory.start()
    m.loop.settle()
    pvc = m.admin.get("persistentvolumeclaims", "data", "default")
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    m.admin.delete("pods", "early", "default")
    m.pod("db", [{"name": "db", "image": "nginx:1.27", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
          volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    m.loop.settle()
    uid = m.get("db")["metadata"]["uid"]
    drv = m.kubelet.volumes.csi_drivers["hostpath.csi.k8s.io"]
    assert [c for c, _ in drv.calls] == ["NodeStageVolume", "NodePublishVolume"]
    stage, publish = drv.calls[0][1], drv.calls[1][1]
    assert stage["staging_target_path"].startswith("/var/lib/kubelet/plugins/kubernetes.io/csi/hostpath.csi.k8s.io/")
    assert publish["target_path"] == f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~csi/pv-data/mount"
    assert publish["staging_target_path"] == stage["staging_target_path"]
    assert m.get("db")["status"]["phase"] == "Running"
    m.admin.delete("pods", "db", "default")
    m.loop.settle()
    assert drv.calls[-1][0] == "NodeUnpublishVolume"


def test_projected_token_is_a_bound_token_refreshed_at_80_percent_of_its_life():
    from k8slab.apiserver.tokenrequest import decode_jwt

    m = Mini()
    m.pod("web", [{"name": "app", "image": "nginx:1.27"}])
    m.loop.settle()
    pod = m.get("web")
    uid = pod["metadata"]["uid"]
    files = m.kubelet.volumes.host_files
    vol = next(v["name"] for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    base = f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~projected/{vol}"

    def token():
        return files[f"{base}/{files[base + '/..data'][3:]}/token"]

    first = token()
    _, claims = decode_jwt(first)
    assert claims["exp"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": uid}
    assert claims["kubernetes.io"]["node"]["name"] == "node-1"
    assert claims["sub"] == "system:serviceaccount:default:default"
    # the API server accepts it as the ServiceAccount
    assert m.server.authenticator.verify_token(first).name == "system:serviceaccount:default:default"
    req = [e for e in m.loop.trace.filter(kind="token.request") if e.ref == "pods/default/web"]
    assert len(req) == 1
    refresh_at = req[0].data["refreshAt"]
    issued = req[0].time
    # 80 % of 3607 s (20 % is 721 s, integer seconds as upstream), less 0-10 s of jitter
    assert issued + (3607 - 721 - 10) * 1000 < refresh_at <= issued + (3607 - 721) * 1000 + 1
    m.loop.run_until(refresh_at - 1)
    assert token() == first
    m.loop.run_until(refresh_at + 1000)
    second = token()
    assert second != first and decode_jwt(second)[1]["iat"] > claims["iat"]
    # the old timestamped directory is gone: one token file under the volume
    assert len([p for p in files if p.startswith(base) and p.endswith("/token") and "/.." in p]) == 1
    m.admin.delete("pods", "web", "default")
    m.loop.settle()
    assert m.kubelet.volumes.tokens.cache == {} and m.kubelet.volumes.tokens.refresh_timers == {}
