"""Window functions of torch's top level (torch.hann_window, ...): cosine sums computed in float64
and cast to the requested dtype. `periodic=True` gives the window of length N + 1 without its
last sample (the DFT-even form), as torch."""

from __future__ import annotations

import math

import numpy as np

from ember._dtype import get_default_dtype, to_dtype
from ember._tensor import Tensor

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


def _finish(w: np.ndarray, dtype, requires_grad: bool) -> Tensor:
    d = get_default_dtype() if dtype is None else to_dtype(dtype)
    if not d.is_floating_point:
        raise RuntimeError(f"window functions are only defined for floating point types, got {d}")
    return Tensor._wrap(w.astype(d.np)).requires_grad_(requires_grad)


def _n(window_length: int, periodic: bool, name: str):
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    return window_length + 1 if periodic else window_length


def _cosine_sum(window_length, periodic, coeffs, name, dtype, requires_grad):
    # w[k] = sum_j (-1)^j a_j cos(2 pi j k / (N - 1)), k = 0..N-1
    n = _n(window_length, periodic, name)
    if window_length <= 1:
        return _finish(np.ones(window_length), dtype, requires_grad)
    k = np.arange(n, dtype=np.float64)
    w = sum((-1) ** j * a * np.cos(2 * math.pi * j * k / (n - 1)) for j, a in enumerate(coeffs))
    return _finish(w[:window_length], dtype, requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
                requires_grad: bool = False, pin_memory: bool = False) -> Tensor:  # fmt: skip
    """0.5 - 0.5 cos(2 pi k / (N - 1))."""
    return _cosine_sum(window_length, periodic, (0.5, 0.5), "hann_window", dtype, requires_grad)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, layout=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:  # fmt: skip
    """alpha - beta cos(2 pi k / (N - 1))."""
    return _cosine_sum(window_length, periodic, (alpha, beta), "hamming_window", dtype, requires_grad)


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
                    requires_grad: bool = False, pin_memory: bool = False) -> Tensor:  # fmt: skip
    """0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1))."""
    return _cosine_sum(window_length, periodic, (0.42, 0.5, 0.08), "blackman_window", dtype, requires_grad)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
                    requires_grad: bool = False, pin_memory: bool = False) -> Tensor:  # fmt: skip
    """1 - |2 k / (N - 1) - 1|."""
    n = _n(window_length, periodic, "bartlett_window")
    if window_length <= 1:
        return _finish(np.ones(window_length), dtype, requires_grad)
    k = np.arange(n, dtype=np.float64)
    return _finish((1 - np.abs(2 * k / (n - 1) - 1))[:window_length], dtype, requires_grad)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, layout=None,
                  device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:  # fmt: skip
    """I0(beta sqrt(1 - (2 k / (N - 1) - 1)^2)) / I0(beta)."""
    n = _n(window_length, periodic, "kaiser_window")
    if window_length <= 1:
        return _finish(np.ones(window_length), dtype, requires_grad)
    k = np.arange(n, dtype=np.float64)
    w = np.i0(beta * np.sqrt(np.clip(1 - (2 * k / (n - 1) - 1) ** 2, 0, None))) / np.i0(beta)
    return _finish(w[:window_length], dtype, requires_grad)
