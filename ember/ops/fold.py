"""Sliding-block primitives (torch's unfold / fold, i.e. im2col / col2im) and max unpooling."""

from __future__ import annotations

from ember._backend import of
from ember.graph.node import Function
from ember.ops.batch_last import col2im_add
from ember.ops.conv import _from_batch_last, _pad2, _windows


def im2col(x, k, dil, pad, stride):
    """(N, C, H, W) -> (N, C*KH*KW, L) blocks, channel-major then kernel row/col (torch's order)."""
    xp = of(x)
    win = _windows(_pad2(x, ((pad[0], pad[0]), (pad[1], pad[1]))), k, stride, dil)
    n, c, oh, ow, kh, kw = win.shape
    return xp.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * kh * kw, oh * ow)


def col2im(cols, hw, k, dil, pad, stride, blocks):
    """(N, C*KH*KW, L) -> (N, C, H, W): each block added back at its place (overlaps sum)."""
    xp = of(cols)
    n = cols.shape[0]
    (kh, kw), (ph, pw), (oh, ow) = k, pad, blocks
    c = cols.shape[1] // (kh * kw)
    gcol = cols.reshape(n, c, kh, kw, oh, ow).transpose(1, 2, 3, 4, 5, 0)
    acc = xp.zeros((c, hw[0] + 2 * ph, hw[1] + 2 * pw, n), dtype=cols.dtype)
    col2im_add(acc, gcol, k, stride, dil, (oh, ow))
    return _from_batch_last(xp, acc[:, ph : ph + hw[0], pw : pw + hw[1]])


class Im2Col(Function):
    # y[n, (c,i,j), l] = x_pad[n, c, s*h_l + d*i, s*w_l + d*j]; dx = col2im(dy)
    _name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, k, dil, pad, stride, blocks):
        ctx.meta = (x.shape[2:], k, dil, pad, stride, blocks)
        return im2col(x, k, dil, pad, stride)

    @staticmethod
    def backward(ctx, g):
        return col2im(g, *ctx.meta), None, None, None, None, None


class Col2Im(Function):
    # y = sum of the blocks of x at their places; dx = im2col(dy)
    _name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, x, hw, k, dil, pad, stride, blocks):
        ctx.meta = (k, dil, pad, stride)
        return col2im(x, hw, k, dil, pad, stride, blocks)

    @staticmethod
    def backward(ctx, g):
        return im2col(g, *ctx.meta), None, None, None, None, None, None


class MaxUnpool(Function):
    # y[n, c, idx[n,c,p]] = x[n, c, p] (zeros elsewhere); dx = dy gathered at idx
    _name = "MaxUnpool2DBackward0"

    @staticmethod
    def forward(ctx, x, idx, out_numel):
        xp = of(x)
        n, c = x.shape[:2]
        flat = idx.reshape(n, c, -1)
        out = xp.zeros((n, c, out_numel), dtype=x.dtype)
        rows = (xp.arange(n)[:, None, None], xp.arange(c)[None, :, None], flat)
        out[rows] = x.reshape(n, c, -1)
        ctx.meta = (x.shape, flat)
        return out

    @staticmethod
    def backward(ctx, g):
        shape, flat = ctx.meta
        xp = of(g)
        return xp.take_along_axis(g, flat, 2).reshape(shape), None, None
