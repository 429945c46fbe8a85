"""Sorting and selection: sort, argsort, topk, kthvalue, msort. Gradients flow back to the
selected positions (each index appears once along the dim, so a plain put suffices)."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import norm_dim
from ember.ops.index import scatter
from ember.ops.reduce import return_types


class GatherAlong(Function):
    # y = take_along_axis(a, idx, dim);  dx = zeros with dx[idx] = dy (indices unique along dim)
    @staticmethod
    def forward(ctx, a, idx, dim):
        ctx.shape, ctx.dim, ctx.idx = a.shape, dim, idx
        return of(a).take_along_axis(a, idx, dim)

    @staticmethod
    def backward(ctx, g):
        if hasattr(g, "_data"):  # create_graph: scatter through the differentiable op
            return scatter(g.new_zeros(ctx.shape), ctx.dim, Tensor._wrap(ctx.idx), g), None, None
        out = of(g).zeros(ctx.shape, dtype=g.dtype)
        of(g).put_along_axis(out, ctx.idx, g, ctx.dim)
        return out, None, None


class SortBackward(GatherAlong):
    _name = "SortBackward0"


class TopkBackward(GatherAlong):
    _name = "TopkBackward0"


class KthvalueBackward(GatherAlong):
    _name = "KthvalueBackward0"


def _order(a, dim: int, descending: bool, stable: bool):
    """Indices that sort `a` along dim; NaN sorts as the largest value, as in torch."""
    xp = of(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable" if stable else None)
    if a.dtype.kind == "f":
        # descending and stable: sort the negation (NaN stays largest -> first)
        key = xp.where(xp.isnan(a), -xp.inf, -a)
        return xp.argsort(key, axis=dim, kind="stable")
    if a.dtype == np.bool_:
        return xp.argsort(~a, axis=dim, kind="stable")
    return xp.argsort(-a.astype(np.int64) if a.dtype.kind == "u" else -a, axis=dim, kind="stable")


def _dim(input, dim) -> int:
    return norm_dim(int(dim), input.ndim)[0] if input.ndim else 0


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False, *, out=None):
    """torch.sort: (values, indices) along dim."""
    if input.ndim == 0:
        return return_types.sort(input.clone(), Tensor._wrap(np.zeros((), np.int64)))
    d = _dim(input, dim)
    idx = _order(input._data, d, descending, stable).astype(np.int64)
    return return_types.sort(SortBackward.apply(input, idx, d), Tensor._wrap(idx))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """torch.argsort"""
    if input.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(_order(input._data, _dim(input, dim), descending, stable).astype(np.int64))


def msort(input):
    return sort(input, 0)[0]


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, out=None):
    """torch.topk: the k largest (or smallest) values along dim and their indices."""
    d = _dim(input, dim)
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if input.ndim == 0:
        return return_types.topk(input.clone(), Tensor._wrap(np.zeros((), np.int64)))
    order = _order(input._data, d, largest, True).astype(np.int64)
    idx = of(order).take(order, np.arange(k), axis=d)
    return return_types.topk(TopkBackward.apply(input, idx, d), Tensor._wrap(idx))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """torch.kthvalue: the k-th smallest value (1-based) along dim and its index."""
    d = _dim(input, dim)
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if input.ndim == 0:
        return return_types.kthvalue(input.clone(), Tensor._wrap(np.zeros((), np.int64)))
    order = _order(input._data, d, False, True).astype(np.int64)
    idx = of(order).take(order, [k - 1], axis=d)
    vals = KthvalueBackward.apply(input, idx, d)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return return_types.kthvalue(vals, Tensor._wrap(idx))


def _bind() -> None:
    Tensor.sort = sort
    Tensor.argsort = argsort
    Tensor.msort = msort
    Tensor.topk = topk
    Tensor.kthvalue = kthvalue


_bind()

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue"]
