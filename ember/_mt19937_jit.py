"""Fast path of Engine.random32 (ember/_mt19937.py), compiled with numba (the optional `jit`
extra): the Mersenne Twister as NumPy's mt19937.c writes it (twist of all 624 words when the
position reaches the end, then tempering), on an explicit (key, pos) state, at ~1 ns per word
against ~5 ns through NumPy's Generator. Same words, bit for bit: tests/test_fast_paths.py.

This module imports numba: ember/_mt19937.py loads it through ember._jit on first use only."""

from __future__ import annotations

import numba as nb
import numpy as np

_N, _M = 624, 397
_MATRIX_A = np.uint32(0x9908B0DF)
_UPPER, _LOWER = np.uint32(0x80000000), np.uint32(0x7FFFFFFF)
_B, _C = np.uint32(0x9D2C5680), np.uint32(0xEFC60000)
_ZERO, _ONE = np.uint32(0), np.uint32(1)


@nb.njit(inline="always")
def _mix(a, b, c):
    # key[i] = key[i + M] ^ (y >> 1) ^ (MATRIX_A if y odd), y = upper bit of a | lower bits of b
    y = (a & _UPPER) | (b & _LOWER)
    return c ^ (y >> _ONE) ^ (_MATRIX_A if (y & _ONE) else _ZERO)


@nb.njit(cache=True, nogil=True)
def _twist(key):
    for i in range(_N - _M):
        key[i] = _mix(key[i], key[i + 1], key[i + _M])
    for i in range(_N - _M, _N - 1):
        key[i] = _mix(key[i], key[i + 1], key[i + _M - _N])
    key[_N - 1] = _mix(key[_N - 1], key[0], key[_M - 1])


@nb.njit(cache=True, nogil=True)
def fill32(key, pos, out):
    """out[:] = the next out.size tempered words of (key, pos); returns the new pos."""
    n = out.size
    k = 0
    while k < n:
        if pos == _N:
            _twist(key)
            pos = 0
        m = min(n - k, _N - pos)
        for j in range(m):
            y = key[pos + j]
            y ^= y >> np.uint32(11)
            y ^= (y << np.uint32(7)) & _B
            y ^= (y << np.uint32(15)) & _C
            y ^= y >> np.uint32(18)
            out[k + j] = y
        k += m
        pos += m
    return pos
