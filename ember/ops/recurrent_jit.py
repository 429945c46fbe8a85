"""Fast path of the LSTM cell's elementwise work (ops/recurrent.py), compiled with numba (the
optional `jit` extra) for float32 on NumPy: one pass per step instead of ~10 NumPy passes
forward and ~16 backward, with no temporaries. The general path is the NumPy code in
RecurrentLayer; tests/test_fast_paths.py holds the two against each other.

tanh is Eigen's float32 rational approximation (odd degree-13 / even degree-6 polynomials on
[-7.9988, 7.9988], clamped outside, where it is exactly +-1 with FMA; a few ulp, which vectorizes where libm's tanh would not);
sigmoid(a) = 0.5 tanh(a / 2) + 0.5, as ember's sigmoid.

This module imports numba: ops/recurrent.py loads it through ember._jit on first use only."""

from __future__ import annotations

import numba as nb
import numpy as np

_CLAMP = 7.99881172180175781  # Eigen's clamp for FMA builds: the approximation is exactly 1 there
_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
          1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)  # fmt: skip
_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


# numba freezes these module globals into the machine code as float32 constants
_LIM = np.float32(_CLAMP)
_A13, _A11, _A9, _A7, _A5, _A3, _A1 = (np.float32(v) for v in _ALPHA)
_B6, _B4, _B2, _B0 = (np.float32(v) for v in _BETA)
_HALF, _ONE = np.float32(0.5), np.float32(1.0)
# no "nnan"/"ninf" fast-math flags: NaN and inf propagate as in NumPy
_OPTS = dict(fastmath={"contract", "arcp"}, error_model="numpy", cache=True, nogil=True)


@nb.njit(inline="always", fastmath=_OPTS["fastmath"], error_model="numpy")
def tanh(a):
    """Eigen's float32 tanh."""
    x = _LIM if a > _LIM else a  # NaN passes through both clamps
    x = -_LIM if x < -_LIM else x
    x2 = x * x
    p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * x
    q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
    return p / q


# The loops index per-gate row views from 0: offset indices (g[r, H + k]) keep LLVM from
# vectorizing (numba's negative-index wraparound check), views do not.
@nb.njit(**_OPTS)
def lstm_forward(g, cp, c, tc, h):
    # g (b, 4H): pre-activations in, gates (i, f, g, o) out; c = f cp + i g; h = o tanh(c)
    b, G = g.shape
    H = G // 4
    for r in range(b):
        s = g[r, : 2 * H]
        for k in range(2 * H):
            s[k] = _HALF * tanh(_HALF * s[k]) + _HALF
        gi, gf, gg, go = g[r, :H], g[r, H : 2 * H], g[r, 2 * H : 3 * H], g[r, 3 * H :]
        for k in range(H):
            gg[k] = tanh(gg[k])
        for k in range(H):
            go[k] = _HALF * tanh(_HALF * go[k]) + _HALF
        cr, pr, tr, hr = c[r], cp[r], tc[r], h[r]
        for k in range(H):
            cr[k] = gf[k] * pr[k] + gi[k] * gg[k]
        for k in range(H):
            tr[k] = tanh(cr[k])
        for k in range(H):
            hr[k] = go[k] * tr[k]


@nb.njit(**_OPTS)
def lstm_backward(g, tc, cp, dh, dc, d):
    # dc += dh o (1 - tanh(c)^2); d = (dc g i(1-i), dc cp f(1-f), dc i (1-g^2), dh tanh(c) o(1-o));
    # dc *= f (the gradient reaching the previous cell state)
    b, G = g.shape
    H = G // 4
    for r in range(b):
        gi, gf, gg, go = g[r, :H], g[r, H : 2 * H], g[r, 2 * H : 3 * H], g[r, 3 * H :]
        di, df, dg, do = d[r, :H], d[r, H : 2 * H], d[r, 2 * H : 3 * H], d[r, 3 * H :]
        tr, pr, hr, cr = tc[r], cp[r], dh[r], dc[r]
        for k in range(H):
            t = tr[k]
            o = go[k]
            cr[k] += hr[k] * o * (_ONE - t * t)
            do[k] = hr[k] * t * o * (_ONE - o)
        for k in range(H):
            i = gi[k]
            di[k] = cr[k] * gg[k] * i * (_ONE - i)
            dg[k] = cr[k] * i * (_ONE - gg[k] * gg[k])
        for k in range(H):
            f = gf[k]
            df[k] = cr[k] * pr[k] * f * (_ONE - f)
            cr[k] *= f
