"""Tensor-image kernels of torchvision.transforms.functional, on the NumPy array of a ``(..., C, H, W)`` tensor.

Each function takes and returns ember Tensors; the arithmetic follows torchvision's tensor code
(interpolate-style resampling, grid_sample with align_corners=False for the geometric ops, the same
rounding and truncation of integer images). These kernels build no autograd graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import ember
from ember._tensor import Tensor


def _np(img: Tensor) -> np.ndarray:
    return img.detach().cpu().numpy()


def _wrap(arr: np.ndarray, like: Tensor) -> Tensor:
    return ember.from_numpy(np.ascontiguousarray(arr)).to(like.device)


def _max_value(dtype: np.dtype) -> float:
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    if dtype == np.bool_:
        return 1.0
    return 1.0


def _cast_like(out: np.ndarray, dtype: np.dtype, round_: bool = True) -> np.ndarray:
    """Float result back to an integer image dtype (rounded, clamped) or to the float dtype."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        out = np.round(out) if round_ else out
        return np.clip(out, info.min, info.max).astype(dtype)
    return out.astype(dtype, copy=False)


def _to_float(arr: np.ndarray) -> np.ndarray:
    """convert_image_dtype to float32: integers are divided by their dtype's maximum."""
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    return arr.astype(np.float32) / np.float32(_max_value(arr.dtype))


def _from_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """convert_image_dtype from float: ``x * (max + 1 - 1e-3)`` truncated, as torchvision."""
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype, copy=False)
    return (x * np.float32(_max_value(dtype) + 1.0 - 1e-3)).astype(dtype)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


# ---------------------------------------------------------------- resampling (F.interpolate's rules)


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    return np.where(
        x <= 1.0,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2.0, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0),
    )


def resize_matrix(n_in: int, n_out: int, mode: str, antialias: bool) -> np.ndarray:
    """(n_out, n_in) matrix doing torch's 1-D ``interpolate`` (align_corners=False, size given)."""
    scale = n_in / n_out
    w = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        src = np.floor((rows + (0.5 if mode == "nearest-exact" else 0.0)) * scale).astype(np.int64)
        w[rows, np.minimum(src, n_in - 1)] = 1.0
        return w
    if antialias:  # torch's _upsample_*_aa (PIL's filters): stretched by the scale when shrinking
        interp = 1.0 if mode == "bilinear" else 2.0
        stretch = max(scale, 1.0)
        support = interp * stretch
        centers = scale * (rows + 0.5)
        j = np.arange(n_in)
        lo = np.maximum((centers - support + 0.5).astype(np.int64), 0)
        hi = np.minimum((centers + support + 0.5).astype(np.int64), n_in)
        x = (j[None, :] - centers[:, None] + 0.5) / stretch
        f = np.clip(1.0 - np.abs(x), 0.0, None) if mode == "bilinear" else _cubic(x, -0.5)
        f = np.where((j[None, :] >= lo[:, None]) & (j[None, :] < hi[:, None]), f, 0.0)
        return f / f.sum(axis=1, keepdims=True)
    src = scale * (rows + 0.5) - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = src - lo
        np.add.at(w, (rows, lo), 1.0 - frac)
        np.add.at(w, (rows, hi), frac)
        return w
    if mode == "bicubic":
        base = np.floor(src).astype(np.int64)
        t = src - base
        for k in range(-1, 3):
            idx = np.clip(base + k, 0, n_in - 1)
            np.add.at(w, (rows, idx), _cubic(t - k, -0.75))
        return w
    raise ValueError(f"Unsupported interpolation mode {mode!r} for tensors")


def resize(img: Tensor, size: Sequence[int], mode: str, antialias: bool) -> Tensor:
    arr = _np(img)
    h, w = arr.shape[-2:]
    oh, ow = int(size[0]), int(size[1])
    aa = antialias and mode in ("bilinear", "bicubic")
    wd = _work_dtype(arr.dtype)
    wh = resize_matrix(h, oh, mode, aa).astype(wd)
    ww = resize_matrix(w, ow, mode, aa).astype(wd)
    out = np.matmul(np.matmul(wh, arr.astype(wd)), ww.T)
    if mode in ("nearest", "nearest-exact"):
        return _wrap(out.astype(arr.dtype), img)
    if mode == "bicubic" and np.issubdtype(arr.dtype, np.integer):
        out = np.clip(out, 0, 255)
    return _wrap(_cast_like(out, arr.dtype), img)


# ---------------------------------------------------------------- padding, crops


def pad(img: Tensor, padding: list[int], fill: float, padding_mode: str) -> Tensor:
    left, top, right, bottom = padding
    arr = _np(img)
    crop = [slice(None)] * arr.ndim
    # negative padding crops, as in torchvision
    crop[-2] = slice(max(-top, 0), arr.shape[-2] - max(-bottom, 0))
    crop[-1] = slice(max(-left, 0), arr.shape[-1] - max(-right, 0))
    arr = arr[tuple(crop)]
    widths = [(0, 0)] * (arr.ndim - 2) + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    mode = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[
        padding_mode
    ]
    kw = {"constant_values": fill} if mode == "constant" else {}
    return _wrap(np.pad(arr, widths, mode=mode, **kw), img)


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    h, w = img.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:  # torchvision pads the part outside with zeros
        arr = _np(img)[..., max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
        widths = [(0, 0)] * (arr.ndim - 2)
        widths += [(max(-top, 0), max(bottom - h, 0)), (max(-left, 0), max(right - w, 0))]
        return _wrap(np.pad(arr, widths), img)
    return img[..., top:bottom, left:right]


# ---------------------------------------------------------------- colour


def rgb_to_grayscale(img: Tensor, num_output_channels: int = 1) -> Tensor:
    arr = _np(img)
    c = arr.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are [1, 3], but found {c}")
    if c == 3:
        r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
        gray = (0.2989 * r.astype(np.float32) + 0.587 * g + 0.114 * b).astype(arr.dtype)[..., None, :, :]
    else:
        gray = arr.copy()
    if num_output_channels == 3:
        gray = np.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:])
    return _wrap(gray, img)


def _blend(a: np.ndarray, b: np.ndarray, ratio: float, dtype: np.dtype) -> np.ndarray:
    out = ratio * a.astype(np.float32 if dtype != np.float64 else np.float64) + (1.0 - ratio) * b
    out = np.clip(out, 0, _max_value(dtype))
    return out.astype(dtype)  # torchvision truncates here (.to(dtype)), it does not round


def adjust_brightness(img: Tensor, factor: float) -> Tensor:
    arr = _np(img)
    return _wrap(_blend(arr, np.zeros_like(arr), factor, arr.dtype), img)


def adjust_contrast(img: Tensor, factor: float) -> Tensor:
    arr = _np(img)
    gray = _np(rgb_to_grayscale(img)) if arr.shape[-3] == 3 else arr
    mean = gray.astype(_work_dtype(arr.dtype)).mean(axis=(-3, -2, -1), keepdims=True)
    return _wrap(_blend(arr, mean, factor, arr.dtype), img)


def adjust_saturation(img: Tensor, factor: float) -> Tensor:
    arr = _np(img)
    if arr.shape[-3] == 1:
        return img
    return _wrap(_blend(arr, _np(rgb_to_grayscale(img)), factor, arr.dtype), img)


def _rgb2hsv(img: np.ndarray) -> np.ndarray:
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = np.ones_like(maxc)
    s = cr / np.where(eqc, ones, maxc)
    cr_divisor = np.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return np.stack((h, s, maxc), axis=-3)


def _hsv2rgb(img: np.ndarray) -> np.ndarray:
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    mask = i[..., None, :, :] == np.arange(6).reshape(-1, 1, 1)
    a1 = np.stack((v, q, p, p, t, v), axis=-3)
    a2 = np.stack((t, v, v, q, p, p), axis=-3)
    a3 = np.stack((p, p, t, v, v, q), axis=-3)
    a4 = np.stack((a1, a2, a3), axis=-4)
    return np.einsum("...ijk,...xijk->...xjk", mask.astype(img.dtype), a4)


def adjust_hue(img: Tensor, hue_factor: float) -> Tensor:
    arr = _np(img)
    if arr.shape[-3] == 1:
        return img
    hsv = _rgb2hsv(_to_float(arr))
    hsv[..., 0, :, :] = np.fmod(hsv[..., 0, :, :] + hue_factor, 1.0)
    hsv[..., 0, :, :] = np.where(hsv[..., 0, :, :] < 0, hsv[..., 0, :, :] + 1.0, hsv[..., 0, :, :])
    return _wrap(_from_float(_hsv2rgb(hsv), arr.dtype), img)


def adjust_gamma(img: Tensor, gamma: float, gain: float = 1.0) -> Tensor:
    arr = _np(img)
    x = _to_float(arr)
    out = np.clip(gain * np.power(x, gamma), 0, 1)
    return _wrap(_from_float(out, arr.dtype), img)


def invert(img: Tensor) -> Tensor:
    arr = _np(img)
    return _wrap((_max_value(arr.dtype) - arr).astype(arr.dtype), img)


def posterize(img: Tensor, bits: int) -> Tensor:
    arr = _np(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    mask = np.uint8(-int(2 ** (8 - bits)) & 0xFF)
    return _wrap(arr & mask, img)


def solarize(img: Tensor, threshold: float) -> Tensor:
    arr = _np(img)
    if threshold > _max_value(arr.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    return _wrap(np.where(arr >= threshold, _max_value(arr.dtype) - arr, arr).astype(arr.dtype), img)


def autocontrast(img: Tensor) -> Tensor:
    arr = _np(img)
    bound = _max_value(arr.dtype)
    x = arr.astype(_work_dtype(arr.dtype))
    lo = x.min(axis=(-2, -1), keepdims=True)
    hi = x.max(axis=(-2, -1), keepdims=True)
    eq = hi == lo
    scale = bound / np.where(eq, 1.0, hi - lo)
    lo = np.where(eq, 0.0, lo)
    scale = np.where(eq, 1.0, scale)
    return _wrap(np.clip((x - lo) * scale, 0, bound).astype(arr.dtype), img)


def _equalize_channel(ch: np.ndarray) -> np.ndarray:
    hist = np.bincount(ch.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return ch
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate(([0], lut[:-1])), 0, 255).astype(np.uint8)
    return lut[ch]


def equalize(img: Tensor) -> Tensor:
    arr = _np(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.stack([_equalize_channel(c) for c in flat]).reshape(arr.shape)
    return _wrap(out, img)


def _conv_depthwise(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' 2-D correlation of every (H, W) plane of ``x`` with ``kernel``."""
    kh, kw = kernel.shape
    h, w = x.shape[-2] - kh + 1, x.shape[-1] - kw + 1
    out = np.zeros(x.shape[:-2] + (h, w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * x[..., i : i + h, j : j + w]
    return out


def adjust_sharpness(img: Tensor, factor: float) -> Tensor:
    arr = _np(img)
    if arr.shape[-1] <= 2 or arr.shape[-2] <= 2:
        return img
    x = arr.astype(_work_dtype(arr.dtype))
    kernel = np.ones((3, 3), dtype=x.dtype)
    kernel[1, 1] = 5.0
    kernel /= kernel.sum()
    blurred = _conv_depthwise(x, kernel)
    if np.issubdtype(arr.dtype, np.integer):
        blurred = np.round(blurred)
    degenerate = x.copy()
    degenerate[..., 1:-1, 1:-1] = blurred  # the border keeps the original pixels
    return _wrap(_blend(x, degenerate, factor, arr.dtype), img)


def _gaussian_kernel1d(kernel_size: int, sigma: float) -> np.ndarray:
    half = (kernel_size - 1) * 0.5
    x = np.linspace(-half, half, kernel_size)
    pdf = np.exp(-0.5 * (x / sigma) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img: Tensor, kernel_size: list[int], sigma: list[float]) -> Tensor:
    arr = _np(img)
    wd = _work_dtype(arr.dtype)
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0]).astype(wd)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1]).astype(wd)
    kernel = np.outer(ky, kx)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    widths = [(0, 0)] * (arr.ndim - 2) + [(py, py), (px, px)]
    x = np.pad(arr.astype(wd), widths, mode="reflect")
    return _wrap(_cast_like(_conv_depthwise(x, kernel), arr.dtype), img)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v: Tensor, inplace: bool = False) -> Tensor:
    if not inplace:
        img = img.clone()
    img[..., i : i + h, j : j + w] = v
    return img


# ---------------------------------------------------------------- geometry (grid_sample, align_corners=False)


def _sample(arr: np.ndarray, xs: np.ndarray, ys: np.ndarray, mode: str) -> np.ndarray:
    """grid_sample of ``arr`` (..., C, H, W) at source pixel coordinates (oh, ow); zeros outside."""
    h, w = arr.shape[-2:]
    if mode == "nearest":
        xi, yi = np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64)  # nearbyint: half to even
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = arr[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return out * inside
    if mode != "bilinear":
        raise ValueError(f"Unsupported interpolation mode {mode!r} for tensors: nearest or bilinear")
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    fx, fy = (xs - x0).astype(arr.dtype), (ys - y0).astype(arr.dtype)
    out = np.zeros(arr.shape[:-2] + xs.shape, dtype=arr.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            out += arr[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * (wx * wy * inside)
    return out


def _apply_grid(img: Tensor, xs: np.ndarray, ys: np.ndarray, mode: str, fill: list[float] | None) -> Tensor:
    arr = _np(img)
    x = arr.astype(_work_dtype(arr.dtype))
    out = _sample(x, xs, ys, mode)
    if fill is not None:  # torchvision samples a ones mask alongside and blends the fill in by it
        mask = _sample(np.ones(x.shape[-2:], x.dtype), xs, ys, mode)
        fill_arr = np.asarray(fill, dtype=x.dtype).reshape(-1, 1, 1)
        if fill_arr.shape[0] not in (1, x.shape[-3]):
            raise ValueError(
                f"The number of elements in 'fill' does not match the number of channels of the image "
                f"({fill_arr.shape[0]} != {x.shape[-3]})"
            )
        if mode == "nearest":
            out = np.where(mask < 0.5, fill_arr, out)
        else:
            out = out * mask + (1.0 - mask) * fill_arr
    return _wrap(_cast_like(out, arr.dtype), img)


def affine(
    img: Tensor,
    matrix: list[float],
    mode: str,
    fill: list[float] | None,
    out_size: tuple[int, int] | None = None,
) -> Tensor:
    """Sample the image at ``matrix`` (inverse map, centred pixel coordinates) of each output pixel."""
    h, w = img.shape[-2:]
    ow, oh = out_size if out_size is not None else (w, h)
    jj, ii = np.meshgrid(np.arange(ow) - ow * 0.5 + 0.5, np.arange(oh) - oh * 0.5 + 0.5)
    a, b, c, d, e, f = (float(v) for v in matrix)
    xs = a * jj + b * ii + c + w * 0.5 - 0.5
    ys = d * jj + e * ii + f + h * 0.5 - 0.5
    return _apply_grid(img, xs, ys, mode, fill)


def affine_output_size(matrix: list[float], w: int, h: int) -> tuple[int, int]:
    """(width, height) that holds the whole transformed image (``rotate(expand=True)``)."""
    pts = np.array(
        [
            [-0.5 * w, -0.5 * h, 1.0],
            [-0.5 * w, 0.5 * h, 1.0],
            [0.5 * w, 0.5 * h, 1.0],
            [0.5 * w, -0.5 * h, 1.0],
        ]
    )
    theta = np.asarray(matrix, dtype=np.float32).reshape(2, 3)
    new_pts = (pts.astype(np.float32) @ theta.T).astype(np.float32)
    tol = 1e-4
    cmax = np.ceil(np.trunc(new_pts.max(axis=0) / tol) * tol)
    cmin = np.floor(np.trunc(new_pts.min(axis=0) / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def perspective(img: Tensor, coeffs: list[float], mode: str, fill: list[float] | None) -> Tensor:
    h, w = img.shape[-2:]
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    c = [float(v) for v in coeffs]
    den = c[6] * jj + c[7] * ii + 1.0
    xs = (c[0] * jj + c[1] * ii + c[2]) / den - 0.5
    ys = (c[3] * jj + c[4] * ii + c[5]) / den - 0.5
    return _apply_grid(img, xs, ys, mode, fill)


def inverse_affine_matrix(
    center: list[float], angle: float, translate: list[float], scale: float, shear: list[float]
) -> list[float]:
    """torchvision's _get_inverse_affine_matrix (inverted=True): output -> input coordinates."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m
