"""Adam (torch's single-tensor path), with amsgrad, maximize and optional decoupled decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember._jit import kernels
from ember._tensor import Tensor
from ember.optim._kernels import check_adam_args
from ember.optim.optimizer import Optimizer, bump_step, grad_of, new_step, to_scalar, zeros_state


def _load_adam(numba):
    from ember.optim import adam_jit

    return adam_jit.adam_update


def adam_kernel():
    """optim/adam_jit.adam_update, or None without numba."""
    return kernels("adam", _load_adam)


def uses_adam_kernel(x, g, m, v) -> bool:
    """Where the compiled update replaces the NumPy passes: float32 NumPy arrays of one shape,
    all C-contiguous, big enough to pay the call."""
    return (
        x.size >= 256
        and type(x) is np.ndarray
        and all(a.dtype == np.float32 and a.flags.c_contiguous and a.shape == x.shape for a in (x, g, m, v))
        and adam_kernel() is not None
    )


def adam_update_jit(x, g, m, v, beta1, beta2, w1, w2, lr, eps, step) -> None:
    """Fast path of the NumPy update in Adam.step (same float32 scalars, same rounding)."""
    f32 = np.float32
    small = w1 < 0.5
    adam_kernel()(
        x.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
        f32(w1) if small else f32(1) - f32(w1), small, f32(beta2), f32(w2),
        f32((1 - beta2**step) ** 0.5), f32(eps), f32(-(lr / (1 - beta1**step))),
    )  # fmt: skip


class Adam(Optimizer):
    """torch.optim.Adam."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_adam_args(lr, eps, betas, weight_decay)
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(to_scalar(b) for b in betas)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps, wd, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            w1, w2 = 1 - beta1, 1 - beta2
            for p in group["params"]:
                g = grad_of(p, group["maximize"])
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
                step = bump_step(state)
                x = p._data
                if wd != 0:
                    if decoupled:
                        x *= 1 - lr * wd
                    else:
                        g = g + wd * x
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                if not amsgrad and uses_adam_kernel(x, g, m, v):  # fast path of the lines below
                    adam_update_jit(x, g, m, v, beta1, beta2, w1, w2, lr, eps, step)
                    p._bump()
                    continue
                # Python floats act as scalars of the array's dtype (NumPy 2 / CuPy), so every
                # product below rounds exactly where torch's float32 kernels round.
                t = g - m
                if w1 < 0.5:  # exp_avg.lerp_(grad, 1 - beta1)
                    t *= w1
                    m += t
                else:
                    t *= float(np.float32(1) - np.float32(w1)) if m.dtype == np.float32 else 1 - w1
                    np.subtract(g, t, out=m)
                v *= beta2
                np.multiply(g, w2, out=t)
                t *= g
                v += t  # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    np.maximum(vmax, v, out=vmax)
                    d = np.sqrt(vmax)
                else:
                    d = np.sqrt(v)
                d /= (1 - beta2**step) ** 0.5
                d += eps
                np.multiply(m, -(lr / (1 - beta1**step)), out=t)
                t /= d
                x += t
                p._bump()
        return loss
