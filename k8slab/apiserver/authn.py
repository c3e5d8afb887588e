"""Mirrors: staging/src/k8s.io/apiserver/pkg/authentication (request/x509, token/tokenfile, request/anonymous,
user/user.go, serviceaccount/util.go).

The first stage of every request: who is asking? The API server tries its authenticators in turn. A client
certificate signed by the cluster CA names the user in its Common Name and the groups in its Organizations; a
bearer token is looked up (static token file, ServiceAccount tokens); a request with no credentials becomes
``system:anonymous``. Every authenticated user also gets the group ``system:authenticated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_PRIVILEGED_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
KUBE_PROXY = "system:kube-proxy"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_SCHEDULER = "system:kube-scheduler"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    """What authentication tells the rest of the pipeline (user.Info)."""

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

    @classmethod
    def x509(cls, cn: str, *orgs: str) -> "Credentials":
        return cls(cert_cn=cn, cert_orgs=tuple(orgs))

    @classmethod
    def bearer(cls, token: str) -> "Credentials":
        return cls(token=token)

    @property
    def method(self) -> str:
        if self.cert_cn is not None:
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

    def authenticate(self, creds: Credentials | None) -> tuple[UserInfo, str]:
        """Return ``(user, method)`` or raise :class:`AuthenticationError`."""
        if creds is None:
            creds = Credentials()
        if creds.cert_cn is not None:
            groups = tuple(creds.cert_orgs) + (ALL_AUTHENTICATED,)
            return UserInfo(creds.cert_cn, groups), "x509"
        if creds.token is not None:
            user = self.tokens.get(creds.token)
            if user is None:
                raise AuthenticationError("invalid bearer token")
            return user, "token"
        if self.anonymous_enabled:
            return UserInfo(ANONYMOUS, (ALL_UNAUTHENTICATED,)), "anonymous"
        raise AuthenticationError("no credentials")
