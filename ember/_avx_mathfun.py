"""torch's AVX2 normal kernel (normal_fill_16_AVX2 with avx_mathfun.h's log256_ps and sincos256_ps,
Cephes polynomials) evaluated in float32 on NumPy, with the FMAs GCC contracts in torch's build."""

from __future__ import annotations

import math

import numpy as np

from ember._fma import fma32

_F32 = np.float32

# avx_mathfun.h (log256_ps, sincos256_ps), evaluated in float32 with the FMAs GCC contracts
_LOG_P = [float(_F32(c)) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)]  # fmt: skip
_MIN_NORM = np.array([0x00800000], dtype=np.int32).view(np.float32)[0]
_HALF_BITS = np.array([0.5], dtype=np.float32).view(np.int32)[0]


def _log256(x: np.ndarray) -> np.ndarray:
    """Cephes logf as avx_mathfun's log256_ps computes it (x > 0 here: 1 - u is in (0, 1])."""
    x = np.maximum(x, _MIN_NORM)
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(np.float32) + _F32(1)
    x = ((bits & ~0x7F800000) | _HALF_BITS).view(np.float32)
    small = x < _F32(0.707106781186547524)
    tmp = np.where(small, x, _F32(0))
    x = x - _F32(1)
    e = e - small.astype(np.float32)
    x = x + tmp
    z = x * x
    y = np.full_like(x, _LOG_P[0])
    for c in _LOG_P[1:]:
        y = fma32(y, x, _F32(c))
    y = fma32(y * x, z, e * _F32(-2.12194440e-4))
    y = y - z * _F32(0.5)
    return (x + y) + e * _F32(0.693359375)  # e * 0.693359375 is exact: the FMA rounds the same


def _sincos256(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cephes sinf/cosf as avx_mathfun's sincos256_ps computes them (0 <= x < 2 pi here)."""
    sign_sin = x.view(np.int32) & np.int32(-(2**31))
    x = np.abs(x)
    j = ((x * _F32(1.27323954473516)).astype(np.int32) + 1) & ~1
    y = j.astype(np.float32)
    swap_sin = (j & 4) << 29
    poly = (j & 2) == 0
    x = x + y * _F32(-0.78515625)  # y <= 8 is an integer: these two products are exact
    x = x + y * _F32(-2.4187564849853515625e-4)
    x = fma32(y, _F32(-3.77489497744594108e-8), x)
    sign_cos = (~(j - 2) & 4) << 29
    sign_sin = sign_sin ^ swap_sin
    z = x * x
    c = fma32(_F32(2.443315711809948e-005), z, _F32(-1.388731625493765e-003))
    c = fma32(c, z, _F32(4.166664568298827e-002))
    c = fma32(c * z, z, -(z * _F32(0.5))) + _F32(1)
    s = fma32(_F32(-1.9515295891e-4), z, _F32(8.3321608736e-3))
    s = fma32(s, z, _F32(-1.6666654611e-1))
    s = fma32(s * z, x, x)
    sin = np.where(poly, s, c)
    cos = np.where(poly, c, s)
    return (sin.view(np.int32) ^ sign_sin).view(np.float32), (cos.view(np.int32) ^ sign_cos).view(np.float32)


def box_muller16_avx2(d: np.ndarray, mean, std) -> np.ndarray:
    """normal_fill_16_AVX2 (torch runs its AVX2 normal kernel on AVX2 and AVX512 processors)."""
    radius = np.sqrt(_F32(-2) * _log256(_F32(1) - d[:, :8]))
    sin, cos = _sincos256(_F32(2.0 * math.pi) * d[:, 8:])
    res = np.concatenate([radius * cos, radius * sin], axis=1)
    if std == 1 and mean == 0:
        return res
    return fma32(res, std, mean)
