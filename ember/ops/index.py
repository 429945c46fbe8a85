"""Indexing: basic indexing gives views, advanced indexing copies (as in torch); gather/scatter
family and index_* functions are expressed through the three key-based primitives below."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.grad_mode import _state
from ember.graph.node import Function
from ember.ops._util import norm_dim, unbroadcast
from ember.ops.out import write_out
from ember.ops.views import as_view, view_fn_of

_SCALARS = (int, slice, np.integer)


def _is_basic(key) -> bool:
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, _SCALARS)):
            return False
    return True


def convert_key(key):
    """Turn Tensors/lists inside an index into arrays; keep ints, slices, None, Ellipsis."""
    if isinstance(key, Tensor):
        if key.ndim == 0 and key.dtype._cat <= 1 and key.dtype.name != "bool":
            return int(key.item())
        return _idx_array(key._data)
    if isinstance(key, tuple):
        return tuple(convert_key(k) for k in key)
    if isinstance(key, list):
        if any(isinstance(k, (Tensor, slice, list)) or k is None or k is Ellipsis for k in key):
            return tuple(convert_key(k) for k in key)
        return _idx_array(np.asarray(key))
    if isinstance(key, np.ndarray):
        return _idx_array(key)
    if isinstance(key, slice) and key.step is not None and int(key.step) <= 0:
        raise ValueError("step must be greater than zero")
    if isinstance(key, (bool, np.bool_)):
        return np.asarray(key)
    return key


def _idx_array(a):
    if a.dtype == np.bool_ or a.dtype.kind in "iu":
        return a
    if a.size == 0:
        return a.astype(np.int64)
    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")


def _index_msg(e, shape) -> str:
    import re

    msg = str(e)
    m = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", msg)
    if m:
        return f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size {m.group(3)}"
    m = re.search(r"too many indices for array: array is (\d+)-dimensional, but (\d+) were indexed", msg)
    if m:
        return f"too many indices for tensor of dimension {m.group(1)}"
    return msg


def _add_at(shape, dtype, key, g):
    """zeros(shape) with g added at key (repeated indices accumulate); raw or Tensor g."""
    if hasattr(g, "_data"):  # create_graph: of(g) is autograd.graph_math
        return of(g).index_put_zeros(g, shape, key)
    xp = of(g)
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(key):
        out[key] += g
    else:
        xp.add.at(out, key, g)
    return out


# -- primitives -------------------------------------------------------------------------------
class GetItem(Function):
    # d a[key] = scatter-add of grad into zeros_like(a) at key
    @staticmethod
    def forward(ctx, a, key):
        ctx.shape, ctx.key = a.shape, key
        try:
            return a[key]
        except IndexError as e:
            raise IndexError(_index_msg(e, a.shape)) from None

    @staticmethod
    def backward(ctx, g):
        return _add_at(ctx.shape, g.dtype, ctx.key, g), None


class SetItem(Function):
    # out = a with out[key] = v;  d out/d a = grad with key zeroed,  d out/d v = grad[key]
    @staticmethod
    def forward(ctx, a, key, v):
        ctx.key = key
        ctx.vshape = np.shape(v)
        out = a.copy()
        try:
            out[key] = v
        except IndexError as e:
            raise IndexError(_index_msg(e, a.shape)) from None
        except ValueError:
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be broadcast to "
                f"indexing result of shape {list(np.shape(a[key]))}"
            ) from None
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gv = None
        n = ctx.needs_input_grad
        if n[0]:
            if hasattr(g, "_data"):  # create_graph: of(g) is autograd.graph_math
                ga = of(g).index_zero(g, ctx.key)
            else:
                ga = g.copy()
                ga[ctx.key] = 0
        if n[2]:
            gv = unbroadcast(g[ctx.key], ctx.vshape)
        return ga, None, gv


class IndexPutAdd(Function):
    # out = a with out[key] += v (repeats accumulate);  d/d a = grad,  d/d v = grad[key]
    @staticmethod
    def forward(ctx, a, key, v):
        ctx.key, ctx.vshape = key, np.shape(v)
        out = a.copy()
        xp = of(a)
        try:
            if _is_basic(key):
                out[key] += v
            else:
                xp.add.at(out, key, v)
        except IndexError as e:
            raise IndexError(_index_msg(e, a.shape)) from None
        return out

    @staticmethod
    def backward(ctx, g):
        gv = unbroadcast(g[ctx.key], ctx.vshape) if ctx.needs_input_grad[2] else None
        return g, None, gv


class ViewScatter(Function):
    # out = base with view_fn(out) = v;  d/d base = grad with the view zeroed, d/d v = view_fn(grad)
    @staticmethod
    def forward(ctx, base, v, fn):
        ctx.fn, ctx.vshape = fn, np.shape(v)
        ctx.order = "F" if base.flags.f_contiguous and not base.flags.c_contiguous else "C"
        out = of(base).array(base, order=ctx.order, copy=True)
        _write_view(out, fn, v)
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gv = None
        if hasattr(g, "_data"):  # create_graph: of(g) is autograd.graph_math
            if ctx.needs_input_grad[0]:
                ga = ViewScatter.apply(g, of(g).zeros(ctx.vshape, dtype=g._data.dtype), ctx.fn)
            if ctx.needs_input_grad[1]:
                gv = unbroadcast(ctx.fn(g), ctx.vshape)
            return ga, gv, None
        if ctx.needs_input_grad[0]:
            ga = of(g).array(g, order=ctx.order, copy=True)
            _write_view(ga, ctx.fn, 0)
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(ctx.fn(g).copy(), ctx.vshape)
        return ga, gv, None


def _write_view(out, fn, v) -> None:
    region = fn(out)
    if not of(out).may_share_memory(region, out):
        raise RuntimeError("ember: could not re-derive a view of its base for an in-place write")
    try:
        region[...] = v
    except ValueError as e:
        if "read-only" in str(e):
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to a "
                "single memory location. Please clone() the tensor before performing the operation."
            ) from None
        raise


# -- getitem / setitem and in-place on views ---------------------------------------------------
def getitem(a, key):
    tk = type(key)
    if (tk is int and a._data.ndim) or (tk is slice and (key.step is None or key.step > 0)):
        # hot path (x[i], x[i:j]): a basic index is always a view
        k = (key, Ellipsis)
        out = GetItem.apply_binary(a, k)
        out._version_counter = a._version_counter
        if a._base is None:
            out._base = a
            out._view_key = k  # view_fn_of() builds `lambda r: r[k]` only if it is ever needed
        else:
            as_view(out, a, lambda r, k=k: r[k])
        return out
    key = convert_key(key)
    if _is_basic(key):
        key = key if isinstance(key, tuple) else (key,)
        if Ellipsis not in key:
            key = key + (Ellipsis,)  # numpy then returns a 0-d view, never a scalar copy
        out = GetItem.apply(a, key)
        return as_view(out, a, lambda r, k=key: r[k])
    if isinstance(key, tuple) and any(
        isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim == 0 for k in key
    ):
        key = tuple(
            k.reshape(1) == 1 if isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype == np.bool_ else k
            for k in key
        )
    return GetItem.apply(a, key)


def rebase_view(view, result) -> None:
    """In-place op on a view whose history matters: write the result into the root base with a
    ViewScatter node (torch's CopySlices), then re-derive the view's history from the new base."""
    root = view._base
    fn = view_fn_of(view)
    if root._requires_grad and root.grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    if fn is None:
        if result._requires_grad:
            raise RuntimeError(
                "ember: an in-place operation with autograd on this kind of view is not supported; "
                "use the out-of-place operation instead"
            )
        view._data[...] = result._data
        view._bump()
        return
    new = ViewScatter.apply(root, result, fn)
    root._data[...] = new._data
    root._bump()
    root.grad_fn, root._requires_grad = new.grad_fn, new._requires_grad
    again = fn(root)
    view.grad_fn, view._requires_grad = again.grad_fn, again._requires_grad


def setitem(a, key, value) -> None:
    """a[key] = value, in place: storage written, version bumped, graph rebased if needed."""
    key = convert_key(key)
    vt = isinstance(value, Tensor)
    if _state[0] and (a._requires_grad or (vt and value._requires_grad)):
        if vt and value._data.dtype != a._data.dtype:
            value = value.to(a.dtype)
        a._inplace(SetItem.apply(a, key, value))
        return
    v = value._data if vt else value
    if vt and v.dtype != a._data.dtype:
        v = v.astype(a._data.dtype)
    try:
        a._data[key] = v
    except IndexError as e:
        raise IndexError(_index_msg(e, a.shape)) from None
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be broadcast to "
            f"indexing result of shape {list(np.shape(a._data[key]))}"
        ) from None
    a._bump()


# -- public functions -------------------------------------------------------------------------
def _dimn(dim, nd):
    return norm_dim(int(dim), nd)[0]


def _check_index(index, name):
    if index.dtype.name != "int64":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


def _gather_key(input, dim, index, name):
    _check_index(index, name)
    nd = max(input.ndim, 1)
    if max(index.ndim, 1) != nd:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    d = _dimn(dim, input.ndim)
    idx = index._data.reshape(index.shape if index.ndim else (1,))
    ishape = input.shape if input.ndim else (1,)
    for k in range(nd):
        if k != d and idx.shape[k] > ishape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be no "
                f"larger than self {list(ishape)} apart from dimension {d}"
            )
    bad = (idx < 0) | (idx >= ishape[d])
    if bad.any():
        raise RuntimeError(
            f"index {int(idx[bad][0])} is out of bounds for dimension {d} with size {ishape[d]}"
        )
    xp = of(idx)
    key = [xp.arange(n).reshape((1,) * k + (n,) + (1,) * (nd - k - 1)) for k, n in enumerate(idx.shape)]
    key[d] = idx
    if input.ndim == 0:
        return (Ellipsis,) if False else tuple(), idx.shape
    return tuple(key), idx.shape


def gather(input, dim: int, index, *, sparse_grad: bool = False, out=None):
    """torch.gather: out[i][j] = input[i][index[i][j]] (dim=1)."""
    key, _ = _gather_key(input, dim, index, "gather")
    res = GetItem.apply(input, key) if key else GetItem.apply(input, (Ellipsis,))
    return _out(res, out)


def _src(src, shape, like):
    if not isinstance(src, Tensor):
        return float(src) if like.dtype.is_floating_point else src
    return getitem(src, tuple(slice(0, n) for n in shape)) if src.ndim else src


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None, out=None):
    """torch.scatter: out = input with out[i][index[i][j]] = src[i][j] (dim=1)."""
    src = value if src is None else src
    key, shape = _gather_key(input, dim, index, "scatter")
    v = _src(src, shape, input)
    if hasattr(v, "dtype") and v.dtype is not input.dtype:
        v = v.to(input.dtype)
    if reduce is None:
        res = SetItem.apply(input, key, v)
    elif reduce == "add":
        res = IndexPutAdd.apply(input, key, v)
    elif reduce == "multiply":
        ones = SetItem.apply(Tensor._wrap(of(input._data).ones_like(input._data)), key, v)
        res = input * ones
    else:
        raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")
    return _out(res, out)


def scatter_add(input, dim: int, index, src, *, out=None):
    key, shape = _gather_key(input, dim, index, "scatter_add")
    return _out(IndexPutAdd.apply(input, key, _src(src, shape, input)), out)


def _dim_key(input, dim, index, name):
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    d = _dimn(dim, input.ndim)
    size = input.shape[d] if input.ndim else 1
    idx = index._data.reshape(-1)
    bad = (idx < -size) | (idx >= size)
    if bad.any():
        raise IndexError("index out of range in self")
    return (slice(None),) * d + (idx % max(size, 1),) if input.ndim else (Ellipsis,), d


def index_select(input, dim: int, index, *, out=None):
    key, _ = _dim_key(input, dim, index, "index_select")
    return _out(GetItem.apply(input, key), out)


def index_add(input, dim: int, index, source, *, alpha=1, out=None):
    key, d = _dim_key(input, dim, index, "index_add")
    if alpha != 1:
        source = source * alpha
    return _out(IndexPutAdd.apply(input, key, source), out)


def index_fill(input, dim: int, index, value):
    key, _ = _dim_key(input, dim, index, "index_fill")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(
            f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
        )
    return SetItem.apply(input, key, value.to(input.dtype) if isinstance(value, Tensor) else value)


def index_copy(input, dim: int, index, source):
    key, _ = _dim_key(input, dim, index, "index_copy")
    return SetItem.apply(input, key, source)


def index_put(input, indices, values, accumulate: bool = False):
    key = convert_key(tuple(indices))
    if values.dtype is not input.dtype:
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got {input.dtype.__repr__()[6:].capitalize()} "
            f"for the destination and {values.dtype.__repr__()[6:].capitalize()} for the source."
        )
    return (IndexPutAdd if accumulate else SetItem).apply(input, key, values)


def index_put_add(out, key, g):
    """out with g added at key (repeats accumulate); differentiable in both (GetItem's backward)."""
    return IndexPutAdd.apply(out, key, g)


def _mask(mask, name):
    if mask.dtype.name != "bool":
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype {mask.dtype.name}")
    return mask


def masked_fill(input, mask, value):
    _mask(mask, "masked_fill_")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(
            f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
        )
    shape = np.broadcast_shapes(input.shape, mask.shape)
    if shape != input.shape:
        input = input.expand(shape)
    key = of(mask._data).broadcast_to(mask._data, shape)
    if isinstance(value, Tensor):
        value = value.to(input.dtype)
    return SetItem.apply(input, key, value)


def masked_select(input, mask, *, out=None):
    _mask(mask, "masked_select:")
    shape = np.broadcast_shapes(input.shape, mask.shape)
    if shape != input.shape:
        input = input.expand(shape)
    return _out(GetItem.apply(input, of(mask._data).broadcast_to(mask._data, shape)), out)


def masked_scatter(input, mask, source):
    _mask(mask, "masked_scatter_")
    n = int(mask._data.sum())
    return SetItem.apply(input, of(mask._data).broadcast_to(mask._data, input.shape), source.reshape(-1)[:n])


def nonzero(input, *, out=None, as_tuple: bool = False):
    a = input._data
    xp = of(a)
    if as_tuple:
        if a.ndim == 0:
            return (Tensor._wrap(xp.zeros(int(bool(a)), dtype=np.int64)),)
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in xp.nonzero(a))
    return _out(Tensor._wrap(xp.argwhere(a).astype(np.int64)), out)


def argwhere(input):
    return nonzero(input)


def take(input, index):
    if index.dtype.name != "int64":
        raise RuntimeError(
            "take(): Expected a long tensor for index, but got " + index.dtype.name.capitalize()
        )
    n = input.numel()
    idx = index._data
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(
            f"out of range: tried to access index {int(idx[bad].reshape(-1)[0])} on a tensor of {n} elements."
        )
    return GetItem.apply(input.reshape(-1), idx % max(n, 1))


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices.reshape(-1))
    d = _dimn(dim, input.ndim)
    shape = list(
        np.broadcast_shapes(
            tuple(s for i, s in enumerate(input.shape) if i != d) + (1,),
            tuple(s for i, s in enumerate(indices.shape) if i != d) + (1,),
        )
    )[:-1]
    ish = tuple(shape[:d]) + (input.shape[d],) + tuple(shape[d:])
    xsh = tuple(shape[:d]) + (indices.shape[d],) + tuple(shape[d:])
    return gather(input.broadcast_to(ish), d, indices.broadcast_to(xsh))


def _out(res, out):
    if out is None:
        return res
    return write_out(out, res)


__all__ = [
    "gather",
    "scatter",
    "scatter_add",
    "index_select",
    "index_add",
    "index_fill",
    "index_copy",
    "index_put",
    "index_put_add",
    "masked_fill",
    "masked_select",
    "masked_scatter",
    "nonzero",
    "argwhere",
    "take",
    "take_along_dim",
]
