"""Fused multiply-add on NumPy arrays, rounded once as the hardware FMA torch's compiled kernels
use (NumPy has no fma ufunc). Error-free transformations; no arbitrary precision."""

from __future__ import annotations

import numpy as np

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for float64


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _round_odd_sum(a, b):
    """a + b rounded to odd (an inexact result keeps an odd last bit), as float64."""
    s, e = _two_sum(a, b)
    bits = np.atleast_1d(s).view(np.int64).copy()
    e = np.atleast_1d(e)
    fix = (e != 0) & ((bits & 1) == 0)
    if fix.any():
        toward = np.where((e[fix] > 0) == (np.atleast_1d(s)[fix] > 0), 1, -1)
        bits[fix] += toward
    return bits.view(np.float64).reshape(np.shape(s))


def fma64(a, b, c) -> np.ndarray:
    """a * b + c in float64 with one rounding (Boldo-Melquiond: RN(th + RO(tl + ul)))."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    return th + _round_odd_sum(tl, ul)


def fma32(a, b, c) -> np.ndarray:
    """a * b + c for float32 operands with one rounding to float32. The float64 product is exact;
    the float64 sum is rounded to odd when it would land on a float32 halfway point, so the final
    rounding to float32 is not a double rounding."""
    a64 = np.asarray(a, dtype=np.float64)
    p = a64 * np.asarray(b, dtype=np.float64)
    c64 = np.asarray(c, dtype=np.float64)
    s = p + c64
    halfway = (np.atleast_1d(s).view(np.int64) & 0x1FFFFFFF) == 0x10000000
    if halfway.any():
        s = np.array(s, copy=True)
        flat, pf, cf = np.atleast_1d(s), np.broadcast_to(p, np.shape(s)), np.broadcast_to(c64, np.shape(s))
        idx = np.flatnonzero(halfway)
        flat.reshape(-1)[idx] = _round_odd_sum(pf.reshape(-1)[idx], cf.reshape(-1)[idx])
    return s.astype(np.float32)
