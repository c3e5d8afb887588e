"""The CRI call sequence, the OCI config.json of a sample pod field by field, runc, and containerd vs CRI-O."""

import pytest

from k8slab import Cluster
from k8slab.kubelet.cm import milli_cpu_to_quota, milli_cpu_to_shares

from test_kubelet_pods import Mini

SAMPLE = [{"name": "app", "image": "nginx:1.27", "workingDir": "/srv",
           "env": [{"name": "MODE", "value": "prod"}],
           "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
           "securityContext": {"runAsUser": 101, "runAsGroup": 101, "allowPrivilegeEscalation": False,
                               "capabilities": {"drop": ["NET_RAW"], "add": ["NET_ADMIN"]}},
           "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}]


def sample(runtime="containerd"):
    m = Mini(runtime=runtime)
    m.pod("web", SAMPLE, volumes=[{"name": "cache", "emptyDir": {}}])
    m.loop.settle()
    pod = m.get("web")
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    return m, pod, cid


def test_cri_calls_that_start_a_pod_in_order():
    m, pod, cid = sample()
    calls = [rpc for _, rpc, ref, _ in m.runtime.cri_calls("web")]
    assert calls[:2] == ["RunPodSandbox", "PodSandboxStatus"]
    want = ["RunPodSandbox", "PodSandboxStatus", "PullImage", "CreateContainer", "StartContainer"]
    assert [c for c in calls if c in want] == want
    assert all(ref == "pods/default/web" for _, _, ref, _ in m.runtime.cri_calls("web"))


def test_oci_spec_of_a_sample_pod_field_by_field():
    m, pod, cid = sample()
    spec = m.runtime.oci_spec(cid)
    uid = pod["metadata"]["uid"]
    sb = pod_sandbox(m, uid)
    assert spec["ociVersion"] == "1.1.0"
    proc = spec["process"]
    assert proc["args"] == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]  # image entrypoint + cmd
    assert proc["cwd"] == "/srv"
    assert proc["user"] == {"uid": 101, "gid": 101, "additionalGids": [101]}
    assert proc["env"][0].startswith("PATH=") and "HOSTNAME=web" in proc["env"] and proc["env"][-1] == "MODE=prod"
    caps = proc["capabilities"]["effective"]
    assert "CAP_NET_RAW" not in caps and "CAP_NET_ADMIN" in caps and "CAP_CHOWN" in caps
    assert caps == proc["capabilities"]["bounding"] == proc["capabilities"]["permitted"]
    assert proc["noNewPrivileges"] is True
    # Burstable: 1000 - 1000 * 64Mi / 8Gi
    assert proc["oomScoreAdj"] == 1000 - 1000 * 64 * 2**20 // (8 * 2**30)
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert spec["hostname"] == "web"
    res = spec["linux"]["resources"]
    assert res["cpu"] == {"shares": milli_cpu_to_shares(250), "quota": milli_cpu_to_quota(500), "period": 100000}
    assert res["cpu"] == {"shares": 256, "quota": 50000, "period": 100000}
    assert res["memory"] == {"limit": 128 * 2**20}
    assert spec["linux"]["cgroupsPath"] == f"kubepods-burstable-pod{uid.replace('-', '_')}.slice:cri-containerd:{cid}"
    ns = {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}
    assert ns["network"] == sb.netns and ns["ipc"] == f"/proc/{sb.pause_pid}/ns/ipc"
    assert ns["uts"] == f"/proc/{sb.pause_pid}/ns/uts" and ns["pid"] is None and ns["mount"] is None
    mounts = {mt["destination"]: mt for mt in spec["mounts"]}
    assert mounts["/cache"]["source"] == f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/cache"
    assert mounts["/cache"]["options"] == ["rbind", "rprivate", "rw"]
    assert mounts["/etc/hosts"]["source"] == f"/var/lib/kubelet/pods/{uid}/etc-hosts"
    assert mounts["/var/run/secrets/kubernetes.io/serviceaccount"]["options"][-1] == "ro"
    assert mounts["/proc"]["type"] == "proc" and "/dev/termination-log" in mounts
    assert spec["annotations"]["io.kubernetes.cri.container-type"] == "container"
    assert spec["annotations"]["io.kubernetes.cri.sandbox-id"] == sb.id
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]


def pod_sandbox(m, uid):
    return next(sb for sb in m.runtime.sandboxes.values() if sb.uid == uid)


def test_pause_container_and_runc_state():
    m, pod, cid = sample()
    sb = pod_sandbox(m, pod["metadata"]["uid"])
    pause = m.runtime.oci_spec(sb.id)
    assert pause["process"]["args"] == ["/pause"] and pause["process"]["user"]["uid"] == 65535
    assert {"type": "network", "path": sb.netns} in pause["linux"]["namespaces"]
    state = m.runtime.runc.state(cid)
    assert state["status"] == "running" and state["bundle"] == \
        f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}"
    assert m.runtime.runc.state(sb.id)["pid"] == sb.pause_pid
    m.admin.delete("pods", "web", "default")
    m.loop.settle()
    assert cid not in m.runtime.runc.containers and sb.id not in m.runtime.runc.containers


def test_guaranteed_pod_cgroup_and_oom_score():
    m = Mini()
    m.pod("g", [{"name": "app", "image": "nginx:1.27",
                 "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}])
    m.loop.settle()
    pod = m.get("g")
    assert pod["status"]["qosClass"] == "Guaranteed"
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    spec = m.runtime.oci_spec(cid)
    assert spec["process"]["oomScoreAdj"] == -997
    assert spec["linux"]["resources"]["cpu"] == {"shares": 1024, "quota": 100000, "period": 100000}
    uid = pod["metadata"]["uid"].replace("-", "_")
    assert spec["linux"]["cgroupsPath"].startswith(f"kubepods-pod{uid}.slice:cri-containerd:")


def test_cri_o_differs_where_it_matters():
    m, pod, cid = sample("cri-o")
    assert m.runtime.socket == "unix:///var/run/crio/crio.sock"
    spec = m.runtime.oci_spec(cid)
    assert ":crio:" in spec["linux"]["cgroupsPath"]
    caps = spec["process"]["capabilities"]["effective"]
    assert "CAP_MKNOD" not in caps and "CAP_SYS_CHROOT" not in caps  # CRI-O's smaller default set
    assert spec["annotations"]["io.kubernetes.cri-o.ContainerType"] == "container"
    assert pod["status"]["containerStatuses"][0]["containerID"].startswith("cri-o://")
    assert m.admin.get("nodes", "node-1")["status"]["nodeInfo"]["containerRuntimeVersion"] == "cri-o://1.34.1"
    assert m.runtime.runc.state(cid)["bundle"] == f"/run/containers/storage/overlay-containers/{cid}/userdata"


def test_cluster_container_runtime_option():
    c = Cluster(nodes=1, container_runtime="cri-o")
    assert c.node("node-1").runtime.name == "cri-o"
    with pytest.raises(ValueError, match='unknown container runtime "docker"'):
        Cluster(nodes=1, container_runtime="docker")


def test_bad_image_name_err_image_pull_then_back_off_events():
    m = Mini()
    m.pod("bad", [{"name": "app", "image": "nginx:no-such-tag"}])
    m.loop.run_until(m.loop.now + 30_000)
    reasons = [r for r, _ in m.events("bad")]
    assert "Failed" in reasons and "BackOff" in reasons
    w = m.get("bad")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert w["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert [rpc for _, rpc, _, _ in m.runtime.cri_calls("bad")].count("PullImage") >= 2
