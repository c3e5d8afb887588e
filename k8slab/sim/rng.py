"""Mirrors: (no upstream file) deterministic randomness for simulated components.

Real components draw from Go's ``math/rand``; here each component owns a ``random.Random`` seeded from the cluster
seed and the component's name, so one component's draws never shift another's and a run is reproducible.
"""

from __future__ import annotations

import hashlib
import random


def component_rng(seed: int, name: str) -> random.Random:
    """Return a ``random.Random`` that depends only on ``(seed, name)``."""
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
