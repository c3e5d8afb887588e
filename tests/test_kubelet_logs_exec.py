"""kubectl logs and exec through the API server and the kubelet (containerLogs, CRI Exec)."""

import pytest

from k8slab import Cluster
from k8slab.api import errors
from k8slab.cri import Behavior


@pytest.fixture(scope="module")
def c():
    c = Cluster(nodes=1, seed=3)
    c.set_behavior("crashy", "app", Behavior(run_ms=4_000, exit_code=2,
                                             logs=[(0, "starting"), (3_000, "panic: config missing")]))
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "env": [{"name": "MODE", "value": "x"}]},
                                     {"name": "side", "image": "busybox:1.37", "command": ["sleep", "infinity"]}]}})
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crashy"},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
    c.run(seconds=30)
    return c


def test_logs_default_to_the_first_container_and_strip_the_cri_prefix(c):
    out = c.logs("web")
    assert out.splitlines()[-1].endswith("start worker processes")
    assert out.startswith("/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty")
    ts = c.logs("web", timestamps=True).splitlines()[0]
    assert ts.startswith("2026-01-01T00:") and ts.split(" ", 1)[0].endswith("000000Z")
    assert c.logs("web", "side") == ""
    assert c.logs("web", tail=1).count("\n") == 1
    assert any(e.kind == "proxy.kubelet" for e in c.trace.filter(kind="proxy.kubelet"))


def test_previous_logs_after_a_crash(c):
    assert c.logs("crashy", previous=True) == "starting\npanic: config missing\n"
    with pytest.raises(errors.StatusError, match='previous terminated container "nginx" in pod "web" not found'):
        c.logs("web", previous=True)


def test_logs_errors(c):
    with pytest.raises(errors.StatusError, match="container nope is not valid for pod web"):
        c.logs("web", "nope")


def test_exec_runs_in_the_container_through_cri_exec(c):
    assert c.exec("web", "echo hello") == "hello\n"
    assert c.exec("web", ["hostname"]) == "web\n"
    assert "MODE=x" in c.exec("web", "env")
    assert c.exec("web", "cat /nope").endswith("command terminated with exit code 1\n")
    assert c.trace.filter(kind="cri.Exec")[-1].data["cmd"] == ["cat", "/nope"]
