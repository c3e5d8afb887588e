"""Mirrors: cmd/kubeadm (the shape of the cluster it builds: a control-plane node running etcd, kube-apiserver,
kube-controller-manager and kube-scheduler, worker nodes running the kubelet, a container runtime and kube-proxy,
and the CoreDNS add-on) and staging/src/k8s.io/kubectl (the facade's verbs).

``Cluster`` builds and wires every component, then offers kubectl-like verbs. Every verb is an API request made
as the ``kubernetes-admin`` user; everything else happens because components watch the API server and react, one
event-loop step at a time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from . import kubectl
from .api import errors, resources
from .api.objects import deepcopy
from .api.serialize import load_manifests
from .apiserver import APIServer
from .apiserver.authn import Credentials
from .client import Client, SharedInformerFactory
from .cni import BridgePlugin
from .controllers import KubeControllerManager
from .cri import ContainerRuntime
from .dns import CoreDNS
from .etcd import MVCCStore
from .kubelet import Kubelet
from .pki import cluster_ca_pem
from .proxy.iptables import SharedRuleCache
from .proxy.kubeproxy import KubeProxy
from .scheduler.scheduler import KubeScheduler
from .sim import Loop, Trace, component_rng

CONTROL_PLANE = "control-plane"
KUBE_DNS_IP_OFFSET = 10  # kubeadm gives kube-dns the 10th address of the service range
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.3"
COMPACTION_INTERVAL_MS = 5 * 60 * 1000  # the API server compacts etcd every 5 minutes


@dataclass
class NodeAgents:
    """What runs on one node: the kubelet, its container runtime and CNI plugin, and kube-proxy."""

    name: str
    ip: str
    role: str
    kubelet: Any
    runtime: Any
    cni: Any
    kube_proxy: Any

    def __repr__(self) -> str:
        return f"<node {self.name} ({self.role}) {self.ip}>"


class Cluster:
    """A whole simulated Kubernetes cluster.

    ``Cluster(nodes=3, seed=0)`` builds a control-plane node and workers ``node-1`` .. ``node-3``, starts every
    component, lets them register and settle, and installs CoreDNS. Nothing else runs until you call ``step()``,
    ``run()`` or ``settle()`` (``apply`` and the other verbs only make API requests, as kubectl does).
    """

    def __init__(self, nodes: int = 3, seed: int = 0, *, node_cpu: str = "4", node_memory: str = "8Gi",
                 max_pods: int = 110, pod_cidr: str = "10.244.0.0/16", service_cidr: str = "10.96.0.0/12",
                 events: bool = True, trace_stages: bool = True, coredns_replicas: int = 2,
                 schedule_on_control_plane: bool = False, trace: Trace | None = None) -> None:
        self._args = dict(nodes=nodes, seed=seed, node_cpu=node_cpu, node_memory=node_memory, max_pods=max_pods,
                          pod_cidr=pod_cidr, service_cidr=service_cidr, events=events, trace_stages=trace_stages,
                          coredns_replicas=coredns_replicas, schedule_on_control_plane=schedule_on_control_plane)
        self._log: list[tuple[int, str, tuple, dict]] = []
        self.seed = seed
        self.pod_cidr = pod_cidr
        self.service_cidr = service_cidr
        self.loop = Loop(trace or Trace())
        self.trace = self.loop.trace
        self.etcd = MVCCStore()
        self.apiserver = APIServer(self.loop, self.etcd, seed, service_cidr, trace_stages=trace_stages)
        self.apiserver.bootstrap()
        self.admin = Client(self.apiserver, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
        rng = component_rng(seed, "kube-controller-manager")
        self.controller_manager = KubeControllerManager(self.apiserver, pod_cidr, 24, ca_pem=cluster_ca_pem(seed),
                                                        events=events, token_rng=rng)
        self.scheduler = KubeScheduler(self.apiserver, component_rng(seed, "kube-scheduler"), events=events)
        self._nodes: dict[str, NodeAgents] = {}
        # every kube-proxy computes the same rules from the same objects: the simulation computes them once
        self.proxy_cache = SharedRuleCache()
        names = [CONTROL_PLANE] + [f"node-{i}" for i in range(1, nodes + 1)]
        for i, name in enumerate(names):
            self._add_node(name, f"192.168.0.{10 + i}", control_plane=(i == 0),
                           cpu=node_cpu, memory=node_memory, max_pods=max_pods,
                           taint_control_plane=not schedule_on_control_plane)
        self.controller_manager.start()
        self.scheduler.start()
        for agents in self._nodes.values():
            agents.kubelet.start()
            agents.kube_proxy.start()
        self.loop.call_later(COMPACTION_INTERVAL_MS, self._compact, component="kube-apiserver",
                             label="etcd compaction", background=True)
        self.settle()
        # kubeadm's CoreDNS add-on: a Deployment and the kube-dns Service, created through the API.
        net = ipaddress.ip_network(service_cidr)
        self.dns_ip = str(net.network_address + KUBE_DNS_IP_OFFSET)
        dns_client = Client(self.apiserver, "coredns", Credentials.x509("system:serviceaccount:kube-system:coredns"))
        self.dns = CoreDNS(self.loop, dns_client, SharedInformerFactory(dns_client), service_ip=self.dns_ip)
        self._install_coredns(coredns_replicas)
        for inf in (self.dns.svc_informer, self.dns.slice_informer, self.dns.ns_informer):
            inf.start()
        self.settle()
        self.ready_step = self.loop.steps

    # -- construction ---------------------------------------------------------------------------------------------
    def _add_node(self, name: str, ip: str, control_plane: bool, cpu: str, memory: str, max_pods: int,
                  taint_control_plane: bool) -> None:
        loop, seed = self.loop, self.seed
        runtime = ContainerRuntime(loop, name, component_rng(seed, f"containerd/{name}"))
        cni = BridgePlugin(name, loop)
        runtime.cni = cni
        kubelet_client = Client(self.apiserver, f"kubelet/{name}", Credentials.x509(f"system:node:{name}",
                                                                                   "system:nodes"))
        labels, taints = {}, []
        if control_plane:
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
            if taint_control_plane:
                taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
        kubelet = Kubelet(loop, kubelet_client, name, runtime, cni, component_rng(seed, f"kubelet/{name}"), ip,
                          capacity={"cpu": cpu, "memory": memory, "pods": str(max_pods)}, labels=labels,
                          taints=taints, control_plane=control_plane)
        proxy_client = Client(self.apiserver, f"kube-proxy/{name}", Credentials.x509("system:kube-proxy"))
        proxy = KubeProxy(loop, proxy_client, SharedInformerFactory(proxy_client), name, ip, self.pod_cidr,
                          component_rng(seed, f"kube-proxy/{name}"), shared=self.proxy_cache)
        self._nodes[name] = NodeAgents(name, ip, "control-plane" if control_plane else "worker", kubelet, runtime,
                                       cni, proxy)

    def _install_coredns(self, replicas: int) -> None:
        labels = {"k8s-app": "kube-dns"}
        self.admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": "coredns", "namespace": "kube-system"}})
        self.admin.create("deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {
                         "priorityClassName": "system-cluster-critical", "serviceAccountName": "coredns",
                         "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                         {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                         "containers": [{"name": "coredns", "image": COREDNS_IMAGE, "args": ["-conf",
                                                                                             "/etc/coredns/Corefile"],
                                         "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                   {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                                   {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                                         "resources": {"limits": {"memory": "170Mi"},
                                                       "requests": {"cpu": "100m", "memory": "70Mi"}},
                                         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}}}],
                         "dnsPolicy": "Default"}}}})
        self.admin.create("services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system",
                         "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                    "kubernetes.io/name": "CoreDNS"}},
            "spec": {"clusterIP": self.dns_ip, "selector": dict(labels),
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                               {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}})

    def _compact(self) -> None:
        rev = self.etcd.revision
        if rev > max(1, self.etcd.compact_revision):
            self.etcd.compact(rev)
            self.loop.emit("kube-apiserver", "etcd.compact", "", {"revision": rev}, target="etcd")
        self.loop.call_later(COMPACTION_INTERVAL_MS, self._compact, component="kube-apiserver",
                             label="etcd compaction", background=True)

    # -- time -----------------------------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """Virtual time in milliseconds."""
        return self.loop.now

    def step(self):
        """Run one event (one component reacting to one thing). Returns the trace events it produced."""
        before = self.trace.last_seq
        self.loop.step()
        return self.trace.since(before)

    def run(self, seconds: float = 0, until: int | None = None) -> int:
        """Advance the clock by ``seconds`` (or to ``until`` ms), running everything due. Returns steps run."""
        target = until if until is not None else self.loop.now + int(seconds * 1000)
        return self.loop.run_until(target)

    def settle(self, timeout: float = 600) -> int:
        """Run until nothing but periodic housekeeping is pending (at most ``timeout`` virtual seconds)."""
        return self.loop.settle(int(timeout * 1000))

    # -- nodes and components -------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    def node(self, name: str) -> NodeAgents:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f'node "{name}" not found; nodes are {", ".join(self._nodes)}') from None

    # -- kubectl verbs ---------------------------------------------------------------------------------------------
    def _record(self, method: str, *args, **kwargs) -> None:
        self._log.append((self.loop.steps, method, args, kwargs))

    def apply(self, manifest, namespace: str | None = None):
        """``kubectl apply -f``: YAML text (one or more documents), dict(s) or a path. Returns the applied
        object(s). A document the API server rejects raises its error and changes nothing."""
        self._record("apply", deepcopy(manifest) if not isinstance(manifest, str) else manifest,
                     namespace=namespace)
        objs = load_manifests(manifest)
        out, failures = [], []
        for obj in objs:
            if namespace and resources.for_kind(obj.get("apiVersion", ""), obj.get("kind", "")).namespaced:
                obj.setdefault("metadata", {}).setdefault("namespace", namespace)
            try:
                res, _ = kubectl.apply(self.admin, obj)
                out.append(kubectl.KubeObject(deepcopy(res)))
            except errors.StatusError as e:
                failures.append(e)
        if failures:
            if len(failures) == 1:
                raise failures[0]
            raise errors.StatusError(failures[0].status | {"message": "; ".join(str(f) for f in failures)})
        return out[0] if len(out) == 1 else out

    def create(self, manifest, namespace: str | None = None):
        """``kubectl create -f``: fails with AlreadyExists if the object exists."""
        self._record("create", manifest, namespace=namespace)
        out = []
        for obj in load_manifests(manifest):
            info = resources.for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
            ns = (namespace or obj.get("metadata", {}).get("namespace") or "default") if info.namespaced else None
            out.append(kubectl.KubeObject(deepcopy(self.admin.create(info.resource, obj, namespace=ns))))
        return out[0] if len(out) == 1 else out

    def get(self, resource: str, name: str | None = None, namespace: str | None = "default",
            selector: str | None = None, all_namespaces: bool = False):
        """``kubectl get``: one object (as a dict that prints as YAML) or a list that prints as the table."""
        info = resources.lookup(resource)
        ns = None if (all_namespaces or not info.namespaced) else namespace
        if name is not None:
            return kubectl.KubeObject(deepcopy(self.admin.get(info.resource, name, namespace=ns)))
        lst = self.admin.list(info.resource, namespace=ns, label_selector=selector)
        return kubectl.ObjectList([deepcopy(o) for o in lst["items"]], info.resource, self.loop.now)

    def delete(self, resource: str, name: str, namespace: str | None = "default",
               grace_period: int | None = None, cascade: str = "background"):
        """``kubectl delete``; ``cascade`` is background (default), foreground or orphan."""
        self._record("delete", resource, name, namespace=namespace, grace_period=grace_period, cascade=cascade)
        info = resources.lookup(resource)
        policy = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}[cascade]
        return kubectl.KubeObject(deepcopy(self.admin.delete(
            info.resource, name, namespace=namespace if info.namespaced else None,
            grace_period_seconds=grace_period, propagation_policy=policy)))

    def scale(self, resource: str, name: str, replicas: int, namespace: str = "default"):
        """``kubectl scale --replicas``: writes the scale subresource."""
        self._record("scale", resource, name, replicas, namespace=namespace)
        info = resources.lookup(resource)
        return kubectl.KubeObject(self.admin.scale(info.resource, name, replicas, namespace=namespace))

    def _rollout_target(self, resource: str) -> None:
        if resources.lookup(resource).resource != "deployments":
            raise ValueError(f'rollout of "{resource}" is not supported here; use a deployment')

    def rollout_undo(self, resource: str, name: str, to_revision: int | None = None, namespace: str = "default"):
        """``kubectl rollout undo [--to-revision=N]``: the template of an earlier revision, written back."""
        from . import rollout

        self._rollout_target(resource)
        out = kubectl.Text(rollout.rollback_deployment(self.admin, name, namespace, to_revision))
        self._record("rollout_undo", resource, name, to_revision=to_revision, namespace=namespace)  # recorded once it succeeded (replay re-runs it)
        return out

    def rollout_pause(self, resource: str, name: str, namespace: str = "default"):
        """``kubectl rollout pause``: sets spec.paused; template changes no longer start a rollout."""
        from . import rollout

        self._rollout_target(resource)
        out = kubectl.Text(rollout.pause_deployment(self.admin, name, namespace))
        self._record("rollout_pause", resource, name, namespace=namespace)  # recorded once it succeeded (replay re-runs it)
        return out

    def rollout_resume(self, resource: str, name: str, namespace: str = "default"):
        """``kubectl rollout resume``: clears spec.paused."""
        from . import rollout

        self._rollout_target(resource)
        out = kubectl.Text(rollout.resume_deployment(self.admin, name, namespace))
        self._record("rollout_resume", resource, name, namespace=namespace)  # recorded once it succeeded (replay re-runs it)
        return out

    def rollout_history(self, resource: str, name: str, namespace: str = "default"):
        """``kubectl rollout history``: one row per revision still kept as a ReplicaSet."""
        from . import rollout

        self._rollout_target(resource)
        return kubectl.Text(rollout.history_text(rollout.history(self.admin, name, namespace)))

    def describe(self, resource: str, name: str, namespace: str = "default") -> str:
        info = resources.lookup(resource)
        obj = self.admin.get(info.resource, name, namespace=namespace if info.namespaced else None)
        evs = [e for e in self.admin.list("events", namespace=obj["metadata"].get("namespace") or "default")["items"]
               if (e.get("involvedObject") or {}).get("uid") == obj["metadata"]["uid"]]
        return kubectl.Text(kubectl.describe(obj, evs, self.loop.now))

    def events(self, namespace: str | None = "default"):
        return self.get("events", namespace=namespace, all_namespaces=namespace is None)

    # -- traffic ---------------------------------------------------------------------------------------------------
    def request(self, url: str, from_node: str | None = None, namespace: str = "default") -> "RequestResult":
        """Send one HTTP request as a pod on ``from_node`` in ``namespace`` would: resolve the name through
        CoreDNS (search list, ndots:5), follow the node's iptables rules to one endpoint, and route to the pod."""
        u = urlparse(url if "://" in url else "http://" + url)
        host = u.hostname or ""
        port = u.port or (443 if u.scheme == "https" else 80)
        src = self.node(from_node or next((n for n in self._nodes if n != CONTROL_PLANE), CONTROL_PLANE))
        hops: list[str] = []
        try:
            ipaddress.ip_address(host)
            ip = host
        except ValueError:
            dns_walk = src.kube_proxy.walk(self.dns_ip, 53, "UDP")
            hops.append(f"{src.name}: DNS query for {host} to kube-dns {self.dns_ip}:53/UDP"
                        + (f" -> DNAT to CoreDNS at {dns_walk.endpoint}" if dns_walk.endpoint else ""))
            lookup = self.dns.resolve(host, "A", namespace)
            for q in lookup.queries:
                hops.append(f"coredns: {q.name} A? {q.rcode}" + (f" {', '.join(r.value for r in q.answers)}"
                                                                 if q.answers else ""))
            if not lookup.addresses:
                return RequestResult(url, None, None, None, hops, f"could not resolve host: {host}")
            ip = lookup.addresses[0]
        walk = src.kube_proxy.walk(ip, port, "TCP")
        chains = " -> ".join(walk.chains)
        hops.append(f"{src.name}: iptables {chains}" + (f" -> DNAT to {walk.endpoint}" if walk.endpoint else ""))
        if walk.rejected:
            return RequestResult(url, None, None, None, hops, "connection refused (service has no endpoints)",
                                 walk)
        target_ip, _, target_port = (walk.endpoint or f"{ip}:{port}").rpartition(":")
        pod = self._pod_by_ip(target_ip)
        if pod is None:
            return RequestResult(url, None, None, walk.endpoint, hops, f"no route to host {target_ip}", walk)
        node = pod["spec"].get("nodeName")
        if node == src.name:
            hops.append(f"{src.name}: {target_ip} is local, delivered over the cni0 bridge")
        else:
            cidr = self.node(node).kubelet.pod_cidr
            hops.append(f"{src.name}: route {cidr} via {self.node(node).ip} ({node})")
        hops.append(f"{node}: pod {pod['metadata']['name']} answered on {target_ip}:{target_port}")
        self.loop.emit("kubectl", "request.http", f"pods/{pod['metadata']['namespace']}/{pod['metadata']['name']}",
                       {"url": url, "endpoint": walk.endpoint, "from": src.name})
        return RequestResult(url, pod["metadata"]["name"], node, walk.endpoint, hops, "200 OK", walk)

    def _pod_by_ip(self, ip: str) -> dict | None:
        for p in self.apiserver.cache.get("pods", {}).values():
            if p.get("status", {}).get("podIP") == ip and p.get("status", {}).get("phase") == "Running":
                return p
        return None

    # -- rebuilding ------------------------------------------------------------------------------------------------
    def replay(self, until_step: int | None = None) -> "Cluster":
        """A new cluster built with the same arguments, with the same verbs replayed at the same steps, stopped at
        step ``until_step`` (default: the step this cluster is at). Deterministic: the traces match."""
        until_step = self.loop.steps if until_step is None else until_step
        new = Cluster(**self._args)
        for at, method, args, kwargs in self._log:
            if at > until_step:
                break
            while new.loop.steps < at and new.loop.step() is not None:
                pass
            try:
                getattr(new, method)(*args, **kwargs)
            except errors.StatusError:
                pass
        while new.loop.steps < until_step and new.loop.step() is not None:
            pass
        return new

    def __repr__(self) -> str:
        return f"<Cluster {len(self._nodes)} nodes, t={self.loop.now / 1000:.3f}s, step {self.loop.steps}>"


@dataclass
class RequestResult:
    url: str
    pod: str | None
    node: str | None
    endpoint: str | None
    path: list[str]
    status: str
    walk: Any = None

    def __repr__(self) -> str:
        head = f"{self.url} -> {self.status}" + (f" from pod {self.pod} on {self.node}" if self.pod else "")
        return head + "".join(f"\n  {h}" for h in self.path)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))
