"""Mirrors: coredns/coredns plugin/kubernetes: the cluster DNS add-on."""

from .coredns import CoreDNS, Lookup, resolv_conf, search_candidates

__all__ = ["CoreDNS", "Lookup", "resolv_conf", "search_candidates"]
