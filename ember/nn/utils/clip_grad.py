"""Gradient clipping (in place on .grad, under no_grad)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ember._backend import of
from ember._tensor import Tensor


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(xp, a, norm_type: float):
    if norm_type == math.inf:
        return xp.abs(a).max() if a.size else xp.asarray(0.0, dtype=a.dtype)
    if norm_type == -math.inf:
        return xp.abs(a).min()
    if norm_type == 0:
        return xp.asarray((a != 0).sum(), dtype=a.dtype)
    return (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def norm2_dot(xp, a):
    """Fast path of _norm for norm_type 2 (NumPy, real floating dtypes): sqrt(a . a), one BLAS
    dot over the flat gradient instead of abs, power and sum passes with two temporaries."""
    if xp is not np or a.dtype.kind != "f" or a.dtype.itemsize < 4 or not a.flags.c_contiguous:
        return _norm(xp, a, 2.0)
    f = a.reshape(-1)
    return np.sqrt(np.dot(f, f))


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Scale all gradients so that their joint norm is at most max_norm; return the total norm."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    xp = of(grads[0]._data)
    norm = (lambda xp, a, _: norm2_dot(xp, a)) if norm_type == 2.0 else _norm
    norms = xp.stack([norm(xp, g._data, norm_type).astype(g._data.dtype) for g in grads])
    total = _norm(xp, norms, norm_type).astype(norms.dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        if coef != 1.0:  # torch multiplies by 1.0 too: the same values
            g._data *= g._data.dtype.type(coef)
        g._bump()
    return Tensor._wrap(xp.asarray(total))


def clip_grad_norm(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = of(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._bump()
