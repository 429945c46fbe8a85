"""Fast path of Adam's update (optim/adam.py) for float32 arrays on NumPy, compiled with numba
(the optional `jit` extra): one pass instead of ~11 NumPy passes and no temporaries. Plain IEEE
float32 arithmetic in the general path's order (no fast-math, no FMA contraction), so the
result is bit for bit the general path's: tests/test_fast_paths.py.

This module imports numba: optim/adam.py loads it through ember._jit on first use only."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def adam_update(x, g, m, v, w1, small_w1, b2, w2, bc2, eps, step_size):
    # m = lerp(m, g, w1): m + (g - m) w1 for w1 < 0.5, else g - (g - m)(1 - w1) (w1 holds 1 - w1)
    # v = v b2 + (g w2) g;  x += (m step_size) / (sqrt(v) / bc2 + eps)
    for k in range(x.size):
        gk = g[k]
        t = gk - m[k]
        mk = m[k] + t * w1 if small_w1 else gk - t * w1
        m[k] = mk
        vk = v[k] * b2 + gk * w2 * gk
        v[k] = vk
        x[k] += mk * step_size / (np.sqrt(vk) / bc2 + eps)
