"""Mirrors: (no upstream package) a lab bench for kube-scheduler decisions (pkg/scheduler/schedule_one.go).

    from k8slab.widgets.schedulerlab import SchedulerLab
    SchedulerLab(c)           # c: a Cluster; the lab copies its scheduler's NodeInfos

Change the pod's CPU and memory requests, its toleration of a taint, a preferred node-affinity label, or a Score
plugin's weight: the lab reruns the pure scheduling algorithm on a snapshot of the cluster and redraws the
stacked scores and the choice. "Step" walks one cycle extension point by extension point: PreFilter, Filter,
PreScore, Score, NormalizeScore (and weights), selectHost, then Reserve/Permit/Bind (described, not executed:
the lab never changes the cluster).
"""

from __future__ import annotations

import functools
import html

from ..scheduler.framework import PluginEntry, Profile, default_profile
from ..scheduler.scheduler import explain_pod

STAGES = ["PreFilter", "Filter", "PreScore", "Score", "NormalizeScore", "selectHost", "Reserve, Permit, Bind"]
WEIGHTED_PLUGINS = ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity",
                    "NodeResourcesBalancedAllocation", "ImageLocality"]


def _guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a notebook widget must never raise into the frontend
            self.show_error(e)
            return None

    return wrapper


class SchedulerLab:
    """Widgets around ``explain_pod``. ``state`` holds the current inputs; ``df`` the last explain table."""

    def __init__(self, cluster, cpu: str = "500m", memory: str = "256Mi") -> None:
        import ipywidgets as w

        self.cluster = cluster
        self.state = {"cpu": cpu, "memory": memory, "tolerate": "", "prefer": "", "weights": {}}
        self.stage = len(STAGES)
        self.df = None
        self.error = ""
        self.cpu = w.Text(value=cpu, description="cpu request")
        self.memory = w.Text(value=memory, description="memory req.")
        taints = sorted({t["key"] for ni in self._infos() for t in ((ni.node or {}).get("spec") or {}).get("taints")
                         or []})
        self.tolerate = w.Dropdown(options=[""] + taints, value="", description="tolerate")
        labels = sorted({f"{k}={v}" for ni in self._infos() for k, v in
                         ((ni.node or {}).get("metadata") or {}).get("labels", {}).items()})
        self.prefer = w.Dropdown(options=[""] + labels, value="", description="prefer label")
        fw_weights = {e.name: e.weight for e in default_profile().plugins}
        self.weights = {p: w.IntSlider(value=fw_weights.get(p) or 1, min=0, max=10, description=p[:18])
                        for p in WEIGHTED_PLUGINS}
        self.step_button = w.Button(description="Step")
        self.run_button = w.Button(description="Whole cycle")
        self.status = w.HTML()
        self.errors = w.HTML()
        self.out = w.Output()
        for ctl in [self.cpu, self.memory, self.tolerate, self.prefer, *self.weights.values()]:
            ctl.observe(self._on_change, names="value")
        self.step_button.on_click(self._on_step)
        self.run_button.on_click(self._on_run)
        self.box = w.VBox([w.HBox([self.cpu, self.memory]), w.HBox([self.tolerate, self.prefer]),
                           w.HBox([w.VBox(list(self.weights.values())[:4]), w.VBox(list(self.weights.values())[4:])]),
                           w.HBox([self.step_button, self.run_button]), self.status, self.errors, self.out])
        self.recompute()

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)

    def _infos(self):
        return [ni.snapshot() for ni in self.cluster.scheduler.snapshot()]

    def show_error(self, e: Exception) -> None:
        self.error = f"error: {type(e).__name__}: {e}"
        self.errors.value = f"<pre style='color:#c0392b'>{html.escape(self.error)}</pre>"

    def pod(self) -> dict:
        spec: dict = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {
            "cpu": self.state["cpu"], "memory": self.state["memory"]}}}]}
        if self.state["tolerate"]:
            spec["tolerations"] = [{"key": self.state["tolerate"], "operator": "Exists"}]
        if self.state["prefer"]:
            k, _, v = self.state["prefer"].partition("=")
            spec["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "preference": {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}}]}}
        return {"metadata": {"name": "lab-pod", "namespace": "default", "uid": "lab-pod"}, "spec": spec}

    def profile(self) -> Profile:
        prof = default_profile()
        weights = self.state["weights"]
        prof.plugins = [PluginEntry(e.name, weights.get(e.name, e.weight)) for e in prof.plugins
                        if not (e.name in weights and weights[e.name] == 0)]
        return prof

    @_guarded
    def recompute(self) -> None:
        from ..api.quantity import parse_quantity

        for key in ("cpu", "memory"):
            try:
                parse_quantity(self.state[key])  # a bad quantity is reported, not scheduled
            except ValueError as err:
                raise ValueError(f"{key} request {self.state[key]!r}: {err}") from None
        self.df = explain_pod(self.pod(), self._infos(), self.profile(), evaluate_all_filters=True)
        self.error = ""
        self.errors.value = ""
        self.render()

    def chosen(self) -> str | None:
        if self.df is None:
            return None
        rows = self.df[self.df["chosen"] == True]  # noqa: E712 - pandas boolean mask
        return rows.index[0] if len(rows) else None

    def stage_text(self) -> str:
        result = self.df.attrs["result"]
        shown = STAGES[: self.stage]
        lines = []
        for st in shown:
            if st == "PreFilter":
                pre = result.pre_filter_status
                verdict = f"rejected: {pre.message()}" if pre is not None else "ok"
                lines.append(f"PreFilter: skipped {sorted(result.skipped_filter_plugins) or 'none'}; {verdict}")
            elif st == "Filter":
                lines.append(f"Filter: {result.feasible_nodes or sum(1 for r in result.nodes if r.feasible)} of "
                             f"{len(result.nodes)} nodes feasible")
            elif st == "PreScore":
                lines.append(f"PreScore: skipped {sorted(result.skipped_score_plugins) or 'none'}")
            elif st == "Score":
                lines.append("Score: raw scores per plugin (see the table)")
            elif st == "NormalizeScore":
                lines.append("NormalizeScore: each plugin's scores scaled to 0..100, times its weight")
            elif st == "selectHost":
                lines.append(f"selectHost: highest total wins -> {self.chosen() or 'no node (Unschedulable)'}")
            else:
                lines.append("Reserve, Permit, Bind: assume the pod on the node, then POST pods/binding "
                             "(the lab does not bind)")
        return "<br>".join(html.escape(x) for x in lines)

    def render(self) -> None:
        self.status.value = self.stage_text()
        self.out.clear_output(wait=True)
        with self.out:
            from IPython.display import display

            from ..viz import scheduler as vs

            if self.stage >= STAGES.index("NormalizeScore") + 1 and self.df["total"].notna().any():
                import matplotlib.pyplot as plt

                fig = vs.scores(self.df, title=f"Weighted scores (chosen: {self.chosen()})")
                display(fig)
                plt.close(fig)
            else:
                display(self.df)

    @_guarded
    def _on_change(self, change=None) -> None:
        self.state.update(cpu=self.cpu.value, memory=self.memory.value, tolerate=self.tolerate.value,
                          prefer=self.prefer.value, weights={p: s.value for p, s in self.weights.items()})
        self.recompute()

    @_guarded
    def _on_step(self, _button=None) -> None:
        self.stage = 1 if self.stage >= len(STAGES) else self.stage + 1
        self.render()

    @_guarded
    def _on_run(self, _button=None) -> None:
        self.stage = len(STAGES)
        self.render()
