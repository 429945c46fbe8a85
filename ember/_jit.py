"""Optional compiled kernels through numba (the `jit` extra): imported on first use only, so
`import ember` stays fast, and never required: every kernel is a fast path whose NumPy general
path runs when numba is missing or EMBER_JIT=0."""

from __future__ import annotations

import os
from collections.abc import Callable

_state: dict = {}


def numba_module():
    """The numba module, or None when it is not installed or EMBER_JIT=0."""
    if "numba" not in _state:
        mod = None
        if os.environ.get("EMBER_JIT", "1") != "0":
            try:
                import numba as mod
            except ImportError:
                mod = None
        _state["numba"] = mod
    return _state["numba"]


def kernels(name: str, build: Callable):
    """build(numba) once per process (numba compiles each kernel at its first call and caches
    the machine code on disk), or None without numba."""
    if name not in _state:
        nb = numba_module()
        _state[name] = None if nb is None else build(nb)
    return _state[name]
