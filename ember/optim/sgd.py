"""SGD with momentum, dampening, Nesterov, weight decay and maximize (torch's single-tensor path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, grad_of, to_scalar


class SGD(Optimizer):
    """torch.optim.SGD."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            wd = to_scalar(group["weight_decay"])
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for p in group["params"]:
                g = grad_of(p, maximize)
                if g is None:
                    continue
                x = p._data
                if wd != 0:
                    g = g + wd * x
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    if buf_t is None:
                        buf = g.copy()
                        state["momentum_buffer"] = Tensor._wrap(buf)
                    else:
                        buf = buf_t._data
                        buf *= momentum
                        if dampening == 0:
                            buf += g  # (1 - 0) * g without the temporary
                        else:
                            buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                x += -lr * g
                p._bump()
        return loss
