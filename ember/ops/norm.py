"""Normalisation primitives (batch / layer / group norm), each one fused node with the closed-form
backward  dx = invstd/M * (M*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)),  dxhat = dy * weight.

BatchNorm's named fast path `forward_rows` / `backward_rows` (NumPy, weight and bias of the input's
dtype) works on the (A, C, B) channel view of the input's own memory (batch-last (C, H, W, N) is
(1, C, H*W*N); NCHW-contiguous is (N, C, H*W)) with in-place ufuncs: two new arrays per forward and
one per backward instead of five and eight; the general path is its oracle. The normalised input
is kept in `saved`, so backward releases it as it releases every saved array."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._layout import is_batch_last, to_batch_last
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
        if uses_rows(x, w, b):
            return BatchNorm.forward_rows(ctx, x, w, b, mean, var, eps, training, stats)
        return BatchNorm.forward_general(ctx, x, w, b, mean, var, eps, training, stats)

    @staticmethod
    def backward(ctx, g):
        if ctx.meta[0] and type(g) is np.ndarray:  # forward_rows ran (create_graph: general)
            return BatchNorm.backward_rows(ctx, g)
        return BatchNorm.backward_general(ctx, g)

    @staticmethod
    def forward_general(ctx, x, w, b, mean, var, eps, training, stats):
        """The general path: any array module, mixed dtypes, any layout."""
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
            ctx.save_for_backward(w, xhat, invstd)
            ctx.meta = (False, axes, cshape, training)
        if stats is not None:  # functional.batch_norm updates the running buffers from these
            stats.extend((mean, var))
        return out

    @staticmethod
    def backward_general(ctx, g):
        w, xhat, invstd = ctx.saved
        _, axes, cshape, training = ctx.meta
        if type(g) is np.ndarray and g.ndim == 4 and is_batch_last(xhat) and not is_batch_last(g):
            g = to_batch_last(g).transpose(3, 0, 1, 2)  # ufuncs over mixed layouts are slow
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

    @staticmethod
    def forward_rows(ctx, x, w, b, mean, var, eps, training, stats):
        """Fast path: per-channel statistics and the affine map on the channel view, in place."""
        c = x.shape[1]
        x3 = _channels(x)
        m = x3.shape[0] * x3.shape[2]
        out = np.empty_like(x)  # x's layout (order K): batch-last stays batch-last
        o3 = _channels(out)
        if training:
            mean = x3.sum((0, 2), keepdims=True) / x.dtype.type(m)
        else:
            mean = mean.reshape(1, c, 1).astype(x.dtype, copy=False)
        xhat = np.subtract(x3, mean)  # a new array in the view's (hence x's) layout
        if training:
            np.multiply(xhat, xhat, out=o3)  # out as scratch: pairwise sums, as the general path
            var = o3.sum((0, 2), keepdims=True) / x.dtype.type(m)
        else:
            var = var.reshape(1, c, 1)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat *= invstd
        if w is not None:
            np.multiply(xhat, w.reshape(1, c, 1), out=o3)
        else:
            o3[...] = xhat
        if b is not None:
            o3 += b.reshape(1, c, 1)
        if ctx.needs_input_grad:  # the same record as forward_general's: either backward can run
            cshape = (1, c) + (1,) * (x.ndim - 2)
            ctx.save_for_backward(w, _unchannels(xhat, x.shape), invstd.reshape(cshape))
            ctx.meta = (True, (0,) + tuple(range(2, x.ndim)), cshape, training)
        if stats is not None:
            stats.extend((mean, var))
        return out

    @staticmethod
    def backward_rows(ctx, g):
        """gx = (g - gb/M - xhat * gw/M) * w * invstd with gb = sum g, gw = sum g*xhat per channel,
        in one new array (in xhat's layout)."""
        w, xhat4, invstd = ctx.saved
        _, _, cshape, training = ctx.meta
        need = ctx.needs_input_grad
        c = cshape[1]
        xhat = _channels(xhat4)
        g3 = _channels_like(g, xhat.shape)
        m = xhat.shape[0] * xhat.shape[2]
        buf = np.empty_like(xhat)
        gb = g3.sum((0, 2)) if need[2] or (need[0] and training) else None
        gw = None
        if need[1] or (need[0] and training):
            np.multiply(g3, xhat, out=buf)
            gw = buf.sum((0, 2))
        gx = None
        if need[0]:
            scale = invstd.reshape(c) * w if w is not None else invstd.reshape(c)
            if training:
                np.multiply(xhat, (gw / m).reshape(1, c, 1), out=buf)
                np.subtract(g3, buf, out=buf)
                buf -= (gb / m).reshape(1, c, 1)
                buf *= scale.reshape(1, c, 1)
            else:
                np.multiply(g3, scale.reshape(1, c, 1), out=buf)
            gx = _unchannels(buf, xhat4.shape)
        return gx, (gw if need[1] else None), (gb if need[2] else None), None, None, None, None


def uses_rows(x, w, b) -> bool:
    """The predicate for BatchNorm's channel-view fast path: a NumPy input that is batch-last or
    C-contiguous, weight and bias absent or of its dtype."""
    if type(x) is not np.ndarray or x.ndim < 2 or not (x.flags.c_contiguous or is_batch_last(x)):
        return False
    return all(p is None or (type(p) is np.ndarray and p.dtype == x.dtype) for p in (w, b))


def _channels(a):
    """The (A, C, B) view of a batch-last (C, H, W, N) buffer (A = 1) or a C-contiguous array (A = N)."""
    if a.flags.c_contiguous:
        return a.reshape(a.shape[0], a.shape[1], -1)
    return a.transpose(1, 2, 3, 0).reshape(1, a.shape[1], -1)


def _channels_like(g, shape3):
    """g (the output's gradient, NCHW-shaped, any layout) as an (A, C, B) view laid out as xhat."""
    if shape3[0] == 1 and g.ndim == 4:  # xhat batch-last
        return to_batch_last(g).reshape(shape3)
    return np.ascontiguousarray(g).reshape(shape3)


def _unchannels(a3, shape):
    """Inverse of _channels: the NCHW-shaped view of an (A, C, B) array."""
    if a3.shape[0] == 1 and len(shape) == 4:
        n, c, h, w = shape
        return a3.reshape(c, h, w, n).transpose(3, 0, 1, 2)
    return a3.reshape(shape)


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
        xhat = xc
        xhat *= invstd  # in place: the same products as xc * invstd, one array less
        if w is not None:
            out = xhat * w
            if b is not None:
                if b.dtype == out.dtype and xp is np:
                    out += b
                else:
                    out = out + b
        else:
            out = xhat + b if b is not None else xhat
        if ctx.needs_input_grad:
            ctx.save_for_backward(w)
            ctx.meta = (xhat, invstd, axes)
        return out

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved
        xhat = ctx.meta[0]
        if (
            type(g) is np.ndarray
            and type(xhat) is np.ndarray
            and g.dtype == xhat.dtype
            and g.shape == xhat.shape
            and (w is None or w.dtype == xhat.dtype)
        ):
            return LayerNorm.backward_buffers(ctx, g)
        return LayerNorm.backward_general(ctx, g)

    @staticmethod
    def backward_general(ctx, g):
        """The general path: any array module, create_graph (g a Tensor), mixed dtypes."""
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

    @staticmethod
    def backward_buffers(ctx, g):
        """Fast path of backward_general (NumPy, one dtype): _norm_grad's products and sums in
        the same order (bit-identical), on two buffers instead of eight new arrays."""
        (w,) = ctx.saved
        xhat, invstd, axes = ctx.meta
        need = ctx.needs_input_grad
        lead = tuple(range(g.ndim - len(axes)))
        gx = gw = gb = None
        t = np.multiply(g, xhat) if need[1] else np.empty_like(xhat)
        if need[1]:
            gw = t.sum(lead)
        if need[2]:
            gb = g.sum(lead)
        if need[0]:
            gx = g * w if w is not None else g.copy()
            mean_g = gx.mean(axes, keepdims=True)
            np.multiply(gx, xhat, out=t)
            mean_gx = t.mean(axes, keepdims=True)
            gx -= mean_g
            np.multiply(xhat, mean_gx, out=t)
            gx -= t
            gx *= invstd
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
