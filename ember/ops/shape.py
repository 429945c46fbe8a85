"""Shape primitives; the ones torch documents as views return views sharing memory & version."""

from __future__ import annotations

import builtins

import numpy as np

from ember._backend import of
from ember._dtype import promote_types, to_dtype
from ember._layout import make_nchw
from ember._size import Size
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import norm_dim, unbroadcast
from ember.ops.out import write_out
from ember.ops.views import as_view


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
    if len(shape) == 1 and (isinstance(shape[0], (tuple, list)) or hasattr(shape[0], "__len__")):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


# -- primitives -------------------------------------------------------------------------------
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


class Squeeze(Reshape):
    _name = "SqueezeBackward0"


class Unsqueeze(Reshape):
    _name = "UnsqueezeBackward0"


class Permute(Function):
    # d permute(a, p) = permute(grad, p^-1)
    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        inv = tuple(int(i) for i in np.argsort(ctx.perm))
        return of(g).transpose(g, inv), None


class Expand(Function):
    # d expand(a) = sum of grad over the expanded dims
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class Repeat(Function):
    # repeat(a, r)[i] = a[i mod a.shape]  ->  grad summed over the r copies of each element
    @staticmethod
    def forward(ctx, a, reps):
        ctx.shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.ashape = a.shape
        return of(a).tile(a.reshape(ctx.shape), reps)

    @staticmethod
    def backward(ctx, g):
        split = []
        for r, s in zip(g.shape, ctx.shape):
            split += [r // s if s else 0, s]
        g = g.reshape(tuple(split))
        g = of(g).sum(g, axis=tuple(range(0, len(split), 2)))
        return g.reshape(ctx.ashape), None


class Cat(Function):
    # d cat(a_i, dim) = the matching slices of grad
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        for size in ctx.sizes:
            key = (slice(None),) * ctx.dim + (slice(start, start + size),)
            out.append(g[key])
            start += size
        return tuple(out)


class Flip(Function):
    # d flip(a) = flip(grad)
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return of(a).flip(a, dims).copy() if dims else a.copy()

    @staticmethod
    def backward(ctx, g):
        return (of(g).flip(g, ctx.dims) if ctx.dims else g), None


class Roll(Function):
    # d roll(a, s) = roll(grad, -s)
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return of(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return of(g).roll(g, neg, ctx.dims), None, None


# -- views ------------------------------------------------------------------------------------
def reshape(input, *shape):
    """torch.reshape: a view when the strides allow it, else a copy."""
    shape = _infer_shape(_shape_args(shape), input._data.size, input.shape)
    return as_view(Reshape.apply(input, shape), input, lambda r, s=shape: r.reshape(s))


def view(input, *shape):
    """Tensor.view(*shape) or Tensor.view(dtype): always a view, error if the strides forbid it."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and not hasattr(shape[0], "__len__"):
        return view_dtype(input, to_dtype(shape[0]))
    shape = _infer_shape(_shape_args(shape), input._data.size, input.shape)
    return as_view(View.apply(input, shape), input, lambda r, s=shape: r.reshape(s))


def view_dtype(input, dt):
    if input._batch_last:
        make_nchw(input)
    return as_view(Tensor._wrap(input._data.view(dt.np)), input)


def view_as(input, other):
    return view(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    nd = input.ndim
    if nd == 0:
        return reshape(input, (1,))
    s = _dim(start_dim, nd)
    e = _dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    sh = input.shape
    return reshape(input, sh[:s] + (int(np.prod(sh[s : e + 1])),) + sh[e + 1 :])


def ravel(input):
    return reshape(input, (-1,))


def unflatten(input, dim: int, sizes):
    d = _dim(dim, input.ndim)
    sizes = tuple(int(s) for s in sizes)
    sh = input.shape
    known = int(np.prod([s for s in sizes if s != -1]))
    if -1 not in sizes and known != sh[d]:
        raise RuntimeError(
            f"unflatten: Provided sizes {_fmt(sizes)} don't multiply up to the size of dim {dim} "
            f"({sh[d]}) in the input tensor"
        )
    return view(input, sh[:d] + _infer_shape(sizes, sh[d], None) + sh[d + 1 :])


def _dim(d: int, nd: int) -> int:
    return norm_dim(int(d), nd)[0]


def permute(input, *dims):
    dims = _shape_args(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    perm = norm_dim_list(dims, input.ndim)
    return _permute(input, perm)


def _permute(input, perm):
    return as_view(Permute.apply(input, perm), input, lambda r, p=perm: of(r).transpose(r, p))


def norm_dim_list(dims, ndim):
    n = max(ndim, 1)
    for d in dims:
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
    out = tuple(d % n if ndim else 0 for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return out


def transpose(input, dim0: int, dim1: int):
    nd = input.ndim
    if nd == 0:
        norm_dim(dim0, 0), norm_dim(dim1, 0)
        return _permute(input, ())
    d0, d1 = _dim(dim0, nd), _dim(dim1, nd)
    perm = list(range(nd))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _permute(input, tuple(perm))


swapaxes = swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else _permute(input, tuple(range(input.ndim)))


def adjoint(input):
    return transpose(input, -2, -1)


def movedim(input, source, destination):
    nd = input.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({_fmt(src)} dims) should "
            f"contain the same number of dims as destination ({_fmt(dst)} dims)"
        )
    src = tuple(_dim(d, nd) for d in src)
    dst = tuple(_dim(d, nd) for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    perm = [-1] * nd
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    perm = tuple(p if p != -1 else next(rest) for p in perm)
    return _permute(input, perm)


moveaxis = movedim


def squeeze(input, dim=None):
    sh = input.shape
    if dim is None:
        dims = tuple(i for i, s in enumerate(sh) if s == 1)
    else:
        dims = norm_dim(dim, input.ndim) if input.ndim else ()
        dims = tuple(d for d in dims if sh[d] == 1)
    new = tuple(s for i, s in enumerate(sh) if i not in dims)
    return as_view(Squeeze.apply(input, new), input, lambda r, s=new: r.reshape(s))


def unsqueeze(input, dim: int):
    nd = input.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    d = dim % nd
    new = input.shape[:d] + (1,) + input.shape[d:]
    return as_view(Unsqueeze.apply(input, new), input, lambda r, s=new: r.reshape(s))


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
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing dimension {i}"
                )
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
    shape = tuple(shape)
    return as_view(Expand.apply(input, shape), input, lambda r, s=shape: of(r).broadcast_to(r, s))


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, size):
    return expand(input, tuple(size))


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*(t.shape for t in tensors)) if tensors else ()
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*(tuple(s) if not isinstance(s, int) else (s,) for s in shapes)))
    except ValueError:
        raise RuntimeError(
            f"Shape mismatch: objects cannot be broadcast to a single shape: {shapes}"
        ) from None


def _slice_view(input, dim: int, sl):
    return input[(slice(None),) * dim + (sl,)]


def narrow(input, dim: int, start, length: int):
    d = _dim(dim, input.ndim)
    size = input.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    start = start + size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return _slice_view(input, d, slice(start, start + length))


def select(input, dim: int, index: int):
    d = _dim(dim, input.ndim)
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {_fmt(input.shape)} at dimension {dim}"
        )
    return _slice_view(input, d, int(index) % size)


def split(tensor, split_size_or_sections, dim: int = 0):
    d = _dim(dim, tensor.ndim)
    size = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and not (step == 0 and size == 0):
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}"
            )
        bounds = [(i, builtins.min(i + step, size)) for i in range(0, size, step)] if size else [(0, 0)]
    else:
        secs = [int(s) for s in split_size_or_sections]
        if builtins.sum(secs) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                f"dimension {dim}), but got split_sizes={_fmt(secs)}"
            )
        starts = np.cumsum([0] + secs[:-1])
        bounds = [(int(s), int(s) + n) for s, n in zip(starts, secs)]
    return tuple(_slice_view(tensor, d, slice(a, b)) for a, b in bounds)


def chunk(input, chunks: int, dim: int = 0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    size = input.shape[_dim(dim, input.ndim)]
    step = -(-size // chunks) if size else 1
    return split(input, step, dim)


def tensor_split(input, indices_or_sections, dim: int = 0):
    d = _dim(dim, input.ndim)
    size = input.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        q, r = divmod(size, n)
        secs = [q + 1] * r + [q] * (n - r)
        return split(input, secs, d)
    idx = [0] + [builtins.min(int(i), size) for i in indices_or_sections] + [size]
    return tuple(_slice_view(input, d, slice(a, builtins.max(a, b))) for a, b in zip(idx, idx[1:]))


def unbind(input, dim: int = 0):
    d = _dim(dim, input.ndim)
    return tuple(_slice_view(input, d, i) for i in range(input.shape[d]))


# -- copies -----------------------------------------------------------------------------------
def repeat(input, *sizes):
    reps = _shape_args(sizes)
    if len(reps) < input.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    return Repeat.apply(input, reps)


def tile(input, dims):
    reps = tuple(int(r) for r in dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return Repeat.apply(input, reps)


def _promoted(tensors, name):
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = promote_types(dt, t.dtype)
    return [t if t.dtype is dt else t.to(dt) for t in tensors]


def cat(tensors, dim: int = 0, *, out=None):
    """torch.cat: join along an existing dim; dtypes promote; legacy 1-D empty tensors skipped."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if hasattr(t, "ndim") and t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    tensors = _promoted(tensors, "cat")
    real = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = real[0]
    d = _dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t.ndim == 1 and t.shape[0] == 0 and ref.ndim != 1:
            continue
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for k in range(ref.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list."
                )
    if ref.ndim != 1:
        tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or [ref]
    res = Cat.apply(*tensors, dim=d)
    if out is not None:
        return write_out(out, res, "cat")
    return res


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {_fmt(tensors[0].shape)} at "
                f"entry 0 and {_fmt(t.shape)} at entry {i}"
            )
    nd = tensors[0].ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    return cat([unsqueeze(t, dim % nd) for t in tensors], dim % nd, out=out)


def hstack(tensors, *, out=None):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat([atleast_2d(t) for t in tensors], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return cat([atleast_3d(t) for t in tensors], 2, out=out)


def column_stack(tensors, *, out=None):
    return hstack([reshape(t, (-1, 1)) if t.ndim <= 1 else t for t in tensors], out=out)


def atleast_1d(t):
    return reshape(t, (1,)) if t.ndim == 0 else t


def atleast_2d(t):
    return reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t


def atleast_3d(t):
    if t.ndim == 0:
        return reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return reshape(t, (1, t.shape[0], 1))
    if t.ndim == 2:
        return unsqueeze(t, 2)
    return t


def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    ds = norm_dim(dims, input.ndim) if input.ndim else ()
    return Flip.apply(input, ds)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    if dims is None:
        sh = shifts if isinstance(shifts, int) else tuple(shifts)
        if not isinstance(sh, int) and len(sh) != 1:
            raise RuntimeError(f"roll: Expected shifts and dims to have the same size, got {len(sh)} and 0")
        s = sh if isinstance(sh, int) else sh[0]
        return view(Roll.apply(reshape(input, (-1,)), int(s), 0), input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(_dim(d, input.ndim) for d in dims)
    return Roll.apply(input, shifts, dims)


def rot90(input, k: int = 1, dims=(0, 1)):
    k %= 4
    d0, d1 = dims
    if k == 0:
        return input.clone()
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    return flip(transpose(input, d0, d1), (d1,))


def contiguous(input):
    return input.contiguous()


__all__ = [
    "reshape",
    "view_as",
    "reshape_as",
    "flatten",
    "ravel",
    "unflatten",
    "permute",
    "transpose",
    "swapaxes",
    "swapdims",
    "t",
    "adjoint",
    "movedim",
    "moveaxis",
    "squeeze",
    "unsqueeze",
    "broadcast_to",
    "broadcast_tensors",
    "broadcast_shapes",
    "narrow",
    "select",
    "split",
    "chunk",
    "tensor_split",
    "unbind",
    "tile",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "row_stack",
    "dstack",
    "column_stack",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
]
