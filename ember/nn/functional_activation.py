"""torch.nn.functional activations beyond the core set: shrinkage functions, GLU, threshold,
randomized leaky ReLU and the in-place `*_` variants (composites of differentiable ops)."""

from __future__ import annotations

import numpy as np

import ember
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.ops import shape as shape_ops

__all__ = [
    "hardshrink", "softshrink", "tanhshrink", "glu", "threshold", "threshold_", "rrelu", "rrelu_",
    "elu_", "celu_", "selu_", "leaky_relu_", "hardtanh_",
]  # fmt: skip


def _inplace(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    return input._inplace(out) if inplace else out


def _zero(input: Tensor) -> Tensor:
    return ember.zeros((), dtype=input.dtype, device=input.device)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return ember.where(ember.abs(input) > lambd, input, _zero(input))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        limit = "3.40282e+38" if input.dtype == ember.float32 else "1.79769e+308"
        name = "Float" if input.dtype == ember.float32 else "Double"
        raise RuntimeError(
            f"lambda must be in range [0, {limit}] for input dtype {name}, but found {lambd:g}"
        )
    return ember.where(input > lambd, input - lambd, ember.where(input < -lambd, input + lambd, _zero(input)))


def tanhshrink(input: Tensor) -> Tensor:
    return input - ember.tanh(input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) with (a, b) the two halves of `dim`."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % input.dim()
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    a, b = shape_ops.chunk(input, 2, d)
    return a * ember.sigmoid(b)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    out = ember.where(input > threshold, input, ember.full((), value, dtype=input.dtype, device=input.device))
    return _inplace(input, out, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return globals()["threshold"](input, threshold, value, inplace=True)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element while training
    (the mean slope in eval)."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return F.leaky_relu(input, (lower + upper) / 2, inplace)
    u = np.asarray(ember.rand(input.shape, dtype=input.dtype)._data)
    slope = Tensor._wrap(input._data.dtype.type(lower) + u * input._data.dtype.type(upper - lower))
    out = ember.where(input >= 0, input, input * slope.to(input.device))
    return _inplace(input, out, inplace)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.elu(input, alpha, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    return F.selu(input, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return F.leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return F.hardtanh(input, min_val, max_val, inplace=True)
