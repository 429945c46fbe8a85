"""F.pixel_shuffle, F.pixel_unshuffle, F.instance_norm: composites of existing primitives."""

from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nn import functional_conv as FC


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    for name, size, dim in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({dim})={size} is not divisible by {r}"
            )
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims (group norm with one channel a
    group); with running stats given, update them from the batch (unbiased variance), or use
    them instead when use_input_stats is False."""
    if not use_input_stats:
        return FC.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    c = input.shape[1]
    out = FC.group_norm(input, c, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        with ember.no_grad():
            flat = input.detach().reshape(input.shape[0], c, -1)
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(flat.mean(2).mean(0), alpha=momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(flat.var(2, correction=1).mean(0), alpha=momentum)
    return out


__all__ = ["instance_norm", "pixel_shuffle", "pixel_unshuffle"]
