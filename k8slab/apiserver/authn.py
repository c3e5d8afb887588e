"""Mirrors: staging/src/k8s.io/apiserver/pkg/authentication (request/x509, token/tokenfile, request/anonymous,
user/user.go, serviceaccount/util.go).

The first stage of every request: who is asking? The API server tries its authenticators in turn. A client
certificate signed by the cluster CA names the user in its Common Name and the groups in its Organizations; a
bearer token is looked up (static token file, ServiceAccount tokens); a request with no credentials becomes
``system:anonymous``. Every authenticated user also gets the group ``system:authenticated``.

A real client certificate (``Credentials.certificate(...)``) is verified as the x509 authenticator does: signed by
the cluster CA, inside its validity period at the cluster's current time, and usable for client authentication;
otherwise the request gets 401. ServiceAccount tokens are ES256 JWTs signed with the cluster's ``sa.key``
(:func:`k8slab.pki.service_account_token`); the token authenticator checks signature, issuer, audience and expiry.
Failed authentication always answers a bare 401 "Unauthorized": the reason is only in the server's log (here, the
trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

SYSTEM_PRIVILEGED_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
KUBE_PROXY = "system:kube-proxy"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_SCHEDULER = "system:kube-scheduler"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


class UserInfo(NamedTuple):
    """What authentication tells the rest of the pipeline (user.Info); immutable and hashable."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Credentials:
    """What a client presents: a client certificate (``cn``/``orgs``), a bearer ``token``, or nothing."""

    cert_cn: str | None = None
    cert_orgs: tuple[str, ...] = ()
    token: str | None = None
    cert: Any = None  # a real client certificate (cryptography x509.Certificate, PEM text or a pki.KeyPair)

    @classmethod
    def certificate(cls, cert) -> "Credentials":
        """A client certificate to be verified against the cluster CA (a KeyPair, a certificate or PEM text)."""
        return cls(cert=cert)

    @classmethod
    def x509(cls, cn: str, *orgs: str) -> "Credentials":
        return cls(cert_cn=cn, cert_orgs=tuple(orgs))

    @classmethod
    def bearer(cls, token: str) -> "Credentials":
        return cls(token=token)

    @property
    def method(self) -> str:
        if self.cert_cn is not None or self.cert is not None:
            return "x509"
        if self.token is not None:
            return "token"
        return "anonymous"


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_user(namespace: str, name: str) -> UserInfo:
    return UserInfo(service_account_username(namespace, name),
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", ALL_AUTHENTICATED))


class AuthenticationError(Exception):
    """Authentication failed: the API server answers 401 Unauthorized."""


@dataclass
class Authenticator:
    """The union of the authenticators a kubeadm API server runs, tried in order."""

    tokens: dict[str, UserInfo] = field(default_factory=dict)  # static token file and issued SA tokens
    anonymous_enabled: bool = True
    seed: int = 0  # the cluster seed: which CA (--client-ca-file) and sa.key/sa.pub this API server has
    now_ms: Callable[[], int] | None = None  # the cluster clock (ms since the cluster's epoch)
    _ca: Any = None
    _sa_key: Any = None

    # -- keys --------------------------------------------------------------------------------------------------------
    @property
    def client_ca(self):
        if self._ca is None:
            from ..pki import cluster_ca

            self._ca = cluster_ca(self.seed)[1]
        return self._ca

    @property
    def sa_key(self):
        if self._sa_key is None:
            from ..pki import derive_key

            self._sa_key = derive_key(self.seed, "sa")
        return self._sa_key

    def now(self):
        import datetime

        from ..pki import EPOCH

        return EPOCH + datetime.timedelta(milliseconds=self.now_ms() if self.now_ms else 0)

    def issue_token(self, namespace: str, name: str, uid: str = "", expiration_seconds: int = 3607,
                    audiences=None) -> str:
        """TokenRequest (POST serviceaccounts/<name>/token): a bound token signed with sa.key."""
        from ..pki import service_account_token

        return service_account_token(self.sa_key, namespace, name, uid, now=int(self.now().timestamp()),
                                     expiration_seconds=expiration_seconds, audiences=audiences)

    # -- authenticators ------------------------------------------------------------------------------------------
    def verify_certificate(self, cert) -> UserInfo:
        """request/x509: verify the chain and validity, then CN is the user and O the groups."""
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        if hasattr(cert, "cert"):
            cert = cert.cert
        if isinstance(cert, (str, bytes)):
            cert = x509.load_pem_x509_certificate(cert.encode() if isinstance(cert, str) else cert)
        try:
            cert.verify_directly_issued_by(self.client_ca)
        except Exception:
            raise AuthenticationError("x509: certificate signed by unknown authority") from None
        now = self.now()
        if now > cert.not_valid_after_utc or now < cert.not_valid_before_utc:
            raise AuthenticationError(
                f"x509: certificate has expired or is not yet valid: current time {now:%Y-%m-%dT%H:%M:%SZ} is "
                + (f"after {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" if now > cert.not_valid_after_utc
                   else f"before {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"))
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
                raise AuthenticationError("x509: certificate specifies an incompatible key usage")
        except x509.ExtensionNotFound:
            pass
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if not cn or not cn[0].value:
            raise AuthenticationError("x509: certificate has no common name")
        return UserInfo(cn[0].value, tuple(orgs) + (ALL_AUTHENTICATED,))

    def verify_token(self, token: str) -> UserInfo:
        """serviceaccount JWT authenticator: signed by sa.key, for this issuer and audience, not expired."""
        from ..pki import TokenError, verify_service_account_token

        try:
            claims = verify_service_account_token(token, [self.sa_key.public_key()],
                                                  now=int(self.now().timestamp()))
        except TokenError as e:
            raise AuthenticationError(f"invalid bearer token, {e}") from None
        k8s = claims.get("kubernetes.io") or {}
        ns, sa = k8s.get("namespace", ""), (k8s.get("serviceaccount") or {}).get("name", "")
        user = service_account_user(ns, sa)
        return UserInfo(user.name, user.groups, (k8s.get("serviceaccount") or {}).get("uid", ""))

    def authenticate(self, creds: Credentials | None) -> tuple[UserInfo, str]:
        """Return ``(user, method)`` or raise :class:`AuthenticationError`."""
        if creds is None:
            creds = Credentials()
        if creds.cert is not None:
            return self.verify_certificate(creds.cert), "x509"
        if creds.cert_cn is not None:
            groups = tuple(creds.cert_orgs) + (ALL_AUTHENTICATED,)
            return UserInfo(creds.cert_cn, groups), "x509"
        if creds.token is not None:
            user = self.tokens.get(creds.token)
            if user is None and creds.token.count(".") == 2:
                return self.verify_token(creds.token), "token"
            if user is None:
                raise AuthenticationError("invalid bearer token")
            return user, "token"
        if self.anonymous_enabled:
            return UserInfo(ANONYMOUS, (ALL_UNAUTHENTICATED,)), "anonymous"
        raise AuthenticationError("no credentials")
