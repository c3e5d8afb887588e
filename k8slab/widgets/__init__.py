"""Mirrors: (no upstream package) ipywidgets apps that hold a k8slab cluster and redraw its views after each step.

    from k8slab import widgets
    widgets.Stepper(c)      # Step / Play / Reset through the event loop, with the architecture picture
    widgets.NetLab(c)       # trace a pod's connection on the pod network picture; edit NetworkPolicies
    widgets.RaftLab()       # etcd's Raft members: step by message or tick, crash, isolate, heal
    widgets.ReconcileLab(c, "deployment")   # one controller, one reconcile per Step; faults at a click
"""

from .netlab import NetLab
from .nodeview import NodeView
from .raftlab import RaftLab
from .reconcile import ReconcileLab
from .stepper import Stepper

__all__ = ["NetLab", "NodeView", "RaftLab", "ReconcileLab", "Stepper"]
