"""Mirrors: (no upstream package) ipywidgets apps that hold a k8slab cluster and redraw its views after each step.

    from k8slab import widgets
    widgets.Stepper(c)      # Step / Play / Reset through the event loop, with the architecture picture
"""

from .nodeview import NodeView
from .stepper import Stepper

__all__ = ["NodeView", "Stepper"]
