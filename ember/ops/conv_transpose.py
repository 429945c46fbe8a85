"""Transposed convolution: the gradient of a convolution with respect to its input.

forward: one GEMM per group (w^T x, batch innermost) gives every window's contribution, col2im
adds them into the padded output in a (C, H, W, N) layout; on NumPy the cropped result stays
batch-last (see ops/batch_last.py), so BatchNorm / ReLU / the next transposed convolution take it
as it is. backward: grad_input is a plain convolution of the output gradient with the same weight
and grad_weight is x @ columns^T. `backward_batch_last` does both with one column matrix and two
2-d GEMMs (NumPy, groups=1, columns within BL.MAX_COLS_BYTES); `backward_general` builds the
columns in cache-sized batch slices for the rest. 1-d inputs arrive as (N, C, L), run with H = 1.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._layout import from_batch_last, nchw_view, to_batch_last
from ember._threads import split
from ember.graph.node import Function
from ember.ops import batch_last as BL
from ember.ops.batch_last import col2im_add
from ember.ops.conv import _chunk, _from_batch_last, _im2col, _pad2, _windows


def transposed_size(size: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """Output length of a transposed convolution along one axis (torch's formula)."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def _group_dots(xp, a, b, transpose_a: bool):
    """Per-group 2-d GEMMs a[i] (or a[i].T) @ b[i], stacked: NumPy's stacked matmul with a
    transposed operand does not use BLAS, 2-d dots do."""
    if a.shape[0] == 1:
        a0 = a[0].T if transpose_a else a[0]
        return (BL._gemm(a0, b[0]) if xp is np else xp.dot(a0, b[0]))[None]
    return xp.stack([xp.dot(a[i].T if transpose_a else a[i], b[i]) for i in range(a.shape[0])])


class ConvTranspose(Function):
    # y[n,o,s*h+d*i-p, s*w+d*j-p] += sum_c x[n,c,h,w] w[c,o,i,j]  (adjoint of the convolution)
    takes_batch_last = True  # takes batch-last input as it is; its NumPy output is batch-last
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
        (ph, pw), oph, opw = pad, out_pad[0], out_pad[1]
        oh = transposed_size(h, kh, stride[0], ph, dil[0], oph)
        ow = transposed_size(wd, kw, stride[1], pw, dil[1], opw)
        xbl = to_batch_last(x) if xp is np else xp.ascontiguousarray(x.transpose(1, 2, 3, 0))
        wm = w.reshape(g, cin // g, cog * kh * kw)
        cols = _group_dots(xp, wm, xbl.reshape(g, cin // g, h * wd * n), True)
        cols = cols.reshape(g * cog, kh, kw, h, wd, n)
        ypad = xp.zeros((g * cog, oh + 2 * ph, ow + 2 * pw, n), dtype=cols.dtype)
        if xp is np:  # channels are independent: split them across threads
            split(
                lambda lo, hi: col2im_add(ypad[lo:hi], cols[lo:hi], (kh, kw), stride, dil, (h, wd)),
                g * cog,
                cols.size,
            )
        else:
            col2im_add(ypad, cols, (kh, kw), stride, dil, (h, wd))
        ybl = ypad[:, ph : ph + oh, pw : pw + ow]
        if b is not None:
            ybl += b.reshape(-1, 1, 1, 1)
        need = ctx.needs_input_grad
        if need:
            ctx.save_for_backward(x if need[1] else None, w)  # w: grad_input, or the columns' shape
            ctx.meta = (one_d, x.shape, w.shape, stride, pad, dil, g)
        if one_d or xp is not np:
            y = _from_batch_last(xp, ybl)
            return y[:, :, 0] if one_d else y
        return nchw_view(np.ascontiguousarray(ybl) if ph or pw else ybl)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        one_d, xs, ws, stride, pad, dil, g = ctx.meta
        need = ctx.needs_input_grad
        if one_d:
            gy = gy[:, :, None]
        gb = gy.sum((0, 2, 3)) if len(need) > 2 and need[2] else None
        if not (need[0] or need[1]):
            return None, None, gb
        if use_batch_last(gy, xs, ws, stride, pad, dil, g):
            gx, gw = backward_batch_last(gy, x, w, xs, ws, stride, pad, dil, need)
        else:
            gx, gw = backward_general(gy, x, w, xs, ws, stride, pad, dil, g, need)
        if one_d:
            gx = None if gx is None else gx[:, :, 0]
            gw = None if gw is None else gw[:, :, 0]
        return gx, gw, gb


def use_batch_last(gy, xs, ws, stride, pad, dil, g) -> bool:
    """The batch-last backward: NumPy, one group, and the column matrix of the output gradient
    (C_out*KH*KW x H*W*N) within BL.MAX_COLS_BYTES."""
    if of(gy) is not np or g != 1:
        return False
    (ph, pw), (sh, sw), (dh, dw) = pad, stride, dil
    _, _, kh, kw = ws
    n, _, h, wd = xs
    if (gy.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1 != h:
        return False  # output_padding >= stride (allowed when < dilation): extra windows
    if (gy.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1 != wd:
        return False
    return ws[1] * kh * kw * h * wd * n * gy.itemsize <= BL.MAX_COLS_BYTES


def backward_batch_last(gy, x, w, xs, ws, stride, pad, dil, need):
    """gx = conv2d(gy, w, padding=pad) through BL.conv_forward (columns kept), gw = x @ cols^T."""
    (ph, pw) = pad
    gx_bl, cols = BL.conv_forward(gy, w, None, stride, ((ph, ph), (pw, pw)), dil)
    gx = from_batch_last(gx_bl) if need[0] else None
    gw = None
    if need[1]:
        cin, cout, kh, kw = ws
        gw = BL._gemm_nt(to_batch_last(x).reshape(cin, -1), cols.reshape(cout * kh * kw, -1)).reshape(ws)
    return gx, gw


def backward_general(gy, x, w, xs, ws, stride, pad, dil, g, need):
    """Columns of the padded output gradient in batch slices: gx[n] = w @ cols[n],
    gw = sum_n x[n] @ cols[n]^T (one 2-d GEMM per group and slice)."""
    xp = of(gy)
    n, cin, h, wd = xs
    _, cog, kh, kw = ws
    (ph, pw) = pad
    win = _windows(_pad2(gy, ((ph, ph), (pw, pw))), (kh, kw), stride, dil)[:, :, :h, :wd]
    kk, cg, hw = cog * kh * kw, cin // g, h * wd
    wm = w.reshape(g, cg, kk) if need[0] else None
    xm = x.reshape(n, g, cg, hw) if need[1] else None
    gx = xp.empty((n, g, cg, hw), dtype=gy.dtype) if need[0] else None
    step = _chunk(n, kk * hw * g)
    parts = {}

    def run(lo, hi):  # each thread handles its part of the batch, in cache-sized slices
        acc = xp.zeros((g, cg, kk), dtype=gy.dtype) if need[1] else None
        for s in range(lo, hi, step):
            e = min(s + step, hi)
            cols = _im2col(xp, win[s:e]).reshape(e - s, g, kk, hw)
            if need[0]:
                gx[s:e] = xp.matmul(wm, cols)
            if need[1]:  # batch slices side by side: sum_n X_n C_n^T = [X_1 .. X_n] [C_1 .. C_n]^T
                xc = xm[s:e].transpose(1, 2, 0, 3).reshape(g, cg, -1)
                cc = cols.transpose(1, 0, 3, 2).reshape(g, -1, kk)
                acc += _group_dots(xp, xc, cc, False)
        parts[lo] = acc

    split(run, n, n * kk * hw * g * 2) if xp is np else run(0, n)
    gw = sum(parts[k] for k in sorted(parts)).reshape(ws) if need[1] else None
    return (gx.reshape(xs) if need[0] else None), gw
