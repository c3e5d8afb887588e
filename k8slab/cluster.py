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
from .cni import network as netmodel
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
NODE_IP_BASE = 10  # the control-plane node is 192.168.0.10, node-1 192.168.0.11, ...
COMPACTION_INTERVAL_MS = 5 * 60 * 1000  # the API server compacts etcd every 5 minutes


def node_ip(index: int) -> str:
    """The address of node ``index`` (0 is the control-plane node, where kube-apiserver advertises itself)."""
    return f"192.168.0.{NODE_IP_BASE + index}"


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
                 schedule_on_control_plane: bool = False, trace: Trace | None = None,
                 etcd_members: int = 1, proxy_mode: str = "iptables", ipvs_scheduler: str = "rr",
                 cloud_provider: str | None = None, pod_network: str = "vxlan",
                 node_cidr_mask_size: int = 24, container_runtime: str = "containerd",
                 metrics_server: bool = False, static_control_plane: bool = False,
                 kube_reserved: dict | None = None, system_reserved: dict | None = None,
                 eviction_hard: dict | None = None, scheduler_config=None) -> None:
        if pod_network not in netmodel.BACKENDS:
            raise ValueError(f'unknown pod_network "{pod_network}"; use one of {", ".join(netmodel.BACKENDS)}')
        self._args = dict(nodes=nodes, seed=seed, node_cpu=node_cpu, node_memory=node_memory, max_pods=max_pods,
                          pod_cidr=pod_cidr, service_cidr=service_cidr, events=events, trace_stages=trace_stages,
                          coredns_replicas=coredns_replicas, schedule_on_control_plane=schedule_on_control_plane,
                          etcd_members=etcd_members, proxy_mode=proxy_mode, ipvs_scheduler=ipvs_scheduler,
                          cloud_provider=cloud_provider, pod_network=pod_network,
                          node_cidr_mask_size=node_cidr_mask_size, scheduler_config=scheduler_config)
        self.proxy_mode, self.ipvs_scheduler = proxy_mode, ipvs_scheduler
        self.pod_network = pod_network
        if cloud_provider not in (None, "fake"):
            raise ValueError(f'unknown cloud provider {cloud_provider!r}: the lab has "fake" (or None for none)')
        self._log: list[tuple[int, str, tuple, dict]] = []
        if container_runtime != "containerd":
            self._args["container_runtime"] = container_runtime
        if metrics_server:
            self._args["metrics_server"] = True
        if static_control_plane:
            self._args["static_control_plane"] = True
        # the KubeletConfiguration's reservations (kubeReserved, systemReserved, evictionHard) on every node
        self._reservations = {"kube_reserved": kube_reserved, "system_reserved": system_reserved,
                              "eviction_hard": eviction_hard}
        self._args.update({k: v for k, v in self._reservations.items() if v is not None})
        self.metrics_server = None
        from .cri.oci import profile as _runtime_profile

        self.container_runtime = _runtime_profile(container_runtime).name
        self.seed = seed
        self.pod_cidr = pod_cidr
        self.service_cidr = service_cidr
        self.loop = Loop(trace or Trace())
        self.trace = self.loop.trace
        self.etcd = MVCCStore()
        self.etcd_cluster = self._start_etcd_cluster(etcd_members)
        self.apiserver = APIServer(self.loop, self.etcd_cluster or self.etcd, seed, service_cidr,
                                   trace_stages=trace_stages)
        self.apiserver.bootstrap()
        # the network path from the API server to each kubelet's :10250 (pods/log, pods/exec)
        self.apiserver.kubelet_connections = lambda n: self._nodes[n].kubelet if n in self._nodes else None
        self.apiserver.reconcile_kubernetes_endpoints(node_ip(0))
        self.admin = Client(self.apiserver, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))
        rng = component_rng(seed, "kube-controller-manager")
        self.controller_manager = KubeControllerManager(self.apiserver, pod_cidr, node_cidr_mask_size,
                                                        ca_pem=cluster_ca_pem(seed), events=events, token_rng=rng)
        self.scheduler = KubeScheduler(self.apiserver, component_rng(seed, "kube-scheduler"), events=events,
                                       config=scheduler_config)
        self.schedulers = [self.scheduler]
        self._nodes: dict[str, NodeAgents] = {}
        # --cloud-provider=external: a fake cloud whose VMs are the nodes, and a cloud-controller-manager
        if cloud_provider == "fake":
            from .cloud import FakeCloud  # loaded only for clusters that use it
        self.cloud = FakeCloud(self.loop, component_rng(seed, "cloud")) if cloud_provider == "fake" else None
        self.cloud_controller_manager = None
        self.custom_controllers: dict = {}
        # every kube-proxy computes the same rules from the same objects: the simulation computes them once
        self.proxy_cache = SharedRuleCache()
        names = [CONTROL_PLANE] + [f"node-{i}" for i in range(1, nodes + 1)]
        for i, name in enumerate(names):
            self._add_node(name, node_ip(i), control_plane=(i == 0),
                           cpu=node_cpu, memory=node_memory, max_pods=max_pods,
                           taint_control_plane=not schedule_on_control_plane)
        if static_control_plane:
            # kubeadm init writes the control plane's manifests; the control-plane kubelet runs them as static
            # pods (the components themselves are the in-process models above)
            from .kubelet.static import kubeadm_control_plane

            cp = self._nodes[CONTROL_PLANE]
            for fname, manifest in kubeadm_control_plane(cp.ip, service_cidr=service_cidr,
                                                         pod_cidr=pod_cidr).items():
                cp.kubelet.manifests[fname] = manifest
        self.controller_manager.start()
        if self.cloud is not None:
            self._start_cloud_controller_manager(events)
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
        if metrics_server:
            self.install_metrics_server()
        self.ready_step = self.loop.steps

    # -- construction ---------------------------------------------------------------------------------------------
    def _start_etcd_cluster(self, members: int):
        """With more than one etcd member, the API server's writes go through Raft (k8slab.etcd.server); ``c.etcd``
        stays the applied key-value state."""
        if not isinstance(members, int) or isinstance(members, bool) or members < 1:
            raise ValueError(f"etcd_members must be a positive integer, not {members!r}")
        if members == 1:
            return None
        from .etcd.server import RAFT_LOOP_MS, EtcdCluster
        etcd = EtcdCluster(members, self.seed, self.etcd, loop=self.loop)
        etcd.on_fault = lambda name, args: self._record("_etcd_fault", name, *args)

        def raft_loop():
            etcd.background()
            self.apiserver.deliver_etcd_events()
            self.loop.call_later(RAFT_LOOP_MS, raft_loop, component="etcd", label="raft", background=True)

        self.loop.call_later(RAFT_LOOP_MS, raft_loop, component="etcd", label="raft", background=True)
        return etcd

    def _add_node(self, name: str, ip: str, control_plane: bool, cpu: str, memory: str, max_pods: int,
                  taint_control_plane: bool) -> None:
        loop, seed = self.loop, self.seed
        kind = self.container_runtime
        runtime = ContainerRuntime(loop, name, component_rng(seed, f"{kind}/{name}"), name=kind)
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
        if self.cloud is not None:
            self.cloud.add_instance(name, ip, "lab.standard-2" if control_plane else "lab.standard-4")
        if self.cloud is not None:
            from .cloud.manager import ExternalCloudKubelet
        kubelet_cls = ExternalCloudKubelet if self.cloud is not None else Kubelet
        kubelet = kubelet_cls(loop, kubelet_client, name, runtime, cni, component_rng(seed, f"kubelet/{name}"), ip,
                              capacity={"cpu": cpu, "memory": memory, "pods": str(max_pods)},
                              labels=labels, taints=taints, control_plane=control_plane, events=self._args["events"],
                              **self._reservations)
        proxy_client = Client(self.apiserver, f"kube-proxy/{name}", Credentials.x509("system:kube-proxy"))
        proxy = KubeProxy(loop, proxy_client, SharedInformerFactory(proxy_client), name, ip, self.pod_cidr,
                          component_rng(seed, f"kube-proxy/{name}"), shared=self.proxy_cache,
                          mode=self.proxy_mode, ipvs_scheduler=self.ipvs_scheduler)
        self._nodes[name] = NodeAgents(name, ip, "control-plane" if control_plane else "worker", kubelet, runtime,
                                       cni, proxy)

    def _start_cloud_controller_manager(self, events: bool) -> None:
        from .cloud import CloudControllerManager
        from .cloud.manager import rbac_manifests

        for obj in rbac_manifests():
            info = resources.info_for(obj)
            self.admin.create(info.resource, obj, namespace=obj["metadata"].get("namespace"))
        self.cloud_controller_manager = CloudControllerManager(
            self.apiserver, self.cloud, self.pod_cidr, events=events,
            token_rng=component_rng(self.seed, "cloud-controller-manager"))
        self.cloud.on_terminate.append(lambda name: self._nodes[name].kubelet.stop() if name in self._nodes
                                       else None)
        self.cloud_controller_manager.start()

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
        if rev > max(1, self.etcd.compact_revision) and self._compact_through_raft(rev):
            self.loop.emit("kube-apiserver", "etcd.compact", "", {"revision": rev}, target="etcd")
        self.loop.call_later(COMPACTION_INTERVAL_MS, self._compact, component="kube-apiserver",
                             label="etcd compaction", background=True)

    def _etcd_fault(self, name: str, *args) -> None:
        """Replay an etcd fault (crash, restart, isolate, partition, heal) recorded by the etcd cluster."""
        getattr(self.etcd_cluster, name)(*args)

    def _compact_through_raft(self, rev: int) -> bool:
        if self.etcd_cluster is None:
            self.etcd.compact(rev)
            return True
        from .etcd import EtcdError
        try:
            self.etcd_cluster.compact(rev)
        except EtcdError:
            return False  # no quorum: try again next time
        return True

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

    # -- pod network -----------------------------------------------------------------------------------------------
    def _node_nets(self) -> list:
        """Each Node's name, IP and podCIDR, as flannel's informer holds them (read from the watch cache)."""
        return [netmodel.NodeNet.from_node(n) for n in self.apiserver.cache.get("nodes", {}).values()]

    def routes(self, node: str) -> list:
        """The node's routing table as the pod-network daemon (flannel) leaves it, from the Node objects."""
        nets = self._node_nets()
        me = next(n for n in nets if n.name == self.node(node).name)
        return netmodel.node_routes(me, nets, self.pod_network, bridge_up=self.node(node).cni.bridge_up)

    def ip_route(self, node: str) -> str:
        """``ip route`` on ``node``."""
        return kubectl.Text(netmodel.ip_route(self.routes(node)))

    def add_scheduler(self, config, name: str | None = None) -> KubeScheduler:
        """Run a second kube-scheduler with its own KubeSchedulerConfiguration (YAML or dict). It serves the
        pods whose ``spec.schedulerName`` names one of its profiles; the default scheduler leaves them alone.
        Like most second schedulers it runs without leader election."""
        from .scheduler.config import load_config

        cfg = load_config(config)
        names = [p.scheduler_name for p in cfg.profiles()]
        taken = {n for sch in self.schedulers for n in sch.profiles}
        if taken & set(names):
            raise ValueError(f"scheduler name(s) {sorted(taken & set(names))} already served by a running scheduler")
        self._record("add_scheduler", config, name=name)
        name = name or names[0]
        sch = KubeScheduler(self.apiserver, component_rng(self.seed, name), events=self._args["events"], config=cfg,
                            name=name, leader_elect=False)
        self.schedulers.append(sch)
        sch.start()
        return sch

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
               grace_period: int | None = None, cascade: str = "background",
               propagation_policy: str | None = None):
        """``kubectl delete``; ``cascade`` is background (default), foreground or orphan. ``propagation_policy``
        ("Background", "Foreground" or "Orphan", the DeleteOptions field) overrides it."""
        self._record("delete", resource, name, namespace=namespace, grace_period=grace_period, cascade=cascade,
                     propagation_policy=propagation_policy)
        info = resources.lookup(resource)
        policy = propagation_policy or {"background": "Background", "foreground": "Foreground",
                                        "orphan": "Orphan"}[cascade]
        return kubectl.KubeObject(deepcopy(self.admin.delete(
            info.resource, name, namespace=namespace if info.namespaced else None,
            grace_period_seconds=grace_period, propagation_policy=policy)))

    def add_controller(self, controller_class, cluster_role: str = "cluster-admin"):
        """Run your own controller (a :class:`k8slab.controllers.CustomController` subclass) as ServiceAccount
        ``kube-system/<NAME>`` bound to ``cluster_role``; returns the running controller."""
        from .controllers.custom import run_controller

        ctrl = run_controller(self, controller_class, cluster_role)
        self.custom_controllers[ctrl.NAME] = ctrl
        return ctrl

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

    # -- kubectl logs / exec / top (through the API server to the kubelet) ----------------------------------------
    def _default_container(self, pod: str, namespace: str, container: str | None, client=None) -> str:
        """kubectl's choice of container: the one asked for, else the kubectl.kubernetes.io/default-container
        annotation, else the first."""
        if container:
            return container
        obj = (client or self.admin).get("pods", pod, namespace)
        names = [c["name"] for c in (obj.get("spec") or {}).get("containers") or []]
        ann = (obj["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        return ann if ann in names else names[0]

    def logs(self, pod: str, container: str | None = None, namespace: str = "default", previous: bool = False,
             tail: int | None = None, timestamps: bool = False, client=None) -> str:
        """``kubectl logs``: GET pods/<pod>/log; the API server proxies it to the kubelet, which reads the log
        file. ``client`` makes the request as someone else (needs ``get pods/log``)."""
        client = client or self.admin
        name = self._default_container(pod, namespace, container, client)
        opts = {"container": name, "previous": previous, "tailLines": tail, "timestamps": timestamps}
        return kubectl.Text(self.apiserver.request("get", "pods", namespace=namespace, name=pod, subresource="log",
                                                   creds=client.creds, component=client.component, options=opts))

    def exec(self, pod: str, command, container: str | None = None, namespace: str = "default",
             client=None) -> str:
        """``kubectl exec``: pods/<pod>/exec, which the API server upgrades to a stream from the kubelet (CRI
        Exec). Returns stdout (and stderr); a non-zero exit shows as ``command terminated with exit code N``.
        ``client`` makes the request as someone else (needs ``create pods/exec``)."""
        client = client or self.admin
        name = self._default_container(pod, namespace, container, client)
        cmd = command.split() if isinstance(command, str) else list(command)
        res = self.apiserver.request("create", "pods", namespace=namespace, name=pod, subresource="exec",
                                     body={"kind": "PodExecOptions", "apiVersion": "v1", "container": name,
                                           "command": cmd, "stdout": True, "stderr": True},
                                     creds=client.creds, component=client.component)
        out = res["stdout"] + res["stderr"]
        if res["exitCode"]:
            out += f"command terminated with exit code {res['exitCode']}\n"
        return kubectl.Text(out)

    def install_metrics_server(self) -> None:
        """``kubectl apply -f components.yaml``: the metrics-server Deployment, its RBAC and Service; the
        scraper then runs every 15 s and the Metrics API answers ``top_nodes()``, ``top_pods()`` and the HPA."""
        from .apiserver.authn import service_account_user
        from .metrics.server import MetricsServer, components_yaml

        if self.metrics_server is not None:
            return
        for obj in components_yaml():
            self.admin.create(resources.lookup(obj["kind"]).resource, obj)
        token = f"metrics-server-{self.seed}"
        self.apiserver.authenticator.tokens[token] = service_account_user("kube-system", "metrics-server")
        client = Client(self.apiserver, "metrics-server", Credentials.bearer(token))
        self.metrics_server = MetricsServer(self.loop, client, lambda n: self._nodes[n].kubelet
                                            if n in self._nodes else None)
        self.metrics_server.start()
        self.controller_manager.metrics_client = lambda ns: self.metrics_server.pod_metrics(ns)
        self.settle()

    def install_csi_driver(self, driver: str = "hostpath.csi.k8s.io"):
        """Deploy a CSI driver's controller side: its external-provisioner (with RBAC) creates a PV for each
        claim of a StorageClass whose ``provisioner`` is ``driver``. Returns the provisioner."""
        from .apiserver.authn import service_account_user
        from .controllers.persistentvolume_provisioner import ExternalProvisioner, rbac_manifests

        self.csi_provisioners = getattr(self, "csi_provisioners", {})
        if driver not in self.csi_provisioners:
            self._record("install_csi_driver", driver)
            for obj in rbac_manifests():
                try:
                    self.admin.create(resources.lookup(obj["kind"]).resource, obj)
                except errors.StatusError as e:
                    if e.reason != "AlreadyExists":
                        raise
            token = f"csi-provisioner-{driver}-{self.seed}"
            self.apiserver.authenticator.tokens[token] = service_account_user("kube-system", "csi-provisioner")
            client = Client(self.apiserver, f"csi-provisioner/{driver}", Credentials.bearer(token))
            prov = ExternalProvisioner(self.loop, client, SharedInformerFactory(client), driver,
                                       component_rng(self.seed, f"csi-provisioner/{driver}"))
            prov.start()
            self.csi_provisioners[driver] = prov
            self.settle()
        return self.csi_provisioners[driver]

    def _metrics(self):
        if self.metrics_server is None:
            raise errors.new_service_unavailable("Metrics API not available")
        return self.metrics_server

    def top_nodes(self, show_capacity: bool = False, sort_by: str = "") -> str:
        """``kubectl top nodes``: usage from the Metrics API against each node's allocatable."""
        from .metrics.top import top_nodes

        ms = self._metrics()
        return kubectl.Text(top_nodes(ms.node_metrics(), self.admin.list("nodes")["items"], show_capacity,
                                      sort_by))

    def top_pods(self, namespace: str | None = "default", containers: bool = False, sort_by: str = "") -> str:
        """``kubectl top pods`` (``namespace=None`` for ``-A``)."""
        from .metrics.top import top_pods

        ms = self._metrics()
        return kubectl.Text(top_pods(ms.pod_metrics(namespace), all_namespaces=namespace is None,
                                     containers=containers, sort_by=sort_by))

    def set_behavior(self, pod: str | None, container: str, behavior, namespace: str = "default",
                     selector: dict | None = None) -> None:
        """Script what a container does from its next start (on whichever node runs it), for one pod or for
        every pod whose labels match ``selector``; see :class:`k8slab.cri.Behavior`."""
        for agents in self._nodes.values():
            agents.runtime.set_behavior(pod, container, behavior, namespace, selector=selector)

    # -- traffic ---------------------------------------------------------------------------------------------------
    def request(self, url: str, from_node: str | None = None, namespace: str = "default",
                from_pod: str | None = None) -> "RequestResult":
        """Send one HTTP request from a process on ``from_node`` (default: the first worker) using a pod's DNS
        settings in ``namespace``, or from the pod ``from_pod`` ("name" or "namespace/name"): resolve the name
        through CoreDNS (search list, ndots:5), follow kube-proxy's rules on the node to one endpoint, and route to
        it, NetworkPolicy included; ``path`` lists the hops of :meth:`trace_route`."""
        u = urlparse(url if "://" in url else "http://" + url)
        host = u.hostname or ""
        port = u.port or (443 if u.scheme == "https" else 80)
        if from_pod is None:
            from_node = self.node(from_node or next((n for n in self._nodes if n != CONTROL_PLANE),
                                                    CONTROL_PLANE)).name
        p = self.trace_route(host, port, from_pod=from_pod, from_node=from_node, namespace=namespace)
        pod = p.pod.split("/", 1)[1] if p.pod else None
        if p.ok:
            self.loop.emit("kubectl", "request.http", f"pods/{p.pod}" if p.pod else f"nodes/{p.node}",
                           {"url": url, "endpoint": p.endpoint, "from": from_pod or from_node})
        return RequestResult(url, pod, p.node if p.ok else None, p.endpoint if p.ok else None,
                             [str(h) for h in p.hops], "200 OK" if p.ok else p.status, p.walk)

    def trace_route(self, dst: str, port: int = 80, from_pod: str | None = None, from_node: str | None = None,
                    protocol: str = "TCP", namespace: str = "default"):
        """Walk one new connection from a pod (or a node) to ``dst`` (name or IP), hop by hop: DNS lookup, kube-proxy
        DNAT on the source node, NetworkPolicy egress, veth, cni0, routes, overlay, NetworkPolicy ingress, pod."""
        from .cni import path as cni_path

        return cni_path.trace(self, dst, port, from_pod=from_pod, from_node=from_node, protocol=protocol,
                              namespace=namespace)

    def resolv_conf(self, pod: str, namespace: str = "default") -> str:
        """The pod's /etc/resolv.conf (``pod`` is "name" or "namespace/name")."""
        from .cni import path as cni_path

        return kubectl.Text(cni_path.pod_resolv_conf(self, pod, namespace))

    def _pod_by_ip(self, ip: str) -> dict | None:
        for p in self.apiserver.cache.get("pods", {}).values():
            if p.get("status", {}).get("podIP") == ip and p.get("status", {}).get("phase") == "Running":
                return p
        return None

    def trace_packet(self, src: str, dst: str, port: int, proto: str = "TCP", src_port: int | None = None,
                     node: str | None = None):
        """Follow one packet through kube-proxy's rules on ``node`` (default: the node of the pod or node that
        owns ``src``, else the first worker). Same 5-tuple again: conntrack keeps the backend."""
        if node is None:
            pod = self._pod_by_ip(src)
            node = (pod or {}).get("spec", {}).get("nodeName") or next(
                (n.name for n in self._nodes.values() if n.ip == src),
                next((n for n in self._nodes if n != CONTROL_PLANE), CONTROL_PLANE))
        return self.node(node).kube_proxy.trace_packet(src, dst, port, proto, src_port)

    # -- rebuilding ------------------------------------------------------------------------------------------------
    @property
    def pki(self):
        """The cluster's certificates and keys as kubeadm lays them out in /etc/kubernetes/pki
        (:func:`k8slab.pki.cluster_pki`)."""
        if getattr(self, "_pki", None) is None:
            from .pki import cluster_pki

            self._pki = cluster_pki(self)
        return self._pki

    def can_i(self, user, verb: str, resource: str = "", namespace: str = "default", *, groups=(),
              subresource: str = "", name: str = "", path: str = "", list: bool = False):
        """``kubectl auth can-i VERB RESOURCE -n NS --as USER``: "yes" or "no - reason"; ``list=True`` gives the
        ``--list`` table of the user's rules in ``namespace``."""
        from .apiserver import authz

        if list:
            return authz.rules_table(authz.rules_for(self.apiserver, user, namespace, groups=groups))
        return authz.can_i(self.apiserver, user, verb, resource, namespace, groups=groups,
                           subresource=subresource, name=name, path=path)

    def authorization_mode(self, modes: str = "Node,RBAC", abac_policy: str = "") -> None:
        """Restart the API server's authorizers as ``--authorization-mode=modes`` (ABAC reads ``abac_policy``,
        one JSON Policy per line)."""
        from .apiserver import authz

        authz.set_authorization_modes(self.apiserver, modes, abac_policy)

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
