"""Mirrors: pkg/kubelet/config/file.go (the file source: --pod-manifest-path, re-read every 20 s and on
inotify events), pkg/kubelet/config/common.go (applyDefaults: name-<node>, the UID from a hash, config.hash and
config.source annotations, the NoExecute toleration), pkg/kubelet/pod/mirror_client.go (CreateMirrorPod,
DeleteMirrorPod) and pkg/kubelet/types/pod_update.go.

A *static pod* comes from a manifest file on the node (``/etc/kubernetes/manifests``), not from the API server:
the kubelet runs it on its own, even while the API server is down (that is how kubeadm runs etcd and the control
plane). So that the cluster can see it, the kubelet creates a *mirror pod* in the API: same name and spec, the
annotation ``kubernetes.io/config.mirror`` set to the static pod's hash, owned by the Node. Deleting the mirror pod
does not stop anything: the kubelet creates it again. Removing the file stops the pod.
"""

from __future__ import annotations

import hashlib
import json

from ..api.objects import deepcopy

STATIC_POD_PATH = "/etc/kubernetes/manifests"
FILE_CHECK_FREQUENCY_MS = 20_000
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"


def static_pod(manifest, node_name: str, path: str, seen: str) -> dict:
    """applyDefaults: the pod the kubelet runs for one manifest file."""
    from ..api.defaults import set_defaults_pod
    from ..api.serialize import load_manifests

    docs = load_manifests(manifest) if isinstance(manifest, str) else [deepcopy(manifest)]
    if len(docs) != 1 or docs[0].get("kind") != "Pod":
        raise ValueError(f"{path}: a static pod manifest holds exactly one Pod")
    pod = docs[0]
    set_defaults_pod(pod)
    md = pod.setdefault("metadata", {})
    h = hashlib.md5(json.dumps(pod, sort_keys=True).encode())
    h.update(f"host:{node_name}".encode())
    h.update(f"file:{path}".encode())
    uid = h.hexdigest()
    md["uid"] = uid
    md["name"] = f"{md.get('name', '')}-{node_name}".lower()
    md.setdefault("namespace", "default")
    ann = md.setdefault("annotations", {})
    ann[CONFIG_HASH] = uid
    ann[CONFIG_SEEN] = seen
    ann[CONFIG_SOURCE] = "file"
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    spec.setdefault("tolerations", []).append({"operator": "Exists", "effect": "NoExecute"})
    from ..apiserver.registry import pod_qos_class

    pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod)}
    return pod


def mirror_pod(pod: dict, node_name: str, node_uid: str) -> dict:
    """CreateMirrorPod: the copy the kubelet posts to the API server."""
    m = deepcopy(pod)
    md = m["metadata"]
    hash_ = md["annotations"][CONFIG_HASH]
    md.pop("uid", None)
    md.pop("resourceVersion", None)
    md["annotations"] = dict(md["annotations"])
    md["annotations"][CONFIG_MIRROR] = hash_
    md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
                              "controller": True}]
    m.pop("status", None)
    return m


def is_mirror_pod(pod: dict) -> bool:
    return CONFIG_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def _probe(path: str, port: int, host: str, scheme: str = "HTTPS", **kw) -> dict:
    p = {"httpGet": {"host": host, "path": path, "port": port, "scheme": scheme}, "initialDelaySeconds": 10,
         "timeoutSeconds": 15, "failureThreshold": 8, "periodSeconds": 10}
    p.update(kw)
    return p


def _cp_pod(name: str, image: str, command: list[str], cpu: str, probes: dict, volumes: list[tuple[str, str, str]],
            memory: str | None = None) -> dict:
    requests = {"cpu": cpu, **({"memory": memory} if memory else {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system",
                         "labels": {"component": name, "tier": "control-plane"}},
            "spec": {"hostNetwork": True, "priority": 2000001000, "priorityClassName": "system-node-critical",
                     "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": name, "image": image, "command": command, "imagePullPolicy":
                                     "IfNotPresent", "resources": {"requests": requests},
                                     "volumeMounts": [{"name": v, "mountPath": p} for v, p, _ in volumes],
                                     **probes}],
                     "volumes": [{"name": v, "hostPath": {"path": p, "type": t}} for v, p, t in volumes]}}


def kubeadm_control_plane(node_ip: str, version: str = "v1.34.1", etcd_version: str = "3.6.4-0",
                          service_cidr: str = "10.96.0.0/12", pod_cidr: str = "10.244.0.0/16") -> dict[str, dict]:
    """What ``kubeadm init`` writes to /etc/kubernetes/manifests (cmd/kubeadm/app/phases/controlplane and
    phases/etcd): four static pods, host-networked, system-node-critical, probed on their health endpoints."""
    reg = "registry.k8s.io"
    etcd_probe = {"livenessProbe": _probe("/livez", 2381, "127.0.0.1", "HTTP", timeoutSeconds=15),
                  "readinessProbe": _probe("/readyz", 2381, "127.0.0.1", "HTTP", failureThreshold=3,
                                           initialDelaySeconds=0, periodSeconds=1),
                  "startupProbe": _probe("/readyz", 2381, "127.0.0.1", "HTTP", failureThreshold=24)}
    return {
        "etcd.yaml": _cp_pod("etcd", f"{reg}/etcd:{etcd_version}", [
            "etcd", f"--advertise-client-urls=https://{node_ip}:2379", "--data-dir=/var/lib/etcd",
            f"--listen-client-urls=https://127.0.0.1:2379,https://{node_ip}:2379",
            "--listen-metrics-urls=http://127.0.0.1:2381"], "100m", etcd_probe,
            [("etcd-data", "/var/lib/etcd", "DirectoryOrCreate"),
             ("etcd-certs", "/etc/kubernetes/pki/etcd", "DirectoryOrCreate")], memory="100Mi"),
        "kube-apiserver.yaml": _cp_pod("kube-apiserver", f"{reg}/kube-apiserver:{version}", [
            "kube-apiserver", f"--advertise-address={node_ip}", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction", "--etcd-servers=https://127.0.0.1:2379",
            "--secure-port=6443", f"--service-cluster-ip-range={service_cidr}"], "250m",
            {"livenessProbe": _probe("/livez", 6443, node_ip),
             "readinessProbe": _probe("/readyz", 6443, node_ip, failureThreshold=3, initialDelaySeconds=0,
                                      periodSeconds=1),
             "startupProbe": _probe("/livez", 6443, node_ip, failureThreshold=24)},
            [("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate")]),
        "kube-controller-manager.yaml": _cp_pod("kube-controller-manager", f"{reg}/kube-controller-manager:{version}",
            ["kube-controller-manager", "--allocate-node-cidrs=true", f"--cluster-cidr={pod_cidr}",
             "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--leader-elect=true",
             "--use-service-account-credentials=true"], "200m",
            {"livenessProbe": _probe("/healthz", 10257, "127.0.0.1"),
             "startupProbe": _probe("/healthz", 10257, "127.0.0.1", failureThreshold=24)},
            [("kubeconfig", "/etc/kubernetes/controller-manager.conf", "FileOrCreate")]),
        "kube-scheduler.yaml": _cp_pod("kube-scheduler", f"{reg}/kube-scheduler:{version}",
            ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"], "100m",
            {"livenessProbe": _probe("/livez", 10259, "127.0.0.1"),
             "readinessProbe": _probe("/readyz", 10259, "127.0.0.1", failureThreshold=3, initialDelaySeconds=0,
                                      periodSeconds=1),
             "startupProbe": _probe("/livez", 10259, "127.0.0.1", failureThreshold=24)},
            [("kubeconfig", "/etc/kubernetes/scheduler.conf", "FileOrCreate")]),
    }
