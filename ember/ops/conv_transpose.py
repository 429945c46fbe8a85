"""Transposed convolution: the gradient of a convolution with respect to its input.

forward: one GEMM per group (w^T x) gives the window contributions, col2im adds them into the
(padded) output in a (C, H, W, N) layout; backward: the output gradient's im2col windows give
grad_input (w @ cols, a plain convolution) and grad_weight (x @ cols^T), in batch slices.
1-d inputs arrive as (N, C, L) and are run with H = 1.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.autograd.function import Function
from ember.ops._parallel import split
from ember.ops.batch_last import col2im_add
from ember.ops.conv import _chunk, _from_batch_last, _im2col, _pad2, _windows


def transposed_size(size: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """Output length of a transposed convolution along one axis (torch's formula)."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


class ConvTranspose(Function):
    # y[n,o,s*h+d*i-p, s*w+d*j-p] += sum_c x[n,c,h,w] w[c,o,i,j]  (adjoint of the convolution)
    _name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dil, groups, out_pad):
        one_d = x.ndim == 3
        if one_d:
            x, w = x[:, :, None], w[:, :, None]
        xp = of(x)
        n, cin, h, wd = x.shape
        _, cog, kh, kw = w.shape
        g = groups
        (sh, sw), (ph, pw), (dh, dw), (oph, opw) = stride, pad, dil, out_pad
        oh = transposed_size(h, kh, sh, ph, dh, oph)
        ow = transposed_size(wd, kw, sw, pw, dw, opw)
        xt = xp.ascontiguousarray(x.transpose(1, 2, 3, 0)).reshape(g, cin // g, h * wd * n)
        wm = w.reshape(g, cin // g, cog * kh * kw)
        cols = xp.matmul(wm.transpose(0, 2, 1), xt).reshape(g * cog, kh, kw, h, wd, n)
        ypad = xp.zeros((g * cog, oh + 2 * ph, ow + 2 * pw, n), dtype=cols.dtype)
        if xp is np:  # channels are independent: split them across threads
            split(
                lambda lo, hi: col2im_add(ypad[lo:hi], cols[lo:hi], (kh, kw), stride, dil, (h, wd)),
                g * cog,
                cols.size,
            )
        else:
            col2im_add(ypad, cols, (kh, kw), stride, dil, (h, wd))
        y = _from_batch_last(xp, ypad[:, ph : ph + oh, pw : pw + ow])
        if b is not None:
            y += b.reshape(-1, 1, 1)
        need = ctx.needs_input_grad
        if need:
            ctx.save_for_backward(x if need[1] else None, w if need[0] else None)
            ctx.meta = (one_d, x.shape, w.shape, stride, pad, dil, g)
        return y[:, :, 0] if one_d else y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        one_d, (n, cin, h, wd), (_, cog, kh, kw), stride, (ph, pw), dil, g = ctx.meta
        need = ctx.needs_input_grad
        xp = of(gy)
        if one_d:
            gy = gy[:, :, None]
        gb = gy.sum((0, 2, 3)) if len(need) > 2 and need[2] else None
        if not (need[0] or need[1]):
            return None, None, gb
        win = _windows(_pad2(gy, ((ph, ph), (pw, pw))), (kh, kw), stride, dil)[:, :, :h, :wd]
        kk = cog * kh * kw
        wm = w.reshape(g, cin // g, kk) if need[0] else None
        xm = x.reshape(n, g, cin // g, h * wd) if need[1] else None
        gx = xp.empty((n, g, cin // g, h * wd), dtype=gy.dtype) if need[0] else None
        step = _chunk(n, kk * h * wd * g)
        parts = {}

        def run(lo, hi):  # each thread handles its part of the batch, in cache-sized slices
            acc = xp.zeros((g, cin // g, kk), dtype=gy.dtype) if need[1] else None
            for s in range(lo, hi, step):
                e = min(s + step, hi)
                cols = _im2col(xp, win[s:e]).reshape(e - s, g, kk, h * wd)
                if need[0]:
                    gx[s:e] = xp.matmul(wm, cols)
                if need[1]:
                    acc += xp.matmul(xm[s:e], cols.transpose(0, 1, 3, 2)).sum(0)
            parts[lo] = acc

        split(run, n, n * kk * h * wd * g * 2) if xp is np else run(0, n)
        gw = None
        if need[1]:
            gw = sum(parts[k] for k in sorted(parts)).reshape(g * (cin // g), cog, kh, kw)
            gw = gw[:, :, 0] if one_d else gw
        if need[0]:
            gx = gx.reshape(n, cin, h, wd)
            gx = gx[:, :, 0] if one_d else gx
        return gx, gw, gb
