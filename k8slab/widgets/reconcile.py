"""Mirrors: (no upstream package) a window on one controller of kube-controller-manager: its work queue, the key
it is reconciling, desired state next to actual state, and the API calls one reconcile made.

    from k8slab import widgets
    lab = widgets.ReconcileLab(c, "deployment")   # Step: run until this controller has reconciled one key
    lab.step()                                    # the same from code; Play runs on
    lab.kill_pod(); lab.drain_node("node-1"); lab.stop_kubelet("node-2"); lab.toggle_manager()

The pure helpers (:func:`desired_actual`, :func:`summarize_calls`, :func:`queue_contents`) hold the logic and are
tested directly; the widget only lays them out.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..api import errors
from ..viz import style as S
from .stepper import _guarded, error_text

# controller name -> (resource it reconciles, kind)
CONTROLLED = {"deployment": "deployments", "replicaset": "replicasets", "daemonset": "daemonsets",
              "job": "jobs", "cronjob": "cronjobs", "endpointslice": "services", "endpoints": "services",
              "ttl-after-finished": "jobs"}


def queue_contents(ctrl) -> dict:
    """What the controller's work queue holds: keys waiting, keys being processed, keys waiting out a delay."""
    q = ctrl.queue
    return {"queued": list(q.queue), "processing": sorted(map(str, q.processing)),
            "waiting": sorted((str(k), t.time) for k, t in q._waiting.items()),
            "requeues": {str(k): q.num_requeues(k) for k in list(q.queue) + list(q._waiting)
                         if q.num_requeues(k)}}


def _owned(cache: dict, uid: str) -> list[dict]:
    return [o for o in cache.values() if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or ())]


def _active(p: dict) -> bool:
    return p.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get(
        "deletionTimestamp")


def _ready(p: dict) -> bool:
    return any(x.get("type") == "Ready" and x.get("status") == "True"
               for x in (p.get("status") or {}).get("conditions") or ())


def desired_actual(c, controller: str, key: str) -> tuple[dict, dict]:
    """Desired state (from the object's spec) and actual state (from what it owns), for one key."""
    resource = CONTROLLED.get(controller)
    cache = c.apiserver.cache
    obj = cache.get(resource, {}).get(key) if resource else None
    if obj is None:
        return {}, {"object": "not found (deleted?)"}
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    uid = obj["metadata"]["uid"]
    if controller == "deployment":
        rss = _owned(cache["replicasets"], uid)
        return ({"replicas": spec.get("replicas"), "image": _image(spec),
                 "strategy": (spec.get("strategy") or {}).get("type"), "paused": bool(spec.get("paused"))},
                {rs["metadata"]["name"]: f"{rs['spec'].get('replicas', 0)} desired, "
                                         f"{(rs.get('status') or {}).get('availableReplicas', 0)} available"
                 for rs in rss} or {"replicasets": "none"})
    if controller == "replicaset":
        pods = [p for p in _owned(cache["pods"], uid) if _active(p)]
        return ({"replicas": spec.get("replicas")},
                {"pods": len(pods), "ready": sum(1 for p in pods if _ready(p)),
                 "names": ", ".join(sorted(p["metadata"]["name"] for p in pods)) or "-"})
    if controller == "daemonset":
        from ..controllers.daemonset import get_target_node_name, node_should_run_daemon_pod

        want = sorted(n["metadata"]["name"] for n in cache["nodes"].values()
                      if node_should_run_daemon_pod(n, obj)[0])
        pods = [p for p in _owned(cache["pods"], uid) if _active(p)]
        return ({"nodes": ", ".join(want) or "-"},
                {"pods on": ", ".join(sorted(filter(None, (get_target_node_name(p) for p in pods)))) or "-",
                 "ready": sum(1 for p in pods if _ready(p))})
    if controller in ("job", "ttl-after-finished"):
        pods = _owned(cache["pods"], uid)
        return ({"completions": spec.get("completions"), "parallelism": spec.get("parallelism"),
                 "backoffLimit": spec.get("backoffLimit"), "ttlSecondsAfterFinished": spec.get(
                     "ttlSecondsAfterFinished")},
                {"active": sum(1 for p in pods if _active(p)),
                 "succeeded": sum(1 for p in pods if p.get("status", {}).get("phase") == "Succeeded"),
                 "failed": sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed"),
                 "conditions": ", ".join(x["type"] for x in st.get("conditions") or []) or "-"})
    if controller == "cronjob":
        return ({"schedule": spec.get("schedule"), "concurrencyPolicy": spec.get("concurrencyPolicy"),
                 "suspend": spec.get("suspend")},
                {"active": ", ".join(a["name"] for a in st.get("active") or []) or "-",
                 "lastScheduleTime": st.get("lastScheduleTime", "-")})
    if controller in ("endpointslice", "endpoints"):
        from ..api.objects import selector_matches

        sel = {"matchLabels": spec.get("selector") or {}}
        pods = [p for p in cache["pods"].values() if p["metadata"].get("namespace") == obj["metadata"]["namespace"]
                and spec.get("selector") and selector_matches(sel, p["metadata"].get("labels") or {})]
        slices = [s for s in cache.get("endpointslices", {}).values()
                  if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == obj["metadata"]["name"]
                  and s["metadata"].get("namespace") == obj["metadata"]["namespace"]]
        return ({"selector": spec.get("selector"), "matching pods": len(pods)},
                {"endpoints": sum(len(s.get("endpoints") or []) for s in slices), "slices": len(slices)})
    return {"spec": spec}, {"status": st}


def _image(spec: dict) -> str:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ", ".join(x.get("image", "") for x in cs)


def summarize_calls(events, component: str) -> list[str]:
    """The API calls ``component`` made in these trace events, as "create pods/default/web-abc (201)" lines."""
    out, pending = [], {}
    for e in events:
        if e.component == component and e.kind == "request":
            pending[e.seq] = f"{e.data.get('verb')} {e.ref}"
        elif e.kind == "response" and e.cause in pending:
            code = (e.data or {}).get("code")
            out.append(f"{pending.pop(e.cause)}" + (f" ({code})" if code else ""))
    out.extend(pending.values())
    return out


class ReconcileLab:
    """Step one controller's loop one reconcile at a time, and break things to watch it react."""

    def __init__(self, cluster, controller: str = "deployment", max_steps: int = 20_000) -> None:
        self.c = cluster
        self.name = controller
        self.ctrl = cluster.controller_manager[controller]
        self.component = self.ctrl.component
        self.max_steps = max_steps
        self.last: dict = {}
        self.error = W.HTML()
        self.queue_html = W.HTML()
        self.key_html = W.HTML()
        self.state_html = W.HTML()
        self.calls_html = W.HTML()
        self.step_button = W.Button(description="Step", tooltip="run until this controller reconciles one key")
        self.play = W.Play(interval=600, min=0, max=10**9, show_repeat=False)
        self.pod_button = W.Button(description="Kill a pod")
        self.node = W.Dropdown(options=[n for n in cluster.nodes], description="node")
        self.drain_button = W.Button(description="Drain node")
        self.kubelet_button = W.Button(description="Stop kubelet")
        self.manager_button = W.Button(description="Pause manager")
        self.step_button.on_click(self._on_step)
        self.play.observe(self._on_tick, names="value")
        self.pod_button.on_click(lambda _b: self.kill_pod())
        self.drain_button.on_click(lambda _b: self.drain_node(self.node.value))
        self.kubelet_button.on_click(lambda _b: self.stop_kubelet(self.node.value))
        self.manager_button.on_click(lambda _b: self.toggle_manager())
        title = W.HTML(f"<b style='color:{S.CONTROL_PLANE.line}'>{html.escape(self.component)}</b>")
        self.box = W.VBox([title, W.HBox([self.step_button, self.play]),
                           W.HBox([self.pod_button, self.node, self.drain_button, self.kubelet_button,
                                   self.manager_button]),
                           self.error, self.queue_html, self.key_html, self.state_html, self.calls_html])
        self.render()

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)

    def show_error(self, e: Exception) -> None:
        self.play.playing = False
        self.error.value = f"<pre style='color:{S.PHASE_COLORS['Failed']}'>{html.escape(error_text(e))}</pre>"

    # -- stepping -----------------------------------------------------------------------------------------------------
    def step(self) -> dict:
        """Run the event loop until this controller has finished one reconcile; returns what it did."""
        self.error.value = ""
        for _ in range(self.max_steps):
            mark = self.c.trace.last_seq
            if self.c.loop.step() is None:
                break
            evs = self.c.trace.since(mark)
            rec = next((e for e in evs if e.component == self.component and e.kind == "reconcile"), None)
            if rec is not None:
                key = rec.ref.split("/", 1)[1] if "/" in rec.ref else rec.ref
                failed = [e for e in evs if e.component == self.component and e.kind == "reconcile.error"]
                desired, actual = desired_actual(self.c, self.name, key)
                self.last = {"key": key, "time": self.c.now, "calls": summarize_calls(evs, self.component),
                             "error": failed[0].data.get("error") if failed else None,
                             "desired": desired, "actual": actual}
                self.render()
                return self.last
        self.last = {"key": None, "time": self.c.now, "calls": [], "error": None, "desired": {}, "actual": {}}
        self.render()
        return self.last

    @_guarded
    def _on_step(self, _button=None):
        return self.step()

    @_guarded
    def _on_tick(self, change):
        if self.play.playing:
            out = self.step()
            if out.get("key") is None:
                self.play.playing = False

    # -- faults -------------------------------------------------------------------------------------------------------
    @_guarded
    def kill_pod(self, name: str | None = None, namespace: str = "default") -> str:
        """Delete a pod at once (grace period 0), by default the first running one in ``namespace``."""
        if name is None:
            pods = sorted(p["metadata"]["name"] for p in self.c.apiserver.cache["pods"].values()
                          if p["metadata"].get("namespace") == namespace and _active(p))
            if not pods:
                raise ValueError(f"no running pod in namespace {namespace}")
            name = pods[0]
        self.c.delete("pod", name, namespace=namespace, grace_period=0)
        self._note(f"killed pod {namespace}/{name}")
        return name

    @_guarded
    def drain_node(self, node: str) -> list[str]:
        """``kubectl drain``: cordon the node, then evict its pods (DaemonSet pods stay, as with
        --ignore-daemonsets)."""
        self.c.admin.patch("nodes", node, {"spec": {"unschedulable": True}})
        evicted = []
        for p in list(self.c.apiserver.cache["pods"].values()):
            if p.get("spec", {}).get("nodeName") != node or not _active(p):
                continue
            if any(r.get("kind") == "DaemonSet" for r in p["metadata"].get("ownerReferences") or ()):
                continue
            ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
            body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
            try:
                self.c.admin._do("create", "pods", namespace=ns, name=name, body=body, subresource="eviction")
            except errors.StatusError as e:
                if e.code not in (404, 405):
                    raise  # e.g. 429: a PodDisruptionBudget forbids it
                self.c.admin.delete("pods", name, namespace=ns)  # no eviction API: kubectl falls back to delete
            evicted.append(f"{ns}/{name}")
        self._note(f"cordoned {node}; evicted {len(evicted)} pod(s)")
        return evicted

    @_guarded
    def stop_kubelet(self, node: str) -> None:
        kubelet = self.c.node(node).kubelet
        if not hasattr(kubelet, "stop"):
            raise RuntimeError("this kubelet cannot be stopped in this version of k8slab")
        kubelet.stop()
        self._note(f"stopped the kubelet on {node}: its Lease is no longer renewed")

    @_guarded
    def toggle_manager(self) -> bool:
        cm = self.c.controller_manager
        if cm.paused:
            cm.resume()
        else:
            cm.pause()
        self.manager_button.description = "Resume manager" if cm.paused else "Pause manager"
        self._note("kube-controller-manager paused: queues fill, nobody works them" if cm.paused
                   else "kube-controller-manager resumed")
        return cm.paused

    def _note(self, text: str) -> None:
        self.error.value = f"<i style='color:{S.HIGHLIGHT}'>{html.escape(text)}</i>"
        self.render()

    # -- rendering ----------------------------------------------------------------------------------------------------
    def render(self) -> None:
        q = queue_contents(self.ctrl)
        waiting = ", ".join(f"{k} (at {t / 1000:.1f}s)" for k, t in q["waiting"]) or "-"
        self.queue_html.value = (f"<b>work queue</b> t={self.c.now / 1000:.3f}s &nbsp; queued: "
                                 f"{html.escape(', '.join(map(str, q['queued'])) or '-')} &nbsp; delayed: "
                                 f"{html.escape(waiting)}" + (" &nbsp; <b>(manager paused)</b>"
                                                              if self.c.controller_manager.paused else ""))
        last = self.last
        if not last:
            self.key_html.value = "<i>press Step to run one reconcile</i>"
            self.state_html.value = self.calls_html.value = ""
            return
        if last.get("key") is None:
            self.key_html.value = "<i>nothing left to reconcile: the loop is idle</i>"
            self.state_html.value = self.calls_html.value = ""
            return
        err = (f" <span style='color:{S.PHASE_COLORS['Failed']}'>failed: {html.escape(last['error'])} "
               f"(requeued with backoff)</span>") if last.get("error") else ""
        self.key_html.value = f"<b>reconciled</b> <code>{html.escape(last['key'])}</code>{err}"

        def table(d):
            return "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                           for k, v in d.items())
        self.state_html.value = ("<table><tr><th>desired (spec)</th><th>actual</th></tr><tr>"
                                 f"<td style='vertical-align:top'><table>{table(last['desired'])}</table></td>"
                                 f"<td style='vertical-align:top'><table>{table(last['actual'])}</table></td>"
                                 "</tr></table>")
        calls = last["calls"]
        decision = "no change needed" if not calls else f"{len(calls)} API call(s)"
        self.calls_html.value = (f"<b>decision:</b> {decision}<pre>"
                                 + html.escape("\n".join(calls)) + "</pre>")
