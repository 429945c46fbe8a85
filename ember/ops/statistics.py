"""Order statistics and running reductions of torch's top level: cummax, cummin, aminmax, mode,
nanmedian, quantile, nanquantile, logcumsumexp (one Function), cov, corrcoef, trapezoid,
cumulative_trapezoid. Selected values come through `gather`, so gradients reach the chosen
elements; the rest are compositions of differentiable ops."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops import arith
from ember.ops._util import norm_dim
from ember.ops.index import gather
from ember.ops.linalg import diag, matmul
from ember.ops.reduce import _ReturnType, amax, amin, cumsum, return_types
from ember.ops.shape import movedim
from ember.ops.sort import sort

__all__ = [
    "cummax",
    "cummin",
    "aminmax",
    "mode",
    "nanmedian",
    "quantile",
    "nanquantile",
    "logcumsumexp",
    "cov",
    "corrcoef",
    "trapezoid",
    "cumulative_trapezoid",
]

for _n in ("cummax", "cummin", "nanmedian"):
    setattr(return_types, _n, type(_n, (_ReturnType,), {"_rt_name": _n}))


class _MinMax(tuple):
    """torch.return_types.aminmax: a (min, max) tuple with named fields."""

    def __new__(cls, mn, mx):
        return tuple.__new__(cls, (mn, mx))

    min = property(lambda self: self[0])
    max = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"torch.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"


return_types.aminmax = _MinMax


def _d(input, dim) -> int:
    return norm_dim(int(dim), input.ndim)[0] if input.ndim else 0


def _cum_select(input, dim, better, name):
    """Running max/min along dim with the index of the last element that set or tied it (NaN wins)."""
    a = input._data
    d = _d(input, dim)
    if a.ndim == 0:
        return getattr(return_types, name)(input * 1, Tensor._wrap(np.zeros((), np.int64)))
    acc = better.accumulate(a, axis=d)  # NaN propagates through np.maximum / np.minimum
    hit = (a == acc) | (np.isnan(a) if a.dtype.kind == "f" else False)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = np.where(hit, np.arange(a.shape[d]).reshape(shape), 0)
    idx = np.maximum.accumulate(pos, axis=d).astype(np.int64)
    return getattr(return_types, name)(gather(input, d, Tensor._wrap(idx)), Tensor._wrap(idx))


def cummax(input, dim: int, *, out=None):
    """(values, indices) of the running maximum along dim; ties take the later index."""
    return _cum_select(input, dim, np.maximum, "cummax")


def cummin(input, dim: int, *, out=None):
    """(values, indices) of the running minimum along dim; ties take the later index."""
    return _cum_select(input, dim, np.minimum, "cummin")


def aminmax(input, *, dim=None, keepdim: bool = False, out=None):
    """(min, max) over all elements or along dim."""
    if input.numel() == 0:
        raise RuntimeError(
            "aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity."
        )
    d = () if dim is None else dim
    return _MinMax(amin(input, d, keepdim), amax(input, d, keepdim))


def _rows(a: np.ndarray, d: int):
    m = np.moveaxis(a, d, -1)
    return m.reshape(-1, m.shape[-1]), m.shape[:-1]


def _pick(input, d: int, idx_rows: np.ndarray, lead, keepdim: bool, name: str):
    idx = idx_rows.reshape(*lead, 1)
    idx = np.moveaxis(idx, -1, d)
    vals = gather(input, d, Tensor._wrap(idx))
    it = Tensor._wrap(idx)
    if not keepdim:
        vals, it = vals.squeeze(d), it.squeeze(d)
    return getattr(return_types, name)(vals, it)


def mode(input, dim: int = -1, keepdim: bool = False):
    """(values, indices): the most frequent value of each slice (the smallest on ties) and the
    last position where it occurs."""
    a = input._data
    if a.ndim == 0:
        return return_types.mode(input * 1, Tensor._wrap(np.zeros((), np.int64)))
    d = _d(input, dim)
    rows, lead = _rows(a, d)
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True)
        v = vals[np.argmax(counts)]
        out[r] = np.flatnonzero(row == v)[-1]
    return _pick(input, d, out, lead, keepdim, "mode")


def nanmedian(input, dim=None, keepdim: bool = False):
    """The lower median ignoring NaN (NaN when a slice is all NaN); with dim, (values, indices)."""
    a = input._data
    if dim is None:
        flat = a.reshape(-1)
        ok = flat[~np.isnan(flat)] if flat.dtype.kind == "f" else flat
        if ok.size == 0:
            return Tensor._wrap(np.array(np.nan, dtype=a.dtype))
        order = np.argsort(
            np.where(np.isnan(flat), np.inf, flat) if flat.dtype.kind == "f" else flat, kind="stable"
        )
        k = order[(ok.size - 1) // 2]
        return input.reshape(-1)[int(k)]
    d = _d(input, dim)
    rows, lead = _rows(a, d)
    nan = np.isnan(rows) if rows.dtype.kind == "f" else np.zeros(rows.shape, bool)
    order = np.argsort(np.where(nan, np.inf, rows), axis=1, kind="stable")
    nvalid = (~nan).sum(1)
    k = np.maximum((nvalid - 1) // 2, 0)
    idx = order[np.arange(rows.shape[0]), k]
    idx = np.where(nvalid == 0, 0, idx)  # all NaN: torch reports index 0 and NaN
    return _pick(input, d, idx, lead, keepdim, "nanmedian")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    qt = q._data if isinstance(q, Tensor) else np.asarray(q, dtype=np.float64)
    if qt.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if isinstance(q, Tensor) and q.dtype is not input.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    qs = np.atleast_1d(qt).astype(np.float64)
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. Found {interpolation}"
        )
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _d(input, dim)
    if x.ndim == 0:
        x, d = x.reshape(1), 0
    if x.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    s = movedim(sort(x, d)[0], d, -1)  # (..., n), NaN last
    n = s.shape[-1]
    nan = np.isnan(np.moveaxis(x._data, d, -1))
    nvalid = (~nan).sum(-1, keepdims=True) if ignore_nan else np.full(nan.shape[:-1] + (1,), n)
    pos = qs * np.maximum(nvalid - 1, 0)  # (..., Q)
    lo, hi = np.floor(pos), np.ceil(pos)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = np.round(pos)  # half to even, as torch's round
    vlo = gather(s, -1, Tensor._wrap(lo.astype(np.int64)))
    vhi = gather(s, -1, Tensor._wrap(hi.astype(np.int64)))
    if interpolation == "midpoint":
        res = vlo + (vhi - vlo) * 0.5
    elif interpolation == "linear":
        res = vlo + (vhi - vlo) * Tensor._wrap((pos - lo).astype(s.dtype.np))
    else:
        res = vlo
    bad = (nvalid == 0) if ignore_nan else nan.any(-1, keepdims=True)
    if bad.any():
        res = arith.where(Tensor._wrap(np.broadcast_to(bad, res.shape)), res * np.nan, res)
    res = movedim(res, -1, 0)  # (Q, ...)
    if keepdim:
        if dim is None:
            res = res.reshape(res.shape[0], *([1] * input.ndim))
        else:
            res = res.unsqueeze(d + 1)
    if not (isinstance(q, Tensor) and q.ndim == 1):
        res = res.squeeze(0)
    return res


def quantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear", out=None) -> Tensor:
    """q-th quantiles along dim (of all elements when dim is None); NaN where a slice has NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(
    input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear", out=None
) -> Tensor:
    """quantile over the non-NaN elements (NaN where a slice has none)."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _rev_logcumsumexp(a: np.ndarray, d: int) -> np.ndarray:
    return np.flip(np.logaddexp.accumulate(np.flip(a, d), axis=d), d)


class LogCumSumExp(Function):
    # y_j = log sum_{i<=j} e^{x_i};  dx_i = sum_{j>=i} g_j e^{x_i - y_j}, summed in log space for
    # the positive and the negative parts of g separately: e^{x_i + revlogcumsumexp(log g± - y)}
    _name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, x, d):
        y = np.logaddexp.accumulate(x, axis=d) if x.ndim else x.copy()
        ctx.save_for_backward(x, y)
        ctx.d = d
        return y

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through logcumsumexp is not supported in ember")
        x, y = ctx.saved
        if x.ndim == 0:
            return g, None
        d = ctx.d
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.exp(x + _rev_logcumsumexp(np.log(np.where(g > 0, g, 0)) - y, d))
            neg = np.exp(x + _rev_logcumsumexp(np.log(np.where(g < 0, -g, 0)) - y, d))
        return (pos - neg).astype(x.dtype), None


def logcumsumexp(input, dim: int, *, out=None) -> Tensor:
    """log(cumsum(exp(x))) along dim, computed stably as a running logaddexp."""
    x = input if input.dtype.is_floating_point else input.float()
    return LogCumSumExp.apply(x, _d(x, dim))


def cov(input, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the rows (variables) over the columns (observations), with frequency and
    observation weights: sum_k w_k (x_ik - m_i)(x_jk - m_j) / (sum w - correction * ...)."""
    if input.ndim > 2:
        raise RuntimeError(
            f"cov(): expected input to have two or fewer dimensions but got an input with {input.ndim} dimensions"
        )
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        x = x.float()
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        avg = x.mean(1, keepdim=True)
        norm = n - correction
        xm = x - avg
        c = matmul(xm, xm.t().conj() if x.dtype.is_complex else xm.t()) / max(norm, 0)
    else:
        wsum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / wsum
        if aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
        xm = x - avg
        c = matmul(xm * w, xm.t()) / arith.clamp(norm, min=0)
    return c.squeeze() if input.ndim < 2 else c


def corrcoef(input) -> Tensor:
    """Pearson correlation of the rows: cov / (std_i std_j), clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    sd = arith.sqrt(diag(c))
    c = c / sd.unsqueeze(1) / sd.unsqueeze(0)
    return arith.clamp(c, -1, 1) if not c.dtype.is_complex else c


def _trapz_terms(y, x, dx, dim):
    d = _d(y, dim)
    n = y.shape[d]
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) if n > 1 else None
    if x is None:
        return mid, (1.0 if dx is None else dx), d
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(
                f"trapezoid: There must be one `x` value for each sample point, but got {x.shape[0]} x values "
                f"and {n} sample points"
            )
        shape = [1] * y.ndim
        shape[d] = n - 1
        dxs = (x[1:] - x[:-1]).reshape(shape)
    else:
        xd = _d(x, dim)
        dxs = x.narrow(xd, 1, x.shape[xd] - 1) - x.narrow(xd, 0, x.shape[xd] - 1)
    return mid, dxs, d


def trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The trapezoid rule along dim: sum (y_i + y_{i+1}) / 2 * dx_i."""
    mid, dxs, d = _trapz_terms(y, x, dx, dim)
    if mid is None:
        return (y * 0).sum(d)
    return (mid * dxs).sum(d) / 2


def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running trapezoid sums along dim (one element shorter than y)."""
    mid, dxs, d = _trapz_terms(y, x, dx, dim)
    if mid is None:
        return y.narrow(d, 0, 0) * 0
    return cumsum(mid * dxs, d) / 2
