"""The 06 (kubelet) and 09 (add-ons and metrics) exercises: right answers pass, typical wrong ones get help."""

from k8slab.exercises import check
from k8slab.exercises import kubelet as ek


def test_06_1_cri_calls():
    assert check("06.1", ["RunPodSandbox", "PullImage", "CreateContainer", "StartContainer"])
    assert check("06.1", ["RunPodSandbox", "PodSandboxStatus", "ImageStatus", "PullImage", "CreateContainer",
                          "StartContainer"])  # read-only calls are allowed in the list
    r = check("06.1", ["PullImage", "RunPodSandbox", "CreateContainer", "StartContainer"])
    assert not r and "order" in r.message
    r = check("06.1", ["RunPodSandbox", "CreateContainer", "StartContainer"])
    assert not r and "PullImage is missing" in r.message
    assert not check("06.1", None)


def test_06_2_crash_loop():
    code, backoff = ek.crash_facts(ek.crash_cluster())
    assert code == 3 and backoff in (10, 20, 40, 80, 160, 300)
    assert check("06.2", (code, backoff))
    assert "exit code" in check("06.2", (1, backoff)).message
    wrong = 10 if backoff != 10 else 20
    assert "right sequence" in check("06.2", (code, wrong)).message


def test_06_3_liveness():
    want = ek.first_kill_after_start(ek.liveness_cluster())
    assert 45 <= want <= 56
    assert check("06.3", want)
    assert "failureThreshold" in check("06.3", 25).message


def test_06_4_and_06_5():
    assert check("06.4", (256, 50000, 134217728))
    assert "MilliCPUToShares" in check("06.4", (250, 50000, 134217728)).message
    assert "limit" in check("06.4", (256, 25000, 134217728)).message
    assert check("06.5", ("FailedMount", "ContainerCreating"))
    assert "env/envFrom" in check("06.5", ("FailedMount", "CreateContainerConfigError")).message


def test_09_exercises():
    from k8slab.exercises import addons

    assert check("09.1", ("worker", "cache"))
    assert "swapped" in check("09.1", ("cache", "worker")).message
    assert addons.hpa_next(3, 200, 300, 50, 20) == 6
    assert check("09.2", 6)
    assert "limit" in check("09.2", 9).message
    assert "no `behavior`" in check("09.2", 7).message  # the default-behavior policies would give 3 + 4
    assert check("09.3", 300) and "sync period" in check("09.3", 15).message
    assert check("09.4", "100m") and "divide" in check("09.4", "1500m").message
    assert not check("09.4", None)
