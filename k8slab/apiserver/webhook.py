"""Mirrors: staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook (mutating/dispatcher.go,
validating/dispatcher.go, errors/statuserror.go, predicates/rules/rules.go, request/admissionreview.go),
staging/src/k8s.io/api/admission/v1 and admissionregistration/v1.

Dynamic admission: the API server sends an ``AdmissionReview`` to each webhook whose rules match the request.
A *mutating* webhook answers with a JSONPatch (RFC 6902) that the API server applies to the object; a
*validating* webhook answers ``allowed: true`` or ``false`` with a Status. Webhooks are registered with
MutatingWebhookConfiguration and ValidatingWebhookConfiguration objects; mutating ones run in the mutating phase,
after the built-in mutating plugins, validating ones after schema validation. Here a webhook's endpoint is a Python
function: ``clientConfig.url`` names it, and :func:`serve` connects the URL to the function.

A denial becomes the webhook's Status ("admission webhook "x" denied the request: ..."); a webhook that cannot be
called fails the request with 500 under ``failurePolicy: Fail`` (the default) and is skipped under ``Ignore``; a
patch that breaks the object is refused later by validation (422), exactly where the real API server refuses it.
"""

from __future__ import annotations

import base64
import json
from typing import Callable

from ..api import errors
from ..api.objects import deepcopy, selector_matches

OPERATIONS = {"create": "CREATE", "update": "UPDATE", "patch": "UPDATE", "delete": "DELETE"}
URL_PREFIX = "https://"


def serve(server, url: str, fn: Callable[[dict], dict]) -> None:
    """Make ``fn(admission_review) -> response`` the endpoint at ``url``."""
    if not hasattr(server, "webhook_backends"):
        server.webhook_backends = {}
    server.webhook_backends[url] = fn


def add_webhook(target, name: str, fn: Callable[[dict], dict], *, mutating: bool = False,
                operations=("CREATE",), api_groups=("",), api_versions=("v1",), resources=("pods",),
                failure_policy: str = "Fail", namespace_selector: dict | None = None,
                object_selector: dict | None = None) -> dict:
    """The Python API: serve ``fn`` and create a webhook configuration named ``name`` that sends matching requests
    to it. ``target`` is a Cluster (the configuration is created through the API as the admin) or an APIServer."""
    server = getattr(target, "apiserver", target)
    url = f"{URL_PREFIX}{name}.webhooks.k8slab/{'mutate' if mutating else 'validate'}"
    serve(server, url, fn)
    kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"
    hook = {"name": name if "." in name else f"{name}.k8slab.io", "clientConfig": {"url": url},
            "rules": [{"operations": list(operations), "apiGroups": list(api_groups),
                       "apiVersions": list(api_versions), "resources": list(resources), "scope": "*"}],
            "failurePolicy": failure_policy, "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10, "matchPolicy": "Equivalent",
            "namespaceSelector": namespace_selector or {}, "objectSelector": object_selector or {}}
    if mutating:
        hook["reinvocationPolicy"] = "Never"
    obj = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
           "webhooks": [hook]}
    if hasattr(target, "apply"):
        return target.apply(obj)
    from .authn import UserInfo

    return server.request("create", kind.lower() + "s", body=obj,
                          user=UserInfo("kubernetes-admin", ("system:masters",)))


# -- matching ------------------------------------------------------------------------------------------------------

def _match_list(items, value) -> bool:
    return "*" in (items or ()) or value in (items or ())


def rule_matches(rule: dict, ctx) -> bool:
    """rules.Matcher: operation, group, version, resource (with subresource) and scope."""
    if not _match_list(rule.get("operations"), OPERATIONS.get(ctx.verb, "")):
        return False
    if not _match_list(rule.get("apiGroups"), ctx.info.group):
        return False
    if not _match_list(rule.get("apiVersions"), ctx.info.version):
        return False
    res, sub = ctx.info.resource, ctx.subresource
    ok = False
    for r in rule.get("resources") or ():
        r_res, _, r_sub = r.partition("/")
        if r == "*/*" or (r_res in ("*", res) and ((not r_sub and not sub) or r_sub in ("*", sub) and sub)):
            ok = True
            break
    if not ok:
        return False
    scope = rule.get("scope", "*")
    return scope == "*" or (scope == "Namespaced") == ctx.info.namespaced


def webhook_matches(hook: dict, ctx, obj: dict | None) -> bool:
    if not any(rule_matches(r, ctx) for r in hook.get("rules") or ()):
        return False
    target = obj if obj is not None else ctx.old
    if hook.get("objectSelector") and not selector_matches(
            hook["objectSelector"], ((target or {}).get("metadata") or {}).get("labels") or {}):
        return False
    if hook.get("namespaceSelector") and ctx.info.namespaced:
        ns = ctx.lookup("namespaces", None, ctx.namespace) or {}
        if not selector_matches(hook["namespaceSelector"], ns.get("metadata", {}).get("labels") or {}):
            return False
    return True


# -- the AdmissionReview ----------------------------------------------------------------------------------------

def admission_review(ctx, obj: dict | None, uid: str) -> dict:
    info = ctx.info
    req = {
        "uid": uid,
        "kind": {"group": info.group, "version": info.version, "kind": info.kind},
        "resource": {"group": info.group, "version": info.version, "resource": info.resource},
        "requestKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "requestResource": {"group": info.group, "version": info.version, "resource": info.resource},
        "name": ctx.name or (obj or {}).get("metadata", {}).get("name", ""),
        "operation": OPERATIONS.get(ctx.verb, ""),
        "userInfo": {"username": ctx.user.name, "groups": list(ctx.user.groups)},
        "object": deepcopy(obj) if obj is not None else None,
        "oldObject": deepcopy(ctx.old) if ctx.old is not None else None,
        "dryRun": False,
    }
    if ctx.subresource:
        req["subResource"] = ctx.subresource
    if info.namespaced:
        req["namespace"] = ctx.namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


class CallError(Exception):
    """The webhook could not be called or gave an unusable answer (ErrCallingWebhook)."""


def _call(ctx, hook: dict, obj: dict | None) -> dict:
    server = ctx.server
    url = (hook.get("clientConfig") or {}).get("url", "")
    backend = getattr(server, "webhook_backends", {}).get(url)
    if backend is None:
        raise CallError(f'failed to call webhook: Post "{url}?timeout={hook.get("timeoutSeconds", 10)}s": '
                        f'dial tcp: lookup {url[len(URL_PREFIX):].split("/")[0]}: no such host')
    uid = f"{server.rng.getrandbits(128):032x}"
    uid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
    review = admission_review(ctx, obj, uid)
    try:
        answer = backend(review)
    except Exception as e:  # the endpoint failed: as a connection error or a 500 from the webhook server
        raise CallError(f"{type(e).__name__}: {e}") from None
    if not isinstance(answer, dict):
        raise CallError("received invalid webhook response: expected an AdmissionReview or a response object")
    response = answer.get("response", answer)
    if response.get("uid", uid) != uid:
        raise CallError(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    if "allowed" not in response:
        raise CallError("received invalid webhook response: response.allowed is required")
    return response


def to_status_err(webhook_name: str, status: dict | None) -> errors.StatusError:
    """errors.ToStatusErr: a denial with at least a 400 code and the webhook named in the message."""
    status = dict(status or {})
    code = int(status.get("code") or 0)
    if code < 400:
        code = 400
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    if status.get("message"):
        message = f"{denied_by}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied_by}: {status['reason']}"
    else:
        message = f"{denied_by} without explanation"
    return errors._status(code, status.get("reason", ""), message)


def apply_json_patch(doc, patch: list):
    """RFC 6902: add, remove, replace, move, copy, test."""
    doc = deepcopy(doc)

    def parts(path: str):
        if path == "":
            return []
        if not path.startswith("/"):
            raise ValueError(f"invalid JSON pointer {path!r}")
        return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]

    def parent(d, ps):
        for p in ps[:-1]:
            d = d[int(p)] if isinstance(d, list) else d[p]
        return d

    def get(d, ps):
        for p in ps:
            d = d[int(p)] if isinstance(d, list) else d[p]
        return d

    def add(d, ps, value):
        if not ps:
            return value
        par = parent(d, ps)
        key = ps[-1]
        if isinstance(par, list):
            idx = len(par) if key == "-" else int(key)
            if idx > len(par):
                raise ValueError(f"add operation does not apply: index {idx} out of range")
            par.insert(idx, value)
        elif isinstance(par, dict):
            par[key] = value
        else:
            raise ValueError("add operation does not apply: doc is missing path")
        return d

    def remove(d, ps):
        par = parent(d, ps)
        if isinstance(par, list):
            par.pop(int(ps[-1]))
        else:
            del par[ps[-1]]
        return d

    for op in patch:
        try:
            kind, ps = op["op"], parts(op["path"])
            if kind == "add":
                doc = add(doc, ps, deepcopy(op["value"]))
            elif kind == "remove":
                doc = remove(doc, ps)
            elif kind == "replace":
                get(doc, ps)
                doc = remove(doc, ps) if ps else doc
                doc = add(doc, ps, deepcopy(op["value"]))
            elif kind in ("move", "copy"):
                frm = parts(op["from"])
                value = deepcopy(get(doc, frm))
                if kind == "move":
                    doc = remove(doc, frm)
                doc = add(doc, ps, value)
            elif kind == "test":
                if get(doc, ps) != op["value"]:
                    raise ValueError(f"testing value {op['path']} failed")
            else:
                raise ValueError(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError(f"{op.get('op')} operation does not apply: doc is missing path: {op.get('path')}: "
                             f"{e}") from None
    return doc


class _WebhookPlugin:
    CONFIG = ""

    def handles(self, ctx) -> bool:
        return ctx.verb in OPERATIONS and bool(ctx.server._list_cached(self.CONFIG))

    def _hooks(self, ctx, obj):
        for cfg in sorted(ctx.server._list_cached(self.CONFIG), key=lambda c: c["metadata"]["name"]):
            for hook in cfg.get("webhooks") or []:
                if webhook_matches(hook, ctx, obj):
                    yield hook

    def _trace(self, ctx, hook, data) -> None:
        server = ctx.server
        if server.trace_stages and getattr(ctx, "req", None) is not None:
            server.loop.emit("kube-apiserver", "admission.webhook", ctx.ref,
                             {"webhook": hook["name"], "plugin": self.NAME, **data}, cause=ctx.req,
                             target=hook["name"])

    def _dispatch(self, ctx, hook, obj):
        """Call one webhook; returns its response, or None when the failure policy says to ignore it."""
        try:
            response = _call(ctx, hook, obj)
        except CallError as e:
            self._trace(ctx, hook, {"error": str(e), "failurePolicy": hook.get("failurePolicy", "Fail")})
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise errors.new_internal_error(f'failed calling webhook "{hook["name"]}": {e}') from None
        self._trace(ctx, hook, {"allowed": bool(response.get("allowed")),
                                "patched": bool(response.get("patch"))})
        if not response.get("allowed"):
            raise to_status_err(hook["name"], response.get("status"))
        return response


class MutatingAdmissionWebhook(_WebhookPlugin):
    NAME = "MutatingAdmissionWebhook"
    CONFIG = "mutatingwebhookconfigurations"
    mutating = True

    def admit(self, ctx, obj: dict) -> None:
        from ..api.validation import decode_error

        if obj is None:
            return
        for hook in list(self._hooks(ctx, obj)):
            response = self._dispatch(ctx, hook, obj)
            if response is None or not response.get("patch"):
                continue
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise errors.new_internal_error(f'failed calling webhook "{hook["name"]}": unsupported patch type '
                                                f'"{response.get("patchType")}"')
            patch = response["patch"]
            try:
                if isinstance(patch, (str, bytes)):
                    patch = json.loads(base64.b64decode(patch))
                patched = apply_json_patch(obj, patch)
            except (ValueError, TypeError) as e:
                raise errors.new_internal_error(str(e)) from None
            if not isinstance(patched, dict):
                raise errors.new_internal_error("the patched object is not a JSON object")
            if patched.get("kind") != obj.get("kind") or patched.get("apiVersion") != obj.get("apiVersion"):
                raise errors.new_internal_error(f"the patched object's kind {patched.get('kind')!r} is not "
                                                f"{obj.get('kind')!r}")
            err = decode_error(patched)
            if err is not None:  # the patched JSON no longer decodes into the type
                raise errors.new_internal_error(err.message) from None
            obj.clear()
            obj.update(patched)


class ValidatingAdmissionWebhook(_WebhookPlugin):
    NAME = "ValidatingAdmissionWebhook"
    CONFIG = "validatingwebhookconfigurations"
    mutating = False

    def validate(self, ctx, obj: dict) -> None:
        for hook in list(self._hooks(ctx, obj)):
            self._dispatch(ctx, hook, obj)
