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
