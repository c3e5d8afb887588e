"""Mirrors: pkg/controller: the controllers kube-controller-manager runs."""

from .custom import CustomController
from .manager import KubeControllerManager

__all__ = ["CustomController", "KubeControllerManager"]
