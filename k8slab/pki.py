"""Mirrors: cmd/kubeadm/app/phases/certs (certlist.go, certs.go), cmd/kubeadm/app/util/pkiutil/pki_helpers.go,
cmd/kubeadm/app/constants/constants.go, cmd/kubeadm/app/phases/kubeconfig, and
pkg/serviceaccount/jwt.go (ServiceAccount tokens).

The cluster's public key infrastructure as ``kubeadm init`` lays it out under /etc/kubernetes/pki. Three
certificate authorities, each valid for ten years: the cluster CA ``ca`` (Common Name ``kubernetes``), which signs
the API server's serving certificate and every client certificate the API server accepts; ``etcd/ca``, which
signs etcd's serving and peer certificates and the clients etcd accepts; and ``front-proxy-ca``, which signs the
certificate the API server presents to extension API servers. Leaf certificates are valid for one year. A client
certificate's Common Name is the user name and its Organizations are the groups. ``sa.key``/``sa.pub`` is a key
pair, not a certificate: the API server signs ServiceAccount tokens (JWTs) with it and checks them with the public
half.

Keys here are ECDSA P-256 (kubeadm's ``encryptionAlgorithm: ECDSA-P256``), derived from the cluster seed, and
signatures are deterministic (RFC 6979), so the same seed gives the same files.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from dataclasses import dataclass, field

EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
CA_VALIDITY = datetime.timedelta(days=3650)  # kubeadm: CACertificateValidityPeriod, 10 years
CERT_VALIDITY = datetime.timedelta(days=365)  # kubeadm: CertificateValidityPeriod, 1 year
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PKI_DIR = "/etc/kubernetes/pki"
CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins"
SYSTEM_PRIVILEGED_GROUP = "system:masters"
DNS_DOMAIN = "cluster.local"


def derive_key(seed: int, name: str):
    """The private key named ``name`` for the cluster seed (an ECDSA P-256 key)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    label = f"k8slab-ca-key-{seed}" if name == "ca" else f"k8slab-key-{seed}-{name}"
    secret = int.from_bytes(hashlib.sha256(label.encode()).digest(), "big")
    return ec.derive_private_key(secret % (P256_ORDER - 1) + 1, ec.SECP256R1())


def _serial(seed: int, name: str) -> int:
    label = f"k8slab-ca-serial-{seed}" if name == "ca" else f"k8slab-serial-{seed}-{name}"
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big") >> 1


def _name(cn: str, orgs=()):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _sign_ca(seed: int, name: str, cn: str, not_before: datetime.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = derive_key(seed, name)
    subject = _name(cn)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(_serial(seed, name))
            .not_valid_before(not_before)
            .not_valid_after(not_before + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True))
    return key, cert


def cluster_ca(seed: int):
    """Return ``(private_key, certificate)`` for the cluster CA of ``seed``."""
    return _sign_ca(seed, "ca", "kubernetes", EPOCH)


def cluster_ca_pem(seed: int) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cluster_ca(seed)[1].public_bytes(Encoding.PEM).decode()


@dataclass
class CertSpec:
    """One entry of kubeadm's certificate list: who signs it, its subject, usages and SANs."""

    name: str  # the file name under /etc/kubernetes/pki (without .crt/.key), or a kubeconfig/kubelet file
    ca: str  # the CA that signs it
    cn: str
    orgs: tuple = ()
    usages: tuple = ("client",)  # "server" and/or "client"
    dns: tuple = ()
    ips: tuple = ()
    path: str = ""
    description: str = ""


@dataclass
class KeyPair:
    """A certificate and its key, as the files kubeadm writes."""

    name: str
    cert: object
    key: object
    path: str
    ca: str = ""
    spec: CertSpec | None = None

    @property
    def cert_pem(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.cert.public_bytes(Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def sans(self) -> list[str]:
        from cryptography import x509

        try:
            ext = self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return []
        return [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)] + \
               [f"IP Address:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)]


def api_server_alt_names(node_name: str, advertise_address: str, service_cidr: str,
                         dns_domain: str = DNS_DOMAIN) -> tuple[tuple, tuple]:
    """GetAPIServerAltNames: the node's host name and the ``kubernetes`` Service's names; the Service's cluster IP
    (the first address of the service range) and the advertise address."""
    import ipaddress

    svc_ip = str(ipaddress.ip_network(service_cidr).network_address + 1)
    return ((node_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             f"kubernetes.default.svc.{dns_domain}"), (svc_ip, advertise_address))


def etcd_alt_names(node_name: str, advertise_address: str) -> tuple[tuple, tuple]:
    """GetEtcdAltNames / GetEtcdPeerAltNames: host name and localhost; advertise address and loopback."""
    return (node_name, "localhost"), (advertise_address, "127.0.0.1", "::1")


def kubeadm_cert_list(control_plane: str = "control-plane", advertise_address: str = "192.168.0.10",
                      service_cidr: str = "10.96.0.0/12", nodes=(("node-1", "192.168.0.11"),),
                      dns_domain: str = DNS_DOMAIN) -> list[CertSpec]:
    """certlist.go GetDefaultCertList, plus the kubeconfig client certificates and each kubelet's certificates."""
    api_dns, api_ips = api_server_alt_names(control_plane, advertise_address, service_cidr, dns_domain)
    etcd_dns, etcd_ips = etcd_alt_names(control_plane, advertise_address)
    specs = [
        CertSpec("ca", "ca", "kubernetes", path=f"{PKI_DIR}/ca.crt", description="cluster CA"),
        CertSpec("apiserver", "ca", "kube-apiserver", (), ("server",), api_dns, api_ips,
                 f"{PKI_DIR}/apiserver.crt", "API server serving certificate"),
        CertSpec("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", (CLUSTER_ADMINS_GROUP,),
                 path=f"{PKI_DIR}/apiserver-kubelet-client.crt",
                 description="the API server's client certificate for kubelets (logs, exec, port-forward)"),
        CertSpec("front-proxy-ca", "front-proxy-ca", "front-proxy-ca", path=f"{PKI_DIR}/front-proxy-ca.crt",
                 description="CA for the aggregation layer"),
        CertSpec("front-proxy-client", "front-proxy-ca", "front-proxy-client",
                 path=f"{PKI_DIR}/front-proxy-client.crt",
                 description="the API server's client certificate for extension API servers"),
        CertSpec("etcd/ca", "etcd/ca", "etcd-ca", path=f"{PKI_DIR}/etcd/ca.crt", description="etcd CA"),
        CertSpec("etcd/server", "etcd/ca", control_plane, (), ("server", "client"), etcd_dns, etcd_ips,
                 f"{PKI_DIR}/etcd/server.crt", "etcd serving certificate"),
        CertSpec("etcd/peer", "etcd/ca", control_plane, (), ("server", "client"), etcd_dns, etcd_ips,
                 f"{PKI_DIR}/etcd/peer.crt", "etcd member-to-member certificate"),
        CertSpec("etcd/healthcheck-client", "etcd/ca", "kube-etcd-healthcheck-client",
                 path=f"{PKI_DIR}/etcd/healthcheck-client.crt", description="etcd liveness probe client"),
        CertSpec("apiserver-etcd-client", "etcd/ca", "kube-apiserver-etcd-client",
                 path=f"{PKI_DIR}/apiserver-etcd-client.crt", description="the API server's client certificate "
                                                                          "for etcd"),
        # kubeconfig files (phases/kubeconfig): client certificates signed by the cluster CA
        CertSpec("admin.conf", "ca", "kubernetes-admin", (CLUSTER_ADMINS_GROUP,),
                 path="/etc/kubernetes/admin.conf", description="kubectl for administrators"),
        CertSpec("super-admin.conf", "ca", "kubernetes-super-admin", (SYSTEM_PRIVILEGED_GROUP,),
                 path="/etc/kubernetes/super-admin.conf", description="break-glass kubectl (system:masters)"),
        CertSpec("controller-manager.conf", "ca", "system:kube-controller-manager",
                 path="/etc/kubernetes/controller-manager.conf", description="kube-controller-manager"),
        CertSpec("scheduler.conf", "ca", "system:kube-scheduler", path="/etc/kubernetes/scheduler.conf",
                 description="kube-scheduler"),
    ]
    for name, ip in ((control_plane, advertise_address),) + tuple(nodes):
        specs.append(CertSpec(f"kubelet-client/{name}", "ca", f"system:node:{name}", ("system:nodes",),
                              path=f"{name}:/var/lib/kubelet/pki/kubelet-client-current.pem",
                              description=f"kubelet on {name} -> API server"))
        specs.append(CertSpec(f"kubelet-serving/{name}", "ca", f"system:node:{name}", ("system:nodes",),
                              ("server",), (name,), (ip,), f"{name}:/var/lib/kubelet/pki/kubelet-server-current.pem",
                              description=f"kubelet on {name} serving :10250 (serverTLSBootstrap)"))
    return specs


def issue(seed: int, spec: CertSpec, ca_key, ca_cert, not_before: datetime.datetime,
          validity: datetime.timedelta = CERT_VALIDITY, key=None):
    """NewSignedCert: a leaf certificate for ``spec`` signed by the CA."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = key or derive_key(seed, spec.name)
    usages = []
    if "server" in spec.usages:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if "client" in spec.usages:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    b = (x509.CertificateBuilder()
         .subject_name(_name(spec.cn, spec.orgs)).issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(_serial(seed, spec.name + not_before.isoformat()))
         .not_valid_before(not_before)
         .not_valid_after(not_before + validity)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if spec.dns or spec.ips:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(d) for d in spec.dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.ips]),
            critical=False)
    return key, b.sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)


@dataclass
class PKI:
    """Every certificate and key of a kubeadm cluster, by name (``ca``, ``apiserver``, ``etcd/peer``, ...)."""

    seed: int
    not_before: datetime.datetime
    certs: dict[str, KeyPair] = field(default_factory=dict)
    sa_key: object = None

    def __getitem__(self, name: str) -> KeyPair:
        return self.certs[name]

    @property
    def ca(self) -> KeyPair:
        return self.certs["ca"]

    @property
    def sa_pub_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def files(self) -> list[dict]:
        """``ls -R /etc/kubernetes/pki`` with each certificate's subject, issuer, SANs and validity."""
        rows = []
        for kp in self.certs.values():
            rows.append({"file": kp.path, "subject": kp.subject, "issuer": kp.cert.issuer.rfc4514_string(),
                         "sans": ", ".join(kp.sans), "not_after": kp.cert.not_valid_after_utc.date().isoformat()})
        rows.append({"file": f"{PKI_DIR}/sa.key + sa.pub", "subject": "(key pair, no certificate)",
                     "issuer": "", "sans": "", "not_after": ""})
        return rows

    def issue(self, name: str, ca: str, cn: str, orgs=(), usages=("client",), dns=(), ips=(),
              not_before: datetime.datetime | None = None, validity: datetime.timedelta = CERT_VALIDITY,
              ca_pair: KeyPair | None = None) -> KeyPair:
        """A further leaf certificate signed by one of the CAs (or ``ca_pair``), e.g. for a new user."""
        spec = CertSpec(name, ca, cn, tuple(orgs), tuple(usages), tuple(dns), tuple(ips), name)
        signer = ca_pair or self.certs[ca]
        key, cert = issue(self.seed, spec, signer.key, signer.cert, not_before or self.not_before, validity)
        return KeyPair(name, cert, key, name, ca, spec)


def kubeadm_pki(seed: int = 0, control_plane: str = "control-plane", advertise_address: str = "192.168.0.10",
                service_cidr: str = "10.96.0.0/12", nodes=(("node-1", "192.168.0.11"),),
                not_before: datetime.datetime | None = None, dns_domain: str = DNS_DOMAIN) -> PKI:
    """``kubeadm init phase certs all`` plus the kubeconfig and kubelet certificates. ``not_before`` is when they
    are issued (the cluster's epoch unless given)."""
    not_before = not_before or EPOCH
    pki = PKI(seed, not_before)
    specs = kubeadm_cert_list(control_plane, advertise_address, service_cidr, nodes, dns_domain)
    for spec in specs:
        if spec.ca == spec.name:
            key, cert = _sign_ca(seed, spec.name, spec.cn, not_before)
        else:
            signer = pki.certs[spec.ca]
            key, cert = issue(seed, spec, signer.key, signer.cert, not_before)
        pki.certs[spec.name] = KeyPair(spec.name, cert, key, spec.path, spec.ca, spec)
    pki.sa_key = derive_key(seed, "sa")
    return pki


def cluster_pki(cluster, not_before: datetime.datetime | None = None) -> PKI:
    """The kubeadm PKI of a :class:`~k8slab.Cluster` (its nodes, addresses and service range)."""
    agents = [cluster.node(n) for n in cluster.nodes]
    cp = next((a for a in agents if a.role == "control-plane"), agents[0])
    return kubeadm_pki(cluster.seed, cp.name, cp.ip, cluster.service_cidr,
                       tuple((a.name, a.ip) for a in agents if a is not cp), not_before)


# -- which component presents which certificate to which -----------------------------------------------------------

CONNECTIONS = [
    # (client, server, certificate the client presents, certificate the server presents, CA the server trusts
    #  for the client, CA the client trusts for the server)
    ("kubectl (admin.conf)", "kube-apiserver :6443", "admin.conf (CN=kubernetes-admin, O=kubeadm:cluster-admins)",
     "apiserver.crt", "ca.crt (--client-ca-file)", "ca.crt (in admin.conf)"),
    ("kube-controller-manager", "kube-apiserver :6443", "controller-manager.conf (CN=system:kube-controller-manager)",
     "apiserver.crt", "ca.crt (--client-ca-file)", "ca.crt"),
    ("kube-scheduler", "kube-apiserver :6443", "scheduler.conf (CN=system:kube-scheduler)", "apiserver.crt",
     "ca.crt (--client-ca-file)", "ca.crt"),
    ("kubelet", "kube-apiserver :6443", "kubelet-client-current.pem (CN=system:node:<node>, O=system:nodes)",
     "apiserver.crt", "ca.crt (--client-ca-file)", "ca.crt (in kubelet.conf)"),
    ("pod / kube-proxy (ServiceAccount)", "kube-apiserver :6443", "none: a bearer JWT signed with sa.key",
     "apiserver.crt", "sa.pub (--service-account-key-file) checks the token",
     "ca.crt from the kube-root-ca.crt ConfigMap"),
    ("kube-apiserver", "kubelet :10250", "apiserver-kubelet-client.crt", "kubelet serving certificate",
     "ca.crt (kubelet --client-ca-file)", "not checked unless --kubelet-certificate-authority is set"),
    ("kube-apiserver", "etcd :2379", "apiserver-etcd-client.crt", "etcd/server.crt",
     "etcd/ca.crt (--trusted-ca-file)", "etcd/ca.crt (--etcd-cafile)"),
    ("etcd member", "etcd member :2380", "etcd/peer.crt", "etcd/peer.crt", "etcd/ca.crt (--peer-trusted-ca-file)",
     "etcd/ca.crt"),
    ("etcdctl health checks (kubeadm's etcd liveness probe is plain HTTP on 127.0.0.1:2381, no certificate)",
     "etcd :2379", "etcd/healthcheck-client.crt", "etcd/server.crt", "etcd/ca.crt (--trusted-ca-file)",
     "etcd/ca.crt"),
    ("kube-apiserver (aggregator)", "extension API server", "front-proxy-client.crt", "the extension's own",
     "front-proxy-ca.crt (--requestheader-client-ca-file)", "the APIService's caBundle"),
]


def connections() -> list[dict]:
    """Who presents which certificate to whom, and which CA each side checks it with."""
    keys = ("client", "server", "client presents", "server presents", "server verifies client with",
            "client verifies server with")
    return [dict(zip(keys, row)) for row in CONNECTIONS]


# -- ServiceAccount tokens ---------------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_id(public_key) -> str:
    """keyIDFromPublicKey: base64url(SHA-256(DER public key))."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64url(hashlib.sha256(der).digest())


def issuer(dns_domain: str = DNS_DOMAIN) -> str:
    return f"https://kubernetes.default.svc.{dns_domain}"


def service_account_token(sa_key, namespace: str, name: str, uid: str = "", *, now: int, expiration_seconds: int = 3607,
                          audiences=None, pod: tuple[str, str] | None = None, dns_domain: str = DNS_DOMAIN) -> str:
    """A bound ServiceAccount token (TokenRequest): an ES256 JWT with the ``kubernetes.io`` private claims.
    ``now`` is Unix seconds."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header = {"alg": "ES256", "kid": key_id(sa_key.public_key())}
    k8s = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
    if pod:
        k8s["pod"] = {"name": pod[0], "uid": pod[1]}
    claims = {"aud": list(audiences or [issuer(dns_domain)]), "exp": now + expiration_seconds, "iat": now,
              "iss": issuer(dns_domain), "kubernetes.io": k8s, "nbf": now,
              "sub": f"system:serviceaccount:{namespace}:{name}"}
    signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64url(json.dumps(claims, separators=(",", ":")).encode())
    der = sa_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class TokenError(Exception):
    pass


def verify_service_account_token(token: str, public_keys, *, now: int, audiences=None,
                                 dns_domain: str = DNS_DOMAIN) -> dict:
    """The JWT token authenticator: signature by one of ``public_keys``, issuer, audience and time. Returns the
    claims or raises :class:`TokenError`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        sig = _b64url_decode(parts[2])
    except ValueError:
        raise TokenError("malformed JWT") from None
    if header.get("alg") != "ES256" or len(sig) != 64:
        raise TokenError("unsupported signing algorithm")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    for pub in public_keys:
        try:
            pub.verify(der, (parts[0] + "." + parts[1]).encode(), ec.ECDSA(hashes.SHA256()))
            break
        except InvalidSignature:
            continue
    else:
        raise TokenError("square/go-jose: error in cryptographic primitive")  # jwt.go's message for a bad signature
    if claims.get("iss") != issuer(dns_domain):
        raise TokenError("token issuer is not trusted")
    want = set(audiences or [issuer(dns_domain)])
    if not want & set(claims.get("aud") or []):
        raise TokenError("token audiences is invalid")
    if now >= claims.get("exp", 0):
        raise TokenError("service account token has expired")
    if now < claims.get("nbf", 0) - 60:
        raise TokenError("service account token is not yet valid")
    return claims
