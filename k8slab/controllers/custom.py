"""Mirrors: the shape of every controller in pkg/controller (informer handlers enqueue keys; a worker runs one
level-triggered sync per key and requeues it rate-limited on error), as sigs.k8s.io/controller-runtime packages it
for operators (manager.Manager, reconcile.Reconciler, Result{RequeueAfter}, controllerutil.SetControllerReference).

Write your own controller by subclassing :class:`CustomController`::

    class WidgetController(CustomController):
        NAME = "widget-controller"
        RESOURCE = "widgets"           # the primary resource: every change to one enqueues its key
        OWNS = ("configmaps",)         # changes to objects it owns enqueue their owner's key

        def reconcile(self, key):
            widget = self.get(key)     # from the informer cache; None when it was deleted
            ...                        # compare desired and actual; make API calls with self.client

    c.add_controller(WidgetController)

``reconcile`` raising an API error (or :class:`~k8slab.controllers.base.RequeueError`) puts the key back with
exponential backoff (5 ms doubling to 1000 s, like client-go's default controller rate limiter);
``self.requeue_after(key, seconds)`` asks for another look later. The controller runs as its own ServiceAccount
(``kube-system/<NAME>``), so every call it makes passes authentication, RBAC and admission.
"""

from __future__ import annotations

from ..api import errors
from ..api.objects import deepcopy
from ..apiserver.authn import Credentials, service_account_user
from ..client import Client, SharedInformerFactory
from ..sim import component_rng
from .base import Controller, RequeueError, get_controller_of

__all__ = ["CustomController", "ControllerManager", "RequeueError"]


class ControllerManager:
    """controller-runtime's manager: one client identity, shared informers, the controllers it runs."""

    def __init__(self, server, name: str, events: bool = True) -> None:
        self.server = server
        self.loop = server.loop
        self.events = events
        self.paused = False
        self.name = name
        token = f"token-{name}-{component_rng(getattr(server, 'seed', 0), name).getrandbits(64):016x}"
        server.authenticator.tokens[token] = service_account_user("kube-system", name)
        self.creds = Credentials.bearer(token)
        self.client = Client(server, name, self.creds)
        self.factory = SharedInformerFactory(self.client)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False


class CustomController(Controller):
    """Base class for a learner's controller; override :meth:`reconcile`."""

    NAME = "custom-controller"
    RESOURCE = ""
    OWNS: tuple = ()

    def __init__(self, manager, client) -> None:
        if not self.RESOURCE:
            raise ValueError(f"{type(self).__name__}.RESOURCE must name the resource to watch, e.g. 'widgets'")
        super().__init__(manager, client)
        self.component = f"{self.NAME}"
        self.queue.component = self.component
        self.informer = manager.factory.informer(self.RESOURCE)
        self.informer.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.owned = {}
        for r in self.OWNS:
            inf = self.owned[r] = manager.factory.informer(r)
            inf.add_event_handler(self._enqueue_owner, lambda old, new: self._enqueue_owner(new),
                                  self._enqueue_owner)
        self.reconciles: list[tuple[int, str, str]] = []  # (time, key, outcome)

    # -- informer handlers: only enqueue keys ----------------------------------------------------------------------
    def _enqueue_owner(self, obj: dict) -> None:
        ref = get_controller_of(obj)
        if ref is None:
            return
        info = self.informer
        for o in info.list_namespace(obj["metadata"].get("namespace", "")) if obj["metadata"].get("namespace") \
                else info.list():
            if o["metadata"]["uid"] == ref["uid"]:
                self.enqueue(o)
                return

    # -- the worker -----------------------------------------------------------------------------------------------
    def sync_handler(self, key: str) -> None:
        try:
            self.reconcile(key)
        except (errors.StatusError, RequeueError) as e:
            self.reconciles.append((self.loop.now, key, f"error: {e}"))
            raise
        self.reconciles.append((self.loop.now, key, "ok"))

    def reconcile(self, key: str) -> None:  # pragma: no cover - the learner writes this
        raise NotImplementedError("write reconcile(self, key) in your controller")

    # -- helpers ---------------------------------------------------------------------------------------------------
    def get(self, key: str) -> dict | None:
        """The primary object for ``key`` from the informer cache (a copy you may change), or None."""
        obj = self.informer.get(key)
        return deepcopy(obj) if obj is not None else None

    def owned_by(self, resource: str, owner: dict) -> list[dict]:
        """The objects of ``resource`` (one of OWNS) whose controller is ``owner``."""
        uid = owner["metadata"]["uid"]
        inf = self.owned[resource]
        return [deepcopy(o) for o in inf.list() if (get_controller_of(o) or {}).get("uid") == uid]

    @staticmethod
    def owner_reference(owner: dict) -> dict:
        """controllerutil.SetControllerReference: the ownerReferences entry that makes ``owner`` the controller."""
        md = owner["metadata"]
        return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"], "uid": md["uid"],
                "controller": True, "blockOwnerDeletion": True}

    def update_status(self, obj: dict, status: dict) -> dict:
        """Write ``status`` through the status subresource."""
        new = deepcopy(obj)
        new["status"] = status
        return self.client.update(self.RESOURCE, new, subresource="status")

    def requeue_after(self, key: str, seconds: float) -> None:
        """Result{RequeueAfter}: look at ``key`` again after ``seconds``."""
        self.queue.add_after(key, seconds * 1000)


def run_controller(cluster, cls, cluster_role: str = "cluster-admin"):
    """Start ``cls`` in its own manager, as ServiceAccount kube-system/<NAME> bound to ``cluster_role``."""
    if not (isinstance(cls, type) and issubclass(cls, CustomController)):
        raise TypeError("add_controller expects a subclass of k8slab.controllers.CustomController")
    server = cluster.apiserver
    admin = cluster.admin
    name = cls.NAME
    try:
        admin.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": name, "namespace": "kube-system"}},
                     namespace="kube-system")
        admin.create("clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}]})
    except errors.StatusError as e:
        if e.reason != "AlreadyExists":
            raise
    mgr = ControllerManager(server, name, events=cluster.controller_manager.events)
    ctrl = cls(mgr, Client(server, name, mgr.creds))
    mgr.controller = ctrl
    mgr.factory.start()
    return ctrl
