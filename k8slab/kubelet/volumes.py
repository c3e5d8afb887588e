"""Mirrors: pkg/kubelet/volumemanager (WaitForAttachAndMount, the reconciler's MountVolume), pkg/volume/emptydir,
pkg/volume/hostpath, pkg/volume/configmap, pkg/volume/secret, pkg/volume/projected, pkg/volume/csi (csi_attacher.go
MountDevice -> NodeStageVolume, csi_mounter.go SetUp -> NodePublishVolume), pkg/volume/util/atomic_writer.go and
pkg/util/goroutinemap/exponentialbackoff (500 ms doubling to 2m2s) and pkg/kubelet/token/token_manager.go.

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
    """AtomicWriter.Write: the data in ..<timestamp>/, ..data -> it, and a symlink per key; the previous
    timestamped directory is removed once ..data points at the new one."""
    d = f"..{ts}"
    old = files.get(f"{base}/..data")
    if old and old[3:] != d:
        prefix = f"{base}/{old[3:]}/"
        for path in [p for p in files if p.startswith(prefix)]:
            del files[path]
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
        self.tokens = TokenManager(self)

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
                    t = s["serviceAccountToken"]
                    payload[t.get("path", "token")] = self.tokens.get_service_account_token(pod, t, vol)
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
        self.tokens.delete_service_account_token(uid)
        for key in [k for k in self.retry if k[0] == uid]:
            del self.retry[key]

    def tree(self, uid: str | None = None) -> list[str]:
        """The host paths the kubelet created, sorted (for one pod if ``uid`` is given)."""
        prefix = f"/var/lib/kubelet/pods/{uid}/" if uid else ""
        return sorted(p for p in self.host_files if p.startswith(prefix))


class TokenManager:
    """pkg/kubelet/token/token_manager.go: the kubelet's cache of ServiceAccount tokens for projected volumes.

    For each (service account, namespace, audiences, expirationSeconds, bound pod) it asks the API server for a
    TokenRequest bound to the pod and keeps it until ``requiresRefresh``: less than 20 % of its life left (minus up
    to 10 s of jitter), or older than 24 h. The projected volume is set up again then and the atomic writer swaps in
    the new token (upstream notices at the pod's next periodic remount; the model remounts at that moment)."""

    MAX_TTL_MS = 24 * 3600 * 1000
    MAX_JITTER_MS = 10_000

    def __init__(self, volumes: "VolumeManager") -> None:
        self.volumes = volumes
        self.cache: dict[tuple, dict] = {}  # key -> TokenRequest (with status.token, status.expirationTimestamp)
        self.refresh_timers: dict[tuple[str, str], object] = {}  # (pod uid, volume) -> timer

    def _jitter(self, key: tuple, issued_ms: int) -> int:
        import random

        return random.Random(f"{key}/{issued_ms}").randint(0, self.MAX_JITTER_MS // 1000) * 1000

    def requires_refresh(self, tr: dict, now: int) -> bool:
        exp_s = tr["spec"]["expirationSeconds"]
        exp_ms = tr["_expiresAt"]
        iat = exp_ms - exp_s * 1000
        jitter = tr["_jitter"]
        if now > iat + self.MAX_TTL_MS - jitter:
            return True
        return now > exp_ms - (exp_s * 20 // 100) * 1000 - jitter

    def refresh_at(self, tr: dict) -> int:
        exp_s = tr["spec"]["expirationSeconds"]
        return min(tr["_expiresAt"] - (exp_s * 20 // 100) * 1000 - tr["_jitter"],
                   tr["_expiresAt"] - exp_s * 1000 + self.MAX_TTL_MS - tr["_jitter"]) + 1

    def get_service_account_token(self, pod: dict, source: dict, vol: dict) -> str:
        """GetServiceAccountToken: the cached token, or a new TokenRequest bound to the pod."""
        kubelet = self.volumes.kubelet
        md = pod["metadata"]
        ns, uid = md.get("namespace", "default"), md.get("uid", "")
        sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        audiences = [source["audience"]] if source.get("audience") else []
        exp = source.get("expirationSeconds", 3600)
        key = (sa, ns, tuple(audiences), exp, "Pod", md["name"], uid)
        now = kubelet.loop.now
        tr = self.cache.get(key)
        if tr is None or self.requires_refresh(tr, now):
            try:
                tr = kubelet.client.create_token(ns, sa, {
                    "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"audiences": audiences or None, "expirationSeconds": exp,
                             "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": md["name"],
                                                "uid": uid}}})
            except errors.StatusError as e:
                raise MountError(f'failed to fetch token: {e}') from None
            tr["_expiresAt"] = now + tr["spec"]["expirationSeconds"] * 1000
            tr["_jitter"] = self._jitter(key, now)
            self.cache[key] = tr
            kubelet.loop.emit(kubelet.component, "token.request", _ref(pod),
                              {"serviceAccount": sa, "expirationSeconds": tr["spec"]["expirationSeconds"],
                               "audience": source.get("audience", ""),
                               "expirationTimestamp": tr["status"]["expirationTimestamp"],
                               "refreshAt": self.refresh_at(tr)})
            self._schedule_refresh(pod, vol, tr)
        return tr["status"]["token"]

    def _schedule_refresh(self, pod: dict, vol: dict, tr: dict) -> None:
        loop = self.volumes.kubelet.loop
        tkey = (pod["metadata"].get("uid", ""), vol["name"])
        prev = self.refresh_timers.pop(tkey, None)
        if prev is not None:
            prev.cancel()
        # the timer names the pod by UID and reads its newest version when it fires, so that a version the
        # kubelet has moved past is not kept alive for the token's lifetime
        self.refresh_timers[tkey] = loop.call_at(self.refresh_at(tr), self._refresh, tkey[0], vol["name"],
                                                 component=self.volumes.kubelet.component,
                                                 label=f"token refresh {_ref(pod)}", background=True)

    def _refresh(self, uid: str, volume: str) -> None:
        self.refresh_timers.pop((uid, volume), None)
        if volume not in self.volumes.mounted.get(uid, {}):
            return
        w = self.volumes.kubelet.workers.get(uid)
        if w is None:
            return
        pod = w.pod
        vol = next((v for v in (pod.get("spec") or {}).get("volumes") or () if v.get("name") == volume), None)
        if vol is None:
            return
        try:
            self.volumes.set_up(pod, vol)
        except MountError:
            return

    def delete_service_account_token(self, pod_uid: str) -> None:
        """DeleteServiceAccountToken: forget the pod's tokens (the pod is gone)."""
        for key in [k for k in self.cache if k[-1] == pod_uid]:
            del self.cache[key]
        for tkey in [k for k in self.refresh_timers if k[0] == pod_uid]:
            self.refresh_timers.pop(tkey).cancel()


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
