"""Mirrors: cmd/kube-controller-manager/app/controllermanager.go and cmd/kube-controller-manager/app/core.go,
apps.go.

kube-controller-manager is one process running many controllers. It starts one set of shared informers (with its
own identity, ``system:kube-controller-manager``), and with ``--use-service-account-credentials`` each controller
makes its writes as its own ServiceAccount in kube-system (``system:serviceaccount:kube-system:
deployment-controller``...), bound to its own ``system:controller:*`` ClusterRole. It only runs while it holds the
``kube-controller-manager`` leader-election Lease.
"""

from __future__ import annotations

from ..apiserver.authn import Credentials, service_account_user
from ..client import Client, SharedInformerFactory
from ..client.leaderelection import LeaderElector
from .clusterroleaggregation import ClusterRoleAggregationController
from .cronjob import CronJobController
from .daemonset import DaemonSetsController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpointslice import EndpointsController, EndpointSliceController
from .garbagecollector import GarbageCollector
from .job import JobController
from .namespace import NamespaceController
from .nodeipam import NodeIpamController
from .nodelifecycle import NodeLifecycleController
from .persistentvolume import PersistentVolumeController
from .podautoscaler import HorizontalPodAutoscalerController
from .podgc import PodGCController
from .replicaset import ReplicaSetController
from .resourcequota import ResourceQuotaController
from .serviceaccount import RootCACertPublisher, ServiceAccountsController
from .tainteviction import TaintEvictionController
from .ttlafterfinished import TTLAfterFinishedController

NAME = "kube-controller-manager"

# controller -> the ServiceAccount it uses (cmd/kube-controller-manager/app/*.go ClientOrDie names)
CONTROLLERS = [
    ("serviceaccount", ServiceAccountsController, "service-account-controller"),
    ("root-ca-cert-publisher", RootCACertPublisher, "root-ca-cert-publisher"),
    ("nodeipam", NodeIpamController, "node-controller"),
    ("deployment", DeploymentController, "deployment-controller"),
    ("replicaset", ReplicaSetController, "replicaset-controller"),
    ("daemonset", DaemonSetsController, "daemon-set-controller"),
    ("job", JobController, "job-controller"),
    ("cronjob", CronJobController, "cronjob-controller"),
    ("ttl-after-finished", TTLAfterFinishedController, "ttl-after-finished-controller"),
    ("endpointslice", EndpointSliceController, "endpointslice-controller"),
    ("endpoints", EndpointsController, "endpoint-controller"),
    ("garbagecollector", GarbageCollector, "generic-garbage-collector"),
    ("namespace", NamespaceController, "namespace-controller"),
    ("nodelifecycle", NodeLifecycleController, "node-controller"),
    ("taint-eviction-controller", TaintEvictionController, "taint-eviction-controller"),
    ("podgc", PodGCController, "pod-garbage-collector"),
    ("clusterrole-aggregation", ClusterRoleAggregationController, "clusterrole-aggregation-controller"),
    ("resourcequota", ResourceQuotaController, "resourcequota-controller"),
    ("horizontalpodautoscaling", HorizontalPodAutoscalerController, "horizontal-pod-autoscaler"),
    ("disruption", DisruptionController, "disruption-controller"),
    ("persistentvolume-binder", PersistentVolumeController, "persistent-volume-binder"),
]


class ControllerManagerProcess:
    """What kube-controller-manager and cloud-controller-manager share (k8s.io/controller-manager): a set of
    controllers that run while the process holds its leader-election Lease, and can be stopped as a whole."""

    controllers: dict
    elector: LeaderElector
    paused: bool = False

    def start(self) -> None:
        self.elector.run()

    def pause(self) -> None:
        """Stop every controller's worker (as if the process were stopped); their queues keep filling."""
        self.paused = True
        for c in self.controllers.values():
            c.queue.pause()

    def resume(self) -> None:
        self.paused = False
        for c in self.controllers.values():
            c.queue.resume()

    def __getitem__(self, name: str):
        return self.controllers[name]


class KubeControllerManager(ControllerManagerProcess):
    def __init__(self, server, cluster_cidr: str = "10.244.0.0/16", node_cidr_mask_size: int = 24,
                 ca_pem: str = "", events: bool = True, token_rng=None) -> None:
        self.server = server
        self.loop = server.loop
        self.events = events
        self.client = Client(server, NAME, Credentials.x509("system:kube-controller-manager"))
        self.factory = SharedInformerFactory(self.client)
        self.controllers: dict = {}
        self.paused = False
        for name, cls, sa in CONTROLLERS:
            token = "".join(token_rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32)) \
                if token_rng else f"token-{sa}"
            server.authenticator.tokens[token] = service_account_user("kube-system", sa)
            client = Client(server, f"{NAME}/{name}", Credentials.bearer(token))
            if cls is NodeIpamController:
                ctrl = cls(self, client, cluster_cidr, node_cidr_mask_size)
            elif cls is RootCACertPublisher:
                ctrl = cls(self, client, ca_pem)
            else:
                ctrl = cls(self, client)
            self.controllers[name] = ctrl
        self.elector = LeaderElector(self.client, NAME, f"control-plane_{token_rng.getrandbits(32):08x}"
                                     if token_rng else "control-plane", on_started_leading=self.factory.start)

