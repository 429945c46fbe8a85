"""Raw-array update kernels shared by the optimizers, rounding where torch's CPU kernels round."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor


def lerp_(a, b, w: float) -> None:
    """a.lerp_(b, w) in place: a + w (b - a) for w < 0.5, else b - (b - a)(1 - w) (torch's split)."""
    t = b - a
    if w < 0.5:
        t *= w
        a += t
    else:
        # torch forms (1 - w) in the tensor's dtype before multiplying
        t *= float(a.dtype.type(1) - a.dtype.type(w)) if a.dtype == np.float32 else 1 - w
        np.subtract(b, t, out=a)


def check_adam_args(lr, eps: float, betas: tuple[float, float], weight_decay: float) -> None:
    """torch's argument checks shared by Adam, AdamW, NAdam, RAdam and Adamax, in its order."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    check_betas(betas)
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def check_betas(betas: tuple[float, float]) -> None:
    """torch's Adam-family beta checks."""
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
