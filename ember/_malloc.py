"""glibc's allocator, set once at import so freed NumPy buffers stay mapped for reuse.

By default glibc returns large freed blocks to the kernel (munmap, or trimming the heap top)
and the next array of the same size faults its pages in again: thousands of minor page faults
per training step of a char-LSTM or a Transformer (docs/performance.md). M_MMAP_THRESHOLD =
32 MB serves smaller arrays from the heap and M_TRIM_THRESHOLD = 256 MB keeps up to that much
freed memory for the next step. Skipped when the user set either MALLOC_* variable, when
EMBER_MALLOC=0, or off glibc."""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
TRIM_BYTES = 256 << 20
MMAP_BYTES = 32 << 20


def configure() -> bool:
    """Apply the two settings; True when they were applied."""
    env = os.environ
    if env.get("EMBER_MALLOC") == "0" or "MALLOC_TRIM_THRESHOLD_" in env or "MALLOC_MMAP_THRESHOLD_" in env:
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
