"""Pure kubelet helpers: allocatable arithmetic, admission, pod phase and conditions, Go durations."""

import pytest

from k8slab.api.objects import requests_key
from k8slab.kubelet import fits, generate_conditions, get_phase, go_duration, node_allocatable

CAP = {"cpu": "2", "ephemeral-storage": "61202244Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
       "memory": "8Gi", "pods": "110"}


def test_allocatable_with_kubeadm_defaults():
    alloc = node_allocatable(CAP)
    # memory: 8Gi - 100Mi (memory.available<100Mi), printed canonically
    assert alloc["memory"] == "8092Mi"
    # ephemeral-storage: minus 10% (nodefs.available<10%, a float32 percentage), as real nodes report it
    assert alloc["ephemeral-storage"] == "56403987978"
    assert alloc["cpu"] == "2" and alloc["pods"] == "110" and alloc["hugepages-2Mi"] == "0"


def test_allocatable_with_reservations():
    alloc = node_allocatable({"cpu": "4", "memory": "16Gi"}, kube_reserved={"cpu": "100m", "memory": "1Gi"},
                             system_reserved={"cpu": "200m"}, eviction_hard={"memory.available": "500Mi"})
    assert alloc == {"cpu": "3700m", "memory": "14860Mi"}  # 16384Mi - 1024Mi - 500Mi


def test_admission_out_of_cpu_message():
    pod = {"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1500m"}}}]}}
    other = {"spec": {"containers": [{"name": "b", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}
    assert fits(pod, [], {"cpu": "2", "memory": "8092Mi", "pods": "110"}) is None
    assert fits(pod, [other], {"cpu": "2", "memory": "8092Mi", "pods": "110"}) == (
        "OutOfcpu", "Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000")
    big = {"spec": {"containers": [{"name": "m", "resources": {"requests": {"memory": "9Gi"}}}]}}
    reason, msg = fits(big, [], {"cpu": "2", "memory": "8092Mi", "pods": "110"})
    assert reason == "OutOfmemory"
    assert msg == ("Node didn't have enough resource: memory, requested: 9663676416, used: 0, "
                   "capacity: 8485076992")
    assert fits(pod, [other], {"cpu": "8", "pods": "1"})[0] == "OutOfpods"


def test_requests_key_covers_everything_the_requests_depend_on():
    def pod(init_policy=None, cpu="100m", overhead=None, name="a"):
        spec = {"containers": [{"name": name, "image": "nginx", "resources": {"requests": {"cpu": cpu}}}],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}},
                                    **({"restartPolicy": init_policy} if init_policy else {})}]}
        if overhead:
            spec["overhead"] = overhead
        return {"metadata": {"uid": name}, "spec": spec}

    assert requests_key(pod(name="a")) == requests_key(pod(name="b"))  # names and images do not count
    # a sidecar adds to the pod's requests, a plain init container only sets a floor: different keys
    assert requests_key(pod()) != requests_key(pod("Always"))
    assert fits(pod(), [], {"cpu": "1100m", "pods": "110"}) is None
    assert fits(pod("Always"), [], {"cpu": "1100m", "pods": "110"}) is None
    assert fits(pod("Always"), [pod()], {"cpu": "1100m", "pods": "110"})[0] == "OutOfcpu"
    assert requests_key(pod(cpu="200m")) != requests_key(pod())
    assert requests_key(pod(overhead={"cpu": "10m"})) != requests_key(pod())


def _st(name, **state):
    return {"name": name, "state": state, "ready": False, "lastState": {}}


@pytest.mark.parametrize("policy,statuses,terminal,want", [
    ("Always", [_st("a", waiting={"reason": "ContainerCreating"})], False, "Pending"),
    ("Always", [_st("a", running={})], False, "Running"),
    ("Always", [_st("a", terminated={"exitCode": 0})], False, "Running"),
    ("Always", [_st("a", terminated={"exitCode": 0})], True, "Succeeded"),
    ("Never", [_st("a", terminated={"exitCode": 0})], False, "Succeeded"),
    ("Never", [_st("a", terminated={"exitCode": 1})], False, "Failed"),
    ("OnFailure", [_st("a", terminated={"exitCode": 1})], False, "Running"),
    ("Never", [_st("a", running={}), _st("b", terminated={"exitCode": 1})], False, "Running"),
])
def test_get_phase(policy, statuses, terminal, want):
    assert get_phase({"restartPolicy": policy}, [], statuses, terminal) == want


def test_get_phase_with_init_containers():
    spec = {"restartPolicy": "Always", "initContainers": [{"name": "i"}]}
    assert get_phase(spec, [_st("i", running={})], [_st("a", waiting={"reason": "PodInitializing"})],
                     False) == "Pending"
    never = dict(spec, restartPolicy="Never")
    assert get_phase(never, [_st("i", terminated={"exitCode": 1})], [_st("a", waiting={})], False) == "Failed"


def test_conditions_messages():
    inits = [_st("init-db", running={})]
    apps = [_st("web", waiting={"reason": "PodInitializing"})]
    conds = {c["type"]: c for c in generate_conditions({}, "Pending", True, inits, apps)}
    assert conds["PodReadyToStartContainers"]["status"] == "True"
    assert conds["Initialized"] == {"type": "Initialized", "status": "False", "lastProbeTime": None,
                                    "reason": "ContainersNotInitialized",
                                    "message": "containers with incomplete status: [init-db]"}
    apps = [dict(_st("web", running={}), ready=False), dict(_st("side", running={}), ready=True)]
    conds = generate_conditions({}, "Running", True, [], apps)
    assert [c["type"] for c in conds] == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"]
    assert conds[2]["reason"] == "ContainersNotReady"
    assert conds[2]["message"] == "containers with unready status: [web]"


@pytest.mark.parametrize("ms,want", [(0, "0s"), (1, "1ms"), (999, "999ms"), (1000, "1s"), (2100, "2.1s"),
                                     (1594, "1.594s"), (61_500, "1m1.5s"), (3_600_000, "1h0m0s")])
def test_go_duration(ms, want):
    assert go_duration(ms) == want


def test_memory_pressure_from_container_usage_and_transition_period():
    from k8slab.cri import Behavior
    from k8slab.kubelet import stats

    from test_kubelet_pods import Mini

    m = Mini(capacity={"cpu": "2", "memory": "2Gi", "pods": "110", "ephemeral-storage": "61202244Ki"})
    node = m.admin.get("nodes", "node-1")
    assert node["status"]["allocatable"]["memory"] == "1948Mi"  # 2Gi - memory.available<100Mi
    m.runtime.set_behavior("hog", "app", Behavior(memory=[(0, "100Mi"), (20_000, "1600Mi")], run_ms=60_000))
    m.pod("hog", [{"name": "app", "image": "nginx:1.27"}], restartPolicy="Never")
    m.loop.run_until(m.loop.now + 15_000)
    avail, cap = stats.signal_observations(m.kubelet)["memory.available"]
    assert cap == 2 * 2**30 and avail == cap - 100 * 2**20 - stats.SYSTEM_MEMORY_BYTES
    assert conds_of(m)["MemoryPressure"]["status"] == "False"
    m.loop.run_until(m.loop.now + 20_000)  # 2Gi - 1600Mi - 400Mi = 48Mi < 100Mi
    c = conds_of(m)["MemoryPressure"]
    assert (c["status"], c["reason"], c["message"]) == ("True", "KubeletHasInsufficientMemory",
                                                        "kubelet has insufficient memory available")
    events = [e["reason"] for e in m.admin.list("events", "default")["items"] if e["involvedObject"]["kind"] == "Node"]
    assert "NodeHasInsufficientMemory" in events
    m.loop.run_until(m.loop.now + 60_000)  # the pod has exited, but the condition holds for 5 minutes
    assert conds_of(m)["MemoryPressure"]["status"] == "True"
    m.loop.run_until(m.loop.now + 300_000)
    assert conds_of(m)["MemoryPressure"]["status"] == "False"


def conds_of(m):
    return {c["type"]: c for c in m.admin.get("nodes", "node-1")["status"]["conditions"]}


def test_resource_metrics_text():
    from k8slab.cri import Behavior
    from k8slab.kubelet import stats

    from test_kubelet_pods import Mini

    m = Mini()
    m.runtime.set_behavior("web", "app", Behavior(cpu="250m", memory="64Mi"))
    m.pod("web", [{"name": "app", "image": "nginx:1.27"}])
    m.loop.settle()
    start = m.loop.trace.filter(kind="cri.StartContainer")[0].time
    m.loop.run_until(start + 10_000)
    text = stats.resource_metrics(m.kubelet)
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
    line = next(x for x in text.splitlines() if x.startswith("container_cpu_usage_seconds_total{"))
    assert line.startswith('container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2.5 ')
    assert f'pod_memory_working_set_bytes{{namespace="default",pod="web"}} {64 * 2**20} ' in text
    assert text.rstrip().endswith("resource_scrape_error 0")


def test_cluster_reservations_reach_every_kubelet():
    from k8slab import Cluster

    c = Cluster(nodes=1, node_memory="8Gi", kube_reserved={"cpu": "100m", "memory": "500Mi"},
                system_reserved={"memory": "500Mi"}, eviction_hard={"memory.available": "200Mi"})
    st = c.get("node", "node-1", namespace=None)["status"]
    assert st["capacity"]["memory"] == "8Gi" and st["allocatable"]["memory"] == "6992Mi"  # 8192 - 500 - 500 - 200
    assert st["allocatable"]["cpu"] == "3900m"


def test_memory_pressure_evicts_the_pod_using_most_above_its_request():
    from k8slab.cri import Behavior

    from test_kubelet_pods import Mini

    m = Mini(capacity={"cpu": "2", "memory": "2Gi", "pods": "110", "ephemeral-storage": "61202244Ki"})
    m.runtime.set_behavior("quiet", "app", Behavior(memory="100Mi"))
    m.runtime.set_behavior("hog", "app", Behavior(memory=[(0, "100Mi"), (20_000, "1500Mi")]))
    m.pod("quiet", [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"memory": "200Mi"}}}])
    m.pod("hog", [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"memory": "100Mi"}}}])
    m.loop.run_until(m.loop.now + 45_000)
    hog, quiet = m.get("hog")["status"], m.get("quiet")["status"]
    assert (hog["phase"], hog["reason"]) == ("Failed", "Evicted")
    assert hog["message"].startswith("The node was low on resource: memory. Threshold quantity: 100Mi, available: ")
    assert hog["message"].endswith("Container app was using 1500Mi, request is 100Mi, has larger consumption of "
                                   "memory. ")
    assert {c["type"]: c.get("reason") for c in hog["conditions"]}["DisruptionTarget"] == "TerminationByKubelet"
    assert quiet["phase"] == "Running"  # within its request: not a candidate before the hog
    assert any(r == "Evicted" for r, _ in m.events("hog"))
    assert not any(c.state == "CONTAINER_RUNNING" and c.name == "app" and
                   m.runtime.sandboxes[c.sandbox_id].name == "hog" for c in m.runtime.containers.values())


def test_node_status_compare_ignores_only_heartbeats():
    from k8slab.kubelet.kubelet import _same_but_heartbeats

    def cond(status="True", beat="2026-01-01T00:00:10Z", since="2026-01-01T00:00:00Z"):
        return {"lastHeartbeatTime": beat, "lastTransitionTime": since, "status": status, "type": "Ready"}

    a = {"capacity": {"cpu": "2"}, "conditions": [cond()]}
    assert _same_but_heartbeats(a, {"capacity": {"cpu": "2"}, "conditions": [cond(beat="2026-01-01T00:00:20Z")]})
    assert not _same_but_heartbeats(a, {"capacity": {"cpu": "2"}, "conditions": [cond("False")]})
    assert not _same_but_heartbeats(a, {"capacity": {"cpu": "2"},
                                        "conditions": [cond(since="2026-01-01T00:00:05Z")]})
    assert not _same_but_heartbeats(a, {"capacity": {"cpu": "4"}, "conditions": [cond()]})
    assert not _same_but_heartbeats(a, {"capacity": {"cpu": "2"}, "conditions": [cond(), cond()]})
    assert not _same_but_heartbeats(a, {"capacity": {"cpu": "2"}})
    assert not _same_but_heartbeats(a, {})
    assert _same_but_heartbeats({}, None) and _same_but_heartbeats({"conditions": None}, {"conditions": None})
