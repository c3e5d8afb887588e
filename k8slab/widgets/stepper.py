"""Mirrors: (no upstream file) a step-by-step player for the cluster's event loop.

``Stepper(cluster)`` shows the architecture picture with what the last step touched highlighted, the trace events of
that step, and the API object it wrote (as YAML, the way ``kubectl get -o yaml`` prints it). **Step** runs one event
of the loop; **Play** keeps stepping at the chosen speed; **Reset** rebuilds the cluster (deterministically, by
replaying it) back to the step the Stepper started at. A manifest typed in the box is applied with **Apply**, as
``kubectl apply -f`` would. Errors are shown in the widget, never raised into the notebook.
"""

from __future__ import annotations

import functools
import html
import time

import ipywidgets as W

from ..api import errors, resources
from ..api.serialize import to_yaml
from ..viz import style as S
from ..viz.architecture import ArchitectureView
from ..viz.tables import describe

PLAY_MAX = 10**9
MAX_EVENT_ROWS = 40


def _guarded(fn):
    """A widget callback: any exception is shown in the error area (and stops Play) instead of escaping."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            result = fn(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a notebook widget must never raise into the frontend
            self.show_error(e)
            return None
        return result

    return wrapper


def error_text(e: Exception) -> str:
    """How kubectl would report the error: ``Error from server (Invalid): ...`` for an API error."""
    if isinstance(e, errors.StatusError):
        return f"Error from server ({e.reason}): {e.message}"
    return f"error: {type(e).__name__}: {e}"


def parse_ref(ref: str) -> tuple[str, str | None, str, str] | None:
    """'pods/default/web-1/status' -> ('pods', 'default', 'web-1', 'status'); None if not an object ref."""
    parts = ref.split("/")
    if len(parts) < 2:
        return None
    try:
        info = resources.lookup(parts[0])
    except (KeyError, ValueError, errors.StatusError):
        return None
    if info.namespaced:
        if len(parts) < 3:
            return None
        return info.resource, parts[1], parts[2], "/".join(parts[3:])
    return info.resource, None, parts[1], "/".join(parts[2:])


class Stepper:
    """An ipywidgets app that steps a cluster one event at a time and redraws after each step.

    ``stepper.cluster`` is the cluster being shown (Reset swaps in a fresh replayed one); ``stepper.step_once()``
    runs one step and redraws (what the Step button does) and returns the step's trace events.
    """

    def __init__(self, cluster, speed: int = 5, manifest: str = "", max_pods: int = 5) -> None:
        self.cluster = cluster
        self.start_step = cluster.loop.steps
        self.view = ArchitectureView(cluster, max_pods=max_pods)
        self.last_events: list = []
        self.last_ran = ""
        self.render_ms = 0.0
        self._yaml_cache: tuple | None = None
        self._resetting = False

        self.step_button = W.Button(description="Step", icon="step-forward", tooltip="run one event of the loop")
        self.play = W.Play(value=0, min=0, max=PLAY_MAX, step=1, interval=int(1000 / speed), show_repeat=False,
                           description="Play", tooltip="keep stepping")
        self.speed = W.IntSlider(value=speed, min=1, max=30, description="steps/s", continuous_update=False,
                                 layout=W.Layout(width="260px"))
        self.reset_button = W.Button(description="Reset", icon="undo",
                                     tooltip=f"rebuild the cluster as it was at step {self.start_step}")
        self.clock = W.HTML()
        self.diagram = W.HTML(layout=W.Layout(width="100%"))
        self.events_html = W.HTML(layout=W.Layout(width="58%"))
        self.object_html = W.HTML(layout=W.Layout(width="42%"))
        self.error = W.HTML()
        self.manifest = W.Textarea(value=manifest, placeholder="apiVersion: apps/v1\nkind: Deployment\n...",
                                   layout=W.Layout(width="100%", height="160px"))
        self.apply_button = W.Button(description="Apply", icon="upload", tooltip="kubectl apply -f (this text)")
        self.apply_result = W.HTML()

        self.step_button.on_click(self._on_step_click)
        self.reset_button.on_click(self._on_reset_click)
        self.apply_button.on_click(self._on_apply_click)
        self.play.observe(self._on_tick, names="value")
        self.speed.observe(self._on_speed, names="value")

        apply_box = W.VBox([self.manifest, W.HBox([self.apply_button, self.apply_result])])
        manifest_panel = W.Accordion(children=[apply_box], titles=("Apply a manifest",))
        manifest_panel.selected_index = None
        self.widget = W.VBox([
            W.HBox([self.step_button, self.play, self.speed, self.reset_button, self.clock],
                   layout=W.Layout(align_items="center")),
            self.error,
            self.diagram,
            W.HBox([self.events_html, self.object_html]),
            manifest_panel,
        ])
        self.render([])

    # -- display ----------------------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def show_error(self, e: Exception) -> None:
        self.play.playing = False
        self.error.value = (f'<pre style="color:#b03a2e;white-space:pre-wrap;margin:2px 0">'
                            f"{html.escape(error_text(e))}</pre>")

    # -- stepping ---------------------------------------------------------------------------------------------------
    def step_once(self) -> list:
        """Run one loop step and redraw. Returns the step's trace events (empty if nothing was left to run)."""
        c = self.cluster
        nxt = c.loop.peek()
        before = c.loop.steps
        events = c.step()
        if c.loop.steps == before:
            self.play.playing = False
            self.last_ran = "nothing left to run"
            self.render([])
            return []
        self.last_ran = f"{nxt.component}: {nxt.label}" if nxt is not None else ""
        self.render(events)
        return events

    def render(self, events) -> None:
        """Redraw every panel for the cluster's current state, highlighting ``events``."""
        t0 = time.perf_counter()
        self.last_events = list(events)
        self.diagram.value = self.view.svg(self.last_events)
        self.clock.value = self._clock_html()
        self.events_html.value = self._events_html(self.last_events)
        self.object_html.value = self._object_html(self.last_events)
        self.error.value = ""
        self.render_ms = (time.perf_counter() - t0) * 1000

    def _clock_html(self) -> str:
        c = self.cluster
        nxt = c.loop.peek()
        nxt_text = f"{nxt.component}: {nxt.label}" if nxt is not None else "nothing pending"
        return (f'<span style="font-family:monospace;margin-left:10px">step <b>{c.loop.steps}</b> &nbsp; '
                f"t = <b>{c.now / 1000:.3f} s</b> &nbsp; next: {html.escape(nxt_text)}</span>")

    def _events_html(self, events) -> str:
        c = self.cluster
        head = (f"<b>Step {c.loop.steps}</b>" + (f": {html.escape(self.last_ran)}" if self.last_ran else "")
                if events or self.last_ran else f"<b>Step {c.loop.steps}</b>: press Step to run the next event")
        if not events:
            return f"<div>{head}</div>"
        rows = []
        for ev in events[:MAX_EVENT_ROWS]:
            color = S.family_of(ev.component).line
            rows.append(
                f'<tr><td>{ev.seq}</td><td style="color:{color}">{html.escape(ev.component)}</td>'
                f"<td>{html.escape(ev.kind)}</td><td>{html.escape(ev.ref)}</td>"
                f"<td>{html.escape(describe(ev))}</td></tr>")
        more = f"<div>… and {len(events) - MAX_EVENT_ROWS} more events</div>" if len(events) > MAX_EVENT_ROWS else ""
        return (f"<div>{head}</div>"
                '<table style="font-size:11px;border-collapse:collapse" class="k8slab-events">'
                "<tr><th>seq</th><th>component</th><th>kind</th><th>ref</th><th>what</th></tr>"
                + "".join(rows) + "</table>" + more)

    def changed_object(self, events) -> tuple[str, dict | None] | None:
        """The object the newest etcd write of ``events`` concerned: ``(ref, object or None if deleted)``."""
        for ev in reversed(events):
            if ev.kind.startswith("etcd.") and ev.kind != "etcd.compact":
                parsed = parse_ref(ev.ref)
                if parsed is None:
                    continue
                resource, ns, name, _ = parsed
                key = "/".join(p for p in (resource, ns, name) if p)
                return key, self.cluster.apiserver.storage_get(resource, ns, name)
        return None

    def _object_html(self, events) -> str:
        found = self.changed_object(events)
        if found is None:
            return ("<div><b>API object</b>: this step wrote nothing to etcd.</div>" if events else "")
        ref, obj = found
        if obj is None:
            return f"<div><b>{html.escape(ref)}</b> was deleted (it is no longer in the API server).</div>"
        rv = obj["metadata"].get("resourceVersion")
        if self._yaml_cache is None or self._yaml_cache[:2] != (ref, rv):
            self._yaml_cache = (ref, rv, html.escape(to_yaml(obj)))
        return (f"<div><b>{html.escape(ref)}</b> (resourceVersion {html.escape(str(rv))}), as stored now:</div>"
                '<pre style="max-height:320px;overflow:auto;font-size:11px;margin:2px 0">'
                f"{self._yaml_cache[2]}</pre>")

    # -- callbacks --------------------------------------------------------------------------------------------------
    @_guarded
    def _on_step_click(self, _button=None) -> None:
        self.step_once()

    @_guarded
    def _on_tick(self, change) -> None:
        """Play advanced its counter: run one step."""
        if self._resetting or change.get("new", 0) <= change.get("old", 0):
            return
        self.step_once()

    @_guarded
    def _on_speed(self, change) -> None:
        self.play.interval = max(1, int(1000 / max(1, change["new"])))

    @_guarded
    def _on_reset_click(self, _button=None) -> None:
        self.reset()

    def reset(self) -> None:
        """Rebuild the cluster as it was at the step the Stepper started at (a deterministic replay)."""
        self.play.playing = False
        self._resetting = True
        try:
            self.play.value = 0
        finally:
            self._resetting = False
        self.cluster = self.cluster.replay(until_step=self.start_step)
        self.view.cluster = self.cluster
        self.last_ran = ""
        self._yaml_cache = None
        self.render([])

    @_guarded
    def _on_apply_click(self, _button=None) -> None:
        self.apply_result.value = ""
        try:
            self.apply(self.manifest.value)
        except Exception as e:  # noqa: BLE001 - shown next to the button
            self.apply_result.value = (f'<pre style="color:#b03a2e;white-space:pre-wrap;margin:2px 6px">'
                                       f"{html.escape(error_text(e))}</pre>")

    def apply(self, manifest):
        """``kubectl apply -f`` the manifest, then redraw with its API requests highlighted."""
        c = self.cluster
        before = c.trace.last_seq
        result = c.apply(manifest)
        objs = result if isinstance(result, list) else [result]
        names = [f"{o['kind']} " + "/".join(p for p in (o["metadata"].get("namespace"), o["metadata"]["name"]) if p)
                 for o in objs]
        self.apply_result.value = "<span>applied " + html.escape(", ".join(names)) + "</span>"
        self.last_ran = "kubectl apply"
        self.render(c.trace.since(before))
        return result
