"""torch.nn.functional losses beyond the core set (margin, embedding, triplet, Poisson and
Gaussian NLL) and the distance functions (cosine_similarity, pairwise_distance, pdist), each a
composite of differentiable ops, checked and shaped the way torch 2.13 checks and shapes them."""

from __future__ import annotations

import math

import numpy as np

import ember
from ember._backend import of
from ember._tensor import Tensor
from ember.nn import _input_checks as _checks
from ember.nn import functional as F

__all__ = [
    "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "poisson_nll_loss", "gaussian_nll_loss", "cosine_similarity",
    "pairwise_distance", "pdist",
]  # fmt: skip


def _reduction(size_average, reduce, reduction: str) -> str:
    return F._check_reduction(F._legacy_reduction(size_average, reduce, reduction))


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """torch's apply_loss_reduction."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _zero(like: Tensor) -> Tensor:
    return ember.zeros((), dtype=like.dtype, device=like.device)


def _positive_part(z: Tensor) -> Tensor:
    """max(z, 0) with torch's kernel gradient: 1 where z > 0 (the margin kernels' `if (z > 0)`)."""
    return ember.where(z > 0, z, _zero(z))


# -- pairwise losses -----------------------------------------------------------------------------
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    # max(0, -y (x1 - x2) + margin)
    return _reduce(ember.clamp_min(-target * (input1 - input2) + float(margin), 0), reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    F._broadcast_check(target.shape, input.shape)
    zero = _zero(input)
    if not _checks.is_float(input):  # torch keeps an integer input's dtype (the margin truncated)
        margin = int(margin)
    # x where y == 1, max(0, margin - x) where y == -1 (both terms where y is neither)
    out = ember.where(target != 1, ember.clamp_min(margin - input, 0), zero) + ember.where(
        target != -1, input, zero
    )
    return _reduce(out, reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    F._broadcast_check(input.shape, target.shape)
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    if shape != tuple(input.shape):  # torch writes the result into a tensor of the input's shape
        raise RuntimeError(
            f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    if target.requires_grad and ember.is_grad_enabled():  # torch's kernel has no target gradient
        raise RuntimeError(
            "The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. "
            "This input cannot have requires_grad True."
        )
    if not _checks.is_float(input):  # torch writes into a tensor of the input's dtype
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_checks.tname(input)}"
        )
    # log(1 + exp(-y x)), in the input's dtype
    z = -input * target
    return _reduce(ember.log1p(ember.exp(z if z.dtype is input.dtype else z.to(input.dtype))), reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    if size_average is not None or reduce is not None:
        reduction = F._legacy_reduction(size_average, reduce, reduction)
    _checks.require_float(input, "log_sigmoid_cpu")
    # -(y log sigmoid(x) + (1 - y) log sigmoid(-x)), averaged over the last (class) dimension
    loss = -(target * F.logsigmoid(input) + (1 - target) * F.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    loss = loss.sum(dim=input.ndim - 1) / input.shape[-1]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    d = target.ndim
    if d not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if (input1.ndim, input2.ndim) != ((2, 2) if d == 1 else (1, 1)):
        raise RuntimeError(
            f"{d}D target tensor expects {d + 1}D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    # cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)); 1 - cos where y == 1,
    # max(0, cos - margin) where y == -1
    prod = (input1 * input2).sum(d)
    cos = prod / ember.sqrt(((input1 * input1).sum(d) + 1e-12) * ((input2 * input2).sum(d) + 1e-12))
    F._broadcast_check(target.shape, cos.shape)
    zero = _zero(cos)
    out = ember.where(target == 1, 1 - cos, zero) + ember.where(
        target == -1, ember.clamp_min(cos - margin, 0), zero
    )
    return _reduce(out, reduction)


# -- class-index margin losses ------------------------------------------------------------------
def _margin_layout(input: Tensor):
    """(rows N, classes C) of a multi(-label) margin loss input: (C,), (N, C) or a 0-d input."""
    if not (
        (input.ndim == 2 and input.shape[1] != 0)
        or (input.ndim == 1 and input.shape[0] != 0)
        or input.ndim == 0
    ):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {list(input.shape)}"
        )
    if input.ndim <= 1:
        return 1, (1 if input.ndim == 0 else input.shape[0])
    return input.shape[0], input.shape[1]


def _require_long(target: Tensor) -> None:
    if target.dtype is not ember.int64:
        raise RuntimeError(f"expected scalar type Long but found {_checks.tname(target)}")


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    N, C = _margin_layout(input)
    if not (target.ndim <= 1 and target.numel() == N):
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples "
            f"(batch size). Expected target size [{N}], but got {list(target.shape)}. Input has shape "
            f"{list(input.shape)}."
        )
    if weight is not None and weight.numel() != C:
        raise RuntimeError(f"inconsistent weight size, expected {C} but got {list(weight.shape)}")
    _require_long(target)
    _checks.require_float(input, "multi_margin_loss_cpu_kernel")
    if weight is not None and weight.requires_grad and ember.is_grad_enabled():
        raise RuntimeError(
            "The function 'multi_margin_loss' is not differentiable with respect to argument 'weight'. "
            "This input cannot have requires_grad True."
        )
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {_checks.tname(input)} but found {_checks.tname(weight)}")
    t = of(target._data).asarray(target._data).reshape(-1)
    if t.size and ((t < 0) | (t >= C)).any():
        raise RuntimeError("target out of range")
    x = input.reshape(N, C)
    ti = Tensor._wrap(t.reshape(N, 1))
    # sum_{i != y} max(0, margin - x[y] + x[i])^p * w[y] / C
    z = margin - x.gather(1, ti) + x
    other = Tensor._wrap(of(t).arange(C)[None, :] != t[:, None])
    h = ember.where(other & (z > 0), z, _zero(z))
    h = h if p == 1 else h * h
    if weight is not None:
        h = h * weight[ti]
    loss = h.sum(1) / C
    if reduction == "none":
        return loss if target.ndim > 0 else loss.reshape(())
    return (
        loss.sum() if N == 0 else _reduce(loss, reduction)
    )  # an empty batch: 0 (torch returns its uninitialised output)


def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    N, C = _margin_layout(input)
    ok = (
        target.ndim <= 1 and target.numel() == C
        if input.ndim <= 1
        else target.ndim == 2 and tuple(target.shape) == (N, C)
    )
    if not ok:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    _require_long(target)
    _checks.require_float(input, "multilabel_margin_loss_forward_out_frame")
    xp = of(target._data)
    t = xp.asarray(target._data).reshape(N, C)
    if t.size and ((t < -1) | (t >= C)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    # the targets of a row are its entries before the first -1 (a repeated target counts again)
    valid = xp.cumprod(t >= 0, axis=1).astype(bool)
    count = ((t[:, :, None] == xp.arange(C)) & valid[:, :, None]).sum(1).astype(input._data.dtype)
    not_target = count == 0
    mask = Tensor._wrap(count[:, :, None] * not_target[:, None, :])
    x = input.reshape(N, C)
    # sum_{j target, i not target} max(0, 1 - (x[j] - x[i])) / C
    z = 1 - x.unsqueeze(2) + x.unsqueeze(1)
    loss = (_positive_part(z) * mask).sum((1, 2)) / C
    if reduction == "none":
        return loss if target.ndim > 1 else loss.reshape(())
    return (
        loss.sum() if N == 0 else _reduce(loss, reduction)
    )  # an empty batch: 0 (torch returns its uninitialised output)


# -- distances ----------------------------------------------------------------------------------
def _vector_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """torch.norm(x, p, dim, keepdim); p = 0 (count of nonzeros) keeps a zero gradient."""
    if p == 0:
        return (x != 0).sum(dim, keepdim=keepdim).to(x.dtype) + (x * 0).sum(dim, keepdim=keepdim)
    return ember.norm(x, p, dim, keepdim)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    # ||x1 - x2 + eps||_p over the last dimension of the broadcast shape
    diff = x1 - x2 + eps
    return _vector_norm(diff, p, max(x1.ndim, x2.ndim) - 1, keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not _checks.is_float(input):
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    xp = of(input._data)
    # ||x_i - x_j||_p for every row pair i < j, in row-major order
    diff = input[Tensor._wrap(xp.asarray(i))] - input[Tensor._wrap(xp.asarray(j))]
    return _vector_norm(diff, p, 1, False)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    dt = ember.promote_types(x1.dtype, x2.dtype)
    if not dt.is_floating_point:
        raise RuntimeError(
            f"expected common dtype to be floating point, yet common dtype is {_checks._TORCH_NAMES.get(dt.name, dt.name)}"
        )
    F._broadcast_check(x1.shape, x2.shape)
    x1, x2 = ember.broadcast_tensors(x1.to(dt), x2.to(dt))
    # torch 2.x: <x1 / max(||x1||, eps), x2 / max(||x2||, eps)>, the clamp applied in place under
    # no_grad so the gradient runs through the norm as if unclamped
    n1 = ember.linalg.vector_norm(x1, 2, dim=dim, keepdim=True).clone()
    n2 = ember.linalg.vector_norm(x2, 2, dim=dim, keepdim=True).clone()
    with ember.no_grad():
        n1.clamp_(min=eps)
        n2.clamp_(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# -- triplet losses -----------------------------------------------------------------------------
def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs"
        )


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:  # Balntas et al.: the positive as anchor when it lies closer to the negative
        d_neg = ember.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    # max(0, margin + d(a, p) - d(a, n))
    return _reduce(ember.clamp_min(margin + d_pos - d_neg, 0), reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = ember.minimum(d_neg, dist(positive, negative))
    # max(0, margin + d(a, p) - d(a, n))
    return _reduce(ember.clamp_min(margin + d_pos - d_neg, 0), reduction)


# -- likelihood losses --------------------------------------------------------------------------
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    # exp(x) - y x (log_input), else x - y log(x + eps)
    loss = ember.exp(input) - target * input if log_input else input - target * ember.log(input + eps)
    if full:
        # Stirling's y log y - y + log(2 pi y) / 2, where y > 1 (evaluated at y = 1 elsewhere, so
        # no log(0): torch's target gradient there is NaN, ours 0)
        y = ember.where(target > 1, target, ember.ones((), dtype=target.dtype, device=target.device))
        stirling = y * ember.log(y) - y + 0.5 * ember.log(2 * math.pi * y)
        loss = loss + ember.where(target <= 1, _zero(stirling), stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * ember.ones_like(input)
    elif not isinstance(var, Tensor):
        raise TypeError(
            f"any() received an invalid combination of arguments - got ({type(var).__name__}), but "
            "expected one of: (Tensor input, ...)"
        )
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):  # homoscedastic: one variance per row
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(b for a, b in zip(input.shape, var.shape) if a != b) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # clamped in place under no_grad, as torch does: the gradient runs through as if unclamped
    var = var.clone()
    with ember.no_grad():
        var.clamp_(min=eps)
    # (log(max(var, eps)) + (x - y)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 when full)
    loss = 0.5 * (ember.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
