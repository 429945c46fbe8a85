"""Elementwise primitives. Each Function: forward/backward on raw arrays, formula in a comment."""

from __future__ import annotations

import numpy as np

from ember import _backend, _dtype
from ember._backend import of
from ember._layout import batch_last_seen, from_batch_last, is_batch_last
from ember._memory_format import copy_as
from ember.graph.node import Function
from ember.ops import kernels
from ember.ops._promote import binary, float_binary, result_dtype, scalar_array, to_float
from ember.ops._util import array_result, unbroadcast


def bcast_error(a, b) -> RuntimeError:
    """torch's message for operands whose shapes don't broadcast."""
    sa, sb = _shape(a), _shape(b)
    n = max(len(sa), len(sb))
    for i in range(1, n + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            return RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {n - i}"
            )
    return RuntimeError(f"shapes {list(sa)} and {list(sb)} cannot be broadcast")


def _check_shapes(a, b) -> None:
    if _shape(a) != _shape(b):
        try:
            np.broadcast_shapes(_shape(a), _shape(b))
        except ValueError:
            raise bcast_error(a, b) from None


def _shape(v):
    tv = type(v)
    if tv is float or tv is int:  # no failing hasattr: it costs an exception
        return ()
    return v.shape if hasattr(v, "shape") else ()


def _one_layout(a, b):
    """(a, b) with a batch-last array made NCHW when the other operand is a full NCHW array:
    NumPy adds mixed layouts 10x slower than it converts one (docs/performance.md)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 4 and a.shape == b.shape:
        bla, blb = (
            is_batch_last(a) and not a.flags.c_contiguous,
            is_batch_last(b) and not b.flags.c_contiguous,
        )
        if bla != blb:
            return (
                (from_batch_last(a.transpose(1, 2, 3, 0)), b)
                if bla
                else (a, from_batch_last(b.transpose(1, 2, 3, 0)))
            )
    return a, b


class Add(Function):
    # d(a + b) = da + db
    # Layout-aware (the residual add of a ResNet): two batch-last operands add in their layout
    # and the sum stays batch-last; with one batch-last and one NCHW operand, _one_layout.
    takes_batch_last = True

    @staticmethod
    def forward(ctx, a, b):
        if batch_last_seen[0]:
            a, b = _one_layout(a, b)
        a, b = binary(a, b)
        ctx.sa = a.shape if type(a) is np.ndarray else _shape(a)
        ctx.sb = b.shape if type(b) is np.ndarray else _shape(b)
        try:
            return a + b
        except ValueError:
            raise bcast_error(a, b) from None

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, ctx.sa) if n[0] else None, unbroadcast(g, ctx.sb) if n[1] else None)


class Sub(Function):
    # d(a - b) = da - db
    @staticmethod
    def forward(ctx, a, b):
        if getattr(a, "dtype", None) == np.bool_ or getattr(b, "dtype", None) == np.bool_:
            raise RuntimeError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. "
                "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        a, b = binary(a, b)
        ctx.sa = a.shape if type(a) is np.ndarray else _shape(a)
        ctx.sb = b.shape if type(b) is np.ndarray else _shape(b)
        try:
            return a - b
        except ValueError:
            raise bcast_error(a, b) from None

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, ctx.sa) if n[0] else None, unbroadcast(-g, ctx.sb) if n[1] else None)


class Mul(Function):
    # d(a * b) = b da + a db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        n = ctx.needs_input_grad
        if n and (n[0] or n[1]):
            ctx.saved = (a if n[1] else None, b if n[0] else None)
        ctx.sa = a.shape if type(a) is np.ndarray else _shape(a)
        ctx.sb = b.shape if type(b) is np.ndarray else _shape(b)
        try:
            return a * b
        except ValueError:
            raise bcast_error(a, b) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        return (unbroadcast(g * b, ctx.sa) if n[0] else None, unbroadcast(g * a, ctx.sb) if n[1] else None)


class Div(Function):
    # d(a / b) = da / b - a db / b^2
    @staticmethod
    def forward(ctx, a, b, rounding_mode=None):
        tb = type(b)
        if (
            rounding_mode is None
            and (tb is float or tb is int)
            and type(a) is np.ndarray
            and a.dtype.kind == "f"
        ):
            b = scalar_array(b, a.dtype)
            ctx.saved = (None, b)  # hot path: tensor / Python number needs only b
            ctx.sa, ctx.sb = a.shape, ()
            return array_result(a / b)
        if rounding_mode is None:
            a, b = float_binary(a, b)
            ctx.save_for_backward(a, b)
            ctx.sa, ctx.sb = _shape(a), _shape(b)
            try:
                return a / b
            except ValueError:
                raise bcast_error(a, b) from None
        a, b = binary(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        ctx.save_for_backward(None, None)
        ints = _int_kind(a) and _int_kind(b)
        if ints and (b == 0 if isinstance(b, int) else (b == 0).any()):
            raise RuntimeError("ZeroDivisionError")
        xp = of(a if hasattr(a, "shape") else b)
        if rounding_mode == "floor":
            return xp.floor_divide(a, b) if ints else xp.floor(a / b)
        if rounding_mode == "trunc":
            if ints:
                q = xp.floor_divide(a, b)
                return q + ((q < 0) & (q * b != a))
            return xp.trunc(a / b)
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        if a is None and b is None:  # rounding division: gradient is zero almost everywhere
            return (
                unbroadcast(g * 0, ctx.sa) if n[0] else None,
                unbroadcast(g * 0, ctx.sb) if n[1] else None,
                None,
            )
        ga = unbroadcast(g / b, ctx.sa) if n[0] else None
        gb = unbroadcast(-g * a / (b * b), ctx.sb) if n[1] else None
        return ga, gb, None


class Pow(Function):
    # d(a ** b) = b a^(b-1) da + a^b ln(a) db
    @staticmethod
    def forward(ctx, a, b):
        tb = type(b)
        if (tb is int or tb is float) and type(a) is np.ndarray and a.dtype.kind == "f":
            # hot path: float tensor ** Python number (x ** 2); no b gradient, out not needed
            out = array_result(a * a if b == 2 else a**b)
            ctx.save_for_backward(a, b, None)
            ctx.sa, ctx.sb = a.shape, ()
            return out
        a, b = binary(a, b)
        _check_shapes(a, b)
        if _int_kind(a) and _int_kind(b) and (b < 0 if isinstance(b, int) else (b < 0).any()):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = array_result(a**b)
        ctx.save_for_backward(a, b, out)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        tb = type(b)
        if tb is int or tb is float:  # tensor ** Python number: only `a` has a gradient
            if b == 2:
                ga = g * a
                ga += ga  # 2ga exactly (doubling rounds nothing), without a Python-float operand
                return ga, None
            return (g * b * a ** (b - 1) if b != 0 else g * 0), None
        n = ctx.needs_input_grad
        xp = of(g)
        ga = gb = None
        if n[0]:
            if isinstance(b, (int, float)):
                ga = g * b * a ** (b - 1) if b != 0 else g * 0
            else:
                ga = unbroadcast(xp.where(b == 0, 0.0, g * b * a ** (b - 1)), ctx.sa)
        if n[1]:
            safe = xp.where(a == 0, 1.0, a) if hasattr(a, "shape") else (a or 1.0)
            gb = unbroadcast(xp.where(a == 0, 0.0, g * out * xp.log(safe)), ctx.sb)
        return ga, gb


def _is_bool(v) -> bool:
    return isinstance(v, bool) or getattr(v, "dtype", None) == np.bool_


def _int_kind(v) -> bool:
    return (
        isinstance(v, int)
        and not isinstance(v, bool)
        or getattr(v, "dtype", None) is not None
        and v.dtype.kind in "iu"
    )


class Neg(Function):
    # d(-a) = -da
    @staticmethod
    def forward(ctx, a):
        if a.dtype == np.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                "to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Remainder(Function):
    # d (a mod b) = da - floor(a / b) db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        _check_shapes(a, b)
        ctx.save_for_backward(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return of(a).remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        gb = unbroadcast(-g * of(a).floor(a / b), ctx.sb) if n[1] else None
        return (unbroadcast(g, ctx.sa) if n[0] else None), gb


class Fmod(Function):
    # d fmod(a, b) = da - trunc(a / b) db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        _check_shapes(a, b)
        ctx.save_for_backward(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return of(a).fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        gb = unbroadcast(-g * of(a).trunc(a / b), ctx.sb) if n[1] else None
        return (unbroadcast(g, ctx.sa) if n[0] else None), gb


class Atan2(Function):
    # d atan2(a, b) = (b da - a db) / (a^2 + b^2)
    @staticmethod
    def forward(ctx, a, b):
        a, b = float_binary(a, b)
        _check_shapes(a, b)
        ctx.save_for_backward(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return of(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        d = g / (a * a + b * b)
        return (unbroadcast(d * b, ctx.sa) if n[0] else None), (unbroadcast(-d * a, ctx.sb) if n[1] else None)


class Maximum(Function):
    # d max(a, b) = [a > b] da + [b > a] db  (ties split the gradient in half, as torch)
    _np = "maximum"

    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        _check_shapes(a, b)
        ctx.save_for_backward(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return getattr(of(a), ctx._np)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        wa = (a > b) + (a == b) * 0.5 if ctx._np in ("maximum", "fmax") else (a < b) + (a == b) * 0.5
        if ctx._np in ("fmax", "fmin"):  # NaN loses: the other operand takes the gradient
            wa = of(a).where(of(b).isnan(b), 1.0, of(a).where(of(a).isnan(a), 0.0, wa))
        return (unbroadcast(g * wa, ctx.sa) if n[0] else None), (
            unbroadcast(g * (1 - wa), ctx.sb) if n[1] else None
        )


class Minimum(Maximum):
    _np = "minimum"


class Fmax(Maximum):
    _np = "fmax"


class Fmin(Maximum):
    _np = "fmin"


class Where(Function):
    # d where(c, x, y) = [c] dx + [not c] dy
    @staticmethod
    def forward(ctx, c, x, y):
        x, y = binary(x, y)
        ctx.c = c
        ctx.sx, ctx.sy = _shape(x), _shape(y)
        return of(c).where(c, x, y)

    @staticmethod
    def backward(ctx, g):
        c = ctx.c
        n = ctx.needs_input_grad
        gx = unbroadcast(of(g).where(c, g, 0.0), ctx.sx) if n[1] else None
        gy = unbroadcast(of(g).where(c, 0.0, g), ctx.sy) if n[2] else None
        return None, gx, gy


class Lerp(Function):
    # d lerp(a, b, w) = (1 - w) da + w db + (b - a) dw
    @staticmethod
    def forward(ctx, a, b, w):
        a, b = binary(a, b)
        _check_shapes(a, b)
        ctx.save_for_backward(a, b, w)
        ctx.sa, ctx.sb, ctx.sw = _shape(a), _shape(b), _shape(w)
        return a + w * (b - a)

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.saved
        n = ctx.needs_input_grad
        ga = unbroadcast(g * (1 - w), ctx.sa) if n[0] else None
        gb = unbroadcast(g * w, ctx.sb) if n[1] else None
        gw = unbroadcast(g * (b - a), ctx.sw) if n[2] else None
        return ga, gb, gw


class Clamp(Function):
    # d clamp(a, lo, hi) = [lo <= a <= hi] da + [a < lo] dlo + [a > hi] dhi
    @staticmethod
    def forward(ctx, a, lo, hi):
        rt = result_dtype(*(v for v in (a, lo, hi) if v is not None)).np
        a = a if a.dtype == rt else a.astype(rt)
        lo = lo.astype(rt) if hasattr(lo, "astype") and lo.dtype != rt else lo
        hi = hi.astype(rt) if hasattr(hi, "astype") and hi.dtype != rt else hi
        ctx.save_for_backward(a, lo, hi)
        ctx.sl, ctx.sh, ctx.sa = _shape(lo), _shape(hi), a.shape
        xp = of(a)
        out = a
        if lo is not None:
            out = xp.where(xp.isnan(a), a, xp.maximum(out, lo)) if _isf(a) else xp.maximum(out, lo)
        if hi is not None:
            out = xp.where(xp.isnan(a), a, xp.minimum(out, hi)) if _isf(a) else xp.minimum(out, hi)
        return out if out is not a else a.copy()

    @staticmethod
    def backward(ctx, g):
        a, lo, hi = ctx.saved
        n = ctx.needs_input_grad
        xp = of(g)
        # torch masks (where), it does not multiply: a NaN/inf gradient gives exactly 0 where clamped
        keep = (a >= lo) if lo is not None else None
        if hi is not None:
            keep = (a <= hi) if keep is None else keep & (a <= hi)
        ga = unbroadcast(xp.where(keep, g, 0), ctx.sa) if n[0] else None
        both = lo is not None and hi is not None
        glo = ghi = None
        if len(n) > 1 and n[1]:
            glo = unbroadcast(xp.where((a < lo) & (lo < hi) if both else (a < lo), g, 0), ctx.sl)
        if len(n) > 2 and n[2]:
            ghi = unbroadcast(xp.where((a > hi) | (hi < lo) if both else (a > hi), g, 0), ctx.sh)
        return ga, glo, ghi


def _isf(a) -> bool:
    return a.dtype.kind in "fc"


class NanToNum(Function):
    # d nan_to_num(a) = [a finite] da
    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        ctx.save_for_backward(a)
        if not _isf(a):
            return a.copy()
        return of(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        return g * of(a).isfinite(a), None, None, None


class Exp(Function):
    # d exp(a) = exp(a) da
    @staticmethod
    def forward(ctx, a):
        out = array_result(of(a).exp(to_float(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


class Log(Function):
    # d ln(a) = da / a
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        ctx.save_for_backward(a)
        return of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved[0]


class Sqrt(Function):
    # d sqrt(a) = da / (2 sqrt(a))
    @staticmethod
    def forward(ctx, a):
        out = array_result(of(a).sqrt(to_float(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved[0])


class Tanh(Function):
    # d tanh(a) = (1 - tanh(a)^2) da
    takes_batch_last = True

    @staticmethod
    def forward(ctx, a):
        out = array_result(of(a).tanh(to_float(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        if kernels.takes_kernel(y, g):
            return kernels.tanh_backward(y, g)
        return g * (1 - y * y)


class Sigmoid(Function):
    # d sigma(a) = sigma(a) (1 - sigma(a)) da
    takes_batch_last = True

    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        out = (
            kernels.sigmoid_forward(a)
            if kernels.takes_kernel(a)
            else array_result(of(a).tanh(a * 0.5) * 0.5 + 0.5)
        )
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        if kernels.takes_kernel(y, g):
            return kernels.sigmoid_backward(y, g)
        return (1 - y) * y * g  # the kernel's order of rounding


class Relu(Function):
    # d relu(a) = [a > 0] da  (exactly 0 where a <= 0, whatever g is)
    takes_batch_last = True

    @staticmethod
    def forward(ctx, a):
        out = kernels.relu_forward(a) if kernels.takes_kernel(a) else array_result(of(a).maximum(a, 0))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        if kernels.takes_kernel(y, g):
            return kernels.relu_backward(y, g)
        return of(y).where(y != 0, g, 0)


class Abs(Function):
    # d|a| = sign(a) da
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        return g * of(a).sign(a)


def _unary(name, deriv, save_out=False, comment=""):
    """Build a float unary primitive: forward `of(a).<name>`, backward `g * deriv(a, out)`."""

    def forward(ctx, a):
        a = to_float(a)
        out = array_result(name(of(a), a) if callable(name) else getattr(of(a), name)(a))
        ctx.save_for_backward(out if save_out else a)
        return out

    def backward(ctx, g):
        s = ctx.saved[0]
        return g * deriv(of(s), s)

    return forward, backward


def _make(cls_name, np_name, deriv, save_out=False):
    fwd, bwd = _unary(np_name, deriv, save_out)
    return type(cls_name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd)})


# formulas: d f(a) = f'(a) da, with f' written in terms of a (or of the saved output y)
Exp2 = _make("Exp2", "exp2", lambda xp, y: y * 0.6931471805599453, True)  # d 2^a = 2^a ln2
Expm1 = _make("Expm1", "expm1", lambda xp, y: y + 1, True)  # d (e^a - 1) = e^a
Log2 = _make("Log2", "log2", lambda xp, a: 1.4426950408889634 / a)  # d log2 a = 1/(a ln2)
Log10 = _make("Log10", "log10", lambda xp, a: 0.4342944819032518 / a)  # d log10 a = 1/(a ln10)
Log1p = _make("Log1p", "log1p", lambda xp, a: 1 / (a + 1))  # d ln(1+a) = 1/(1+a)
Sin = _make("Sin", "sin", lambda xp, a: xp.cos(a))  # d sin a = cos a
Cos = _make("Cos", "cos", lambda xp, a: -xp.sin(a))  # d cos a = -sin a
Tan = _make("Tan", "tan", lambda xp, y: 1 + y * y, True)  # d tan a = 1 + tan^2 a
Asin = _make("Asin", "arcsin", lambda xp, a: 1 / xp.sqrt(1 - a * a))  # d asin a = 1/sqrt(1-a^2)
Acos = _make("Acos", "arccos", lambda xp, a: -1 / xp.sqrt(1 - a * a))  # d acos a = -1/sqrt(1-a^2)
Atan = _make("Atan", "arctan", lambda xp, a: 1 / (1 + a * a))  # d atan a = 1/(1+a^2)
Sinh = _make("Sinh", "sinh", lambda xp, a: xp.cosh(a))  # d sinh a = cosh a
Cosh = _make("Cosh", "cosh", lambda xp, a: xp.sinh(a))  # d cosh a = sinh a
Rsqrt = _make(
    "Rsqrt", lambda xp, a: 1 / xp.sqrt(a), lambda xp, y: -0.5 * y * y * y, True
)  # d a^-1/2 = -a^-3/2 / 2
Reciprocal = _make("Reciprocal", lambda xp, a: 1 / a, lambda xp, y: -y * y, True)  # d 1/a = -1/a^2
Erf = _make(
    "Erf", lambda xp, a: _erf(xp, a), lambda xp, a: 1.1283791670955126 * xp.exp(-a * a)
)  # d erf a = 2/sqrt(pi) e^-a^2


def _erf(xp, a):
    if xp is not np:
        from cupyx.scipy.special import erf

        return erf(a)
    try:
        from scipy.special import erf
    except ImportError:  # exact but slow fallback without scipy
        import math

        return np.vectorize(math.erf, otypes=[a.dtype])(a)
    return erf(a).astype(a.dtype, copy=False)


class Sign(Function):
    # d sign(a) = 0
    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return a.copy() if a.dtype == np.bool_ else of(a).sign(a)

    @staticmethod
    def backward(ctx, g):
        return g * 0


class Floor(Sign):
    # d floor(a) = 0
    @staticmethod
    def forward(ctx, a):
        return a.copy() if a.dtype.kind in "biu" else of(a).floor(a)


class Ceil(Sign):
    # d ceil(a) = 0
    @staticmethod
    def forward(ctx, a):
        return a.copy() if a.dtype.kind in "biu" else of(a).ceil(a)


class Trunc(Sign):
    # d trunc(a) = 0
    @staticmethod
    def forward(ctx, a):
        return a.copy() if a.dtype.kind in "biu" else of(a).trunc(a)


class Round(Sign):
    # d round(a) = 0 (half to even, as torch)
    @staticmethod
    def forward(ctx, a, decimals=0):
        if a.dtype.kind in "biu":
            return a.copy()
        return of(a).round(a, decimals)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None

    _name = "RoundBackward1"


class Frac(Function):
    # d (a - trunc(a)) = da
    @staticmethod
    def forward(ctx, a):
        return a - of(a).trunc(a)

    @staticmethod
    def backward(ctx, g):
        return g


class Clone(Function):
    # d clone(a) = da  (the copy is laid out in memory_format; preserve keeps a's stride order)
    @staticmethod
    def forward(ctx, a, memory_format=None):
        return copy_as(a, memory_format)

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopy(Function):
    # d a.to(dtype, device) = grad.to(a's dtype, a's device)
    @staticmethod
    def forward(ctx, a, dt, dev):
        ctx.src_dtype = a.dtype
        ctx.src_device = _backend.device_of(a)
        out = a
        if dev is not None and dev != ctx.src_device:
            if dev.type == "cuda":
                out = _backend.cupy().asarray(out)
            else:
                out = _backend.to_numpy(out)
        if dt is not None and out.dtype != dt.np:
            out = out.astype(dt.np)
        elif out is a:
            out = a.copy()
        return out

    @staticmethod
    def backward(ctx, g):
        if hasattr(g, "_data"):
            return g.to(_dtype.from_np(ctx.src_dtype), ctx.src_device), None, None
        if _backend.device_of(g) != ctx.src_device:
            g = _backend.to_numpy(g) if ctx.src_device.type == "cpu" else _backend.cupy().asarray(g)
        return (g.astype(ctx.src_dtype) if g.dtype != ctx.src_dtype else g), None, None
