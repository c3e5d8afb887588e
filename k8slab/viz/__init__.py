"""Mirrors: (no upstream package) views of a k8slab cluster: graphviz pictures and pandas tables.

    from k8slab import viz
    viz.architecture(c)              # graphviz.Digraph: components, nodes, pods, connections; last step highlighted
    view = viz.ArchitectureView(c)   # laid out once, restyled after each step: view.svg(events)
    viz.events_table(c.step())       # what a step did, one row per trace event
    viz.step_table(c, n=20)          # the newest steps, one row each
    viz.journey(c, "deployments/default/web")
    viz.pipeline(c)                  # the API server's stages with the newest request moving through them
    viz.raft_graph(c); viz.raft_timeline(c); viz.raft_table(c)   # etcd's Raft members (Cluster(etcd_members=3))

Colours come from :mod:`k8slab.viz.style` and mean the same thing in every notebook.
"""

from . import style
from .architecture import ArchitectureView, architecture, last_step_events, touched
from .controllers import job_figure, node_timeline, rollout_figure, watch_rollout
from .network import path_table, pod_network, route_table
from .node import cri_calls, hpa_plot, node_resources, node_view, pod_timeline, sample_node_usage
from .pipeline import pipeline, pipeline_stages, pipeline_table, stop_reason
from .raft import raft_graph, raft_table, raft_timeline
from .tables import describe, events_table, journey, step_table

__all__ = ["style", "architecture", "ArchitectureView", "last_step_events", "touched", "events_table",
           "step_table", "journey", "describe", "pipeline", "pipeline_stages", "pipeline_table", "stop_reason",
           "pod_network", "path_table", "route_table", "raft_graph", "raft_table", "raft_timeline",
           "node_view", "cri_calls", "pod_timeline", "sample_node_usage", "node_resources", "hpa_plot",
           "watch_rollout", "rollout_figure", "job_figure", "node_timeline"]
