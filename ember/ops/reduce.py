"""Reductions. Gradients broadcast back over the reduced dims."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.autograd.function import Function
from ember.ops._util import norm_dim


def _expand_back(g, shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input `shape`."""
    if axes is not None and not keepdims:
        g = g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
    elif axes is None and not keepdims:
        g = g.reshape((1,) * len(shape))
    return of(g).broadcast_to(g, shape)


class Sum(Function):
    # d sum(a) = 1 (gradient broadcast back over the summed dims)
    @staticmethod
    def forward(ctx, a, axes, keepdims, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        return of(a).sum(a, axis=axes, keepdims=keepdims, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims), None, None, None


class Mean(Function):
    # d mean(a) = 1/N
    @staticmethod
    def forward(ctx, a, axes, keepdims, dtype=None):
        if a.dtype.kind in "biu" and dtype is None:
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating point "
                f"or complex dtype. Got: {_name(a.dtype)}"
            )
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        ctx.n = n
        out = of(a).mean(a, axis=axes, keepdims=keepdims, dtype=dtype)
        return out

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / ctx.n, ctx.shape, ctx.axes, ctx.keepdims), None, None, None


def _name(npdt) -> str:
    return {"int64": "Long", "int32": "Int", "bool": "Bool", "uint8": "Byte", "int16": "Short",
            "int8": "Char"}.get(np.dtype(npdt).name, str(npdt))


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """torch.sum"""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    axes = norm_dim(dim, input.ndim) if dim is not None and dim != () and dim != [] else None
    return Sum.apply(input, axes, keepdim, None if dtype is None else _np(dtype))


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """torch.mean"""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    axes = norm_dim(dim, input.ndim) if dim is not None and dim != () and dim != [] else None
    return Mean.apply(input, axes, keepdim, None if dtype is None else _np(dtype))


def _np(dtype):
    from ember._dtype import to_dtype

    return to_dtype(dtype).np


__all__ = ["sum", "mean"]
