"""torch.nn.functional: convolution, pooling, normalisation, padding (argument checks live here,
the math in ember.ops.conv / ember.ops.norm)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.nn import _input_checks as _checks
from ember.ops import act_pool as act_pool_ops
from ember.ops import conv as conv_ops
from ember.ops import norm as norm_ops
from ember.ops import shape as shape_ops

__all__ = [
    "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm",
    "layer_norm", "group_norm",
]  # fmt: skip


def _tuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return tuple(int(a) for a in v) * n
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _shape(t) -> str:
    return "[" + ", ".join(map(str, t.shape)) + "]"


def _unbatch(input: Tensor, nd: int):
    """Add the batch dim to an unbatched input; returns (input, squeeze_after)."""
    if input.dim() == nd + 1:
        return shape_ops.unsqueeze(input, 0), True
    return input, False


# -- convolution --------------------------------------------------------------------------------
def _conv(input, weight, bias, stride, padding, dilation, groups, nd: int, name: str):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
            f"of size: {_shape(input)}"
        )
    input, squeeze = _unbatch(input, nd)
    xd, wdt = input._data.dtype, weight._data.dtype
    if xd != wdt:
        raise RuntimeError(
            f"expected scalar type {input.dtype.scalar_name} but found {weight.dtype.scalar_name}"
        )
    stride, dilation = _tuple(stride, nd), _tuple(dilation, nd)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    k = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for kk, d in zip(k, dilation):
                total = d * (kk - 1)
                pads.append((total // 2, total - total // 2))
            if any(a != b for a, b in pads):
                warnings.warn(
                    "Using padding='same' with even kernel lengths and odd dilation may require a "
                    "zero-padded copy of the input be created",
                    UserWarning,
                    stacklevel=3,
                )
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _tuple(padding, nd)
        if any(a < 0 for a in p):
            raise RuntimeError("negative padding is not supported")
        pads = [(a, a) for a in p]
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    cin = input.shape[1]
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional input for {nd + 2}-dimensional weight {_shape(weight)}, "
            f"but got {input.dim()}-dimensional input of size {_shape(input)} instead"
        )
    if cin != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape(weight)}, expected input{_shape(input)} to "
            f"have {weight.shape[1] * groups} channels, but got {cin} channels instead"
        )
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
            f"got weight of size {_shape(weight)} instead"
        )
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(
            f"Given weight of size {_shape(weight)}, expected bias to be 1-dimensional with "
            f"{weight.shape[0]} elements, but got bias of size {_shape(bias)} instead"
        )
    padded = [s + a + b for s, (a, b) in zip(input.shape[2:], pads)]
    eff = [d * (kk - 1) + 1 for kk, d in zip(k, dilation)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
            f"({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input size"
        )
    if nd == 1:
        pads, stride, dilation = [(0, 0)] + pads, (1,) + stride, (1,) + dilation
    out = conv_ops.Convolution.apply(input, weight, bias, stride, tuple(pads), dilation, groups)
    return shape_ops.squeeze(out, 0) if squeeze else out


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation over (N, C, H, W) or (C, H, W) input, like torch.nn.functional.conv2d."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation over (N, C, L) or (C, L) input."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


# -- pooling ------------------------------------------------------------------------------------
def _pool_out(size: int, k: int, p: int, s: int, d: int, ceil: bool) -> int:
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    if input.dim() not in (3, 4) or input.numel() == 0 and input.dim() == 3:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    k = _tuple(kernel_size, 2)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _tuple(stride, 2)
    p, d = _tuple(padding, 2), _tuple(dilation, 2)
    if any(a <= 0 for a in s):
        raise RuntimeError("stride should be greater than zero, but got " + f"dH: {s[0]} dW: {s[1]}")
    for kk, pp, dd in zip(k, p, d):
        if pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={pp}, kernel_size={kk} and dilation={dd}"
            )
    hw = input.shape[-2:]
    out = [_pool_out(hw[i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(2)]
    if out[0] < 1 or out[1] < 1:
        c = input.shape[-3]
        raise RuntimeError(
            f"Given input size: ({c}x{hw[0]}x{hw[1]}). Calculated output size: ({c}x{out[0]}x{out[1]}). "
            "Output size is too small"
        )
    extra = tuple(max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (hw[i] + 2 * p[i])) for i in range(2))
    return k, s, p, d, out, extra


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over k x k windows (implicit -inf padding); optionally the flat argmax indices."""
    k, s, p, d, _, extra = _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    x, squeeze = _unbatch(input, 2)
    aux: list = []
    out = conv_ops.MaxPool.apply(x, k, s, p, d, extra, aux if return_indices else None)
    if return_indices:
        idx = Tensor._wrap(conv_ops.max_pool_indices(aux[0], x.shape[-2:], k, s, p, d))
        return (shape_ops.squeeze(out, 0), shape_ops.squeeze(idx, 0)) if squeeze else (out, idx)
    return shape_ops.squeeze(out, 0) if squeeze else out


def act_max_pool2d(input: Tensor, act: str, kernel_size) -> Tensor:
    """max_pool2d(act(input), kernel_size) with stride = kernel_size, act "relu" or "sigmoid":
    one node when the windows tile the input (ops/act_pool.py), otherwise the two ops."""
    k = _tuple(kernel_size, 2)
    if act_pool_ops.takes_act_pool(input._data, k) and input.shape[2] >= k[0] and input.shape[3] >= k[1]:
        return act_pool_ops.ActMaxPool.apply(input, act, k)
    from ember.nn import functional as F  # the general path: the two nodes

    return max_pool2d(F.relu(input) if act == "relu" else F.sigmoid(input), kernel_size)


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """1-D max pooling over (N, C, L) or (C, L), as a 2-D pool with a height of one."""
    one = lambda v: (1, _tuple(v, 1)[0])  # noqa: E731
    res = max_pool2d(
        shape_ops.unsqueeze(input, -2),
        one(kernel_size),
        None if stride is None else one(stride),
        (0, _tuple(padding, 1)[0]),
        one(dilation),
        ceil_mode,
        return_indices,
    )
    if return_indices:
        return shape_ops.squeeze(res[0], -2), shape_ops.squeeze(res[1], -2)
    return shape_ops.squeeze(res, -2)


def _avg_divisor(hw, k, s, p, out, count_include_pad, divisor_override, dtype):
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return np.full(out, float(divisor_override), dtype=dtype)
    cnts = []
    for i in range(2):
        o = np.arange(out[i])
        start = o * s[i] - p[i]
        end = np.minimum(start + k[i], hw[i] + p[i])
        if count_include_pad:
            cnts.append(end - start)
        else:
            cnts.append(np.minimum(end, hw[i]) - np.maximum(start, 0))
    return (cnts[0][:, None] * cnts[1][None, :]).astype(dtype)


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
) -> Tensor:
    """Mean over k x k windows (zero padding counted unless count_include_pad=False)."""
    k, s, p, _, out, extra = _pool_args(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    x, squeeze = _unbatch(input, 2)
    div = _avg_divisor(x.shape[-2:], k, s, p, out, count_include_pad, divisor_override, x._data.dtype)
    res = conv_ops.AvgPool.apply(x, k, s, p, extra, of(x._data).asarray(div))
    if not _checks.is_float(input):  # torch keeps integer dtypes (the mean truncated toward zero)
        res = res.to(input.dtype)
    return shape_ops.squeeze(res, 0) if squeeze else res


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    one = lambda v: (1, _tuple(v, 1)[0])  # noqa: E731
    res = avg_pool2d(
        shape_ops.unsqueeze(input, -2),
        one(kernel_size),
        None if stride is None else one(stride),
        (0, _tuple(padding, 1)[0]),
        ceil_mode,
        count_include_pad,
    )
    return shape_ops.squeeze(res, -2)


def _adaptive_size(input, output_size, name):
    if input.dim() not in (3, 4):
        raise RuntimeError(f"{name}(): Expected 3D or 4D tensor, but got {_shape(input)}")
    osz = output_size if isinstance(output_size, (list, tuple)) else (output_size, output_size)
    return tuple(input.shape[-2 + i] if o is None else int(o) for i, o in enumerate(osz))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over torch's adaptive windows; None in output_size keeps that input size."""
    oh, ow = _adaptive_size(input, output_size, "adaptive_avg_pool2d")
    h, w = input.shape[-2:]
    xp, dt = of(input._data), input._data.dtype
    if (oh, ow) == (h, w):
        return conv_ops.AdaptiveAvgPool.apply(input, xp.eye(h, dtype=dt), xp.eye(w, dtype=dt))
    return conv_ops.AdaptiveAvgPool.apply(
        input, conv_ops.adaptive_matrix(xp, h, oh, dt), conv_ops.adaptive_matrix(xp, w, ow, dt)
    )


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return shape_ops.squeeze(
        adaptive_avg_pool2d(shape_ops.unsqueeze(input, -2), (1, _tuple(output_size, 1)[0])), -2
    )


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over torch's adaptive windows (optionally with flat argmax indices)."""
    oh, ow = _adaptive_size(input, output_size, "adaptive_max_pool2d")
    x, squeeze = _unbatch(input, 2)
    h, w = x.shape[-2:]
    aux: list = []
    out = conv_ops.AdaptiveMaxPool.apply(
        x, conv_ops.adaptive_bounds(h, oh), conv_ops.adaptive_bounds(w, ow), aux
    )
    if return_indices:
        idx = Tensor._wrap(aux[0])
        return (shape_ops.squeeze(out, 0), shape_ops.squeeze(idx, 0)) if squeeze else (out, idx)
    return shape_ops.squeeze(out, 0) if squeeze else out


# -- normalisation ------------------------------------------------------------------------------
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over (N, *spatial) per channel; in training, update the running buffers in place
    with the batch mean and the unbiased batch variance."""
    if training and input.dim() and input.shape[0] * math.prod(input.shape[2:]) == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}"
        )
    if input.dim() < 2:
        n = max(input.dim(), 1)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got 1)")
    channels = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    _checks.require_float(input, "batch_norm")
    if input.numel() == 0:  # torch: an empty batch normalises to an empty batch, stats untouched
        view = (1, channels) + (1,) * (input.dim() - 2)
        out = input * 1
        if weight is not None:
            out = out * weight.reshape(view)
        return out + bias.reshape(view) if bias is not None else out
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    stats: list = []
    out = norm_ops.BatchNorm.apply(input, weight, bias, rm, rv, float(eps), bool(training), stats)
    if training:
        mean, var = stats
        n = input.numel() // input.shape[1]
        m = float(momentum) if momentum is not None else 0.0
        if rm is not None:
            rm[...] = (1 - m) * rm + m * mean.reshape(-1).astype(rm.dtype)
            running_mean._bump()
        if rv is not None:
            rv[...] = (1 - m) * rv + m * (var.reshape(-1) * (n / (n - 1))).astype(rv.dtype)
            running_var._bump()
    return out


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing `normalized_shape` dims."""
    ns = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (int(normalized_shape),)
    if tuple(input.shape[input.dim() - len(ns) :]) != ns or len(ns) > input.dim():
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*, {', '.join(map(str, ns))}], "
            f"but got input of size{_shape(input)}"
        )
    _checks.require_float(input, "LayerNormKernelImpl")
    return norm_ops.LayerNorm.apply(input, weight, bias, len(ns), float(eps))


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, group of channels)."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    c = input.shape[1]
    if c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{_shape(input)} and num_groups={num_groups}"
        )
    return norm_ops.GroupNorm.apply(input, weight, bias, int(num_groups), float(eps))
