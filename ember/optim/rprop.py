"""Rprop (torch's single-tensor path): per-weight step sizes adapted from gradient signs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar, zeros_state


class Rprop(Optimizer):
    """torch.optim.Rprop."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            smin, smax = group["step_sizes"]
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["prev"] = zeros_state(p)
                    state["step_size"] = Tensor._wrap(np.full_like(g, to_scalar(group["lr"])))
                bump_step(state)
                prev, size = state["prev"]._data, state["step_size"]._data
                s = np.sign(g * prev)
                factor = np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1)).astype(g.dtype, copy=False)
                size *= factor
                np.clip(size, smin, smax, out=size)
                g = np.where(factor == etaminus, 0, g).astype(g.dtype, copy=False)
                p._data -= np.sign(g) * size
                prev[...] = g
                p._bump()
        return loss
