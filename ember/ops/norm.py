"""Normalisation primitives (batch / layer / group norm), each one fused node with the closed-form
backward  dx = invstd/M * (M*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)),  dxhat = dy * weight."""

from __future__ import annotations

from ember._backend import of
from ember.graph.node import Function


def _norm_grad(gxh, xhat, invstd, axes):
    mean_g = gxh.mean(axes, keepdims=True)
    mean_gx = (gxh * xhat).mean(axes, keepdims=True)
    return (gxh - mean_g - xhat * mean_gx) * invstd


class BatchNorm(Function):
    # y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c   (batch stats in training, running in eval)
    _name = "NativeBatchNormBackward0"
    takes_batch_last = True  # reductions over (N, H, W) and per-channel broadcasts work in any layout

    @staticmethod
    def forward(ctx, x, w, b, mean, var, eps, training, stats=None):
        xp = of(x)
        axes = (0,) + tuple(range(2, x.ndim))
        cshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            mean = x.mean(axes, keepdims=True)
            xc = x - mean
            var = (xc * xc).mean(axes, keepdims=True)
        else:
            mean, var = mean.reshape(cshape), var.reshape(cshape)
            xc = x - mean
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = xc * invstd
        out = xhat * w.reshape(cshape) if w is not None else xhat
        if b is not None:
            out = out + b.reshape(cshape)
        if ctx.needs_input_grad:
            ctx.save_for_backward(w)
            ctx.meta = (xhat, invstd, axes, cshape, training)
        if stats is not None:  # functional.batch_norm updates the running buffers from these
            stats.extend((mean, var))
        return out

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved
        xhat, invstd, axes, cshape, training = ctx.meta
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[1]:
            gw = (g * xhat).sum(axes)
        if need[2]:
            gb = g.sum(axes)
        if need[0]:
            gxh = g * w.reshape(cshape) if w is not None else g
            if training:
                gx = _norm_grad(gxh, xhat, invstd, axes)
            else:
                gx = gxh * invstd
        return gx, gw, gb, None, None, None, None


class LayerNorm(Function):
    # y = (x - mean) / sqrt(var + eps) * w + b over the last len(normalized_shape) dims
    _name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, nd, eps):
        xp = of(x)
        axes = tuple(range(x.ndim - nd, x.ndim))
        mean = x.mean(axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axes, keepdims=True)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = xc * invstd
        out = xhat * w if w is not None else xhat
        if b is not None:
            out = out + b
        if ctx.needs_input_grad:
            ctx.save_for_backward(w)
            ctx.meta = (xhat, invstd, axes)
        return out

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved
        xhat, invstd, axes = ctx.meta
        need = ctx.needs_input_grad
        lead = tuple(range(g.ndim - len(axes)))
        gx = gw = gb = None
        if need[1]:
            gw = (g * xhat).sum(lead)
        if need[2]:
            gb = g.sum(lead)
        if need[0]:
            gx = _norm_grad(g * w if w is not None else g, xhat, invstd, axes)
        return gx, gw, gb, None, None


class GroupNorm(Function):
    # y = (x - mean_g) / sqrt(var_g + eps) * w_c + b_c, stats over each (sample, group)
    _name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, groups, eps):
        xp = of(x)
        n, c = x.shape[:2]
        xg = x.reshape(n, groups, -1)
        mean = xg.mean(2, keepdims=True)
        xc = xg - mean
        var = (xc * xc).mean(2, keepdims=True)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = (xc * invstd).reshape(x.shape)
        cshape = (1, c) + (1,) * (x.ndim - 2)
        out = xhat * w.reshape(cshape) if w is not None else xhat
        if b is not None:
            out = out + b.reshape(cshape)
        if ctx.needs_input_grad:
            ctx.save_for_backward(w)
            ctx.meta = (xhat, invstd, groups, cshape)
        return out

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved
        xhat, invstd, groups, cshape = ctx.meta
        need = ctx.needs_input_grad
        axes = (0,) + tuple(range(2, g.ndim))
        gx = gw = gb = None
        if need[1]:
            gw = (g * xhat).sum(axes)
        if need[2]:
            gb = g.sum(axes)
        if need[0]:
            n = g.shape[0]
            gxh = (g * w.reshape(cshape) if w is not None else g).reshape(n, groups, -1)
            gx = _norm_grad(gxh, xhat.reshape(n, groups, -1), invstd, (2,)).reshape(g.shape)
        return gx, gw, gb, None, None
