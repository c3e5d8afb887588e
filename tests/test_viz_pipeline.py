"""The API server pipeline view: each stop (401, 403, admission, 422) at its own stage, read from the trace."""

import pytest

from k8slab import Cluster, viz
from k8slab.api.errors import StatusError
from k8slab.apiserver import Credentials
from k8slab.client import Client
from k8slab.viz.pipeline import STAGES, pipeline_stages, stop_reason


@pytest.fixture(scope="module")
def c():
    return Cluster(nodes=1, seed=2, coredns_replicas=0)


def pod(name, ns="default"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def status(rows):
    return {r["stage"]: r["status"] for r in rows}


def test_a_create_that_goes_through(c):
    c.apply(pod("ok"))
    rows = pipeline_stages(c)
    assert [r["stage"] for r in rows] == list(STAGES)
    assert set(status(rows).values()) == {"passed"}
    assert "ServiceAccount" in rows[3]["detail"]
    assert rows[6]["detail"].startswith("put /registry/pods/default/ok at revision")
    assert stop_reason(c) is None


def test_401_stops_at_authentication(c):
    with pytest.raises(StatusError):
        Client(c.apiserver, "curl", Credentials.bearer("nope")).list("pods", namespace="default")
    r = stop_reason(c)
    assert r["stage"] == "authentication" and r["detail"].startswith("401 Unauthorized: invalid bearer token")
    assert status(pipeline_stages(c))["authorization"] == "not reached"


def test_403_stops_at_authorization(c):
    with pytest.raises(StatusError):
        Client(c.apiserver, "kubectl", Credentials.x509("eve")).create("pods", pod("x"), namespace="default")
    r = stop_reason(c)
    assert r["stage"] == "authorization" and r["detail"].startswith("403 Forbidden")


def test_admission_denial_names_the_plugin(c):
    with pytest.raises(StatusError):
        c.apply(pod("x", "no-such-namespace"))
    r = stop_reason(c)
    assert r["stage"] == "mutating admission"
    assert "404 from NamespaceLifecycle" in r["detail"]


def test_422_stops_at_validation(c):
    bad = pod("Bad_Name")
    with pytest.raises(StatusError):
        c.apply(bad)
    r = stop_reason(c)
    assert r["stage"] == "validation" and r["detail"].startswith("422 Invalid: metadata.name")
    assert status(pipeline_stages(c))["etcd"] == "not reached"


def test_reads_skip_admission_and_graph_renders(c):
    c.get("pods")
    rows = pipeline_stages(c)
    assert status(rows)["mutating admission"] == "not used"
    g = viz.pipeline(c)
    src = g.source
    assert "API server pipeline" in src and "legend" in src
    first = viz.pipeline(c, upto=2).source
    assert first.count("not reached") > src.count("not reached")
    assert list(viz.pipeline_table(c).index) == list(STAGES)


def test_pick_a_request_by_seq(c):
    reqs = viz.pipeline.__globals__["requests"](c)
    old = reqs[0]
    assert pipeline_stages(c, old.seq)[0]["detail"].startswith(old.data["verb"])
    with pytest.raises(ValueError):
        pipeline_stages(c, -5)
