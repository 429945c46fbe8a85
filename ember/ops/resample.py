"""Resampling primitives: separable interpolation (one (out, in) weight matrix per spatial axis)
and grid sampling (bilinear / nearest lookups at arbitrary normalised coordinates).

Weight matrices follow ATen's UpSample.h / UpSampleKernel.cpp index and weight formulas, computed
in the input's float type as torch does (float32 math for float32 input).
"""

from __future__ import annotations

import math

import numpy as np

from ember._backend import of
from ember.graph.node import Function


class AxisResample(Function):
    # y = x x_k M_k over each resampled axis k (M_k: (out_k, in_k)); dx = dy x_k M_k^T
    @staticmethod
    def forward(ctx, x, mats):
        xp = of(x)
        y = x
        for ax, m in mats:
            y = xp.moveaxis(xp.matmul(xp.moveaxis(y, ax, -1), m.T), -1, ax)
        ctx.mats = mats
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        xp = of(g)
        for ax, m in reversed(ctx.mats):
            g = xp.moveaxis(xp.matmul(xp.moveaxis(g, ax, -1), m), -1, ax)
        return xp.ascontiguousarray(g), None


# -- per-axis index / weight tables (numpy, host side) --------------------------------------------
def _scale(n_in: int, n_out: int, align_corners: bool, scale, ft):
    """ATen's area_pixel_compute_scale in the float type ft."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(scale, n_out: int, align_corners: bool, cubic: bool, ft):
    """ATen's area_pixel_compute_source_index for every output index."""
    i = np.arange(n_out).astype(ft)
    if align_corners:
        return scale * i
    src = scale * (i + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def nearest_index(n_in: int, n_out: int, scale, exact: bool, dtype) -> np.ndarray:
    """Source index of every output position for 'nearest' (floor(i*s)) and 'nearest-exact'
    (floor((i+0.5)*s)), clamped to the input."""
    ft = np.dtype(dtype).type if np.dtype(dtype).kind == "f" else np.float32
    s = _scale(n_in, n_out, False, scale, ft)
    i = np.arange(n_out).astype(ft)
    src = (i + ft(0.5)) * s if exact else i * s
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1)


def linear_matrix(n_in: int, n_out: int, align_corners: bool, scale, dtype) -> np.ndarray:
    ft = np.dtype(dtype).type
    m = np.zeros((n_out, n_in), dtype=dtype)
    if n_in == n_out:
        return np.eye(n_in, dtype=dtype)
    real = _source(_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners, False, ft)
    i0 = np.minimum(real.astype(np.int64), n_in - 1)
    i1 = i0 + (i0 < n_in - 1)
    l1 = np.clip(real - i0.astype(ft), ft(0), ft(1))
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), ft(1) - l1)
    np.add.at(m, (rows, i1), l1)
    return m


def _cubic_conv1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_conv2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def cubic_matrix(n_in: int, n_out: int, align_corners: bool, scale, dtype) -> np.ndarray:
    ft = np.dtype(dtype).type
    a = ft(-0.75)
    real = _source(_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners, True, ft)
    idx = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
    t = np.clip(real - idx.astype(ft), ft(0), ft(1))
    one = ft(1)
    coeffs = (
        _cubic_conv2(t + one, a),
        _cubic_conv1(t, a),
        _cubic_conv1(one - t, a),
        _cubic_conv2(ft(2) - t, a),
    )
    m = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    for j, c in enumerate(coeffs):
        np.add.at(m, (rows, np.clip(idx - 1 + j, 0, n_in - 1)), c)
    return m


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1, 1 - x, 0)


def _keys_cubic(x):  # a = -0.5 (Keys / PIL) for antialiased bicubic
    x = np.abs(x)
    return np.where(x < 1, _cubic_conv1(x, -0.5), np.where(x < 2, _cubic_conv2(x, -0.5), 0))


def _lanczos3(x):
    x = np.abs(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(x == 0, 1.0, np.sin(np.pi * x) / (np.pi * x))
        s3 = np.where(x == 0, 1.0, np.sin(np.pi * x / 3) / (np.pi * x / 3))
    return np.where(x < 3, s * s3, 0)


_AA = {"bilinear": (2, _triangle), "bicubic": (4, _keys_cubic), "lanczos": (6, _lanczos3)}


def antialias_matrix(mode: str, n_in: int, n_out: int, align_corners: bool, scale, dtype) -> np.ndarray:
    """PIL-style filter weights (support widened by the downscale factor), normalised per row."""
    ft = np.dtype(dtype).type
    interp, filt = _AA[mode]
    s = _scale(n_in, n_out, align_corners, scale, ft)
    support = (interp * 0.5) * float(s) if s >= 1 else interp * 0.5
    width = math.ceil(support) * 2 + 1
    invscale = 1.0 / float(s) if s >= 1 else 1.0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = float(ft(float(s) * (i + 0.5)))
        lo = max(int(center - support + 0.5), 0)
        size = min(max(min(int(center + support + 0.5), n_in) - lo, 0), width)
        j = np.arange(size)
        w = filt(((j + lo - center) + 0.5) * invscale).astype(ft)
        total = w.sum(dtype=ft)
        if total != 0:
            m[i, lo : lo + size] = w / total
    return m.astype(dtype)


def area_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """Adaptive average pooling windows [floor(i*n/o), ceil((i+1)*n/o)) as a row-mean matrix."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


# -- grid sampling ----------------------------------------------------------------------------------
def _reflect(x, lo2: float, hi2: float):
    """ATen's reflect_coordinates (value, d value / d x) between lo2/2 and hi2/2."""
    xp = of(x)
    if lo2 == hi2:
        return xp.zeros_like(x), xp.zeros_like(x)
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    d = x - lo
    sign = xp.where(d < 0, -1, 1).astype(x.dtype)
    d = xp.abs(d)
    extra = xp.fmod(d, span)
    flips = xp.floor(d / span)
    even = flips % 2 == 0
    return xp.where(even, extra + lo, span - extra + lo), xp.where(even, sign, -sign)


def _source_coord(coord, size: int, padding_mode: str, align_corners: bool):
    """ATen's grid_sampler_compute_source_index_set_grad: pixel coordinate and its derivative
    with respect to the normalised grid coordinate."""
    xp, ft = of(coord), coord.dtype.type
    if align_corners:
        x, mult = (coord + ft(1)) / ft(2) * ft(size - 1), ft(size - 1) / ft(2)
    else:
        x, mult = ((coord + ft(1)) * ft(size) - ft(1)) / ft(2), ft(size) / ft(2)
    grad = xp.full_like(coord, mult)
    if padding_mode == "border":
        x, gc = _clip(x, size)
        grad = grad * gc
    elif padding_mode == "reflection":
        if align_corners:
            x, gr = _reflect(x, 0.0, 2.0 * (size - 1))
        else:
            x, gr = _reflect(x, -1.0, 2.0 * size - 1)
        x, gc = _clip(x, size)
        grad = grad * gr * gc
    return x, grad


def _clip(x, size: int):
    xp, hi = of(x), x.dtype.type(size - 1)
    out = xp.clip(x, 0, hi)
    return out, ((x > 0) & (x < hi)).astype(x.dtype)


def _unnormalize(coord, size: int, align_corners: bool):
    """ATen's grid_sampler_unnormalize_set_grad: pixel coordinate and d pixel / d coord."""
    ft = coord.dtype.type
    if align_corners:
        return (coord + ft(1)) / ft(2) * ft(size - 1), ft(size - 1) / ft(2)
    return ((coord + ft(1)) * ft(size) - ft(1)) / ft(2), ft(size) / ft(2)


def _bounded(x, size: int, padding_mode: str, align_corners: bool):
    """ATen's compute_coordinates for an (integer-valued) bicubic tap position."""
    if padding_mode == "border":
        return _clip(x, size)[0]
    if padding_mode == "reflection":
        lo2, hi2 = (0.0, 2.0 * (size - 1)) if align_corners else (-1.0, 2.0 * size - 1)
        return _clip(_reflect(x, lo2, hi2)[0], size)[0]
    return x


def _cubic_weights(t):
    """Cubic convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 and their d/dt."""
    a, one, two = t.dtype.type(-0.75), t.dtype.type(1), t.dtype.type(2)
    w = (_cubic_conv2(t + one, a), _cubic_conv1(t, a), _cubic_conv1(one - t, a), _cubic_conv2(two - t, a))

    def d1(x):  # d/dx cubic_conv1
        return (3 * (a + 2) * x - 2 * (a + 3)) * x

    def d2(x):  # d/dx cubic_conv2
        return (3 * a * x - 10 * a) * x + 8 * a

    return w, (d2(t + one), d1(t), -d1(one - t), -d2(two - t))


def _taps(grid, h: int, w: int, mode: str, padding_mode: str, align_corners: bool):
    """[(x index, y index, weight, d weight/d ix, d weight/d iy)] and d(ix, iy)/d grid."""
    xp = of(grid)
    if mode == "bicubic":  # taps read through the padding; the grid gradient skips it (as ATen)
        ix, mx = _unnormalize(grid[..., 0], w, align_corners)
        iy, my = _unnormalize(grid[..., 1], h, align_corners)
        x0, y0 = xp.floor(ix), xp.floor(iy)
        (wx, dx), (wy, dy) = _cubic_weights(ix - x0), _cubic_weights(iy - y0)
        taps = []
        for j in range(4):
            ty = _bounded(y0 + (j - 1), h, padding_mode, align_corners)
            for i in range(4):
                tx = _bounded(x0 + (i - 1), w, padding_mode, align_corners)
                taps.append((tx, ty, wx[i] * wy[j], dx[i] * wy[j], wx[i] * dy[j]))
        return taps, xp.full_like(ix, mx), xp.full_like(iy, my)
    ix, mx = _source_coord(grid[..., 0], w, padding_mode, align_corners)
    iy, my = _source_coord(grid[..., 1], h, padding_mode, align_corners)
    if mode == "nearest":
        zero = xp.zeros_like(ix)
        return [(xp.rint(ix), xp.rint(iy), xp.ones_like(ix), zero, zero)], mx, my
    x0, y0 = xp.floor(ix), xp.floor(iy)
    fx, fy = ix - x0, iy - y0
    one = ix.dtype.type(1)
    return (
        [
            (x0, y0, (one - fx) * (one - fy), -(one - fy), -(one - fx)),
            (x0 + one, y0, fx * (one - fy), one - fy, -fx),
            (x0, y0 + one, (one - fx) * fy, -fy, one - fx),
            (x0 + one, y0 + one, fx * fy, fy, fx),
        ],
        mx,
        my,
    )


class GridSample2d(Function):
    # y[n,c,p] = sum_taps w_k(ix, iy) x[n,c,iy_k,ix_k] (zero outside); dx: scatter-add of
    # w_k dy; dgrid: sum_k dy . x_k . dw_k/d(ix, iy) times d(ix, iy)/d grid
    _name = "GridSampler2DBackward0"

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        xp = of(x)
        n, c, h, w = x.shape
        ho, wo = grid.shape[1:3]
        taps, mx, my = _taps(grid, h, w, mode, padding_mode, align_corners)
        xf = x.reshape(n, c, h * w)
        out = xp.zeros((n, c, ho * wo), dtype=x.dtype)
        saved = []
        for tx, ty, wt, dwx, dwy in taps:
            inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
            flat = xp.where(inside, ty * w + tx, 0).astype(xp.int64).reshape(n, 1, -1)
            wt = xp.where(inside, wt, 0).astype(x.dtype).reshape(n, 1, -1)
            vals = xp.take_along_axis(xf, xp.broadcast_to(flat, (n, c, flat.shape[2])), 2)
            vals = vals * inside.reshape(n, 1, -1)
            out += vals * wt
            saved.append((flat, wt, vals, dwx.reshape(n, 1, -1), dwy.reshape(n, 1, -1)))
        ctx.meta = (x.shape, grid.shape, mx, my)
        ctx.taps = saved
        return out.reshape(n, c, ho, wo)

    @staticmethod
    def backward(ctx, g):
        (n, c, h, w), gshape, mx, my = ctx.meta
        need = ctx.needs_input_grad
        xp = of(g)
        g = g.reshape(n, c, -1)
        gx = ggrid = None
        if need[0]:
            gxf = xp.zeros((c, n * h * w), dtype=g.dtype)
            offs = (xp.arange(n) * (h * w)).reshape(n, 1, 1)
            for flat, wt, _, _, _ in ctx.taps:
                idx = (flat + offs).reshape(-1)
                contrib = (g * wt).transpose(1, 0, 2).reshape(c, -1)
                for ch in range(c):
                    gxf[ch] += xp.bincount(idx, weights=contrib[ch], minlength=n * h * w).astype(g.dtype)
            gx = xp.ascontiguousarray(gxf.reshape(c, n, h, w).transpose(1, 0, 2, 3))
        if need[1]:
            sx = xp.zeros((n, gshape[1] * gshape[2]), dtype=g.dtype)
            sy = xp.zeros_like(sx)
            for _, _, vals, dwx, dwy in ctx.taps:
                gv = g * vals
                sx += (gv * dwx).sum(1)
                sy += (gv * dwy).sum(1)
            ggrid = xp.stack([sx.reshape(gshape[:3]) * mx, sy.reshape(gshape[:3]) * my], -1).astype(g.dtype)
        return gx, ggrid, None, None, None
