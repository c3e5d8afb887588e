"""Mirrors: pkg/registry/core/pod/rest/log.go (LogREST.Get), pkg/registry/core/pod/rest/subresources.go (ExecREST)
and pkg/registry/core/pod/strategy.go (LogLocation, ExecLocation, streamLocation, validateContainer).

``kubectl logs`` is ``GET /api/v1/namespaces/<ns>/pods/<name>/log`` and ``kubectl exec`` is a request on
``pods/<name>/exec``; both are authorized like any request (``get pods/log``, ``create pods/exec``), and then the
API server does not read etcd for the answer: it finds the pod's node, the kubelet's address and port in the Node's
status (``status.addresses`` InternalIP, ``status.daemonEndpoints.kubeletEndpoint.Port``, 10250), and proxies the
request to the kubelet's HTTPS server (``/containerLogs/<ns>/<pod>/<container>``, ``/exec/<ns>/<pod>/<container>``)
with its own client certificate, ``apiserver-kubelet-client.crt`` (kubeadm: CN ``kube-apiserver-kubelet-client``).
The kubelet checks that identity with a SubjectAccessReview on ``nodes/proxy`` and answers.
"""

from __future__ import annotations

from ..api import errors

KUBELET_CLIENT = "kube-apiserver-kubelet-client"
DEFAULT_KUBELET_PORT = 10250


def validate_container(container: str, pod: dict) -> str:
    """validateContainer: the named container, or the only one; several and none named is a 400."""
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or ()]
    init = [c["name"] for c in spec.get("initContainers") or ()]
    eph = [c["name"] for c in spec.get("ephemeralContainers") or ()]
    name = pod["metadata"]["name"]
    if not container:
        if len(names) == 1:
            return names[0]
        if not names:
            raise errors.new_bad_request(f"no containers in pod {name}")
        msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if init:
            msg += f" or one of the init containers: [{' '.join(init)}]"
        raise errors.new_bad_request(msg)
    if container not in names + init + eph:
        raise errors.new_bad_request(f"container {container} is not valid for pod {name}")
    return container


def kubelet_location(server, pod: dict) -> tuple[str, str, int]:
    """The pod's node, and the kubelet's address and port from the Node object (getKubeletConnectionInfo)."""
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    node = server.storage_get("nodes", None, node_name)
    if node is None:
        raise errors.new_not_found("nodes", node_name)
    status = node.get("status") or {}
    addr = next((a["address"] for a in status.get("addresses") or () if a.get("type") == "InternalIP"), node_name)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return node_name, addr, port


def _dial(server, pod: dict, path: str, req, ref):
    node_name, addr, port = kubelet_location(server, pod)
    server.loop.emit("kube-apiserver", "proxy.kubelet", ref,
                     {"node": node_name, "port": port, "url": f"https://{addr}:{port}{path}",
                      "user": KUBELET_CLIENT}, cause=req, target=f"kubelet/{node_name}")
    kubelet = server.kubelet_connections(node_name) if server.kubelet_connections else None
    if kubelet is None or getattr(kubelet, "stopped", False):
        raise errors.new_internal_error(f'Get "https://{addr}:{port}{path}": dial tcp {addr}:{port}: connect: '
                                        f"connection refused")
    return kubelet


def pod_log(server, namespace: str, name: str, options: dict, req, ref) -> str:
    """LogREST.Get: the container's log, read by the kubelet (``options``: container, previous, tailLines,
    timestamps, as PodLogOptions)."""
    pod = server.storage_get("pods", namespace, name)
    if pod is None:
        raise errors.new_not_found("pods", name)
    container = validate_container(options.get("container") or "", pod)
    if not (pod.get("spec") or {}).get("nodeName"):
        return ""  # LogLocation: no host assigned yet, an empty stream
    path = f"/containerLogs/{namespace}/{name}/{container}"
    kubelet = _dial(server, pod, path, req, ref)
    return kubelet.container_logs(namespace, name, container, previous=bool(options.get("previous")),
                                  tail=options.get("tailLines"), timestamps=bool(options.get("timestamps")))


def pod_exec(server, namespace: str, name: str, body: dict, req, ref) -> dict:
    """ExecREST: stream the command's output from the kubelet (``body``: PodExecOptions, command and
    container). Returns stdout, stderr and the exit code."""
    pod = server.storage_get("pods", namespace, name)
    if pod is None:
        raise errors.new_not_found("pods", name)
    container = validate_container((body or {}).get("container") or "", pod)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.new_bad_request(f"pod {name} does not have a host assigned")
    command = list((body or {}).get("command") or ())
    if not command:
        raise errors.new_bad_request("you must specify at least 1 command")
    path = f"/exec/{namespace}/{name}/{container}?" + "&".join(f"command={c}" for c in command)
    kubelet = _dial(server, pod, path, req, ref)
    return kubelet.run_in_container(namespace, name, container, command)
