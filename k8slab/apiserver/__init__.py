"""Mirrors: cmd/kube-apiserver and staging/src/k8s.io/apiserver: the API server, its authentication,
authorization (Node, RBAC) and admission stages, and its storage in etcd."""

from .authn import Credentials, UserInfo
from .server import APIServer, WatchRegistration

__all__ = ["APIServer", "Credentials", "UserInfo", "WatchRegistration"]
