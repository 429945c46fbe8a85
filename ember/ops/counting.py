"""Counting and searching (no gradients: integer or set-valued results): unique,
unique_consecutive, bincount, histc, bucketize, searchsorted, isin, tril_indices, triu_indices."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._dtype import int64, to_dtype
from ember._tensor import Tensor

__all__ = [
    "unique",
    "unique_consecutive",
    "bincount",
    "histc",
    "bucketize",
    "searchsorted",
    "isin",
    "tril_indices",
    "triu_indices",
]


def _arr(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _wrap(a, dtype=None) -> Tensor:
    return Tensor._wrap(a if dtype is None else a.astype(dtype, copy=False))


def _results(vals, inv, counts, return_inverse: bool, return_counts: bool):
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv, np.int64))
    if return_counts:
        out.append(_wrap(counts, np.int64))
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (ascending; torch's CPU kernel sorts whatever `sorted` says), the
    inverse indices shaped as the input (or along `dim`), and the counts."""
    a = input._data
    xp = of(a)
    if dim is None:
        vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        return _results(vals, inv.reshape(a.shape), counts, return_inverse, return_counts)
    d = dim % a.ndim if a.ndim else 0
    vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
    return _results(vals, inv.reshape(-1), counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse runs of equal values (or equal slices along `dim`)."""
    a = input._data
    xp = of(a)
    flat = dim is None
    b = a.reshape(-1) if flat else xp.moveaxis(a, dim % a.ndim, 0)
    n = b.shape[0]
    if n == 0:
        starts = xp.zeros(0, dtype=np.int64)
    else:
        same = (b[1:] == b[:-1]).reshape(n - 1, -1).all(axis=1)
        starts = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.flatnonzero(~same) + 1])
    vals = b[starts]
    if not flat:
        vals = xp.moveaxis(vals, 0, dim % a.ndim)
    inv = xp.cumsum(xp.isin(xp.arange(n), starts)) - 1
    counts = xp.diff(xp.concatenate([starts, xp.array([n])]))
    return _results(vals, inv.reshape(a.shape) if flat else inv, counts, return_inverse, return_counts)


def bincount(input, weights=None, minlength: int = 0):
    """Counts of each non-negative integer of a 1-d tensor (summed weights when given)."""
    a = input._data
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = of(a)
    if weights is None:
        return _wrap(xp.bincount(a, minlength=minlength), np.int64)
    w = weights._data
    if w.shape != a.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    out_dt = w.dtype if w.dtype.kind == "f" else np.float64
    return _wrap(xp.bincount(a, weights=w.astype(np.float64), minlength=minlength), out_dt)


def histc(input, bins: int = 100, min: float = 0, max: float = 0, *, out=None):
    """Equal-width histogram over [min, max] (the data's range when min == max); elements outside
    are ignored, the last bin includes max."""
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.dtype.scalar_name}'")
    if bins <= 0:
        raise RuntimeError("torch.histc(): bins must be > 0, but got " + str(bins) + " for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc(): max must be larger than min, but got min {lo} max {hi}")
    counts, _ = np.histogram(a.reshape(-1), bins=bins, range=(lo, hi))
    return _wrap(counts, a.dtype)


def _side(right: bool, side) -> str:
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                "right was True"
            )
        return side
    return "right" if right else "left"


def searchsorted(
    sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None, sorter=None
):
    """Insertion points of `input` in `sorted_sequence` along its last dim ('left': first index with
    seq[i] >= v; 'right': first with seq[i] > v); a 1-d sequence serves every value."""
    seq = sorted_sequence._data
    scalar = not isinstance(input, Tensor)
    v = np.asarray(input, dtype=seq.dtype) if scalar else input._data
    s = _side(right, side)
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, axis=-1)
    if seq.ndim == 1:
        res = np.searchsorted(seq, v, side=s)
    else:
        if scalar or seq.shape[:-1] != v.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
                f"{list(seq.shape)} and input value tensor {list(v.shape)}"
            )
        s2, v2 = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        res = np.stack([np.searchsorted(r, q, side=s) for r, q in zip(s2, v2)]).reshape(v.shape)
    return _wrap(np.asarray(res), np.int32 if out_int32 else np.int64)


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False, out=None):
    """Bucket of each value: i with boundaries[i-1] < v <= boundaries[i] (right=False), or
    boundaries[i-1] <= v < boundaries[i] (right=True); boundaries is 1-d."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Boolean tensor shaped as `elements`: whether each is in `test_elements`."""
    e, t = _arr(elements), _arr(test_elements)
    return _wrap(np.isin(e, t, assume_unique=assume_unique, invert=invert))


def _tri_indices(fn, row: int, col: int, offset: int, dtype) -> Tensor:
    d = int64 if dtype is None else to_dtype(dtype)
    r, c = fn(row, offset, col) if row > 0 and col > 0 else (np.zeros(0), np.zeros(0))
    return _wrap(np.stack([r, c]).astype(d.np))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N (row, column) coordinates of the lower triangle, row by row."""
    return _tri_indices(np.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N (row, column) coordinates of the upper triangle, row by row."""
    return _tri_indices(np.triu_indices, row, col, offset, dtype)
