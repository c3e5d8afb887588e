"""One palette: every family and phase has its own colour, the highlight is unlike all of them, and trace component
names map to the right family."""

from __future__ import annotations

import pytest

from k8slab.viz import style as S


def test_colours_are_distinct():
    lines = [f.line for f in S.FAMILIES.values()]
    fills = [f.fill for f in S.FAMILIES.values()]
    phases = list(S.PHASE_COLORS.values())
    assert len(set(lines)) == len(lines)
    assert len(set(fills)) == len(fills)
    assert len(set(phases)) == len(phases)
    assert S.HIGHLIGHT not in set(lines) | set(fills) | set(phases)


@pytest.mark.parametrize("component, family", [
    ("kube-apiserver", S.CONTROL_PLANE), ("kube-controller-manager/deployment", S.CONTROL_PLANE),
    ("kube-scheduler", S.CONTROL_PLANE), ("etcd", S.ETCD), ("kubelet/node-1", S.NODE_AGENTS),
    ("kube-proxy/node-2", S.NODE_AGENTS), ("containerd/node-1", S.RUNTIME), ("cni/node-3", S.NETWORK),
    ("coredns", S.ADDONS), ("kubectl", S.USER),
])
def test_family_of_trace_components(component, family):
    assert S.family_of(component) is family


def test_pod_phase_shows_terminating_like_kubectl():
    assert S.pod_phase({"metadata": {}, "status": {"phase": "Running"}}) == "Running"
    assert S.pod_phase({"metadata": {"deletionTimestamp": "2026-01-01T00:00:05Z"},
                        "status": {"phase": "Running"}}) == "Terminating"
    assert S.pod_phase({"metadata": {}}) == "Pending"
    assert S.phase_color("Running") == S.COLORS["Running"] == S.COLORS["pod"]
