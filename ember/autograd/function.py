"""User-defined autograd Functions (torch.autograd.Function): forward/backward on Tensors."""

from __future__ import annotations

import numpy as np

from ember._dtype import get_default_dtype
from ember._layout import make_nchw
from ember._tensor import Tensor
from ember.graph import grad_mode
from ember.graph.node import _ERR_FREED, _next_seq
from ember.graph.node import Function as _Node


class FunctionCtx:
    """The `ctx` a custom Function's forward and backward receive."""

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = [t._version_counter[0] if t is not None else None for t in tensors]

    @property
    def saved_tensors(self) -> tuple:
        node = self._node
        if node is not None and node._freed:
            raise RuntimeError(_ERR_FREED)
        saved = getattr(self, "_saved", ())
        for t, v in zip(saved, self._saved_versions):
            if t is not None and t._version_counter[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: is at version {t._version_counter[0]}; expected version {v} instead."
                )
        return saved

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = value


class _Grads(list):
    """Per-output gradients of a multi-output node; `+` merges (None means no gradient)."""

    def __add__(self, other):
        return _Grads(a if b is None else b if a is None else a + b for a, b in zip(self, other))


class _CustomNode(_Node):
    def __init__(self, fn_cls, ctx) -> None:
        self.fn_cls = fn_cls
        self.ctx = ctx
        self._name = fn_cls.__name__ + "Backward"

    @staticmethod
    def backward(node, g):
        ctx = node.ctx
        outs = node.out_meta
        gs = list(g) if isinstance(g, _Grads) else [g]
        targs = []
        for gi, (shape, dt) in zip(gs, outs):
            if gi is None:
                if getattr(ctx, "_materialize", True):
                    targs.append(Tensor._wrap(np.zeros(tuple(shape), dtype=(dt or get_default_dtype()).np)))
                else:
                    targs.append(None)
            else:
                targs.append(gi if isinstance(gi, Tensor) else Tensor._wrap(gi))
        create = grad_mode.is_grad_enabled()
        res = node.fn_cls.backward(ctx, *targs)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(node.next)
        if len(res) < n_in:
            raise RuntimeError(
                f"function {node._name} returned an incorrect number of gradients (expected {n_in}, got {len(res)})"
            )
        out = []
        for r in res[:n_in]:
            if r is None:
                out.append(None)
            elif isinstance(r, Tensor):
                out.append(r if create else r._data)
            else:
                out.append(r)
        return tuple(out)


class _Select(_Node):
    """Edge from one output of a multi-output custom node to the node itself."""

    def __init__(self, index: int, n: int) -> None:
        self.index, self.n = index, n

    @staticmethod
    def backward(node, g):
        grads = _Grads([None] * node.n)
        grads[node.index] = g
        return (grads,)


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`; call `.apply`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx._node = None
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        needs = grad_mode.is_grad_enabled() and any(ctx.needs_input_grad)
        with grad_mode.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not needs:
            return out
        node = _CustomNode(cls, ctx)
        node._seq = _next_seq()
        ctx._node = node
        node.next = tuple(
            (a.grad_fn or a) if isinstance(a, Tensor) and a._requires_grad else None for a in args
        )
        node.needs_input_grad = ctx.needs_input_grad
        node.out_meta = [(o.shape, o.dtype) if isinstance(o, Tensor) else ((), None) for o in outs]
        non_diff = getattr(ctx, "_non_diff", set())
        dirty = {id(t) for t in getattr(ctx, "_dirty", ())}
        res = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                res.append(o)
                continue
            if id(o) in non_diff:
                res.append(o)
                continue
            if id(o) in dirty:
                t = o
            elif any(o is a for a in args) or o._base is not None:
                if o._batch_last:
                    make_nchw(o)
                t = Tensor._wrap(o._data)
                t._version_counter = o._version_counter
            else:
                t = o
            if single:
                t.grad_fn = node
            else:
                sel = _Select(i, len(outs))
                sel._seq = _next_seq()
                sel.next = (node,)
                sel._name = node._name
                t.grad_fn = sel
            t._requires_grad = True
            res.append(t)
        return res[0] if single else tuple(res)


__all__ = ["Function", "FunctionCtx"]
