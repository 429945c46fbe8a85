"""torch.nn.functional: activations, dropout, embedding and losses over ember.ops.activation,
ember.ops.loss and ember.ops.layers."""

from __future__ import annotations

import warnings

import numpy as np

import ember
from ember import _sampling
from ember._backend import of
from ember._tensor import Tensor
from ember.nn import _input_checks as _checks
from ember.nn.functional_attention import *  # noqa: F401,F403,E402
from ember.nn.functional_conv import *  # noqa: F401,F403,E402
from ember.nn.functional_resample import *  # noqa: F401,F403,E402
from ember.nn.functional_vision import *  # noqa: F401,F403,E402
from ember.ops import activation as _act
from ember.ops import layers as _layers
from ember.ops import loss as _loss
from ember.ops.reduce import LogSoftmax, Softmax, softmax_default_dim


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        stacklevel=3,
    )
    return ret


def _check_reduction(reduction: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _maybe_inplace(x: Tensor, out: Tensor, inplace: bool) -> Tensor:
    return x._inplace(out) if inplace else out


# -- linear ------------------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b as one graph node."""
    if input.dtype is not weight.dtype:
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {_tname(input)} and {_tname(weight)}"
        )
    in_f = weight.shape[-1] if weight.ndim == 2 else weight.shape[0]
    if input.ndim == 0 or input.shape[-1] != in_f:
        rows = input.numel() // input.shape[-1] if input.ndim and input.shape[-1] else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1] if input.ndim else 1} "
            f"and {weight.shape[-1]}x{weight.shape[0]})"
        )
    if weight.ndim != 2:  # a 1-d weight: a dot product with each row
        out = ember.matmul(input, weight)
        return out + bias if bias is not None else out
    return _layers.Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o] (torch's checks),
    composed of two matmuls: t = x1 @ W (as (i, o*j)), then y = t @ x2 per row."""
    ts = [("input1", input1), ("input2", input2), ("weight", weight)] + (
        [("bias", bias)] if bias is not None else []
    )
    if len({t.dtype for _, t in ts}) > 1:
        got = ", ".join(f"{n}: {_tname(t).lower()}" for n, t in ts)
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for d in range(input1.ndim - 1):
        if input1.shape[d] != input2.shape[d]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {d}: got {input1.shape[d]} and "
                f"{input2.shape[d]}"
            )
    if weight.ndim != 3:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(weight.ndim, 1)}, "
            f"{max(weight.ndim, 1) - 1}], but got 2)"
        )
    o, i1, i2 = weight.shape
    for name, t, want in (("input1", input1, i1), ("input2", input2, i2)):
        if t.shape[-1] != want:
            raise RuntimeError(
                f"bilinear(): {name} size does not match weight size: got {t.shape[-1]} but expected {want}"
            )
    if bias is not None and bias.shape[0] != o:
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but expected {o}"
        )
    lead = tuple(input1.shape[:-1])
    t = ember.matmul(input1.reshape(-1, i1), weight.permute(1, 0, 2).reshape(i1, o * i2))
    y = ember.matmul(t.reshape(-1, o, i2), input2.reshape(-1, i2, 1)).reshape(-1, o)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, o)


_tname = _checks.tname


# -- activations -------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, ember.relu(input), inplace)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, _act.LeakyRelu.apply(input, float(negative_slope)), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, _act.Elu.apply(input, float(alpha)), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, _act.Elu.apply(input, _act._SELU_ALPHA, _act._SELU_SCALE), inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    # celu(x) = alpha * elu(x / alpha, 1)
    return _maybe_inplace(input, _act.Elu.apply(input / alpha, 1.0, float(alpha)), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _act.Gelu.apply(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, _act.Silu.apply(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, input * ember.tanh(softplus(input)), inplace)


def sigmoid(input: Tensor) -> Tensor:
    return ember.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ember.tanh(input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, _act.Hardtanh.apply(input, float(min_val), float(max_val)), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, _act.Hardtanh.apply(input / 6.0 + 0.5, 0.0, 1.0), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, input * _act.Hardtanh.apply(input / 6.0 + 0.5, 0.0, 1.0), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _act.Softplus.apply(input, float(beta), float(threshold))


def softsign(input: Tensor) -> Tensor:
    return input / (ember.abs(input) + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    return -softplus(-input)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    return _act.Prelu.apply(input, weight)


def _softmax_prep(input: Tensor, dim, dtype, name: str):
    if dim is None:
        dim = softmax_default_dim(input.ndim, name)
    if dtype is not None:
        input = input.to(dtype)
    n = max(input.ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return input, dim % n


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    x, d = _softmax_prep(input, dim, dtype, "softmax")
    _checks.require_float(x, _checks.softmax_kernel("softmax", x.ndim, d))
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), 0).reshape(())
    return Softmax.apply(x, d)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    x, d = _softmax_prep(input, dim, dtype, "log_softmax")
    _checks.require_float(x, _checks.softmax_kernel("log_softmax", x.ndim, d))
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), 0).reshape(())
    return LogSoftmax.apply(x, d)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    n = (ember.abs(input) ** p).sum(dim, keepdim=True) ** (1.0 / p)
    return input / ember.clamp(n, min=eps)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    if tensor.dtype is not ember.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    if a.size and a.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1 if a.size else 0
    elif a.size and a.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    xp = of(a)
    return Tensor._wrap((a[..., None] == xp.arange(num_classes)).astype(np.int64))


# -- dropout / embedding -----------------------------------------------------------------------
def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _bernoulli_keep(shape, p: float, like):
    """The keep mask torch draws: bernoulli_(1 - p) on a tensor of the input's type (CPU);
    CuPy's own stream on a GPU."""
    xp = of(like)
    if xp is np:
        return _sampling.bernoulli_scalar(shape, like.dtype, 1.0 - p)
    return (xp.random.random(shape, dtype=like.dtype) >= p).astype(like.dtype)


def _dropout_noise(shape, p: float, like):
    """torch's noise: the keep mask divided by (1 - p) in the input's type."""
    keep = _bernoulli_keep(shape, p, like)
    return keep / keep.dtype.type(1.0 - p)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:  # torch multiplies by zero and draws nothing
        return _maybe_inplace(
            input, _layers.Dropout.apply(input, of(input._data).zeros_like(input._data), 1.0), inplace
        )
    noise = _dropout_noise(input._data.shape, p, input._data)
    return _maybe_inplace(input, _layers.Dropout.apply(input, noise, 1.0), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _channel_dropout(input, p, training, inplace, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _channel_dropout(input, p, training, inplace, 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _channel_dropout(input, p, training, inplace, 3)


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool, nd: int) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    shape = input.shape[: input.ndim - nd] + (1,) * nd
    if p == 1.0:  # torch multiplies by zero and draws nothing
        noise = of(input._data).zeros(tuple(shape), dtype=input._data.dtype)
    else:
        noise = _dropout_noise(tuple(shape), p, input._data)
    return _maybe_inplace(input, _layers.Dropout.apply(input, noise, 1.0), inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:  # torch multiplies by zero and draws nothing
        return input * 0.0
    alpha_p = -_act._SELU_ALPHA * _act._SELU_SCALE
    keep = Tensor._wrap(_bernoulli_keep(input._data.shape, p, input._data))
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    b = -a * alpha_p * p
    return (input * keep + alpha_p * (1.0 - keep)) * a + b


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    if input.dtype not in (ember.int64, ember.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
            f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)"
        )
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx += n
        elif padding_idx >= n:
            raise AssertionError("Padding_idx must be within num_embeddings")
    idx = input._data
    if idx.size and (idx.min() < -n or idx.max() >= n or idx.min() < 0):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
    return _layers.EmbeddingLookup.apply(weight, idx, padding_idx)


def _embedding_renorm(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    xp = of(idx)
    rows = xp.unique(idx.reshape(-1))
    w = weight._data
    norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] = w[rows] * scale[:, None]
    weight._bump()


# -- losses ------------------------------------------------------------------------------------
def _class_layout(input: Tensor, target: Tensor):
    """Check shapes of class-index losses; return (C, rows M, target shape for 'none')."""
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return input.shape[0], 1
    if input.shape[0] != (target.shape[0] if target.ndim else -1):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.ndim else 0})."
        )
    want = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != want:
        if input.ndim == 2:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.ndim == 4:  # torch's nll_loss2d wording (sic: the unbalanced parenthesis)
            raise RuntimeError(
                f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}"
            )
        raise RuntimeError(f"Expected target size {list(want)}, got {list(target.shape)}")
    return input.shape[1], int(np.prod(want))


def _rows(input: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if input.ndim == 1:
        return input.reshape(1, -1)
    if input.ndim == 2:
        return input
    return input.movedim(1, -1).reshape(-1, input.shape[1])


def _class_coef(input: Tensor, target: Tensor, weight, ignore_index: int, smoothing: float, C: int):
    """Row coefficients A (M, C) for -sum_c A_ic log p_ic, and the 'mean' denominator."""
    if target.dtype not in (ember.int64, ember.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_tname(target)}")
    xp = of(input._data)
    t = target._data.reshape(-1).astype(np.int64)
    valid = t != ignore_index
    bad = t[valid & ((t < 0) | (t >= C))]
    if bad.size:
        raise IndexError(f"Target {int(bad[0])} is out of bounds.")
    dt = input._data.dtype
    w = xp.ones(C, dtype=dt) if weight is None else weight._data.astype(dt, copy=False)
    M = t.shape[0]
    coef = xp.zeros((M, C), dtype=dt)
    rows = xp.arange(M)[valid]
    tv = t[valid]
    coef[rows, tv] = (1.0 - smoothing) * w[tv]
    denom = float(w[tv].sum())
    if smoothing > 0.0:
        coef += valid[:, None].astype(dt) * ((smoothing / C) * w[None, :])
    return coef, denom


def _check_weight(weight, C: int) -> None:
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != C):
        raise RuntimeError(
            f"weight tensor should be defined either for all {C} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax + nll_loss as one graph node (class indices or class probabilities)."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    # torch runs log_softmax over dim 1 first: integer logits fail there
    _checks.require_float(
        input, _checks.softmax_kernel("log_softmax", input.ndim, 1 if input.ndim >= 2 else 0)
    )
    C = input.shape[1] if input.ndim >= 2 else input.shape[0]
    _check_weight(weight, C)
    if target.is_floating_point() and tuple(target.shape) == tuple(input.shape):  # class probabilities
        if target.dtype is not input.dtype:  # torch computes in the promoted dtype
            input, target = _promote_pair(input, target)
        coef = _rows(target.detach())._data
        if label_smoothing > 0.0:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / C
        if weight is not None:
            coef = coef * weight._data.astype(coef.dtype, copy=False)
        M = coef.shape[0]
        out = _loss.SoftmaxCrossEntropy.apply(_rows(input), coef, reduction, float(M))
        out_shape = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    else:  # class indices (a float target of another shape fails the dtype check, as in torch)
        if input.ndim >= 2 and (target.ndim == 0 or target.shape[0] != input.shape[0]):
            _class_layout(input, target)  # torch reports a batch-size mismatch before the dtype
        if target.dtype not in (ember.int64, ember.uint8):
            raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_tname(target)}")
        _class_layout(input, target)
        t = target._data
        if (
            input.ndim == 2
            and weight is None
            and label_smoothing == 0.0
            and reduction != "none"
            and t.dtype == np.int64
            and not 0 <= ignore_index < C
            and not (t.view(np.uint64) >= C).any()  # every target a class, none ignored
        ):
            return _loss.ClassCrossEntropy.apply(input, target, reduction)
        coef, denom = _class_coef(input, target, weight, ignore_index, label_smoothing, C)
        out = _loss.SoftmaxCrossEntropy.apply(_rows(input), coef, reduction, denom)
        out_shape = target.shape
    return out.reshape(tuple(out_shape)) if reduction == "none" else out


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _checks.require_float(input, "nll_loss_out_frame" if input.ndim <= 2 else "nll_loss2d_forward_out_frame")
    _class_layout(input, target)
    C = input.shape[1] if input.ndim >= 2 else input.shape[0]
    _check_weight(weight, C)
    coef, denom = _class_coef(input, target, weight, ignore_index, 0.0, C)
    out = _loss.WeightedNll.apply(_rows(input), coef, reduction, denom)
    return out.reshape(tuple(target.shape)) if reduction == "none" else out


def _promote_pair(input: Tensor, target: Tensor):
    dt = ember.promote_types(input.dtype, target.dtype)
    return (input if input.dtype is dt else input.to(dt)), (target if target.dtype is dt else target.to(dt))


def _pair_loss(cls, input, target, reduction, p=None, name="") -> Tensor:
    """`name`: torch's kernel name, for the error on integer inputs (none: integers allowed)."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )
        _broadcast_check(input.shape, target.shape)
    x, y = _promote_pair(input, target)
    if name:
        _checks.require_float(x, name)
    return cls.apply(x, y, reduction, p)


def _broadcast_check(a, b) -> None:
    for i, (p, q) in enumerate(zip(reversed(tuple(a)), reversed(tuple(b)))):
        if p != q and p != 1 and q != 1:
            raise RuntimeError(
                f"The size of tensor a ({p}) must match the size of tensor b ({q}) at non-singleton "
                f"dimension {max(len(a), len(b)) - 1 - i}"
            )


def mse_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", weight=None
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    return _pair_loss(_loss.MseLoss, input, target, reduction, name="mse_cpu")


def l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", weight=None
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    dt = ember.promote_types(input.dtype, target.dtype)
    if reduction == "mean" and not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_checks._TORCH_NAMES.get(dt.name, dt.name)}"
        )
    return _pair_loss(_loss.L1Loss, input, target, reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _pair_loss(_loss.SmoothL1Loss, input, target, reduction, float(beta), name="smooth_l1_cpu")


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight=None
) -> Tensor:
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _checks.require_castable(target, input)
    return _pair_loss(_loss.HuberLoss, input, target, reduction, float(delta), name="huber_cpu")


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
            "is deprecated. Please ensure they have the same size."
        )
    if weight is not None:
        _broadcast_check(input.shape, weight.shape)
    _checks.require_float(input, "binary_cross_entropy")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {_tname(target)} but expected {_tname(input)}")
    _checks.require_unit_interval(input, "input")
    _checks.require_unit_interval(target, "target")
    return _loss.BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    _checks.require_float(input, "log_sigmoid_cpu")
    _checks.require_castable(input, target)
    return _loss.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not (_checks.is_float(input) and _checks.is_float(target)):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = ember.exp(target) * (target - input)
    else:
        safe = ember.where(target > 0, target, ember.ones_like(target))
        loss = ember.where(target > 0, target * (ember.log(safe) - input), target * 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


from ember.nn.functional_activation import *  # noqa: F401,F403,E402  (uses this module's activations)
from ember.nn.functional_loss_extra import *  # noqa: F401,F403,E402  (uses this module's helpers)
