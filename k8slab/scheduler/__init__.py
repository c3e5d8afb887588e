"""Mirrors: pkg/scheduler: kube-scheduler, its framework, plugins and queue."""

from .algorithm import num_feasible_nodes_to_find, schedule_pod, select_host
from .framework import default_normalize_score

__all__ = ["default_normalize_score", "num_feasible_nodes_to_find", "schedule_pod", "select_host"]
