"""Batch-last (C, H, W, N) kernels for 2-d convolution and tiled max pooling (NumPy only).

Why: in NCHW, a LeNet-sized image row is 8-24 floats, so every NumPy loop over windows runs
thousands of tiny inner loops. With the batch innermost, each window slice is a run of N
contiguous floats and im2col/col2im/pooling become a few long copies (timings in
docs/performance.md).

How a tensor carries it: the op returns the NCHW-shaped view `bl.transpose(3, 0, 1, 2)` of a
(C, H, W, N) buffer and `Function.apply` flags the result `_batch_last`. Ops that know the layout
(convolution, max pool, relu/sigmoid/tanh) consume it as is; before any other op, and before
anything that shows strides or aliases memory (view, detach, numpy, stride, data_ptr, ...),
the tensor is made NCHW-contiguous in place (`ember.graph.node.normalize`), so users see
exactly torch's contiguous tensor.
"""

from __future__ import annotations

import numpy as np

from ember._layout import to_batch_last
from ember._threads import get_num_threads, split

_GEMM_COLS = 4096  # columns per weight-gradient GEMM: OpenBLAS's threaded path is 2-3x slower here
_SMALL = 1024  # below this many weights, GEMMs over the batch go in column blocks
_TOEPLITZ_MAX_OUT = 32  # the row-Toeplitz input gradient pays only with few output channels: the
# col2im GEMM's inner dimension is O, memory-bound at LeNet's 16 and efficient at a ResNet's 64+
# (docs/performance.md)
MAX_COLS_BYTES = 64 << 20  # the row-Toeplitz input gradient's buffer limit


def _pad_bl(xbl, pad):
    (t, b), (left, r) = pad
    if not (t or b or left or r):
        return xbl
    c, h, w, n = xbl.shape
    out = np.zeros((c, h + t + b, w + left + r, n), dtype=xbl.dtype)
    out[:, t : t + h, left : left + w] = xbl
    return out


def _block(n: int) -> int:
    """Column block of the split GEMMs: _GEMM_COLS, or n / threads (a multiple of 64) when that
    gives fewer blocks than threads."""
    t = get_num_threads()
    if t < 2 or n >= t * _GEMM_COLS:
        return _GEMM_COLS
    return max(64, -(-n // (t * 64)) * 64)


def _gemm(a, b):
    """a @ b for 2-d arrays with many columns. Small a (few output channels): in blocks of 4096
    columns, split across ember's threads when they are on; otherwise one call (measurements in
    docs/performance.md)."""
    if a.size >= _SMALL and get_num_threads() < 2:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a.dtype, b.dtype))
    step = _block(b.shape[1])

    def run(lo, hi):
        for s in range(lo * step, min(hi * step, b.shape[1]), step):
            e = min(s + step, b.shape[1])
            np.matmul(a, b[:, s:e], out=out[:, s:e])

    split(run, -(-b.shape[1] // step), out.size * a.shape[1])
    return out


def _gemm_nt(a, b):
    """a @ b.T for long rows (a: (M, K), b: (P, K), K large): summed over K blocks of 4096,
    computed as (b_blk @ a_blk.T).T (docs/performance.md)."""
    if a.shape[0] * b.shape[0] >= _SMALL and get_num_threads() < 2:
        return (b @ a.T).T  # faster than g @ c.T for large weights (docs/performance.md)
    k = a.shape[1]
    parts = {}
    step = _block(k)

    def run(lo, hi):
        acc = np.zeros((b.shape[0], a.shape[0]), dtype=np.result_type(a.dtype, b.dtype))
        for s in range(lo * step, min(hi * step, k), step):
            e = min(s + step, k)
            acc += b[:, s:e] @ a[:, s:e].T
        parts[lo] = acc

    nblk = -(-k // step)
    split(run, nblk, a.shape[0] * b.shape[0] * k)
    return sum(parts[i] for i in sorted(parts)).T


def conv_forward(x, w, b, stride, pad, dil, bias_folds: bool = True):
    """y_bl[o, h, w, n] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, c, s*h + d*i, s*w + d*j].
    Columns in (C, KH, KW, OH, OW, N) order (k*k long slice copies), then one GEMM.
    Returns (y_bl, columns); the columns are kept for the weight gradient (large ones never
    exist: ops/conv.py sends them to conv_forward_rows, KEEP_COLS_BYTES).

    With a bias, the bias is folded into the GEMM (fast path `bias_in_gemm`): the columns get
    a last row of ones and the weights a last column b, so y = [W b] @ [cols; 1] needs no
    separate pass over y, and the weight-gradient GEMM gives db as its last column. The
    columns then come back as that (C*KH*KW + 1, OH*OW*N) matrix; without a bias they are
    the 6-d array. tests/test_fast_paths.py checks it against the general y = W @ cols + b."""
    o, c, kh, kw = w.shape
    bias_in_gemm = b is not None and bias_folds
    cols = im2col(x, w.shape, stride, pad, dil, ones_row=bias_in_gemm)
    k = c * kh * kw
    n = x.shape[0]
    oh, ow = conv_out_hw(x.shape, w.shape, stride, pad, dil)
    if bias_in_gemm:
        wb = np.concatenate([w.reshape(o, k), b.reshape(o, 1).astype(w.dtype)], axis=1)
        return _gemm(wb, cols).reshape(o, oh, ow, n), cols
    y = _gemm(w.reshape(o, -1), cols.reshape(k, -1))
    if b is not None:  # the general path of the bias
        y += b.reshape(o, 1)
    return y.reshape(o, oh, ow, n), cols


def conv_out_hw(x_shape, w_shape, stride, pad, dil) -> tuple[int, int]:
    (t, b), (left, r) = pad
    oh = (x_shape[2] + t + b - dil[0] * (w_shape[2] - 1) - 1) // stride[0] + 1
    ow = (x_shape[3] + left + r - dil[1] * (w_shape[3] - 1) - 1) // stride[1] + 1
    return oh, ow


def im2col(x, w_shape, stride, pad, dil, ones_row: bool):
    """The columns of conv_forward: (C, KH, KW, OH, OW, N), or with `ones_row` the
    (C*KH*KW + 1, OH*OW*N) matrix whose last row is 1 (the folded bias)."""
    _, c, kh, kw = w_shape
    xpad = _pad_bl(to_batch_last(x), pad)
    (sh, sw), (dh, dw) = stride, dil
    n = xpad.shape[3]
    oh, ow = conv_out_hw(x.shape, w_shape, stride, pad, dil)
    k = c * kh * kw
    if ones_row:
        out = np.empty((k + 1, oh * ow * n), dtype=xpad.dtype)
        out[k] = 1
        cols = out[:k].reshape(c, kh, kw, oh, ow, n)
    else:
        out = cols = np.empty((c, kh, kw, oh, ow, n), dtype=xpad.dtype)

    def chunk(lo, hi):
        for i in range(kh):
            for j in range(kw):
                hs, ws = i * dh, j * dw
                cols[lo:hi, i, j] = xpad[
                    lo:hi, hs : hs + sh * (oh - 1) + 1 : sh, ws : ws + sw * (ow - 1) + 1 : sw
                ]

    split(chunk, c, cols.size)
    return out


def conv_cols_bytes(x, w, stride, pad, dil) -> int:
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (t, b), (left, r) = pad
    oh = (h + t + b - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + left + r - dil[1] * (kw - 1) - 1) // stride[1] + 1
    return c * kh * kw * max(oh, 0) * max(ow, 0) * n * x.itemsize


def conv_backward(g, cols, w, ws, xshape, stride, pad, dil, need):
    """Gradients from y_bl's gradient g (any layout): gw = g2d @ cols2d^T, gb = sum g,
    gx_bl = col2im(w2d^T @ g2d) cropped to the unpadded input, all batch-last.
    w (shape ws) is needed only for gx, the columns only for gw."""
    o, c, kh, kw = ws
    gbl = to_batch_last(g)
    g2d = gbl.reshape(o, -1)
    gx = gw = gb = None
    k = c * kh * kw
    if need[1] and cols.ndim == 2:  # bias folded into the forward GEMM: db is the last column
        gwb = _gemm_nt(g2d, cols)
        gw = np.ascontiguousarray(gwb[:, :k]).reshape(ws)
        if len(need) > 2 and need[2]:
            gb = gwb[:, k].copy()
    elif need[1]:
        gw = _gemm_nt(g2d, cols.reshape(k, -1)).reshape(ws)
    if gb is None and len(need) > 2 and need[2]:
        gb = g2d.sum(1)
    if need[0]:
        n, _, h, wd = xshape
        (t, bt), (left, r) = pad
        oh, ow = gbl.shape[1:3]
        hp, wp = h + t + bt, wd + left + r
        if (
            stride == (1, 1)
            and dil == (1, 1)
            and o <= _TOEPLITZ_MAX_OUT
            and wp <= 8 * kw
            and oh * kh * c * wp * n * 4 <= MAX_COLS_BYTES
        ):
            gpad = _input_grad_toeplitz(gbl, w, hp, wp)
            return _crop(gpad, pad, h, wd), gw, gb
        if uses_flipped_conv(stride, pad, dil, ws):
            return input_grad_flipped(gbl, w, pad, dil), gw, gb
        gpad = np.zeros((c, hp, wp, n), dtype=g.dtype)
        gcol = _gemm(w.reshape(o, -1).T, g2d).reshape(c, kh, kw, oh, ow, n)  # one GEMM: faster than
        # per-channel blocks kept in cache (docs/performance.md)
        split(
            lambda lo, hi: col2im_add(gpad[lo:hi], gcol[lo:hi], (kh, kw), stride, dil, (oh, ow)),
            c,
            gcol.size,
        )
        gx = _crop(gpad, pad, h, wd)
    return gx, gw, gb


def _crop(gpad, pad, h, w):
    (t, b), (left, r) = pad
    return gpad if not (t or b or left or r) else np.ascontiguousarray(gpad[:, t : t + h, left : left + w])


def _input_grad_toeplitz(gbl, w, hp, wp):
    """gx_pad (C, Hp, Wp, N) for stride 1 and dilation 1, without a column matrix:
    gx[:, h + i] += U_i @ g[:, h] with U_i[(c, w'), (o, x)] = w[o, c, i, w' - x] (zero outside
    the kernel). Wp/KW times the GEMM work of col2im, but no (C*KH*KW, OH*OW*N) buffer and 5
    adds instead of 25 (docs/performance.md)."""
    o, c, kh, kw = w.shape
    _, oh, ow, n = gbl.shape
    u = np.zeros((kh, c, wp, o, ow), dtype=w.dtype)
    wt = w.transpose(2, 1, 3, 0)  # (KH, C, KW, O)
    for x in range(ow):
        u[:, :, x : x + kw, :, x] = wt
    g = np.empty((oh, o, ow, n), dtype=gbl.dtype)  # rows (o, x) of each output row h contiguous
    g[...] = gbl.transpose(1, 0, 2, 3)
    p = np.matmul(u.reshape(1, kh, c * wp, o * ow), g.reshape(oh, 1, o * ow, n))  # (OH, KH, C*Wp, N)
    acc = np.zeros((hp, c * wp, n), dtype=p.dtype)
    for i in range(kh):
        acc[i : i + oh] += p[:, i]
    gx = np.empty((c, hp, wp, n), dtype=p.dtype)
    gx[...] = acc.reshape(hp, c, wp, n).transpose(1, 0, 2, 3)
    return gx


def col2im_add(gx, gw, k, stride, dil, out_hw):
    """Add window gradients gw[(C, KH, KW, OH, OW, N)] into gx[(C, Hp, Wp, N)] in place."""
    (kh, kw), (sh, sw), (dh, dw) = k, stride, dil
    oh, ow = out_hw
    for i in range(kh):
        for j in range(kw):
            hi, wj = i * dh, j * dw
            gx[:, hi : hi + sh * (oh - 1) + 1 : sh, wj : wj + sw * (ow - 1) + 1 : sw] += gw[:, i, j]
    return gx


def _tap_range(r0: int, r: int, i: int, s: int, p: int, d: int, n_out: int):
    """Local input rows [a, b) of the block [r0, r0 + r) whose tap i lands inside the cropped
    output (o = s * row + i * d - p in [0, n_out)), and the first such o; None if none does."""
    off = i * d - p
    a = max(0, -(-(-off - s * r0) // s))  # smallest local row with o >= 0
    b = min(r, (n_out - 1 - off) // s - r0 + 1)
    return (a, b, s * (r0 + a) + off) if a < b else None


def col2im_cropped(y, cols, k, stride, pad, dil, r0: int, write=()):
    """Fast path of col2im_add into a zero-padded buffer followed by the crop: adds the window
    gradients cols[(C, KH, KW, R, W, N)] of input rows [r0, r0 + R) straight into the cropped
    output y[(C, OH, OW, N)], each tap clipped to the rows and columns that land inside it (no
    padded buffer, no crop copy). Taps in `write` are stored instead of added, before the
    others: the caller passes taps that together cover y exactly once (kernels._partition),
    so y needs no zero fill. tests/test_fast_paths.py checks it against the padded path."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = k, stride, pad, dil
    oh, ow = y.shape[1:3]
    r, wd = cols.shape[3:5]
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    for i, j in [t for t in taps if t in write] + [t for t in taps if t not in write]:
        rows, cs = _tap_range(r0, r, i, sh, ph, dh, oh), _tap_range(0, wd, j, sw, pw, dw, ow)
        if rows is None or cs is None:
            continue
        (a, b, o0), (c0, c1, q0) = rows, cs
        dst = y[:, o0 : o0 + sh * (b - a - 1) + 1 : sh, q0 : q0 + sw * (c1 - c0 - 1) + 1 : sw]
        if (i, j) in write:
            dst[...] = cols[:, i, j, a:b, c0:c1]
        else:
            dst += cols[:, i, j, a:b, c0:c1]
    return y


ROW_BLOCK_BYTES = 8 << 20  # column bytes per output-row block of the `row_blocks` path


def _row_blocks(c, kh, kw, oh, ow, n, itemsize) -> list[tuple[int, int]]:
    per_row = c * kh * kw * ow * n * itemsize
    rows = max(1, min(oh, ROW_BLOCK_BYTES // max(per_row, 1)))
    return [(r, min(r + rows, oh)) for r in range(0, oh, rows)]


def _cols_rows(xpad, ws, stride, dil, r0, r1, ow, out=None):
    """Columns (C, KH, KW, r1 - r0, OW, N) of output rows [r0, r1) from the padded (C, Hp, Wp, N)
    input: the rows' slice of im2col's columns."""
    _, c, kh, kw = ws
    (sh, sw), (dh, dw) = stride, dil
    n = xpad.shape[3]
    cols = np.empty((c, kh, kw, r1 - r0, ow, n), dtype=xpad.dtype) if out is None else out
    for i in range(kh):
        for j in range(kw):
            hs, wsj = r0 * sh + i * dh, j * dw
            cols[:, i, j] = xpad[:, hs : hs + sh * (r1 - r0 - 1) + 1 : sh, wsj : wsj + sw * (ow - 1) + 1 : sw]
    return cols


def conv_forward_rows(x, w, b, stride, pad, dil):
    """The fast path `row_blocks`: conv_forward for large columns without the column matrix.
    Output rows go in blocks of ~ROW_BLOCK_BYTES of columns (built, multiplied into y's rows,
    dropped), the blocks split across ember's threads: the memory of one block per thread, and
    columns that stay in cache. tests/test_fast_paths.py checks it against conv_forward."""
    o, c, kh, kw = w.shape
    xpad = _pad_bl(to_batch_last(x), pad)
    n = xpad.shape[3]
    oh, ow = conv_out_hw(x.shape, w.shape, stride, pad, dil)
    y = np.empty((o, oh * ow * n), dtype=np.result_type(x.dtype, w.dtype))
    w2 = w.reshape(o, -1)
    blocks = _row_blocks(c, kh, kw, oh, ow, n, xpad.itemsize)

    def run(lo, hi):
        for r0, r1 in blocks[lo:hi]:
            cols = _cols_rows(xpad, w.shape, stride, dil, r0, r1, ow)
            out = y[:, r0 * ow * n : r1 * ow * n]
            np.matmul(w2, cols.reshape(c * kh * kw, -1), out=out)
            if b is not None:
                out += b.reshape(o, 1)

    split(run, len(blocks), y.size * c * kh * kw)
    return y.reshape(o, oh, ow, n)


def conv_backward_rows(g, x, w, ws, xshape, stride, pad, dil, need):
    """Gradients of conv_forward_rows, block by block of output rows: gw = sum over blocks of
    g_blk @ cols_blk^T (the columns rebuilt per block, blocks split across threads), gx by
    col2im of w2d^T @ g_blk into the block's rows of the padded input gradient."""
    o, c, kh, kw = ws
    gbl = to_batch_last(g)
    _, oh, ow, n = gbl.shape
    g2d = gbl.reshape(o, -1)
    k = c * kh * kw
    gx = gw = gb = None
    blocks = _row_blocks(c, kh, kw, oh, ow, n, gbl.itemsize)
    sh = stride[0]
    if need[1]:
        xpad = _pad_bl(to_batch_last(x), pad)
        parts = {}

        def run(lo, hi):
            acc = np.zeros((o, k), dtype=g2d.dtype)
            for r0, r1 in blocks[lo:hi]:
                cols = _cols_rows(xpad, ws, stride, dil, r0, r1, ow).reshape(k, -1)
                acc += (cols @ g2d[:, r0 * ow * n : r1 * ow * n].T).T
            parts[lo] = acc

        split(run, len(blocks), o * k * g2d.shape[1])
        gw = sum(parts[i] for i in sorted(parts)).reshape(ws)
    if len(need) > 2 and need[2]:
        gb = g2d.sum(1)
    if need[0] and uses_flipped_conv(stride, pad, dil, ws):
        gx = input_grad_flipped(gbl, w, pad, dil)
    elif need[0]:
        _, _, h, wd = xshape
        (t, bt), (left, r) = pad
        gpad = np.zeros((c, h + t + bt, wd + left + r, n), dtype=g.dtype)
        wt = w.reshape(o, -1).T
        rows = blocks[0][1] - blocks[0][0]
        if get_num_threads() > 1 and len(blocks) > 2 and (kh - 1) * dil[0] + 1 <= (rows + 1) * sh:
            # a block's input rows reach at most into its neighbours': the even blocks, then the
            # odd ones, each set across threads without two blocks adding to one row
            def block(r0, r1):
                gcol = (wt @ g2d[:, r0 * ow * n : r1 * ow * n]).reshape(c, kh, kw, r1 - r0, ow, n)
                col2im_add(gpad[:, r0 * sh :], gcol, (kh, kw), stride, dil, (r1 - r0, ow))

            for part in (blocks[0::2], blocks[1::2]):
                split(lambda lo, hi, part=part: [block(*b) for b in part[lo:hi]], len(part), g2d.size * k)
        else:
            for r0, r1 in blocks:  # one block at a time, the GEMM and col2im each across threads
                gcol = _gemm(wt, g2d[:, r0 * ow * n : r1 * ow * n]).reshape(c, kh, kw, r1 - r0, ow, n)
                top = gpad[:, r0 * sh :]
                split(
                    lambda lo, hi, top=top, gcol=gcol, rows=r1 - r0: col2im_add(
                        top[lo:hi], gcol[lo:hi], (kh, kw), stride, dil, (rows, ow)
                    ),
                    c,
                    gcol.size,
                )
        gx = _crop(gpad, pad, h, wd)
    return gx, gw, gb


def uses_flipped_conv(stride, pad, dil, ws) -> bool:
    """The predicate for the fast path `flipped_conv` of the row-block input gradient: stride 1
    and no padding wider than the kernel's reach."""
    (t, b), (left, r) = pad
    reach_h, reach_w = dil[0] * (ws[2] - 1), dil[1] * (ws[3] - 1)
    return stride == (1, 1) and max(t, b) <= reach_h and max(left, r) <= reach_w


def input_grad_flipped(gbl, w, pad, dil):
    """gx for a stride-1 convolution as a convolution of gy with the flipped, transposed kernel
    (gx[h] = sum_i gy[h + t - d i] w[i]), padded by the kernel's reach minus the forward
    padding: im2col of gy + one GEMM per row block straight into gx's (C, H, W, N) buffer, no
    (C*KH*KW, OH*OW*N) gradient columns, no col2im scatter-add and no crop copy. The general
    path is col2im of w^T @ gy (tests/test_fast_paths.py)."""
    (t, b), (left, r) = pad
    _, _, kh, kw = w.shape
    rh, rw = dil[0] * (kh - 1), dil[1] * (kw - 1)
    wf = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    g4 = gbl.transpose(3, 0, 1, 2)  # the NCHW-shaped view conv_forward_rows takes
    return conv_forward_rows(g4, wf, None, (1, 1), ((rh - t, rh - b), (rw - left, rw - r)), dil)
