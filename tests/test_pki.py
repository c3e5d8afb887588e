"""The kubeadm PKI: names, SANs, signers and validity; certificate and token authentication (401 on bad input)."""

import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.apiserver import Credentials
from k8slab.client import Client
from k8slab.pki import (CA_VALIDITY, CERT_VALIDITY, EPOCH, cluster_ca_pem, connections, kubeadm_pki,
                        service_account_token, verify_service_account_token, TokenError)


@pytest.fixture(scope="module")
def pki():
    return kubeadm_pki(7, nodes=(("node-1", "192.168.0.11"), ("node-2", "192.168.0.12")))


def test_layout_matches_kubeadm(pki):
    paths = {kp.path for kp in pki.certs.values()}
    for f in ("ca.crt", "apiserver.crt", "apiserver-kubelet-client.crt", "front-proxy-ca.crt",
              "front-proxy-client.crt", "etcd/ca.crt", "etcd/server.crt", "etcd/peer.crt",
              "etcd/healthcheck-client.crt", "apiserver-etcd-client.crt"):
        assert f"/etc/kubernetes/pki/{f}" in paths
    assert pki["ca"].subject == "CN=kubernetes"
    assert pki["etcd/ca"].subject == "CN=etcd-ca"
    assert pki["front-proxy-ca"].subject == "CN=front-proxy-ca"
    assert pki["apiserver-kubelet-client"].subject == "CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins"
    assert pki["admin.conf"].subject == "CN=kubernetes-admin,O=kubeadm:cluster-admins"
    assert pki["kubelet-client/node-2"].subject == "CN=system:node:node-2,O=system:nodes"


def test_apiserver_sans(pki):
    assert pki["apiserver"].sans == [
        "DNS:control-plane", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local", "IP Address:10.96.0.1", "IP Address:192.168.0.10"]
    assert pki["etcd/server"].sans == ["DNS:control-plane", "DNS:localhost", "IP Address:192.168.0.10",
                                       "IP Address:127.0.0.1", "IP Address:::1"]
    assert pki["kubelet-serving/node-1"].sans == ["DNS:node-1", "IP Address:192.168.0.11"]


@pytest.mark.parametrize("name,signer", [
    ("apiserver", "ca"), ("apiserver-kubelet-client", "ca"), ("front-proxy-client", "front-proxy-ca"),
    ("etcd/server", "etcd/ca"), ("etcd/peer", "etcd/ca"), ("etcd/healthcheck-client", "etcd/ca"),
    ("apiserver-etcd-client", "etcd/ca"), ("kubelet-client/node-1", "ca"), ("scheduler.conf", "ca")])
def test_signers_and_validity(pki, name, signer):
    cert = pki[name].cert
    cert.verify_directly_issued_by(pki[signer].cert)
    for other in {"ca", "etcd/ca", "front-proxy-ca"} - {signer}:
        with pytest.raises(Exception):
            cert.verify_directly_issued_by(pki[other].cert)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == CERT_VALIDITY
    assert pki[signer].cert.not_valid_after_utc - pki[signer].cert.not_valid_before_utc == CA_VALIDITY


def test_usages(pki):
    def eku(name):
        return set(pki[name].cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku("apiserver") == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert eku("apiserver-etcd-client") == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert eku("etcd/peer") == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert pki["ca"].cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_deterministic_and_same_ca_as_root_ca_configmap(pki):
    again = kubeadm_pki(7, nodes=(("node-1", "192.168.0.11"), ("node-2", "192.168.0.12")))
    assert again["apiserver"].cert_pem == pki["apiserver"].cert_pem
    assert pki["ca"].cert_pem == cluster_ca_pem(7)
    assert kubeadm_pki(8)["ca"].cert_pem != pki["ca"].cert_pem


def test_connections_table_names_the_files():
    rows = connections()
    etcd = next(r for r in rows if r["client"] == "kube-apiserver" and r["server"] == "etcd :2379")
    assert etcd["client presents"] == "apiserver-etcd-client.crt"
    assert etcd["server presents"] == "etcd/server.crt"
    assert any("sa.key" in r["client presents"] for r in rows)
    # kubeadm's etcd liveness probe is an HTTP GET on the metrics listener (127.0.0.1:2381): no certificate there.
    health = next(r for r in rows if r["client presents"] == "etcd/healthcheck-client.crt")
    assert health["server"] == "etcd :2379" and "2381" not in health["server"]


# -- ServiceAccount JWTs ----------------------------------------------------------------------------------------

def test_token_round_trip_and_refusals(pki):
    now = int(EPOCH.timestamp())
    tok = service_account_token(pki.sa_key, "default", "builder", "uid-1", now=now)
    header, claims, sig = tok.split(".")
    assert len(sig) == 86  # 64 raw bytes (r || s), base64url
    got = verify_service_account_token(tok, [pki.sa_key.public_key()], now=now + 10)
    assert got["sub"] == "system:serviceaccount:default:builder"
    assert got["exp"] - got["iat"] == 3607
    with pytest.raises(TokenError, match="expired"):
        verify_service_account_token(tok, [pki.sa_key.public_key()], now=now + 3607)
    other = kubeadm_pki(99).sa_key
    with pytest.raises(TokenError, match="cryptographic primitive"):
        verify_service_account_token(tok, [other.public_key()], now=now)
    with pytest.raises(TokenError, match="audiences"):
        verify_service_account_token(tok, [pki.sa_key.public_key()], now=now, audiences=["vault"])
    tampered = header + "." + claims[:-2] + "xx." + sig
    with pytest.raises(TokenError):
        verify_service_account_token(tampered, [pki.sa_key.public_key()], now=now)


# -- authentication through the API server ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    return Cluster(nodes=1, seed=7, coredns_replicas=0)


def _unauthorized(client, reason_part, cluster):
    with pytest.raises(StatusError) as e:
        client.list("pods", namespace="default")
    assert (e.value.code, e.value.reason, e.value.message) == (401, "Unauthorized", "Unauthorized")
    ev = [t for t in cluster.trace if t.kind == "authn"][-1]
    assert reason_part in ev.data["reason"]


def test_real_client_certificate_authenticates(cluster):
    kp = cluster.pki.issue("jane", "ca", "jane", ("dev",))
    c = Client(cluster.apiserver, "kubectl", Credentials.certificate(kp))
    with pytest.raises(StatusError) as e:  # authenticated, but RBAC gives jane nothing: 403, not 401
        c.list("pods", namespace="default")
    assert e.value.code == 403 and 'User "jane"' in e.value.message
    admin = Client(cluster.apiserver, "kubectl", Credentials.certificate(cluster.pki["admin.conf"]))
    assert admin.list("pods", namespace="default")["kind"] == "PodList"


def test_untrusted_expired_and_server_certificates_get_401(cluster):
    other = kubeadm_pki(1234)["admin.conf"]
    _unauthorized(Client(cluster.apiserver, "x", Credentials.certificate(other)),
                  "x509: certificate signed by unknown authority", cluster)
    old = cluster.pki.issue("old", "ca", "kubernetes-admin", ("kubeadm:cluster-admins",),
                            not_before=EPOCH - 2 * CERT_VALIDITY)
    _unauthorized(Client(cluster.apiserver, "x", Credentials.certificate(old)),
                  "x509: certificate has expired or is not yet valid: current time 2026-01-01", cluster)
    _unauthorized(Client(cluster.apiserver, "x", Credentials.certificate(cluster.pki["apiserver"])),
                  "incompatible key usage", cluster)
    etcd_signed = cluster.pki["apiserver-etcd-client"]  # a good certificate, from the wrong CA
    _unauthorized(Client(cluster.apiserver, "x", Credentials.certificate(etcd_signed)), "unknown authority",
                  cluster)


def test_certificate_expires_on_the_cluster_clock():
    c = Cluster(nodes=0, seed=7, coredns_replicas=0)
    short = c.pki.issue("short", "ca", "kubernetes-admin", ("kubeadm:cluster-admins",),
                        validity=datetime.timedelta(minutes=1))
    client = Client(c.apiserver, "kubectl", Credentials.certificate(short))
    client.list("pods", namespace="default")
    c.run(seconds=120)
    with pytest.raises(StatusError) as e:
        client.list("pods", namespace="default")
    assert e.value.code == 401


def test_service_account_jwt_and_unknown_tokens(cluster):
    tok = cluster.apiserver.authenticator.issue_token("kube-system", "coredns")
    sa = Client(cluster.apiserver, "coredns", Credentials.bearer(tok))
    assert sa.list("services", namespace="default")["kind"] == "ServiceList"  # system:coredns may list services
    forged = service_account_token(kubeadm_pki(1234).sa_key, "kube-system", "coredns", now=int(EPOCH.timestamp()))
    _unauthorized(Client(cluster.apiserver, "x", Credentials.bearer(forged)), "invalid bearer token", cluster)
    _unauthorized(Client(cluster.apiserver, "x", Credentials.bearer("no-such-token")), "invalid bearer token",
                  cluster)
