"""Static pods from the manifest directory, their mirror pods, and an API server outage."""

from test_kubelet_pods import Mini

ETCD = """
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  labels: {component: etcd, tier: control-plane}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.6.4-0
    command: [etcd, --data-dir=/var/lib/etcd]
"""


def mirror(m, name="etcd-node-1"):
    items = [p for p in m.admin.list("pods", "kube-system")["items"] if p["metadata"]["name"] == name]
    return items[0] if items else None


def test_static_pod_runs_and_gets_a_mirror_pod():
    m = Mini()
    m.kubelet.add_manifest("etcd.yaml", ETCD)
    m.loop.settle()
    assert m.kubelet.static_pods() == ["kube-system/etcd-node-1"]
    pod = mirror(m)
    md = pod["metadata"]
    assert md["annotations"]["kubernetes.io/config.mirror"] == md["annotations"]["kubernetes.io/config.hash"]
    assert md["annotations"]["kubernetes.io/config.source"] == "file"
    assert md["uid"] != md["annotations"]["kubernetes.io/config.hash"]  # the API gave the mirror its own UID
    assert md["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node-1",
                                      "uid": m.kubelet.node_uid, "controller": True}]
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "172.18.0.3"
    assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
    assert "serviceAccountName" not in pod["spec"]  # mirror pods get no ServiceAccount token


def test_deleting_the_mirror_pod_does_not_stop_the_static_pod():
    m = Mini()
    m.kubelet.add_manifest("etcd.yaml", ETCD)
    m.loop.settle()
    cid = mirror(m)["status"]["containerStatuses"][0]["containerID"]
    old_uid = mirror(m)["metadata"]["uid"]
    m.admin.delete("pods", "etcd-node-1", "kube-system")
    m.loop.settle()
    again = mirror(m)
    assert again is not None and again["metadata"]["uid"] != old_uid
    assert again["status"]["containerStatuses"][0]["containerID"] == cid  # the same container kept running


def test_static_pod_survives_an_api_server_outage():
    m = Mini()
    m.server.available = False
    since = m.loop.trace.last_seq
    m.kubelet.add_manifest("etcd.yaml", ETCD)
    m.loop.run_until(m.loop.now + 30_000)
    kinds = [e.kind for e in m.loop.trace.since(since)]
    assert "cri.StartContainer" in kinds  # it runs without the API server
    assert any(c.state == "CONTAINER_RUNNING" for c in m.runtime.containers.values())
    m.server.available = True
    m.loop.run_until(m.loop.now + 30_000)
    pod = mirror(m)
    assert pod is not None and pod["status"]["phase"] == "Running"


def test_removing_the_manifest_stops_the_pod_and_deletes_the_mirror():
    m = Mini()
    m.kubelet.add_manifest("etcd.yaml", ETCD)
    m.loop.settle()
    m.kubelet.remove_manifest("etcd.yaml")
    m.loop.settle()
    assert mirror(m) is None and m.kubelet.static_pods() == []
    assert not m.runtime.containers and not m.runtime.sandboxes


def test_changed_manifest_is_a_new_pod():
    m = Mini()
    m.kubelet.add_manifest("etcd.yaml", ETCD)
    m.loop.settle()
    h1 = mirror(m)["metadata"]["annotations"]["kubernetes.io/config.hash"]
    m.kubelet.add_manifest("etcd.yaml", ETCD.replace("--data-dir=/var/lib/etcd", "--data-dir=/data"))
    m.loop.run_until(m.loop.now + 60_000)
    pod = mirror(m)
    assert pod["metadata"]["annotations"]["kubernetes.io/config.hash"] != h1
    assert pod["spec"]["containers"][0]["command"][-1] == "--data-dir=/data"


def test_kubeadm_control_plane_as_static_pods():
    from k8slab import Cluster

    c = Cluster(nodes=1, static_control_plane=True)
    pods = {p["metadata"]["name"]: p for p in c.admin.list("pods", "kube-system")["items"]
            if (p["metadata"].get("labels") or {}).get("tier") == "control-plane"}
    assert sorted(pods) == ["etcd-control-plane", "kube-apiserver-control-plane",
                            "kube-controller-manager-control-plane", "kube-scheduler-control-plane"]
    for p in pods.values():
        assert p["status"]["phase"] == "Running" and p["spec"]["nodeName"] == "control-plane"
        assert p["metadata"]["ownerReferences"][0]["kind"] == "Node"
        assert p["status"]["podIP"] == c.node("control-plane").ip  # hostNetwork
    api = pods["kube-apiserver-control-plane"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez" and api["resources"]["requests"]["cpu"] == "250m"
    # the control-plane kubelet keeps them running while the API server is away
    c.apiserver.available = False
    c.run(seconds=60)
    rt = c.node("control-plane").runtime
    assert sum(1 for x in rt.containers.values() if x.state == "CONTAINER_RUNNING") >= 4
    c.apiserver.available = True
