"""Views of the Raft model: the member graph, the terms/leaders timeline, the status table, and the RaftLab widget's
callbacks exercised directly (errors shown, never raised)."""

from __future__ import annotations

import pytest

from k8slab import Cluster, viz, widgets
from k8slab.etcd.raft import RaftNetwork


@pytest.fixture()
def net():
    n = RaftNetwork(3, seed=1, max_delay_ms=30)
    n.run_until_leader()
    n.propose(n.leader(), "x")
    n.run(3)
    return n


def test_graph_shows_roles_logs_and_messages_in_flight(net):
    src = viz.raft_graph(net).source
    lead = net.name(net.leader())
    assert f"<B>{lead}</B> Leader" in src and src.count("</B> Follower") == 2
    assert "MsgApp" in src  # the proposal is on its way to the followers
    assert "term 1" in src and "legend" in src
    net.isolate(2)
    assert 'style=dotted' in viz.raft_graph(net).source.replace('"', "")


def test_graph_of_a_crashed_member(net):
    net.crash(3)
    src = viz.raft_graph(net).source
    assert "<B>etcd-3</B> Crashed" in src


def test_timeline_has_title_labels_and_legend(net):
    lead = net.leader()
    net.crash(lead)
    net.run(3000)
    fig = viz.raft_timeline(net)
    top, bottom = fig.axes
    assert top.get_title().startswith("Raft terms and leaders")
    assert top.get_ylabel() == "term" and bottom.get_xlabel() == "time (s)" and bottom.get_ylabel() == "leader"
    assert top.get_legend() is not None and bottom.get_legend() is not None
    assert max(max(line.get_ydata()) for line in top.get_lines()) >= 2  # a second election happened


def test_table_and_cluster_access():
    c = Cluster(nodes=1, seed=0, etcd_members=3)
    df = viz.raft_table(c)
    assert list(df.index) == ["etcd-1", "etcd-2", "etcd-3"] and df["is_leader"].sum() == 1
    with pytest.raises(ValueError, match="etcd_members"):
        viz.raft_table(Cluster(nodes=1, seed=0))


def test_raftlab_buttons():
    lab = widgets.RaftLab(seed=2)
    lab.propose()
    assert "no leader" in lab.error.value  # shown, not raised
    lab.run_second()
    lab.run_second()
    lead = lab.net.leader()
    assert lead is not None and "leader: etcd-" in lab.status.value
    lab.propose()
    assert lab.error.value == "" and lab.net.in_flight()
    lab.next_message()
    assert "delivered" in lab.last and "MsgApp" in lab.last
    lab.step()
    lab.tick()
    lab.member.value = lab.net.name(lead)
    lab.isolate()
    lab.run_second()
    lab.run_second()
    new = lab.net.leader()
    assert new is not None and new != lead
    lab.heal()
    lab.crash_leader()
    assert lab.net.members[new] is None and "Crashed" in lab.graph.value
    lab.member.value = lab.net.name(new)
    lab.restart()
    assert lab.net.members[new] is not None
    lab.show_timeline()
    assert lab.error.value == ""
    lab.member.value = "etcd-1"
    lab.net.crash(1)
    lab.crash()  # crashing a crashed member is a no-op, not an error
    assert lab.error.value == ""


def test_raftlab_on_a_cluster():
    c = Cluster(nodes=1, seed=0, etcd_members=3)
    lab = widgets.RaftLab(c)
    assert lab.net is c.etcd_cluster.net
    lab.crash_leader()
    lab.run_second()
    lab.run_second()
    assert lab.net.leader() is not None


def test_raftlab_isolate_leader_and_lose_quorum():
    lab = widgets.RaftLab(members=5, seed=1)
    lab.run_second()
    lab.run_second()
    old = lab.net.leader()
    lab.isolate_leader()
    lab.run_second()
    lab.run_second()
    assert lab.net.leader() not in (None, old)
    lab.heal()
    lab.lose_quorum()
    assert sum(r is not None for r in lab.net.members.values()) == 2 and "a quorum is 3" in lab.last
    before = max(r.raft_log.committed for r in lab.net.members.values() if r is not None)
    lab.run_second()
    lab.propose()  # shown as an error when no leader is left, else appended but never committed
    lab.run_second()
    assert max(r.raft_log.committed for r in lab.net.members.values() if r is not None) == before
    lab.lose_quorum()  # already lost: nobody more is crashed
    assert "crashed nobody" in lab.last and lab.error.value == ""


def test_stepper_on_a_raft_backed_cluster():
    from k8slab.examples import NGINX

    c = Cluster(nodes=1, seed=0, etcd_members=3)
    c.apply(NGINX)
    s = widgets.Stepper(c)
    kinds = set()
    for _ in range(40):
        kinds.update(e.kind for e in s.step_once())
    assert s.error.value == "" and "raft.commit" in kinds
