"""Convolution, padding and pooling primitives on NCHW arrays (1-d inputs arrive as H=1).

conv: im2col with sliding_window_view + one batched GEMM; backward: grad_weight by GEMM,
grad_input by col2im as k*k strided slice-adds in a (C, H, W, N) layout (long contiguous runs).
Measured timings: docs/performance.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember._backend import of
from ember._layout import from_batch_last, is_batch_last, nchw_view, to_batch_last
from ember._threads import split
from ember.graph.node import Function
from ember.ops import batch_last as BL
from ember.ops import kernels
from ember.ops.batch_last import col2im_add


def _swv(xp, a, window, axis):
    if xp is np:
        return sliding_window_view(a, window, axis=axis)
    return xp.lib.stride_tricks.sliding_window_view(a, window, axis=axis)


def _windows(x, k, stride, dil):
    """(N, C, OH, OW, KH, KW) strided view of the (already padded) x."""
    (kh, kw), (sh, sw), (dh, dw) = k, stride, dil
    ext = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    return _swv(of(x), x, ext, (2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def _pad2(x, pad, value=0.0):
    """pad = ((top, bottom), (left, right)) on the last two axes."""
    if not any(pad[0]) and not any(pad[1]):
        return x
    xp = of(x)
    (t, b), (left, r) = pad
    out = xp.full(x.shape[:2] + (x.shape[2] + t + b, x.shape[3] + left + r), value, dtype=x.dtype)
    out[:, :, t : t + x.shape[2], left : left + x.shape[3]] = x
    return out


def _chunk(n: int, per_sample: int) -> int:
    """Samples per im2col slice so the columns (float32) stay within about 1 MB of cache."""
    return max(1, min(n, (1 << 17) // max(per_sample, 1)))


def _im2col(xp, win):
    """Contiguous (N, C, KH, KW, OH, OW) copy of the window view, batch split across threads."""
    if xp is not np:
        return xp.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3))
    n, c, oh, ow, kh, kw = win.shape
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=win.dtype)
    cols[...] = win.transpose(0, 1, 4, 5, 2, 3)
    return cols


def _from_batch_last(xp, a):
    """(C, H, W, N) -> contiguous (N, C, H, W) for either array module."""
    return from_batch_last(a) if xp is np else xp.ascontiguousarray(a.transpose(3, 0, 1, 2))


@dataclass(slots=True)
class BatchLastConv:
    """Backward state of Convolution.forward_batch_last."""

    cols: object  # (C, KH, KW, OH, OW, N) columns, for the weight gradient (None if not needed)
    x_shape: tuple
    w_shape: tuple
    stride: tuple
    pad: tuple
    dil: tuple
    x_batch_last: bool  # the input's gradient goes back in the input's layout
    crop: object = None  # dead_tap_crop's ((i0, i1, j0, j1), pad), or None for the whole kernel
    ones_row: bool = False  # the columns carry the folded bias's row of ones
    row_blocks: bool = False  # forward ran BL.conv_forward_rows: backward goes by row blocks too


KEEP_COLS_BYTES = 16 << 20  # columns above this take the row_blocks form (never built whole, rebuilt
# block by block in backward): LeNet's (15 and 10 MB) are kept, a 224x224 ResNet's (29-118 MB) are not


def _cropped(w, taps):
    i0, i1, j0, j1 = taps
    return np.ascontiguousarray(w[:, :, i0:i1, j0:j1])


@dataclass(slots=True)
class NchwConv:
    """Backward state of Convolution.forward_nchw."""

    one_d: bool
    x_shape: tuple
    w_shape: tuple
    stride: tuple
    pad: tuple
    dil: tuple
    groups: int
    out_hw: tuple


def _live(size: int, k: int, s: int, before: int, out: int) -> tuple[int, int]:
    """[lo, hi) of the kernel taps along one axis that meet the unpadded input for some output
    (tap i at output o reads s*o + i - before)."""
    live = [
        i for i in range(k) if max(0, -(-(before - i) // s)) <= min(out - 1, (size - 1 + before - i) // s)
    ]
    return (live[0], live[-1] + 1) if live else (0, k)


def dead_tap_crop(x_shape, w_shape, stride, pad, dil):
    """The fast path `dead_tap_crop`: on maps smaller than the kernel's reach (a ResNet's 1x1 and
    2x2 stages at 28x28 input), some taps only ever read zero padding. Cropping the kernel to the
    live taps, with the padding cut to match, computes the same sums without the zero terms
    (3x3 on a 1x1 map: 1 tap of 9). Returns ((i0, i1, j0, j1), new pad) or None when no tap is
    dead (the general path: the whole kernel). Their gradient is exactly 0."""
    if dil != (1, 1) or not any(pad[0] + pad[1]):
        return None
    _, _, h, wd = x_shape
    _, _, kh, kw = w_shape
    (t, bt), (left, r) = pad
    (sh, sw) = stride
    oh = (h + t + bt - kh) // sh + 1
    ow = (wd + left + r - kw) // sw + 1
    i0, i1 = _live(h, kh, sh, t, oh)
    j0, j1 = _live(wd, kw, sw, left, ow)
    if (i0, i1, j0, j1) == (0, kh, 0, kw) or oh < 1 or ow < 1:
        return None
    nt, nl = t - i0, left - j0
    nb = max(0, sh * (oh - 1) + i1 - 1 - t - (h - 1))
    nr = max(0, sw * (ow - 1) + j1 - 1 - left - (wd - 1))
    if (h + nt + nb - (i1 - i0)) // sh + 1 != oh or (wd + nl + nr - (j1 - j0)) // sw + 1 != ow:
        return None
    return (i0, i1, j0, j1), ((nt, nb), (nl, nr))


def uses_batch_last(x, w, stride, pad, dil, groups) -> bool:
    """The predicate for Convolution's batch-last fast path: 2-d NumPy, one group, one dtype."""
    return type(x) is np.ndarray and x.ndim == 4 and groups == 1 and x.dtype == w.dtype


def uses_row_blocks(x, w, stride, pad, dil) -> bool:
    """The predicate for the batch-last path's `row_blocks` form: columns above KEEP_COLS_BYTES
    are never built whole (k*k times x's memory; torch keeps only x)."""
    return BL.conv_cols_bytes(x, w, stride, pad, dil) > KEEP_COLS_BYTES


class Convolution(Function):
    # y[n,o] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, c, s*h + d*i, s*w + d*j]  (cross-correlation)
    takes_batch_last = True
    _name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dil, groups):
        if uses_batch_last(x, w, stride, pad, dil, groups):
            return Convolution.forward_batch_last(ctx, x, w, b, stride, pad, dil)
        return Convolution.forward_nchw(ctx, x, w, b, stride, pad, dil, groups)

    @staticmethod
    def backward(ctx, go):
        if not isinstance(go, np.ndarray) and hasattr(go, "_data"):  # create_graph: a Tensor
            x, w = ctx.saved[2] if len(ctx.saved) > 2 else ctx.saved[0], ctx.saved[1]
            return importlib.import_module("ember.ops.conv_graph").backward_graph(ctx, go, x, w)
        if isinstance(ctx.state, BatchLastConv):
            return Convolution.backward_batch_last(ctx, go)
        return Convolution.backward_nchw(ctx, go)

    @staticmethod
    def forward_batch_last(ctx, x, w, b, stride, pad, dil):
        """Fast path: the output stays (C, H, W, N) in memory (ops/batch_last.py); the columns
        are kept for the weight gradient."""
        crop = dead_tap_crop(x.shape, w.shape, stride, pad, dil)
        wc, pc = (w, pad) if crop is None else (_cropped(w, crop[0]), crop[1])
        if uses_row_blocks(x, wc, stride, pc, dil):
            y = BL.conv_forward_rows(x, wc, b, stride, pc, dil)
            need = ctx.needs_input_grad
            if any(need):
                ctx.save_for_backward(x, w)  # both: create_graph's formulas need them
                ctx.state = BatchLastConv(None, x.shape, w.shape, stride, pad, dil, is_batch_last(x), crop)
                ctx.state.row_blocks = True
            return nchw_view(y)
        y, cols = BL.conv_forward(x, wc, b, stride, pc, dil)
        need = ctx.needs_input_grad
        if need:
            # columns up to KEEP_COLS_BYTES are kept for the weight gradient (larger ones never
            # exist whole: the row_blocks form above)
            ctx.save_for_backward(x, w)  # x: create_graph's formulas
            st = BatchLastConv(
                cols if need[1] else None,
                x.shape,
                w.shape,
                stride,
                pad,
                dil,
                is_batch_last(x),
                crop,
            )
            st.ones_row = cols.ndim == 2
            ctx.state = st
        return nchw_view(y)

    @staticmethod
    def backward_batch_last(ctx, go):
        st, w = ctx.state, ctx.saved[1]
        ws, pad = st.w_shape, st.pad
        if st.crop is not None:  # dead_tap_crop: the live taps only; the others' gradient is 0
            (i0, i1, j0, j1), pad = st.crop
            ws = (ws[0], ws[1], i1 - i0, j1 - j0)
            w = None if w is None else _cropped(w, st.crop[0])
        if st.row_blocks:
            gx, gw, gb = BL.conv_backward_rows(
                go, ctx.saved[0], w, ws, st.x_shape, st.stride, pad, st.dil, ctx.needs_input_grad
            )
        else:
            cols = st.cols
            gx, gw, gb = BL.conv_backward(
                go, cols, w, ws, st.x_shape, st.stride, pad, st.dil, ctx.needs_input_grad
            )
            del cols
        if st.crop is not None and gw is not None:
            full = np.zeros(st.w_shape, dtype=gw.dtype)
            full[:, :, i0:i1, j0:j1] = gw
            gw = full
        if gx is not None:  # the input's gradient in the input's layout
            gx = nchw_view(gx) if st.x_batch_last else from_batch_last(gx)
        return gx, gw, gb

    @staticmethod
    def forward_nchw(ctx, x, w, b, stride, pad, dil, groups):
        """The general path: any groups, 1-d, CuPy; columns built in cache-sized slices."""
        one_d = x.ndim == 3
        x0, w0 = x, w  # the input's own arrays (version-tracked; create_graph's formulas)
        if one_d:
            x, w = x[:, :, None], w[:, :, None]
        xp = of(x)
        g = groups
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        xpad = _pad2(x, pad)
        win = _windows(xpad, (kh, kw), stride, dil)
        oh, ow = win.shape[2], win.shape[3]
        wm = w.reshape(g, o // g, cg * kh * kw)
        out = xp.empty((n, o, oh, ow), dtype=np.result_type(x.dtype, w.dtype))
        step = _chunk(n, cg * kh * kw * oh * ow * g)

        def chunk(lo, hi):  # im2col of a cache-sized slice of the batch, then its GEMM
            cols = _im2col(xp, win[lo:hi]).reshape(hi - lo, g, cg * kh * kw, oh * ow)
            out[lo:hi] = xp.matmul(wm, cols).reshape(hi - lo, o, oh, ow)

        def run(lo, hi):
            for s in range(lo, hi, step):
                chunk(s, min(s + step, hi))

        split(run, n, out.size * cg * kh * kw) if xp is np else run(0, n)
        if b is not None:
            out += b.reshape(o, 1, 1)
        need = ctx.needs_input_grad
        if need:
            # keep the (small) padded input, not the columns: backward rebuilds them in chunks
            ctx.save_for_backward(xpad if need[1] else None, w0, x0)  # x0: create_graph's formulas
            ctx.state = NchwConv(one_d, x.shape, w.shape, stride, pad, dil, g, (oh, ow))
        return out[:, :, 0] if one_d else out

    @staticmethod
    def backward_nchw(ctx, go):
        xpad, w = ctx.saved[:2]
        st = ctx.state
        one_d, xs, ws, stride, pad, dil, g, (oh, ow) = (
            st.one_d,
            st.x_shape,
            st.w_shape,
            st.stride,
            st.pad,
            st.dil,
            st.groups,
            st.out_hw,
        )
        need = ctx.needs_input_grad
        xp = of(go)
        if one_d:
            go = go[:, :, None]
        n, c, h, wd = xs
        o, cg, kh, kw = ws
        gx = gw = gb = None
        if need[1]:
            gm = go.reshape(n, g, o // g, oh * ow)
            win = _windows(xpad, (kh, kw), stride, dil)
            kk = cg * kh * kw
            step = _chunk(n, kk * oh * ow * g)
            parts = {}

            def run(lo, hi):  # each thread sums its own part of the batch
                acc = xp.zeros((g, o // g, kk), dtype=go.dtype)
                for s in range(lo, hi, step):
                    e = min(s + step, hi)
                    cols = _im2col(xp, win[s:e]).reshape(e - s, g, kk, oh * ow)
                    acc += xp.matmul(gm[s:e], cols.transpose(0, 1, 3, 2)).sum(0)
                parts[lo] = acc

            split(run, n, n * kk * oh * ow * g) if xp is np else run(0, n)
            gw = sum(parts[k] for k in sorted(parts)).reshape(ws)
            if one_d:
                gw = gw[:, :, 0]
        if len(need) > 2 and need[2]:
            gb = go.sum((0, 2, 3))
        if need[0]:
            if one_d:
                w = w[:, :, None]
            # (G, Og, OH*OW*N) with the batch innermost, then one batched GEMM per group
            gt = xp.ascontiguousarray(go.transpose(1, 2, 3, 0)).reshape(g, o // g, oh * ow * n)
            wm = w.reshape(g, o // g, cg * kh * kw)
            # 2-D dots: stacked matmul with a transposed operand skips BLAS in NumPy
            if g > 1:
                gcol = xp.stack([xp.dot(wm[i].T, gt[i]) for i in range(g)])
            else:
                gcol = BL._gemm(wm[0].T, gt[0]) if xp is np else xp.dot(wm[0].T, gt[0])
            gcol = gcol.reshape(c, kh, kw, oh, ow, n)
            (t, bt), (lf, r) = pad
            hp, wp = h + t + bt, wd + lf + r
            gpad = xp.zeros((c, hp, wp, n), dtype=go.dtype)
            if xp is np:  # channels are independent: split them across threads
                split(
                    lambda lo, hi: col2im_add(gpad[lo:hi], gcol[lo:hi], (kh, kw), stride, dil, (oh, ow)),
                    c,
                    gcol.size,
                )
            else:
                col2im_add(gpad, gcol, (kh, kw), stride, dil, (oh, ow))
            gx = _from_batch_last(xp, gpad[:, t : t + h, lf : lf + wd])
            if one_d:
                gx = gx[:, :, 0]
        return gx, gw, gb


class ConstantPad(Function):
    # y = x surrounded by `value`; dx = dy[interior]  (negative pads crop)
    @staticmethod
    def forward(ctx, x, pads, value):
        xp = of(x)
        nd = len(pads) // 2
        shape = list(x.shape)
        src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for k in range(nd):
            ax = x.ndim - 1 - k
            lo, hi = pads[2 * k], pads[2 * k + 1]
            size = x.shape[ax] + lo + hi
            if size < 0:
                raise RuntimeError(
                    f"The input size {x.shape[ax]}, plus negative padding {lo} and {hi} resulted in a "
                    f"negative output size, which is invalid. Check dimension {ax} of your input."
                )
            shape[ax] = size
            src[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
            dst[ax] = slice(max(lo, 0), size - max(hi, 0))
        out = xp.full(shape, value, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        ctx.meta = (x.shape, tuple(src), tuple(dst))
        return out

    @staticmethod
    def backward(ctx, g):
        shape, src, dst = ctx.meta
        if not isinstance(g, np.ndarray) and hasattr(g, "_data"):  # create_graph: pad back
            pads = []
            for ax in reversed(range(len(shape))):
                lo, hi, _ = src[ax].indices(shape[ax])
                pads += [lo, shape[ax] - hi]
            return ConstantPad.apply(g[dst], tuple(pads), 0.0), None, None
        xp = of(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        gx[src] = g[dst]
        return gx, None, None


class IndexPad(Function):
    # y = x gathered along each padded axis by an index map (reflect/replicate/circular);
    # dx = scatter-add of dy along the same maps
    @staticmethod
    def forward(ctx, x, maps):
        xp = of(x)
        out = x
        for ax, idx in maps:
            out = xp.take(out, idx, axis=ax)
        ctx.meta = (x.shape, maps)
        return out

    @staticmethod
    def backward(ctx, g):
        shape, maps = ctx.meta
        xp = of(g)
        for ax, idx in reversed(maps):
            # one-hot (in, out) matrix: scatter-add along the axis is a small GEMM
            onehot = (xp.arange(shape[ax])[:, None] == idx[None, :]).astype(g.dtype)
            g = xp.moveaxis(xp.tensordot(g, onehot, axes=([ax], [1])), -1, ax)
        return g, None


@dataclass(slots=True)
class TapPool:
    """Backward state of MaxPool.forward_taps (the input is saved, version-checked)."""

    out: object  # NCHW array, or the (C, H, W, N) buffer when batch_last
    k: tuple
    stride: tuple
    pad: tuple
    dil: tuple
    batch_last: bool


@dataclass(slots=True)
class WindowPool:
    """Backward state of MaxPool.forward_windows."""

    x_shape: tuple
    k: tuple
    stride: tuple
    pad: tuple
    extra: tuple
    dil: tuple
    out_hw: tuple
    arg: object  # argmax within each window, (N, C, OH, OW)


def uses_tiled_pool(x, k, stride, pad, dil, extra, aux) -> bool:
    """Non-overlapping windows that tile the input exactly (stride == kernel, no padding or
    dilation), no indices asked for: what ActMaxPool (ops/act_pool.py) fuses."""
    n, c, h, w = x.shape
    return (
        aux is None
        and stride == k
        and dil == (1, 1)
        and pad == (0, 0)
        and extra == (0, 0)
        and h % k[0] == 0
        and w % k[1] == 0
    )


def uses_tap_pool(x, k, aux) -> bool:
    """The predicate for MaxPool's fast path: any windows (tiling or overlapping, padded,
    dilated, ceil_mode), no indices asked for."""
    return aux is None


class MaxPool(Function):
    # y = max over each window; dy flows to the (first) argmax of its window
    takes_batch_last = True
    _name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, k, stride, pad, dil, extra, aux=None):
        """extra = (bottom, right) more -inf padding for ceil_mode windows; aux gets the argmax."""
        if uses_tap_pool(x, k, aux):
            return MaxPool.forward_taps(ctx, x, k, stride, tuple(pad), dil, tuple(extra))
        return MaxPool.forward_windows(ctx, x, k, stride, pad, dil, extra, aux)

    @staticmethod
    def backward(ctx, g):
        if isinstance(ctx.state, TapPool):
            return MaxPool.backward_taps(ctx, g), None, None, None, None, None, None
        return MaxPool.backward_windows(ctx, g)

    @staticmethod
    def forward_taps(ctx, x, k, stride, pad, dil, extra):
        """Fast path: the max of the kh*kw strided tap slices of the unpadded input,
        elementwise (no padded copy, no window array, no argmax pass), in the input's layout:
        batch-last inputs stay batch-last. Backward finds each window's first max again."""
        bl = type(x) is np.ndarray and not x.flags.c_contiguous and is_batch_last(x)
        src = x.transpose(1, 2, 3, 0) if bl else x
        out = kernels.tap_max_forward(src, k, 1 if bl else 2, stride, pad, dil, extra)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x)
            ctx.state = TapPool(out, k, stride, pad, dil, bl)
        return nchw_view(out) if bl else out

    @staticmethod
    def backward_taps(ctx, g):
        (x,), st = ctx.saved, ctx.state
        if st.batch_last:
            src, g, axis = x.transpose(1, 2, 3, 0), to_batch_last(g), 1
        else:
            src, axis = x, 2
        gx = kernels.tap_max_backward(src, st.out, g, st.k, axis, st.stride, st.pad, st.dil)
        return nchw_view(gx) if st.batch_last else gx

    @staticmethod
    def forward_windows(ctx, x, k, stride, pad, dil, extra, aux):
        """The general path: any windows (padding, dilation, ceil_mode, indices)."""
        xp = of(x)
        n, c, h, w = x.shape
        kh, kw = k
        (ph, pw), (eb, er) = pad, extra
        fill = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        xpad = _pad2(x, ((ph, ph + eb), (pw, pw + er)), fill)
        if stride == k and dil == (1, 1) and xpad.shape[2] % kh == 0 and xpad.shape[3] % kw == 0:
            oh, ow = xpad.shape[2] // kh, xpad.shape[3] // kw
            win = xpad.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5)
        else:
            win = _windows(xpad, k, stride, dil)
            oh, ow = win.shape[2], win.shape[3]
        flat = win.reshape(n, c, oh, ow, kh * kw)
        arg = flat.argmax(-1)
        out = xp.take_along_axis(flat, arg[..., None], -1)[..., 0]
        ctx.state = WindowPool(x.shape, k, stride, (ph, pw), (eb, er), dil, (oh, ow), arg)
        if aux is not None:
            aux.append(arg)
        return out

    @staticmethod
    def backward_windows(ctx, g):
        st = ctx.state
        (n, c, h, w), k, stride, (ph, pw), (eb, er), dil, (oh, ow) = (
            st.x_shape,
            st.k,
            st.stride,
            st.pad,
            st.extra,
            st.dil,
            st.out_hw,
        )
        xp = of(g)
        kh, kw = k
        onehot = st.arg[..., None] == xp.arange(kh * kw)
        gwin = xp.where(onehot, g[..., None], g.dtype.type(0))  # (N, C, OH, OW, KK)
        hp, wp = h + 2 * ph + eb, w + 2 * pw + er
        if stride == k and dil == (1, 1) and hp == oh * kh and wp == ow * kw:
            gpad = gwin.reshape(n, c, oh, ow, kh, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hp, wp)
        else:
            gcol = gwin.reshape(n, c, oh, ow, kh, kw).transpose(1, 4, 5, 2, 3, 0)
            gpad = xp.zeros((c, hp, wp, n), dtype=g.dtype)
            col2im_add(gpad, gcol, k, stride, dil, (oh, ow))
            gpad = gpad.transpose(3, 0, 1, 2)
        return xp.ascontiguousarray(gpad[:, :, ph : ph + h, pw : pw + w]), None, None, None, None, None


def max_pool_indices(arg, x_hw, k, stride, pad, dil):
    """torch's return_indices: flat h*W + w positions (in the unpadded input) of each max."""
    xp = of(arg)
    oh, ow = arg.shape[-2:]
    ki, kj = arg // k[1], arg % k[1]
    h0 = xp.arange(oh)[:, None] * stride[0] - pad[0]
    w0 = xp.arange(ow)[None, :] * stride[1] - pad[1]
    hh, ww = h0 + ki * dil[0], w0 + kj * dil[1]
    # a window with no value above -inf: torch keeps its first in-bounds position
    pad_h = (hh < 0) | (hh >= x_hw[0])
    pad_w = (ww < 0) | (ww >= x_hw[1])
    if pad_h.any() or pad_w.any():
        first_h = h0 + (-(h0 // dil[0])).clip(0) * dil[0] + xp.zeros_like(hh)
        first_w = w0 + (-(w0 // dil[1])).clip(0) * dil[1] + xp.zeros_like(ww)
        off = pad_h | pad_w
        hh, ww = xp.where(off, first_h, hh), xp.where(off, first_w, ww)
    return (hh * x_hw[1] + ww).astype(xp.int64)


class AvgPool(Function):
    # y = sum over each zero-padded window / divisor; dx = dy / divisor spread over the window
    _name = "AvgPool2DBackward0"
    takes_batch_last = True

    @staticmethod
    def forward(ctx, x, k, stride, pad, extra, div):
        bl = type(x) is np.ndarray and not x.flags.c_contiguous and is_batch_last(x)
        if bl and uses_tiled_pool(x, k, stride, tuple(pad), (1, 1), tuple(extra), None):
            return AvgPool.forward_tiled_batch_last(ctx, x, k, div)
        if bl:  # the general path runs in NCHW
            x = from_batch_last(x.transpose(1, 2, 3, 0))
        ctx.tiled = False
        (ph, pw), (eb, er) = pad, extra
        xpad = _pad2(x, ((ph, ph + eb), (pw, pw + er)))
        n, c = x.shape[:2]
        oh, ow = div.shape
        if stride == k and xpad.shape[2] == oh * k[0] and xpad.shape[3] == ow * k[1]:
            s = xpad.reshape(n, c, oh, k[0], ow, k[1]).sum((3, 5))
        else:
            s = _windows(xpad, k, stride, (1, 1)).sum((4, 5))
        ctx.meta = (x.shape, k, stride, (ph, pw), (eb, er), div)
        return s / div

    @staticmethod
    def forward_tiled_batch_last(ctx, x, k, div):
        """Fast path: windows that tile a batch-last input, summed as kh*kw strided slices of
        the (C, H, W, N) buffer; the output stays batch-last (a ResNet's or DenseNet's pools)."""
        src = x.transpose(1, 2, 3, 0)
        kh, kw = k
        out = src[:, 0::kh, 0::kw].copy()
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    out += src[:, i::kh, j::kw]
        out /= div[None, :, :, None]
        ctx.tiled, ctx.meta = True, (k, div)
        return nchw_view(out)

    @staticmethod
    def backward(ctx, g):
        if ctx.tiled:
            (kh, kw), div = ctx.meta
            gd = to_batch_last(g) / div[None, :, :, None]
            c, oh, ow, n = gd.shape
            gx = np.empty((c, oh * kh, ow * kw, n), dtype=gd.dtype)
            for i in range(kh):
                for j in range(kw):
                    gx[:, i::kh, j::kw] = gd
            return nchw_view(gx), None, None, None, None, None
        (n, c, h, w), k, stride, (ph, pw), (eb, er), div = ctx.meta
        xp = of(g)
        gd = g / div
        oh, ow = div.shape
        hp, wp = h + 2 * ph + eb, w + 2 * pw + er
        if stride == k and hp == oh * k[0] and wp == ow * k[1]:
            gpad = xp.broadcast_to(gd[:, :, :, None, :, None], (n, c, oh, k[0], ow, k[1]))
            gpad = gpad.reshape(n, c, hp, wp)
        else:
            gcol = xp.broadcast_to(gd.transpose(1, 2, 3, 0)[:, None, None], (c, k[0], k[1], oh, ow, n))
            gpad = xp.zeros((c, hp, wp, n), dtype=g.dtype)
            col2im_add(gpad, gcol, k, stride, (1, 1), (oh, ow))
            gpad = gpad.transpose(3, 0, 1, 2)
        return xp.ascontiguousarray(gpad[:, :, ph : ph + h, pw : pw + w]), None, None, None, None, None


class AdaptiveAvgPool(Function):
    # y = A_h x A_w^T with row-averaging matrices A; dx = A_h^T dy A_w
    _name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, ah, aw):
        xp = of(x)
        ctx.mats = (ah, aw)
        return xp.matmul(xp.matmul(ah, x), aw.T)

    @staticmethod
    def backward(ctx, g):
        ah, aw = ctx.mats
        xp = of(g)
        return xp.matmul(xp.matmul(ah.T, g), aw), None, None


class AdaptiveMaxPool(Function):
    # y = max over each adaptive window; dy flows to the first argmax (loop over output cells)
    _name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x, hb, wb, aux=None):
        xp = of(x)
        n, c, h, w = x.shape
        out = xp.empty((n, c, len(hb), len(wb)), dtype=x.dtype)
        idx = xp.empty((n, c, len(hb), len(wb)), dtype=xp.int64)
        for i, (h0, h1) in enumerate(hb):
            for j, (w0, w1) in enumerate(wb):
                reg = x[:, :, h0:h1, w0:w1].reshape(n, c, -1)
                a = reg.argmax(-1)
                out[:, :, i, j] = xp.take_along_axis(reg, a[..., None], -1)[..., 0]
                idx[:, :, i, j] = (h0 + a // (w1 - w0)) * w + w0 + a % (w1 - w0)
        ctx.meta = (x.shape, idx)
        if aux is not None:
            aux.append(idx)
        return out

    @staticmethod
    def backward(ctx, g):
        shape, idx = ctx.meta
        xp = of(g)
        n, c, h, w = shape
        gx = xp.zeros((n * c, h * w), dtype=g.dtype)
        rows = xp.arange(n * c)[:, None]
        xp.add.at(gx, (rows, idx.reshape(n * c, -1)), g.reshape(n * c, -1))
        return gx.reshape(shape), None, None


def adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_matrix(xp, size: int, out: int, dtype):
    m = np.zeros((out, size), dtype=dtype)
    for i, (a, b) in enumerate(adaptive_bounds(size, out)):
        m[i, a:b] = 1.0 / (b - a)
    return m if xp is np else xp.asarray(m)
