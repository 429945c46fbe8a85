"""A tensor's memory as the contiguous NumPy buffer an MPI call reads or writes."""

from __future__ import annotations

import numpy as np

import ember
from ember.distributed.reduce_op import divide


class TensorBuffer:
    """A tensor's memory as a contiguous NumPy buffer for MPI; `done()` writes it back (when it
    had to be a copy) and bumps the tensor's version, as torch's in-place collectives do."""

    __slots__ = ("t", "arr", "copy")

    def __init__(self, t, what: str, read_only: bool = False) -> None:
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"ember.distributed.{what}: expected a Tensor, got {type(t).__name__}")
        if t.is_cuda:
            raise RuntimeError(
                f"ember.distributed.{what}: CUDA tensors need the nccl backend (not yet in ember)"
            )
        if t._batch_last:
            t.detach()  # shows the memory, so a batch-last tensor becomes NCHW-contiguous first
        d = t._data
        self.t = t
        self.copy = (
            not d.flags.c_contiguous or (not read_only and not d.flags.writeable) or d.dtype == np.float16
        )
        self.arr = np.ascontiguousarray(d, dtype=np.float32 if d.dtype == np.float16 else d.dtype)
        if self.copy and self.arr is d:
            self.arr = d.copy()

    def done(self, avg_over: int = 0) -> None:
        if avg_over:
            divide(self.arr, avg_over)
        if self.copy:
            self.t._data[...] = self.arr
        self.t._bump()
