"""Threaded NumPy kernels for the activations: the named fast paths of Relu, Sigmoid and Tanh
(ops/pointwise.py), used when every array is a dense NumPy array of one shape and dtype. Each
writes a fresh buffer in chunks across ember's threads (`map_flat`), which keeps a batch-last
layout as it is. tests/test_fast_paths.py checks each against its Function's general path."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._threads import map_flat, split


def takes_kernel(*arrays) -> bool:
    """The one predicate: dense-able NumPy arrays of one shape and dtype, not 0-d."""
    a = arrays[0]
    if type(a) is not np.ndarray or not a.ndim:
        return False
    return all(type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype for b in arrays[1:])


def relu_forward(a):
    out = np.empty_like(a)
    map_flat(lambda v, x: np.maximum(x, 0, out=v), out, a)
    return out


def relu_backward(y, g):
    """g where y = relu(x) != 0 (y is NaN where x was: torch's `not y <= 0`), else exactly 0,
    even where g is NaN or inf (torch selects, it does not multiply)."""
    out = np.empty_like(y)

    def chunk(v, yy, gg):
        np.not_equal(yy, 0, out=v)
        v *= gg
        if not np.isfinite(np.add.reduce(v, axis=None)):  # rare: a NaN/inf gradient may have
            v[...] = np.where(yy != 0, gg, 0)  # met a 0 of the mask (NaN * 0): select instead

    map_flat(chunk, out, y, g)
    return out


def sigmoid_forward(a):
    """sigma(a) = tanh(a / 2) / 2 + 1/2: no overflow for a << 0, and one pass in place."""
    out = np.empty_like(a)

    def chunk(v, x):
        np.multiply(x, 0.5, out=v)
        np.tanh(v, out=v)
        v *= 0.5
        v += 0.5

    map_flat(chunk, out, a)
    return out


def sigmoid_backward(y, g):
    out = np.empty_like(y)

    def chunk(v, yy, gg):
        np.subtract(1, yy, out=v)
        v *= yy
        v *= gg

    map_flat(chunk, out, y, g)
    return out


def tanh_backward(y, g):
    out = y * y
    np.subtract(1, out, out=out)
    out *= g
    return out


def tiled_max_forward(x, k, hw_axis: int):
    """Max pooling over non-overlapping kh x kw windows that tile the spatial axes
    (hw_axis, hw_axis + 1) exactly: the max of the kh*kw strided slices, elementwise, split
    across threads along axis 0 (the batch in NCHW, channels in batch-last). NaN propagates."""
    kh, kw = k
    xp = of(x)
    shape = list(x.shape)
    shape[hw_axis] //= kh
    shape[hw_axis + 1] //= kw
    out = xp.empty(shape, dtype=x.dtype)
    lead = (slice(None),) * hw_axis

    def chunk(lo, hi):
        o, xs = out[lo:hi], x[lo:hi]
        o[...] = xs[lead + (slice(0, None, kh), slice(0, None, kw))]
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    xp.maximum(o, xs[lead + (slice(i, None, kh), slice(j, None, kw))], out=o)

    split(chunk, x.shape[0], x.size) if xp is np else chunk(0, x.shape[0])
    return out


def tiled_max_backward(x, out, g, k, hw_axis: int):
    """Each window's gradient goes to its first maximal element (row-major), as torch does;
    g is in x's layout."""
    kh, kw = k
    xp = of(g)
    gx = xp.empty(x.shape, dtype=g.dtype)
    zero = g.dtype.type(0)
    nan = bool(xp.isnan(out).any()) if out.dtype.kind == "f" else False
    lead = (slice(None),) * hw_axis
    pos = [(i, j) for i in range(kh) for j in range(kw)]

    def chunk(lo, hi):
        o, gs, xs, gxs = out[lo:hi], g[lo:hi], x[lo:hi], gx[lo:hi]
        hits = []
        for i, j in pos:
            s = xs[lead + (slice(i, None, kh), slice(j, None, kw))]
            hit = s == o
            if nan:
                hit |= s != s  # a NaN is the max of its window
            hits.append(hit)
        # one hit per window (no ties, the usual case for real inputs) needs no first-max pass
        if nan or sum(int(xp.count_nonzero(h)) for h in hits) != o.size:
            taken = hits[0].copy()
            for h in hits[1:]:
                h &= ~taken
                taken |= h
        for (i, j), hit in zip(pos, hits):
            dst = gxs[lead + (slice(i, None, kh), slice(j, None, kw))]
            if gs.dtype.kind == "f":
                xp.multiply(gs, hit, out=dst)
            else:
                dst[...] = xp.where(hit, gs, zero)

    split(chunk, x.shape[0], x.size) if xp is np else chunk(0, x.shape[0])
    return gx
