"""Transposed convolution: the gradient of a convolution with respect to its input.

forward: w^T x (batch innermost) gives every window's contribution and col2im adds them into the
padded output in a (C, H, W, N) layout; on NumPy the cropped result stays batch-last (see
ops/batch_last.py), so BatchNorm / ReLU / the next transposed convolution take it as it is.
backward: grad_input is a plain convolution of the output gradient with the same weight and
grad_weight is x @ columns^T. The named fast paths `forward_rows` / `backward_rows` (NumPy, one
group) do this one block of input rows at a time, so the column matrix (C_out*KH*KW x H*W*N, 16x
the input for a 4x4 kernel) never exists whole: each block's GEMMs are still large and the block
stays within ROWS_BYTES. `forward_general` / `backward_general` (groups, CuPy, the output_padding
cases with extra windows) are their oracles. 1-d inputs arrive as (N, C, L), run with H = 1.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._layout import from_batch_last, is_batch_last, nchw_view, to_batch_last, transpose2d
from ember._threads import split
from ember.graph.node import Function
from ember.ops import batch_last as BL
from ember.ops.batch_last import col2im_add
from ember.ops.conv import _chunk, _from_batch_last, _im2col, _pad2, _windows
from ember.ops.kernels import _partition

ROWS_BYTES = 4 << 20  # column block of the row paths: large GEMMs, a few MB of columns


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
        if uses_rows(x, w, groups):
            return ConvTranspose.forward_rows(ctx, x, w, b, stride, pad, dil, out_pad)
        return ConvTranspose.forward_general(ctx, x, w, b, stride, pad, dil, groups, out_pad)

    @staticmethod
    def forward_rows(ctx, x, w, b, stride, pad, dil, out_pad):
        """Fast path: y_pad[:, s*r0:] += col2im(w^T @ x[:, r0:r1]) for blocks of input rows
        (batch-last, NumPy, one group); the output stays batch-last."""
        n, cin, h, wd = x.shape
        _, cout, kh, kw = w.shape
        (ph, pw), (sh, _) = pad, stride
        oh = transposed_size(h, kh, sh, ph, dil[0], out_pad[0])
        ow = transposed_size(wd, kw, stride[1], pw, dil[1], out_pad[1])
        xbl = to_batch_last(x).reshape(cin, h * wd * n)
        wt = w.reshape(cin, cout * kh * kw).T
        run = wd * n
        blocks = _row_blocks(h, cout * kh * kw * run * x.itemsize)
        write = _write_taps((kh, kw), stride, pad, dil, (oh, ow), (h, wd)) if len(blocks) == 1 else None
        ybl = (np.empty if write else np.zeros)((cout, oh, ow, n), dtype=x.dtype)
        for r0, r1 in blocks:
            cols = BL._gemm(wt, xbl[:, r0 * run : r1 * run]).reshape(cout, kh, kw, r1 - r0, wd, n)
            split(
                lambda lo, hi, c=cols, r0=r0: BL.col2im_cropped(
                    ybl[lo:hi], c[lo:hi], (kh, kw), stride, pad, dil, r0, write or ()
                ),
                cout,
                cols.size,
            )
        if b is not None:
            ybl += b.reshape(-1, 1, 1, 1)
        need = ctx.needs_input_grad
        if need:
            ctx.save_for_backward(x if need[1] else None, w)
            ctx.meta = (False, x.shape, w.shape, stride, pad, dil, 1)
        return nchw_view(ybl)

    @staticmethod
    def forward_general(ctx, x, w, b, stride, pad, dil, groups, out_pad):
        """The general path: groups, 1-d, CuPy; one column matrix per group, then col2im."""
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
        if not isinstance(gy, np.ndarray) and hasattr(gy, "_data"):  # create_graph: a Tensor
            raise RuntimeError(
                "double backward (create_graph=True) through conv_transpose1d/2d is not supported "
                "in ember (a convolution's double backward is; its third derivative is not)"
            )
        x, w = ctx.saved
        one_d, xs, ws, stride, pad, dil, g = ctx.meta
        need = ctx.needs_input_grad
        if one_d:
            gy = gy[:, :, None]
        gb = gy.sum((0, 2, 3)) if len(need) > 2 and need[2] else None
        if not (need[0] or need[1]):
            return None, None, gb
        if uses_rows_backward(gy, xs, ws, stride, pad, dil, g):
            gx, gw = backward_rows(gy, x, w, xs, ws, stride, pad, dil, need)
        else:
            gx, gw = backward_general(gy, x, w, xs, ws, stride, pad, dil, g, need)
        if one_d:
            gx = None if gx is None else gx[:, :, 0]
            gw = None if gw is None else gw[:, :, 0]
        return gx, gw, gb


def uses_rows(x, w, groups) -> bool:
    """The predicate for ConvTranspose's row-block forward: a 4-d NumPy input, one group, one dtype."""
    return type(x) is np.ndarray and x.ndim == 4 and groups == 1 and x.dtype == w.dtype


def uses_rows_backward(gy, xs, ws, stride, pad, dil, g) -> bool:
    """The predicate for the row-block backward: NumPy, one group, and the output gradient's
    windows exactly the input's positions (output_padding >= stride, allowed when it is below
    the dilation, adds windows: the general path)."""
    if type(gy) is not np.ndarray or g != 1:
        return False
    (ph, pw), (sh, sw), (dh, dw) = pad, stride, dil
    _, _, kh, kw = ws
    _, _, h, wd = xs
    if (gy.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1 != h:
        return False
    return (gy.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1 == wd


def _write_taps(k, stride, pad, dil, out_hw, in_hw):
    """Taps (i, j) that together land on every output position exactly once (a product of the
    per-axis kernels._partition sets), or None when an axis has no such set."""
    ps = [_partition(*a) for a in zip(k, stride, pad, dil, out_hw, in_hw)]
    if None in ps:
        return None
    return {(i, j) for i in ps[0] for j in ps[1]}


def _row_blocks(h: int, row_bytes: int):
    """(r0, r1) blocks of the h input rows whose columns (row_bytes per row) fit ROWS_BYTES."""
    step = max(1, min(h, ROWS_BYTES // max(row_bytes, 1)))
    return [(r0, min(r0 + step, h)) for r0 in range(0, h, step)]


def backward_rows(gy, x, w, xs, ws, stride, pad, dil, need):
    """Fast path: for each block of input rows, the columns of the padded output gradient
    cols (C_out*KH*KW, rows*W*N), then gx[:, rows] = w2d @ cols and gw += x[:, rows] @ cols^T.
    The input's gradient comes back batch-last when the input was."""
    (ph, pw), (sh, sw), (dh, dw) = pad, stride, dil
    cin, cout, kh, kw = ws
    n, _, h, wd = xs
    gpad = BL._pad_bl(to_batch_last(gy), ((ph, ph), (pw, pw)))
    run, kk = wd * n, cout * kh * kw
    w2d = w.reshape(cin, kk)
    x2d = to_batch_last(x).reshape(cin, h * run) if need[1] else None
    gx = np.empty((cin, h * run), dtype=gy.dtype) if need[0] else None
    gw_t = np.zeros((kk, cin), dtype=gy.dtype) if need[1] else None  # gw^T: contiguous adds
    blocks = _row_blocks(h, kk * run * gy.itemsize)
    buf = np.empty(kk * (blocks[0][1] - blocks[0][0]) * run if blocks else 0, dtype=gy.dtype)
    for r0, r1 in blocks:
        r = r1 - r0
        cols = buf[: kk * r * run].reshape(cout, kh, kw, r, wd, n)

        def im2col(lo, hi, cols=cols, r0=r0, r=r):
            for i in range(kh):
                for j in range(kw):
                    h0, w0 = sh * r0 + dh * i, dw * j
                    cols[lo:hi, i, j] = gpad[
                        lo:hi, h0 : h0 + sh * (r - 1) + 1 : sh, w0 : w0 + sw * (wd - 1) + 1 : sw
                    ]

        split(im2col, cout, cols.size)
        c2d = cols.reshape(kk, r * run)
        if need[0]:
            np.matmul(w2d, c2d, out=gx[:, r0 * run : r1 * run])
        if need[1]:
            gw_t += c2d @ x2d[:, r0 * run : r1 * run].T
    if gx is not None:
        gx = gx.reshape(cin, h, wd, n)
        gx = nchw_view(gx) if is_batch_last(x) else from_batch_last(gx)
    return gx, (transpose2d(gw_t).reshape(ws) if gw_t is not None else None)


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
