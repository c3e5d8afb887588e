"""The CRI runtime model: sandboxes with CNI, images that take time to pull, container processes."""

import random
import re

import pytest

from k8slab.cni import BridgePlugin
from k8slab.cri import (CONTAINER_EXITED, CONTAINER_RUNNING, Behavior, ContainerRuntime, CRIError,
                        ImagePullError, default_behavior)
from k8slab.sim import Loop


def make(cidr="10.244.1.0/24"):
    loop = Loop()
    cni = BridgePlugin("node-1", loop)
    if cidr:
        cni.set_pod_cidr(cidr)
    rt = ContainerRuntime(loop, "node-1", random.Random(1), cni=cni)
    return loop, rt, cni


def sandbox_config(name="web", ns="default", host_network=False):
    return {"metadata": {"name": name, "namespace": ns, "uid": "u-" + name, "attempt": 0},
            "linux": {"securityContext": {"namespaceOptions": {"network": "NODE" if host_network else "POD"}}}}


def pull_now(loop, rt, image):
    res = rt.pull_image(image)
    loop.run_until(loop.now + res.duration_ms)
    return res


def test_sandbox_gets_ip_from_cni_and_is_traced():
    loop, rt, cni = make()
    sid = rt.run_pod_sandbox(sandbox_config())
    assert re.fullmatch(r"[0-9a-f]{64}", sid)
    status = rt.pod_sandbox_status(sid)
    assert status["state"] == "SANDBOX_READY"
    assert status["network"]["ip"] == "10.244.1.2"
    kinds = [(ev.component, ev.kind, ev.target) for ev in loop.trace]
    assert kinds == [("kubelet/node-1", "cri.RunPodSandbox", "containerd/node-1"),
                     ("containerd/node-1", "cni.ADD", "cni/node-1"),
                     ("kubelet/node-1", "cri.PodSandboxStatus", "containerd/node-1")]
    assert loop.trace[0].ref == "pods/default/web"


def test_sandbox_fails_without_cni_config():
    loop, rt, cni = make(cidr=None)
    with pytest.raises(CRIError, match="failed to setup network for sandbox .*cni plugin not initialized"):
        rt.run_pod_sandbox(sandbox_config())
    assert rt.sandboxes == {}
    st = {c["type"]: c for c in rt.status()["conditions"]}
    assert st["NetworkReady"]["status"] is False
    assert st["NetworkReady"]["message"] == "Network plugin returns error: cni plugin not initialized"


def test_host_network_sandbox_skips_cni():
    loop, rt, cni = make()
    sid = rt.run_pod_sandbox(sandbox_config(host_network=True))
    assert rt.sandboxes[sid].ip == "" and cni.pod_ips() == {}


def test_pause_image_is_present_and_pinned():
    loop, rt, _ = make()
    img = rt.image_status("registry.k8s.io/pause:3.10")
    assert img is not None and img["pinned"] is True
    assert rt.version() == {"version": "0.1.0", "runtimeName": "containerd", "runtimeVersion": "v1.7.24",
                            "runtimeApiVersion": "v1"}


def test_pull_takes_virtual_time():
    loop, rt, _ = make()
    res = rt.pull_image("nginx:1.27")
    assert res.image_ref.startswith("sha256:") and res.duration_ms > 0
    assert rt.image_status("nginx:1.27") is None  # not there until the pull completes
    again = rt.pull_image("docker.io/library/nginx:1.27")  # a concurrent pull waits for the first
    assert again.duration_ms == res.duration_ms
    loop.run_until(res.duration_ms)
    img = rt.image_status("nginx:1.27")
    assert img["repoTags"] == ["docker.io/library/nginx:1.27"] and img["size"] == res.size
    with pytest.raises(ImagePullError) as e:
        rt.pull_image("nginxx")
    assert e.value.duration_ms > 0


def test_pulling_a_present_image_fetches_only_the_manifest():
    loop, rt, _ = make()
    first = pull_now(loop, rt, "nginx:1.27")
    again = rt.pull_image("nginx:1.27")  # e.g. imagePullPolicy: Always, or a pull queued behind the first
    assert again.image_ref == first.image_ref and again.duration_ms == rt.registry.latency_ms
    assert again.duration_ms < first.duration_ms
    assert rt.image_status("nginx:1.27") is not None  # the image stays usable while the manifest is checked
    assert rt.images[first.image_ref].available_at <= loop.now


def test_container_lifecycle_and_status_shape():
    loop, rt, _ = make()
    sid = rt.run_pod_sandbox(sandbox_config())
    res = pull_now(loop, rt, "nginx:1.27")
    with pytest.raises(CRIError, match="not found"):
        rt.create_container(sid, {"metadata": {"name": "x"}, "image": {"image": "sha256:nope"}})
    cid = rt.create_container(sid, {"metadata": {"name": "nginx", "attempt": 0}, "image": {"image": res.image_ref}})
    rt.start_container(cid)
    s = rt.container_status(cid)
    assert s["state"] == CONTAINER_RUNNING
    assert s["image"]["image"] == "docker.io/library/nginx:1.27"
    assert s["imageRef"].startswith("docker.io/library/nginx@sha256:")
    with pytest.raises(CRIError, match="stop it first"):
        rt.remove_container(cid)
    took = rt.stop_container(cid, 30)
    assert 0 < took < 30_000
    s = rt.container_status(cid)
    assert (s["state"], s["exitCode"], s["reason"]) == (CONTAINER_EXITED, 0, "Completed")
    rt.remove_container(cid)
    assert rt.list_containers() == []


def test_shell_ignores_sigterm_and_is_killed_after_grace_period():
    loop, rt, _ = make()
    sid = rt.run_pod_sandbox(sandbox_config())
    res = pull_now(loop, rt, "busybox:1.36")
    cid = rt.create_container(sid, {"metadata": {"name": "sh"}, "image": {"image": res.image_ref},
                                    "command": ["sh", "-c", "sleep 3600"]})
    rt.start_container(cid)
    assert rt.stop_container(cid, 30) == 30_000
    assert rt.container_status(cid)["exitCode"] == 137


def test_process_exits_by_itself_and_notifies_listeners():
    loop, rt, _ = make()
    seen = []
    rt.listeners.append(lambda etype, cid: seen.append((loop.now, etype, cid)))
    sid = rt.run_pod_sandbox(sandbox_config())
    res = pull_now(loop, rt, "busybox:1.36")
    rt.set_behavior("web", "job", Behavior(run_ms=2000, exit_code=3))
    cid = rt.create_container(sid, {"metadata": {"name": "job"}, "image": {"image": res.image_ref}})
    rt.start_container(cid)
    t0 = loop.now
    loop.settle()
    assert seen == [(t0 + 2000, "ContainerStopped", cid)]
    s = rt.container_status(cid)
    assert (s["exitCode"], s["reason"]) == (3, "Error")


def test_stop_and_remove_sandbox_releases_ip():
    loop, rt, cni = make()
    sid = rt.run_pod_sandbox(sandbox_config())
    with pytest.raises(CRIError, match="not fully stopped"):
        rt.remove_pod_sandbox(sid)
    rt.stop_pod_sandbox(sid)
    assert cni.pod_ips() == {}
    rt.remove_pod_sandbox(sid)
    assert rt.list_pod_sandboxes() == []
    rt.stop_pod_sandbox(sid)  # idempotent


@pytest.mark.parametrize("command,args,daemon,run_ms,code", [
    ([], [], True, None, 0),  # nginx: runs until stopped
    ([], [], False, 10, 0),  # busybox's default sh exits at once
    (["sh", "-c", "sleep 5"], [], False, 5020, 0),
    (["sh", "-c", "echo hi; exit 2"], [], False, 100, 2),
    (["sh", "-c", "while true; do sleep 1; done"], [], False, None, 0),
])
def test_default_behavior(command, args, daemon, run_ms, code):
    b = default_behavior(command, args, daemon)
    assert (b.run_ms, b.exit_code) == (run_ms, code)
