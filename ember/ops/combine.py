"""Tensors built from other tensors by indexing, stacking and contraction, written with ember's
differentiable ops (so gradients need no Function of their own): meshgrid, cartesian_prod,
combinations, block_diag, repeat_interleave, diff, tensordot, inner, cdist, diagflat, and
hsplit / vsplit / dsplit."""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ember._backend import of
from ember._dtype import float32, promote_types
from ember._tensor import Tensor
from ember.ops.arith import where
from ember.ops.index import index_select
from ember.ops.linalg import diag, diagonal, matmul
from ember.ops.reduce import norm
from ember.ops.shape import cat, narrow, select, stack, tensor_split

__all__ = [
    "meshgrid",
    "cartesian_prod",
    "combinations",
    "block_diag",
    "repeat_interleave",
    "diff",
    "tensordot",
    "inner",
    "cdist",
    "diagflat",
    "hsplit",
    "vsplit",
    "dsplit",
    "select_scatter",
    "slice_scatter",
    "diagonal_scatter",
    "unravel_index",
    "dist",
    "renorm",
]


def _seq(tensors):
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)


def meshgrid(*tensors, indexing: str | None = None):
    """Coordinate grids: out_i = t_i viewed along axis i and expanded ('ij'); 'xy' swaps the
    first two axes. Outputs are expanded views, as torch's."""
    ts = _seq(tensors)
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    if len({t.dtype for t in ts}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    flat = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(flat) >= 2
    order = [1, 0, *range(2, len(flat))] if swap else list(range(len(flat)))
    shape = [flat[i].shape[0] for i in order]
    out = []
    for i, t in enumerate(flat):
        axis = order.index(i)
        view = [1] * len(flat)
        view[axis] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def cartesian_prod(*tensors) -> Tensor:
    """Rows of every combination of the 1-d inputs' elements (itertools.product order)."""
    ts = _seq(tensors)
    if len(ts) == 1:
        return ts[0]
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], dim=1)


def combinations(input, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Rows of the r-length combinations of a 1-d tensor's elements (itertools order)."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(gen(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return index_select(input, 0, Tensor._wrap(idx.reshape(-1))).reshape(-1, r)


def block_diag(*tensors) -> Tensor:
    """The blocks on the diagonal of a zero matrix (0-d -> 1x1, 1-d -> 1 x n)."""
    ts = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has {t.ndim} dimensions"
            )
    if not ts:
        return Tensor._wrap(np.zeros((1, 0), dtype=float32.np))
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = promote_types(dt, t.dtype)
    ts = [t.to(dt) for t in ts]
    width = sum(t.shape[1] for t in ts)
    rows, left = [], 0
    for t in ts:
        r, c = t.shape
        xp = of(t._data)
        parts = [Tensor._wrap(xp.zeros((r, n), dtype=dt.np)) for n in (left, width - left - c)]
        parts.insert(1, t)
        rows.append(cat(parts, dim=1))
        left += c
    return cat(rows, dim=0)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along dim) repeated repeats[i] times; with only a repeats tensor,
    the indices 0..n-1 repeated by it. Gradients sum back over the copies (index_select)."""
    if repeats is None:  # torch.repeat_interleave(repeats)
        reps = input._data
        if reps.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        return Tensor._wrap(np.repeat(np.arange(reps.shape[0] if reps.ndim else 1), reps).astype(np.int64))
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim % max(x.ndim, 1)
    n = x.shape[d] if x.ndim else 1
    reps = repeats._data.reshape(-1) if isinstance(repeats, Tensor) else np.asarray([int(repeats)])
    if reps.size == 1:
        reps = np.full(n, int(reps[0]))
    elif reps.size != n:
        raise RuntimeError(
            f"repeats must have the same size as input along dim, but got repeats.size(0) = {reps.size} and "
            f"input.size({d}) = {n}"
        )
    if (reps < 0).any():
        raise RuntimeError("repeats can not be negative")
    idx = np.repeat(np.arange(n, dtype=np.int64), reps)
    if output_size is not None and idx.size != output_size:
        raise RuntimeError("allocated size does not match required size")
    return index_select(x.reshape(1) if x.ndim == 0 else x, d, Tensor._wrap(idx))


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """n-th forward difference along dim: out[i] = x[i + 1] - x[i], after prepend/append."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], dim=dim)
    d = dim % x.ndim
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        x = (
            narrow(x, d, 1, m - 1) - narrow(x, d, 0, m - 1)
            if x.dtype.name != "bool"
            else (narrow(x, d, 1, m - 1) != narrow(x, d, 0, m - 1))
        )
    return x


def tensordot(a, b, dims=2, out=None) -> Tensor:
    """Contract dims of a with dims of b: an int n pairs a's last n with b's first n; or two lists."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, int(dims.item()) if dims.numel() == 1 else dims.tolist())
    else:
        da, db = (
            ([dims[0]] if isinstance(dims[0], int) else list(dims[0])),
            ([dims[1]] if isinstance(dims[1], int) else list(dims[1])),
        )
    da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second "
                f"has size {b.shape[y]} in dim {y}"
            )
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [i for i in range(b.ndim) if i not in db]
    k = int(np.prod([a.shape[i] for i in da]))
    am = a.permute(*fa, *da).reshape(-1, k)
    bm = b.permute(*db, *fb).reshape(k, -1)
    return matmul(am, bm).reshape(*[a.shape[i] for i in fa], *[b.shape[i] for i in fb])


def inner(input, other, *, out=None) -> Tensor:
    """Sum over the last dims of both (a product when either is 0-d)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes {list(input.shape)} "
            f"and {list(other.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """||x1[..., i, :] - x2[..., j, :]||_p for every pair of rows (batch dims broadcast)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X{1 if x1.ndim < 2 else 2} got: {min(x1.ndim, x2.ndim)}D"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return norm(d, p=float(p), dim=-1)


def diagflat(input, offset: int = 0) -> Tensor:
    """The flattened input on the offset-th diagonal of a square matrix."""
    return diag(input.reshape(-1), offset)


def _split_along(name: str, input, sections, dim: int, min_dims: int):
    if input.ndim < min_dims:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor with "
            f"{input.ndim} dimensions!"
        )
    if isinstance(sections, int):
        if sections == 0 or input.shape[dim] % sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                f"{input.shape[dim]} is not divisible by the split_size {sections}!"
            )
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """Split along dim 1 (dim 0 for a 1-d tensor)."""
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input, indices_or_sections):
    """Split along dim 0 of a tensor of at least 2 dims."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    """Split along dim 2 of a tensor of at least 3 dims."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def _embed(input, view_of, src, name):
    """A copy of input whose view (view_of(copy)) holds src; gradients reach both (the view's
    part of input's gradient is zero)."""
    out = input.clone()
    v = view_of(out)
    if tuple(v.shape) != tuple(src.shape):
        raise RuntimeError(
            f"{name}: expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
            f"slice size = {list(v.shape)}"
        )
    v.copy_(src)
    return out


def select_scatter(input, src, dim: int, index: int) -> Tensor:
    """input with input.select(dim, index) replaced by src."""
    return _embed(input, lambda t: select(t, dim, index), src, "select_scatter")


def slice_scatter(input, src, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """input with input[start:end:step] along dim replaced by src."""
    d = dim % input.ndim
    key = (slice(None),) * d + (slice(start, end, step),)
    return _embed(input, lambda t: t[key], src, "slice_scatter")


def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """input with its offset-th diagonal (over dim1, dim2) replaced by src."""
    return _embed(input, lambda t: diagonal(t, offset, dim1, dim2), src, "diagonal_scatter")


def unravel_index(indices, shape):
    """Coordinates (a tuple of int64 tensors) of flat indices in a tensor of `shape`."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be integer dtype, but got {type(indices)}")
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype.name == "bool":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(shape))
    idx = indices._data
    total = int(np.prod(shape))  # indices outside [0, total) wrap around, as torch's
    coords = np.unravel_index(idx % max(total, 1), shape)
    return tuple(Tensor._wrap(np.asarray(c, dtype=np.int64)) for c in coords)


def dist(input, other, p: float = 2) -> Tensor:
    """||input - other||_p over all elements (broadcasting)."""
    return norm(input - other, p=float(p))


def renorm(input, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along dim rescaled to p-norm maxnorm where its norm exceeds it (torch's
    factor maxnorm / (norm + 1e-7))."""
    d = dim % input.ndim
    others = [i for i in range(input.ndim) if i != d]
    n = norm(input, p=float(p), dim=others, keepdim=True)
    return input * where(n > maxnorm, maxnorm / (n + 1e-7), n * 0 + 1)
