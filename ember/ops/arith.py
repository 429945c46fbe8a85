"""Public elementwise functions (torch.add, torch.exp, ...) and Tensor's operators / methods."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._repr import set_printoptions
from ember._tensor import Tensor
from ember.autograd.grad_mode import _state as _G
from ember.ops import pointwise as P
from ember.ops._promote import binary, py_scalar, result_dtype
from ember.ops._util import quiet_fp
from ember.ops.linalg import MatMul
from ember.ops.out import write_out


def _out(res, out):
    return res if out is None else write_out(out, res)


def _raw(v):
    return v._data if isinstance(v, Tensor) else v


# -- arithmetic ------------------------------------------------------------------------------
def add(input, other, *, alpha=1, out=None) -> Tensor:
    """torch.add: input + alpha * other"""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if not isinstance(input, Tensor):
        return _out(P.Add.apply(other, input), out) if isinstance(other, Tensor) else input + other
    return _out(P.Add.apply(input, other), out)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """torch.sub: input - alpha * other"""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _out(P.Sub.apply(input, other), out)


def rsub(input, other, *, alpha=1) -> Tensor:
    """torch.rsub: other - alpha * input"""
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None) -> Tensor:
    return _out(P.Mul.apply(input, other), out)


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    return _out(P.Div.apply(input, other, rounding_mode=rounding_mode), out)


def true_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, out=out)


def floor_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, rounding_mode="floor", out=out)


def remainder(input, other, *, out=None) -> Tensor:
    """torch.remainder: Python's modulus (sign of the divisor)"""
    return _out(P.Remainder.apply(input, other), out)


def fmod(input, other, *, out=None) -> Tensor:
    """torch.fmod: C's fmod (sign of the dividend)"""
    return _out(P.Fmod.apply(input, other), out)


def pow(input, exponent, *, out=None) -> Tensor:
    return _out(P.Pow.apply(input, exponent), out)


def square(input, *, out=None) -> Tensor:
    return _out(P.Pow.apply(input, 2), out)


def float_power(input, exponent, *, out=None) -> Tensor:
    a = input.double() if isinstance(input, Tensor) else input
    b = exponent.double() if isinstance(exponent, Tensor) else exponent
    return _out(P.Pow.apply(a, b), out)


def neg(input, *, out=None) -> Tensor:
    return _out(P.Neg.apply(input), out)


def atan2(input, other, *, out=None) -> Tensor:
    return _out(P.Atan2.apply(input, other), out)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """torch.lerp: input + weight * (end - input)"""
    return _out(P.Lerp.apply(input, end, weight), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """torch.addcmul: input + value * tensor1 * tensor2"""
    prod = P.Mul.apply(tensor1, tensor2)
    return _out(P.Add.apply(input, prod if value == 1 else P.Mul.apply(prod, value)), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """torch.addcdiv: input + value * tensor1 / tensor2"""
    if tensor1.dtype._cat < 2 and tensor2.dtype._cat < 2:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv "
            "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
            "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
            "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
            "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
            "for all dtypes."
        )
    q = P.Div.apply(tensor1, tensor2)
    return _out(P.Add.apply(input, q if value == 1 else P.Mul.apply(q, value)), out)


# -- unary math ------------------------------------------------------------------------------
def _unary(cls, name: str):
    def fn(input, *, out=None) -> Tensor:
        return _out(cls.apply(input), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}"
    return fn


exp = _unary(P.Exp, "exp")
exp2 = _unary(P.Exp2, "exp2")
expm1 = _unary(P.Expm1, "expm1")
log = _unary(P.Log, "log")
log2 = _unary(P.Log2, "log2")
log10 = _unary(P.Log10, "log10")
log1p = _unary(P.Log1p, "log1p")
sqrt = _unary(P.Sqrt, "sqrt")
rsqrt = _unary(P.Rsqrt, "rsqrt")
reciprocal = _unary(P.Reciprocal, "reciprocal")
sin = _unary(P.Sin, "sin")
cos = _unary(P.Cos, "cos")
tan = _unary(P.Tan, "tan")
asin = _unary(P.Asin, "asin")
acos = _unary(P.Acos, "acos")
atan = _unary(P.Atan, "atan")
sinh = _unary(P.Sinh, "sinh")
cosh = _unary(P.Cosh, "cosh")
tanh = _unary(P.Tanh, "tanh")
sigmoid = _unary(P.Sigmoid, "sigmoid")
erf = _unary(P.Erf, "erf")
abs = _unary(P.Abs, "abs")
sign = _unary(P.Sign, "sign")
floor = _unary(P.Floor, "floor")
ceil = _unary(P.Ceil, "ceil")
trunc = _unary(P.Trunc, "trunc")
frac = _unary(P.Frac, "frac")


def relu(input) -> Tensor:
    return P.Relu.apply(input)


def round(input, *, decimals: int = 0, out=None) -> Tensor:
    return _out(P.Round.apply(input, decimals), out)


def clone(input, *, memory_format=None) -> Tensor:
    return P.Clone.apply(input, memory_format=memory_format)


def clamp(input, min=None, max=None, *, out=None) -> Tensor:
    """torch.clamp: min(max(input, min), max); NaN stays NaN"""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return _out(P.Clamp.apply(input, min, max), out)


def clamp_min(input, min) -> Tensor:
    return P.Clamp.apply(input, min, None)


def clamp_max(input, max) -> Tensor:
    return P.Clamp.apply(input, None, max)


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None, *, out=None) -> Tensor:
    return _out(P.NanToNum.apply(input, nan, posinf, neginf), out)


def _binary_tensor(cls, name):
    def fn(input, other, *, out=None) -> Tensor:
        return _out(cls.apply(input, other), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}"
    return fn


maximum = _binary_tensor(P.Maximum, "maximum")
minimum = _binary_tensor(P.Minimum, "minimum")
fmax = _binary_tensor(P.Fmax, "fmax")
fmin = _binary_tensor(P.Fmin, "fmin")


def where(condition, input=None, other=None, *, out=None):
    """torch.where(cond, x, y) elementwise; torch.where(cond) = nonzero(cond, as_tuple=True)"""
    c = condition._data
    if input is None and other is None:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in c.nonzero())
    if c.dtype != np.bool_:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_dtype.from_np(c.dtype).name.capitalize() if c.dtype.kind == 'f' else c.dtype}"
        )
    rt = result_dtype(_raw(input), _raw(other)).np
    xp = np if type(c) is np.ndarray else __import__("ember")._backend.of(c)
    input = input if isinstance(input, Tensor) else Tensor._wrap(xp.asarray(input, dtype=rt))
    other = other if isinstance(other, Tensor) else Tensor._wrap(xp.asarray(other, dtype=rt))
    return _out(P.Where.apply(condition, input, other), out)


# -- comparisons, logical, bitwise (no gradient) -----------------------------------------------
def _check_bcast(a, b):
    P._check_shapes(a, b)


def _cmp(npfn, name):
    def fn(input, other, *, out=None) -> Tensor:
        a, b = _raw(input), _raw(other)
        _check_bcast(a, b)
        a, b = binary(a, b)
        return _out(Tensor._wrap(npfn(a, b)), out)

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


def logical_not(input, *, out=None) -> Tensor:
    return _out(Tensor._wrap(np.logical_not(input._data)), out)


_KIND_NAME = {"f": "Float", "c": "ComplexFloat"}


def _bitwise(npfn, name):
    def fn(input, other, *, out=None) -> Tensor:
        a, b = _raw(input), _raw(other)
        _check_bcast(a, b)
        a, b = binary(a, b)
        arr = a if hasattr(a, "dtype") else b
        if arr.dtype.kind not in "biu" or isinstance(a, float) or isinstance(b, float):
            dt = _dtype.from_np(arr.dtype) if arr.dtype.kind != "b" else _dtype.float32
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_scalar_type(dt)}'")
        return _out(Tensor._wrap(npfn(a, b)), out)

    fn.__name__ = fn.__qualname__ = name
    return fn


def _scalar_type(dt) -> str:
    return {
        "float32": "Float",
        "float64": "Double",
        "float16": "Half",
        "complex64": "ComplexFloat",
        "complex128": "ComplexDouble",
    }.get(dt.name, dt.name)


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(np.left_shift, "lshift")
bitwise_right_shift = _bitwise(np.right_shift, "rshift")


def bitwise_not(input, *, out=None) -> Tensor:
    a = input._data
    if a.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return _out(Tensor._wrap(np.invert(a)), out)


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
        raise RuntimeError(f"{_scalar_type(input.dtype)} did not match {_scalar_type(other.dtype)}")
    a, b = input._data, other._data
    _check_bcast(a, b)
    with quiet_fp():
        if a.dtype.kind in "biu":
            a, b = a.astype(np.float64), b.astype(np.float64)
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    return Tensor._wrap(_isclose_raw(input, other, rtol, atol, equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(_isclose_raw(input, other, rtol, atol, equal_nan).all())


# -- operators ---------------------------------------------------------------------------------
def _direct(self, other, ufunc):
    """In-place arithmetic with no graph to record (e.g. an optimizer step under no_grad):
    write straight into the storage with the ufunc. Returns None to take the general path
    (autograd, dtype promotion/cast errors, broadcasting errors) otherwise."""
    if _G[0] and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        return None
    d = self._data
    if type(d) is not np.ndarray or not d.flags.writeable or d.dtype.kind != "f":
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
    self._vc[0] += 1
    return self


def _iop(ufunc, fn):
    """`t op= other`: _direct when no graph is recorded, else the op's Function, in place."""

    def iop(self, other):
        r = _direct(self, other, ufunc)
        return r if r is not None else self._inplace(fn.apply(self, other))

    return iop


def _direct_method(general, ufunc):
    def method(self, other, *args, **kwargs):
        if not args and not kwargs:
            r = _direct(self, other, ufunc)
            if r is not None:
                return r
        return general(self, other, *args, **kwargs)

    method.__name__ = general.__name__
    return method


def _inplace(fn):
    def method(self, *args, **kwargs):
        return self._inplace(fn(self, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    return method


def _wrap_arr(o):
    if isinstance(o, np.generic):  # a NumPy scalar is a Python number to torch
        return py_scalar(o)
    return Tensor._wrap(o) if isinstance(o, np.ndarray) else o


def _rpow(self, other):
    return P.Pow.apply(_wrap_arr(other), self)


def _eq(self, other):
    if other is None or not isinstance(other, (Tensor, np.ndarray, bool, int, float, complex, np.generic)):
        return False
    return eq(self, other)


def _ne(self, other):
    if other is None or not isinstance(other, (Tensor, np.ndarray, bool, int, float, complex, np.generic)):
        return True
    return ne(self, other)


def _bind():
    T = Tensor
    T.__add__ = P.Add.apply2
    T.__radd__ = P.Add.apply2
    T.__sub__ = P.Sub.apply2
    T.__rsub__ = lambda s, o: P.Sub.apply(_wrap_arr(o), s)
    T.__mul__ = P.Mul.apply2
    T.__rmul__ = P.Mul.apply2
    T.__truediv__ = P.Div.apply2
    T.__rtruediv__ = lambda s, o: P.Div.apply(_wrap_arr(o), s)
    T.__floordiv__ = lambda s, o: floor_divide(s, o)
    T.__rfloordiv__ = lambda s, o: floor_divide(_wrap_arr(o), s)
    T.__mod__ = lambda s, o: remainder(s, o)
    T.__rmod__ = lambda s, o: remainder(_wrap_arr(o), s)
    T.__pow__ = P.Pow.apply2
    T.__rpow__ = _rpow
    T.__neg__ = lambda s: P.Neg.apply(s)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: P.Abs.apply(s)
    T.__invert__ = lambda s: bitwise_not(s)
    T.__and__ = T.__rand__ = lambda s, o: bitwise_and(s, o)
    T.__or__ = T.__ror__ = lambda s, o: bitwise_or(s, o)
    T.__xor__ = T.__rxor__ = lambda s, o: bitwise_xor(s, o)
    T.__lshift__ = lambda s, o: bitwise_left_shift(s, o)
    T.__rshift__ = lambda s, o: bitwise_right_shift(s, o)
    T.__matmul__ = _matmul
    T.__rmatmul__ = lambda s, o: _matmul(o, s)
    T.__eq__ = _eq
    T.__ne__ = _ne
    T.__lt__ = lambda s, o: lt(s, o)
    T.__le__ = lambda s, o: le(s, o)
    T.__gt__ = lambda s, o: gt(s, o)
    T.__ge__ = lambda s, o: ge(s, o)
    T.__iadd__ = _iop(np.add, P.Add)
    T.__isub__ = _iop(np.subtract, P.Sub)
    T.__imul__ = _iop(np.multiply, P.Mul)
    T.__itruediv__ = _iop(np.true_divide, P.Div)
    T.__ifloordiv__ = lambda s, o: s._inplace(floor_divide(s, o))
    T.__imod__ = lambda s, o: s._inplace(remainder(s, o))
    T.__ipow__ = lambda s, o: s._inplace(P.Pow.apply(s, o))
    T.__iand__ = lambda s, o: s._inplace(bitwise_and(s, o))
    T.__ior__ = lambda s, o: s._inplace(bitwise_or(s, o))
    T.__ixor__ = lambda s, o: s._inplace(bitwise_xor(s, o))
    for name in _METHODS:
        fn = globals()[name]
        setattr(T, name, fn)
        if name not in _NO_INPLACE:
            setattr(T, name + "_", _inplace(fn))
    for name, uf in (
        ("add_", np.add),
        ("sub_", np.subtract),
        ("mul_", np.multiply),
        ("div_", np.true_divide),
    ):
        setattr(T, name, _direct_method(getattr(T, name), uf))
    T.where = lambda self, condition, other: where(condition, self, other)


_METHODS = (
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "neg",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "abs",
    "sign",
    "floor",
    "ceil",
    "round",
    "trunc",
    "frac",
    "fix",
    "remainder",
    "fmod",
    "lerp",
    "addcmul",
    "addcdiv",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "nan_to_num",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "true_divide",
    "floor_divide",
    "negative",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "subtract",
    "multiply",
    "divide",
    "absolute",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
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
    "isfinite",
    "isposinf",
    "isneginf",
    "isreal",
    "equal",
    "allclose",
    "isclose",
    "float_power",
    "rsub",
)
_NO_INPLACE = {
    "isnan",
    "isinf",
    "isfinite",
    "isposinf",
    "isneginf",
    "isreal",
    "equal",
    "allclose",
    "isclose",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "rsub",
}


def _matmul(a, b):
    if not isinstance(a, Tensor):
        a = Tensor._wrap(np.asarray(a))
    if not isinstance(b, Tensor):
        b = Tensor._wrap(np.asarray(b))
    return MatMul.apply2(a, b)


subtract, multiply, divide, negative, absolute, clip, fix = sub, mul, div, neg, abs, clamp, trunc
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
_bind()

__all__ = [
    "add",
    "sub",
    "rsub",
    "mul",
    "div",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "square",
    "float_power",
    "neg",
    "negative",
    "atan2",
    "arctan2",
    "lerp",
    "addcmul",
    "addcdiv",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "abs",
    "absolute",
    "sign",
    "floor",
    "ceil",
    "round",
    "trunc",
    "fix",
    "frac",
    "clone",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "nan_to_num",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "where",
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
    "subtract",
    "multiply",
    "divide",
    "set_printoptions",
]
