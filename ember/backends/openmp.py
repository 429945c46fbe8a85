"""torch.backends.openmp."""

from __future__ import annotations


def is_available() -> bool:
    """False: ember's threads are its own (ops/_parallel.py), not OpenMP's."""
    return False
