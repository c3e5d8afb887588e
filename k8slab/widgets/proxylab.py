"""Mirrors: (no upstream package) a lab for kube-proxy: pick a Service, a client pod and (in IPVS mode) a scheduler,
send packets and watch where they land; scale the Service's Deployment and watch the chains and probabilities
(or real servers) rewrite.

    from k8slab.widgets.proxylab import ProxyLab
    ProxyLab(c)
"""

from __future__ import annotations

import functools
import html
from collections import Counter

import ipywidgets as W

from ..proxy.ipvs_schedulers import SCHEDULERS
from ..viz import proxy as vp
from ..viz import style as S
from .stepper import error_text

__all__ = ["ProxyLab"]


def _guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            self.error.value = ""
            return fn(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a notebook widget must never raise into the frontend
            self.error.value = (f'<pre style="color:#b03a2e;white-space:pre-wrap;margin:2px 0">'
                                f"{html.escape(error_text(e))}</pre>")
            return None
    return wrapper


class ProxyLab:
    """``lab.send(n)`` sends n new connections from the chosen client to the chosen Service (what Send does);
    ``lab.scale(+1)`` scales the Deployment behind the Service and lets the cluster settle."""

    def __init__(self, cluster, service: str | None = None, client: str | None = None) -> None:
        self.cluster = cluster
        self.counts: Counter = Counter()
        self.last = None
        services = self._services()
        clients = self._clients()
        self.service = W.Dropdown(options=services, value=service if service in services else
                                  (services[0] if services else None), description="Service")
        self.client = W.Dropdown(options=clients, value=client if client in clients else
                                 (clients[0] if clients else None), description="client pod")
        ipvs = getattr(cluster, "proxy_mode", "iptables") == "ipvs"
        self.scheduler = W.Dropdown(options=list(SCHEDULERS), value=getattr(cluster, "ipvs_scheduler", "rr") or "rr",
                                    description="scheduler", disabled=not ipvs,
                                    tooltip="IPVS mode only (--ipvs-scheduler)")
        self.packets = W.IntSlider(value=10, min=1, max=200, description="packets", continuous_update=False)
        self.send_button = W.Button(description="Send", icon="paper-plane", tooltip="open new connections")
        self.up_button = W.Button(description="Scale +1", icon="plus")
        self.down_button = W.Button(description="Scale -1", icon="minus")
        self.clear_button = W.Button(description="Clear counts", icon="eraser")
        self.error = W.HTML()
        self.graph = W.HTML(layout=W.Layout(width="100%"))
        self.landing = W.HTML(layout=W.Layout(width="40%"))
        self.trace_html = W.HTML(layout=W.Layout(width="60%"))
        self.send_button.on_click(self._on_send)
        self.up_button.on_click(lambda _b: self._on_scale(+1))
        self.down_button.on_click(lambda _b: self._on_scale(-1))
        self.clear_button.on_click(self._on_clear)
        self.scheduler.observe(self._on_scheduler, names="value")
        self.service.observe(self._on_service, names="value")
        self.widget = W.VBox([
            W.HBox([self.service, self.client, self.scheduler]),
            W.HBox([self.packets, self.send_button, self.up_button, self.down_button, self.clear_button]),
            self.error, self.graph, W.HBox([self.landing, self.trace_html])])
        self.render()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- choices ---------------------------------------------------------------------------------------------------
    def _services(self) -> list:
        out = []
        for s in self.cluster.get("services", all_namespaces=True, namespace=None):
            if (s.get("spec") or {}).get("clusterIP") not in (None, "", "None"):
                out.append(f"{s['metadata']['namespace']}/{s['metadata']['name']}")
        return sorted(out)

    def _clients(self) -> list:
        return sorted(p["metadata"]["name"] for p in self.cluster.get("pods")
                      if (p.get("status") or {}).get("podIP") and p["status"].get("phase") == "Running")

    def _service_obj(self) -> dict:
        ns, name = self.service.value.split("/", 1)
        return self.cluster.get("service", name, namespace=ns)

    def _client_pod(self) -> dict:
        return self.cluster.get("pod", self.client.value)

    # -- actions ---------------------------------------------------------------------------------------------------
    @_guarded
    def send(self, n: int | None = None) -> list:
        """Send ``n`` new connections (default: the slider) from the client pod to the Service's first port."""
        if not self.service.value or not self.client.value:
            raise ValueError("pick a Service and a client pod first")
        svc = self._service_obj()
        pod = self._client_pod()
        port = svc["spec"]["ports"][0]
        traces = []
        for _ in range(n or self.packets.value):
            t = self.cluster.trace_packet(pod["status"]["podIP"], svc["spec"]["clusterIP"], port["port"],
                                          port.get("protocol", "TCP"))
            self.counts[t.dnat or t.verdict] += 1
            traces.append(t)
        self.last = traces[-1] if traces else None
        self.render()
        return traces

    def _deployment_for(self, svc: dict):
        selector = (svc.get("spec") or {}).get("selector") or {}
        ns = svc["metadata"]["namespace"]
        for d in self.cluster.get("deployments", namespace=ns):
            labels = ((d["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                return d
        raise LookupError(f"no Deployment in {ns} has pods selected by Service {svc['metadata']['name']}")

    @_guarded
    def scale(self, delta: int) -> int:
        """Scale the Service's Deployment by ``delta`` replicas and settle. Returns the new replica count."""
        d = self._deployment_for(self._service_obj())
        replicas = max(0, int(d["spec"].get("replicas", 1)) + delta)
        self.cluster.scale("deployment", d["metadata"]["name"], replicas, namespace=d["metadata"]["namespace"])
        self.cluster.settle()
        self.client.options = self._clients()
        self.render()
        return replicas

    def _on_send(self, _b=None) -> None:
        self.send()

    def _on_scale(self, delta: int) -> None:
        self.scale(delta)

    @_guarded
    def _on_clear(self, _b=None) -> None:
        self.counts.clear()
        self.last = None
        self.render()

    @_guarded
    def _on_scheduler(self, change) -> None:
        if getattr(self.cluster, "proxy_mode", "iptables") != "ipvs":
            raise ValueError("the scheduler is an IPVS-mode setting (--ipvs-scheduler); this cluster's kube-proxy "
                             'runs in iptables mode: build it with Cluster(..., proxy_mode="ipvs")')
        for node in self.cluster.get("nodes"):
            kp = self.cluster.node(node["metadata"]["name"]).kube_proxy
            kp.proxier.set_scheduler(change["new"])
            kp.sync()
        self.cluster.ipvs_scheduler = change["new"]
        self.counts.clear()
        self.render()

    @_guarded
    def _on_service(self, _change) -> None:
        self.counts.clear()
        self.last = None
        self.render()

    # -- views -----------------------------------------------------------------------------------------------------
    def _node(self) -> str:
        if self.last is not None:
            return self.last.node
        pod = self._client_pod() if self.client.value else None
        return (pod or {}).get("spec", {}).get("nodeName") or self.cluster.get("nodes")[0]["metadata"]["name"]

    @_guarded
    def render(self) -> None:
        if not self.service.value:
            self.graph.value = "<i>no Service with a cluster IP</i>"
            return
        kp = self.cluster.node(self._node()).kube_proxy
        g = vp.service_graph(kp, self.service.value, self.last)
        svg = g.pipe(format="svg").decode()
        self.graph.value = svg[svg.find("<svg"):]
        total = sum(self.counts.values())
        rows = "".join(f"<tr><td>{html.escape(str(ep))}</td><td style='text-align:right'>{n}</td>"
                       f"<td><div style='background:{S.NETWORK.line};height:10px;width:{int(150 * n / total)}px'>"
                       f"</div></td></tr>" for ep, n in sorted(self.counts.items(), key=lambda kv: str(kv[0])))
        self.landing.value = (f"<b>where {total} connections landed</b><table>{rows}</table>" if total else
                              "<i>press Send</i>")
        self.trace_html.value = ("" if self.last is None else
                                 f"<pre style='font-size:11px;white-space:pre-wrap'>{html.escape(repr(self.last))}"
                                 "</pre>")
