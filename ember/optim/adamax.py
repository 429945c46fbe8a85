"""Adamax (torch's single-tensor path): Adam with the infinity norm of past gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor
from ember.optim._kernels import check_adam_args, lerp_
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar, zeros_state


class Adamax(Optimizer):
    """torch.optim.Adamax."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_adam_args(lr, eps, betas, weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            beta1, beta2 = (to_scalar(b) for b in group["betas"])
            eps, wd = group["eps"], group["weight_decay"]
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_inf"] = zeros_state(p)
                step = bump_step(state)
                x = p._data
                if wd != 0:
                    g = g + wd * x
                m, u = state["exp_avg"]._data, state["exp_inf"]._data
                lerp_(m, g, 1 - beta1)
                u *= beta2
                a = np.abs(g)
                a += eps
                np.maximum(u, a, out=u)
                clr = lr / (1 - beta1**step)
                x += np.multiply(m, -clr) / u
                p._bump()
        return loss
