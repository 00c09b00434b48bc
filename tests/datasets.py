"""Small synthetic datasets shared by the tests (cached per session; never modified by tests)."""

from __future__ import annotations

from functools import cache

from casework import synth


@cache
def small(scenario: str = "gelsenkirchen", seed: int = 1, persons: int = 3000):
    """An in-memory synthetic dataset (cached: treat as read-only)."""
    return synth.generate(scenario, seed=seed, persons=persons)
