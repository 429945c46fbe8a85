"""Pointwise functions of torch's top level written with ember's differentiable ops (their
gradients follow from the composition): logaddexp, logaddexp2, logit, sinc, hypot, rad2deg,
deg2rad, copysign, ldexp, positive, sgn; and the non-differentiable signbit, heaviside, gcd,
lcm, frexp."""

from __future__ import annotations

import math

import numpy as np

from ember._tensor import Tensor
from ember.ops import arith
from ember.ops._promote import result_dtype

__all__ = [
    "logaddexp",
    "logaddexp2",
    "logit",
    "sinc",
    "hypot",
    "rad2deg",
    "deg2rad",
    "copysign",
    "ldexp",
    "positive",
    "sgn",
    "signbit",
    "heaviside",
    "gcd",
    "lcm",
    "frexp",
]


def signbit_np(a):
    return np.signbit(a) if a.dtype.kind == "f" else (a < 0)


def _t(x, like=None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dt = like.dtype.np if like is not None and like.dtype.is_floating_point else None
    return Tensor._wrap(np.asarray(x, dtype=dt))


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point or x.dtype.is_complex else x.float()


def logaddexp(input, other, *, out=None) -> Tensor:
    # log(e^a + e^b) = max(a, b) + log1p(e^-|a - b|); a == b (also both +-inf) gives
    # (a + b) / 2 + log 2, which splits the gradient evenly as torch's
    a, b = _float(_t(input)), _float(_t(other, input))
    m = arith.maximum(a, b)
    eq = a == b  # both the same infinity: no inf - inf
    d = arith.where(eq, 0.0, a) - arith.where(eq, 0.0, b)
    return arith.where(eq, (a + b) * 0.5 + math.log(2.0), m + arith.log1p(arith.exp(-arith.abs(d))))


def logaddexp2(input, other, *, out=None) -> Tensor:
    # log2(2^a + 2^b) = logaddexp(a ln 2, b ln 2) / ln 2
    ln2 = math.log(2.0)
    return logaddexp(_float(_t(input)) * ln2, _float(_t(other, input)) * ln2) / ln2


def logit(input, eps=None, *, out=None) -> Tensor:
    # log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps is given (zero gradient outside)
    x = _float(input)
    if eps is not None:
        x = arith.clamp(x, eps, 1 - eps)
    return arith.log(x / (1 - x))


def sinc(input, *, out=None) -> Tensor:
    # sin(pi x) / (pi x), 1 at x = 0 (gradient 0 there: the division sees a safe x)
    x = _float(input)
    zero = x == 0
    px = arith.where(zero, x * 0 + 1, x) * math.pi
    return arith.where(zero, x * 0 + 1, arith.sin(px) / px)


def hypot(input, other, *, out=None) -> Tensor:
    # sqrt(a^2 + b^2)
    return arith.sqrt(input * input + other * other)


def rad2deg(input, *, out=None) -> Tensor:
    # x * 180 / pi
    return _float(input) * (180.0 / math.pi)


def deg2rad(input, *, out=None) -> Tensor:
    # x * pi / 180
    return _float(input) * (math.pi / 180.0)


def copysign(input, other, *, out=None) -> Tensor:
    # |a| with the sign bit of b; the gradient reaches a only (torch's)
    a = _float(_t(input))
    b = _t(other, a)
    neg = Tensor._wrap(np.broadcast_to(signbit_np(b._data), np.broadcast_shapes(a.shape, b.shape)))
    res = arith.where(neg, -arith.abs(a), arith.abs(a))
    if b.requires_grad:  # torch gives b a zero gradient: sign(b) * 0 (NaN-safe) carries it
        res = res + (arith.sign(b) * 0).nan_to_num(0.0)
    return res


def ldexp(input, other, *, out=None) -> Tensor:
    # x * 2^n
    x = _float(input)
    n = _t(other)
    return x * arith.exp2(n if n.dtype.is_floating_point else n.to(x.dtype))


def positive(input) -> Tensor:
    """The input itself (torch raises for bool)."""
    if input.dtype.name == "bool":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def sgn(input, *, out=None) -> Tensor:
    """sign(x) for real x (x / |x| for complex, 0 at 0)."""
    if input.dtype.is_complex:
        mag = arith.abs(input)
        return arith.where(mag == 0, input * 0, input / arith.where(mag == 0, mag + 1, mag))
    return arith.sign(input)


def signbit(input, *, out=None) -> Tensor:
    return Tensor._wrap(signbit_np(input._data))


def heaviside(input, values, *, out=None) -> Tensor:
    # 0 for x < 0, values for x == 0, 1 for x > 0 (no gradient, as torch)
    if input.dtype is not values.dtype:
        raise RuntimeError(
            f"heaviside is not yet implemented for tensors with different dtypes, got {input.dtype} and {values.dtype}"
        )
    x, v = input._data, values._data
    return Tensor._wrap(np.where(x == 0, v, (x > 0).astype(x.dtype)).astype(x.dtype))


def _int_binary(name, fn, input, other):
    a, b = _t(input)._data, _t(other)._data
    dt = result_dtype(a, b)
    if dt.is_floating_point or dt.is_complex or dt.name == "bool":
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{dt.scalar_name}'")
    return Tensor._wrap(fn(a, b).astype(dt.np))


def gcd(input, other, *, out=None) -> Tensor:
    return _int_binary("gcd", np.gcd, input, other)


def lcm(input, other, *, out=None) -> Tensor:
    return _int_binary("lcm", np.lcm, input, other)


def frexp(input, *, out=None):
    """(mantissa, exponent) with x = mantissa * 2^exponent, |mantissa| in [0.5, 1)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = np.frexp(input._data)
    return Tensor._wrap(m.astype(input.dtype.np)), Tensor._wrap(e.astype(np.int32))
