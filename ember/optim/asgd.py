"""ASGD (torch's single-tensor path): averaged stochastic gradient descent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar, zeros_state


def _scalar_state(value: float) -> Tensor:
    return Tensor._wrap(np.array(value, dtype=np.float32))


class ASGD(Optimizer):
    """torch.optim.ASGD; state['ax'] holds the running average of the iterates."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
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
            lambd, alpha, t0, wd = group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["eta"] = _scalar_state(lr)
                    state["mu"] = _scalar_state(1.0)
                    state["ax"] = zeros_state(p)
                step = bump_step(state)
                x = p._data
                if wd != 0:
                    g = g + wd * x
                eta = float(state["eta"]._data)
                x *= 1 - lambd * eta
                x += np.multiply(g, -eta)
                ax, mu = state["ax"]._data, float(state["mu"]._data)
                if mu != 1:
                    ax += (x - ax) * mu
                else:
                    ax[...] = x
                state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
                state["mu"]._data[...] = 1 / max(1, step - t0)
                p._bump()
        return loss
