"""Mirrors: pkg/scheduler/framework/plugins/queuesort/priority_sort.go

PrioritySort orders the scheduling queue: higher ``spec.priority`` first (set by admission from
the pod's PriorityClass); among equal priorities, the pod that entered the queue first.
"""

from __future__ import annotations

from k8slab.scheduler.framework import Plugin, QueuedPodInfo, pod_priority


class PrioritySort(Plugin):
    NAME = "PrioritySort"

    def less(self, pinfo1: QueuedPodInfo, pinfo2: QueuedPodInfo) -> bool:
        """Should pinfo1 be scheduled before pinfo2?"""
        p1 = pod_priority(pinfo1.pod)
        p2 = pod_priority(pinfo2.pod)
        return p1 > p2 or (p1 == p2 and pinfo1.timestamp < pinfo2.timestamp)
