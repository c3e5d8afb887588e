"""Mirrors: pkg/registry/core/pod/strategy.go, pkg/registry/core/service/{storage/alloc.go,ipallocator,portallocator},
pkg/registry/apps/deployment/strategy.go, staging/src/k8s.io/apiserver/pkg/registry/rest/create.go,
staging/src/k8s.io/apiserver/pkg/storage/names/generate.go, pkg/apis/core/helper/qos/qos.go.

What the API server's REST storage does to an object before it is stored: fill in server-owned metadata (uid,
creationTimestamp, generation, a name from generateName), reset fields a client may not set on create (a new Pod's
status is Pending), keep spec and status apart on update (the main resource cannot change status, the status
subresource cannot change spec), bump ``metadata.generation`` when the spec changes, and allocate Service
ClusterIPs and NodePorts.
"""

from __future__ import annotations

import ipaddress
import random

from ..api import errors
from ..api.objects import to_json
from ..api.quantity import parse_quantity

# names.SimpleNameGenerator
NAME_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = 63 - RANDOM_LENGTH

# Resources whose metadata.generation tracks spec changes.
GENERATION_RESOURCES = {"deployments", "replicasets", "daemonsets", "statefulsets", "jobs", "cronjobs",
                        "poddisruptionbudgets", "horizontalpodautoscalers", "networkpolicies", "ingresses"}


def random_string(rng: random.Random, alphabet: str, length: int) -> str:
    """utilrand.String: ``length`` characters of ``alphabet``. The same draws and result as
    ``"".join(rng.choice(alphabet) for _ in range(length))`` (``Random.choice`` picks ``alphabet[_randbelow(n)]``,
    which draws ``getrandbits(n.bit_length())`` until the value is below n), without a call per character."""
    n = len(alphabet)
    k = n.bit_length()
    getrandbits = rng.getrandbits
    out = []
    for _ in range(length):
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        out.append(alphabet[r])
    return "".join(out)


def generate_name(base: str, rng: random.Random) -> str:
    if len(base) > MAX_GENERATED_NAME_LENGTH:
        base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + random_string(rng, NAME_ALPHANUMS, RANDOM_LENGTH)


def generate_job_selector(job: dict) -> None:
    """pkg/registry/batch/job/strategy.go generateSelector: label the template with the Job's name and uid and
    select on the uid, so that a Job only ever matches its own pods."""
    md = job["metadata"]
    tmd = job.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
    if tmd.get("labels") is None:
        tmd["labels"] = {}
    labels = tmd["labels"]
    for k in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(k, md.get("name", ""))
    for k in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(k, md["uid"])
    sel = job["spec"].get("selector")
    if sel is None:
        sel = job["spec"]["selector"] = {}
    if sel.get("matchLabels") is None:
        sel["matchLabels"] = {}
    sel["matchLabels"].setdefault("batch.kubernetes.io/controller-uid", md["uid"])


def new_uid(rng: random.Random) -> str:
    """A version-4 UUID drawn from the API server's seeded generator."""
    b = bytearray(rng.getrandbits(128).to_bytes(16, "big"))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# the containers' requests and limits -> their QoS class: the pods of one template all ask the same question
_qos_memo: dict = {}


def pod_qos_class(pod: dict) -> str:
    """GetPodQOS: Guaranteed, Burstable or BestEffort."""
    spec = pod.get("spec", {})
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    try:
        key = to_json([c.get("resources") for c in containers])
    except (TypeError, AttributeError, ValueError):  # not JSON data: no memo
        return _pod_qos_class(containers)
    got = _qos_memo.get(key)
    if got is None:
        if len(_qos_memo) > 4096:
            _qos_memo.clear()
        got = _qos_memo[key] = _pod_qos_class(containers)
    return got


def _pod_qos_class(containers: list) -> str:
    requests: dict[str, object] = {}
    limits: dict[str, object] = {}
    zero = parse_quantity(0)
    is_guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        for name, q in (res.get("requests") or {}).items():
            if name in ("cpu", "memory") and parse_quantity(q) != zero:
                requests[name] = requests.get(name, zero) + parse_quantity(q)
        lim = res.get("limits") or {}
        found = set()
        for name, q in lim.items():
            if name in ("cpu", "memory") and parse_quantity(q) != zero:
                found.add(name)
                limits[name] = limits.get(name, zero) + parse_quantity(q)
        if found != {"cpu", "memory"}:
            is_guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if is_guaranteed:
        for name, q in requests.items():
            if limits.get(name) != q:
                is_guaranteed = False
                break
    if is_guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


class ServiceIPAllocator:
    """ipallocator.Range: ClusterIPs from ``--service-cluster-ip-range`` (kubeadm default 10.96.0.0/12).

    The lower band of the range (16 to 256 addresses) is kept for IPs asked for explicitly; dynamic allocation
    takes a random free address from the upper band first (ServiceIPStaticSubrange).
    """

    def __init__(self, cidr: str, rng: random.Random) -> None:
        self.cidr = cidr
        self.net = ipaddress.ip_network(cidr)
        self.rng = rng
        self.base = int(self.net.network_address) + 1
        self.size = max(0, self.net.num_addresses - 2)  # network and broadcast addresses excluded
        self.static_band = min(max(16, self.size // 16), 256)
        self.allocated: set[int] = set()

    def _err_range(self, ip: str) -> str:
        return (f"the provided IP ({ip}) is not in the valid range. "
                f"The range of valid IPs is {self.cidr}")

    def allocate(self, ip: str) -> None:
        try:
            addr = int(ipaddress.ip_address(ip))
        except ValueError:
            raise ValueError(f"failed to allocate IP {ip}: not a valid IP")
        if not (self.base <= addr < self.base + self.size):
            raise ValueError(self._err_range(ip))
        if addr in self.allocated:
            raise ValueError("provided IP is already allocated")
        self.allocated.add(addr)

    def allocate_next(self) -> str:
        if len(self.allocated) >= self.size:
            raise RuntimeError("range is full")
        lo, hi = self.base + self.static_band, self.base + self.size
        for band in ((lo, hi), (self.base, lo)):
            count = band[1] - band[0]
            if count <= 0:
                continue
            offset = self.rng.randrange(count)
            for i in range(count):
                addr = band[0] + (offset + i) % count
                if addr not in self.allocated:
                    self.allocated.add(addr)
                    return str(ipaddress.ip_address(addr))
        raise RuntimeError("range is full")

    def release(self, ip: str) -> None:
        try:
            self.allocated.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass


class NodePortAllocator:
    """portallocator: NodePorts from ``--service-node-port-range`` (default 30000-32767)."""

    def __init__(self, first: int, last: int, rng: random.Random) -> None:
        self.first, self.last, self.rng = first, last, rng
        self.allocated: set[int] = set()

    def allocate(self, port: int) -> None:
        if not (self.first <= port <= self.last):
            raise ValueError(f"provided port is not in the valid range. "
                             f"The range of valid ports is {self.first}-{self.last}")
        if port in self.allocated:
            raise ValueError("provided port is already allocated")
        self.allocated.add(port)

    def allocate_next(self) -> int:
        count = self.last - self.first + 1
        offset = self.rng.randrange(count)
        for i in range(count):
            p = self.first + (offset + i) % count
            if p not in self.allocated:
                self.allocated.add(p)
                return p
        raise RuntimeError("range is full")

    def release(self, port: int) -> None:
        self.allocated.discard(port)


class Registry:
    """The create/update strategies of the resources the model knows."""

    def __init__(self, rng: random.Random, service_cidr: str, node_port_range: tuple[int, int]) -> None:
        self.rng = rng
        self.service_ips = ServiceIPAllocator(service_cidr, rng)
        self.node_ports = NodePortAllocator(node_port_range[0], node_port_range[1], rng)

    # -- create ---------------------------------------------------------------------------------------------------
    def prepare_for_create(self, resource: str, obj: dict, now: str) -> None:
        md = obj.setdefault("metadata", {})
        md["uid"] = new_uid(self.rng)
        md["creationTimestamp"] = now
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(k, None)
        if resource in GENERATION_RESOURCES:
            md["generation"] = 1
            obj["status"] = {}
        if resource == "pods":
            obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
        elif resource == "namespaces":
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
        elif resource == "services":
            obj["status"] = {"loadBalancer": {}}
        elif resource == "jobs" and not (obj.get("spec") or {}).get("manualSelector"):
            generate_job_selector(obj)

    def allocate_service(self, svc: dict, old: dict | None = None) -> list[errors.FieldError]:
        """Allocate spec.clusterIP(s) and NodePorts (alloc.go); returns field errors, changes nothing on error."""
        spec = svc.setdefault("spec", {})
        errs: list[errors.FieldError] = []
        taken_ip = None
        taken_ports: list[int] = []
        try:
            if old is not None:
                spec["clusterIP"] = old["spec"].get("clusterIP")
                spec["clusterIPs"] = old["spec"].get("clusterIPs")
            else:
                ip = spec.get("clusterIP") or ""
                if ip == "None":
                    spec["clusterIPs"] = ["None"]
                elif ip:
                    try:
                        self.service_ips.allocate(ip)
                    except ValueError as e:
                        errs.append(errors.invalid("spec.clusterIPs", [ip], str(e)))
                        return errs
                    taken_ip = ip
                    spec["clusterIPs"] = [ip]
                else:
                    try:
                        taken_ip = self.service_ips.allocate_next()
                    except RuntimeError:
                        raise errors.new_internal_error("failed to allocate a serviceIP: range is full")
                    spec["clusterIP"] = taken_ip
                    spec["clusterIPs"] = [taken_ip]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                old_ports = {}
                if old is not None:
                    for p in old["spec"].get("ports") or []:
                        if p.get("nodePort"):
                            old_ports[(p.get("port"), p.get("protocol", "TCP"))] = p["nodePort"]
                for i, p in enumerate(spec.get("ports") or []):
                    want = p.get("nodePort")
                    prev = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                    if want and want == prev:
                        continue
                    if want:
                        try:
                            self.node_ports.allocate(int(want))
                        except ValueError as e:
                            errs.append(errors.invalid(f"spec.ports[{i}].nodePort", want, str(e)))
                            continue
                        taken_ports.append(int(want))
                    elif prev:
                        p["nodePort"] = prev
                    else:
                        port = self.node_ports.allocate_next()
                        taken_ports.append(port)
                        p["nodePort"] = port
        finally:
            if errs:
                if taken_ip:
                    self.service_ips.release(taken_ip)
                for p in taken_ports:
                    self.node_ports.release(p)
        return errs

    def release_service(self, svc: dict) -> None:
        ip = svc.get("spec", {}).get("clusterIP")
        if ip and ip != "None":
            self.service_ips.release(ip)
        for p in svc.get("spec", {}).get("ports") or []:
            if p.get("nodePort"):
                self.node_ports.release(p["nodePort"])

    # -- update ---------------------------------------------------------------------------------------------------
    @staticmethod
    def prepare_for_update(resource: str, new: dict, old: dict, subresource: str, has_status: bool) -> None:
        """Keep server-owned metadata; split spec from status; bump generation on spec change."""
        md, omd = new.setdefault("metadata", {}), old["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        if has_status:
            # Stored objects are never changed in place, so the new object may share the old one's parts.
            if subresource == "status":
                for k in list(new.keys()):
                    if k not in ("status", "metadata", "apiVersion", "kind"):
                        new[k] = old[k] if k in old else new[k]
                for k in old:
                    if k not in new:
                        new[k] = old[k]
                # the status subresource may not change labels or annotations either
                for k in ("labels", "annotations", "finalizers", "ownerReferences"):
                    if k in omd:
                        md[k] = omd[k]
                    else:
                        md.pop(k, None)
            else:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        if resource in GENERATION_RESOURCES and subresource != "status":
            if new.get("spec") != old.get("spec"):
                md["generation"] = omd.get("generation", 1) + 1
