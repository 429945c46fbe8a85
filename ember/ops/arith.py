"""Public elementwise functions (torch.add, torch.exp, ...) and Tensor's operators / methods."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.ops import pointwise as P
from ember.ops.out import write_out


def _out(res, out):
    return res if out is None else write_out(out, res)


def add(input, other, *, alpha=1, out=None):
    """torch.add: input + alpha * other"""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if not isinstance(input, Tensor):
        return _out(P.Add.apply(other, input), out) if isinstance(other, Tensor) else input + other
    return _out(P.Add.apply(input, other), out)


def sub(input, other, *, alpha=1, out=None):
    """torch.sub: input - alpha * other"""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _out(P.Sub.apply(input, other), out)


def mul(input, other, *, out=None):
    return _out(P.Mul.apply(input, other), out)


def div(input, other, *, rounding_mode=None, out=None):
    return _out(P.Div.apply(input, other, rounding_mode=rounding_mode), out)


def true_divide(input, other, *, out=None):
    return div(input, other, out=out)


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor", out=out)


def pow(input, exponent, *, out=None):
    return _out(P.Pow.apply(input, exponent), out)


def neg(input, *, out=None):
    return _out(P.Neg.apply(input), out)


negative = neg


def exp(input, *, out=None):
    return _out(P.Exp.apply(input), out)


def log(input, *, out=None):
    return _out(P.Log.apply(input), out)


def sqrt(input, *, out=None):
    return _out(P.Sqrt.apply(input), out)


def tanh(input, *, out=None):
    return _out(P.Tanh.apply(input), out)


def sigmoid(input, *, out=None):
    return _out(P.Sigmoid.apply(input), out)


def relu(input):
    return P.Relu.apply(input)


def abs(input, *, out=None):
    return _out(P.Abs.apply(input), out)


def clone(input, *, memory_format=None):
    return P.Clone.apply(input)


def _cmp(npfn, name):
    def fn(input, other, *, out=None):
        a = input._data if isinstance(input, Tensor) else input
        b = other._data if isinstance(other, Tensor) else other
        from ember.ops._promote import binary

        if isinstance(input, Tensor) and isinstance(other, Tensor) and a.shape != b.shape:
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise RuntimeError(
                    f"The size of tensor a ({a.shape[-1]}) must match the size of tensor b "
                    f"({b.shape[-1]}) at non-singleton dimension {_bad_dim(a.shape, b.shape)}"
                ) from None
        a, b = binary(a, b)
        return _out(Tensor._wrap(npfn(a, b)), out)

    fn.__name__ = name
    return fn


def _bad_dim(sa, sb) -> int:
    n = max(len(sa), len(sb))
    for i in range(1, n + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            return n - i
    return 0


eq = _cmp(np.equal, "eq")
ne = _cmp(np.not_equal, "ne")
lt = _cmp(np.less, "lt")
le = _cmp(np.less_equal, "le")
gt = _cmp(np.greater, "gt")
ge = _cmp(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _r(fn):
    return lambda self, other: fn(other, self) if isinstance(other, Tensor) else fn(_scalar_tensor(other, self), self)


def _scalar_tensor(v, like):
    if isinstance(v, np.ndarray):
        return Tensor._wrap(v)
    return v


def _rsub(self, other):
    return P.Sub.apply(other if isinstance(other, Tensor) else _scalar_tensor(other, self), self) if isinstance(other, Tensor) or isinstance(other, np.ndarray) else _scalar_sub(other, self)


def _scalar_sub(s, t):
    return P.Add.apply(P.Neg.apply(t), s)


def _rdiv(self, other):
    return P.Div.apply(other, self) if not isinstance(other, np.ndarray) else P.Div.apply(Tensor._wrap(other), self)


def _rpow(self, other):
    if isinstance(other, np.ndarray):
        other = Tensor._wrap(other)
    if isinstance(other, Tensor):
        return P.Pow.apply(other, self)
    from ember.functional import full

    base = full((), other, dtype=None)
    if base.dtype._cat < self.dtype._cat:
        base = base.to(self.dtype)
    return P.Pow.apply(base, self)


def _inplace(fn):
    def method(self, *args, **kwargs):
        return self._inplace(fn(self, *args, **kwargs))

    return method


def _bind():
    T = Tensor
    T.__add__ = lambda s, o: P.Add.apply(s, o)
    T.__radd__ = lambda s, o: P.Add.apply(s, o)
    T.__sub__ = lambda s, o: P.Sub.apply(s, o)
    T.__rsub__ = _rsub
    T.__mul__ = lambda s, o: P.Mul.apply(s, o)
    T.__rmul__ = lambda s, o: P.Mul.apply(s, o)
    T.__truediv__ = lambda s, o: P.Div.apply(s, o)
    T.__rtruediv__ = _rdiv
    T.__floordiv__ = lambda s, o: floor_divide(s, o)
    T.__rfloordiv__ = lambda s, o: floor_divide(o if isinstance(o, Tensor) else _scalar_tensor(o, s), s) if isinstance(o, (Tensor, np.ndarray)) else floor_divide(_full_like_scalar(o, s), s)
    T.__pow__ = lambda s, o: P.Pow.apply(s, o)
    T.__rpow__ = _rpow
    T.__neg__ = lambda s: P.Neg.apply(s)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: P.Abs.apply(s)
    T.__matmul__ = lambda s, o: _matmul(s, o)
    T.__rmatmul__ = lambda s, o: _matmul(o, s)
    T.__eq__ = lambda s, o: eq(s, o)
    T.__ne__ = lambda s, o: ne(s, o)
    T.__lt__ = lambda s, o: lt(s, o)
    T.__le__ = lambda s, o: le(s, o)
    T.__gt__ = lambda s, o: gt(s, o)
    T.__ge__ = lambda s, o: ge(s, o)
    T.__iadd__ = lambda s, o: s._inplace(P.Add.apply(s, o))
    T.__isub__ = lambda s, o: s._inplace(P.Sub.apply(s, o))
    T.__imul__ = lambda s, o: s._inplace(P.Mul.apply(s, o))
    T.__itruediv__ = lambda s, o: s._inplace(P.Div.apply(s, o))
    T.__ipow__ = lambda s, o: s._inplace(P.Pow.apply(s, o))
    for name in ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "tanh", "sigmoid",
                 "relu", "abs", "eq", "ne", "lt", "le", "gt", "ge", "true_divide", "floor_divide",
                 "negative", "greater", "greater_equal", "less", "less_equal", "not_equal"):
        fn = globals()[name]
        setattr(T, name, fn)
        setattr(T, name + "_", _inplace(fn))
    T.subtract = sub
    T.multiply = mul
    T.divide = div


def _full_like_scalar(v, like):
    from ember.functional import full

    return full((), v)


def _matmul(a, b):
    from ember.ops.linalg import matmul

    if not isinstance(a, Tensor):
        a = Tensor._wrap(np.asarray(a))
    if not isinstance(b, Tensor):
        b = Tensor._wrap(np.asarray(b))
    return matmul(a, b)


_bind()
subtract, multiply, divide = sub, mul, div

__all__ = ["add", "sub", "mul", "div", "true_divide", "floor_divide", "pow", "neg", "negative",
           "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "clone", "eq", "ne", "lt", "le",
           "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "subtract",
           "multiply", "divide"]
