"""Mirrors: pkg/kubelet.

The node agent: registers the Node, keeps its Lease fresh, and runs the pods bound to the node through the
container runtime (CRI), reporting their status back to the API server.
"""

from .kubelet import KUBELET_VERSION, Backoff, Kubelet
from .status import (DEFAULT_EVICTION_HARD, fits, generate_conditions, get_phase, go_duration, node_allocatable)

__all__ = ["Backoff", "DEFAULT_EVICTION_HARD", "KUBELET_VERSION", "Kubelet", "fits", "generate_conditions",
           "get_phase", "go_duration", "node_allocatable"]
