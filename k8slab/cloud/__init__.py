"""Mirrors: staging/src/k8s.io/cloud-provider: the cloud-controller-manager and a fake cloud provider."""

from .manager import CloudControllerManager
from .provider import CloudError, FakeCloud

__all__ = ["CloudControllerManager", "CloudError", "FakeCloud"]
