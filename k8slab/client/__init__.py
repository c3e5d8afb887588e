"""Mirrors: staging/src/k8s.io/client-go: the clientset, informers and work queues every component uses."""

from .clientset import Client
from .informer import Informer, SharedInformerFactory
from .workqueue import RateLimitingQueue

__all__ = ["Client", "Informer", "RateLimitingQueue", "SharedInformerFactory"]
