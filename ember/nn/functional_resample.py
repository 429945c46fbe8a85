"""torch.nn.functional resampling: interpolate (every mode, antialias, uint8 images), the
deprecated upsample aliases, grid_sample and affine_grid. Argument checks live here, the math in
ember.ops.resample (separable weight matrices, grid taps) and ember.ops.conv.IndexPad (nearest)."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

import ember
from ember._backend import of
from ember._tensor import Tensor
from ember.nn.functional_conv import _shape
from ember.ops import conv as conv_ops
from ember.ops import resample as resample_ops
from ember.ops import shape as shape_ops

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "grid_sample", "affine_grid"]


def _dtname(t: Tensor) -> str:
    return t.dtype.scalar_name


# -- interpolate ------------------------------------------------------------------------------------
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) or (
        isinstance(v, Tensor) and v.dim() == 0 and not v.is_floating_point()
    )


def _out_sizes(input, size, scale_factor, recompute_scale_factor, mode):
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(input.shape[2:])} and output size of {size}. Please provide "
                    "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_int(v) for v in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], "
                    f"but got size with types {[type(v) for v in size]}"
                )
            out, scales = [int(v) for v in size], None
        else:
            out, scales = [int(size)] * dim, None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input "
                    f"with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                    f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out = None
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and out is None:
        recompute_scale_factor = True
    if out is None:
        out = [int(math.floor(float(n) * s)) for n, s in zip(input.shape[2:], scales)]
        if recompute_scale_factor:
            scales = None
    return out, scales or [None] * dim


def _size_error(input, out):
    names = ("D", "H", "W")[3 - len(out) :]
    ins = ", ".join(f"{n}: {s}" for n, s in zip(names, input.shape[2:]))
    outs = ", ".join(f"{n}: {s}" for n, s in zip(names, out))
    raise RuntimeError(
        f"Input and output sizes should be greater than 0, but got input ({ins}) output ({outs})"
    )


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input, like torch.nn.functional.interpolate."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    out, scales = _out_sizes(input, size, scale_factor, recompute_scale_factor, mode)
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
            "tensor as input"
        )
    rank = _RANK.get(mode)
    known = mode in ("nearest", "nearest-exact", "area") or rank is not None
    if rank is not None and input.dim() != rank and input.dim() in (3, 4, 5):
        need = {3: "3D", 4: "4D", 5: "5D"}[rank]
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {need} input")
    if not known or input.dim() not in (3, 4, 5):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
            f"{_MODES} (got {mode})"
        )
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if any(o <= 0 for o in out) or any(s <= 0 for s in input.shape[2:]):
        _size_error(input, out)
    xp = of(input._data)
    ins = input.shape[2:]
    dt = input._data.dtype
    if dt.kind != "f" and not (
        dt == np.uint8 and mode in ("nearest", "nearest-exact", "bilinear", "bicubic", "lanczos")
    ):
        raise NotImplementedError(f"\"upsample_{mode}\" not implemented for '{_dtname(input)}'")
    if mode in ("nearest", "nearest-exact"):
        maps = []
        for k, (n_in, n_out, sc) in enumerate(zip(ins, out, scales)):
            idx = resample_ops.nearest_index(n_in, n_out, sc, mode == "nearest-exact", input._data.dtype)
            maps.append((2 + k, idx if xp is np else xp.asarray(idx)))
        return conv_ops.IndexPad.apply(input, tuple(maps))
    if dt == np.uint8:
        return _interpolate_uint8(input, out, scales, mode, bool(align_corners), antialias)
    mats = []
    for k, (n_in, n_out, sc) in enumerate(zip(ins, out, scales)):
        if mode == "area":
            m = resample_ops.area_matrix(n_in, n_out, dt)
        elif antialias:
            m = resample_ops.antialias_matrix(mode, n_in, n_out, align_corners, sc, dt)
        elif mode == "bicubic":
            m = resample_ops.cubic_matrix(n_in, n_out, align_corners, sc, dt)
        else:
            m = resample_ops.linear_matrix(n_in, n_out, align_corners, sc, dt)
        mats.append((2 + k, m if xp is np else xp.asarray(m)))
    return resample_ops.AxisResample.apply(input, tuple(mats))


def _interpolate_uint8(input, out, scales, mode, align_corners, antialias) -> Tensor:
    """uint8 images (bilinear / bicubic / lanczos) the way torch's kernels do them: per axis
    (width first), float64 weights quantised to int16 with the largest precision that fits, an
    integer dot product, then (sum + half) >> precision clamped to 0..255."""
    xp = of(input._data)
    y = input._data
    for k in (1, 0):
        n_in, n_out, sc = input.shape[2 + k], out[k], scales[k]
        if n_in == n_out:  # torch skips an axis whose size does not change
            continue
        if antialias or mode == "lanczos":
            m = resample_ops.antialias_matrix(mode, n_in, n_out, align_corners, sc, np.float64)
        elif mode == "bicubic":
            m = resample_ops.cubic_matrix(n_in, n_out, align_corners, sc, np.float64)
        else:
            m = resample_ops.linear_matrix(n_in, n_out, align_corners, sc, np.float64)
        prec, wmax = 0, float(m.max())
        while prec < 22 and int(0.5 + wmax * (1 << (prec + 1))) < (1 << 15):
            prec += 1
        scaled = m * (1 << prec)
        w16 = xp.asarray(
            np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5)).astype(np.int64)
        )
        acc = xp.moveaxis(xp.matmul(xp.moveaxis(y, 2 + k, -1).astype(np.int64), w16.T), -1, 2 + k)
        y = xp.clip((acc + (1 << (prec - 1))) >> prec, 0, 255).astype(np.uint8)
    return Tensor._wrap(y.copy() if y is input._data else xp.ascontiguousarray(y))  # never aliases input


def upsample(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None
) -> Tensor:
    """Deprecated alias of interpolate (torch warns the same way)."""
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- grid sampling ----------------------------------------------------------------------------------
_ALIGN_WARN = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. Please "
    "specify align_corners=True if the old behavior is desired. See the documentation of grid_sample for details."
)


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample (N, C, H, W) input at grid[n, h, w] = (x, y) in [-1, 1] (bilinear, nearest, bicubic)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
            f"but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_WARN, stacklevel=2)
        align_corners = False
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"expected scalar type {_dtname(input)} but found {_dtname(grid)}")
    if input.shape[0] != grid.shape[0] or input.dim() != grid.dim():
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
            f"{_shape(input)} and grid with sizes {_shape(grid)}"
        )
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, but got grid "
            f"with sizes {_shape(grid)}"
        )
    if input.dim() != 4:
        raise NotImplementedError("grid_sample: ember supports 4-D (N, C, H, W) input only, not volumes")
    return resample_ops.GridSample2d.apply(input, grid, mode, padding_mode, bool(align_corners))


def _base_coords(n: int, align_corners: bool, dt):
    if n <= 1:
        return np.zeros(max(n, 1), dtype=dt)
    r = np.linspace(-1, 1, n, dtype=dt)
    return r if align_corners else r * dt.type(n - 1) / dt.type(n)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """Sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3) / (N, 3, 4)."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARN, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    tshape = repr(ember.Size(theta.shape))
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got {tshape}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got {tshape}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. "
            f"Got size {size}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when align_corners=True. "
            "This is not an intended use case of affine_grid. See the documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {len(spatial) + 1}] "
            f"but got: [{theta.shape[0]}, {len(spatial) + 1}]."
        )
    dt = theta._data.dtype
    axes = [_base_coords(s, align_corners, dt) for s in reversed(spatial)]  # x (W) first
    mesh = list(np.meshgrid(*axes[::-1], indexing="ij"))[::-1]  # coordinates ordered x, y(, z)
    base = np.stack(mesh + [np.ones_like(mesh[0])], -1).reshape(1, -1, len(spatial) + 1)
    base_t = Tensor._wrap(of(theta._data).asarray(base))
    grid = ember.matmul(base_t, shape_ops.transpose(theta, 1, 2))
    return shape_ops.reshape(grid, (size[0], *spatial, len(spatial)))
