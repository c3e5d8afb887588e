"""Mirrors: k8s.io/cri-api (the Container Runtime Interface) and containerd's CRI plugin.

The container runtime a kubelet drives: pod sandboxes, containers and images.
"""

from .images import (PAUSE_IMAGE, ImageName, ImagePullError, InvalidImageName, Registry, apply_default_image_tag,
                     normalize, parse_normalized_named)
from .runtime import (CONTAINER_CREATED, CONTAINER_EXITED, CONTAINER_RUNNING, SANDBOX_NOTREADY, SANDBOX_READY,
                      BEHAVIOR_ANNOTATION, Behavior, ContainerRuntime, CRIError, PullResult, SharedLoad,
                      behavior_from_yaml, default_behavior)

__all__ = [
    "BEHAVIOR_ANNOTATION", "Behavior", "CONTAINER_CREATED", "CONTAINER_EXITED", "CONTAINER_RUNNING", "CRIError",
    "ContainerRuntime", "behavior_from_yaml",
    "ImageName", "ImagePullError", "InvalidImageName", "PAUSE_IMAGE", "PullResult", "Registry",
    "SANDBOX_NOTREADY", "SANDBOX_READY", "SharedLoad", "apply_default_image_tag", "default_behavior", "normalize",
    "parse_normalized_named",
]
