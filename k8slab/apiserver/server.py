"""Mirrors: staging/src/k8s.io/apiserver/pkg/server/handler.go and endpoints/handlers/{create,update,delete,get,
watch}.go, staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go,
staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go, staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go,
pkg/registry/core/pod/storage/storage.go (binding), pkg/registry/apps/deployment/storage/storage.go (scale).

kube-apiserver: the only component that talks to etcd. Every request passes the same stages, each recorded in the
trace: authentication (who?), authorization (may they?), mutating admission, validation, validating admission,
and storage (an etcd transaction). Updates are optimistic: the request carries the ``resourceVersion`` it read,
and the etcd transaction only succeeds if the key's ``mod_revision`` is still that value (409 Conflict otherwise).
A failed request changes nothing. Changes come back out of etcd through a watch into the watch cache, which fans
each event out to every client watching that resource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ..api import errors, resources
from ..api.defaults import apply_defaults
from ..api.objects import deepcopy, parse_selector, rfc3339, to_json
from ..api.validation import decode_error, validate, validate_status_update
from ..etcd import EtcdError, MVCCStore
from ..etcd.mvcc import Compare, Op
from ..sim import Loop, component_rng
from .admission import AdmissionContext, default_plugins
from .authn import AuthenticationError, Authenticator, Credentials, UserInfo
from .crd import CRDController
from .rbac import ALLOW, Attributes, NodeAuthorizer, RBACAuthorizer, UnionAuthorizer, bootstrap_policy
from .registry import Registry, generate_name

NAME = "kube-apiserver"
WATCH_LATENCY_MS = 1  # from an etcd commit to a watcher's informer
# One event sent to at least this many watchers is delivered to all of them in ONE loop step (in the same order,
# each watcher's callback still run and traced on its own; see Loop.call_each_later). A shortcut of the
# simulation: the deliveries would run back to back anyway. Smaller fan-outs (every event of a small teaching
# cluster) keep one step per watcher, so stepping through them shows each delivery.
WATCH_BATCH_MIN = 10
# the watch cache's trigger functions (pkg/registry/core/pod/storage, node/storage): a watch whose field selector
# names this field is only offered the events of objects with that value (kubelets watch spec.nodeName=<node> and
# metadata.name=<node>)
TRIGGER_FIELDS = {"pods": "spec.nodeName", "nodes": "metadata.name"}
_NO_FILTER = (None, (), None)  # the filter_key of a watch of a whole resource
CODES = {"create": 201, "update": 200, "patch": 200, "delete": 200, "get": 200, "list": 200, "watch": 200}
# The data of the "request" and successful "response" trace events, one dict per distinct value, shared by every
# event that has it (trace data is never changed after it is recorded): a large cluster records millions.
_REQUEST_DATA: dict[tuple, dict] = {}
_RESPONSE_DATA = {code: {"code": code} for code in set(CODES.values())}


@dataclass(eq=False)
class WatchRegistration:
    """One open watch: a client's stream of ADDED / MODIFIED / DELETED events for one resource."""

    resource: str
    namespace: str | None
    callback: Callable[[str, dict], None]
    component: str
    field_selector: dict[str, str] = field(default_factory=dict)
    label_selector: Any = None
    stopped: bool = False
    filter_key: tuple = ()  # watches with equal keys see the same events (their match is computed once)

    def matches(self, obj: dict) -> bool:
        md = obj["metadata"]
        if self.namespace and md.get("namespace") != self.namespace:
            return False
        for path, want in self.field_selector.items():
            neg = path.endswith("!")
            got = _field(obj, path.rstrip("!"))
            if (got != want) != neg:
                return False
        if self.label_selector is not None and not self.label_selector.matches(md.get("labels") or {}):
            return False
        return True

    def stop(self) -> None:
        self.stopped = True


def _field(obj: dict, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def parse_field_selector(s: str | dict | None) -> dict[str, str]:
    """'spec.nodeName=node-1,status.phase!=Failed' -> {'spec.nodeName': 'node-1', 'status.phase!': 'Failed'}."""
    if not s:
        return {}
    if isinstance(s, dict):
        return dict(s)
    out = {}
    for term in s.split(","):
        if "!=" in term:
            k, v = term.split("!=", 1)
            out[k.strip() + "!"] = v.strip()
        else:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            out[k.strip()] = v.strip()
    return out


class APIServer:
    """The API server's request pipeline, storage layer and watch cache."""

    def __init__(self, loop: Loop, etcd: MVCCStore, seed: int = 0, service_cidr: str = "10.96.0.0/12",
                 node_port_range: tuple[int, int] = (30000, 32767), prefix: str = "/registry",
                 trace_stages: bool = True) -> None:
        self.loop = loop
        self.etcd = etcd
        self.prefix = prefix
        self.seed = seed
        self.rng = component_rng(seed, NAME)
        self.registry = Registry(self.rng, service_cidr, node_port_range)
        self.service_cidr = service_cidr
        self.authenticator = Authenticator(seed=seed, now_ms=lambda: loop.now)
        self.authorizer = UnionAuthorizer(NodeAuthorizer(), RBACAuthorizer(self._list_cached))
        self.admission = default_plugins()
        self._admission_phases = None  # (plugins, {phase: [plugin, ...]}), see _phase_plugins
        self.trace_stages = trace_stages
        self.available = True
        self.kubelet_connections = None  # node name -> its kubelet's :10250 server (pods/log, pods/exec)
        self.requests = 0
        self._authz_cache: dict = {}
        # watch cache: resource -> {"ns/name": object}
        self.cache: dict[str, dict[str, dict]] = {}
        self.watchers: dict[str, list[WatchRegistration]] = {}
        self.triggered: dict[str, dict[str, list[WatchRegistration]]] = {}
        self._written: dict[str, dict] = {}
        self._pending: list = []
        self._prefixes = {}
        for info in resources.all_resources():
            self._prefixes[info.etcd_prefix] = info
        self.etcd.watch(prefix + "/", _prefix_end(prefix + "/"), callback=self._on_etcd_events, prev_kv=True)
        self.crds = CRDController(self)

    # -- bootstrap --------------------------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """What a new API server creates by itself: default namespaces, RBAC policy, priority classes, the
        ``kubernetes`` Service."""
        system = UserInfo("system:apiserver", ("system:masters",))
        self.crds.start()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.request("create", "namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": ns}}, user=system, component=NAME)
        roles, bindings = bootstrap_policy()
        for r in roles:
            self.request("create", "clusterroles", body=r, user=system, component=NAME)
        for b in bindings:
            self.request("create", "clusterrolebindings", body=b, user=system, component=NAME)
        for name, value, desc in (
                ("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the "
                                                        "cluster, but can be moved to another node if necessary."),
                ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from "
                                                     "their current node.")):
            self.request("create", "priorityclasses", body={
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value, "globalDefault": False, "description": desc,
                "preemptionPolicy": "PreemptLowerPriority"}, user=system, component=NAME)
        import ipaddress
        first = str(ipaddress.ip_network(self.service_cidr).network_address + 1)
        self.request("create", "services", namespace="default", body={
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": first, "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                     "targetPort": 6443}],
                     "sessionAffinity": "None", "type": "ClusterIP"}}, user=system, component=NAME)

    def reconcile_kubernetes_endpoints(self, advertise_address: str, port: int = 6443) -> None:
        """The endpoint reconciler (pkg/controlplane/reconcilers, through EndpointsAdapter.Sync): the ``kubernetes``
        Service has no selector, so the API server itself writes its Endpoints and EndpointSlice, pointing at its
        own advertise address and secure port."""
        system = UserInfo("system:apiserver", ("system:masters",))
        ports = [{"name": "https", "port": port, "protocol": "TCP"}]
        self.request("create", "endpoints", namespace="default", body={
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": advertise_address}], "ports": ports}]}, user=system, component=NAME)
        self.request("create", "endpointslices", namespace="default", body={
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
            "ports": ports}, user=system, component=NAME)

    # -- helpers used by admission and RBAC -------------------------------------------------------------------------
    RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})

    def _authorize(self, attrs: Attributes) -> tuple[str, str]:
        """The authorizer's decision, remembered until an RBAC object changes (a lookup shortcut: the decision is
        the same as evaluating every binding again)."""
        got = self._authz_cache.get(attrs)
        if got is None:
            got = self._authz_cache[attrs] = self.authorizer.authorize(attrs)
        return got

    def _names_consulted(self, resource: str, subresource: str) -> bool:
        """Whether an authorizer of the chain may look at the object's name for this resource: an RBAC rule with
        ``resourceNames`` that could match it, the Node authorizer's own-Lease check, or an authorizer this server
        does not know. When none can, the request is authorized with the name left out: the decision is the same
        for every name, so a new object's first request (a pod's binding, its first status update) is answered
        from the decisions already made. Remembered with the decisions, so the same RBAC changes forget it."""
        cache = self._authz_cache
        got = cache.get((resource, subresource))
        if got is None:
            named = cache.get(None)
            if named is None:
                named = cache[None] = self._resources_with_names()
            got = named is True or resource in named or \
                bool(subresource) and (f"{resource}/{subresource}" in named or f"*/{subresource}" in named)
            cache[(resource, subresource)] = got
        return got

    def _resources_with_names(self):
        """What the authorizer chain says of the resources whose decisions may read the object's name (True: any
        may, or the authorizer cannot say)."""
        a = self.authorizer
        named = a.resources_with_names() if hasattr(a, "resources_with_names") else True
        return True if named is True or "*" in named else frozenset(named)

    def can_i(self, user, verb: str, resource: str = "", namespace: str = "", **kw):
        """``kubectl auth can-i``: see :func:`k8slab.apiserver.authz.can_i`."""
        from .authz import can_i

        return can_i(self, user, verb, resource, namespace, **kw)

    def _list_cached(self, resource: str):
        return self.cache.get(resource, {}).values()

    def storage_get(self, resource: str, namespace: str | None, name: str) -> dict | None:
        return self.cache.get(resource, {}).get(f"{namespace}/{name}" if namespace else name)

    def now_rfc3339(self) -> str:
        return rfc3339(self.loop.now)

    # -- the request pipeline ---------------------------------------------------------------------------------------
    def request(self, verb: str, resource: str, *, namespace: str | None = None, name: str | None = None,
                body: dict | None = None, subresource: str = "", creds: Credentials | None = None,
                user: UserInfo | None = None, component: str = "kubectl", options: dict | None = None,
                cause: int | None = None) -> Any:
        """Serve one API request. Returns the resulting object (or list / watch registration); raises
        :class:`~k8slab.api.errors.StatusError` with the code and reason the real API server would send."""
        loop = self.loop
        options = options or {}
        self.requests += 1
        info = resources.lookup(resource)
        if not info.namespaced:
            namespace = None
        elif namespace is None and verb not in ("list", "watch"):
            namespace = (body or {}).get("metadata", {}).get("namespace") or "default"
        if name is None and body is not None and verb in ("create", "update", "patch"):
            name = body.get("metadata", {}).get("name")
        ref = info.resource  # resource[/namespace][/name][/subresource]
        if namespace:
            ref = f"{ref}/{namespace}"
        if name:
            ref = f"{ref}/{name}"
        if subresource:
            ref = f"{ref}/{subresource}"
        stages = self.trace_stages
        rkey = (verb, info.resource, subresource)
        data = _REQUEST_DATA.get(rkey)
        if data is None:
            data = _REQUEST_DATA[rkey] = {"verb": verb, "resource": info.resource, "subresource": subresource}
        req = loop.emit(component, "request", ref, data, cause=cause, target=NAME)
        try:
            if not self.available:
                raise errors.new_service_unavailable("the server is currently unable to handle the request")
            if info.etcd_prefix == f"{info.group}/{info.resource}" and info.resource != "customresourcedefinitions" \
                    and not self.crds.is_custom(info):
                # a CRD-defined type this server does not serve (no Established CRD for it here)
                raise errors._status(404, "NotFound", "the server could not find the requested resource",
                                     {"group": info.group, "kind": info.resource})
            # 1. authentication
            if user is None:
                try:
                    user, method = self.authenticator.authenticate(creds)
                except AuthenticationError as e:
                    if stages:
                        loop.emit(NAME, "authn", ref, {"result": "Unauthorized", "reason": str(e)}, cause=req)
                    raise errors.new_unauthorized("Unauthorized")
            else:
                method = "x509"
            if stages:
                loop.emit(NAME, "authn", ref, {"user": user.name, "groups": list(user.groups), "method": method},
                          cause=req)
            # 2. authorization
            # a create request's URL names no object: authorization never sees the new object's name
            req_name = "" if (verb == "create" and not subresource) else (name or "")
            attrs = Attributes(user, verb, info.resource, subresource, info.group, namespace or "",
                               req_name if req_name and self._names_consulted(info.resource, subresource) else "")
            decision, reason = self._authorize(attrs)
            if stages:
                loop.emit(NAME, "authz", ref, {"decision": decision, "reason": reason}, cause=req)
            if decision != ALLOW:
                raise errors.new_forbidden(resources.group_resource(info) +
                                           (f"/{subresource}" if subresource else ""), req_name,
                                           errors.forbidden_reason(user.name, verb, info.resource, info.group,
                                                                   namespace, req_name or None, subresource))
            handler = getattr(self, "_" + verb)
            result = handler(info, namespace, name, body, subresource, user, options, req, ref)
        except errors.StatusError as e:
            loop.emit(NAME, "response", ref, {"code": e.code, "reason": e.reason, "message": e.message},
                      cause=req, target=component)
            raise
        loop.emit(NAME, "response", ref, _RESPONSE_DATA[CODES[verb]], cause=req,
                  target=component)
        return result

    # -- reads ------------------------------------------------------------------------------------------------------
    def _get(self, info, namespace, name, body, subresource, user, options, req, ref):
        obj = self.storage_get(info.resource, namespace, name)
        if obj is None:
            raise errors.new_not_found(resources.group_resource(info), name)
        if subresource == "scale":
            return self._scale_of(info, obj)
        if subresource == "log" and info.resource == "pods":
            from .podrest import pod_log
            return pod_log(self, namespace, name, options, req, ref)
        return obj

    def _list(self, info, namespace, name, body, subresource, user, options, req, ref):
        items = list(self.cache.get(info.resource, {}).values())
        sel = options.get("labelSelector")
        matcher = parse_selector(sel) if isinstance(sel, str) else None
        fsel = parse_field_selector(options.get("fieldSelector"))
        probe = WatchRegistration(info.resource, namespace, None, "", fsel, matcher)
        items = [o for o in items if probe.matches(o)]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return {"apiVersion": info.api_version, "kind": info.kind + "List",
                "metadata": {"resourceVersion": str(self.etcd.revision)}, "items": items}

    def _watch(self, info, namespace, name, body, subresource, user, options, req, ref):
        sel = options.get("labelSelector")
        w = WatchRegistration(info.resource, namespace, options["callback"], options.get("component", ""),
                              parse_field_selector(options.get("fieldSelector")),
                              parse_selector(sel) if isinstance(sel, str) else None)
        w.filter_key = (namespace, tuple(sorted(w.field_selector.items())), sel if isinstance(sel, str) else None)
        trigger = TRIGGER_FIELDS.get(info.resource)
        if trigger and trigger in w.field_selector:
            # the cacher's indexed triggers: a watch on spec.nodeName=X only looks at events for node X
            self.triggered.setdefault(info.resource, {}).setdefault(w.field_selector[trigger], []).append(w)
        else:
            self.watchers.setdefault(info.resource, []).append(w)
        return w

    # -- writes -----------------------------------------------------------------------------------------------------
    def _admit(self, verb, info, namespace, name, subresource, user, obj, old, req, ref) -> dict:
        ctx = AdmissionContext(self, verb, info, namespace, name, subresource, user, old)
        ctx.req, ctx.ref = req, ref
        self._run_admission(ctx, obj, "admit", "admission.mutating")
        return ctx

    def _run_admission(self, ctx, obj, phase: str, kind: str) -> None:
        """One admission phase: every plugin with ``phase`` (admit or validate) that handles the request, in
        order; a refusal is traced with the plugin that refused."""
        applied = []
        for p in self._phase_plugins(phase):
            if p.handles(ctx):
                try:
                    getattr(p, phase)(ctx, obj)
                except errors.StatusError as e:
                    if self.trace_stages:
                        self.loop.emit(NAME, kind, ctx.ref, {"plugins": applied, "denied_by": p.NAME,
                                                             "code": e.code, "message": e.message}, cause=ctx.req)
                    raise
                applied.append(p.NAME)
        if self.trace_stages:
            self.loop.emit(NAME, kind, ctx.ref, {"plugins": applied}, cause=ctx.req)

    def _phase_plugins(self, phase: str) -> list:
        """The plugins that have ``phase`` (an ``admit`` or ``validate`` method), in order; worked out again
        whenever the plugin list changes."""
        plugins = tuple(self.admission)
        got = self._admission_phases
        if got is None or got[0] != plugins:
            got = self._admission_phases = (plugins, {
                ph: [p for p in plugins if getattr(p, ph, None) is not None] for ph in ("admit", "validate")})
        return got[1][phase]

    def _validate(self, ctx, info, obj, old, req, ref, extra_errs=(), status_only: bool = False) -> None:
        try:
            errs = list(extra_errs) + (validate_status_update(obj, old) if status_only else validate(obj, old))
            if self.crds.is_custom(info):
                errs += self.crds.validate(info, obj, status_only)
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            # a value of a shape the decoder would not have produced: refuse it like a decoding error
            raise errors.new_bad_request(f"{info.kind} in version \"{info.version}\" cannot be handled as a "
                                         f"{info.kind}: {e}")
        if self.trace_stages:
            self.loop.emit(NAME, "validation", ref, {"errors": [e.error() for e in errs]}, cause=req)
        if errs:
            raise errors.new_invalid(resources.group_kind(info), obj.get("metadata", {}).get("name", ""), errs)
        self._run_admission(ctx, obj, "validate", "admission.validating")

    def _check_kind(self, info, body, skip: tuple = ()) -> dict:
        """The request body as an object the server owns (a copy), checked to be of the resource's kind.
        Top-level fields in ``skip`` are not copied because the server replaces them anyway (the status on a main
        resource update, everything but status and metadata on a status update)."""
        if not isinstance(body, dict):
            raise errors.new_bad_request("the body of the request was in an unknown format")
        if skip:
            copied = deepcopy({k: v for k, v in body.items() if k not in skip})
            obj = {k: (v if k in skip else copied[k]) for k, v in body.items()}
        else:
            obj = deepcopy(body)
        want = info.api_version
        if obj.get("kind") not in (None, info.kind) or obj.get("apiVersion") not in (None, want):
            raise errors.new_bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the expected API version "
                f"({want})" if obj.get("kind") == info.kind else
                f"Object '{obj.get('kind')}' is not of the expected kind '{info.kind}'")
        obj["apiVersion"], obj["kind"] = want, info.kind
        return obj

    @staticmethod
    def _decode(obj: dict, old: dict | None = None) -> None:
        """What decoding the request body into the Go type would refuse (e.g. a malformed quantity): 400.
        Top-level fields whose JSON is byte for byte the stored object's decoded when that was written, so they
        are not walked again (the answer for them is the same)."""
        if old is None:
            unchanged = frozenset()
        else:  # the stored object's own value, or an equal one (== first: most changed fields differ at once)
            unchanged = frozenset(k for k, v in obj.items() if type(v) in (dict, list) and k in old and
                                  (v is old[k] or v == old[k] and to_json(v) == to_json(old[k])))
        err = decode_error(obj, unchanged)
        if err is not None:
            raise err

    def _create(self, info, namespace, name, body, subresource, user, options, req, ref):
        if subresource == "binding":
            return self._bind(info, namespace, name, body, user, req, ref)
        if subresource == "token" and info.resource == "serviceaccounts":
            from .tokenrequest import create_token
            return create_token(self, namespace, name, body)
        if subresource == "exec" and info.resource == "pods":
            from .podrest import pod_exec
            return pod_exec(self, namespace, name, body, req, ref)
        if subresource:
            raise errors.new_method_not_supported(resources.group_resource(info), "create")
        obj = self._check_kind(info, body)
        md = obj.setdefault("metadata", {})
        if info.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.new_bad_request("the namespace of the provided object does not match the namespace "
                                             "sent on the request")
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = generate_name(md["generateName"], self.rng)
        name = md.get("name") or ""
        self._decode(obj)
        apply_defaults(obj)
        if self.crds.is_custom(info):
            self.crds.prepare(info, obj)
        ctx = self._admit("create", info, namespace, name, "", user, obj, None, req, ref)
        self.registry.prepare_for_create(info.resource, obj, self.now_rfc3339())
        extra = []
        if info.resource == "services" and not validate(obj, None):
            extra = self.registry.allocate_service(obj)
        try:
            self._validate(ctx, info, obj, None, req, ref, extra)
        except errors.StatusError:
            if info.resource == "services" and not extra:
                self.registry.release_service(obj)
            raise
        key = resources.etcd_key(info, namespace, name, self.prefix)
        value = to_json(obj)
        try:
            res = self._etcd_txn([Compare(key, "CREATE", "=", 0)], [Op.put(key, value)], [])
        except errors.StatusError:
            if info.resource == "services":
                self.registry.release_service(obj)
            raise
        if not res.succeeded:
            if info.resource == "services":
                self.registry.release_service(obj)
            self._pending.clear()
            raise errors.new_already_exists(resources.group_resource(info), name)
        return self._committed(key, obj, res.revision, "put", req, ref)

    def _etcd_txn(self, compares, success, failure):
        """The storage call: one etcd transaction. An etcd error (a Raft proposal not committed in time because
        etcd has no quorum) is not a Status: the handlers turn it into a 500 with etcd's message and no reason
        (responsewriters.ErrorToAPIStatus), which kubectl prints as "Error from server: etcdserver: request timed
        out". Watch events of other entries applied meanwhile are delivered, never dropped."""
        try:
            res = self.etcd.txn(compares, success, failure)
        except EtcdError as e:
            self.deliver_etcd_events()
            raise errors.StatusError({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": e.grpc_message, "reason": "", "code": 500}) from None
        if not res.succeeded:
            self.deliver_etcd_events()
        return res

    def deliver_etcd_events(self) -> None:
        """Send watch events etcd produced outside a request of this API server (entries committed late)."""
        if self._pending:
            self._dispatch(None)

    def _committed(self, key, obj, revision, op, req, ref):
        obj["metadata"]["resourceVersion"] = str(revision)
        self._written[key] = obj
        seq = self.loop.emit(NAME, f"etcd.{op}", ref, {"key": key, "revision": revision}, cause=req, target="etcd")
        self._dispatch(seq)
        return obj

    def _update(self, info, namespace, name, body, subresource, user, options, req, ref):
        if subresource == "scale":
            return self._update_scale(info, namespace, name, body, user, req, ref)
        if subresource == "finalize" and info.resource == "namespaces":
            return self._finalize_namespace(info, name, body, user, options, req, ref)
        if subresource not in ("", "status") or (subresource and subresource not in info.subresources):
            raise errors.new_method_not_supported(resources.group_resource(info) + "/" + subresource, "update")
        old = self.storage_get(info.resource, namespace, name)
        if old is None:
            raise errors.new_not_found(resources.group_resource(info), name)
        if "status" not in info.subresources:
            skip = ()
        elif subresource == "status":
            skip = tuple(k for k in body if k not in ("metadata", "status")) if isinstance(body, dict) else ()
        else:
            skip = ("status",)
        obj = self._check_kind(info, body, skip)
        md = obj.setdefault("metadata", {})
        if md.get("name") != name:
            raise errors.new_bad_request("the name of the object does not match the name on the URL")
        if info.namespaced:
            md["namespace"] = namespace
        rv = md.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.new_conflict(resources.group_resource(info), name)
        if not rv:  # an unconditional update: the store fills in the current resourceVersion
            md["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._decode(obj, old)
        self.registry.prepare_for_update(info.resource, obj, old, subresource, "status" in info.subresources)
        if subresource != "status":  # a status update keeps the stored (already defaulted) spec
            apply_defaults(obj)
            if self.crds.is_custom(info):
                self.crds.prepare(info, obj)
        ctx = self._admit("update", info, namespace, name, subresource, user, obj, old, req, ref)
        extra = []
        if info.resource == "services" and subresource == "":
            extra = self.registry.allocate_service(obj, old)
        self._validate(ctx, info, obj, old, req, ref, extra, status_only=(subresource == "status"))
        key = resources.etcd_key(info, namespace, name, self.prefix)
        # Finalizers removed from an object already being deleted: the update completes the deletion.
        if old["metadata"].get("deletionTimestamp") and not md.get("finalizers") and info.resource != "pods" \
                and not (info.resource == "namespaces" and (obj.get("spec") or {}).get("finalizers")):
            return self._remove(info, key, obj, int(old["metadata"]["resourceVersion"]), req, ref)
        if obj == old:
            return old  # no-op update: nothing is written
        value = to_json(obj)
        res = self._etcd_txn([Compare(key, "MOD", "=", int(old["metadata"]["resourceVersion"]))],
                            [Op.put(key, value)], [])
        if not res.succeeded:
            self._pending.clear()
            raise errors.new_conflict(resources.group_resource(info), name)
        return self._committed(key, obj, res.revision, "put", req, ref)

    def _patch(self, info, namespace, name, body, subresource, user, options, req, ref):
        """JSON merge patch (RFC 7386) of the stored object, then the update path."""
        old = self.storage_get(info.resource, namespace, name)
        if old is None:
            raise errors.new_not_found(resources.group_resource(info), name)
        merged = merge_patch(deepcopy(old), body or {})
        if not (body or {}).get("metadata", {}).get("resourceVersion"):
            merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(info, namespace, name, merged, subresource, user, options, req, ref)

    def _delete(self, info, namespace, name, body, subresource, user, options, req, ref):
        policy = options.get("propagationPolicy")
        if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
            # ValidateDeleteOptions
            raise errors.new_invalid("DeleteOptions.meta.k8s.io", "", [errors.not_supported(
                "propagationPolicy", policy, ["Foreground", "Background", "Orphan"])])
        old = self.storage_get(info.resource, namespace, name)
        if old is None:
            raise errors.new_not_found(resources.group_resource(info), name)
        ctx = AdmissionContext(self, "delete", info, namespace, name, "", user, old)
        ctx.req, ctx.ref = req, ref
        for p in self._phase_plugins("validate"):
            if p.handles(ctx):
                p.validate(ctx, None)
        key = resources.etcd_key(info, namespace, name, self.prefix)
        rv = int(old["metadata"]["resourceVersion"])
        md = old["metadata"]
        grace = options.get("gracePeriodSeconds")
        # Graceful deletion of a pod bound to a node: mark it and let the kubelet stop it (pod strategy
        # CheckGracefulDelete); the kubelet then deletes it with grace period 0.
        if info.resource == "pods" and old.get("spec", {}).get("nodeName") and grace != 0 and \
                old.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            if md.get("deletionTimestamp"):
                return old
            grace = old["spec"].get("terminationGracePeriodSeconds", 30) if grace is None else grace
            obj = _new_metadata(old)
            obj["metadata"]["deletionTimestamp"] = rfc3339(self.loop.now + grace * 1000)
            obj["metadata"]["deletionGracePeriodSeconds"] = grace
            return self._put_if(info, key, obj, rv, name, req, ref)
        if info.resource == "customresourcedefinitions" and not md.get("deletionTimestamp"):
            obj = deepcopy(old)
            self.crds.on_delete(obj)
            obj["metadata"]["deletionTimestamp"] = self.now_rfc3339()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            return self._put_if(info, key, obj, rv, name, req, ref)
        if info.resource == "namespaces" and old.get("spec", {}).get("finalizers"):
            if md.get("deletionTimestamp"):
                return old
            obj = _new_metadata(old)
            obj["metadata"]["deletionTimestamp"] = self.now_rfc3339()
            obj["status"] = {"phase": "Terminating"}
            return self._put_if(info, key, obj, rv, name, req, ref)
        policy = options.get("propagationPolicy")
        if md.get("finalizers") or policy in ("Foreground", "Orphan"):
            if md.get("deletionTimestamp"):
                return old
            obj = _new_metadata(old)
            obj["metadata"]["deletionTimestamp"] = self.now_rfc3339()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            # deletionFinalizersForGarbageCollection: the policy becomes a finalizer the garbage collector acts on
            # (foregroundDeletion: delete the dependents first; orphan: remove their ownerReferences first)
            if policy in ("Foreground", "Orphan"):
                add, drop = ("foregroundDeletion", "orphan") if policy == "Foreground" else \
                    ("orphan", "foregroundDeletion")
                fins = [f for f in obj["metadata"].get("finalizers") or () if f != drop]
                if add not in fins:
                    fins.append(add)
                obj["metadata"]["finalizers"] = fins
            return self._put_if(info, key, obj, rv, name, req, ref)
        return self._remove(info, key, old, rv, req, ref)

    def _put_if(self, info, key, obj, rv, name, req, ref):
        res = self._etcd_txn([Compare(key, "MOD", "=", rv)], [Op.put(key, to_json(obj))],
                            [])
        if not res.succeeded:
            self._pending.clear()
            raise errors.new_conflict(resources.group_resource(info), name)
        return self._committed(key, obj, res.revision, "put", req, ref)

    def _remove(self, info, key, obj, rv, req, ref):
        res = self._etcd_txn([Compare(key, "MOD", "=", rv)], [Op.delete(key)], [])
        if not res.succeeded:
            self._pending.clear()
            raise errors.new_conflict(resources.group_resource(info), obj["metadata"]["name"])
        if info.resource == "services":
            self.registry.release_service(obj)
        obj = _new_metadata(obj)
        self._written[key] = obj
        obj["metadata"]["resourceVersion"] = str(res.revision)
        seq = self.loop.emit(NAME, "etcd.delete", f"{info.resource}/{_key_ref(obj)}",
                             {"key": key, "revision": res.revision}, cause=req, target="etcd")
        self._dispatch(seq)
        return obj

    # -- subresources -----------------------------------------------------------------------------------------------
    def _finalize_namespace(self, info, name, body, user, options, req, ref):
        """PUT namespaces/<name>/finalize (FinalizeREST): only spec.finalizers changes. A terminating namespace
        left with no finalizers at all is deleted by the same update (ShouldDeleteNamespaceDuringUpdate)."""
        old = self.storage_get("namespaces", None, name)
        if old is None:
            raise errors.new_not_found("namespaces", name)
        fins = ((body or {}).get("spec") or {}).get("finalizers") or []
        for i, f in enumerate(fins):
            if not isinstance(f, str) or ("/" not in f and f != "kubernetes"):
                raise errors.new_invalid("Namespace", name, [errors.invalid(
                    f"spec.finalizers[{i}]", f, "name is neither a standard finalizer name nor is it fully "
                                                "qualified")])
        obj = deepcopy(old)
        obj["spec"]["finalizers"] = list(fins)
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.new_conflict("namespaces", name)
        key = resources.etcd_key(info, None, name, self.prefix)
        cur_rv = int(old["metadata"]["resourceVersion"])
        if old["metadata"].get("deletionTimestamp") and not fins and not old["metadata"].get("finalizers"):
            return self._remove(info, key, obj, cur_rv, req, ref)
        if obj == old:
            return old
        return self._put_if(info, key, obj, cur_rv, name, req, ref)

    def _bind(self, info, namespace, name, body, user, req, ref):
        """POST pods/<name>/binding: sets spec.nodeName and the PodScheduled condition (BindingREST)."""
        if info.resource != "pods":
            raise errors.new_method_not_supported(resources.group_resource(info) + "/binding", "create")
        pod = self.storage_get("pods", namespace, name)
        if pod is None:
            raise errors.new_not_found("pods", name)
        target = (body or {}).get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.new_invalid("Binding", name, [errors.required("target.name", "")])
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.new_conflict("pods/binding", name, f"pod {name} is being deleted, cannot be assigned to "
                                                            f"a host")
        if pod["spec"].get("nodeName"):
            raise errors.new_conflict("pods/binding", name, f'pod {name} is already assigned to node '
                                                            f'"{pod["spec"]["nodeName"]}"')
        # the stored pod with new metadata, spec and status dicts: the parts left as they were are shared with the
        # stored object, which is never changed in place (every write stores a new object)
        obj = dict(pod)
        obj["metadata"] = dict(pod["metadata"])
        obj["spec"] = dict(pod["spec"])
        obj["spec"]["nodeName"] = node
        status = obj["status"] = dict(pod.get("status") or {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"].append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                     "lastTransitionTime": self.now_rfc3339()})
        key = resources.etcd_key(info, namespace, name, self.prefix)
        self._put_if(info, key, obj, int(pod["metadata"]["resourceVersion"]), name, req, ref)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _scale_of(self, info, obj):
        sel = obj.get("spec", {}).get("selector") or {}
        ml = sel.get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace"),
                             "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
                             "creationTimestamp": obj["metadata"]["creationTimestamp"]},
                "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(ml.items()))}}

    def _update_scale(self, info, namespace, name, body, user, req, ref):
        if "scale" not in info.subresources:
            raise errors.new_not_found(resources.group_resource(info) + "/scale", name)
        old = self.storage_get(info.resource, namespace, name)
        if old is None:
            raise errors.new_not_found(resources.group_resource(info), name)
        replicas = (body or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.new_invalid("Scale.autoscaling", name, [errors.invalid(
                "spec.replicas", replicas, "must be greater than or equal to 0")])
        obj = deepcopy(old)
        obj["spec"]["replicas"] = replicas
        rv = (body or {}).get("metadata", {}).get("resourceVersion")
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        updated = self._update(info, namespace, name, obj, "", user, {}, req, ref)
        return self._scale_of(info, updated)

    # -- watch fan-out ----------------------------------------------------------------------------------------------
    def _on_etcd_events(self, events) -> None:
        self._pending.extend(events)

    def _dispatch(self, cause: int | None) -> None:
        """Apply committed etcd events to the watch cache and send them to every matching watcher."""
        pending, self._pending = self._pending, []
        for ev in pending:
            key = ev.kv.key
            info = self._info_for_key(key)
            if info is None:
                continue
            k = key[len(self.prefix) + 1 + len(info.etcd_prefix) + 1:]
            store = self.cache.setdefault(info.resource, {})
            old = store.get(k)
            if ev.type == "PUT":
                obj = self._written.pop(key, None)
                if obj is None:
                    obj = json.loads(ev.kv.value)
                    obj["metadata"]["resourceVersion"] = str(ev.kv.mod_revision)
                store[k] = obj
                etype = "ADDED" if old is None else "MODIFIED"
            else:
                obj = self._written.pop(key, None) or old
                store.pop(k, None)
                etype = "DELETED"
            if obj is None:
                continue
            if info.resource in self.RBAC_RESOURCES:
                self._authz_cache.clear()
            watchers = self.watchers.get(info.resource) or []
            triggered = self.triggered.get(info.resource)
            if triggered:
                path = TRIGGER_FIELDS[info.resource]
                now_v = _field(obj, path)
                was_v = _field(old, path) if old is not None else now_v
                extra = list(triggered.get(now_v, ())) if was_v == now_v else \
                    [w for v in sorted((now_v, was_v)) for w in triggered.get(v, ())]
                if extra and len(self._fan_out(info, k, obj, old, etype, extra, cause,
                                               (path, now_v, was_v))) != len(extra):
                    for v in {now_v, was_v}:  # forget the stopped watches (a kubelet that was stopped)
                        kept = [w for w in triggered.get(v, ()) if not w.stopped]
                        if kept:
                            triggered[v] = kept
                        else:
                            triggered.pop(v, None)
            if not watchers:
                continue
            alive = self._fan_out(info, k, obj, old, etype, watchers, cause)
            if len(alive) != len(watchers):
                self.watchers[info.resource] = alive

    def _fan_out(self, info, k, obj, old, etype, watchers, cause, trigger: tuple | None = None) -> list:
        """Send one event to the watchers it matches (as ADDED or DELETED to a watch the object enters or
        leaves). ``trigger`` is (field path, its value now, its value before) for the watch cache's indexed
        watchers, whose selector is that one field."""
        alive = []
        calls = []
        seen: dict[tuple, tuple[bool, bool]] = {}
        for w in watchers:
            if w.stopped:
                continue
            alive.append(w)
            fk = w.filter_key
            got = seen.get(fk)
            if got is None:
                if fk == _NO_FILTER:  # no namespace, field or label selector: every object matches
                    got = (True, old is not None and etype == "MODIFIED")
                elif trigger is not None and fk[0] is None and fk[2] is None and len(fk[1]) == 1 and \
                        fk[1][0][0] == trigger[0]:  # only the trigger field: its values are known
                    want = fk[1][0][1]
                    got = (trigger[1] == want, old is not None and etype == "MODIFIED" and trigger[2] == want)
                else:
                    got = (w.matches(obj), old is not None and etype == "MODIFIED" and w.matches(old))
                seen[fk] = got
            now_m, was_m = got
            if etype == "MODIFIED":
                if now_m and was_m:
                    t = "MODIFIED"
                elif now_m:
                    t = "ADDED"
                elif was_m:
                    t = "DELETED"
                else:
                    continue
            elif now_m:
                t = etype
            else:
                continue
            calls.append((w, t))
        if len(calls) >= WATCH_BATCH_MIN:
            self.loop.call_each_later(WATCH_LATENCY_MS, [(w.callback, (t, obj)) for w, t in calls], component=NAME,
                                      label=f"watch {etype} {info.resource}/{k} to {len(calls)} watchers",
                                      cause=cause)
        else:
            for w, t in calls:
                self.loop.call_later(WATCH_LATENCY_MS, w.callback, t, obj, component=w.component,
                                     label=f"watch {t} {info.resource}/{k}", cause=cause)
        return alive

    def _info_for_key(self, key: str):
        rest = key[len(self.prefix) + 1:]
        parts = rest.split("/")
        if len(parts) >= 2:
            two = parts[0] + "/" + parts[1]
            if two in self._prefixes:
                return self._prefixes[two]
        return self._prefixes.get(parts[0])


def _new_metadata(obj: dict) -> dict:
    """A new object with a new metadata dict, sharing everything else with ``obj``: for writes that change only
    the metadata of a stored object (stored objects are never changed in place, so the rest needs no copy)."""
    new = dict(obj)
    new["metadata"] = dict(obj["metadata"])
    return new


def _key_ref(obj: dict) -> str:
    md = obj["metadata"]
    return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target
