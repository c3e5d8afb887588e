"""The kubelet against a real API server: node registration, lease, and pods from bind to delete."""

from k8slab.apiserver.authn import Credentials
from k8slab.apiserver.server import APIServer
from k8slab.client import Client
from k8slab.cni import BridgePlugin
from k8slab.cri import Behavior, ContainerRuntime
from k8slab.etcd import MVCCStore
from k8slab.kubelet import Kubelet
from k8slab.sim import Loop, component_rng

NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
             "message:Network plugin returns error: cni plugin not initialized")


class Mini:
    """Loop + etcd + API server + one kubelet with its runtime and CNI, as a cluster would wire them."""

    def __init__(self, seed=0, pod_cidr="10.244.1.0/24", runtime="containerd", **kubelet_kw):
        self.loop = Loop()
        self.server = APIServer(self.loop, MVCCStore(), seed)
        self.server.bootstrap()
        self.admin = Client(self.server, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
        client = Client(self.server, "kubelet/node-1", Credentials.x509("system:node:node-1", "system:nodes"))
        self.cni = BridgePlugin("node-1", self.loop, rng=component_rng(seed, "cni/node-1"))
        self.runtime = ContainerRuntime(self.loop, "node-1", component_rng(seed, "containerd/node-1"), cni=self.cni,
                                        name=runtime)
        self.kubelet = Kubelet(self.loop, client, "node-1", self.runtime, self.cni,
                               component_rng(seed, "kubelet/node-1"), "172.18.0.3", **kubelet_kw)
        self.kubelet.start()
        self.loop.settle()
        self.admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": "default", "namespace": "default"}})
        # what the root-ca-cert-publisher controller does in every namespace
        self.admin.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
                                         "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}})
        if pod_cidr:
            self.set_pod_cidr(pod_cidr)

    def set_pod_cidr(self, cidr):
        # what the node IPAM controller does
        self.admin.patch("nodes", "node-1", {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        self.loop.settle()

    def pod(self, name, containers, **spec):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": "node-1", "containers": containers, **spec}}
        return self.admin.create("pods", body)

    def get(self, name):
        return self.admin.get("pods", name, "default")

    def events(self, name):
        return [(e["reason"], e["message"]) for e in self.admin.list("events", "default")["items"]
                if e["involvedObject"].get("name") == name and e["involvedObject"].get("kind") == "Pod"]

    def kinds(self, since, prefix=("cri.", "cni.")):
        return [ev.kind for ev in self.loop.trace.since(since) if ev.kind.startswith(prefix)]


def conds(pod):
    return {c["type"]: c for c in pod["status"].get("conditions") or []}


def test_node_registers_not_ready_until_pod_cidr():
    m = Mini(pod_cidr=None)
    node = m.admin.get("nodes", "node-1")
    md, status = node["metadata"], node["status"]
    assert md["labels"] == {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "node-1",
                            "kubernetes.io/os": "linux"}
    assert [c["type"] for c in status["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    ready = status["conditions"][3]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "KubeletNotReady", NOT_READY)
    assert status["conditions"][0]["reason"] == "KubeletHasSufficientMemory"
    assert status["addresses"] == [{"address": "172.18.0.3", "type": "InternalIP"},
                                   {"address": "node-1", "type": "Hostname"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.34.1" and info["containerRuntimeVersion"] == "containerd://1.7.24"
    assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
    assert status["allocatable"]["memory"] == "8092Mi" and status["capacity"]["memory"] == "8Gi"
    lease = m.admin.get("leases", "node-1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node-1" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    m.set_pod_cidr("10.244.1.0/24")
    ready = m.admin.get("nodes", "node-1")["status"]["conditions"][3]
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "KubeletReady",
                                                                    "kubelet is posting ready status")
    node_events = [e["reason"] for e in m.admin.list("events", "default")["items"]
                   if e["involvedObject"].get("kind") == "Node"]
    assert node_events == ["Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID",
                           "NodeAllocatableEnforced", "NodeReady"]


def test_lease_is_renewed_every_ten_seconds():
    m = Mini()
    first = m.admin.get("leases", "node-1", "kube-node-lease")["spec"]["renewTime"]
    m.loop.run_until(m.loop.now + 10_000)
    second = m.admin.get("leases", "node-1", "kube-node-lease")["spec"]["renewTime"]
    assert second != first and second.endswith("Z") and len(second) == len("2026-01-01T00:00:10.000000Z")


def test_control_plane_node_labels_and_taint():
    m = Mini(control_plane=True)
    node = m.admin.get("nodes", "node-1")
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert node["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]


def test_pod_runs_through_cri_in_order():
    m = Mini()
    since = m.loop.trace.last_seq
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}])
    m.loop.settle()
    assert m.kinds(since) == ["cri.RunPodSandbox", "cni.ADD", "cri.PodSandboxStatus", "cri.ImageStatus",
                              "cri.PullImage", "cri.CreateContainer", "cri.StartContainer"]
    pod = m.get("web")
    s = pod["status"]
    assert s["phase"] == "Running"
    assert s["podIP"] == "10.244.1.2" and s["podIPs"] == [{"ip": "10.244.1.2"}]
    assert s["hostIP"] == "172.18.0.3" and s["hostIPs"] == [{"ip": "172.18.0.3"}]
    assert s["startTime"] == "2026-01-01T00:00:00Z"
    c = conds(pod)
    assert list(c) == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"]
    assert all(x["status"] == "True" for x in c.values())
    cs = s["containerStatuses"][0]
    assert cs["name"] == "nginx" and cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["image"] == "docker.io/library/nginx:1.27"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    sid = next(iter(m.runtime.sandboxes))
    cid = next(iter(m.runtime.containers))
    assert cs["containerID"] == f"containerd://{cid}"
    assert "running" in cs["state"]
    assert m.runtime.sandboxes[sid].ip == "10.244.1.2"
    ev = m.events("web")
    assert [r for r, _ in ev] == ["Pulling", "Pulled", "Created", "Started"]
    assert ev[0][1] == 'Pulling image "nginx:1.27"'
    size = m.runtime.images[m.runtime.containers[cid].image_ref].size
    assert ev[1][1].startswith('Successfully pulled image "nginx:1.27" in ')
    assert ev[1][1].endswith(f" including waiting). Image size: {size} bytes.")
    assert ev[2:] == [("Created", "Created container: nginx"), ("Started", "Started container nginx")]
    # status went Pending (ContainerCreating) before Running
    first_status = next(e for e in m.loop.trace.filter(component="kubelet/node-1", kind="request")
                        if e.ref == "pods/default/web/status")
    assert first_status.time < m.loop.trace.filter(kind="cri.StartContainer")[0].time


def test_status_is_written_before_the_sandbox_and_after_the_start_not_during_the_pull():
    """The kubelet generates the status at the start of SyncPod; sandbox, pull, create and start happen inside
    it. So the API sees Pending without an IP while the image is pulled, then Running with the IP."""
    m = Mini()
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27"}])
    pull = None
    while pull is None:
        m.loop.step()
        pull = next(iter(m.loop.trace.filter(kind="cri.PullImage")), None)
    s = m.get("web")["status"]
    assert m.runtime.sandboxes and "podIP" not in s  # the sandbox has its IP, the API does not yet
    assert s["phase"] == "Pending" and conds(m.get("web"))["PodReadyToStartContainers"]["status"] == "False"
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    m.loop.settle()
    writes = [e for e in m.loop.trace.filter(component="kubelet/node-1", kind="request")
              if e.ref == "pods/default/web/status"]
    assert len(writes) == 2
    assert writes[0].time < pull.time < m.loop.trace.filter(kind="cri.StartContainer")[0].time < writes[1].time
    assert m.get("web")["status"]["podIP"] == "10.244.1.2"


def test_a_failed_pull_reports_the_pod_ip_with_the_error():
    m = Mini()
    m.pod("bad", [{"name": "app", "image": "nginxx"}])
    m.loop.run_until(m.loop.now + 5_000)
    s = m.get("bad")["status"]
    assert s["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    assert s["podIP"] == "10.244.1.2" and conds(m.get("bad"))["PodReadyToStartContainers"]["status"] == "True"


def test_second_pod_reuses_the_image_and_gets_the_next_ip():
    m = Mini()
    m.pod("a", [{"name": "nginx", "image": "nginx:1.27"}])
    m.loop.settle()
    since = m.loop.trace.last_seq
    m.pod("b", [{"name": "nginx", "image": "nginx:1.27"}])
    m.loop.settle()
    assert "cri.PullImage" not in m.kinds(since)
    assert m.get("b")["status"]["podIP"] == "10.244.1.3"
    assert ("Pulled", 'Container image "nginx:1.27" already present on machine') in m.events("b")


def sync_steps(m):
    """Count the kubelet's pod-worker steps per pod (the loop's steps labelled ``sync pod <ns/name>``)."""
    counts = {}
    orig = m.loop.step

    def step():
        t = orig()
        if t is not None and t.label.startswith("sync pod "):
            counts[t.label[len("sync pod "):]] = counts.get(t.label[len("sync pod "):], 0) + 1
        return t

    m.loop.step = step
    return counts


def pulling_order(m):
    """The pods in the order the kubelet asked for their image (its "Pulling" events, by resourceVersion)."""
    evs = [e for e in m.admin.list("events", "default")["items"] if e["reason"] == "Pulling"]
    return [e["involvedObject"]["name"] for e in sorted(evs, key=lambda e: int(e["metadata"]["resourceVersion"]))]


def test_image_pulls_are_serialized_in_request_order_without_polling():
    m = Mini()
    counts = sync_steps(m)
    for name in ("a", "b", "c", "d"):
        m.pod(name, [{"name": "web", "image": "redis:7.4"}])
    m.loop.settle()
    pulls = m.loop.trace.filter(kind="cri.PullImage")
    asked = [f"pods/default/{n}" for n in pulling_order(m)]  # EnsureImageExists queues the pull
    assert sorted(asked) == [f"pods/default/{n}" for n in "abcd"]
    assert [e.ref for e in pulls] == asked  # first come, first served
    # one pull at a time: each starts when the previous one is done
    pulled = {n: m.events(n)[1][1] for n in "abcd"}
    assert all(p.startswith('Successfully pulled image "redis:7.4" in ') for p in pulled.values())
    assert all(m.get(n)["status"]["phase"] == "Running" for n in "abcd")
    for prev, nxt in zip(pulls, pulls[1:]):
        done = next(e.time for e in m.loop.trace.filter(kind="cri.CreateContainer") if e.ref == prev.ref)
        assert nxt.time == done
    # a worker waiting for the puller is synced once, when its turn comes: admit, mount, sandbox, ensure image,
    # (start the pull), pull done + create, start; with its only container started, nothing is left to sync
    first = pulls[0].ref.rsplit("/", 1)[1]
    assert counts[f"default/{first}"] == 6
    assert all(counts[f"default/{n}"] == 7 for n in "abcd" if n != first)


def test_a_pod_deleted_while_its_pull_waits_does_not_hold_up_the_queue():
    m = Mini()
    for name in ("a", "b", "c"):
        m.pod(name, [{"name": "web", "image": "redis:7.4"}])
    m.loop.run_until(m.loop.now + 1000)  # one pulls, the two others wait
    asked = pulling_order(m)
    assert [e.ref for e in m.loop.trace.filter(kind="cri.PullImage")] == [f"pods/default/{asked[0]}"]
    m.admin.delete("pods", asked[1], "default")
    m.loop.settle()
    assert [e.ref for e in m.loop.trace.filter(kind="cri.PullImage")] == [f"pods/default/{asked[0]}",
                                                                          f"pods/default/{asked[2]}"]
    assert m.get(asked[2])["status"]["phase"] == "Running"
    assert sorted(p["metadata"]["name"] for p in m.admin.list("pods", "default")["items"]) == sorted(
        (asked[0], asked[2]))


def test_restarted_kubelet_syncs_the_pods_it_was_starting():
    m = Mini()
    for name in ("a", "b", "c"):
        m.pod(name, [{"name": "web", "image": "redis:7.4"}])
    m.loop.run_until(m.loop.now + 1500)  # one pull in progress, two waiting
    assert all(m.get(n)["status"].get("phase") == "Pending" for n in "abc")
    m.kubelet.stop()
    m.loop.run_until(m.loop.now + 5000)
    m.kubelet.start()  # the new informer lists the pods: each worker is synced again and picks up where it was
    m.loop.settle()
    assert all(m.get(n)["status"]["phase"] == "Running" for n in "abc")
    assert len(m.loop.trace.filter(kind="cri.StartContainer")) == 3


def test_delete_stops_containers_frees_ip_and_removes_pod():
    m = Mini()
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27"}])
    m.loop.settle()
    assert m.cni.pod_ips() == {"10.244.1.2": next(iter(m.runtime.sandboxes))}
    since = m.loop.trace.last_seq
    m.admin.delete("pods", "web", "default")
    assert m.get("web")["metadata"]["deletionTimestamp"]  # graceful: the kubelet finishes the job
    m.loop.settle()
    assert m.admin.list("pods", "default")["items"] == []
    assert m.kinds(since) == ["cri.StopContainer", "cri.StopPodSandbox", "cni.DEL", "cri.RemoveContainer",
                              "cri.RemovePodSandbox"]
    assert m.runtime.sandboxes == {} and m.runtime.containers == {} and m.cni.pod_ips() == {}
    assert ("Killing", "Stopping container nginx") in m.events("web")
    deletes = [e for e in m.loop.trace.filter(component="kubelet/node-1", kind="request")
               if e.data["verb"] == "delete"]
    assert len(deletes) == 1 and m.kubelet.workers == {}


def test_pod_force_deleted_from_api_is_cleaned_up():
    m = Mini()
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27"}])
    m.loop.settle()
    m.admin.delete("pods", "web", "default", grace_period_seconds=0)
    m.loop.settle()
    assert m.runtime.sandboxes == {} and m.cni.pod_ips() == {} and m.kubelet.workers == {}


def test_init_containers_run_to_completion_first():
    m = Mini()
    m.pod("app", [{"name": "web", "image": "nginx:1.27"}],
          initContainers=[{"name": "wait", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 2"]}])
    m.loop.run_until(m.loop.now + 1500)
    pod = m.get("app")
    assert pod["status"]["phase"] == "Pending"
    assert conds(pod)["Initialized"]["message"] == "containers with incomplete status: [wait]"
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    m.loop.settle()
    pod = m.get("app")
    assert pod["status"]["phase"] == "Running"
    init = pod["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
    starts = [e.data["name"] for e in m.loop.trace.filter(kind="cri.StartContainer")]
    assert starts == ["wait", "web"]


def test_job_like_pod_succeeds_and_releases_its_ip():
    m = Mini()
    m.pod("job", [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3"]}],
          restartPolicy="Never")
    m.loop.settle()
    pod = m.get("job")
    assert pod["status"]["phase"] == "Succeeded"
    assert conds(pod)["Ready"]["reason"] == "PodCompleted"
    assert m.cni.pod_ips() == {}  # the sandbox of a finished pod is stopped


def test_bad_image_gives_err_image_pull_then_back_off():
    m = Mini()
    m.pod("bad", [{"name": "app", "image": "nginxx"}])
    m.loop.run_until(m.loop.now + 5_000)
    st = m.get("bad")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert st["reason"] == "ErrImagePull"
    assert st["message"].startswith('failed to pull and unpack image "docker.io/library/nginxx:latest"')
    m.loop.run_until(m.loop.now + 60_000)
    reasons = [r for r, _ in m.events("bad")]
    assert "BackOff" in reasons and ("Failed", "Error: ErrImagePull") in m.events("bad")
    # the event carries the gRPC error as the kubelet's CRI client prints it
    assert any(msg.startswith('Failed to pull image "nginxx": rpc error: code = Unknown desc = failed to pull and '
                              'unpack image "docker.io/library/nginxx:latest"') for _, msg in m.events("bad"))
    assert m.get("bad")["status"]["phase"] == "Pending"


def test_admission_rejects_pod_that_does_not_fit():
    m = Mini()
    m.pod("big", [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "3"}}}])
    m.loop.settle()
    s = m.get("big")["status"]
    assert (s["phase"], s["reason"]) == ("Failed", "OutOfcpu")
    assert s["message"] == "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 0, " \
                           "capacity: 2000"
    assert m.runtime.sandboxes == {}


def test_readiness_probe_initial_delay():
    m = Mini()
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27",
                   "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 5}}])
    started = None
    while m.loop.pending:
        m.loop.step()
        if started is None and m.loop.trace.filter(kind="cri.StartContainer"):
            started = m.loop.trace.filter(kind="cri.StartContainer")[0].time
            assert not m.get("web")["status"]["containerStatuses"][0]["ready"]
    probe = m.loop.trace.filter(kind="probe")[0]
    assert probe.time - started >= 5_000 and probe.data["result"] == "success"
    pod = m.get("web")
    assert conds(pod)["Ready"]["status"] == "True"
    assert pod["status"]["containerStatuses"][0]["ready"]


def test_failing_readiness_probe_keeps_pod_unready():
    m = Mini()
    m.runtime.set_behavior("web", "nginx", Behavior(probe=lambda kind, now: False))
    m.pod("web", [{"name": "nginx", "image": "nginx:1.27", "readinessProbe": {"tcpSocket": {"port": 80}}}])
    m.loop.run_until(m.loop.now + 60_000)
    pod = m.get("web")
    assert pod["status"]["phase"] == "Running"
    assert conds(pod)["Ready"]["message"] == "containers with unready status: [nginx]"
    assert ("Unhealthy", "Readiness probe failed: dial tcp 10.244.1.2:80: connect: connection refused") \
        in m.events("web")


def test_crashing_container_goes_into_crash_loop_back_off():
    m = Mini()
    m.runtime.set_behavior("crash", "app", Behavior(run_ms=500, exit_code=1))
    m.pod("crash", [{"name": "app", "image": "nginx:1.27"}])
    m.loop.run_until(m.loop.now + 20_000)
    cs = m.get("crash")["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" or "running" in cs["state"]
    assert any(r == "BackOff" and m_.startswith("Back-off restarting failed container app in pod crash_default(")
               for r, m_ in m.events("crash"))


def test_same_seed_same_trace():
    def run():
        m = Mini(seed=7)
        m.pod("web", [{"name": "nginx", "image": "nginx:1.27"}])
        m.loop.settle()
        m.admin.delete("pods", "web", "default")
        m.loop.settle()
        return m.loop.trace.fingerprint()

    assert run() == run()


def test_host_network_pod_uses_the_node_ip_without_cni():
    m = Mini()
    since = m.loop.trace.last_seq
    m.pod("proxy", [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.34.1"}], hostNetwork=True)
    m.loop.settle()
    s = m.get("proxy")["status"]
    assert s["phase"] == "Running" and s["podIP"] == "172.18.0.3"
    assert "cni.ADD" not in m.kinds(since) and m.cni.pod_ips() == {}
    assert m.kubelet.pod_cidr == "10.244.1.0/24"
    assert [p["pod"] for p in m.kubelet.pods()] == ["default/proxy"]
