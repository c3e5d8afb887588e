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


def test_logs_and_exec_go_kubectl_to_apiserver_to_kubelet(c):
    start = len(c.trace)
    c.logs("web", "nginx", tail=1)
    evs = c.trace.events[start:] if hasattr(c.trace, "events") else list(c.trace)[start:]
    req = next(e for e in evs if e.kind == "request" and e.ref == "pods/default/web/log")
    assert req.component == "kubectl" and req.data == {"verb": "get", "resource": "pods", "subresource": "log"}
    proxy = next(e for e in evs if e.kind == "proxy.kubelet")
    assert proxy.component == "kube-apiserver" and proxy.cause == req.seq
    ip = c.node("node-1").ip
    assert proxy.data["url"] == f"https://{ip}:10250/containerLogs/default/web/nginx"
    assert proxy.data["user"] == "kube-apiserver-kubelet-client"
    served = next(e for e in evs if e.kind == "kubelet.containerLogs")
    assert evs.index(req) < evs.index(proxy) < evs.index(served)
    c.exec("web", "hostname")
    req = [e for e in c.trace.filter(kind="request") if e.ref == "pods/default/web/exec"][-1]
    assert req.data["verb"] == "create"
    assert c.trace.filter(kind="proxy.kubelet")[-1].data["url"].startswith(
        f"https://{ip}:10250/exec/default/web/nginx?command=hostname")


def test_logs_need_get_pods_log_and_exec_needs_create_pods_exec(c):
    from k8slab.apiserver.authn import Credentials
    from k8slab.client import Client

    c.admin.create("rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                    "metadata": {"name": "jane-view", "namespace": "default"},
                                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": "view"},
                                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                                  "name": "jane"}]})
    c.settle()
    jane = Client(c.apiserver, "kubectl", Credentials.x509("jane"))
    assert c.logs("web", "nginx", tail=1, client=jane) == c.logs("web", "nginx", tail=1)
    with pytest.raises(errors.StatusError) as e:
        c.exec("web", "hostname", client=jane)
    assert e.value.code == 403
    assert 'User "jane" cannot create resource "pods/exec" in API group "" in the namespace "default"' \
        in e.value.message
    bob = Client(c.apiserver, "kubectl", Credentials.x509("bob"))
    with pytest.raises(errors.StatusError) as e:
        c.logs("web", "nginx", client=bob)
    assert e.value.code == 403 and 'cannot get resource "pods/log"' in e.value.message


def test_the_api_server_validates_the_container_and_the_host(c):
    with pytest.raises(errors.StatusError, match=r"a container name must be specified for pod web, "
                                                 r"choose one of: \[nginx side\]"):
        c.apiserver.request("get", "pods", namespace="default", name="web", subresource="log",
                            creds=c.admin.creds, options={})
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nowhere"},
             "spec": {"nodeName": "", "nodeSelector": {"disk": "none"},
                      "containers": [{"name": "app", "image": "nginx:1.27"}]}})
    c.settle()
    assert c.logs("nowhere") == ""
    with pytest.raises(errors.StatusError, match="pod nowhere does not have a host assigned"):
        c.exec("nowhere", "true")


def test_a_stopped_kubelet_refuses_the_connection():
    c = Cluster(nodes=1, seed=0)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})
    c.run(seconds=10)
    c.node("node-1").kubelet.stop()
    with pytest.raises(errors.StatusError) as e:
        c.logs("web")
    assert e.value.code == 500
    ip = c.node("node-1").ip
    assert f"dial tcp {ip}:10250: connect: connection refused" in e.value.message
