"""Adafactor (torch's single-tensor path): factored second moments for matrices, no first moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor
from ember.optim._kernels import lerp_
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar


def _sq_norm_mean(g, axis: int):
    """torch.norm(g, dim=axis, keepdim=True).square_().div_(g.size(axis))."""
    n = np.sqrt(np.sum(g * g, axis=axis, keepdims=True))
    return n * n / g.shape[axis]


class Adafactor(Optimizer):
    """torch.optim.Adafactor."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            eps1, eps2 = group["eps"]
            wd, clip = group["weight_decay"], group["d"]
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                if p.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    if g.ndim > 1:
                        state["row_var"] = Tensor._wrap(np.zeros(g.shape[:-1] + (1,), g.dtype))
                        state["col_var"] = Tensor._wrap(np.zeros(g.shape[:-2] + (1, g.shape[-1]), g.dtype))
                    else:
                        state["variance"] = Tensor._wrap(np.zeros_like(g))
                e1 = float(np.finfo(p._data.dtype).eps) if eps1 is None else eps1
                step = bump_step(state)
                w = step ** group["beta2_decay"]
                rho = min(lr, 1 / (step**0.5))
                x = p._data
                alpha = max(eps2, float(np.sqrt(np.sum(x * x))) / (x.size**0.5)) * rho
                if wd != 0:
                    x *= 1 - lr * wd
                if g.ndim > 1:
                    row, col = state["row_var"]._data, state["col_var"]._data
                    lerp_(row, _sq_norm_mean(g, -1), w)
                    lerp_(col, _sq_norm_mean(g, -2), w)
                    var = row @ col
                    var /= np.maximum(row.mean(axis=-2, keepdims=True), e1)
                else:
                    var_state = state["variance"]._data
                    lerp_(var_state, g * g, w)
                    var = var_state.copy()
                np.maximum(var, e1 * e1, out=var)
                update = 1 / np.sqrt(var)
                update *= g
                denom = max(1.0, float(np.sqrt(np.sum(update * update))) / ((update.size**0.5) * clip))
                x += np.multiply(update, -alpha / denom)
                p._bump()
        return loss
