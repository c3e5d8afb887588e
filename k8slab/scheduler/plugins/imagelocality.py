"""Mirrors: pkg/scheduler/framework/plugins/imagelocality/image_locality.go

ImageLocality favours nodes that already hold the pod's container images, so the pod starts
without a long pull. Each present image counts ``size x (nodes having it / all nodes)``: an image
present everywhere is worth its full size, one on a single node of 100 only 1%, so the plugin does
not herd every pod of a workload onto the one node that pulled first.

    sum = Σ over init containers and containers whose image is on the node of int(size x spread)
    clamp sum to [23 MB, 1000 MB x number of containers]
    score = 100 x (sum - 23 MB) / (max - 23 MB)

Image names are normalized as the kubelet reports them: ``nginx`` becomes ``nginx:latest``. The
score needs no normalization step (it is already 0..100).
"""

from __future__ import annotations

from k8slab.scheduler.framework import MAX_NODE_SCORE, CycleState, ImageStateSummary, NodeInfo, Plugin, Status

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
"""minThreshold: the sum below which a node gets 0 (smaller images pull quickly anyway)."""
MAX_CONTAINER_THRESHOLD = 1000 * MB
"""maxContainerThreshold: per container; the sum is capped at this times the number of containers."""


def normalized_image_name(name: str) -> str:
    """Append ``:latest`` when the name has no tag (the last ':' is not after the last '/')."""
    if name.rfind(":") <= name.rfind("/"):
        name = name + ":latest"
    return name


def scaled_image_score(image_state: ImageStateSummary, total_num_nodes: int) -> int:
    """The image's size scaled by the fraction of nodes that hold it."""
    spread = float(image_state.num_nodes) / float(total_num_nodes)
    return int(float(image_state.size) * spread)


def sum_image_scores(node_info: NodeInfo, pod: dict, total_num_nodes: int) -> int:
    spec = pod.get("spec") or {}
    total = 0
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        state = node_info.image_states.get(normalized_image_name(c.get("image") or ""))
        if state is not None:
            total += scaled_image_score(state, total_num_nodes)
    return total


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality(Plugin):
    NAME = NAME

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        total_num_nodes = len(getattr(self.handle, "snapshot", None) or []) or 1
        spec = pod.get("spec") or {}
        num_containers = len(spec.get("initContainers") or []) + len(spec.get("containers") or [])
        return calculate_priority(sum_image_scores(node_info, pod, total_num_nodes), num_containers), None
