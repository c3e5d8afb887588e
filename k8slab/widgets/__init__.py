"""Mirrors: (no upstream package) ipywidgets apps that hold a k8slab cluster and redraw its views after each step.

    from k8slab import widgets
    widgets.Stepper(c)      # Step / Play / Reset through the event loop, with the architecture picture
    widgets.ReconcileLab(c, "deployment")   # one controller, one reconcile per Step; faults at a click
"""

from .reconcile import ReconcileLab
from .stepper import Stepper

__all__ = ["Stepper", "ReconcileLab"]
