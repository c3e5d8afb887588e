"""Mirrors: (no upstream file) a lab for the pod network: pick a client pod and a destination, trace the
connection, and watch it on the pod network picture; apply or delete NetworkPolicies and trace again.

``NetLab(cluster)``: **Trace** walks one new connection (``cluster.trace_route``) and highlights it on
``viz.pod_network``, with the hop table below; **Apply policy** applies the NetworkPolicy typed in the box (as
``kubectl apply -f``); **Delete** removes the chosen policy. Errors are shown in the widget, never raised.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..viz import style as S
from ..viz.network import path_table, pod_network
from .stepper import _guarded, error_text

EXAMPLE_POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: default}
spec: {podSelector: {}}
"""


class NetLab:
    """Trace connections through the pod network of ``cluster`` and edit its NetworkPolicies."""

    def __init__(self, cluster, destination: str = "", port: int = 80, policy: str = EXAMPLE_POLICY) -> None:
        self.cluster = cluster
        self.last = None
        self.source = W.Dropdown(description="from pod", options=self._pods())
        self.dest = W.Text(description="to", value=destination, placeholder="name, name.ns or IP")
        self.port = W.BoundedIntText(description="port", value=port, min=1, max=65535)
        self.proto = W.Dropdown(description="protocol", options=["TCP", "UDP", "SCTP"], value="TCP")
        self.trace_btn = W.Button(description="Trace", button_style="primary")
        self.policy_box = W.Textarea(value=policy, layout=W.Layout(width="60%", height="120px"))
        self.apply_btn = W.Button(description="Apply policy")
        self.policies = W.Dropdown(description="policy", options=self._policy_names())
        self.delete_btn = W.Button(description="Delete")
        self.status = W.HTML()
        self.picture = W.HTML()
        self.table = W.HTML()
        self.trace_btn.on_click(lambda _: self.trace())
        self.apply_btn.on_click(lambda _: self.apply_policy())
        self.delete_btn.on_click(lambda _: self.delete_policy())
        self.widget = W.VBox([
            W.HBox([self.source, self.dest]), W.HBox([self.port, self.proto, self.trace_btn]),
            self.status, self.picture, self.table,
            W.HBox([self.policy_box, W.VBox([self.apply_btn, self.policies, self.delete_btn])])])
        self.redraw()

    # -- data ---------------------------------------------------------------------------------------------------
    def _pods(self) -> list[str]:
        out = []
        for p in self.cluster.apiserver.cache.get("pods", {}).values():  # read-only, no API requests
            if (p.get("status") or {}).get("podIP") and not p["spec"].get("hostNetwork"):
                out.append(f"{p['metadata']['namespace']}/{p['metadata']['name']}")
        return sorted(out)

    def _policy_names(self) -> list[str]:
        return sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                      for p in self.cluster.apiserver.cache.get("networkpolicies", {}).values())

    # -- callbacks ----------------------------------------------------------------------------------------------
    @_guarded
    def trace(self):
        """Trace a connection from the chosen pod; returns the path."""
        if not self.source.value:
            raise ValueError("no running pod to send from")
        if not self.dest.value.strip():
            raise ValueError("type a destination: a Service name or an IP")
        self.last = self.cluster.trace_route(self.dest.value.strip(), int(self.port.value),
                                             from_pod=self.source.value, protocol=self.proto.value)
        self.redraw()
        return self.last

    @_guarded
    def apply_policy(self):
        obj = self.cluster.apply(self.policy_box.value)
        self.policies.options = self._policy_names()
        self.show_message(f"networkpolicy.networking.k8s.io/{obj['metadata']['name']} configured")
        return obj

    @_guarded
    def delete_policy(self):
        if not self.policies.value:
            raise ValueError("no NetworkPolicy to delete")
        ns, name = self.policies.value.split("/", 1)
        self.cluster.delete("networkpolicy", name, namespace=ns)
        self.policies.options = self._policy_names()
        self.show_message(f'networkpolicy.networking.k8s.io "{name}" deleted')

    # -- views --------------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        self.source.options = self._pods() or [""]
        self.picture.value = pod_network(self.cluster, self.last).pipe(format="svg").decode()
        if self.last is None:
            self.status.value = "<i>pick a pod and a destination, then Trace</i>"
            self.table.value = ""
            return
        colour = S.PHASE_COLORS["Running"] if self.last.ok else S.PHASE_COLORS["Failed"]
        self.status.value = (f'<b style="color:{colour}">{html.escape(self.last.status)}</b> '
                             f"{html.escape(self.last.src)} -> {html.escape(self.last.dst)}:{self.last.port}")
        self.table.value = path_table(self.last).to_html()

    def show_message(self, text: str) -> None:
        self.status.value = html.escape(text)

    def show_error(self, e: Exception) -> None:
        self.status.value = f'<pre style="color:{S.PHASE_COLORS["Failed"]}">{html.escape(error_text(e))}</pre>'

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
