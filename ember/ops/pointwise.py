"""Elementwise primitives. Each Function: forward/backward on raw arrays, formula in a comment."""

from __future__ import annotations

import numpy as np

from ember import _backend, _dtype
from ember._backend import of
from ember.autograd.function import Function
from ember.ops._promote import binary, float_binary, to_float
from ember.ops._util import unbroadcast


def _shape(v):
    return v.shape if hasattr(v, "shape") else ()


class Add(Function):
    # d(a + b) = da + db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (unbroadcast(g, ctx.sa) if n[0] else None, unbroadcast(g, ctx.sb) if n[1] else None)


class Sub(Function):
    # d(a - b) = da - db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        if a.dtype == np.bool_:
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. "
                "Use the `^` or `logical_xor()` operator instead."
            )
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return a - b

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
        if n:
            ctx.save_for_backward(a if n[1] else None, b if n[0] else None)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        return (unbroadcast(g * b, ctx.sa) if n[0] else None, unbroadcast(g * a, ctx.sb) if n[1] else None)


class Div(Function):
    # d(a / b) = da / b - a db / b^2
    @staticmethod
    def forward(ctx, a, b, rounding_mode=None):
        if rounding_mode is None:
            a, b = float_binary(a, b)
            ctx.save_for_backward(a, b)
            ctx.sa, ctx.sb = _shape(a), _shape(b)
            return a / b
        a, b = binary(a, b)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        ctx.save_for_backward(None, None)
        if rounding_mode == "floor":
            return of(a).floor_divide(a, b) if a.dtype.kind in "iu" else of(a).floor(a / b)
        if rounding_mode == "trunc":
            return of(a).trunc(a / b).astype(a.dtype) if a.dtype.kind in "iu" else of(a).trunc(a / b)
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        if a is None and b is None:  # rounding division: gradient is zero almost everywhere
            return (unbroadcast(g * 0, ctx.sa) if n[0] else None, unbroadcast(g * 0, ctx.sb) if n[1] else None, None)
        ga = unbroadcast(g / b, ctx.sa) if n[0] else None
        gb = unbroadcast(-g * a / (b * b), ctx.sb) if n[1] else None
        return ga, gb, None


class Pow(Function):
    # d(a ** b) = b a^(b-1) da + a^b ln(a) db
    @staticmethod
    def forward(ctx, a, b):
        a, b = binary(a, b)
        if a.dtype.kind in "iu" and isinstance(b, np.ndarray) and b.dtype.kind in "iu" and (b < 0).any():
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = a**b
        ctx.save_for_backward(a, b, out)
        ctx.sa, ctx.sb = _shape(a), _shape(b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        n = ctx.needs_input_grad
        xp = of(a)
        ga = gb = None
        if n[0]:
            if isinstance(b, (int, float)):
                ga = g * b * a ** (b - 1) if b != 0 else g * 0
            else:
                ga = unbroadcast(xp.where(b == 0, 0.0, g * b * a ** (b - 1)), ctx.sa)
        if n[1]:
            gb = unbroadcast(xp.where(a == 0, 0.0, g * out * xp.log(xp.where(a == 0, 1.0, a))), ctx.sb)
        return ga, gb


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


class Exp(Function):
    # d exp(a) = exp(a) da
    @staticmethod
    def forward(ctx, a):
        out = of(a).exp(to_float(a))
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
        with np.errstate(divide="ignore", invalid="ignore"):
            return of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved[0]


class Sqrt(Function):
    # d sqrt(a) = da / (2 sqrt(a))
    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            out = of(a).sqrt(to_float(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        with np.errstate(divide="ignore"):
            return g / (2 * ctx.saved[0])


class Tanh(Function):
    # d tanh(a) = (1 - tanh(a)^2) da
    @staticmethod
    def forward(ctx, a):
        out = of(a).tanh(to_float(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return g * (1 - y * y)


class Sigmoid(Function):
    # d sigma(a) = sigma(a) (1 - sigma(a)) da
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        xp = of(a)
        # 1/(1+e^-a) overflows for a << 0; tanh form is stable and one pass
        out = xp.tanh(a * 0.5)
        out *= 0.5
        out += 0.5
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return g * y * (1 - y)


class Relu(Function):
    # d relu(a) = [a > 0] da
    @staticmethod
    def forward(ctx, a):
        out = of(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved[0] > 0)


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


class Clone(Function):
    # d clone(a) = da
    @staticmethod
    def forward(ctx, a):
        return a.copy()

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
