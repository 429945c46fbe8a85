"""A NumPy-like namespace over Tensors. Backward formulas call `of(x).exp(x)` etc.; under
create_graph their operands are Tensors, `of` returns this module, and the formula itself is
recorded in the graph, which is how higher-order gradients work without a second set of rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ember import creation
from ember._dtype import from_np
from ember._tensor import Tensor
from ember.ops import arith, compare, copy, index, linalg, reduce, shape

# ember's public functions over Tensors, by name (the first module that has a name wins)
_PUBLIC = {}
for _m in (arith, compare, reduce, shape, index, linalg, copy, creation):
    for _n in getattr(_m, "__all__", ()):
        _PUBLIC.setdefault(_n, getattr(_m, _n))
_ember = SimpleNamespace(**_PUBLIC)


def _e():
    return _ember


def _t(x, like=None):
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool)):
        return x
    return Tensor._wrap(np.asarray(x) if not hasattr(x, "shape") else x)


def sum(x, axis=None, keepdims=False, dtype=None):
    return _e().sum(_t(x), dim=axis, keepdim=keepdims)


def mean(x, axis=None, keepdims=False):
    return _e().mean(_t(x), dim=axis, keepdim=keepdims)


def cumsum(x, axis=None, dtype=None):
    return _e().cumsum(_t(x), axis if axis is not None else 0)


def prod(x, axis=None, keepdims=False, dtype=None):
    return _e().prod(_t(x), dim=axis, keepdim=keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    return _e().var(_t(x), dim=axis, correction=ddof, keepdim=keepdims)


def std(x, axis=None, ddof=0, keepdims=False):
    return _e().std(_t(x), dim=axis, correction=ddof, keepdim=keepdims)


def max(x, axis=None, keepdims=False):
    return _e().amax(_t(x), dim=() if axis is None else axis, keepdim=keepdims)


def min(x, axis=None, keepdims=False):
    return _e().amin(_t(x), dim=() if axis is None else axis, keepdim=keepdims)


def arctan2(a, b):
    return _e().atan2(_t(a), _t(b, a))


def power(a, b):
    return _e().pow(_t(a), _t(b, a))


def broadcast_to(x, shape):
    return _t(x).expand(*shape)


def expand_dims(x, axis):
    return _t(x).unsqueeze(axis)


def swapaxes(x, a, b):
    return _t(x).transpose(a, b)


def transpose(x, axes):
    return _t(x).permute(*axes)


def where(c, a, b):
    e = _e()
    return e.where(_t(c), a if not hasattr(a, "shape") else _t(a), b if not hasattr(b, "shape") else _t(b))


def matmul(a, b):
    return _e().matmul(_t(a), _t(b))


def zeros(shape, dtype=None):
    return _e().zeros(shape, dtype=None if dtype is None else from_np(dtype))


def zeros_like(x, dtype=None):
    return _e().zeros_like(_t(x))


def ones_like(x, dtype=None):
    return _e().ones_like(_t(x))


def maximum(a, b):
    return _e().maximum(_t(a), _t(b, a))


def minimum(a, b):
    return _e().minimum(_t(a), _t(b, a))


def concatenate(xs, axis=0):
    return _e().cat([_t(x) for x in xs], dim=axis)


def stack(xs, axis=0):
    return _e().stack([_t(x) for x in xs], dim=axis)


def index_put_zeros(g, shape, key):
    """zeros(shape) with g added at key (differentiable in g)."""
    e = _e()
    out = e.zeros(shape, dtype=g.dtype)
    return e.index_put_add(out, key, g)


def index_zero(g, key):
    e = _e()
    mask = np.ones(tuple(g.shape), dtype=bool)
    mask[key] = False
    return g * e.from_numpy(mask)


def __getattr__(name):
    # unary/binary functions with the same name in ember and numpy (exp, log, sin, sign, ...)
    fn = _PUBLIC.get(name)
    if fn is None:
        raise AttributeError(name)

    def wrapped(*args, **kwargs):
        return fn(*(_t(a) if isinstance(a, np.ndarray) else a for a in args), **kwargs)

    return wrapped
