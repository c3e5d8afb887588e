"""The tour's exercise checks accept the right answers and explain wrong ones."""

import json

import pytest

from k8slab.examples import tour_cluster
from k8slab.exercises import check, exercises, hint
from k8slab.exercises.core import reset_hints

RIGHT_ORDER = ["kube-apiserver", "etcd", "deployment controller", "replicaset controller", "kube-scheduler",
               "kubelet", "containerd"]


@pytest.fixture(scope="module")
def c():
    return tour_cluster()


def test_tour_has_at_least_two_exercises_with_hints():
    ex = exercises("00.")
    assert len(ex) >= 2 and all(e.hints for e in ex)


def test_journey(c):
    assert check("00.1", RIGHT_ORDER, cluster=c)
    swapped = RIGHT_ORDER[:2] + [RIGHT_ORDER[3], RIGHT_ORDER[2]] + RIGHT_ORDER[4:]
    r = check("00.1", swapped, cluster=c)
    assert not r and "position 3" in r.message and "deployment acting before replicaset" in r.message
    r = check("00.1", RIGHT_ORDER[:-1], cluster=c)
    assert not r and "missing: containerd" in r.message
    assert not check("00.1", "kube-apiserver", cluster=c)
    assert "not one of" in check("00.1", ["kube-proxy"], cluster=c).message


def test_etcd_keys(c):
    slices = [k for k in c.etcd.keys("/registry/endpointslices/default/")
              if json.loads(c.etcd.get(k).value)["metadata"]["labels"]["kubernetes.io/service-name"] == "web"]
    assert slices and check("00.2", ("/registry/services/specs/default/web", slices), cluster=c)
    r = check("00.2", ("/registry/services/default/web", slices), cluster=c)
    assert not r and "services/specs" in r.message
    r = check("00.2", ("/registry/services/specs/default/web", ["/registry/endpointslices/default/web"]), cluster=c)
    assert not r and "EndpointSlice keys are not" in r.message


def test_probabilities(c):
    assert check("00.3", ["0.3333333333", "0.5000000000"], cluster=c)
    assert check("00.3", [1 / 3, 0.5], cluster=c)
    r = check("00.3", ["0.3333333333", "0.3333333333"], cluster=c)
    assert not r and "grows from rule to rule" in r.message
    r = check("00.3", ["0.3333333333", "0.5000000000", "1.0000000000"], cluster=c)
    assert not r and "one rule too many" in r.message


def test_no_endpoints():
    assert check("00.4", ("REJECT", "filter"))
    r = check("00.4", ("DROP", "filter"))
    assert not r and "not DROP" in r.message
    r = check("00.4", ("REJECT", "nat"))
    assert not r and "filter table" in r.message


def test_hints_progress_and_unknown_exercise():
    reset_hints()
    h1, h2 = hint("00.1"), hint("00.1")
    assert "hint 1/3" in h1 and "hint 2/3" in h2
    with pytest.raises(KeyError, match="no exercise"):
        check("99.9", 1)
