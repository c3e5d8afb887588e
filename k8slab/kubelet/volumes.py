"""Mirrors: pkg/kubelet/volumemanager (WaitForAttachAndMount, the reconciler's MountVolume), pkg/volume/emptydir,
pkg/volume/hostpath, pkg/volume/configmap, pkg/volume/secret, pkg/volume/projected, pkg/volume/csi (csi_attacher.go
MountDevice -> NodeStageVolume, csi_mounter.go SetUp -> NodePublishVolume), pkg/volume/util/atomic_writer.go and
pkg/util/goroutinemap/exponentialbackoff (500 ms doubling to 2m2s).

Before the kubelet creates a pod's sandbox, its volume manager mounts every volume of the pod under
``/var/lib/kubelet/pods/<uid>/volumes/<plugin>/<name>`` on the host (``kubernetes.io~configmap``,
``kubernetes.io~secret``, ``kubernetes.io~projected``, ``kubernetes.io~empty-dir``; a CSI volume under
``kubernetes.io~csi/<pv name>/mount`` after the driver staged it once per node). ConfigMap and Secret data are
written by the atomic writer: files in a timestamped directory, a ``..data`` symlink to it, and one symlink per key.
A volume that cannot be set up (a ConfigMap that does not exist) gives a ``FailedMount`` event and is retried with
exponential back-off; the pod stays ``ContainerCreating``.
"""

from __future__ import annotations

import base64
import hashlib

from ..api import errors

INITIAL_DURATION_BEFORE_RETRY_MS = 500
MAX_DURATION_BEFORE_RETRY_MS = 2 * 60_000 + 2_000  # 2m2s
POD_ATTACH_AND_MOUNT_TIMEOUT_MS = 2 * 60_000
PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "projected": "kubernetes.io~projected",
               "downwardAPI": "kubernetes.io~downward-api", "persistentVolumeClaim": "kubernetes.io~csi"}


class MountError(Exception):
    pass


class CSIDriver:
    """A CSI node plugin (the node half of a driver, e.g. a hostpath or block-storage driver)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, dict]] = []
        self.staged: dict[str, str] = {}  # volume handle -> staging path
        self.published: dict[str, str] = {}  # target path -> volume handle

    def node_stage_volume(self, volume_id: str, staging_target_path: str, capability: dict) -> None:
        self.calls.append(("NodeStageVolume", {"volume_id": volume_id, "staging_target_path": staging_target_path,
                                               "volume_capability": capability}))
        self.staged[volume_id] = staging_target_path

    def node_publish_volume(self, volume_id: str, staging_target_path: str, target_path: str,
                            readonly: bool) -> None:
        self.calls.append(("NodePublishVolume", {"volume_id": volume_id, "staging_target_path": staging_target_path,
                                                 "target_path": target_path, "readonly": readonly}))
        self.published[target_path] = volume_id

    def node_unpublish_volume(self, volume_id: str, target_path: str) -> None:
        self.calls.append(("NodeUnpublishVolume", {"volume_id": volume_id, "target_path": target_path}))
        self.published.pop(target_path, None)


def _atomic_write(files: dict, base: str, payload: dict[str, str], ts: str) -> None:
    """AtomicWriter.Write: the data in ..<timestamp>/, ..data -> it, and a symlink per key."""
    d = f"..{ts}"
    for key, content in sorted(payload.items()):
        files[f"{base}/{d}/{key}"] = content
        files[f"{base}/{key}"] = f"-> ..data/{key}"
    files[f"{base}/..data"] = f"-> {d}"


class VolumeManager:
    """The volume manager of one kubelet: what is mounted where (``host_files``) and the mount retries."""

    def __init__(self, kubelet) -> None:
        self.kubelet = kubelet
        self.host_files: dict[str, str | None] = {}  # path on the host -> content (None for a directory)
        self.mounted: dict[str, dict[str, str]] = {}  # pod uid -> volume name -> host path
        self.csi_drivers: dict[str, CSIDriver] = {}
        self.retry: dict[tuple[str, str], tuple[int, int]] = {}  # (uid, volume) -> (backoff ms, next try at)

    def driver(self, name: str) -> CSIDriver:
        if name not in self.csi_drivers:
            self.csi_drivers[name] = CSIDriver(name)
        return self.csi_drivers[name]

    def pod_dir(self, pod: dict) -> str:
        return f"/var/lib/kubelet/pods/{pod['metadata'].get('uid', '')}"

    def mount_pod(self, pod: dict) -> tuple[list[str], int]:
        """Try to mount every volume not yet mounted; returns (errors as FailedMount messages, ms to the next
        retry, 0 if all are mounted)."""
        uid = pod["metadata"].get("uid", "")
        done = self.mounted.setdefault(uid, {})
        now = self.kubelet.loop.now
        errs, wait = [], 0
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol.get("name", "")
            if name in done:
                continue
            backoff, at = self.retry.get((uid, name), (0, 0))
            if at > now:
                wait = max(wait, at - now) if not wait else min(wait, at - now)
                continue
            try:
                done[name] = self.set_up(pod, vol)
                self.retry.pop((uid, name), None)
                self.kubelet.loop.emit(self.kubelet.component, "volume.mounted", _ref(pod),
                                       {"volume": name, "path": done[name]})
            except MountError as e:
                backoff = INITIAL_DURATION_BEFORE_RETRY_MS if not backoff else min(backoff * 2,
                                                                                  MAX_DURATION_BEFORE_RETRY_MS)
                self.retry[(uid, name)] = (backoff, now + backoff)
                errs.append(f'MountVolume.SetUp failed for volume "{name}" : {e}')
                wait = backoff if not wait else min(wait, backoff)
        return errs, wait

    def set_up(self, pod: dict, vol: dict) -> str:
        md = pod["metadata"]
        ns = md.get("namespace", "default")
        name = vol["name"]
        client = self.kubelet.client
        ts = _timestamp(self.kubelet.loop.now)
        if "hostPath" in vol:
            path = vol["hostPath"].get("path", "")
            if vol["hostPath"].get("type") == "DirectoryOrCreate":
                self.host_files.setdefault(path, None)
            return path
        plugin = next((PLUGIN_DIRS[k] for k in PLUGIN_DIRS if k in vol), "kubernetes.io~empty-dir")
        if "persistentVolumeClaim" in vol:
            return self._set_up_csi(pod, vol)
        base = f"{self.pod_dir(pod)}/volumes/{plugin}/{name}"
        self.host_files[base] = None
        if "configMap" in vol:
            src = vol["configMap"]
            try:
                cm = client.get("configmaps", src.get("name", ""), ns)
            except errors.StatusError as e:
                if errors.is_not_found(e) and src.get("optional"):
                    return base
                raise MountError(f'configmap "{src.get("name", "")}" not found') from None
            _atomic_write(self.host_files, base, _select(dict(cm.get("data") or {}), src.get("items")), ts)
        elif "secret" in vol:
            src = vol["secret"]
            try:
                sec = client.get("secrets", src.get("secretName", ""), ns)
            except errors.StatusError:
                if src.get("optional"):
                    return base
                raise MountError(f'secret "{src.get("secretName", "")}" not found') from None
            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (sec.get("data") or {}).items()}
            data.update(sec.get("stringData") or {})
            _atomic_write(self.host_files, base, _select(data, src.get("items")), ts)
        elif "projected" in vol:
            payload: dict[str, str | None] = {}
            for s in vol["projected"].get("sources") or []:
                if "serviceAccountToken" in s:
                    # the kubelet's token manager asks the API server (TokenRequest) for a bound token and
                    # rotates it at 80 % of its life; the model records the request, not the signed JWT
                    t = s["serviceAccountToken"]
                    payload[t.get("path", "token")] = None
                    self.kubelet.loop.emit(self.kubelet.component, "token.request", _ref(pod),
                                           {"serviceAccount": (pod.get("spec") or {}).get("serviceAccountName",
                                                                                         "default"),
                                            "expirationSeconds": t.get("expirationSeconds", 3607),
                                            "audience": t.get("audience", "")})
                elif "configMap" in s:
                    try:
                        cm = client.get("configmaps", s["configMap"].get("name", ""), ns)
                    except errors.StatusError:
                        if s["configMap"].get("optional"):
                            continue
                        raise MountError(f'configmap "{s["configMap"].get("name", "")}" not found') from None
                    payload.update(_select(dict(cm.get("data") or {}), s["configMap"].get("items")))
                elif "downwardAPI" in s:
                    for item in s["downwardAPI"].get("items") or []:
                        fp = (item.get("fieldRef") or {}).get("fieldPath", "")
                        payload[item["path"]] = field_value(pod, fp)
            _atomic_write(self.host_files, base, payload, ts)
        return base

    def _set_up_csi(self, pod: dict, vol: dict) -> str:
        md = pod["metadata"]
        ns = md.get("namespace", "default")
        claim = vol["persistentVolumeClaim"].get("claimName", "")
        client = self.kubelet.client
        try:
            pvc = client.get("persistentvolumeclaims", claim, ns)
        except errors.StatusError:
            raise MountError(f'persistentvolumeclaim "{claim}" not found') from None
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase", "Bound") != "Bound":
            raise MountError(f'PVC {ns}/{claim} is not bound')
        try:
            pv = client.get("persistentvolumes", pv_name)
        except errors.StatusError:
            raise MountError(f'persistentvolume "{pv_name}" not found') from None
        csi = (pv.get("spec") or {}).get("csi")
        if not csi:
            raise MountError(f'persistentvolume "{pv_name}" is not a CSI volume')
        driver = self.driver(csi.get("driver", ""))
        handle = csi.get("volumeHandle", "")
        capability = {"mount": {"fs_type": csi.get("fsType", "ext4")},
                      "access_mode": ((pv.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"])[0]}
        staging = f"/var/lib/kubelet/plugins/kubernetes.io/csi/{driver.name}/" \
                  f"{hashlib.sha256(handle.encode()).hexdigest()}/globalmount"
        if handle not in driver.staged:
            driver.node_stage_volume(handle, staging, capability)
            self.host_files[staging] = None
        target = f"{self.pod_dir(pod)}/volumes/kubernetes.io~csi/{pv_name}/mount"
        driver.node_publish_volume(handle, staging, target, bool(vol["persistentVolumeClaim"].get("readOnly")))
        self.host_files[target] = None
        self.host_files[target.rsplit("/", 1)[0] + "/vol_data.json"] = \
            f'{{"driverName":"{driver.name}","specVolID":"{pv_name}","volumeHandle":"{handle}"}}'
        return target

    def tear_down(self, pod: dict) -> None:
        """Unmount and remove the pod's volume directories (the pod is gone)."""
        uid = pod["metadata"].get("uid", "")
        prefix = f"/var/lib/kubelet/pods/{uid}/"
        for drv in self.csi_drivers.values():
            for target, handle in list(drv.published.items()):
                if target.startswith(prefix):
                    drv.node_unpublish_volume(handle, target)
        for path in [p for p in self.host_files if p.startswith(prefix)]:
            del self.host_files[path]
        self.mounted.pop(uid, None)
        for key in [k for k in self.retry if k[0] == uid]:
            del self.retry[key]

    def tree(self, uid: str | None = None) -> list[str]:
        """The host paths the kubelet created, sorted (for one pod if ``uid`` is given)."""
        prefix = f"/var/lib/kubelet/pods/{uid}/" if uid else ""
        return sorted(p for p in self.host_files if p.startswith(prefix))


def _select(data: dict, items: list | None) -> dict:
    if not items:
        return data
    return {it.get("path", it["key"]): data[it["key"]] for it in items if it.get("key") in data}


def _timestamp(ms: int) -> str:
    from ..api.objects import rfc3339

    t = rfc3339(ms).rstrip("Z").replace("-", "_").replace("T", "_").replace(":", "_")
    return f"{t}.{(ms % 1000) * 1_000_000:09d}"


def _ref(pod: dict) -> str:
    return f"pods/{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"


def field_value(pod: dict, path: str) -> str:
    """The downward API's fieldRef values the kubelet resolves itself (podIP and hostIP from its status)."""
    md, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    if path.startswith("metadata.labels['") or path.startswith("metadata.annotations['"):
        key = path.split("['", 1)[1].rstrip("']")
        return str((md.get("labels" if "labels" in path else "annotations") or {}).get(key, ""))
    return str({"metadata.name": md.get("name"), "metadata.namespace": md.get("namespace", "default"),
                "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
                "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": status.get("podIP"),
                "status.hostIP": status.get("hostIP")}.get(path) or "")
