"""F.conv_transpose1d / conv_transpose2d as a composite: insert stride-1 zeros between input
elements, pad by dilation*(k-1)-padding (+output_padding at the end), and convolve with the
weight flipped and with in/out channels swapped (the adjoint of a strided convolution)."""

from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nn import functional_conv as FC


def _dilate(x: Tensor, dim: int, s: int) -> Tensor:
    """Insert s-1 zeros between consecutive elements along `dim` (differentiable composite)."""
    if s == 1:
        return x
    n = x.shape[dim]
    z = ember.zeros_like(x)
    y = ember.stack([x] + [z] * (s - 1), dim=dim + 1)
    y = y.reshape(*x.shape[:dim], n * s, *x.shape[dim + 1 :])
    return y.narrow(dim, 0, (n - 1) * s + 1)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """torch.nn.functional.conv_transpose2d (the gradient of conv2d with respect to its input)."""
    s, p, op, d = (FC._tuple(v, 2) for v in (stride, padding, output_padding, dilation))
    if any(o >= si and o >= di for o, si, di in zip(op, s, d)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {op[0]} output_padding_width: {op[1]} stride_height: {s[0]} "
            f"stride_width: {s[1]} dilation_height: {d[0]} dilation_width: {d[1]}"
        )
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    if x.dim() != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of size: {list(input.shape)}"
        )
    cin, cout_g, kh, kw = weight.shape
    if x.shape[1] != cin:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{cin} channels, but got {x.shape[1]} channels instead"
        )
    x = _dilate(_dilate(x, 2, s[0]), 3, s[1])
    lo = [di * (k - 1) - pi for di, k, pi in zip(d, (kh, kw), p)]
    x = FC.pad(x, (lo[1], lo[1] + op[1], lo[0], lo[0] + op[0]))
    g = int(groups)
    w = weight.reshape(g, cin // g, cout_g, kh, kw).transpose(1, 2).reshape(g * cout_g, cin // g, kh, kw)
    out = FC.conv2d(x, w.flip([2, 3]), bias, 1, 0, d, g)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """torch.nn.functional.conv_transpose1d: conv_transpose2d over a height of 1."""
    s, p, op, d = (FC._tuple(v, 1)[0] for v in (stride, padding, output_padding, dilation))
    unbatched = input.dim() == 2
    x = (input.unsqueeze(0) if unbatched else input).unsqueeze(2)
    out = conv_transpose2d(x, weight.unsqueeze(2), bias, (1, s), (0, p), (0, op), groups, (1, d)).squeeze(2)
    return out.squeeze(0) if unbatched else out


__all__ = ["conv_transpose1d", "conv_transpose2d"]
