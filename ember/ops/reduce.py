"""Reductions. Gradients broadcast back over the reduced dims."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype
from ember._backend import of
from ember._dtype import to_dtype
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import array_result, norm_dim
from ember.ops.arith import abs as _abs
from ember.ops.arith import maximum, minimum, where
from ember.ops.compare import isnan
from ember.ops.out import write_out

_add_reduce = np.add.reduce


def _expand_back(g, shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input `shape`."""
    if axes is None and type(g) is np.ndarray:  # full reduction: cheaper than np.full/broadcast_to
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    if axes is not None and not keepdims:
        g = g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
    elif axes is None and not keepdims:
        g = g.reshape((1,) * len(shape))
    if type(g) is np.ndarray:
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return of(g).broadcast_to(g, shape)


class Sum(Function):
    # d sum(a) = 1 (gradient broadcast back over the summed dims)
    @staticmethod
    def forward(ctx, a, axes, keepdims=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        if type(a) is np.ndarray:  # np.add.reduce skips ndarray.sum's Python wrapper (~1 us)
            out = _add_reduce(a, axes, dtype, None, keepdims)
            return out if type(out) is np.ndarray else np.asarray(out)
        return a.sum(axis=axes, keepdims=keepdims, dtype=dtype)

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
                f"or complex dtype. Got: {_dtype.from_np(a.dtype).scalar_name}"
            )
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        ctx.n = n
        out = of(a).mean(a, axis=axes, keepdims=keepdims, dtype=dtype)
        return out

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / ctx.n, ctx.shape, ctx.axes, ctx.keepdims), None, None, None


class Prod(Function):
    # d prod(a) = prod(a) / a_i  (product of the other elements; exact when a has zeros)
    @staticmethod
    def forward(ctx, a, axes, keepdims, dtype=None):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        out = array_result(of(a).prod(a, axis=axes, keepdims=keepdims, dtype=dtype))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        ge = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        if not hasattr(a, "_data") and (a == 0).any():
            return ge * _prod_others(a, ctx.axes), None, None, None
        return ge * _expand_back(out, ctx.shape, ctx.axes, ctx.keepdims) / a, None, None, None


class MeanDim(Mean):
    _name = "MeanBackward1"


class ProdDim(Prod):
    _name = "ProdBackward1"


class SumDim(Sum):
    _name = "SumBackward1"


def _prod_others(a, axes):
    """For every element, the product of the other elements in its reduction group (raw arrays)."""
    xp = of(a)
    axes = tuple(range(a.ndim)) if axes is None else axes
    rest = tuple(i for i in range(a.ndim) if i not in axes)
    t = xp.transpose(a, rest + axes)
    flat = t.reshape(t.shape[: len(rest)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
    left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], -1), -1)
    right = xp.flip(xp.cumprod(xp.flip(xp.concatenate([flat[..., 1:], ones], -1), -1), -1), -1)
    res = (left * right).reshape(t.shape)
    return xp.transpose(res, tuple(np.argsort(rest + axes)))


class Amax(Function):
    # d max(a) = [a == max] / count(a == max)  (ties share the gradient)
    _np = "max"

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        out = array_result(getattr(of(a), ctx._np)(a, axis=axes, keepdims=keepdims))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        mask = a == _expand_back(out, ctx.shape, ctx.axes, ctx.keepdims)
        cnt = of(mask).sum(mask, axis=ctx.axes, keepdims=True)
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims) * mask / cnt, None, None


class Amin(Amax):
    _np = "min"


class NormMax(Amax):
    _name = "LinalgVectorNormBackward0"


class NormMin(Amin):
    _name = "LinalgVectorNormBackward0"


class MaxAll(Amax):
    _name = "MaxBackward1"


class MinAll(Amin):
    _name = "MinBackward1"


class TakeAlong(Function):
    # d a[idx] along dim = grad scattered back to idx (max/min/median with dim)
    @staticmethod
    def forward(ctx, a, dim, keepdim, idx):
        xp = of(a)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, (dim,), keepdim
        r = xp.arange(a.shape[dim]).reshape(tuple(-1 if i == dim else 1 for i in range(a.ndim)))
        ctx.mask = r == idx
        out = xp.take_along_axis(a, idx, dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        ge = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        return of(ge).where(ctx.mask, ge, 0.0), None, None, None


class MaxDim(TakeAlong):
    _name = "MaxBackward0"


class MinDim(TakeAlong):
    _name = "MinBackward0"


class MedianDim(TakeAlong):
    _name = "MedianBackward1"


class MedianAll(TakeAlong):
    _name = "MedianBackward0"


class Var(Function):
    # d var(a) = 2 (a - mean(a)) / (N - correction)
    @staticmethod
    def forward(ctx, a, axes, correction, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.n = _count(a.shape, axes) - correction
        ctx.save_for_backward(a)
        return of(a).var(a, axis=axes, ddof=correction, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        c = a - of(a).mean(a, axis=ctx.axes, keepdims=True)
        scale = 2.0 / ctx.n if ctx.n > 0 else float("nan")  # torch: nan gradient when N <= correction
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims) * c * scale, None, None, None


class Std(Function):
    # d std(a) = (a - mean(a)) / ((N - correction) std(a))
    @staticmethod
    def forward(ctx, a, axes, correction, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.n = _count(a.shape, axes) - correction
        out = array_result(of(a).std(a, axis=axes, ddof=correction, keepdims=keepdims))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        c = a - of(a).mean(a, axis=ctx.axes, keepdims=True)
        d = _expand_back(g / (out * ctx.n), ctx.shape, ctx.axes, ctx.keepdims)
        return d * c, None, None, None


class Norm(Function):
    # d ||a||_p = sign(a) |a|^(p-1) / ||a||^(p-1)   (p = 2: a / ||a||, zero at a = 0)
    _name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, p, axes, keepdims):
        xp = of(a)
        ctx.shape, ctx.axes, ctx.keepdims, ctx.p = a.shape, axes, keepdims, p
        if p == 2:
            out = xp.sqrt(xp.sum(a * a, axis=axes, keepdims=keepdims))
        elif p == 1:
            out = xp.sum(xp.abs(a), axis=axes, keepdims=keepdims)
        else:
            out = xp.sum(xp.abs(a) ** p, axis=axes, keepdims=keepdims) ** (1.0 / p)
        out = array_result(out)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        p = ctx.p
        xp = of(a)
        ge = _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims)
        if p == 1:
            return ge * xp.sign(a), None, None, None
        o = _expand_back(out, ctx.shape, ctx.axes, ctx.keepdims)
        safe = xp.where(o == 0, 1.0, o)
        if p == 2:
            return xp.where(o == 0, 0.0, ge * a / safe), None, None, None
        r = xp.sign(a) * xp.abs(a) ** (p - 1) / safe ** (p - 1)
        return xp.where(o == 0, 0.0, ge * r), None, None, None


class LogSumExp(Function):
    # d logsumexp(a) = exp(a - logsumexp(a))  (softmax)
    _name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        xp = of(a)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        m = xp.max(a, axis=axes, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.sum(xp.exp(a - m), axis=axes, keepdims=True)) + m
        if not keepdims:
            out = out.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))
        out = array_result(out)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        o = _expand_back(out, ctx.shape, ctx.axes, ctx.keepdims)
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdims) * of(a).exp(a - o), None, None


class Cumsum(Function):
    # d cumsum(a)_j / d a_i = [i <= j]  -> gradient is the reversed cumulative sum of grad
    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        ctx.dim = dim
        return of(a).cumsum(a, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        d = ctx.dim
        xp = of(g)
        return xp.sum(g, axis=d, keepdims=True) - xp.cumsum(g, axis=d) + g, None, None


class Cumprod(Function):
    # d cumprod(a)_j / d a_i = [i <= j] cumprod(a)_j / a_i
    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        ctx.dim = dim
        out = array_result(of(a).cumprod(a, axis=dim, dtype=dtype))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        d = ctx.dim
        if not hasattr(a, "_data") and (a == 0).any():
            return _cumprod_grad_zeros(a, g, d), None, None
        xp = of(g)
        go = g * out
        return (xp.sum(go, axis=d, keepdims=True) - xp.cumsum(go, axis=d) + go) / a, None, None


def _cumprod_grad_zeros(a, g, d):
    """Exact cumprod gradient with zeros: grad_i = sum_{j>=i} g_j prod_{k<=j, k!=i} a_k."""
    a, g = np.moveaxis(np.asarray(a), d, -1), np.moveaxis(np.asarray(g), d, -1)
    n = a.shape[-1]
    res = np.zeros_like(a)
    for i in range(n):
        b = a.copy()
        b[..., i] = 1
        c = np.cumprod(b, axis=-1)
        res[..., i] = (g[..., i:] * c[..., i:]).sum(-1)
    return np.moveaxis(res, -1, d)


class Softmax(Function):
    # d softmax(a) = y (grad - sum(grad y))
    @staticmethod
    def forward(ctx, a, dim):
        xp = of(a)
        ctx.dim = dim
        e = xp.exp(a - xp.max(a, axis=dim, keepdims=True)) if a.size else a.copy()
        e /= xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return y * (g - of(y).sum(g * y, axis=ctx.dim, keepdims=True)), None


class LogSoftmax(Function):
    # d log_softmax(a) = grad - exp(y) sum(grad)
    @staticmethod
    def forward(ctx, a, dim):
        xp = of(a)
        ctx.dim = dim
        s = a - xp.max(a, axis=dim, keepdims=True) if a.size else a.copy()
        out = s - xp.log(xp.sum(xp.exp(s), axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        xp = of(y)
        return g - xp.exp(y) * xp.sum(g, axis=ctx.dim, keepdims=True), None


def _count(shape, axes) -> int:
    if axes is None:
        return int(np.prod(shape))
    return int(np.prod([shape[i] for i in axes]))


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """torch.sum"""
    if dim is None and axis is None and dtype is None:  # hot path: full sum
        if not (keepdims or keepdim):
            return Sum.apply_binary(input, None)
        return Sum.apply(input, None, True, None)
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    axes = _axes(dim, input.ndim)
    return (Sum if dim is None else SumDim).apply(input, axes, keepdim, None if dtype is None else _np(dtype))


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """torch.mean"""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    axes = _axes(dim, input.ndim)
    return (Mean if dim is None else MeanDim).apply(
        input, axes, keepdim, None if dtype is None else _np(dtype)
    )


def _np(dtype):
    return to_dtype(dtype).np


def _axes(dim, ndim):
    if ndim == 0 and dim is not None and dim != ():
        norm_dim(dim, 0)
        return ()
    return norm_dim(dim, ndim) if dim is not None and dim != () and dim != [] else None


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.prod"""
    fn = Prod if dim is None else ProdDim
    return fn.apply(input, _axes(dim, input.ndim), keepdim, None if dtype is None else _np(dtype))


class _ReturnType(tuple):
    """torch.return_types.<name>: a (values, indices) tuple with named fields."""

    _rt_name = "max"

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self) -> str:
        return f"torch.return_types.{self._rt_name}(\nvalues={self[0]!r},\nindices={self[1]!r})"


def _rt(name):
    return type(name, (_ReturnType,), {"_rt_name": name})


class return_types:  # noqa: N801  (torch.return_types namespace)
    max = _rt("max")
    min = _rt("min")
    median = _rt("median")
    sort = _rt("sort")
    topk = _rt("topk")
    mode = _rt("mode")
    kthvalue = _rt("kthvalue")


def _empty_check(input, name):
    if input._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
            "reduction dim with the 'dim' argument."
        )


def _dim1(dim, ndim) -> int:
    return norm_dim(int(dim), ndim)[0]


def _minmax(input, dim, keepdim, other, is_max: bool, out=None):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return (maximum if is_max else minimum)(input, other, out=out)
    name = "max" if is_max else "min"
    if dim is None:
        _empty_check(input, name)
        return (MaxAll if is_max else MinAll).apply(input, None, False)
    d = _dim1(dim, input.ndim)
    if input.ndim == 0:
        res = (input.clone(), Tensor._wrap(np.asarray(0, dtype=np.int64)))
        return getattr(return_types, name)(*res)
    if input._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    a = input._data
    nan = of(a).isnan(a)
    if a.dtype.kind == "f" and nan.any():  # torch: NaN wins and its index is returned
        idx = of(a).argmax(nan, axis=d)
        idx = of(a).where(nan.any(axis=d), idx, (of(a).argmax if is_max else of(a).argmin)(a, axis=d))
    else:
        idx = (of(a).argmax if is_max else of(a).argmin)(a, axis=d)
    idx = of(a).expand_dims(idx, d)
    vals = (MaxDim if is_max else MinDim).apply(input, d, keepdim, idx)
    return getattr(return_types, name)(vals, Tensor._wrap(idx if keepdim else idx.squeeze(d)))


def max(input, dim=None, keepdim: bool = False, *, other=None, out=None):
    """torch.max: full reduction, (values, indices) along dim, or elementwise max(a, b)"""
    return _minmax(input, dim, keepdim, other, True, out)


def min(input, dim=None, keepdim: bool = False, *, other=None, out=None):
    """torch.min: full reduction, (values, indices) along dim, or elementwise min(a, b)"""
    return _minmax(input, dim, keepdim, other, False, out)


def amax(input, dim=(), keepdim: bool = False) -> Tensor:
    axes = _axes(dim, input.ndim)
    if axes is None:
        _empty_check(input, "amax")
    return Amax.apply(input, axes, keepdim)


def amin(input, dim=(), keepdim: bool = False) -> Tensor:
    axes = _axes(dim, input.ndim)
    if axes is None:
        _empty_check(input, "amin")
    return Amin.apply(input, axes, keepdim)


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    return _argext(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    return _argext(input, dim, keepdim, False)


def _argext(input, dim, keepdim, is_max):
    a = input._data
    xp = of(a)
    if a.size == 0:  # torch: IndexError; only an empty reduced dimension is an error
        name = "argmax" if is_max else "argmin"
        if dim is None:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        d = dim + a.ndim if dim < 0 else dim  # (`max` is this module's reduction)
        if 0 <= d < a.ndim and a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if a.dtype == np.bool_:
        raise RuntimeError(f"{'argmax' if is_max else 'argmin'}(): does not support bool input")
    fn = xp.argmax if is_max else xp.argmin
    if a.dtype.kind == "f" and xp.isnan(a).any():
        fn = lambda x, axis=None: xp.argmax(xp.isnan(x), axis=axis)  # noqa: E731  NaN wins
    if dim is None:
        r = xp.asarray(fn(a.reshape(-1)), dtype=np.int64)
        return Tensor._wrap(r.reshape((1,) * a.ndim) if keepdim else r)
    d = _dim1(dim, a.ndim)
    if a.ndim == 0:
        return Tensor._wrap(xp.asarray(0, dtype=np.int64))
    r = fn(a, axis=d).astype(np.int64)
    return Tensor._wrap(xp.expand_dims(r, d) if keepdim else r)


def _correction(dim, unbiased, correction, keepdim):
    if isinstance(dim, bool):  # var(x, False): the legacy `unbiased` positional
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, int(correction), keepdim


def _float_check(input, name):
    if input.dtype._cat < 2:
        raise RuntimeError(
            f"{name}(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype.scalar_name}"
        )


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """torch.var: sum((x - mean)^2) / (N - correction)"""
    dim, c, keepdim = _correction(dim, unbiased, correction, keepdim)
    _float_check(input, "std and var")
    return Var.apply(input, _axes(dim, input.ndim), c, keepdim)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """torch.std: sqrt(var)"""
    dim, c, keepdim = _correction(dim, unbiased, correction, keepdim)
    _float_check(input, "std and var")
    return Std.apply(input, _axes(dim, input.ndim), c, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    dim, c, keepdim = _correction(dim, unbiased, correction, keepdim)
    return var(input, dim, keepdim=keepdim, correction=c), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    dim, c, keepdim = _correction(dim, unbiased, correction, keepdim)
    return std(input, dim, keepdim=keepdim, correction=c), mean(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """torch.norm: vector p-norm over dim (all elements by default); 'fro' = 2-norm"""
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype._cat < 2:
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {input.dtype.scalar_name}"
        )
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("nuclear norm is not supported")
    axes = _axes(dim, input.ndim)
    if p == math.inf or p == -math.inf:
        if axes is None:
            _empty_check(input, "linalg.vector_norm")
        return (NormMax if p > 0 else NormMin).apply(_abs(input), axes, keepdim)
    if p == 0:
        return sum(input != 0, dim, keepdim).to(input.dtype)
    return Norm.apply(input, float(p), axes, keepdim)


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """torch.logsumexp: log(sum(exp(x))), computed stably"""
    if input.dtype._cat < 2:
        input = input.float()
    axes = _axes(dim, input.ndim)
    axes = tuple(range(input.ndim)) if axes is None else axes
    return LogSumExp.apply(input, axes, keepdim)


def all(input, dim=None, keepdim: bool = False) -> Tensor:
    a = input._data
    r = of(a).all(a, axis=_axes(dim, a.ndim), keepdims=keepdim)
    return Tensor._wrap(r.astype(np.uint8) if a.dtype == np.uint8 else r)


def any(input, dim=None, keepdim: bool = False) -> Tensor:
    a = input._data
    r = of(a).any(a, axis=_axes(dim, a.ndim), keepdims=keepdim)
    return Tensor._wrap(r.astype(np.uint8) if a.dtype == np.uint8 else r)


def count_nonzero(input, dim=None) -> Tensor:
    a = input._data
    return Tensor._wrap(of(a).asarray(of(a).count_nonzero(a, axis=_axes(dim, a.ndim)), dtype=np.int64))


def cumsum(input, dim, *, dtype=None, out=None) -> Tensor:
    d = _dim1(dim, input.ndim)
    res = Cumsum.apply(input, d if input.ndim else None, None if dtype is None else _np(dtype))
    return _fix0(res, input, out)


def cumprod(input, dim, *, dtype=None, out=None) -> Tensor:
    d = _dim1(dim, input.ndim)
    res = Cumprod.apply(input, d if input.ndim else None, None if dtype is None else _np(dtype))
    return _fix0(res, input, out)


def _fix0(res, input, out):
    if input.ndim == 0:
        res = res.reshape(())
    if out is not None:
        return write_out(out, res)
    return res


def softmax_default_dim(ndim: int, name: str = "softmax") -> int:
    """The dim softmax/log_softmax/softmin take when none is given (deprecated, as torch warns)."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
        "as an argument.",
        stacklevel=4,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None, **kw) -> Tensor:
    """torch.softmax: exp(x - max) / sum(exp(x - max)) along dim"""
    if dim is None:
        dim = softmax_default_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype._cat < 2:
        raise RuntimeError(f"\"softmax_lastdim_kernel_impl\" not implemented for '{input.dtype.scalar_name}'")
    return Softmax.apply(input, _dim1(dim, input.ndim) if input.ndim else None)


def log_softmax(input, dim=None, dtype=None, **kw) -> Tensor:
    """torch.log_softmax: x - logsumexp(x) along dim"""
    if dim is None:
        dim = softmax_default_dim(input.ndim, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype._cat < 2:
        raise RuntimeError(
            f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{input.dtype.scalar_name}'"
        )
    return LogSoftmax.apply(input, _dim1(dim, input.ndim) if input.ndim else None)


def median(input, dim=None, keepdim: bool = False):
    """torch.median: the lower of the two middle values; with dim, (values, indices)"""
    a = input._data
    xp = of(a)
    if a.dtype == np.bool_:
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        _empty_check(input, "median")
        flat = a.reshape(-1)
        order = xp.argsort(flat, kind="stable")
        nan = xp.isnan(flat) if a.dtype.kind == "f" else None
        k = int(order[-1]) if nan is not None and nan.any() else int(order[(flat.size - 1) // 2])
        idx = xp.asarray([k]).reshape((1,))
        return MedianAll.apply(input.reshape(-1), 0, False, idx)
    d = _dim1(dim, a.ndim)
    if a.ndim == 0:
        return return_types.median(input.clone(), Tensor._wrap(xp.asarray(0, dtype=np.int64)))
    order = xp.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    mid = xp.take(order, [(n - 1) // 2], axis=d)
    if a.dtype.kind == "f":
        has_nan = xp.isnan(a).any(axis=d, keepdims=True)
        mid = xp.where(has_nan, xp.take(order, [n - 1], axis=d), mid)
        if has_nan.any():  # torch returns the first NaN's index
            first = xp.expand_dims(xp.argmax(xp.isnan(a), axis=d), d)
            mid = xp.where(has_nan, first, mid)
    vals = MedianDim.apply(input, d, keepdim, mid)
    return return_types.median(vals, Tensor._wrap((mid if keepdim else mid.squeeze(d)).astype(np.int64)))


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return nansum(input, dim, keepdim, dtype=dtype) / sum(~isnan(input), dim, keepdim)


def _bind() -> None:
    for name in _METHODS:
        setattr(Tensor, name, globals()[name])
    Tensor.cumsum_ = lambda self, dim, *, dtype=None: self._inplace(cumsum(self, dim, dtype=dtype))
    Tensor.cumprod_ = lambda self, dim, *, dtype=None: self._inplace(cumprod(self, dim, dtype=dtype))


_METHODS = (
    "sum",
    "mean",
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "var",
    "std",
    "norm",
    "logsumexp",
    "all",
    "any",
    "count_nonzero",
    "cumsum",
    "cumprod",
    "softmax",
    "log_softmax",
    "median",
    "nansum",
    "nanmean",
)
_bind()

__all__ = [
    "sum",
    "mean",
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "norm",
    "logsumexp",
    "all",
    "any",
    "count_nonzero",
    "cumsum",
    "cumprod",
    "softmax",
    "log_softmax",
    "median",
    "nansum",
    "nanmean",
    "return_types",
]
