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
    a float64 sum that lands on a float32 halfway point is redone rounded to odd, so the final
    rounding to float32 is never a double rounding."""
    s = np.asarray(np.multiply(a, b, dtype=np.float64))
    s += c
    halfway = (s.view(np.int64) & _LOW29) == _HALF29
    if halfway.any():
        idx = np.nonzero(halfway)
        pa = np.broadcast_to(a, s.shape)[idx].astype(np.float64) * np.broadcast_to(b, s.shape)[idx]
        s[idx] = _round_odd_sum(pa, np.broadcast_to(c, s.shape)[idx].astype(np.float64))
    return s.astype(np.float32)


_LOW29, _HALF29 = np.int64(0x1FFFFFFF), np.int64(0x10000000)
