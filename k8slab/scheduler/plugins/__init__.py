"""Mirrors: pkg/scheduler/framework/plugins/registry.go, pkg/scheduler/framework/plugins/names/names.go

The in-tree plugin registry: plugin name -> plugin class. A profile enables plugins by name;
add your own class here (``REGISTRY[MyPlugin.NAME] = MyPlugin``) to make it available, as
out-of-tree plugins do with ``app.WithPlugin``.
"""

from __future__ import annotations

from k8slab.scheduler.plugins.balancedallocation import BalancedAllocation
from k8slab.scheduler.plugins.defaultbinder import DefaultBinder
from k8slab.scheduler.plugins.defaultpreemption import DefaultPreemption
from k8slab.scheduler.plugins.imagelocality import ImageLocality
from k8slab.scheduler.plugins.interpodaffinity import InterPodAffinity
from k8slab.scheduler.plugins.nodeaffinity import NodeAffinity
from k8slab.scheduler.plugins.nodename import NodeName
from k8slab.scheduler.plugins.noderesources import Fit
from k8slab.scheduler.plugins.nodeports import NodePorts
from k8slab.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from k8slab.scheduler.plugins.podtopologyspread import PodTopologySpread
from k8slab.scheduler.plugins.prioritysort import PrioritySort
from k8slab.scheduler.plugins.schedulinggates import SchedulingGates
from k8slab.scheduler.plugins.tainttoleration import TaintToleration

REGISTRY: dict[str, type] = {
    SchedulingGates.NAME: SchedulingGates,
    PrioritySort.NAME: PrioritySort,
    NodeUnschedulable.NAME: NodeUnschedulable,
    NodeName.NAME: NodeName,
    TaintToleration.NAME: TaintToleration,
    NodeAffinity.NAME: NodeAffinity,
    NodePorts.NAME: NodePorts,
    Fit.NAME: Fit,
    PodTopologySpread.NAME: PodTopologySpread,
    InterPodAffinity.NAME: InterPodAffinity,
    DefaultPreemption.NAME: DefaultPreemption,
    BalancedAllocation.NAME: BalancedAllocation,
    ImageLocality.NAME: ImageLocality,
    DefaultBinder.NAME: DefaultBinder,
}


def register(plugin_class: type) -> type:
    """Add a plugin class to the registry under its NAME (usable as a class decorator)."""
    REGISTRY[plugin_class.NAME] = plugin_class
    return plugin_class


__all__ = ["REGISTRY", "register", "BalancedAllocation", "DefaultBinder", "DefaultPreemption", "Fit", "ImageLocality",
           "InterPodAffinity", "NodeAffinity", "NodeName", "NodePorts", "NodeUnschedulable", "PodTopologySpread",
           "PrioritySort", "SchedulingGates", "TaintToleration"]
