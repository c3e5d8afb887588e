"""The proxy experiments (k8slab.proxy.lab), their figures and graphs (k8slab.viz.proxy) and the ProxyLab widget."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from k8slab import Cluster  # noqa: E402
from k8slab.examples import NGINX, tour_cluster  # noqa: E402
from k8slab.proxy import lab  # noqa: E402
from k8slab.viz import proxy as vp  # noqa: E402
from k8slab.viz import style as S  # noqa: E402


@pytest.fixture(scope="module")
def tour():
    return tour_cluster()


@pytest.fixture(scope="module")
def ipvs_cluster():
    c = Cluster(nodes=2, seed=0, proxy_mode="ipvs")
    c.apply(NGINX)
    c.settle()
    return c


# --- experiments -------------------------------------------------------------------------------------------------

def test_spread_rr_is_exact_iptables_is_random_dh_is_one_backend():
    rr = lab.spread("rr", requests=400, endpoints=4)
    assert list(rr.values()) == [100, 100, 100, 100]
    ipt = lab.spread("iptables", requests=400, endpoints=4)
    assert sum(ipt.values()) == 400 and len(ipt) == 4 and list(ipt.values()) != [100] * 4
    # dh hashes the destination: every connection to one VIP lands on the same real server
    assert len(lab.spread("dh", requests=100, endpoints=4)) == 1
    assert lab.spread("sh", requests=200) == lab.spread("sh", requests=200)   # deterministic


def test_connections_over_time_lc_fills_the_new_backend_first():
    rows = lab.connections_over_time("lc", seconds=80, add_at=60)
    new = "10.203.0.1:8080"
    at = {r["t"]: r["open"] for r in rows if r["endpoint"] == new}
    rr = {r["t"]: r["open"] for r in lab.connections_over_time("rr", seconds=80, add_at=60) if r["endpoint"] == new}
    assert min(at) == 60 and at[61] > rr[61]   # lc sends every new connection to the empty backend


def test_cost_vs_services_shapes():
    rows = lab.cost_vs_services((10, 200), endpoints=2, packets=5)
    by = {(r["services"], r["mode"]): r for r in rows}
    assert by[(10, "ipvs")]["rules_evaluated"] == by[(200, "ipvs")]["rules_evaluated"]
    assert by[(200, "iptables")]["rules_evaluated"] > 5 * by[(10, "iptables")]["rules_evaluated"] / 2
    assert by[(200, "ipvs")]["iptables_rules"] == by[(10, "ipvs")]["iptables_rules"]
    assert by[(200, "ipvs")]["ipvs_entries"] > by[(10, "ipvs")]["ipvs_entries"]


# --- pictures ----------------------------------------------------------------------------------------------------

def test_service_graph_highlights_the_path_iptables(tour):
    ip = tour.get("service", "web")["spec"]["clusterIP"]
    t = tour.trace_packet("10.244.1.9", ip, 80, node="node-1")
    g = vp.service_graph(tour.node("node-1").kube_proxy, "default/web", t)
    src = g.source
    assert "KUBE-SVC-" in src and src.count("KUBE-SEP-") >= 3 and "p=0.3333333333" in src
    assert t.sep_chain in src and S.HIGHLIGHT in src
    hot = [ln for ln in src.splitlines() if S.HIGHLIGHT in ln]
    assert any(t.sep_chain in ln for ln in hot) and any(t.dnat.replace(":", "_") in ln for ln in hot)
    assert g.graph_attr["label"].startswith("default/web on node-1")
    with pytest.raises(KeyError, match="not known"):
        vp.service_graph(tour.node("node-1").kube_proxy, "default/nope")


def test_service_graph_ipvs(ipvs_cluster):
    ip = ipvs_cluster.get("service", "web")["spec"]["clusterIP"]
    t = ipvs_cluster.trace_packet("10.244.1.9", ip, 80, node="node-1")
    src = vp.service_graph(ipvs_cluster.node("node-1").kube_proxy, "default/web", t).source
    assert f"TCP {ip}:80" in src and "w 1" in src and S.HIGHLIGHT in src


def test_rules_table(tour):
    ip = tour.get("service", "web")["spec"]["clusterIP"]
    df = vp.rules_table(tour.trace_packet("10.244.1.9", ip, 80))
    assert list(df.columns) == ["table", "chain", "rule", "matched"] and df["matched"].any()


def test_figures_have_titles_labels_and_legends():
    figs = [vp.distribution_figure({k: lab.spread(k, 60) for k in ("iptables", "rr")}),
            vp.connections_figure({"rr": lab.connections_over_time("rr", seconds=20, add_at=10)}),
            vp.cost_figure(lab.cost_vs_services((10, 20), endpoints=2, packets=2))]
    for fig in figs:
        axes = fig.axes
        assert any(ax.get_title() for ax in axes) or fig._suptitle is not None
        assert all(ax.get_xlabel() for ax in axes)
        assert any(ax.get_legend() is not None for ax in axes)
        matplotlib.pyplot.close(fig)


# --- the widget --------------------------------------------------------------------------------------------------

def test_proxylab_send_scale_and_errors(tour):
    from k8slab.widgets.proxylab import ProxyLab

    w = ProxyLab(tour, service="default/web")
    assert "default/web" in w.service.options and w.scheduler.disabled
    traces = w.send(9)
    assert len(traces) == 9 and sum(w.counts.values()) == 9 and "<svg" in w.graph.value
    assert "connections landed" in w.landing.value and "DNAT to" in w.trace_html.value
    assert w.scale(+1) == 4
    eps = {f"{p['status']['podIP']}:80" for p in tour.get("pods", selector="app=web")}
    assert len(eps) == 4
    w._on_clear()
    w.send(40)
    assert set(w.counts) == eps
    w.scheduler.value = "lc"           # iptables cluster: explained, not raised
    assert "IPVS-mode setting" in w.error.value
    w.service.value = "default/kubernetes"
    w.scale(+1)                        # no Deployment behind it: shown as an error
    assert "no Deployment" in w.error.value


def test_proxylab_ipvs_scheduler_switch(ipvs_cluster):
    from k8slab.widgets.proxylab import ProxyLab

    w = ProxyLab(ipvs_cluster, service="default/web")
    assert not w.scheduler.disabled
    w.scheduler.value = "sh"
    assert w.error.value == ""
    assert "sh" in ipvs_cluster.node("node-1").kube_proxy.ipvsadm_ln()
    w.send(10)
    assert len(w.counts) == 1          # one client, source hashing: one backend
