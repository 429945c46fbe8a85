"""NAdam (torch's single-tensor path): Adam with Nesterov momentum and momentum decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor
from ember.optim._kernels import check_adam_args, lerp_
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar, zeros_state


class NAdam(Optimizer):
    """torch.optim.NAdam."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_adam_args(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            beta1, beta2 = (to_scalar(b) for b in group["betas"])
            eps, wd, mdecay = group["eps"], group["weight_decay"], group["momentum_decay"]
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                step = bump_step(state)
                x = p._data
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        x *= 1 - lr * wd
                    else:
                        g = g + wd * x
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * mdecay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * mdecay)))
                mu_prod_arr = state["mu_product"]._data
                mu_prod_arr *= mu  # a float32 product, as torch keeps it
                mu_product = float(mu_prod_arr)
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                lerp_(m, g, 1 - beta1)
                v *= beta2
                v += np.multiply(g, 1 - beta2) * g
                denom = np.sqrt(v / (1 - beta2**step))
                denom += eps
                x += np.multiply(g, -lr * (1.0 - mu) / (1.0 - mu_product)) / denom
                x += np.multiply(m, (-lr * mu_next) / (1.0 - mu_product * mu_next)) / denom
                p._bump()
        return loss
