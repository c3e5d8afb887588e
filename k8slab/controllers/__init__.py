"""Mirrors: pkg/controller: the controllers kube-controller-manager runs."""

from .manager import KubeControllerManager

__all__ = ["KubeControllerManager"]
