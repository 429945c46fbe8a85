"""torch.nn.functional for sequence models: scaled_dot_product_attention,
multi_head_attention_forward, rms_norm, gumbel_softmax, embedding_bag (re-exported by
ember.nn.functional)."""

from __future__ import annotations

import math
import warnings

import numpy as np

import ember
from ember._tensor import Tensor
from ember.nn import functional_vision as _vision
from ember.ops.attention import ScaledDotProductAttention

__all__ = [
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "rms_norm",
    "gumbel_softmax",
    "embedding_bag",
]

_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int"}


def _tn(dt) -> str:
    return _TYPE.get(str(dt).removeprefix("torch."), str(dt).removeprefix("torch."))


def _keep_mask(shape, p: float, like: Tensor):
    """Bernoulli(1 - p) keep-mask scaled by 1 / (1 - p), as a raw array."""
    keep = ember.rand(*shape, dtype=like.dtype, device=like.device)._data >= p
    return keep.astype(like._data.dtype) * (1.0 / (1.0 - p) if p < 1.0 else 0.0)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q k^T / sqrt(E) + mask) v as one fused node; a bool mask keeps True positions."""
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_tn(query.dtype)} key.dtype: {_tn(key.dtype)} and value.dtype: {_tn(value.dtype)} instead."
        )
    L, S = query.size(-2), key.size(-2)
    if key.size(-1) != query.size(-1) or value.size(-2) != S:
        bad = key if key.size(-1) != query.size(-1) else value
        want = [*query.shape[:-2], query.size(-1)] if bad is key else [*query.shape[:-2], S]
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{', '.join(map(str, want[-2:]))}] "
            f"but got: [{', '.join(map(str, bad.shape[-3:-1] if bad.ndim > 2 else bad.shape[:1]))}]."
        )
    xp = ember._backend.of(query._data)
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        bias = xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0.0, -xp.inf).astype(query._data.dtype)
    elif attn_mask is not None:
        if attn_mask.dtype == ember.bool:
            bias = xp.where(attn_mask._data, 0.0, -xp.inf).astype(query._data.dtype)
        elif attn_mask.dtype.is_floating_point:
            bias = attn_mask if attn_mask.dtype == query.dtype else attn_mask.to(query.dtype)
        else:
            raise RuntimeError(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: "
                f"{_tn(attn_mask.dtype)} and  query.dtype: {_tn(query.dtype)} instead."
            )
        bshape = tuple(bias.shape)
        try:
            np.broadcast_shapes(bshape, tuple(query.shape[:-2]) + (L, S))
        except ValueError:
            raise RuntimeError(
                f"The size of tensor a ({L if bshape[-2] != L else S}) must match the size of tensor b "
                f"({bshape[-2] if bshape[-2] != L else bshape[-1]}) at non-singleton dimension "
                f"{query.ndim - 2 if bshape[-2] != L else query.ndim - 1}"
            ) from None
    if enable_gqa and query.ndim >= 3 and key.size(-3) != query.size(-3):
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hq % hk or hq % hv:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query")
        key = _repeat_heads(key, hq // hk)
        value = _repeat_heads(value, hq // hv)
    elif (
        query.ndim >= 3
        and key.ndim >= 3
        and query.size(-3) != key.size(-3)
        and 1 not in (query.size(-3), key.size(-3))
    ):
        raise RuntimeError(
            f"The size of tensor a ({query.size(-3)}) must match the size of tensor b ({key.size(-3)}) at "
            f"non-singleton dimension {query.ndim - 3}"
        )
    s = 1.0 / math.sqrt(query.size(-1)) if scale is None else float(scale)
    keep = None
    if dropout_p > 0.0:
        keep = _keep_mask(
            tuple(np.broadcast_shapes(tuple(query.shape[:-1]), tuple(key.shape[:-2]) + (L,))) + (S,),
            dropout_p,
            query,
        )
    return ScaledDotProductAttention.apply(query, key, value, bias, s, keep)


def _repeat_heads(t: Tensor, r: int) -> Tensor:
    """repeat_interleave(r, dim=-3)."""
    if r == 1:
        return t
    shape = tuple(t.shape)
    e = t.unsqueeze(-3).expand(*shape[:-2], r, *shape[-2:])
    return e.reshape(*shape[:-3], shape[-3] * r, *shape[-2:])


# -- multi-head attention (torch.nn.functional.multi_head_attention_forward) ---------------------
def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                    f" but found {attn_mask.dim()}-D tensor instead"
                )
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(
                        f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
                    )
        return False
    raise AssertionError(
        f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor"
    )


def _canonical_mask(mask, mask_name: str, other_type, other_name: str, target_type, check_other: bool = True):
    """bool mask -> float mask with -inf where True (torch.nn.functional._canonical_mask)."""
    if mask is None:
        return None
    is_float = mask.dtype.is_floating_point
    if mask.dtype != ember.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both instead.",
            stacklevel=3,
        )
    if not is_float:
        xp = ember._backend.of(mask._data)
        mask = Tensor._wrap(
            xp.where(mask._data, -xp.inf, 0.0).astype(ember.empty(0, dtype=target_type)._data.dtype)
        )
    return mask


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _in_projection_packed(q, k, v, w, b=None):
    """General path: torch's packed in-projection (self-attention: one GEMM, sliced three ways)."""
    E = q.size(-1)
    if k is v:
        if q is k:
            proj = _conv_linear(q, w, b).unflatten(-1, (3, E))
            return proj[..., 0, :], proj[..., 1, :], proj[..., 2, :]
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        kv = _conv_linear(k, w_kv, b_kv).unflatten(-1, (2, E))
        return _conv_linear(q, w_q, b_q), kv[..., 0, :], kv[..., 1, :]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return _conv_linear(q, w_q, b_q), _conv_linear(k, w_k, b_k), _conv_linear(v, w_v, b_v)


def in_projection_self(q, k, v, w, b=None):
    """Fast path of _in_projection_packed for self-attention (q is k is v): three Linear nodes on
    the thirds of w instead of one projection sliced three ways, whose three slice backwards each
    fill a zero array of the whole projection's size and are then summed (transformer_encoder
    step -1 to -3%, docs/sequence.md). Each output element is the same dot product plus bias."""
    if not (q is k and k is v):
        return _in_projection_packed(q, k, v, w, b)
    bs = (None, None, None) if b is None else b.chunk(3)
    return tuple(_conv_linear(q, wi, bi) for wi, bi in zip(w.chunk(3), bs))


def _conv_linear(x, w, b):
    return ember.nn.functional.linear(x, w, b)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """torch's multi-head attention on (L, N, E) inputs (or unbatched (L, E))."""
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's {value.shape[:2]}"
            )
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = (
            _conv_linear(query, q_proj_weight, b_q),
            _conv_linear(key, k_proj_weight, b_k),
            _conv_linear(value, v_proj_weight, b_v),
        )
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        q, k, v = in_projection_self(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be {(tgt_len, src_len)}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                    f"{(bsz * num_heads, tgt_len, src_len)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = ember.cat([k, bias_k.repeat(1, bsz, 1)])
        v = ember.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = _vision.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _vision.pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:
        z = ember.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = ember.cat([k, z], 1)
        v = ember.cat([v, z], 1)
        if attn_mask is not None:
            attn_mask = _vision.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _vision.pad(key_padding_mask, (0, 1))
    src_len = k.size(1)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(
                f"Expected key_padded_mask.shape[0] to be {bsz}, but got {key_padding_mask.shape[0]}"
            )
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(
                f"Expected key_padded_mask.shape[1] to be {src_len}, but got {key_padding_mask.shape[1]}"
            )
        kpm = (
            key_padding_mask.view(bsz, 1, 1, src_len)
            .expand(-1, num_heads, -1, -1)
            .reshape(bsz * num_heads, 1, src_len)
        )
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(q.shape[-1]))
        w = q_scaled @ k.transpose(-2, -1)
        if attn_mask is not None:
            w = w + attn_mask
        w = ember.softmax(w, -1)
        if dropout_p > 0.0:
            w = ember.nn.functional.dropout(w, p=dropout_p)
        out = (w @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _conv_linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, -1)
        w = w.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            w = w.mean(dim=1)
        if not batched:
            out, w = out.squeeze(1), w.squeeze(0)
        return out, w
    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = _conv_linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
    return out, None


# -- normalisation, sampling, bags ----------------------------------------------------------------
def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """x / sqrt(mean(x^2 over the trailing dims) + eps) * weight; eps defaults to finfo(dtype).eps."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(ns) > input.dim() or tuple(input.shape[input.dim() - len(ns) :]) != ns:
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*{', '.join(map(str, ns))}], "
            f"but got input of size{list(input.shape)}"
        )
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.dim() - len(ns), input.dim()))
    out = input * ember.rsqrt((input * input).mean(dim=dims, keepdim=True) + eps)
    return out * weight if weight is not None else out


def gumbel_softmax(
    logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """softmax((logits + Gumbel noise) / tau); hard=True gives one-hot samples with the soft gradient."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    u = ember.rand(*logits.shape, dtype=logits.dtype, device=logits.device)
    gumbels = -ember.log(-ember.log(u.clamp(min=float(np.finfo(logits._data.dtype).tiny))))  # ~ Gumbel(0, 1)
    y_soft = ember.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = ember.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums / means / maxes of bags of embeddings: 2-d input = one bag per row, 1-d input + offsets."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
            f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                f"length sequences. However, found offsets of type {type(offsets)}"
            )
        n, L = input.shape
        starts = np.arange(0, n * L, L)
        flat = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = np.asarray(offsets._data).astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        flat, psw = input, per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    idx = np.asarray(flat._data).astype(np.int64)
    n_idx = idx.size
    ends = np.append(
        starts[1:], n_idx if not (input.dim() == 1 and include_last_offset) else int(offsets._data[-1])
    )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    rows = ember.nn.functional.embedding(flat, weight, padding_idx, max_norm, norm_type)
    if psw is not None:
        rows = rows * psw.unsqueeze(-1)
    valid = np.ones(n_idx, dtype=bool) if padding_idx is None else idx != padding_idx
    n_bags = len(starts)
    bag_of = np.searchsorted(starts, np.arange(n_idx), side="right") - 1  # bag of every index
    keep = valid & (np.arange(n_idx) < (ends[-1] if n_bags else 0))
    sel, bags = np.flatnonzero(keep), bag_of[keep]
    D = weight.shape[1]
    zeros = ember.zeros(n_bags, D, dtype=weight.dtype, device=weight.device)
    if mode == "max":
        out = []
        for b in range(n_bags):
            rb = sel[bags == b]
            out.append(rows[ember.tensor(rb)].max(0)[0] if rb.size else zeros[0])
        return ember.stack(out, 0) if out else zeros
    total = zeros.index_add(0, ember.tensor(bags), rows[ember.tensor(sel)])
    if mode == "sum":
        return total
    counts = np.maximum(np.bincount(bags, minlength=n_bags), 1).astype(np.asarray(weight._data).dtype)
    return total / ember.tensor(counts[:, None])
