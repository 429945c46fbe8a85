"""Loss primitives: fused log-softmax + NLL (class indices or probabilities), weighted NLL,
the pairwise losses (MSE, L1, smooth L1, Huber), binary cross entropy (with logits)."""

from __future__ import annotations

import math

from ember._backend import of
from ember.graph.node import Function
from ember.ops._util import unbroadcast


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
    # target a valid class) without building the (M, C) coefficient matrix. With s = x - max,
    # log softmax(x)_{i,t} = s_{i,t} - log(sum_c e^s): only the target entries are formed, and
    # e^s with its row sums is kept for backward (softmax = e^s / sum), so the (M, C) work is
    # one subtract and one exp forward, one multiply backward.
    _name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x2, t, reduction):
        xp = of(x2)
        e = x2 - x2.max(axis=1, keepdims=True)
        rows = xp.arange(t.shape[0])
        st = e[rows, t]
        xp.exp(e, out=e)
        sums = e.sum(axis=1)
        total = -(st - xp.log(sums)).sum()
        ctx.save_for_backward(e, sums, t)
        ctx.reduction = reduction
        if reduction == "sum":
            return xp.asarray(total, dtype=e.dtype)
        return xp.asarray(total / t.shape[0], dtype=e.dtype)

    @staticmethod
    def backward(ctx, g):
        e, sums, t = ctx.saved
        xp = of(e)
        scale = g / t.shape[0] if ctx.reduction == "mean" else g
        dx = e * (scale / sums)[:, None]
        dx[xp.arange(t.shape[0]), t] -= scale
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
        gs = _grad_scale(g, ctx.reduction, math.prod(ctx.out_shape))
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
        gs = _grad_scale(g, ctx.reduction, math.prod(ctx.out_shape))
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
