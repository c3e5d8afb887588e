"""ServiceAccounts: the default ServiceAccount in every namespace and the TokenRequest API."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.apiserver.authn import Credentials
from k8slab.apiserver.tokenrequest import API_AUDIENCE, decode_jwt, projected_token_volume
from k8slab.client import Client


@pytest.fixture(scope="module")
def c():
    c = Cluster(nodes=1, seed=7)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
             "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    c.settle()
    return c


def test_default_service_account_in_every_namespace(c):
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "team"):
        assert c.get("serviceaccount", "default", namespace=ns)["metadata"]["name"] == "default"
    # deleted: the controller puts it back
    c.delete("serviceaccount", "default", namespace="team")
    c.settle()
    assert c.get("serviceaccount", "default", namespace="team")


def test_token_request_returns_signed_token_for_the_service_account(c):
    tr = c.admin.create_token("default", "default", {"spec": {"expirationSeconds": 600}})
    assert tr["kind"] == "TokenRequest" and tr["apiVersion"] == "authentication.k8s.io/v1"
    assert tr["spec"] == {"audiences": [API_AUDIENCE], "expirationSeconds": 600, "boundObjectRef": None}
    header, claims = decode_jwt(tr["status"]["token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["exp"] - claims["iat"] == 600 and claims["iss"] == API_AUDIENCE
    sa = c.admin.get("serviceaccounts", "default", "default")
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "default", "uid": sa["metadata"]["uid"]}
    # the token authenticates as the ServiceAccount, which RBAC gives no rights
    as_sa = Client(c.apiserver, "curl", Credentials.bearer(tr["status"]["token"]))
    with pytest.raises(StatusError) as e:
        as_sa.list("pods", namespace="default")
    assert e.value.code == 403 and 'User "system:serviceaccount:default:default"' in str(e.value)
    with pytest.raises(StatusError) as e:
        Client(c.apiserver, "curl", Credentials.bearer(tr["status"]["token"][:-4] + "AAAA")).list("pods")
    assert e.value.code == 401


def test_token_request_errors(c):
    with pytest.raises(StatusError) as e:
        c.admin.create_token("default", "default", {"spec": {"expirationSeconds": 10}})
    assert e.value.code == 422
    assert "spec.expirationSeconds: Invalid value: 10: may not specify a duration less than 10 minutes" in str(e.value)
    with pytest.raises(StatusError) as e:
        c.admin.create_token("default", "nobody")
    assert e.value.code == 404 and str(e.value) == 'serviceaccounts "nobody" not found'
    with pytest.raises(StatusError) as e:
        c.admin.create_token("default", "default", {"spec": {"boundObjectRef": {
            "kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "wrong"}}})
    assert e.value.code == 409


def test_projected_volume_holds_bound_token_ca_and_namespace(c):
    pod = c.admin.get("pods", "p", "default")
    vol = next(v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    assert vol["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    files = projected_token_volume(c.admin, pod)
    assert set(files) == {"token", "ca.crt", "namespace"}
    assert files["namespace"] == "default" and files["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    _, claims = decode_jwt(files["token"])
    assert claims["exp"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    assert claims["kubernetes.io"]["node"]["name"] == pod["spec"]["nodeName"]


def test_token_audience_and_expiry_are_checked_by_the_authenticator():
    c = Cluster(nodes=1, seed=8)
    vault = c.admin.create_token("default", "default", {"spec": {"audiences": ["vault"]}})
    with pytest.raises(StatusError) as e:
        Client(c.apiserver, "curl", Credentials.bearer(vault["status"]["token"])).list("pods", namespace="default")
    assert e.value.code == 401
    short = c.admin.create_token("default", "default", {"spec": {"expirationSeconds": 600}})
    as_sa = Client(c.apiserver, "curl", Credentials.bearer(short["status"]["token"]))
    with pytest.raises(StatusError) as e:
        as_sa.list("pods", namespace="default")
    assert e.value.code == 403  # authenticated, not authorized
    c.run(seconds=601)
    with pytest.raises(StatusError) as e:
        as_sa.list("pods", namespace="default")
    assert e.value.code == 401
