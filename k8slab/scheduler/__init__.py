"""Mirrors: pkg/scheduler: kube-scheduler, its framework, plugins and queue."""

from .algorithm import num_feasible_nodes_to_find, schedule_pod, select_host
from .framework import default_normalize_score


def register_plugin(plugin_class: type) -> type:
    """Make a plugin class (``NAME`` plus the extension-point methods it implements) available
    by name to KubeSchedulerConfiguration profiles, like out-of-tree plugins registered with
    ``app.WithPlugin``. Usable as a class decorator."""
    from .plugins import register

    if not getattr(plugin_class, "NAME", ""):
        raise ValueError("a scheduler plugin class needs a non-empty NAME")
    return register(plugin_class)


def load_config(source=None):
    """Decode, default and validate a KubeSchedulerConfiguration (YAML text or dict)."""
    from .config import load_config as _load

    return _load(source)


__all__ = ["default_normalize_score", "load_config", "num_feasible_nodes_to_find", "register_plugin",
           "schedule_pod", "select_host"]
