"""Mirrors: (no upstream file) a live view of one node: the kubelet's pods, the runtime's sandboxes and containers,
the volume directories and the CRI calls as they happen.

``NodeView(cluster, "node-1")`` draws :func:`k8slab.viz.node_view` and the newest CRI calls. **Step** runs one
event of the loop, **Run** advances the virtual clock by the chosen number of seconds; the node picker switches
nodes. Errors are shown in the widget, never raised into the notebook.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..viz.node import cri_calls, node_view
from .stepper import _guarded, error_text

MAX_CALL_ROWS = 15


class NodeView:
    def __init__(self, cluster, node: str | None = None) -> None:
        self.cluster = cluster
        nodes = list(cluster.nodes)
        self.node = node or next((n for n in nodes if n != "control-plane"), nodes[0])
        self.picker = W.Dropdown(options=nodes, value=self.node, description="node")
        self.seconds = W.BoundedIntText(value=10, min=1, max=3600, description="seconds")
        self.step_button = W.Button(description="Step", icon="step-forward")
        self.run_button = W.Button(description="Run", icon="play")
        self.picture = W.HTML()
        self.calls = W.HTML()
        self.status = W.HTML()
        self.error = W.HTML()
        self.picker.observe(self.on_pick, names="value")
        self.step_button.on_click(self.on_step)
        self.run_button.on_click(self.on_run)
        self.box = W.VBox([W.HBox([self.picker, self.step_button, self.seconds, self.run_button]), self.status,
                           self.error, self.picture, self.calls])
        self.redraw()

    def show_error(self, e: Exception) -> None:
        self.error.value = f'<pre style="color:#b3261e">{html.escape(error_text(e))}</pre>'

    @_guarded
    def on_pick(self, change) -> None:
        self.node = change["new"]
        self.redraw()

    @_guarded
    def on_step(self, _button=None) -> None:
        self.cluster.step()
        self.redraw()

    @_guarded
    def on_run(self, _button=None) -> None:
        self.cluster.run(seconds=int(self.seconds.value))
        self.redraw()

    @_guarded
    def redraw(self) -> None:
        self.error.value = ""
        self.picture.value = node_view(self.cluster, self.node)._repr_image_svg_xml()
        df = cri_calls(self.cluster, self.node).tail(MAX_CALL_ROWS)
        self.calls.value = df.to_html(index=False)
        kubelet = self.cluster.node(self.node).kubelet
        self.status.value = (f"<b>{html.escape(self.node)}</b> at t={self.cluster.now / 1000:.3f}s: "
                             f"{len(kubelet.workers)} pod workers, {len(kubelet.runtime.containers)} containers")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
