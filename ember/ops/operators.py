"""The functions Tensor's Python operators are bound to (the binding table, ember._methods,
maps `__add__`, `__iadd__`, `__eq__`, ... to these or straight to a primitive's apply_binary).

Fast path: `direct_inplace` writes `t op= other` straight into the storage with the ufunc when
no graph is recorded (an optimizer step under no_grad); it returns None to take the general
path (the primitive, then `write_inplace`) for autograd, promotion or broadcasting.
tests/test_fast_paths.py checks it against that general path."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.graph import node as _node
from ember.graph.grad_mode import _state as _grad_enabled
from ember.ops._promote import py_scalar
from ember.ops.compare import eq, ne
from ember.ops.inplace import write_inplace
from ember.ops.linalg import MatMul
from ember.ops.pointwise import Pow


def direct_inplace(self, other, ufunc):
    """In-place arithmetic with no graph to record (e.g. an optimizer step under no_grad):
    write straight into the storage with the ufunc. Returns None to take the general path
    (autograd, dtype promotion/cast errors, broadcasting errors) otherwise."""
    if _grad_enabled[0] and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        return None
    if _node.tracer[0] is not None:  # the ONNX/TensorBoard tracer records the general path
        return None
    d = self._data
    if type(d) is not np.ndarray or d.dtype.kind != "f":  # a read-only d raises ValueError below
        return None
    if isinstance(other, Tensor):
        o = other._data
        if type(o) is not np.ndarray or o.dtype != d.dtype:
            return None
    elif type(other) is float or type(other) is int:
        o = other
    else:
        return None
    try:
        ufunc(d, o, out=d)
    except (ValueError, TypeError):
        return None
    self._bump()
    return self


def inplace_operator(ufunc, fn):
    """`t op= other`: _direct when no graph is recorded, else the op's Function, in place."""

    def iop(self, other):
        r = direct_inplace(self, other, ufunc)
        return r if r is not None else write_inplace(self, fn.apply(self, other))

    return iop


def inplace_method(general, ufunc):
    def method(self, other, *args, **kwargs):
        if not args and not kwargs:
            r = direct_inplace(self, other, ufunc)
            if r is not None:
                return r
        return general(self, other, *args, **kwargs)

    method.__name__ = general.__name__
    return method


def as_tensor(o):
    if isinstance(o, np.generic):  # a NumPy scalar is a Python number to torch
        return py_scalar(o)
    return Tensor._wrap(o) if isinstance(o, np.ndarray) else o


def rpow(self, other):
    return Pow.apply(as_tensor(other), self)


def eq_operator(self, other):
    if other is None or not isinstance(other, (Tensor, np.ndarray, bool, int, float, complex, np.generic)):
        return False
    return eq(self, other)


def ne_operator(self, other):
    if other is None or not isinstance(other, (Tensor, np.ndarray, bool, int, float, complex, np.generic)):
        return True
    return ne(self, other)


def matmul_operator(a, b):
    if not isinstance(a, Tensor):
        a = Tensor._wrap(np.asarray(a))
    if not isinstance(b, Tensor):
        b = Tensor._wrap(np.asarray(b))
    return MatMul.apply_binary(a, b)
