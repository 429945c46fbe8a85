"""Shape primitives; the ones torch documents as views return views sharing memory & version."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.autograd.function import Function
from ember.ops._util import norm_dim


def as_view(out, base):
    """Mark `out` as a view of `base`: same version counter, `_base` set (torch's view semantics)."""
    if of(out._data).may_share_memory(out._data, base._data):
        out._vc = base._vc
        out._base = base
        out._view_key = None
    return out


def _infer_shape(shape, numel, src_shape):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{_fmt(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{_fmt(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _fmt(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)) or (len(shape) == 1 and hasattr(shape[0], "__len__")):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    # d reshape(a) = reshape(grad, a.shape)
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class View(Reshape):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        out = a.view()
        try:
            out.shape = shape  # raises instead of copying when strides don't allow a view
        except AttributeError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ) from None
        return out

    _name = "ViewBackward0"


class Permute(Function):
    # d permute(a, p) = permute(grad, p^-1)
    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(tuple(np.argsort(ctx.perm))), None


class Expand(Function):
    # d expand(a) = sum of grad over the expanded dims
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        from ember.ops._util import unbroadcast

        return unbroadcast(g, ctx.shape), None


def reshape(input, *shape):
    """torch.reshape: a view when the strides allow it, else a copy."""
    shape = _infer_shape(_shape_args(shape), input._data.size, input.shape)
    return as_view(Reshape.apply(input, shape), input)


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and not hasattr(shape[0], "__len__"):
        from ember._dtype import to_dtype

        return view_dtype(input, to_dtype(shape[0]))
    shape = _infer_shape(_shape_args(shape), input._data.size, input.shape)
    return as_view(View.apply(input, shape), input)


def view_dtype(input, dt):
    from ember._tensor import Tensor

    return as_view(Tensor._wrap(input._data.view(dt.np)), input)


def permute(input, *dims):
    dims = _shape_args(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    perm = norm_dim_list(dims, input.ndim)
    return as_view(Permute.apply(input, perm), input)


def norm_dim_list(dims, ndim):
    out = tuple(d % max(ndim, 1) if ndim else 0 for d in dims)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})"
            )
    if len(set(out)) != len(out):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return out


def transpose(input, dim0: int, dim1: int):
    nd = input.ndim
    if nd == 0:
        norm_dim(dim0, 0), norm_dim(dim1, 0)
        return as_view(Permute.apply(input, ()), input)
    d0, d1 = norm_dim(dim0, nd)[0], norm_dim(dim1, nd)[0]
    perm = list(range(nd))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return as_view(Permute.apply(input, tuple(perm)), input)


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else as_view(Permute.apply(input, tuple(range(input.ndim))), input)


def expand(input, *sizes):
    sizes = _shape_args(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{_fmt(input.shape)}}}, size={_fmt(sizes)}): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({input.ndim})"
        )
    lead = len(sizes) - input.ndim
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing dimension {i}")
            shape.append(s)
            continue
        cur = input.shape[i - lead]
        if s == -1:
            shape.append(cur)
        elif cur != 1 and s != cur:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: {_fmt(sizes)}.  Tensor sizes: {_fmt(input.shape)}"
            )
        else:
            shape.append(s)
    return as_view(Expand.apply(input, tuple(shape)), input)


__all__ = ["reshape", "permute", "transpose", "t"]
