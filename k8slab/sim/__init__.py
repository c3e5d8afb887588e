"""Mirrors: (no single upstream file) the simulation kernel under every k8slab component.

A virtual clock in integer milliseconds, one event heap ordered by ``(time, sequence)``, per-component seeded
random number generators, and the trace that every step appends to.
"""

from .loop import Loop, Timer
from .rng import component_rng
from .trace import Trace, TraceEvent

__all__ = ["Loop", "Timer", "Trace", "TraceEvent", "component_rng"]
