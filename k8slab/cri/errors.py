"""Mirrors: google.golang.org/grpc/status (the error a CRI call returns, as the kubelet's client prints it).

A CRI call that fails returns a gRPC status: a code (``NotFound``, ``Unknown``...) and a message from the runtime.
The kubelet's events quote it whole: ``rpc error: code = NotFound desc = ...``.
"""

from __future__ import annotations


class CRIError(Exception):
    """A failed CRI call; ``code`` is the gRPC status code name (``NotFound``, ``Unknown``...)."""

    def __init__(self, message: str, code: str = "Unknown") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        """The error as the kubelet's gRPC client prints it (status.Error's text)."""
        return f"rpc error: code = {self.code} desc = {self.message}"
