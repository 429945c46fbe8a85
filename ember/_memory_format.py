"""torch.memory_format: contiguous_format, preserve_format, channels_last, channels_last_3d.

A format is an order of the axes in memory (outermost first); channels_last stores NCHW
tensors as NHWC. ember keeps NumPy arrays in whatever strides a format asks for, and
elementwise NumPy ops keep their input's layout, as torch's do."""

from __future__ import annotations

import numpy as np


class memory_format:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __reduce__(self):
        return self._name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

_RANK = {channels_last: 4, channels_last_3d: 5}


def axis_order(fmt, ndim: int) -> tuple[int, ...] | None:
    """Memory order of the axes for an explicit format (None for contiguous/None)."""
    if fmt is None or fmt is contiguous_format:
        return None
    if fmt in _RANK:
        if ndim != _RANK[fmt]:
            raise RuntimeError(f"required rank {_RANK[fmt]} tensor to use {fmt._name} format")
        return (0,) + tuple(range(2, ndim)) + (1,)
    if not isinstance(fmt, memory_format):
        raise TypeError(f"memory_format must be a torch.memory_format, got {type(fmt).__name__}")
    raise RuntimeError(f"{fmt!r} is not supported here")


def is_format(a, fmt) -> bool:
    """Tensor.is_contiguous(memory_format=fmt) on the array's strides."""
    order = axis_order(fmt, a.ndim)
    if order is None:
        return bool(a.flags.c_contiguous)
    return bool(a.transpose(order).flags.c_contiguous)


def copy_as(a, fmt):
    """A copy of `a` laid out in `fmt`; preserve_format keeps a dense input's stride order."""
    if fmt is preserve_format or fmt is None:
        return a.copy(order="K")
    order = axis_order(fmt, a.ndim)
    if order is None:
        return a.copy(order="C")
    inv = tuple(int(i) for i in np.argsort(order))
    return a.transpose(order).copy().transpose(inv)
