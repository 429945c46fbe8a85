"""Fused neural-network primitives (linear, activations, softmax, losses, dropout, embedding).

Forward/backward run on raw arrays; backward formulas use operators and `of(x).fn` so that
they are recorded under create_graph. Constants are Python floats so float32 stays float32.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import unbroadcast
from ember.ops.pointwise import _erf

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_PI = 0.7978845608028654  # sqrt(2 / pi)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


class Linear(Function):
    # y = x W^T + b;  dx = g W,  dW = g^T x,  db = sum_batch g
    _name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        out = x @ w.T
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        n = ctx.needs_input_grad
        gx = gw = gb = None
        if n[0]:
            gx = g @ w
        if n[1] or (len(n) > 2 and n[2]):
            g2 = g.reshape(-1, w.shape[0])
            if n[1]:
                gw = g2.T @ x.reshape(-1, w.shape[1])
            if len(n) > 2 and n[2]:
                gb = of(g2).sum(g2, axis=0)
        return gx, gw, gb


class LeakyRelu(Function):
    # y = x if x > 0 else s x;  dy = 1 or s
    @staticmethod
    def forward(ctx, x, slope):
        pos = x > 0
        ctx.save_for_backward(pos)
        ctx.slope = slope
        return of(x).where(pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved
        return of(g).where(pos, g, g * ctx.slope), None


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


def log_softmax_array(x, dim: int):
    xp = of(x)
    s = x - x.max(axis=dim, keepdims=True)
    return s - xp.log(xp.exp(s).sum(axis=dim, keepdims=True))


def _reduce(xp, loss, reduction: str, denom=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=loss.dtype)
    d = loss.size if denom is None else denom
    return xp.asarray(total / d, dtype=loss.dtype)


def _grad_scale(g, reduction: str, denom):
    """The incoming gradient per element: g itself ('none') or g / denom ('mean')."""
    if reduction == "mean":
        return g / denom
    return g


class SoftmaxCrossEntropy(Function):
    # loss_i = -sum_c A_ic log softmax(x)_ic;  dx_i = g_i (softmax(x)_i sum_c A_ic - A_i)
    _name = "NllLossBackward0"

    # A holds the (weighted, smoothed) target distribution; rows with ignore_index are zero.
    @staticmethod
    def forward(ctx, x2, coef, reduction, denom):
        logp = log_softmax_array(x2, 1)
        prod = coef * logp
        prod[coef == 0] = 0  # 0 * -inf is NaN; torch never reads a class whose coefficient is 0
        loss = -prod.sum(axis=1)
        ctx.save_for_backward(logp, coef)
        ctx.reduction, ctx.denom = reduction, denom
        return _reduce(of(x2), loss, reduction, denom)

    @staticmethod
    def backward(ctx, g):
        logp, coef = ctx.saved
        xp = of(logp)
        gs = _grad_scale(g, ctx.reduction, ctx.denom)
        if ctx.reduction == "none":
            gs = gs.reshape(-1, 1)
        rows = xp.sum(coef, axis=1, keepdims=True)
        return gs * (xp.exp(logp) * rows - coef), None, None, None


class ClassCrossEntropy(Function):
    # loss = -(1/M) sum_i log softmax(x)_{i,t_i}  ('sum': no 1/M);  dx = g/M (softmax(x) - onehot(t))
    # The common case of SoftmaxCrossEntropy (class indices, no weights, no smoothing, every
    # target a valid class) without building the (M, C) coefficient matrix.
    _name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x2, t, reduction):
        xp = of(x2)
        logp = log_softmax_array(x2, 1)
        total = -logp[xp.arange(t.shape[0]), t].sum()
        ctx.save_for_backward(logp, t)
        ctx.reduction = reduction
        if reduction == "sum":
            return xp.asarray(total, dtype=logp.dtype)
        return xp.asarray(total / t.shape[0], dtype=logp.dtype)

    @staticmethod
    def backward(ctx, g):
        logp, t = ctx.saved
        xp = of(logp)
        dx = xp.exp(logp)
        dx[xp.arange(t.shape[0]), t] -= 1
        dx *= g / t.shape[0] if ctx.reduction == "mean" else g
        return dx, None, None


class WeightedNll(Function):
    # loss_i = -sum_c A_ic x_ic;  dx = -g A
    _name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x2, coef, reduction, denom):
        loss = -(coef * x2).sum(axis=1)
        ctx.save_for_backward(coef)
        ctx.reduction, ctx.denom = reduction, denom
        return _reduce(of(x2), loss, reduction, denom)

    @staticmethod
    def backward(ctx, g):
        (coef,) = ctx.saved
        gs = _grad_scale(g, ctx.reduction, ctx.denom)
        if ctx.reduction == "none":
            gs = gs.reshape(-1, 1)
        return -(gs * coef), None, None, None


class _PairLoss(Function):
    """Elementwise loss l(x - y) with reduction; subclasses give l and dl/dd on d = x - y."""

    @staticmethod
    def _loss(xp, d, p):
        raise NotImplementedError

    @staticmethod
    def _deriv(xp, d, p):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, y, reduction, p=None):
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.p = reduction, p
        ctx.sx, ctx.sy = x.shape, y.shape
        d = x - y
        ctx.n = d.size
        return _reduce(of(x), cls._loss(of(x), d, p), reduction)

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved
        d = x - y
        gd = _grad_scale(g, ctx.reduction, ctx.n) * cls._deriv(of(d), d, ctx.p)
        n = ctx.needs_input_grad
        return (
            unbroadcast(gd, ctx.sx) if n[0] else None,
            unbroadcast(-gd, ctx.sy) if n[1] else None,
            None,
            None,
        )


class MseLoss(_PairLoss):
    # l = (x - y)^2;  dl/dx = 2 (x - y)
    _loss = staticmethod(lambda xp, d, p: d * d)
    _deriv = staticmethod(lambda xp, d, p: 2.0 * d)


class L1Loss(_PairLoss):
    # l = |x - y|;  dl/dx = sign(x - y)
    _loss = staticmethod(lambda xp, d, p: xp.abs(d))
    _deriv = staticmethod(lambda xp, d, p: xp.sign(d))


class SmoothL1Loss(_PairLoss):
    # l = 0.5 d^2 / beta if |d| < beta else |d| - beta / 2;  dl/dd = d / beta or sign(d)
    _loss = staticmethod(
        lambda xp, d, b: xp.where(xp.abs(d) < b, 0.5 * d * d / (b or 1.0), xp.abs(d) - 0.5 * b)
    )
    _deriv = staticmethod(lambda xp, d, b: xp.where(xp.abs(d) < b, d / (b or 1.0), xp.sign(d)))


class HuberLoss(_PairLoss):
    # l = 0.5 d^2 if |d| < delta else delta (|d| - delta / 2);  dl/dd = d or delta sign(d)
    _loss = staticmethod(lambda xp, d, k: xp.where(xp.abs(d) < k, 0.5 * d * d, k * (xp.abs(d) - 0.5 * k)))
    _deriv = staticmethod(lambda xp, d, k: xp.where(xp.abs(d) < k, d, k * xp.sign(d)))


class BinaryCrossEntropy(Function):
    # l = -w (y log x + (1 - y) log(1 - x)), logs clamped >= -100;  dl/dx = w (x - y) / max(x (1 - x), 1e-12)
    @staticmethod
    def forward(ctx, x, y, w, reduction):
        xp = of(x)
        if ((x < 0) | (x > 1)).any():
            raise RuntimeError("all elements of input should be between 0 and 1")
        lx = xp.maximum(xp.log(x), -100.0)
        l1x = xp.maximum(xp.log1p(-x), -100.0)
        loss = -(y * lx + (1.0 - y) * l1x)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w)
        ctx.reduction = reduction
        ctx.shapes = (x.shape, None if w is None else w.shape)
        ctx.out_shape = loss.shape
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, w = ctx.saved
        xp = of(x)
        gs = _grad_scale(g, ctx.reduction, _size(ctx.out_shape))
        n = ctx.needs_input_grad
        gx = gy = None
        if n[0]:
            gx = gs * (x - y) / xp.maximum(x * (1.0 - x), 1e-12)
            if w is not None:
                gx = unbroadcast(gx * w, ctx.shapes[0])
        if n[1]:
            gy = -gs * (xp.maximum(xp.log(x), -100.0) - xp.maximum(xp.log1p(-x), -100.0))
            if w is not None:
                gy = gy * w
        return gx, gy, None, None


class BinaryCrossEntropyWithLogits(Function):
    # l = w ((1 - y) x + L softplus(-x)), L = 1 + (pw - 1) y;  dl/dx = w ((1 - y) - L sigmoid(-x))
    @staticmethod
    def forward(ctx, x, y, w, pw, reduction):
        xp = of(x)
        sp = xp.maximum(-x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x)
        big = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
        loss = (1.0 - y) * x + big * sp
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w, pw)
        ctx.reduction = reduction
        ctx.out_shape = loss.shape
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw = ctx.saved
        xp = of(x)
        gs = _grad_scale(g, ctx.reduction, _size(ctx.out_shape))
        n = ctx.needs_input_grad
        sneg = 1.0 / (1.0 + xp.exp(x))  # sigmoid(-x)
        big = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
        gx = gy = None
        if n[0]:
            gx = gs * ((1.0 - y) - big * sneg)
            if w is not None:
                gx = gx * w
            gx = unbroadcast(gx, x.shape)
        if n[1]:
            sp = xp.maximum(-x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))
            gy = gs * (-x + (0.0 if pw is None else (pw - 1.0) * sp))
            if w is not None:
                gy = gy * w
            gy = unbroadcast(gy, y.shape)
        return gx, gy, None, None, None


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class Dropout(Function):
    # y = x m / (1 - p), m ~ Bernoulli(1 - p);  dx = g m / (1 - p)
    _name = "MulBackward0"

    @staticmethod
    def forward(ctx, x, mask, scale):
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return x * mask * scale if scale != 1.0 else x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return g * mask * ctx.scale, None, None


class EmbeddingLookup(Function):
    # y = W[idx];  dW[k] = sum_{idx == k} g  (rows at padding_idx get no gradient)
    _name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, w, idx, padding_idx=None):
        ctx.save_for_backward(idx)
        ctx.wshape, ctx.padding_idx = w.shape, padding_idx
        return w[idx]

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved
        if not isinstance(g, (np.ndarray,)) and hasattr(g, "_data"):  # create_graph: of(g) is graph_math
            gw = of(g).zeros(ctx.wshape, dtype=g._data.dtype)
            gw = gw.index_add(0, _tensor_of(idx).reshape(-1), g.reshape(-1, ctx.wshape[1]))
        else:
            xp = of(g)
            gw = xp.zeros(ctx.wshape, dtype=g.dtype)
            flat = idx.reshape(-1)
            g2 = g.reshape(-1, ctx.wshape[1])
            if xp is np:
                np.add.at(gw, flat, g2)
            else:
                import cupyx

                cupyx.scatter_add(gw, flat, g2)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None


def _tensor_of(arr):
    return arr if isinstance(arr, Tensor) else Tensor._wrap(arr)


class HookIdentity(Function):
    # y = a;  da = hook(g) or g   (lets Module backward hooks see and replace gradients)
    _name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, a, hook):
        ctx.hook = hook
        return a.view()

    @staticmethod
    def backward(ctx, g):
        r = ctx.hook(g if isinstance(g, Tensor) else Tensor._wrap(g))
        if r is None:
            return g, None
        return (r if isinstance(g, Tensor) else r._data), None
