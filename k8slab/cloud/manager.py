"""Mirrors: cmd/cloud-controller-manager and staging/src/k8s.io/cloud-provider/app (controllermanager.go,
core.go), and the kubelet's ``--cloud-provider=external`` registration (pkg/kubelet/kubelet_node_status.go,
pkg/kubelet/nodestatus/setters.go NodeAddress).

cloud-controller-manager is a separate process (usually a Deployment or static pod in kube-system) that runs the
cloud-specific control loops taken out of kube-controller-manager: cloud-node, cloud-node-lifecycle, route and
service. Like kube-controller-manager it talks only to the API server, with its own ServiceAccount
(``kube-system/cloud-controller-manager``, bound to the ``system:cloud-controller-manager`` ClusterRole its install
manifest creates), and acts only while it holds the ``kube-system/cloud-controller-manager`` Lease.
"""

from __future__ import annotations

from ..apiserver.authn import Credentials, service_account_user
from ..client import Client, SharedInformerFactory
from ..client.leaderelection import LeaderElector
from ..controllers.manager import ControllerManagerProcess
from ..kubelet import Kubelet
from .controllers import (TAINT_EXTERNAL_CLOUD_PROVIDER, CloudNodeController, CloudNodeLifecycleController,
                          RouteController, ServiceController)

NAME = "cloud-controller-manager"
SERVICE_ACCOUNT = "cloud-controller-manager"
CONTROLLERS = [
    ("cloud-node", CloudNodeController),
    ("cloud-node-lifecycle", CloudNodeLifecycleController),
    ("route", RouteController),
    ("service", ServiceController),
]


def rbac_manifests() -> list[dict]:
    """The ServiceAccount, ClusterRole and ClusterRoleBinding of the CCM's install manifest (the example in the
    Kubernetes documentation, "Cloud Controller Manager Administration")."""
    def rule(groups, res, verbs):
        return {"apiGroups": groups, "resources": res, "verbs": verbs}

    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVICE_ACCOUNT, "namespace": "kube-system"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:cloud-controller-manager"},
         "rules": [rule([""], ["events"], ["create", "patch", "update"]),
                   rule([""], ["nodes"], ["*"]),
                   rule([""], ["nodes/status"], ["patch"]),
                   rule([""], ["services"], ["list", "patch", "update", "watch"]),
                   rule([""], ["services/status"], ["list", "patch", "update", "watch"]),
                   rule([""], ["serviceaccounts"], ["create", "get", "list", "watch", "update"]),
                   rule([""], ["persistentvolumes"], ["get", "list", "update", "watch"]),
                   rule([""], ["endpoints"], ["create", "get", "list", "watch", "update"]),
                   rule(["coordination.k8s.io"], ["leases"], ["create", "get", "list", "watch", "update"]),
                   rule([""], ["serviceaccounts/token"], ["create"])]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:cloud-controller-manager"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:cloud-controller-manager"},
         "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": "kube-system"}]},
    ]


class CloudControllerManager(ControllerManagerProcess):
    def __init__(self, server, cloud, cluster_cidr: str = "10.244.0.0/16", events: bool = True,
                 token_rng=None) -> None:
        self.server = server
        self.loop = server.loop
        self.cloud = cloud
        self.cluster_cidr = cluster_cidr
        self.events = events
        token = "".join(token_rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32)) \
            if token_rng else f"token-{SERVICE_ACCOUNT}"
        server.authenticator.tokens[token] = service_account_user("kube-system", SERVICE_ACCOUNT)
        self.client = Client(server, NAME, Credentials.bearer(token))
        self.factory = SharedInformerFactory(self.client)
        self.paused = False
        self.controllers = {name: cls(self, Client(server, f"{NAME}/{name}", Credentials.bearer(token)))
                            for name, cls in CONTROLLERS}
        self.elector = LeaderElector(self.client, NAME, f"control-plane_{token_rng.getrandbits(32):08x}"
                                     if token_rng else "control-plane", on_started_leading=self.factory.start)


class ExternalCloudKubelet(Kubelet):
    """The kubelet run with ``--cloud-provider=external``: it registers its Node with the uninitialized taint and
    the ``alpha.kubernetes.io/provided-node-ip`` annotation, and leaves the node's addresses to the cloud once the
    CCM has set them. Its node-status patch only carries the conditions it owns (the real kubelet's strategic merge
    patch merges conditions by type), so a NetworkUnavailable condition from the route controller stays."""

    def initial_node(self) -> dict:
        node = super().initial_node()
        node["metadata"].setdefault("annotations", {})["alpha.kubernetes.io/provided-node-ip"] = self.node_ip
        taints = node["spec"].setdefault("taints", [])
        if not any(t["key"] == TAINT_EXTERNAL_CLOUD_PROVIDER for t in taints):
            taints.append({"key": TAINT_EXTERNAL_CLOUD_PROVIDER, "value": "true", "effect": "NoSchedule"})
        return node

    def _node_status(self, old):
        status = super()._node_status(old)
        old_status = (old or {}).get("status") or {}
        if old_status.get("addresses"):
            status["addresses"] = old_status["addresses"]
        mine = {c["type"] for c in status.get("conditions") or ()}
        status["conditions"] = [c for c in old_status.get("conditions") or () if c.get("type") not in mine] + \
            list(status.get("conditions") or ())
        return status
