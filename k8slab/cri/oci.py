"""Mirrors: the OCI runtime specification (opencontainers/runtime-spec config.md, config-linux.md), containerd's
CRI plugin (internal/cri/server/container_create_linux.go containerSpec, pkg/oci/spec.go populateDefaultUnixSpec,
defaultUnixCaps), CRI-O (internal/config/capabilities, server/container_create_linux.go) and runc (create, start,
state).

What a container runtime does with a ``CreateContainer`` request: it writes an OCI bundle, a ``config.json`` built
from the kubelet's ``ContainerConfig``, the sandbox and the image, and hands it to the low-level runtime (runc),
which creates the namespaces and cgroup and starts the process. containerd and CRI-O build nearly the same spec;
where they differ (socket, cgroup naming, default capabilities, bundle paths, annotations) a
:class:`RuntimeProfile` says how.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

OCI_VERSION = "1.1.0"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# containerd pkg/oci defaultUnixCaps
CONTAINERD_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
# CRI-O's default_capabilities (crio.conf)
CRIO_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID",
             "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_KILL")

MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True)
class RuntimeProfile:
    """What differs between the CRI runtimes a kubeadm node can use."""

    name: str  # as in the node's containerRuntimeVersion: containerd://1.7.24, cri-o://1.34.1
    version: str
    socket: str
    pause_image: str
    cgroup_infix: str  # systemd cgroup driver: <pod slice>:<infix>:<container id>
    capabilities: tuple[str, ...]
    bundle_dir: str  # {id} is the container (or sandbox) id
    annotation_prefix: str
    monitor: str  # the per-container process that holds its stdio and writes its log

    def bundle(self, cid: str) -> str:
        return self.bundle_dir.format(id=cid)


CONTAINERD = RuntimeProfile("containerd", "1.7.24", "unix:///run/containerd/containerd.sock",
                            "registry.k8s.io/pause:3.10", "cri-containerd", CONTAINERD_CAPS,
                            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}", "io.kubernetes.cri",
                            "containerd-shim-runc-v2")
CRIO = RuntimeProfile("cri-o", "1.34.1", "unix:///var/run/crio/crio.sock", "registry.k8s.io/pause:3.10",
                      "crio", CRIO_CAPS, "/run/containers/storage/overlay-containers/{id}/userdata",
                      "io.kubernetes.cri-o", "conmon")
PROFILES = {"containerd": CONTAINERD, "cri-o": CRIO}


def profile(name: str) -> RuntimeProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f'unknown container runtime "{name}": choose one of {", ".join(PROFILES)}') from None


def cgroups_path(prof: RuntimeProfile, cgroup_parent: str, cid: str) -> str:
    """The systemd cgroup driver's path: "<pod slice>:<prefix>:<id>" (runc makes it a transient scope)."""
    slice_ = cgroup_parent.rstrip("/").rsplit("/", 1)[-1]
    return f"{slice_}:{prof.cgroup_infix}:{cid}"


def _capabilities(prof: RuntimeProfile, sc: dict) -> dict:
    caps = list(prof.capabilities)
    if sc.get("privileged"):
        caps = list(ALL_CAPS)
    add = [c if c.startswith("CAP_") else f"CAP_{c}" for c in (sc.get("capabilities") or {}).get("add") or []]
    drop = [c if c.startswith("CAP_") else f"CAP_{c}" for c in (sc.get("capabilities") or {}).get("drop") or []]
    if "CAP_ALL" in drop:
        caps = []
    caps = [c for c in caps if c not in drop] + [c for c in add if c not in caps and c != "CAP_ALL"]
    if "CAP_ALL" in add:
        caps = list(ALL_CAPS)
    return {"bounding": caps, "effective": caps, "permitted": caps}


ALL_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
            "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
            "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE")


# The image configs (entrypoint, cmd, env, working dir) of the images the catalogue knows best; others run
# their command as given.
IMAGE_CONFIGS = {
    "docker.io/library/nginx": {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"],
                                "Env": [DEFAULT_PATH, "NGINX_VERSION=1.27.4"], "WorkingDir": ""},
    "docker.io/library/busybox": {"Cmd": ["sh"], "Env": [DEFAULT_PATH]},
    "docker.io/library/redis": {"Entrypoint": ["docker-entrypoint.sh"], "Cmd": ["redis-server"],
                                "Env": [DEFAULT_PATH], "WorkingDir": "/data"},
    "registry.k8s.io/pause": {"Entrypoint": ["/pause"], "Env": [DEFAULT_PATH], "User": "65535:65535"},
    "registry.k8s.io/coredns/coredns": {"Entrypoint": ["/coredns"], "Env": [DEFAULT_PATH]},
}


def image_config(repo_tag: str) -> dict:
    repo = repo_tag.split("@", 1)[0].rsplit(":", 1)[0] if ":" in repo_tag.rsplit("/", 1)[-1] else repo_tag
    return dict(IMAGE_CONFIGS.get(repo, {}))


def _default_mounts(sandbox_dir: str, prof: "RuntimeProfile") -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/etc/hosts", "type": "bind", "source": f"{sandbox_dir}/hosts",
         "options": ["rbind", "rprivate", "rw"]},
        {"destination": "/etc/hostname", "type": "bind", "source": f"{sandbox_dir}/hostname",
         "options": ["rbind", "rprivate", "rw"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": f"{sandbox_dir}/resolv.conf",
         "options": ["rbind", "rprivate", "rw"]},
        {"destination": "/dev/shm", "type": "bind",
         "source": sandbox_dir.replace("/var/lib/", "/run/") + "/shm" if prof.name == "containerd"
         else f"{sandbox_dir}/shm",
         "options": ["rbind", "rprivate", "rw"]},
    ]


def container_spec_for_tag(prof: RuntimeProfile, cid: str, config: dict, sandbox_id: str, sandbox_config: dict,
                           netns: str, pause_pid: int, repo_tag: str) -> dict:
    """container_spec with the image config of ``repo_tag``."""
    return container_spec(prof, cid, config, sandbox_id, sandbox_config, netns, pause_pid,
                          {"config": image_config(repo_tag)})


def container_spec(prof: RuntimeProfile, cid: str, config: dict, sandbox_id: str, sandbox_config: dict,
                   netns: str, pause_pid: int, image: dict) -> dict:
    """The config.json for one container: the image's entrypoint and cmd overridden by the pod's command and
    args, its env then the pod's, user and capabilities from the security context, the sandbox's namespaces
    joined, the cgroup from the pod's cgroup parent, and the kubelet's resources."""
    img_cfg = image.get("config") or {}
    command = list(config.get("command") or [])
    args = list(config.get("args") or [])
    if command:
        argv = command + args
    else:
        argv = list(img_cfg.get("Entrypoint") or []) + (args or list(img_cfg.get("Cmd") or []))
    env = [DEFAULT_PATH] if not any(e.startswith("PATH=") for e in img_cfg.get("Env") or []) else []
    env += list(img_cfg.get("Env") or [])
    env.append(f"HOSTNAME={sandbox_config.get('hostname', '')}")
    env += [f"{e['key']}={e['value']}" for e in config.get("envs") or []]
    sc = ((config.get("linux") or {}).get("securityContext")) or {}
    uid = int((sc.get("runAsUser") or {}).get("value", 0)) if isinstance(sc.get("runAsUser"), dict) else \
        int(sc.get("runAsUser") or 0)
    gid = int((sc.get("runAsGroup") or {}).get("value", 0)) if isinstance(sc.get("runAsGroup"), dict) else \
        int(sc.get("runAsGroup") or 0)
    res = ((config.get("linux") or {}).get("resources")) or {}
    sandbox_dir = f"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{sandbox_id}" \
        if prof.name == "containerd" else f"/run/containers/storage/overlay-containers/{sandbox_id}/userdata"
    cri_dests = {m["containerPath"] for m in config.get("mounts") or []}
    mounts = [m for m in _default_mounts(sandbox_dir, prof) if m["destination"] not in cri_dests]
    for m in config.get("mounts") or []:
        mounts.append({"destination": m["containerPath"], "type": "bind", "source": m["hostPath"],
                       "options": ["rbind", "rprivate", "ro" if m.get("readonly") else "rw"]})
    cgroup_parent = ((sandbox_config.get("linux") or {}).get("cgroupParent")) or ""
    linux_resources = {"devices": [{"allow": False, "access": "rwm"}],
                       "cpu": {"shares": res.get("cpu_shares", 2)}}
    if res.get("cpu_quota"):
        linux_resources["cpu"].update({"quota": res["cpu_quota"], "period": res.get("cpu_period", 100000)})
    if res.get("memory_limit_in_bytes"):
        linux_resources["memory"] = {"limit": res["memory_limit_in_bytes"]}
    md = sandbox_config.get("metadata") or {}
    p = prof.annotation_prefix
    if prof.name == "containerd":
        annotations = {f"{p}.container-type": "container", f"{p}.sandbox-id": sandbox_id,
                       f"{p}.container-name": (config.get("metadata") or {}).get("name", ""),
                       f"{p}.image-name": (config.get("image") or {}).get("userSpecifiedImage", ""),
                       f"{p}.sandbox-name": md.get("name", ""), f"{p}.sandbox-namespace": md.get("namespace", ""),
                       f"{p}.sandbox-uid": md.get("uid", "")}
    else:
        annotations = {f"{p}.ContainerType": "container", f"{p}.SandboxID": sandbox_id,
                       f"{p}.ContainerName": (config.get("metadata") or {}).get("name", ""),
                       f"{p}.ImageName": (config.get("image") or {}).get("userSpecifiedImage", ""),
                       "io.kubernetes.pod.name": md.get("name", ""),
                       "io.kubernetes.pod.namespace": md.get("namespace", ""),
                       "io.kubernetes.pod.uid": md.get("uid", "")}
    spec = {
        "ociVersion": OCI_VERSION,
        "process": {"terminal": False, "user": {"uid": uid, "gid": gid, "additionalGids": [gid]},
                    "args": argv, "env": env, "cwd": config.get("workingDir") or img_cfg.get("WorkingDir") or "/",
                    "capabilities": _capabilities(prof, sc),
                    "noNewPrivileges": sc.get("noNewPrivs", False) or sc.get("allowPrivilegeEscalation") is False,
                    "oomScoreAdj": res.get("oom_score_adj", 0)},
        "root": {"path": "rootfs", "readonly": bool(sc.get("readonlyRootfs") or sc.get("readOnlyRootFilesystem"))},
        "hostname": sandbox_config.get("hostname", ""),
        "mounts": mounts,
        "annotations": annotations,
        "linux": {
            "resources": linux_resources,
            "cgroupsPath": cgroups_path(prof, cgroup_parent, cid),
            "namespaces": [{"type": "pid"},
                           {"type": "ipc", "path": f"/proc/{pause_pid}/ns/ipc"},
                           {"type": "uts", "path": f"/proc/{pause_pid}/ns/uts"},
                           {"type": "mount"},
                           {"type": "network", "path": netns} if netns else {"type": "network",
                                                                           "path": "/proc/1/ns/net"},
                           {"type": "cgroup"}],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if not netns:  # hostNetwork: the container stays in the host's network namespace
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
    return spec


def sandbox_spec(prof: RuntimeProfile, sid: str, sandbox_config: dict, netns: str, pause_image: str) -> dict:
    """The pause container's config.json: it creates the pod's IPC and UTS namespaces, joins the network
    namespace CNI set up, and runs /pause (which only reaps zombies and waits for a signal)."""
    cgroup_parent = ((sandbox_config.get("linux") or {}).get("cgroupParent")) or ""
    p = prof.annotation_prefix
    md = sandbox_config.get("metadata") or {}
    ctype = {f"{p}.container-type": "sandbox", f"{p}.sandbox-id": sid, f"{p}.sandbox-name": md.get("name", ""),
             f"{p}.sandbox-namespace": md.get("namespace", ""), f"{p}.sandbox-uid": md.get("uid", "")} \
        if prof.name == "containerd" else {f"{p}.ContainerType": "sandbox", f"{p}.SandboxID": sid,
                                           "io.kubernetes.pod.name": md.get("name", "")}
    namespaces = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                  {"type": "network", "path": netns}, {"type": "cgroup"}]
    if not netns:
        namespaces = [n for n in namespaces if n["type"] != "network"]
    return {"ociVersion": OCI_VERSION,
            "process": {"terminal": False, "user": {"uid": 65535, "gid": 65535, "additionalGids": [65535]},
                        "args": ["/pause"], "env": [DEFAULT_PATH], "cwd": "/",
                        "capabilities": {"bounding": list(prof.capabilities), "effective": list(prof.capabilities),
                                         "permitted": list(prof.capabilities)},
                        "noNewPrivileges": True, "oomScoreAdj": -998},
            "root": {"path": "rootfs", "readonly": True},
            "hostname": sandbox_config.get("hostname", ""),
            "annotations": dict(ctype, **{f"{p}.image-name" if prof.name == "containerd" else f"{p}.ImageName":
                                          pause_image}),
            "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 2}},
                      "cgroupsPath": cgroups_path(prof, cgroup_parent, sid), "namespaces": namespaces,
                      "maskedPaths": list(MASKED_PATHS), "readonlyPaths": list(READONLY_PATHS)}}


class Runc:
    """runc, the OCI runtime: ``create`` sets up namespaces and the cgroup from the bundle's config.json and
    leaves the process waiting; ``start`` runs it; ``kill`` signals it; ``delete`` removes it; ``state`` reports
    (runc state's JSON)."""

    def __init__(self, first_pid: int = 2400) -> None:
        self.containers: dict[str, dict] = {}
        self._next_pid = first_pid
        self.log: list[tuple[str, str]] = []  # (command, id)

    def create(self, cid: str, bundle: str, write_config: Callable[[], dict]) -> int:
        """``runc create`` of the bundle whose config.json ``write_config`` writes out. The runtime's specs are
        pure functions of the CRI request, the sandbox and the image, none of which change, so the file is
        produced when someone reads it (:meth:`config`), the same as if it had been written at creation."""
        self._next_pid += 7
        self.containers[cid] = {"id": cid, "status": "created", "pid": self._next_pid, "bundle": bundle,
                                "config.json": write_config}
        self.log.append(("create", cid))
        return self._next_pid

    def config(self, cid: str) -> dict:
        """The bundle's config.json."""
        return self.containers[cid]["config.json"]()

    def start(self, cid: str) -> None:
        self.containers[cid]["status"] = "running"
        self.log.append(("start", cid))

    def kill(self, cid: str, signal: str = "SIGTERM") -> None:
        if cid in self.containers:
            self.log.append((f"kill {signal}", cid))
            if signal == "SIGKILL" or signal == "KILL":
                self.containers[cid]["status"] = "stopped"

    def stopped(self, cid: str) -> None:
        if cid in self.containers:
            self.containers[cid]["status"] = "stopped"

    def delete(self, cid: str) -> None:
        if self.containers.pop(cid, None) is not None:
            self.log.append(("delete", cid))

    def state(self, cid: str) -> dict:
        s = self.containers[cid]
        spec = self.config(cid)
        return {"ociVersion": spec["ociVersion"], "id": cid, "pid": s["pid"], "status": s["status"],
                "bundle": s["bundle"], "rootfs": f"{s['bundle']}/rootfs",
                "annotations": dict(spec.get("annotations") or {})}
