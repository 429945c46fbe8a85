"""Copies between dtypes, devices and layouts: `Tensor.to`, `clone`, `copy_`."""

from __future__ import annotations

import numpy as np

from ember import _backend, _dtype
from ember._dtype import dtype as _dt
from ember._memory_format import is_format, preserve_format
from ember._tensor import Tensor
from ember.graph.grad_mode import _state as _grad_enabled
from ember.ops.inplace import broadcast_shape, check_inplace, write_inplace
from ember.ops.pointwise import Add, Clone, Mul, ToCopy


def to(self: Tensor, *args, **kwargs) -> Tensor:
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    fmt = kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {list(kwargs)}")
    if fmt is not None and fmt is not preserve_format and not is_format(self._data, fmt):
        return clone(self, memory_format=fmt).to(*args, dtype=dtype, device=device, copy=False)
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (_dt, type)) or (hasattr(a, "is_floating_point") and not isinstance(a, str)):
            dtype = a
        elif isinstance(a, (str, _backend.device, int)):
            device = a
        elif a is not None:
            dtype = a
    dt = None if dtype is None else _dtype.to_dtype(dtype)
    dev = None if device is None else _backend.to_device(device)
    if (dt is None or dt is self.dtype) and (dev is None or dev == self.device) and not copy:
        return self
    if dt is not None and not (dt.is_floating_point or dt.is_complex):
        return ToCopy.apply(self.detach(), dt, dev)  # integer tensors never require grad (torch)
    return ToCopy.apply(self, dt, dev)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    return Clone.apply(input, memory_format=memory_format)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy src into this tensor's storage (broadcast, dtype converted); differentiable."""
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    if broadcast_shape(src._data.shape, self._data.shape) != self._data.shape:
        raise RuntimeError(
            f"The size of tensor a ({self._data.shape[-1] if self._data.ndim else 1}) must match the size of "
            f"tensor b ({src._data.shape[-1] if src._data.ndim else 1}) at non-singleton dimension {max(self._data.ndim - 1, 0)}"
        )
    if _grad_enabled[0] and src._requires_grad:
        moved = (
            ToCopy.apply(src, self.dtype, self.device)
            if (src.dtype is not self.dtype or src.device != self.device)
            else src
        )
        if moved._data.shape != self._data.shape:
            res = Add.apply(Mul.apply(moved, 1), Mul.apply(self.detach(), 0))
        else:
            res = Mul.apply(moved, 1)
        return write_inplace(self, res)
    check_inplace(self)
    data = src._data
    if _backend.device_of(data) != self.device:
        data = _backend.to_numpy(data) if self.device.type == "cpu" else _backend.cupy().asarray(data)
    self._data[...] = data
    self._bump()
    return self
