"""Tables of the trace: one row per event with a readable description, one row per step, and a request's causal
journey through the components."""

from __future__ import annotations

import pandas as pd
import pytest

from k8slab import viz
from k8slab.examples import tour_cluster
from k8slab.sim import TraceEvent


@pytest.fixture(scope="module")
def tour():
    return tour_cluster()


def test_events_table_columns_and_units(tour):
    events = tour.trace.for_step(tour.ready_step) or list(tour.trace)[-5:]
    df = viz.events_table(events)
    assert list(df.columns) == ["step", "time (s)", "component", "kind", "ref", "target", "cause", "description"]
    assert df.index.name == "seq"
    assert list(df.index) == [e.seq for e in events]
    assert df["time (s)"].tolist() == [e.time / 1000 for e in events]


@pytest.mark.parametrize("kind, data, text", [
    ("request", {"verb": "create", "resource": "pods", "subresource": "binding"}, "create pods/binding"),
    ("response", {"code": 201}, "201 Created"),
    ("response", {"code": 409, "reason": "Conflict", "message": "the object has been modified"},
     "409 Conflict (Conflict): the object has been modified"),
    ("etcd.put", {"key": "/registry/pods/default/web-1", "revision": 42}, "put /registry/pods/default/web-1 "
                                                                          "(revision 42)"),
    ("watch", {"type": "MODIFIED", "resourceVersion": "42"}, "MODIFIED (resourceVersion 42)"),
    ("validation", {"errors": ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]},
     "invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ("bind", {"node": "node-2"}, "bind to node-2"),
    ("cni.ADD", {"ifName": "eth0", "ip": "10.244.1.2/24", "hostVeth": "veth0a1b2c3d"},
     "ADD eth0 10.244.1.2/24 via veth0a1b2c3d"),
])
def test_descriptions(kind, data, text):
    assert viz.describe(TraceEvent(1, 0, 1, "x", kind, "", data)) == text


def test_descriptions_of_every_real_event_are_short_strings(tour):
    for e in tour.trace:
        d = viz.describe(e)
        assert isinstance(d, str) and len(d) <= 110


def test_step_table_one_row_per_step(tour):
    df = viz.step_table(tour, n=7)
    assert len(df) == 7
    steps = list(df.index)
    assert steps == sorted(steps) and steps[-1] == max(e.step for e in tour.trace)
    for step, row in df.iterrows():
        evs = tour.trace.for_step(step) if step == steps[-1] else [e for e in tour.trace if e.step == step]
        assert row["events"] == len(evs)
        assert row["what happened"].split(" → ")[0] == evs[0].kind


def test_journey_follows_a_deployment_to_its_pods(tour):
    df = viz.journey(tour, "deployments/default/web")
    assert df.iloc[0]["component"] == "kubectl" and df.iloc[0]["depth"] == 0
    kinds = set(zip(df["component"], df["kind"]))
    assert ("kube-controller-manager/deployment", "reconcile") in kinds
    refs = set(df["ref"])
    assert any(r.startswith("replicasets/default/web-") for r in refs)
    # every event after the roots was caused by an earlier event of the journey
    seqs = set()
    for seq, row in df.iterrows():
        if row["depth"] > 0:
            assert row["cause"] in seqs
        seqs.add(seq)


def test_journey_of_a_sequence_number_is_its_causal_chain(tour):
    last_put = tour.trace.filter(kind="cri.StartContainer")[-1]
    df = viz.journey(tour, last_put.seq)
    assert df.index[-1] == last_put.seq
    assert list(df["depth"]) == list(range(len(df)))
    first_cause = df.iloc[0]["cause"]
    assert pd.isna(first_cause) or tour.trace.by_seq(int(first_cause)) is None
    for (_, prev), (_, row) in zip(df.iloc[:-1].iterrows(), df.iloc[1:].iterrows()):
        assert row["cause"] == prev.name
