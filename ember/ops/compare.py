"""Comparisons, logical and bitwise functions, and the isnan/isclose family (no gradients:
their results are bool or integer tensors).

They are not autograd Functions, so they skip `Function.apply`; when a graph tracer is on
(`ember.graph.node.tracer`: onnx.export, add_graph, checkpoint) each reports itself with
`tracer[0].record(kind, args, out, {})`, `kind` a record-only class named after the op (Eq,
Lt, LogicalAnd, BitwiseNot, ...), so the ONNX exporter sees masks computed in forward. The normal
path pays one `tracer[0] is not None` test."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._tensor import Tensor
from ember.graph.node import tracer
from ember.ops import pointwise
from ember.ops._promote import binary
from ember.ops.arith import _out, _raw


def _check_bcast(a, b):
    pointwise._check_shapes(a, b)


def _kind(name: str) -> type:
    """The record-only class the tracer gets for op `name` ("logical_and" -> LogicalAnd)."""
    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(cls_name, (), {"__doc__": f"tracer record of {name} (no gradient)", "__module__": __name__})


def _cmp(npfn, name):
    kind = _kind(name)

    def fn(input, other, *, out=None) -> Tensor:
        a, b = _raw(input), _raw(other)
        _check_bcast(a, b)
        a, b = binary(a, b)
        res = _out(Tensor._wrap(npfn(a, b)), out)
        if tracer[0] is not None:
            tracer[0].record(kind, (input, other), res, {})
        return res

    fn.__name__ = fn.__qualname__ = name
    return fn


eq = _cmp(np.equal, "eq")
ne = _cmp(np.not_equal, "ne")
lt = _cmp(np.less, "lt")
le = _cmp(np.less_equal, "le")
gt = _cmp(np.greater, "gt")
ge = _cmp(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _cmp(np.logical_and, "logical_and")
logical_or = _cmp(np.logical_or, "logical_or")
logical_xor = _cmp(np.logical_xor, "logical_xor")


_LogicalNot = _kind("logical_not")


def logical_not(input, *, out=None) -> Tensor:
    res = _out(Tensor._wrap(np.logical_not(input._data)), out)
    if tracer[0] is not None:
        tracer[0].record(_LogicalNot, (input,), res, {})
    return res


def _bitwise(npfn, name):
    kind = _kind("bitwise_" + name.removeprefix("bitwise_"))

    def fn(input, other, *, out=None) -> Tensor:
        a, b = _raw(input), _raw(other)
        _check_bcast(a, b)
        a, b = binary(a, b)
        arr = a if hasattr(a, "dtype") else b
        if arr.dtype.kind not in "biu" or isinstance(a, float) or isinstance(b, float):
            dt = _dtype.from_np(arr.dtype) if arr.dtype.kind != "b" else _dtype.float32
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{dt.scalar_name}'")
        res = _out(Tensor._wrap(npfn(a, b)), out)
        if tracer[0] is not None:
            tracer[0].record(kind, (input, other), res, {})
        return res

    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(np.left_shift, "lshift")
bitwise_right_shift = _bitwise(np.right_shift, "rshift")


_BitwiseNot = _kind("bitwise_not")


def bitwise_not(input, *, out=None) -> Tensor:
    a = input._data
    if a.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    res = _out(Tensor._wrap(np.invert(a)), out)
    if tracer[0] is not None:
        tracer[0].record(_BitwiseNot, (input,), res, {})
    return res


def isnan(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isnan(a) if a.dtype.kind in "fc" else np.zeros(a.shape, bool))


def isinf(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isinf(a) if a.dtype.kind in "fc" else np.zeros(a.shape, bool))


def isposinf(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isposinf(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool))


def isneginf(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isneginf(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool))


def isfinite(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isfinite(a) if a.dtype.kind in "fc" else np.ones(a.shape, bool))


def isreal(input) -> Tensor:
    a = input._data
    return Tensor._wrap(np.isreal(a) if a.dtype.kind == "c" else np.ones(a.shape, bool))


def equal(input, other) -> bool:
    """torch.equal: same shape and same values"""
    a, b = input._data, other._data
    if a.shape != b.shape:
        return False
    return bool((a == b).all())


def _isclose_raw(input, other, rtol, atol, equal_nan):
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype.scalar_name} did not match {other.dtype.scalar_name}")
    a, b = input._data, other._data
    _check_bcast(a, b)
    if a.dtype.kind in "biu":
        a, b = a.astype(np.float64), b.astype(np.float64)
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    return Tensor._wrap(_isclose_raw(input, other, rtol, atol, equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(_isclose_raw(input, other, rtol, atol, equal_nan).all())


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "isreal",
    "equal",
    "isclose",
    "allclose",
]
