"""torch.backends.mps: Apple's Metal backend, which ember does not have."""

from __future__ import annotations


def is_available() -> bool:
    """False: ember runs on NumPy (CPU) and CuPy (CUDA) only."""
    return False


def is_built() -> bool:
    """False: ember is not built with MPS."""
    return False


def is_macos_or_newer(major: int, minor: int) -> bool:
    """False without MPS (torch answers False when MPS is unavailable)."""
    return False


def is_macos13_or_newer(minor: int = 0) -> bool:
    """False without MPS."""
    return False
