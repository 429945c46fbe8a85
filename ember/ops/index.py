"""Indexing: basic indexing gives views, advanced indexing copies (as in torch)."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.autograd.function import Function


def _is_basic(key) -> bool:
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer))):
            return False
    return True


def convert_key(key):
    """Turn Tensors/lists inside an index into arrays; keep ints, slices, None, Ellipsis."""
    from ember._tensor import Tensor

    if isinstance(key, Tensor):
        return _idx_array(key._data)
    if isinstance(key, tuple):
        return tuple(convert_key(k) for k in key)
    if isinstance(key, list):
        if any(isinstance(k, (Tensor, slice, list)) or k is None or k is Ellipsis for k in key):
            if all(isinstance(k, (int, Tensor, list)) for k in key):
                return _idx_array(np.asarray([k._data if isinstance(k, Tensor) else k for k in key]))
            return tuple(convert_key(k) for k in key)
        return _idx_array(np.asarray(key))
    if isinstance(key, np.ndarray):
        return _idx_array(key)
    return key


def _idx_array(a):
    if a.dtype == np.bool_ or a.dtype.kind in "iu":
        return a
    if a.size == 0:
        return a.astype(np.int64)
    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")


class GetItem(Function):
    # d a[key] = scatter-add of grad into zeros_like(a) at key
    @staticmethod
    def forward(ctx, a, key):
        ctx.shape, ctx.dtype, ctx.key = a.shape, a.dtype, key
        try:
            return a[key]
        except IndexError as e:
            raise IndexError(_index_msg(e, a.shape)) from None

    @staticmethod
    def backward(ctx, g):
        xp = of(g)
        if hasattr(g, "_data"):
            from ember.ops.graph_math import index_put_zeros

            return index_put_zeros(g, ctx.shape, ctx.key), None
        out = xp.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic(ctx.key):
            out[ctx.key] += g
        else:
            xp.add.at(out, ctx.key, g)
        return out, None


def _index_msg(e, shape) -> str:
    msg = str(e)
    if "out of bounds" in msg:
        import re

        m = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", msg)
        if m:
            return f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size {m.group(3)}"
    return msg


def getitem(a, key):
    key = convert_key(key)
    out = GetItem.apply(a, key)
    if _is_basic(key):
        out._vc = a._vc
        out._base = a
        out._view_key = key
    return out


def rebase_view(view, result) -> None:
    """In-place op on a view whose history matters: write through the base with setitem so the
    base's graph records the change (torch's CopySlices), then re-derive the view from it."""
    base = view._base
    key = getattr(view, "_view_key", None)
    if key is None:
        if base._requires_grad:
            raise RuntimeError(
                "ember: an in-place operation on a view (other than an indexing view) of a tensor "
                "that requires grad is not supported; use the out-of-place operation instead"
            )
        view._data[...] = result._data
        view._vc[0] += 1
        view.grad_fn = result.grad_fn
        view._requires_grad = result._requires_grad
        return
    setitem(base, key, result)
    new = GetItem.apply(base, key)
    view.grad_fn = new.grad_fn
    view._requires_grad = new._requires_grad


class SetItem(Function):
    # out = a with out[key] = v;  d out/d a = grad with key zeroed,  d out/d v = grad[key]
    @staticmethod
    def forward(ctx, a, key, v):
        ctx.key = key
        ctx.vshape = np.shape(v)
        out = a.copy()
        out[key] = v
        return out

    @staticmethod
    def backward(ctx, g):
        from ember.ops._util import unbroadcast

        ga = gv = None
        n = ctx.needs_input_grad
        if n[0]:
            if hasattr(g, "_data"):
                from ember.ops.graph_math import index_zero

                ga = index_zero(g, ctx.key)
            else:
                ga = g.copy()
                ga[ctx.key] = 0
        if n[2]:
            gk = g[ctx.key]
            gv = unbroadcast(gk, ctx.vshape) if gk.shape != ctx.vshape else gk
        return ga, None, gv


def setitem(a, key, value) -> None:
    """a[key] = value, in place: storage written, version bumped, graph rebased if needed."""
    from ember._tensor import Tensor
    from ember.autograd.grad_mode import _state

    key = convert_key(key)
    vt = isinstance(value, Tensor)
    needs = _state[0] and (a._requires_grad or (vt and value._requires_grad))
    if not needs:
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
        a._vc[0] += 1
        return
    a._check_inplace()
    if vt and value._data.dtype != a._data.dtype:
        value = value.to(a.dtype)
    res = SetItem.apply(a, key, value)
    a._data[...] = res._data
    a._vc[0] += 1
    a.grad_fn = res.grad_fn
    a._requires_grad = True
    if a._base is not None and getattr(a, "_view_key", None) is not None:
        pass  # base sees the data through shared memory; its graph is rebased by rebase_view users


__all__: list[str] = []
