"""torch.nn.functional for vision models: transposed convolution, padding, sliding blocks
(unfold/fold), pixel/channel shuffles, extra pooling (adaptive max 1-d, unpooling, LP), instance /
local response normalisation and feature alpha dropout (resampling is in functional_resample).
Argument checks live here, the math in ember.ops.conv_transpose / fold / conv."""

from __future__ import annotations

import math

import numpy as np

import ember
from ember._backend import of
from ember._tensor import Tensor
from ember.nn import functional_conv as FC
from ember.nn.functional_conv import _shape, _tuple, _unbatch
from ember.ops import conv as C
from ember.ops import shape as S
from ember.ops.conv_transpose import ConvTranspose, transposed_size
from ember.ops.fold import Col2Im, Im2Col, MaxUnpool

__all__ = [
    "conv_transpose1d", "conv_transpose2d", "pad", "unfold", "fold", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "lp_pool1d", "lp_pool2d",
    "local_response_norm", "instance_norm", "feature_alpha_dropout",
]  # fmt: skip


def _dtname(t: Tensor) -> str:
    return t.dtype.scalar_name


# -- transposed convolution -------------------------------------------------------------------------
def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd: int):
    name = f"conv_transpose{nd}d"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
            f"of size: {_shape(input)}"
        )
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    x, squeeze = _unbatch(input, nd)
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {_dtname(x)} but found {_dtname(weight)}")
    stride, pad, dil = _tuple(stride, nd), _tuple(padding, nd), _tuple(dilation, nd)
    opad = _tuple(output_padding, nd)
    groups = int(groups)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in pad):
        raise RuntimeError("negative padding is not supported")
    if any(o < 0 for o in opad):
        raise RuntimeError("negative output_padding is not supported")
    if any(d <= 0 for d in dil):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional input for {nd + 2}-dimensional weight {_shape(weight)}, "
            f"but got {x.dim()}-dimensional input of size {_shape(x)} instead"
        )
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
            f"got weight of size [{_shape(weight)}] instead"
        )
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_shape(weight)}, expected input{_shape(x)} to have "
            f"{weight.shape[0]} channels, but got {x.shape[1]} channels instead"
        )
    cout = weight.shape[1] * groups
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != cout):
        raise RuntimeError(
            f"Given transposed=1, weight of size {_shape(weight)}, expected bias to be 1-dimensional with "
            f"{cout} elements, but got bias of size {_shape(bias)} instead"
        )
    if any(o >= s and o >= d for o, s, d in zip(opad, stride, dil)):
        names = ("height", "width") if nd == 2 else ("width",)
        parts = [f"output_padding_{n}: {o}" for n, o in zip(names, opad)]
        parts += [f"stride_{n}: {s}" for n, s in zip(names, stride)]
        parts += [f"dilation_{n}: {d}" for n, d in zip(names, dil)]
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got " + " ".join(parts)
        )
    k = weight.shape[2:]
    out = [transposed_size(x.shape[2 + i], k[i], stride[i], pad[i], dil[i], opad[i]) for i in range(nd)]
    if any(o < 0 for o in out):  # a zero size gives an empty tensor, as torch's batched path does
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). Calculated output size "
            f"per channel: ({' x '.join(map(str, out))}). Output size is too small"
        )
    if nd == 1:
        stride, pad, dil, opad = (1,) + stride, (0,) + pad, (1,) + dil, (0,) + opad
    res = ConvTranspose.apply(x, weight, bias, stride, pad, dil, groups, opad)
    return S.squeeze(res, 0) if squeeze else res


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
    """2-D transposed convolution ("deconvolution"); weight is (C_in, C_out / groups, kH, kW)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


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
    """1-D transposed convolution over (N, C_in, L) or (C_in, L) input."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


# -- padding ----------------------------------------------------------------------------------------
def _index_map(xp, n: int, lo: int, hi: int, mode: str):
    """Source index of every padded position along one axis (negative pads crop first)."""
    if mode == "circular":  # torch wraps the cropped interior
        start, m = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
        i = start + np.arange(-max(lo, 0), m + max(hi, 0)) % max(m, 1)
    else:
        i = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1)
            i = np.abs(i) % period if period else np.zeros_like(i)
            i = np.where(i >= n, period - i, i)
        else:  # replicate
            i = np.clip(i, 0, n - 1)
    return i if xp is np else xp.asarray(i)


_PAD_HELP = (
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, right_prev, ...);
    modes constant (any rank), reflect / replicate / circular (1-3 trailing dims)."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    if mode == "constant":
        for k in range(len(pad) // 2):  # torch crops negative pads with narrow() first
            if input.shape[input.dim() - 1 - k] + min(pad[2 * k], 0) + min(pad[2 * k + 1], 0) < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        return C.ConstantPad.apply(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    nd = len(pad) // 2
    if nd > 3 or nd == 0 or input.dim() not in (nd + 1, nd + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n" + _PAD_HELP
        )
    xp = of(input._data)
    maps = []
    for k in range(nd):
        ax = input.dim() - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        n = input.shape[ax]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({lo}, {hi}) at dimension {ax} of input {_shape(input)}"
            )
        m = n + min(lo, 0) + min(hi, 0)  # circular wraps the interior left after negative pads
        if mode == "circular" and (lo > n or hi > n or (min(lo, hi) < 0 and max(lo, hi, 0) > m)):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        maps.append((ax, _index_map(xp, n, lo, hi, mode)))
    outs = [input.shape[input.dim() - 1 - k] + pad[2 * k] + pad[2 * k + 1] for k in range(nd)]
    if mode != "circular" and (all(o < 1 for o in outs) or any(o < 0 for o in outs)):
        names = ("W", "H", "D")[:nd][::-1]
        ins = ", ".join(f"{a}: {input.shape[input.dim() - nd + i]}" for i, a in enumerate(names))
        got = " ".join(f"{a}: {o}" for a, o in zip(names, outs[::-1]))
        raise RuntimeError(f"input ({ins}) is too small. Calculated output {got}")
    return C.IndexPad.apply(input, tuple(maps))


# -- sliding blocks ---------------------------------------------------------------------------------
def _blocks(hw, k, dil, pad, stride, name="unfold"):
    out = [(hw[i] + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(2)]
    if any(o < 1 for o in out):
        raise RuntimeError(
            f"Given input with spatial size {tuple(hw)}, kernel_size={tuple(k)}, dilation={tuple(dil)}, "
            f"padding={tuple(pad)}, calculated shape of the array of sliding blocks as {tuple(out)}, but its "
            "components must be at least one."
        )
    return tuple(out)


def _block_args(kernel_size, dilation, padding, stride):
    k, d, p, s = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    if any(v <= 0 for v in k):
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kernel_height: {k[0]} kernel_width: {k[1]}"
        )
    if any(v <= 0 for v in s):
        raise RuntimeError(
            f"stride should be greater than zero, but got stride_height: {s[0]} stride_width: {s[1]}"
        )
    if any(v <= 0 for v in d):
        raise RuntimeError(
            f"dilation should be greater than zero, but got dilation_height: {d[0]} dilation_width: {d[1]}"
        )
    if any(v < 0 for v in p):
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}")
    return k, d, p, s


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks (N, C, H, W) -> (N, C*prod(kernel_size), L) (im2col)."""
    if 0 < input.dim() < 3:  # torch reads size(2) before checking the rank
        d = input.dim()
        raise IndexError(f"Dimension out of range (expected to be in range of [{-d}, {d - 1}], but got 2)")
    if input.dim() not in (3, 4) or any(s == 0 for s in input.shape[1:]):
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions "
            f"for input, but got: {_shape(input)}"
        )
    k, d, p, s = _block_args(kernel_size, dilation, padding, stride)
    x, squeeze = _unbatch(input, 2)
    blocks = _blocks(x.shape[2:], k, d, p, s)
    out = Im2Col.apply(x, k, d, p, s, blocks)
    return S.squeeze(out, 0) if squeeze else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks (N, C*prod(kernel_size), L) back into (N, C, *output_size) (col2im)."""
    if input.dim() not in (2, 3) or any(v == 0 for v in input.shape[1:]):
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
            f"dimensions for input, but got: {_shape(input)}"
        )
    k, d, p, s = _block_args(kernel_size, dilation, padding, stride)
    hw = _tuple(output_size, 2)
    x, squeeze = (S.unsqueeze(input, 0), True) if input.dim() == 2 else (input, False)
    if x.shape[1] % (k[0] * k[1]):
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={x.shape[1]} and kernel_size={tuple(k)}."
        )
    blocks = _blocks(hw, k, d, p, s, "fold")
    if x.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"Given output_size={tuple(hw)}, kernel_size={tuple(k)}, dilation={tuple(d)}, padding={tuple(p)}, "
            f"stride={tuple(s)}, expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}."
        )
    out = Col2Im.apply(x, hw, k, d, p, s, blocks)
    return S.squeeze(out, 0) if squeeze else out


# -- shuffles ---------------------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    nl = len(lead)
    x = S.reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = S.permute(x, (*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2))
    return S.reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            "pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h} is not "
            f"divisible by {r}"
        )
    if w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w} is not "
            f"divisible by {r}"
        )
    nl = len(lead)
    x = S.reshape(input, (*lead, c, h // r, r, w // r, r))
    x = S.permute(x, (*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3))
    return S.reshape(x, (*lead, c * r * r, h // r, w // r))


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, g*k, *) -> channels reordered as (k, g): ShuffleNet's channel shuffle."""
    g = int(groups)
    if input.dim() <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes {_shape(input)}"
        )
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    n, c, *rest = input.shape
    if c % g:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {g} groups."
        )
    x = S.reshape(input, (n, g, c // g, *rest))
    return S.reshape(S.transpose(x, 1, 2), (n, c, *rest))


native_channel_shuffle = channel_shuffle


# -- pooling extras ---------------------------------------------------------------------------------
def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 'self' "
            "(while checking arguments for adaptive_max_pool1d)"
        )
    out, idx = FC.adaptive_max_pool2d(S.unsqueeze(input, -2), (1, _tuple(output_size, 1)[0]), True)
    return S.squeeze(out, -2), S.squeeze(idx, -2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over torch's adaptive windows of (N, C, L) or (C, L) input."""
    out, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return FC.adaptive_max_pool2d(input, output_size, True)


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return FC.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return FC.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _unpool_size(input, k, s, p, output_size):
    nd = len(k)
    default = [(input.shape[-nd + d] - 1) * s[d] + k[d] - 2 * p[d] for d in range(nd)]
    if output_size is None:
        return default
    output_size = [int(v) for v in output_size]
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    if len(output_size) != nd:
        raise ValueError(
            f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a length of "
            f"'{len(output_size)}'"
        )
    for d in range(nd):
        lo, hi = default[d] - s[d], default[d] + s[d]
        if not lo < output_size[d] < hi:
            raise ValueError(
                f'invalid output_size "{tuple(output_size)}" (dim {d} must be between {lo} and {hi})'
            )
    return output_size


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd):
    k = _tuple(kernel_size, nd)
    s = k if stride is None else _tuple(stride, nd)
    p = _tuple(padding, nd)
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {_dtname(indices)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor ({_shape(input)}) but got "
            f"indices tensor with shape: {_shape(indices)}"
        )
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Input to max_unpooling{nd}d should be a {nd + 1}d or {nd + 2}d Tensor, but got {_shape(input)}"
        )
    out = _unpool_size(input, k, s, p, output_size)
    x, squeeze = _unbatch(input, nd)
    idx, _ = _unbatch(indices, nd)
    numel = math.prod(out)
    bad = idx._data[(idx._data < 0) | (idx._data >= numel)]
    if bad.size:
        dims = "x".join(map(str, out))
        raise RuntimeError(
            f"Found an invalid max index: {int(bad.reshape(-1)[0])} (output volumes are of size {dims}"
        )
    y = S.reshape(MaxUnpool.apply(x, idx._data, numel), (*x.shape[:2], *out))
    return S.squeeze(y, 0) if squeeze else y


def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    """Partial inverse of max_pool2d: each value goes back to its argmax position, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def _lp_finish(out: Tensor, norm_type: float, ksize: int) -> Tensor:
    # torch: (sign(out) * relu(|out|) * k) ** (1/p), i.e. (out * k) ** (1/p) whose gradient is
    # zero (not 0 * inf) where a window sums to exactly 0; `where` gives both
    nz = ember.where(out != 0, out * ksize, ember.zeros((), dtype=out.dtype, device=out.device))
    return ember.pow(nz, 1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: (sum over each window of x^p)^(1/p)."""
    kh, kw = _tuple(kernel_size, 2)
    out = FC.avg_pool2d(ember.pow(input, norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kh * kw)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    out = FC.avg_pool1d(ember.pow(input, norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, _tuple(kernel_size, 1)[0])


# -- normalisation ----------------------------------------------------------------------------------
def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta (AlexNet's LRN)."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)"
        )
    if input.numel() == 0:
        return input
    sizes = input.shape
    div = S.reshape(input * input, (sizes[0], 1, sizes[1], -1))
    div = pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = S.reshape(FC.avg_pool2d(div, (size, 1), stride=1), sizes)
    return input / ember.pow(div * alpha + k, beta)


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
    """Normalise each (sample, channel) over its spatial dims: batch norm of a (1, N*C, *) view,
    whose running stats are averaged back over the batch (as ATen's instance_norm does)."""
    if use_input_stats:
        spatial = math.prod(input.shape[2:])
        if spatial <= 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size {ember.Size(input.shape)}"
            )
    n, c = input.shape[:2]
    rep = lambda t: None if t is None else S.repeat(t.detach(), n)  # noqa: E731
    rm, rv = rep(running_mean), rep(running_var)
    w = None if weight is None else S.repeat(weight, n)
    b = None if bias is None else S.repeat(bias, n)
    x = S.reshape(input, (1, n * c, *input.shape[2:]))
    out = FC.batch_norm(x, rm, rv, w, b, use_input_stats, momentum, eps)
    for buf, new in ((running_mean, rm), (running_var, rv)):
        if buf is not None and use_input_stats:
            buf._data[...] = new._data.reshape(n, c).mean(0).astype(buf._data.dtype)
            buf._bump()
    return S.reshape(out, input.shape)


# -- dropout ----------------------------------------------------------------------------------------
_SELU_ALPHA_SCALED = 1.7580993408473766  # selu's alpha * scale


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Alpha dropout of whole channels: dropped (N, C) planes take selu's negative saturation,
    then an affine map keeps zero mean and unit variance (torch's _dropout_impl)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    keep = (ember.rand(shape, dtype=input.dtype) >= p).to(input.dtype).to(input.device)
    if p == 1.0:
        return input._inplace(input * 0.0) if inplace else input * 0.0
    a = 1.0 / math.sqrt((_SELU_ALPHA_SCALED**2 * p + 1) * (1 - p))
    out = input * (keep * a) + ((keep - 1.0) * (_SELU_ALPHA_SCALED * a) + _SELU_ALPHA_SCALED * a * p)
    return input._inplace(out) if inplace else out
