"""Mirrors: cmd/kubeadm/app/phases/certs (certlist.go, the "ca" certificate) and
cmd/kubeadm/app/util/pkiutil/pki_helpers.go.

The cluster's certificate authority, as ``kubeadm init`` creates it in /etc/kubernetes/pki/ca.crt: a self-signed
CA with Common Name ``kubernetes``, valid for ten years. Every component's client certificate is signed by it, and
its certificate is published to every namespace in the ``kube-root-ca.crt`` ConfigMap so that pods can verify the
API server. The key here is ECDSA P-256 (kubeadm's ``encryptionAlgorithm: ECDSA-P256``), derived from the cluster
seed, and signatures are deterministic (RFC 6979), so the same seed gives the same certificate.
"""

from __future__ import annotations

import datetime
import hashlib

EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
CA_VALIDITY = datetime.timedelta(days=3650)  # kubeadm: 10 years


def cluster_ca(seed: int):
    """Return ``(private_key, certificate)`` for the cluster CA of ``seed``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    secret = int.from_bytes(hashlib.sha256(f"k8slab-ca-key-{seed}".encode()).digest(), "big")
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order
    key = ec.derive_private_key(secret % (order - 1) + 1, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    serial = int.from_bytes(hashlib.sha256(f"k8slab-ca-serial-{seed}".encode()).digest()[:8], "big") >> 1
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(EPOCH)
            .not_valid_after(EPOCH + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True))
    return key, cert


def cluster_ca_pem(seed: int) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cluster_ca(seed)[1].public_bytes(Encoding.PEM).decode()
