"""Mirrors: (no upstream package) views of a k8slab cluster: graphviz pictures and pandas tables.

    from k8slab import viz
    viz.architecture(c)              # graphviz.Digraph: components, nodes, pods, connections; last step highlighted
    view = viz.ArchitectureView(c)   # laid out once, restyled after each step: view.svg(events)
    viz.events_table(c.step())       # what a step did, one row per trace event
    viz.step_table(c, n=20)          # the newest steps, one row each
    viz.journey(c, "deployments/default/web")

Colours come from :mod:`k8slab.viz.style` and mean the same thing in every notebook.
"""

from . import style
from .architecture import ArchitectureView, architecture, last_step_events, touched
from .controllers import job_figure, node_timeline, rollout_figure, watch_rollout
from .tables import describe, events_table, journey, step_table

__all__ = ["style", "architecture", "ArchitectureView", "last_step_events", "touched", "events_table",
           "step_table", "journey", "describe", "watch_rollout", "rollout_figure", "job_figure", "node_timeline"]
