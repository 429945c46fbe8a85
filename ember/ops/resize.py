"""Tensor.resize_: torch's storage semantics on a NumPy array. The new shape is laid out
contiguously from the tensor's storage offset; while it fits in the array that owns the memory
(the "storage") the tensor stays a view of it, so shrinking keeps the storage and growing back
within it sees the old values, as in torch. Growing past the storage allocates a new one with the
old elements first and the rest uninitialised (torch's rule), which other views of the old
storage no longer share (torch would reallocate the shared storage; a NumPy array cannot grow
in place), so a view cannot grow past its storage (RuntimeError)."""

from __future__ import annotations

import math

import numpy as np

from ember import _backend
from ember._tensor import Tensor


def _shape(sizes) -> tuple:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(
                f"resize_(): argument 'size' (position 1) must be tuple of ints, not {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError("numel: integer multiplication overflow")
    return tuple(int(s) for s in sizes)


def resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = _shape(sizes)
    d = self._data
    if tuple(d.shape) == shape:  # torch keeps the strides then
        self._bump()
        return self
    n = math.prod(shape)
    owner = d if d.base is None else d.base
    if type(d) is np.ndarray and type(owner) is np.ndarray and owner.flags.c_contiguous and owner.size:
        offset = (d.__array_interface__["data"][0] - owner.__array_interface__["data"][0]) // d.itemsize
        flat = owner.reshape(-1).view(d.dtype) if owner.dtype == d.dtype else None
        if flat is not None and 0 <= offset and offset + n <= flat.size:
            self._data = flat[offset : offset + n].reshape(shape)
            self._bump()
            return self
    if self._base is not None:
        raise RuntimeError(
            "ember: resize_ cannot grow a view past its storage (NumPy arrays cannot grow in place); "
            "resize the base tensor or a clone"
        )
    xp = _backend.of(d)
    new = xp.empty(n, dtype=d.dtype)
    k = min(n, d.size)
    new[:k] = d.reshape(-1)[:k]  # storage order of a contiguous tensor (torch's element order)
    self._data = new.reshape(shape)
    self._bump()
    return self


__all__ = ["resize_"]
