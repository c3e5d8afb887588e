"""Mirrors: pkg/scheduler/framework/plugins/defaultbinder/default_binder.go

DefaultBinder binds the pod by creating a Binding (POST .../pods/<name>/binding) through the
API server; the API server then sets ``spec.nodeName``. The scheduler never writes to etcd or
talks to the kubelet directly.
"""

from __future__ import annotations

from k8slab.scheduler.framework import CycleState, Plugin, Status, as_status


class DefaultBinder(Plugin):
    NAME = "DefaultBinder"

    def bind(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        try:
            self.handle.client.bind(pod, node_name)
        except Exception as err:  # any API error becomes an Error status, as upstream's AsStatus(err)
            return as_status(err)
        return None
