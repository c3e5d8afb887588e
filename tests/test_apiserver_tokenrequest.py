"""The TokenRequest JWT: header, claims encoding and signature."""

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from k8slab.apiserver.tokenrequest import decode_jwt, key_id, sign_jwt


def _unb64(p: str) -> bytes:
    return base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))


def test_jwt_header_claims_and_signature_for_each_key():
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": 1767229207, "iat": 1767225600,
              "kubernetes.io": {"namespace": "d\u00e9mo", "pod": {"name": "web", "uid": "u-1"}},
              "sub": "system:serviceaccount:default:default", "big": 1 << 70}
    for key in keys + keys:  # the second round reuses each key's header
        token = sign_jwt(claims, key)
        header, got = decode_jwt(token)
        assert header == {"alg": "ES256", "kid": key_id(key.public_key())}
        assert got == claims
        h, c, sig = token.split(".")
        # the encoding json.dumps gives: compact, non-ASCII escaped, in the claims' order
        assert _unb64(c) == json.dumps(claims, separators=(",", ":")).encode()
        assert _unb64(h) == json.dumps(header, separators=(",", ":")).encode()
        raw = _unb64(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.public_key().verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if wrong
    assert key_id(keys[0].public_key()) != key_id(keys[1].public_key())
