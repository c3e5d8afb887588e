"""Probes, scripted container behaviour, OOM kills and graceful termination (pkg/kubelet/prober, kuberuntime)."""

import pytest

from k8slab.cri import Behavior, behavior_from_yaml
from k8slab.kubelet import Backoff
from k8slab.kubelet import prober as pr
from k8slab.kubelet.cm import milli_cpu_to_quota, milli_cpu_to_shares

from test_kubelet_pods import Mini, conds


def added_at(m, name):
    return m.kubelet.workers[m.get(name)["metadata"]["uid"]].added_at


def times(m, kind, since=0):
    return [e.time - since for e in m.loop.trace.filter(kind=kind)]


# -- unit: defaults, thresholds, back-off ---------------------------------------------------------------------------

def test_probe_defaults_match_set_defaults_probe():
    p = pr.default_probe({"httpGet": {"port": 8080}})
    assert (p["timeoutSeconds"], p["periodSeconds"], p["successThreshold"], p["failureThreshold"],
            p["initialDelaySeconds"]) == (1, 10, 1, 3, 0)
    assert p["httpGet"] == {"port": 8080, "path": "/", "scheme": "HTTP"}
    assert pr.default_probe({"exec": {"command": ["true"]}, "periodSeconds": 5})["periodSeconds"] == 5


def test_api_server_defaults_probes_the_same_way():
    m = Mini()
    pod = m.pod("web", [{"name": "app", "image": "nginx:1.27", "livenessProbe": {"tcpSocket": {"port": 80}}}])
    probe = pod["spec"]["containers"][0]["livenessProbe"]
    assert {k: probe[k] for k in pr.PROBE_DEFAULTS} == pr.PROBE_DEFAULTS


def test_worker_initial_values_and_thresholds():
    assert [pr.ProbeWorker(k, {}).result for k in (pr.READINESS, pr.LIVENESS, pr.STARTUP)] == \
        ["Failure", "Success", "Unknown"]
    w = pr.ProbeWorker(pr.LIVENESS, pr.default_probe({"tcpSocket": {"port": 1}}))
    w.new_container("c1")
    assert [w.record("Failure"), w.record("Failure")] == [False, False]
    assert w.record("Failure") and w.result == "Failure" and w.on_hold
    w.new_container("c2")  # a new container: probing resumes from the initial value
    assert not w.on_hold and w.result == "Success"
    r = pr.ProbeWorker(pr.READINESS, pr.default_probe({"tcpSocket": {"port": 1}, "successThreshold": 2}))
    assert not r.record("Success") and r.record("Success") and r.result == "Success"
    assert not r.record("Failure") and r.result == "Success"  # one failure is below failureThreshold 3


def test_crash_loop_backoff_sequence():
    b = Backoff()
    seq, now = [], 0
    for _ in range(8):
        b.next("k", now)
        seq.append(b.get("k"))
        now += b.get("k")
    assert seq == [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]
    now += 600_001  # 2 x max without a back-off: the entry resets
    b.next("k", now)
    assert b.get("k") == 10_000


def test_cpu_shares_and_quota():
    # pkg/kubelet/cm/helpers_linux_test.go
    assert [milli_cpu_to_shares(m) for m in (0, 1, 2, 1000, 500, 262144 * 1000)] == [2, 2, 2, 1024, 512, 262144]
    assert [milli_cpu_to_quota(m, 100000) for m in (0, 5, 9, 10, 200, 500, 1000, 1500)] == \
        [0, 1000, 1000, 1000, 20000, 50000, 100000, 150000]
    assert milli_cpu_to_quota(2000, 50000) == 100000


@pytest.mark.parametrize("probe, verdict, want", [
    ({"httpGet": {"path": "/healthz", "port": 8080}}, ("refused", None),
     'Get "http://10.244.1.5:8080/healthz": dial tcp 10.244.1.5:8080: connect: connection refused'),
    ({"httpGet": {"path": "/healthz", "port": "http"}}, ("http", 500), "HTTP probe failed with statuscode: 500"),
    ({"httpGet": {"path": "/", "port": 80}}, ("timeout", None),
     'Get "http://10.244.1.5:80/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'),
    ({"tcpSocket": {"port": 5432}}, ("refused", None), "dial tcp 10.244.1.5:5432: connect: connection refused"),
    ({"grpc": {"port": 9090}}, ("refused", None),
     'timeout: failed to connect service "10.244.1.5:9090" within 1s: context deadline exceeded'),
    ({"grpc": {"port": 9090}}, ("grpc", "NOT_SERVING"), 'service unhealthy (responded with "NOT_SERVING")'),
])
def test_probe_output_messages(probe, verdict, want):
    container = {"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}
    assert pr.output_for(pr.default_probe(probe), verdict, "10.244.1.5", container) == want


def test_behavior_from_yaml_and_errors():
    b = behavior_from_yaml("app:\n  startupSeconds: 5\n  failAfterSeconds: 60\n  memory: [[0, 40Mi], [90, 300Mi]]\n"
                           "  cpu: 250m\n")["app"]
    assert (b.startup_ms, b.fail_ms) == (5000, 60000)
    assert b.usage(0) == (250, 40 * 2**20) and b.usage(90_000) == (250, 300 * 2**20)
    assert b.oom_at(256 * 2**20) == 90_000 and b.oom_at(512 * 2**20) is None
    with pytest.raises(ValueError, match="app.sleepy: unknown field"):
        behavior_from_yaml("app:\n  sleepy: 1\n")
    with pytest.raises(ValueError, match="app.failAfterSeconds"):
        behavior_from_yaml("app:\n  failAfterSeconds: soon\n")


# -- behaviour through the kubelet -----------------------------------------------------------------------------------

def test_failing_liveness_probe_restarts_at_the_right_virtual_times():
    """Liveness fails 25 s after each start; period 10 s, failureThreshold 3. Ticks run on the pod's 10 s grid,
    so each container is killed at the third failing tick, 50 s after the previous kill, and restarted at once
    while the back-off (10, 20, 40 s) is shorter than that; at 80 s the fifth restart waits (CrashLoopBackOff)."""
    m = Mini()
    m.runtime.set_behavior("web", "app", Behavior(fail_ms=25_000))
    m.pod("web", [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                   "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}])
    m.loop.run_until(m.loop.now + 300_000)
    t0 = added_at(m, "web")
    assert times(m, "cri.StopContainer", t0) == [50_000, 100_000, 150_000, 200_000, 250_000]
    starts = times(m, "cri.StartContainer", t0)
    assert len(starts) == 6
    assert [s // 1000 for s in starts[1:5]] == [50, 100, 150, 200]  # restarted within a second of the kill
    assert 280_000 < starts[5] < 281_000  # back-off 80 s from the previous exit (200 s)
    ev = m.events("web")
    assert ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500") in ev
    assert ("Killing", "Container app failed liveness probe, will be restarted") in ev
    cs = m.get("web")["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 5
    assert cs["lastState"]["terminated"]["reason"] == "Completed"  # nginx exits 0 on SIGTERM


def test_liveness_failure_with_restart_policy_never_does_not_restart():
    m = Mini()
    m.pod("once", [{"name": "app", "image": "nginx:1.27",
                    "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5}}], restartPolicy="Never",
          terminationGracePeriodSeconds=5)
    m.runtime.set_behavior("once", "app", Behavior(startup_ms=10**9, handles_sigterm=False))
    m.loop.run_until(m.loop.now + 60_000)
    pod = m.get("once")
    cs = pod["status"]["containerStatuses"][0]
    assert ("Killing", "Container app failed liveness probe") in m.events("once")
    assert cs["state"]["terminated"]["exitCode"] == 137 and cs["restartCount"] == 0
    assert pod["status"]["phase"] == "Failed"


def test_startup_probe_gates_liveness_and_readiness():
    m = Mini()
    m.runtime.set_behavior("slow", "app", Behavior(startup_ms=45_000))
    m.pod("slow", [{"name": "app", "image": "nginx:1.27",
                    "startupProbe": {"httpGet": {"path": "/healthz", "port": 80}, "failureThreshold": 30},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80}},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 80}}}])
    m.loop.run_until(m.loop.now + 30_000)
    cs = m.get("slow")["status"]["containerStatuses"][0]
    assert "running" in cs["state"] and cs["started"] is False and cs["ready"] is False
    kinds = {e.data["probe"] for e in m.loop.trace.filter(kind="probe")}
    assert kinds == {"startup"}  # liveness and readiness wait for the startup probe
    m.loop.run_until(m.loop.now + 40_000)
    cs = m.get("slow")["status"]["containerStatuses"][0]
    assert cs["started"] is True and cs["ready"] is True and cs["restartCount"] == 0
    assert {e.data["probe"] for e in m.loop.trace.filter(kind="probe")} == {"startup", "liveness", "readiness"}
    assert any(msg.startswith('Startup probe failed: Get "http://10.244.1.2:80/healthz": dial tcp')
               for r, msg in m.events("slow") if r == "Unhealthy")


def test_startup_probe_failure_kills_the_container():
    m = Mini()
    m.runtime.set_behavior("never", "app", Behavior(startup_ms=10**9))
    m.pod("never", [{"name": "app", "image": "nginx:1.27",
                     "startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5, "failureThreshold": 2}}])
    m.loop.run_until(m.loop.now + 20_000)
    assert ("Killing", "Container app failed startup probe, will be restarted") in m.events("never")
    assert m.get("never")["status"]["containerStatuses"][0]["restartCount"] >= 1


def test_exec_liveness_probe_goes_through_exec_sync():
    m = Mini()
    ann = {"k8slab.io/behavior": "liveness:\n  failAfterSeconds: 30\n"}
    m.admin.create("pods", {"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": "liveness-exec", "namespace": "default", "annotations": ann},
                            "spec": {"nodeName": "node-1", "containers": [{
                                "name": "liveness", "image": "busybox:1.37",
                                "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; "
                                                          "sleep 600"],
                                "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                                                  "initialDelaySeconds": 5, "periodSeconds": 5}}]}})
    m.loop.run_until(m.loop.now + 60_000)
    assert m.loop.trace.filter(kind="cri.ExecSync")
    assert ("Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n") \
        in m.events("liveness-exec")
    assert ("Killing", "Container liveness failed liveness probe, will be restarted") in m.events("liveness-exec")


def test_readiness_flips_with_the_endpoint():
    m = Mini()
    m.runtime.set_behavior("web", "app", Behavior(ready_ms=15_000))
    m.pod("web", [{"name": "app", "image": "nginx:1.27", "readinessProbe": {"httpGet": {"path": "/", "port": 80},
                                                                           "periodSeconds": 5}}])
    m.loop.run_until(m.loop.now + 30_000)
    pod = m.get("web")
    assert conds(pod)["Ready"]["status"] == "True"
    assert ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503") in m.events("web")
    first_ok = next(e.time for e in m.loop.trace.filter(kind="probe") if e.data["result"] == "success")
    start = m.loop.trace.filter(kind="cri.StartContainer")[0].time
    assert 15_000 <= first_ok - start < 20_000


def test_bad_behavior_annotation_is_a_create_container_error():
    m = Mini()
    m.admin.create("pods", {"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": "bad", "namespace": "default",
                                         "annotations": {"k8slab.io/behavior": "app: [1, 2"}},
                            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx:1.27"}]}})
    m.loop.run_until(m.loop.now + 8_000)
    waiting = m.get("bad")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError"
    assert waiting["message"].startswith("invalid k8slab.io/behavior annotation: invalid YAML")


def test_memory_over_limit_is_oom_killed():
    m = Mini()
    m.runtime.set_behavior("hog", "app", Behavior(memory=[(0, "20Mi"), (4_000, "100Mi")]))
    m.pod("hog", [{"name": "app", "image": "nginx:1.27",
                   "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}}])
    m.loop.run_until(m.loop.now + 12_000)
    cs = m.get("hog")["status"]["containerStatuses"][0]
    term = cs["lastState"]["terminated"] if cs["lastState"] else cs["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    resources = [c.config["linux"]["resources"] for c in m.runtime.containers.values()]
    assert resources and all(r["memory_limit_in_bytes"] == 64 * 2**20 for r in resources)
    assert any(e.data.get("reason") == "OOMKilled" for e in m.loop.trace.filter(kind="container.exit"))


def test_pre_stop_hook_runs_before_sigterm_within_the_grace_period():
    m = Mini()
    m.pod("web", [{"name": "app", "image": "nginx:1.27",
                   "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}], terminationGracePeriodSeconds=30)
    m.loop.settle()
    since = m.loop.trace.last_seq
    t_delete = m.loop.now
    m.admin.delete("pods", "web", "default")
    m.loop.settle()
    hook = [e for e in m.loop.trace.since(since) if e.kind == "hook.preStop"]
    assert hook and hook[0].data["ms"] == 5000
    stop = [e for e in m.loop.trace.since(since) if e.kind == "cri.StopContainer"][0]
    assert stop.data["timeout"] == 25  # 30 s grace minus the 5 s the hook used
    gone = [e for e in m.loop.trace.since(since) if e.kind == "cri.StopPodSandbox"][0]
    assert gone.time - t_delete >= 5_000


def test_failing_readiness_takes_the_pod_out_of_endpointslices():
    from k8slab import Cluster

    c = Cluster(nodes=2, seed=4)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}})
    c.set_behavior("bad", "app", Behavior(fail_ms=20_000))
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}})
    c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    c.settle()

    def ready():
        eps = [e for s in c.admin.list("endpointslices", "default", label_selector="kubernetes.io/service-name=web")
               ["items"] for e in s.get("endpoints") or []]
        return {e["targetRef"]["name"]: e["conditions"]["ready"] for e in eps}

    assert ready() == {"good": True, "bad": True}
    c.run(seconds=60)  # 3 failures in a row after 20 s
    assert ready() == {"good": True, "bad": False}
    assert c.get("pod", "bad")["status"]["containerStatuses"][0]["restartCount"] == 0  # readiness never restarts


def test_sidecar_runs_alongside_and_stops_after_the_main_container():
    m = Mini()
    m.pod("app", [{"name": "main", "image": "nginx:1.27"}],
          initContainers=[{"name": "init", "image": "busybox:1.37", "command": ["sh", "-c", "echo ready"]},
                          {"name": "proxy", "image": "nginx:1.27", "restartPolicy": "Always"}])
    m.loop.settle()
    pod = m.get("app")
    assert pod["status"]["phase"] == "Running"
    inits = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert inits["init"]["state"]["terminated"]["reason"] == "Completed" and "running" in inits["proxy"]["state"]
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Initialized"] == "True"
    starts = [e.data["name"] for e in m.loop.trace.filter(kind="cri.StartContainer")]
    assert starts == ["init", "proxy", "main"]  # init containers in order, the sidecar before the main container
    since = m.loop.trace.last_seq
    m.admin.delete("pods", "app", "default")
    m.loop.settle()
    stops = [(e.time, e.data["name"]) for e in m.loop.trace.since(since) if e.kind == "cri.StopContainer"]
    assert [n for _, n in stops] == ["main", "proxy"] and stops[1][0] > stops[0][0]


def test_settle_returns_while_a_pod_is_crash_looping():
    m = Mini()
    m.runtime.set_behavior("crash", "app", Behavior(run_ms=500, exit_code=1))
    m.pod("crash", [{"name": "app", "image": "nginx:1.27"}])
    m.loop.settle()  # CrashLoopBackOff is a steady state: its restarts are background work
    cs = m.get("crash")["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["restartCount"] >= 1


@pytest.mark.parametrize("probe, want", [
    ({"exec": {"command": ["cat", "/tmp/healthy"]}}, 'Readiness probe failed: command "cat /tmp/healthy" timed out'),
    ({"httpGet": {"path": "/ready", "port": 8080}},
     'Readiness probe failed: Get "http://10.244.1.2:8080/ready": context deadline exceeded (Client.Timeout '
     'exceeded while awaiting headers)'),
    ({"grpc": {"port": 9090}}, 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")'),
])
def test_slow_or_unready_endpoints_through_the_kubelet(probe, want):
    m = Mini()
    slow = "grpc" not in probe
    m.runtime.set_behavior("web", "app", Behavior(response_ms=3_000) if slow else Behavior(ready_ms=10**9))
    m.pod("web", [{"name": "app", "image": "nginx:1.27", "readinessProbe": probe}])
    m.loop.run_until(m.loop.now + 30_000)
    assert ("Unhealthy", want) in m.events("web")


def test_steady_successes_are_counted_and_traced_only_at_v3():
    def run(verbosity):
        m = Mini()
        m.kubelet.log_verbosity = verbosity
        m.runtime.set_behavior("web", "app", Behavior(ready_ms=15_000, fail_ms=100_000))
        m.pod("web", [{"name": "app", "image": "nginx:1.27",
                       "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
                       "livenessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}}])
        m.loop.run_until(m.loop.now + 130_000)
        r = m.kubelet.workers[m.get("web")["metadata"]["uid"]].containers[0]
        evs = [(e.time, e.data["probe"], e.data["result"]) for e in m.loop.trace if e.kind == "probe"]
        return m, sum(pw.probes for pw in r.probes.values()), evs

    m3, n3, ev3 = run(3)
    m0, n0, ev0 = run(0)
    assert n3 == n0 and len(ev3) > 40 and len(ev0) < len(ev3) // 2
    # at -v=0 every failure is still traced, a success is not; a changed verdict still shows as probe.result,
    # and the same things happen
    assert [e for e in ev3 if e[2] == "failure"] == ev0
    readiness_ok = next(e for e in ev3 if e[1] == "readiness" and e[2] == "success")[0]
    assert (readiness_ok, {"container": "app", "probe": "readiness", "result": "Success"}) in \
        [(e.time, e.data) for e in m0.loop.trace.filter(kind="probe.result")]
    assert m0.events("web") == m3.events("web")
    assert [(e.time, e.data) for e in m0.loop.trace.filter(kind="probe.result")] == \
        [(e.time, e.data) for e in m3.loop.trace.filter(kind="probe.result")]
