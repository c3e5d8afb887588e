"""Mirrors: staging/src/k8s.io/apimachinery (api/errors, api/resource, util/validation),
pkg/apis/*/v1/defaults.go, pkg/apis/*/validation

The API layer of k8slab: Kubernetes objects as plain dicts, and what the API server does to
them before they reach etcd — defaulting, validation, Status errors — plus the resource
registry (kinds, resources, etcd key prefixes), quantities, label selectors and YAML.

Submodules: ``errors``, ``quantity``, ``resources``, ``objects``, ``serialize``, ``defaults``,
``validation``. The YAML, defaulting and validation helpers load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    FieldError,
    StatusError,
    forbidden_reason,
    new_already_exists,
    new_bad_request,
    new_conflict,
    new_forbidden,
    new_internal_error,
    new_invalid,
    new_not_found,
    new_resource_expired,
)
from .objects import (
    deepcopy,
    get_condition,
    get_controller_of,
    is_pod_ready,
    key,
    owner_reference,
    parse_rfc3339,
    parse_selector,
    pod_requests,
    rfc3339,
    selector_matches,
    set_condition,
    split_key,
)
from .quantity import format_quantity, milli_value, parse_quantity, value
from .resources import ResourceInfo, etcd_key, for_kind, group_kind, group_resource, lookup

_LAZY = {
    "load_manifests": "serialize",
    "to_yaml": "serialize",
    "to_json": "serialize",
    "apply_defaults": "defaults",
    "validate": "validation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "FieldError", "StatusError", "forbidden_reason", "new_already_exists", "new_bad_request", "new_conflict",
    "new_forbidden", "new_internal_error", "new_invalid", "new_not_found", "new_resource_expired",
    "deepcopy", "get_condition", "get_controller_of", "is_pod_ready", "key", "owner_reference", "parse_rfc3339",
    "parse_selector", "pod_requests", "rfc3339", "selector_matches", "set_condition", "split_key",
    "format_quantity", "milli_value", "parse_quantity", "value",
    "ResourceInfo", "etcd_key", "for_kind", "group_kind", "group_resource", "lookup",
    *_LAZY,
]
