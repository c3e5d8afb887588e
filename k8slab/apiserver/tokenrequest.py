"""Mirrors: pkg/registry/core/serviceaccount/storage/token.go (TokenREST.Create), pkg/serviceaccount/claims.go
(Claims, privateClaims), pkg/serviceaccount/jwt.go (JWTTokenGenerator) and
pkg/apis/authentication/validation (ValidateTokenRequest).

``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` is the TokenRequest API: the API server mints a
short-lived JSON Web Token for the ServiceAccount, signed with its service-account key, with the audiences asked for
(default: the API server's own, ``https://kubernetes.default.svc.cluster.local``) and, when ``boundObjectRef``
names a Pod, Secret or Node, bound to that object so the token stops working when the object is deleted. The
kubelet calls it for every pod's projected ``kube-api-access-*`` volume (expirationSeconds 3607, the file
``token``), next to ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap and ``namespace`` from the downward API.

Tokens are signed with the API server authenticator's ``sa.key`` (ES256 in the model, see k8slab/pki.py), so the
same authenticator that checks every bearer token verifies them: signature, issuer, audience and expiry.
"""

from __future__ import annotations

import base64
import hashlib
import json

from ..api import errors
from ..api.objects import rfc3339, to_json

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"  # kubeadm --api-audiences / --service-account-issuer
ISSUER = API_AUDIENCE
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}
EPOCH_S = 1767225600  # 2026-01-01T00:00:00Z, the cluster's virtual epoch


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(public_key) -> str:
    """The ``kid`` header: keyIDFromPublicKey, base64url(SHA-256(DER public key))."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def _compact_json(obj) -> bytes:
    """``json.Marshal``-like compact JSON, ASCII only (as ``json.dumps`` writes it)."""
    try:
        text = to_json(obj)
    except TypeError:  # not what orjson encodes (e.g. an integer beyond 64 bits)
        text = None
    if text is None or not text.isascii():
        text = json.dumps(obj, separators=(",", ":"))
    return text.encode()


# The signing key -> (the encoded JOSE header with its kid, the ECDSA algorithm): the key id of a key never changes,
# so the header is built once per key instead of once per token.
_signers: dict = {}


def _signer(key) -> tuple[str, object]:
    got = _signers.get(key)
    if got is None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        header = {"alg": "ES256", "kid": key_id(key.public_key())}
        if len(_signers) > 64:
            _signers.clear()
        got = _signers[key] = (_b64(_compact_json(header)),
                               ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return got


def sign_jwt(claims: dict, key) -> str:
    """JWTTokenGenerator.GenerateToken: an ES256 JWT of ``claims`` signed with ``key``."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header, algorithm = _signer(key)
    signing_input = header + "." + _b64(_compact_json(claims))
    der = key.sign(signing_input.encode(), algorithm)
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def decode_jwt(token: str) -> tuple[dict, dict]:
    """The header and claims of a token (what jwt.io shows); the signature is not checked here."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")

    def dec(p):
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    return dec(parts[0]), dec(parts[1])


def validate_token_request(name: str, spec: dict) -> None:
    errs = []
    exp = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
    if not isinstance(exp, int) or isinstance(exp, bool):
        errs.append(errors.invalid("spec.expirationSeconds", exp, "must be an integer"))
    elif exp < MIN_EXPIRATION_SECONDS:
        errs.append(errors.invalid("spec.expirationSeconds", exp, "may not specify a duration less than 10 minutes"))
    elif exp > MAX_EXPIRATION_SECONDS:
        errs.append(errors.invalid("spec.expirationSeconds", exp,
                                   "may not specify a duration larger than 2^32 seconds"))
    if errs:
        raise errors.new_invalid("TokenRequest.authentication.k8s.io", name, errs)


def create_token(server, namespace: str, name: str, body: dict | None) -> dict:
    """TokenREST.Create: the TokenRequest with ``status.token`` and ``status.expirationTimestamp`` filled in."""
    body = body or {}
    spec = dict(body.get("spec") or {})
    validate_token_request(name, spec)
    sa = server.storage_get("serviceaccounts", namespace, name)
    if sa is None:
        raise errors.new_not_found("serviceaccounts", name)
    exp = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
    audiences = list(spec.get("audiences") or [API_AUDIENCE])
    now_s = EPOCH_S + server.loop.now // 1000
    private = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}}
    ref = spec.get("boundObjectRef")
    if ref:
        resource = BOUND_KINDS.get(ref.get("kind"))
        if resource is None or ref.get("apiVersion", "v1") != "v1":
            raise errors.new_bad_request(f"cannot bind token for serviceaccount {name!r} to object of type "
                                         f"{ref.get('apiVersion', 'v1')}, Kind={ref.get('kind')}")
        obj = server.storage_get(resource, None if resource == "nodes" else namespace, ref.get("name", ""))
        if obj is None:
            raise errors.new_not_found(resource, ref.get("name", ""))
        if ref.get("uid") and ref["uid"] != obj["metadata"]["uid"]:
            raise errors.new_conflict(resource, ref.get("name", ""),
                                      f"the UID in the bound object reference ({ref['uid']}) does not match the "
                                      f"UID in record. The object might have been deleted and then recreated")
        private[ref["kind"].lower()] = {"name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
        if ref["kind"] == "Pod" and obj["spec"].get("nodeName"):
            node = server.storage_get("nodes", None, obj["spec"]["nodeName"])
            if node is not None:
                private["node"] = {"name": node["metadata"]["name"], "uid": node["metadata"]["uid"]}
        spec["boundObjectRef"] = {"kind": ref["kind"], "apiVersion": "v1", "name": obj["metadata"]["name"],
                                  "uid": obj["metadata"]["uid"]}
    claims = {"aud": audiences, "exp": now_s + exp, "iat": now_s, "iss": ISSUER,
              "jti": server.rng.getrandbits(128).to_bytes(16, "big").hex(), "kubernetes.io": private,
              "nbf": now_s, "sub": f"system:serviceaccount:{namespace}:{name}"}
    token = sign_jwt(claims, server.authenticator.sa_key)
    spec["audiences"] = audiences
    spec["expirationSeconds"] = exp
    spec.setdefault("boundObjectRef", None)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(server.loop.now)},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(server.loop.now + exp * 1000)}}


def projected_token_volume(client, pod: dict) -> dict[str, str]:
    """The files of a pod's ``kube-api-access-*`` projected volume, computed the way the kubelet fills it: a
    TokenRequest bound to the pod (expirationSeconds 3607, refreshed at 80% of its life), the cluster CA from the
    ``kube-root-ca.crt`` ConfigMap, and the pod's namespace from the downward API."""
    md = pod["metadata"]
    vol = next((v for v in pod["spec"].get("volumes") or () if v.get("projected") and
                v["name"].startswith("kube-api-access-")), None)
    if vol is None:
        return {}
    out = {}
    for src in vol["projected"]["sources"]:
        if "serviceAccountToken" in src:
            t = src["serviceAccountToken"]
            tr = client.create_token(md["namespace"], pod["spec"].get("serviceAccountName", "default"), {
                "spec": {"audiences": [t["audience"]] if t.get("audience") else None,
                         "expirationSeconds": t.get("expirationSeconds", 3600),
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": md["name"],
                                            "uid": md["uid"]}}})
            out[t.get("path", "token")] = tr["status"]["token"]
        elif "configMap" in src:
            cm = client.get("configmaps", src["configMap"]["name"], md["namespace"])
            for item in src["configMap"].get("items") or ():
                out[item["path"]] = (cm.get("data") or {}).get(item["key"], "")
        elif "downwardAPI" in src:
            for item in src["downwardAPI"].get("items") or ():
                if item.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                    out[item["path"]] = md["namespace"]
    return out
