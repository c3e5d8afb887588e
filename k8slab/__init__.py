"""k8slab: a deterministic, steppable simulation of a whole Kubernetes cluster, for learning how it works inside.

    from k8slab import Cluster
    c = Cluster(nodes=3, seed=0)
    c.apply(manifest); c.settle(); c.get("pods")

``k8slab.viz`` and ``k8slab.widgets`` (graphviz, matplotlib, ipywidgets) load on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["Cluster", "viz", "widgets", "exercises"]


def __getattr__(name: str):
    if name == "Cluster":
        from .cluster import Cluster

        return Cluster
    if name in ("viz", "widgets", "exercises"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'k8slab' has no attribute {name!r}")
