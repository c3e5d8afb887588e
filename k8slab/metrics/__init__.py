"""Mirrors: sigs.k8s.io/metrics-server.

The metrics-server add-on: scrapes the kubelets' resource metrics and serves the Metrics API
(``metrics.k8s.io/v1beta1``) that ``kubectl top`` and the HorizontalPodAutoscaler read.
"""

from .server import METRIC_RESOLUTION_MS, MetricsServer, parse_resource_metrics
from .top import top_nodes, top_pods

__all__ = ["METRIC_RESOLUTION_MS", "MetricsServer", "parse_resource_metrics", "top_nodes", "top_pods"]
