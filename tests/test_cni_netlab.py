"""The NetLab widget's callbacks, called directly: trace, apply and delete policies; errors shown, never raised."""

import pytest

from k8slab import widgets
from k8slab.exercises.networking import shop_cluster
from k8slab.viz import style


@pytest.fixture(scope="module")
def lab():
    return widgets.NetLab(shop_cluster(), destination="db.shop", port=5432)


def test_trace_shows_status_picture_and_table(lab):
    lab.source.value = "shop/frontend"
    p = lab.trace()
    assert p.ok and "connected" in lab.status.value
    assert "<svg" in lab.picture.value and style.HIGHLIGHT in lab.picture.value
    assert "overlay" in lab.table.value and "<table" in lab.table.value


def test_policy_apply_trace_delete(lab):
    lab.policy_box.value = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-db, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}}
"""
    lab.apply_policy()
    assert "shop/deny-db" in lab.policies.options
    lab.source.value = "shop/backend"
    p = lab.trace()
    assert not p.ok and "dropped by NetworkPolicy ingress" in lab.status.value
    lab.policies.value = "shop/deny-db"
    lab.delete_policy()
    assert "deleted" in lab.status.value and "shop/deny-db" not in lab.policies.options
    assert lab.trace().ok


def test_errors_are_shown_not_raised(lab):
    lab.policy_box.value = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop}
spec: {podSelector: {}, ingress: [{ports: [{port: 70000}]}]}
"""
    assert lab.apply_policy() is None
    assert "Error from server (Invalid)" in lab.status.value and "must be between 1 and 65535" in lab.status.value
    lab.dest.value = "  "
    assert lab.trace() is None and "type a destination" in lab.status.value
    lab.dest.value = "nope"
    assert lab.trace().status == "could not resolve host: nope"
    lab.policies.options = []
    assert lab.delete_policy() is None and "no NetworkPolicy to delete" in lab.status.value
