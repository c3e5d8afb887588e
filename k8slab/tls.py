"""Mirrors: staging/src/k8s.io/apiserver/pkg/server/secure_serving.go and the mutual-TLS checks every Kubernetes
component makes (crypto/tls verifyPeerCertificate / x509.Verify: chain to a trusted CA, validity period, host name
against the Subject Alternative Names, extended key usage).

A real TLS handshake between two endpoints on 127.0.0.1, with certificates from :mod:`k8slab.pki`: the "server"
presents its serving certificate and asks for a client certificate, the "client" checks the server's certificate
against the CA it trusts and the name it dialled. Either side refuses a certificate that is expired, signed by a
CA it does not trust, or (for the server) issued for another name, with the TLS library's real error.

This is the only place in k8slab with threads or sockets: the server side of one handshake runs in a thread, on an
ephemeral port, and everything is closed before :func:`handshake` returns. Certificate validity is checked against
the real clock, so :func:`pki_for_today` issues the kubeadm certificates with today's date.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field

from .pki import CERT_VALIDITY, PKI, KeyPair, kubeadm_pki


@dataclass
class HandshakeResult:
    """What each side saw: ``accepted`` only if both completed the handshake and exchanged a message."""

    accepted: bool
    server_name: str
    client_error: str = ""
    server_error: str = ""
    protocol: str = ""
    cipher: str = ""
    server_saw_client: str = ""  # the client certificate's subject, as the server read it
    client_saw_server: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        """The refusal's cause: the side whose certificate check failed, else whichever side saw an error."""
        for e in (self.client_error, self.server_error):
            if e.startswith("certificate verify failed"):
                return e
        return self.client_error or self.server_error

    def __repr__(self) -> str:
        if self.accepted:
            return (f"<TLS handshake accepted: {self.protocol} {self.cipher}; server saw {self.server_saw_client!r}, "
                    f"client saw {self.client_saw_server!r}>")
        return f"<TLS handshake refused: client: {self.client_error or '-'}; server: {self.server_error or '-'}>"


def pki_for_today(seed: int = 0, **kw) -> PKI:
    """The kubeadm PKI issued yesterday (so it is valid now, by the real clock the TLS library uses)."""
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return kubeadm_pki(seed, not_before=today - datetime.timedelta(days=1), **kw)


def expired_copy(pki: PKI, name: str) -> KeyPair:
    """``name``'s certificate as it was issued two years ago: valid for a year, so expired since a year."""
    kp = pki[name]
    spec = kp.spec
    return pki.issue(f"{name} (expired)", kp.ca, spec.cn, spec.orgs, spec.usages, spec.dns, spec.ips,
                     not_before=pki.not_before - 2 * CERT_VALIDITY)


def _error(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {e.verify_message}"
    if isinstance(e, ssl.SSLError):
        return e.reason or str(e)
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "connection reset by peer"
    return f"{type(e).__name__}: {e}"


def _subject(cert: dict | None) -> str:
    if not cert:
        return ""
    parts = []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            parts.append(f"{ {'commonName': 'CN', 'organizationName': 'O'}.get(k, k)}={v}")
    return ",".join(parts)


def handshake(server_cert: KeyPair, server_trusts: KeyPair | None, client_cert: KeyPair | None,
              client_trusts: KeyPair, server_name: str, timeout: float = 5.0) -> HandshakeResult:
    """Serve ``server_cert`` on 127.0.0.1 (asking for a client certificate signed by ``server_trusts``; none when
    it is None) and connect to it presenting ``client_cert`` and checking the server against ``client_trusts`` and
    ``server_name`` (the name or IP the client dialled)."""
    result = HandshakeResult(False, server_name)
    with tempfile.TemporaryDirectory(prefix="k8slab-tls-") as tmp:
        def write(kp: KeyPair, stem: str) -> tuple[str, str]:
            crt, key = os.path.join(tmp, stem + ".crt"), os.path.join(tmp, stem + ".key")
            with open(crt, "w") as f:
                f.write(kp.cert_pem)
            with open(key, "w") as f:
                f.write(kp.key_pem)
            return crt, key

        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.minimum_version = ssl.TLSVersion.TLSv1_2
        sctx.load_cert_chain(*write(server_cert, "server"))
        if server_trusts is not None:
            sctx.verify_mode = ssl.CERT_REQUIRED
            sctx.load_verify_locations(cadata=server_trusts.cert_pem)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.minimum_version = ssl.TLSVersion.TLSv1_2
        cctx.check_hostname = True
        cctx.load_verify_locations(cadata=client_trusts.cert_pem)
        if client_cert is not None:
            cctx.load_cert_chain(*write(client_cert, "client"))

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(timeout)
        port = listener.getsockname()[1]
        result.log.append(f"server listening on 127.0.0.1:{port} presenting {server_cert.subject}")
        server_ok = threading.Event()

        def serve() -> None:
            conn = None
            try:
                conn, _ = listener.accept()
                conn.settimeout(timeout)
                with sctx.wrap_socket(conn, server_side=True) as tls:
                    result.server_saw_client = _subject(tls.getpeercert())
                    data = tls.recv(64)
                    if data == b"ping":
                        tls.sendall(b"pong")
                        server_ok.set()
            except (OSError, ssl.SSLError) as e:
                result.server_error = _error(e)
            finally:
                if conn is not None:
                    conn.close()

        thread = threading.Thread(target=serve, name="k8slab-tls-server", daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
                with cctx.wrap_socket(raw, server_hostname=server_name) as tls:
                    result.protocol, result.cipher = tls.version() or "", (tls.cipher() or ("",))[0]
                    result.client_saw_server = _subject(tls.getpeercert())
                    tls.sendall(b"ping")
                    reply = tls.recv(64)
                    if reply != b"pong":
                        result.client_error = "connection closed by the server"
        except (OSError, ssl.SSLError) as e:
            result.client_error = _error(e)
        finally:
            thread.join(timeout)
            listener.close()
    result.accepted = server_ok.is_set() and not result.client_error and not result.server_error
    result.log.append("accepted" if result.accepted else f"refused: {result.error}")
    return result


def component_handshake(pki: PKI, connection: str, **override) -> HandshakeResult:
    """A named connection of the cluster with the certificates kubeadm gives it: ``"kubelet->apiserver"``,
    ``"apiserver->etcd"``, ``"etcd->etcd"``, ``"kubectl->apiserver"``. ``override`` replaces any argument of
    :func:`handshake` (e.g. ``client_cert=expired_copy(pki, "apiserver-etcd-client")``)."""
    first_node = next((n.split("/", 1)[1] for n in pki.certs if n.startswith("kubelet-client/")), "control-plane")
    presets = {
        "kubectl->apiserver": dict(server_cert=pki["apiserver"], server_trusts=pki["ca"],
                                   client_cert=pki["admin.conf"], client_trusts=pki["ca"],
                                   server_name="kubernetes.default.svc"),
        "kubelet->apiserver": dict(server_cert=pki["apiserver"], server_trusts=pki["ca"],
                                   client_cert=pki[f"kubelet-client/{first_node}"], client_trusts=pki["ca"],
                                   server_name="10.96.0.1"),
        "apiserver->etcd": dict(server_cert=pki["etcd/server"], server_trusts=pki["etcd/ca"],
                                client_cert=pki["apiserver-etcd-client"], client_trusts=pki["etcd/ca"],
                                server_name="127.0.0.1"),
        "etcd->etcd": dict(server_cert=pki["etcd/peer"], server_trusts=pki["etcd/ca"],
                           client_cert=pki["etcd/peer"], client_trusts=pki["etcd/ca"], server_name="localhost"),
        "apiserver->kubelet": dict(server_cert=pki[f"kubelet-serving/{first_node}"], server_trusts=pki["ca"],
                                   client_cert=pki["apiserver-kubelet-client"], client_trusts=pki["ca"],
                                   server_name=first_node),
    }
    if connection not in presets:
        raise ValueError(f"unknown connection {connection!r}; known: {', '.join(presets)}")
    args = presets[connection]
    args.update(override)
    return handshake(**args)
