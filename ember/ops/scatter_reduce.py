"""Tensor.scatter_reduce / torch.scatter_reduce: reduce src into self at index along dim with
'sum', 'prod', 'mean', 'amax' or 'amin' (include_self chooses whether self's values join the
reduction where something lands). One Function; the gradients are torch's: amax/amin share
the gradient evenly among the tied maxima (self included), mean divides by the count."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops.index import _gather_key, _src

__all__ = ["scatter_reduce"]

_UFUNC = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _identity(reduce: str, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    return (info.min if reduce == "amax" else info.max) if info else (reduce == "amin")


class ScatterReduce(Function):
    # out = self (or the reduction's identity where src lands, include_self=False) reduced with
    # src at index.  sum: dself = g, dsrc = g[idx];  mean: both / count;  prod: g * out / x;
    # amax/amin: g / (number of ties) to each input equal to the result
    _name = "ScatterReduceBackward0"

    @staticmethod
    def forward(ctx, x, key, src, reduce, include_self):
        xp = of(x)
        out = x.copy()
        hit = xp.zeros(x.shape, dtype=bool)
        hit[key] = True
        if not include_self:
            out[hit] = _identity(reduce, x.dtype)
        _UFUNC[reduce].at(out, key, src)
        count = None
        if reduce == "mean":
            count = xp.zeros(x.shape, dtype=x.dtype)
            np.add.at(count, key, 1)
            if include_self:
                count += 1
            count = xp.where(hit, count, 1)
            if x.dtype.kind == "f":
                out = out / count
            else:
                out = out // count
        ctx.save_for_backward(x, src, out, hit, count)
        ctx.key, ctx.reduce, ctx.include_self = key, reduce, include_self
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through scatter_reduce is not supported in ember")
        x, src, out, hit, count = ctx.saved
        key, reduce, inc = ctx.key, ctx.reduce, ctx.include_self
        xp = of(g)
        keep = xp.where(hit, 1 if inc else 0, 1).astype(g.dtype)
        if reduce == "sum":
            return g * keep, None, g[key], None, None
        if reduce == "mean":
            gm = g / count
            return xp.where(hit, gm if inc else 0, g).astype(g.dtype), None, gm[key], None, None
        if reduce == "prod":
            if (inc and bool((x[hit] == 0).any())) or bool((src == 0).any()):
                raise RuntimeError(
                    "scatter_reduce(reduce='prod') backward with zeros is not supported in ember"
                )
            with np.errstate(divide="ignore", invalid="ignore"):
                gx = xp.where(hit, (g * out / x) if inc else 0, g)
            return gx.astype(g.dtype), None, (g * out)[key] / src, None, None
        # amax / amin: share among ties; self counts as a tie wherever it equals the result, even
        # with include_self=False (torch's formula), but then receives nothing
        tie_self = hit & (x == out)
        ties = tie_self.astype(g.dtype)
        tie_src = src == out[key]
        np.add.at(ties, key, tie_src.astype(g.dtype))
        ties = xp.where(hit, xp.maximum(ties, 1), 1)
        gs = g / ties
        gx = xp.where(hit, xp.where(tie_self & inc, gs, 0), g)
        return gx.astype(g.dtype), None, xp.where(tie_src, gs[key], 0).astype(g.dtype), None, None


def scatter_reduce(
    input, dim: int, index, src, reduce: str, *, include_self: bool = True, out=None
) -> Tensor:
    """out[index[i][j]][j] = reduce(out[...], src[i][j]) along dim (dim = 0 shown)."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # torch accepts these spellings too
    if reduce not in _UFUNC:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    key, shape = _gather_key(input, dim, index, "scatter_reduce")
    v = _src(src, shape, input)
    if not key:
        key = (Ellipsis,)
    return ScatterReduce.apply(input, key, v, reduce, include_self)
