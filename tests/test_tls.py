"""A real TLS handshake on 127.0.0.1 with the kubeadm certificates: accepted with the right ones, refused with an
expired, untrusted or wrongly named certificate, with the TLS library's own error."""

import pytest

from k8slab.tls import component_handshake, expired_copy, handshake, pki_for_today


@pytest.fixture(scope="module")
def pki():
    return pki_for_today(0)


@pytest.mark.parametrize("connection", ["kubectl->apiserver", "kubelet->apiserver", "apiserver->etcd",
                                        "etcd->etcd", "apiserver->kubelet"])
def test_right_certificates_are_accepted(pki, connection):
    r = component_handshake(pki, connection)
    assert r.accepted, r
    assert r.protocol in ("TLSv1.2", "TLSv1.3")


def test_the_peers_see_each_others_names(pki):
    r = component_handshake(pki, "apiserver->etcd")
    assert r.server_saw_client == "CN=kube-apiserver-etcd-client"
    assert r.client_saw_server == "CN=control-plane"


def test_expired_client_certificate_is_refused_by_the_server(pki):
    r = component_handshake(pki, "apiserver->etcd", client_cert=expired_copy(pki, "apiserver-etcd-client"))
    assert not r.accepted
    assert r.server_error == "certificate verify failed: certificate has expired"


def test_expired_server_certificate_is_refused_by_the_client(pki):
    r = component_handshake(pki, "apiserver->etcd", server_cert=expired_copy(pki, "etcd/server"))
    assert not r.accepted
    assert r.client_error == "certificate verify failed: certificate has expired"


def test_client_certificate_from_another_ca_is_refused(pki):
    # the admin's certificate is signed by the cluster CA, but etcd only trusts etcd/ca
    r = component_handshake(pki, "apiserver->etcd", client_cert=pki["admin.conf"])
    assert not r.accepted
    assert r.server_error == "certificate verify failed: unable to get local issuer certificate"
    stranger = pki_for_today(1)["kubelet-client/node-1"]
    r = component_handshake(pki, "kubelet->apiserver", client_cert=stranger)
    assert r.server_error == "certificate verify failed: unable to get local issuer certificate"


def test_server_from_another_ca_is_refused(pki):
    r = component_handshake(pki, "kubelet->apiserver", server_cert=pki_for_today(1)["apiserver"])
    assert r.client_error == "certificate verify failed: unable to get local issuer certificate"


@pytest.mark.parametrize("name,message", [
    ("etcd.example", "Hostname mismatch, certificate is not valid for 'etcd.example'."),
    ("10.96.0.2", "IP address mismatch, certificate is not valid for '10.96.0.2'."),
])
def test_wrong_name_is_refused(pki, name, message):
    r = component_handshake(pki, "kubelet->apiserver", server_name=name)
    assert not r.accepted
    assert r.client_error == f"certificate verify failed: {message}"


def test_every_apiserver_san_is_accepted(pki):
    for name in ("kubernetes", "kubernetes.default.svc.cluster.local", "control-plane", "192.168.0.10"):
        assert component_handshake(pki, "kubectl->apiserver", server_name=name).accepted, name


def test_missing_client_certificate_is_refused(pki):
    r = component_handshake(pki, "apiserver->etcd", client_cert=None)
    assert not r.accepted and r.server_error
    r = handshake(pki["apiserver"], None, None, pki["ca"], "kubernetes")  # server not asking: one-way TLS
    assert r.accepted and r.server_saw_client == ""


def test_unknown_connection_name(pki):
    with pytest.raises(ValueError, match="unknown connection"):
        component_handshake(pki, "scheduler->etcd")
