"""Primitives behind nn layers: Linear (one addmm node), Dropout, the embedding lookup, and
the identity node that lets Module backward hooks see and replace gradients."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._layout import is_batch_last, nchw_view, to_batch_last
from ember._tensor import Tensor
from ember.graph.node import Function


def rows_matmul(a, b):
    """General path: a @ b for a of any rank (NumPy loops over a's leading dimensions, one GEMM
    per matrix)."""
    return a @ b


def rows_matmul_folded(a, b):
    """Fast path of rows_matmul for a of rank > 2: its leading dimensions folded into the rows
    of one GEMM (a free view when a is C-contiguous, else one copy of a), as torch's linear
    does; faster than NumPy's per-matrix loop (docs/sequence.md)."""
    if a.ndim <= 2:
        return rows_matmul(a, b)
    return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])


class Linear(Function):
    # y = x W^T + b;  dx = g W,  dW = g^T x,  db = sum_batch g
    _name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        out = rows_matmul_folded(x, w.T)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        n = ctx.needs_input_grad
        gx = gw = gb = None
        if n[0]:
            gx = rows_matmul_folded(g, w)
        if n[1] or (len(n) > 2 and n[2]):
            g2 = g.reshape(-1, w.shape[0])
            if n[1]:
                gw = g2.T @ x.reshape(-1, w.shape[1])
            if len(n) > 2 and n[2]:
                gb = of(g2).sum(g2, axis=0)
        return gx, gw, gb


class Dropout(Function):
    # y = x m / (1 - p), m ~ Bernoulli(1 - p);  dx = g m / (1 - p)
    _name = "MulBackward0"
    takes_batch_last = True  # a batch-last x stays batch-last: the NCHW mask is transposed once

    @staticmethod
    def forward(ctx, x, mask, scale):
        if (
            type(x) is np.ndarray
            and type(mask) is np.ndarray
            and mask.shape == x.shape
            and not x.flags.c_contiguous
            and is_batch_last(x)
        ):  # fast path: the mask in x's layout (a mixed-layout multiply is 10x slower)
            mask = nchw_view(to_batch_last(mask))
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return x * mask * scale if scale != 1.0 else x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return (g * mask * ctx.scale if ctx.scale != 1.0 else g * mask), None, None


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
                embedding_grad_flat(gw, flat, g2)
            else:
                import cupyx

                cupyx.scatter_add(gw, flat, g2)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None


def embedding_grad_rows(gw, flat, g2) -> None:
    """General path: gw[flat[n]] += g2[n] row by row, in the order of n (as torch's CPU kernel)."""
    np.add.at(gw, flat, g2)


def embedding_grad_flat(gw, flat, g2) -> None:
    """Fast path of embedding_grad_rows: the same additions in the same order, as 1-d
    np.add.at calls over element indices (NumPy's tight loop; the 2-d form walks one row at a
    time; docs/sequence.md), in blocks of rows so the index array stays small."""
    d = gw.shape[1]
    if not gw.flags.c_contiguous or d == 0:
        embedding_grad_rows(gw, flat, g2)
        return
    cols = np.arange(d, dtype=np.intp)
    gflat = gw.reshape(-1)
    step = max(1, _EMB_BLOCK // d)
    for lo in range(0, flat.size, step):
        rows = flat[lo : lo + step].astype(np.intp, copy=False)
        np.add.at(gflat, (rows[:, None] * d + cols).reshape(-1), g2[lo : lo + step].reshape(-1))


_EMB_BLOCK = 1 << 20  # elements per np.add.at call (8 MB of indices)


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
