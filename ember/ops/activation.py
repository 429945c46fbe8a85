"""Activation primitives with their own backward (the ones not in ops/pointwise.py):
leaky_relu, elu/selu/celu, gelu, silu, softplus, hardtanh, prelu."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.graph.node import Function
from ember.ops import kernels
from ember.ops._util import unbroadcast
from ember.ops.pointwise import _erf

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_PI = 0.7978845608028654  # sqrt(2 / pi)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


class LeakyRelu(Function):
    # y = x if x > 0 else s x;  dy = 1 or s
    takes_batch_last = True  # elementwise: any layout (a DCGAN discriminator's convolutions)

    @staticmethod
    def forward(ctx, x, slope):
        ctx.slope = slope
        if uses_leaky_kernel(x, slope):
            y = kernels.leaky_relu_forward(x, slope)
            ctx.save_for_backward(y)
            ctx.from_output = True
            return y
        pos = x > 0  # the general path: any slope, CuPy
        ctx.save_for_backward(pos)
        ctx.from_output = False
        return of(x).where(pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved
        if ctx.from_output:
            if kernels.takes_kernel(saved, g):
                return kernels.leaky_relu_backward(saved, g, ctx.slope), None
            saved = saved > 0
        return of(g).where(saved, g, g * ctx.slope), None


def uses_leaky_kernel(x, slope) -> bool:
    """The predicate for LeakyRelu's kernel (ops/kernels.py): a dense NumPy float array and a
    slope in (0, 1], where max(x, s x) is the same function (s = 0 would give max(inf * 0, inf) = NaN)."""
    return kernels.takes_kernel(x) and x.dtype.kind == "f" and 0.0 < slope <= 1.0


class Elu(Function):
    # y = scale * (x if x > 0 else alpha (e^x - 1));  dy = scale or scale * alpha e^x
    @staticmethod
    def forward(ctx, x, alpha, scale=1.0):
        xp = of(x)
        pos = x > 0
        neg = alpha * xp.expm1(xp.minimum(x, 0.0))
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale = alpha, scale
        out = xp.where(pos, x, neg)
        return out * scale if scale != 1.0 else out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = of(x)
        d = xp.where(x > 0, 1.0, ctx.alpha * xp.exp(xp.minimum(x, 0.0)))
        return g * d * ctx.scale if ctx.scale != 1.0 else g * d, None, None


class Gelu(Function):
    # y = x Phi(x);  dy = Phi(x) + x phi(x)   ('tanh': Phi ~ (1 + tanh(k (x + 0.044715 x^3))) / 2)
    @staticmethod
    def forward(ctx, x, approximate="none"):
        xp = of(x)
        ctx.save_for_backward(x)
        ctx.approx = approximate
        if approximate == "tanh":
            return 0.5 * x * (1.0 + xp.tanh(_SQRT_2_PI * (x + 0.044715 * x * x * x)))
        return 0.5 * x * (1.0 + _erf(xp, x * 0.7071067811865476))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = of(x)
        if ctx.approx == "tanh":
            inner = _SQRT_2_PI * (x + 0.044715 * x * x * x)
            t = xp.tanh(inner)
            d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_PI * (1.0 + 3 * 0.044715 * x * x)
        else:
            if xp is np or hasattr(xp, "ndarray"):
                cdf = 0.5 * (1.0 + _erf(xp, x * 0.7071067811865476))
            else:
                cdf = 0.5 * (1.0 + xp.erf(x * 0.7071067811865476))
            d = cdf + x * _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
        return g * d, None


class Silu(Function):
    # y = x sigmoid(x);  dy = s (1 + x (1 - s))
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + of(x).exp(-x))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved
        return g * s * (1.0 + x * (1.0 - s))


class Softplus(Function):
    # y = log(1 + e^(b x)) / b  (x where b x > threshold);  dy = sigmoid(b x)
    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        xp = of(x)
        bx = x * beta
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        soft = (xp.maximum(bx, 0.0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return xp.where(bx > threshold, x, soft)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = of(x)
        bx = x * ctx.beta
        s = 1.0 / (1.0 + xp.exp(-bx))
        return g * xp.where(bx > ctx.threshold, 1.0, s), None, None


class Hardtanh(Function):
    # y = clamp(x, lo, hi);  dy = [lo < x < hi]
    @staticmethod
    def forward(ctx, x, lo=-1.0, hi=1.0):
        inside = (x > lo) & (x < hi)
        ctx.save_for_backward(inside)
        return of(x).clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved
        return of(g).where(inside, g, 0), None, None  # masked: NaN/inf gradients give 0 outside


class Prelu(Function):
    # y = x if x > 0 else a x;  dx = 1 or a,  da = sum(x [x <= 0] g) per channel
    @staticmethod
    def forward(ctx, x, a):
        shape = [1] * x.ndim
        if a.size > 1:
            shape[1 if x.ndim > 1 else 0] = a.size
        aw = a.reshape(shape)
        ctx.save_for_backward(x, aw)
        ctx.a_shape = a.shape
        return of(x).where(x > 0, x, aw * x)

    @staticmethod
    def backward(ctx, g):
        x, aw = ctx.saved
        xp = of(x)
        n = ctx.needs_input_grad
        pos = x > 0
        gx = xp.where(pos, g, g * aw) if n[0] else None
        ga = None
        if n[1]:
            ga = unbroadcast(xp.where(pos, 0.0 * g, g * x), aw.shape).reshape(ctx.a_shape)
        return gx, ga
