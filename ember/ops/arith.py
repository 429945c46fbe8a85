"""Public elementwise functions (torch.add, torch.exp, ...) and Tensor's operators / methods."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._tensor import Tensor
from ember.ops import pointwise
from ember.ops._promote import result_dtype
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
        return _out(pointwise.Add.apply(other, input), out) if isinstance(other, Tensor) else input + other
    return _out(pointwise.Add.apply(input, other), out)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """torch.sub: input - alpha * other"""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _out(pointwise.Sub.apply(input, other), out)


def rsub(input, other, *, alpha=1) -> Tensor:
    """torch.rsub: other - alpha * input"""
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None) -> Tensor:
    return _out(pointwise.Mul.apply(input, other), out)


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    return _out(pointwise.Div.apply(input, other, rounding_mode=rounding_mode), out)


def true_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, out=out)


def floor_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, rounding_mode="floor", out=out)


def remainder(input, other, *, out=None) -> Tensor:
    """torch.remainder: Python's modulus (sign of the divisor)"""
    return _out(pointwise.Remainder.apply(input, other), out)


def fmod(input, other, *, out=None) -> Tensor:
    """torch.fmod: C's fmod (sign of the dividend)"""
    return _out(pointwise.Fmod.apply(input, other), out)


def pow(input, exponent, *, out=None) -> Tensor:
    return _out(pointwise.Pow.apply(input, exponent), out)


def square(input, *, out=None) -> Tensor:
    return _out(pointwise.Pow.apply(input, 2), out)


def float_power(input, exponent, *, out=None) -> Tensor:
    a = input.double() if isinstance(input, Tensor) else input
    b = exponent.double() if isinstance(exponent, Tensor) else exponent
    return _out(pointwise.Pow.apply(a, b), out)


def neg(input, *, out=None) -> Tensor:
    return _out(pointwise.Neg.apply(input), out)


def atan2(input, other, *, out=None) -> Tensor:
    return _out(pointwise.Atan2.apply(input, other), out)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """torch.lerp: input + weight * (end - input)"""
    return _out(pointwise.Lerp.apply(input, end, weight), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """torch.addcmul: input + value * tensor1 * tensor2"""
    prod = pointwise.Mul.apply(tensor1, tensor2)
    return _out(pointwise.Add.apply(input, prod if value == 1 else pointwise.Mul.apply(prod, value)), out)


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
    q = pointwise.Div.apply(tensor1, tensor2)
    return _out(pointwise.Add.apply(input, q if value == 1 else pointwise.Mul.apply(q, value)), out)


# -- unary math ------------------------------------------------------------------------------
def _unary(cls, name: str):
    def fn(input, *, out=None) -> Tensor:
        return _out(cls.apply(input), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}"
    return fn


exp = _unary(pointwise.Exp, "exp")
exp2 = _unary(pointwise.Exp2, "exp2")
expm1 = _unary(pointwise.Expm1, "expm1")
log = _unary(pointwise.Log, "log")
log2 = _unary(pointwise.Log2, "log2")
log10 = _unary(pointwise.Log10, "log10")
log1p = _unary(pointwise.Log1p, "log1p")
sqrt = _unary(pointwise.Sqrt, "sqrt")
rsqrt = _unary(pointwise.Rsqrt, "rsqrt")
reciprocal = _unary(pointwise.Reciprocal, "reciprocal")
sin = _unary(pointwise.Sin, "sin")
cos = _unary(pointwise.Cos, "cos")
tan = _unary(pointwise.Tan, "tan")
asin = _unary(pointwise.Asin, "asin")
acos = _unary(pointwise.Acos, "acos")
atan = _unary(pointwise.Atan, "atan")
sinh = _unary(pointwise.Sinh, "sinh")
cosh = _unary(pointwise.Cosh, "cosh")
tanh = _unary(pointwise.Tanh, "tanh")
sigmoid = _unary(pointwise.Sigmoid, "sigmoid")
erf = _unary(pointwise.Erf, "erf")
abs = _unary(pointwise.Abs, "abs")
sign = _unary(pointwise.Sign, "sign")
floor = _unary(pointwise.Floor, "floor")
ceil = _unary(pointwise.Ceil, "ceil")
trunc = _unary(pointwise.Trunc, "trunc")
frac = _unary(pointwise.Frac, "frac")


def relu(input) -> Tensor:
    return pointwise.Relu.apply(input)


def round(input, *, decimals: int = 0, out=None) -> Tensor:
    return _out(pointwise.Round.apply(input, decimals), out)


def clamp(input, min=None, max=None, *, out=None) -> Tensor:
    """torch.clamp: min(max(input, min), max); NaN stays NaN"""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return _out(pointwise.Clamp.apply(input, min, max), out)


def clamp_min(input, min) -> Tensor:
    return pointwise.Clamp.apply(input, min, None)


def clamp_max(input, max) -> Tensor:
    return pointwise.Clamp.apply(input, None, max)


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None, *, out=None) -> Tensor:
    return _out(pointwise.NanToNum.apply(input, nan, posinf, neginf), out)


def _binary_tensor(cls, name):
    def fn(input, other, *, out=None) -> Tensor:
        return _out(cls.apply(input, other), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}"
    return fn


maximum = _binary_tensor(pointwise.Maximum, "maximum")
minimum = _binary_tensor(pointwise.Minimum, "minimum")
fmax = _binary_tensor(pointwise.Fmax, "fmax")
fmin = _binary_tensor(pointwise.Fmin, "fmin")


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
    return _out(pointwise.Where.apply(condition, input, other), out)


subtract, multiply, divide, negative, absolute, clip, fix = sub, mul, div, neg, abs, clamp, trunc
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
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
    "subtract",
    "multiply",
    "divide",
]
