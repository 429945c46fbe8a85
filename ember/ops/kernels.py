"""Threaded NumPy kernels for the activations: the named fast paths of Relu, Sigmoid and Tanh
(ops/pointwise.py), used when every array is a dense NumPy array of one shape and dtype. Each
writes a fresh buffer in chunks across ember's threads (`map_flat`), which keeps a batch-last
layout as it is. tests/test_fast_paths.py checks each against its Function's general path."""

from __future__ import annotations

import itertools

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


def leaky_relu_forward(a, slope: float):
    """max(x, s x) for 0 < s <= 1 (equal to `x if x > 0 else s x`, NaN included): two passes
    into one fresh buffer instead of a mask, a product and a select."""
    out = np.empty_like(a)

    def chunk(v, x):
        np.multiply(x, slope, out=v)
        np.maximum(v, x, out=v)

    map_flat(chunk, out, a)
    return out


def leaky_relu_backward(y, g, slope: float):
    """g where y > 0 else s g, from the output (y > 0 exactly where x > 0 for s > 0), as
    g * ((y > 0) * (1 - s) + s): branch-free ufuncs, ~6x faster than a masked copy on
    random signs. Exact when (1 - s) + s rounds to 1 in g's dtype (checked; else a select)."""
    out = np.empty_like(g)
    one_minus = g.dtype.type(1) - g.dtype.type(slope)
    exact = one_minus + g.dtype.type(slope) == 1

    def chunk(v, yy, gg):
        if not exact:
            v[...] = np.where(yy > 0, gg, gg * slope)
            return
        np.greater(yy, 0, out=v, casting="unsafe")  # 1.0 / 0.0
        v *= one_minus
        v += g.dtype.type(slope)
        v *= gg

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


def _tap_range(i: int, d: int, s: int, p: int, n: int, o: int) -> tuple[slice, slice]:
    """For kernel tap i (dilation d, stride s, padding p) along an axis of n inputs and o
    outputs: the outputs whose tap lands inside the input, and the input positions it reads."""
    off = i * d - p  # input position of output 0's tap i
    lo = -(off // s) if off < 0 else 0
    hi = min(o, (n - 1 - off) // s + 1) if n - 1 - off >= 0 else 0
    if hi <= lo:
        return slice(0, 0), slice(0, 0)
    return slice(lo, hi), slice(off + lo * s, off + (hi - 1) * s + 1, s)


def _taps(k, stride, pad, dil, hw, out_hw, hw_axis):
    """(output slices, input slices) of each of the kh*kw taps, in row-major window order."""
    lead = (slice(None),) * hw_axis
    rows = [_tap_range(i, dil[0], stride[0], pad[0], hw[0], out_hw[0]) for i in range(k[0])]
    cols = [_tap_range(j, dil[1], stride[1], pad[1], hw[1], out_hw[1]) for j in range(k[1])]
    return [(lead + (ro, co), lead + (ri, ci)) for ro, ri in rows for co, ci in cols]


def _partition(k: int, s: int, p: int, d: int, n: int, o: int):
    """Taps along one axis whose reads cover each of the n input positions exactly once (the
    first such set, over subsets by size), or None; kernels wider than 8 are not searched."""
    reads = [{s * r + i * d - p for r in range(o)} & set(range(n)) for i in range(k)]
    if k > 8:
        return None
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            sets = [reads[i] for i in subset]
            if sum(map(len, sets)) == n and len(set().union(*sets)) == n:
                return list(subset)
    return None


def max_pool_out_hw(hw, k, stride, pad, dil, extra=(0, 0)) -> tuple:
    """Output size of a max pool; extra = ceil_mode's additional bottom/right padding."""
    return tuple(
        (n + 2 * p + e - d * (kk - 1) - 1) // s + 1
        for n, kk, s, p, d, e in zip(hw, k, stride, pad, dil, extra)
    )


def tap_max_forward(x, k, hw_axis: int, stride=None, pad=(0, 0), dil=(1, 1), extra=(0, 0)):
    """Max pooling over the spatial axes (hw_axis, hw_axis + 1), any windows (stride, implicit
    -inf padding, dilation, ceil_mode's extra): the max of the kh*kw strided tap slices of the
    unpadded input, elementwise (no padded copy, no window array, no argmax pass); positions
    outside the input are never read. Split across threads along axis 0 (the batch in NCHW,
    channels in batch-last). NaN propagates."""
    stride = stride or k
    xp = of(x)
    hw = x.shape[hw_axis : hw_axis + 2]
    out_hw = max_pool_out_hw(hw, k, stride, pad, dil, extra)
    shape = list(x.shape)
    shape[hw_axis : hw_axis + 2] = out_hw
    taps = _taps(k, stride, pad, dil, hw, out_hw, hw_axis)
    full = tuple(
        s
        for s, _ in taps
        if s[hw_axis].stop - s[hw_axis].start == out_hw[0]
        and s[hw_axis + 1].stop - s[hw_axis + 1].start == out_hw[1]
    )
    out = xp.empty(shape, dtype=x.dtype)
    if not full:  # no tap covers every output: start from -inf (or the dtype's minimum)
        out[...] = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    first = next((i for i, (s, _) in enumerate(taps) if s in full), None)

    def chunk(lo, hi):
        o, xs = out[lo:hi], x[lo:hi]
        if first is not None:
            o[...] = xs[taps[first][1]]
        for t, (osl, isl) in enumerate(taps):
            if (
                t != first
                and osl[hw_axis].stop > osl[hw_axis].start
                and osl[hw_axis + 1].stop > osl[hw_axis + 1].start
            ):
                ov = o[osl]
                xp.maximum(ov, xs[isl], out=ov)

    split(chunk, x.shape[0], x.size) if xp is np else chunk(0, x.shape[0])
    return out


def tap_max_backward(x, out, g, k, hw_axis: int, stride=None, pad=(0, 0), dil=(1, 1)):
    """Each window's gradient goes to its first maximal element (row-major; a NaN counts as
    the max), as torch does; g is in x's layout. Overlapping windows add up."""
    stride = stride or k
    xp = of(g)
    hw = x.shape[hw_axis : hw_axis + 2]
    out_hw = out.shape[hw_axis : hw_axis + 2]
    cover = [_partition(k[a], stride[a], pad[a], dil[a], hw[a], out_hw[a]) for a in (0, 1)]
    # taps that together read every input position once (all of them when the windows tile
    # the input; 4 of 9 for ResNet's 3x3/2 pool) write their part without a zero fill; the
    # others then add theirs
    first = None if None in cover else {i * k[1] + j for i in cover[0] for j in cover[1]}
    gx = xp.empty(x.shape, dtype=g.dtype) if first else xp.zeros(x.shape, dtype=g.dtype)
    zero = g.dtype.type(0)
    nan = bool(xp.isnan(out).any()) if out.dtype.kind == "f" else False
    taps = [
        (osl, isl, bool(first) and t in first)
        for t, (osl, isl) in enumerate(_taps(k, stride, pad, dil, hw, out_hw, hw_axis))
        if osl[hw_axis].stop > osl[hw_axis].start and osl[hw_axis + 1].stop > osl[hw_axis + 1].start
    ]
    writes_first = sorted(range(len(taps)), key=lambda t: not taps[t][2])

    def chunk(lo, hi):
        o, gs, xs, gxs = out[lo:hi], g[lo:hi], x[lo:hi], gx[lo:hi]
        hits = []
        for osl, isl, _ in taps:
            s = xs[isl]
            hit = s == o[osl]
            if nan:
                hit |= s != s  # a NaN is the max of its window
            hits.append(hit)
        # one hit per window (no ties, the usual case for real inputs) needs no first-max pass
        if nan or sum(int(xp.count_nonzero(h)) for h in hits) != o.size:
            taken = xp.zeros(o.shape, dtype=bool)
            for (osl, _, _), h in zip(taps, hits):  # row-major window order
                h &= ~taken[osl]
                taken[osl] |= h
        for t in writes_first:
            (osl, isl, writes), hit = taps[t], hits[t]
            dst = gxs[isl]
            if writes and gs.dtype.kind == "f":
                xp.multiply(gs[osl], hit, out=dst)
            elif writes:
                dst[...] = xp.where(hit, gs[osl], zero)
            else:
                dst += gs[osl] * hit if gs.dtype.kind == "f" else xp.where(hit, gs[osl], zero)

    split(chunk, x.shape[0], x.size) if xp is np else chunk(0, x.shape[0])
    return gx
