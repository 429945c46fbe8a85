"""Graph nodes. A primitive is a Function subclass whose forward/backward run on raw arrays;
the instance created by `apply` is both the ctx and the graph node (as in torch)."""

from __future__ import annotations

import itertools

import numpy as _np

from ember._hooks import add_hook
from ember._layout import batch_last_seen, flag_batch_last, make_nchw
from ember._tensor import Tensor, _as_array, _set_fields
from ember.graph.grad_mode import _state

_ERR_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved intermediate values after calling backward."
)

tracer = [None]  # set by add_graph / onnx.export recorders: tracer[0].record(node_cls, args, out, kw)


class Function:
    """Base of every differentiable primitive.

    Subclasses define `forward(ctx, *args, **kw) -> array` and `backward(ctx, grad) -> grads`
    (one per positional argument, None where no gradient flows), both static, on raw arrays.
    `ctx.save_for_backward(*arrays)` keeps what backward needs in `ctx.saved`.
    """

    next: tuple = ()
    saved: tuple = ()
    needs_input_grad: tuple = ()
    _versions = None
    _freed = False
    _seq = 0
    _hooks = None  # tensor hooks of this node's output (register_hook)
    _retain = None  # retain_grad's hook, run after the others
    _name = None
    takes_batch_last = False  # consumes and produces batch-last tensors as they are (ops/batch_last.py)

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    @classmethod
    def apply(cls, *args, **kw):
        """Run forward on the arguments' arrays; record a graph node when grad mode is on and
        an input requires grad (the general path: any arguments, keywords, batch-last inputs,
        the TensorBoard tracer)."""
        ctx = _new(cls)
        needs = False
        if batch_last_seen[0] and not cls.takes_batch_last:
            for a in args:
                if isinstance(a, Tensor) and a._batch_last:
                    make_nchw(a)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        if _state[0]:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    needs = True
                    break
        if not needs:
            ctx.needs_input_grad = _FALSES[len(args)] if len(args) < 16 else (False,) * len(args)
            res = _result(cls.forward(ctx, *arrays, **kw), False, None)
        else:
            edges = [(a.grad_fn or a) if isinstance(a, Tensor) and a._requires_grad else None for a in args]
            ctx.needs_input_grad = tuple([e is not None for e in edges])
            ctx._seq = _next_seq()
            out = cls.forward(ctx, *arrays, **kw)
            res = _result(out, True, ctx)
            ctx.next = edges
            if ctx.saved:
                ctx._versions = _track(ctx.saved, args, res, out)
        if cls.takes_batch_last:
            flag_batch_last(res)
        if tracer[0] is not None:
            tracer[0].record(cls, args, res, kw)
        return res

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        cls.apply_binary = staticmethod(_make_apply_binary(cls))

    # -- introspection with torch's names ------------------------------------------------------
    def name(self) -> str:
        return self._name or type(self).__name__ + "Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    @property
    def next_functions(self) -> tuple:
        out = []
        for e in self.next:
            if e is None:
                out.append((None, 0))
            elif isinstance(e, Tensor):
                out.append((AccumulateGrad(e), 0))
            else:
                out.append((e, 0))
        return tuple(out)

    def register_hook(self, fn):
        if self._hooks is None:
            self._hooks = {}
        return add_hook(self._hooks, fn)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_ERR_FREED)
        return tuple(Tensor._wrap(s, False, None) if _is_array(s) else s for s in self.saved)


def _result(out, requires_grad: bool, node) -> Tensor:
    return _set_fields(_new(Tensor), out if type(out) is _np.ndarray else _as_array(out), requires_grad, node)


def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, Tensor)


OUTPUT = "output"  # a version record's source when the node saved its own output


def _track(saved, args, res, out):
    """For each saved array that is an input's or the output's storage, a version record
    (source, counter, version) so backward can detect in-place modification (torch's
    SavedVariable). The source is the input's grad_fn, the leaf itself, None for a constant
    input, or OUTPUT; never a non-leaf tensor, so the record keeps no activation alive."""
    tracked = []
    for s in saved:
        rec = None
        if s is not None and type(s) is not float and type(s) is not int:
            for a in args:
                if isinstance(a, Tensor) and a._data is s:
                    rec = (_source(a), a._version_counter, a._version_counter[0])
                    break
            else:
                if s is out or s is res._data:
                    rec = (OUTPUT, res._version_counter, res._version_counter[0])
        tracked.append(rec)
    return tracked


def _source(a: Tensor):
    if a.grad_fn is not None:
        return a.grad_fn
    return a if a._requires_grad else None


_NOT_ARRAY = object()


def _make_apply_binary(cls):
    """`cls.apply(a, b)` for a Tensor `a` and a Tensor or number `b`: the fast path the binary
    operators are bound to (`Tensor.__mul__ = Mul.apply_binary`). It takes the general path
    (`apply`) whenever batch-last tensors exist or the tracer is on; otherwise the same steps
    without *args packing or generic loops. tests/test_fast_paths.py runs `apply` as its oracle."""

    def apply_binary(a, b):
        bl_ok = cls.takes_batch_last
        if (batch_last_seen[0] and not bl_ok) or tracer[0] is not None:
            return cls.apply(a, b)
        ctx = _new(cls)
        if isinstance(b, Tensor):
            bd, brg = b._data, b._requires_grad
        else:
            bd, brg = b, False
        if _state[0] and (a._requires_grad or brg):
            ea = (a.grad_fn or a) if a._requires_grad else None
            eb = (b.grad_fn or b) if brg else None
            ctx.needs_input_grad = (ea is not None, eb is not None)
            ctx._seq = _next_seq()
            out = cls.forward(ctx, a._data, bd)
            res = _set_fields(_new(Tensor), out if type(out) is _np.ndarray else _as_array(out), True, ctx)
            ctx.next = [ea, eb]
            if ctx.saved:
                ctx._versions = _track_binary(ctx.saved, a, b, res, out)
        else:
            ctx.needs_input_grad = _FALSE2
            out = cls.forward(ctx, a._data, bd)
            res = _set_fields(_new(Tensor), out if type(out) is _np.ndarray else _as_array(out), False, None)
        if bl_ok and batch_last_seen[0]:  # a binary op's output is batch-last only if an input is
            flag_batch_last(res)
        return res

    apply_binary.__name__ = apply_binary.__qualname__ = cls.__name__ + ".apply_binary"
    return apply_binary


def _track_binary(saved, a, b, res, out):
    """_track for two inputs, without the generic loops."""
    ad = a._data
    bd = b._data if isinstance(b, Tensor) else _NOT_ARRAY
    tracked = []
    for s in saved:
        if s is ad:
            src = a.grad_fn or (a if a._requires_grad else None)  # _source(a), inlined
            tracked.append((src, a._version_counter, a._version_counter[0]))
        elif s is bd:
            src = b.grad_fn or (b if b._requires_grad else None)
            tracked.append((src, b._version_counter, b._version_counter[0]))
        elif s is out or s is res._data:
            tracked.append((OUTPUT, res._version_counter, res._version_counter[0]))
        else:
            tracked.append(None)
    return tracked


class AccumulateGrad:
    """What `next_functions` shows for a leaf: `.variable` is the leaf tensor."""

    __slots__ = ("variable",)

    def __init__(self, variable) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __eq__(self, other) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)


_new = object.__new__
_next_seq = itertools.count(1).__next__  # creation order: consumers always have a larger number
_FALSES = [(False,) * n for n in range(16)]
_FALSE2 = (False, False)
