"""Graph nodes. A primitive is a Function subclass whose forward/backward run on raw arrays;
the instance created by `apply` is both the ctx and the graph node (as in torch)."""

from __future__ import annotations

import itertools

import numpy as _np

from ember.autograd.grad_mode import _state

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
    _bl_ok = False  # consumes and produces batch-last tensors as they are (ops/batch_last.py)

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    @classmethod
    def apply(cls, *args, **kw):
        ctx = _new(cls)
        needs = False
        if _bl_live[0] and not cls._bl_ok:
            for a in args:
                if isinstance(a, Tensor) and a._bl:
                    normalize(a)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        if _state[0]:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    needs = True
                    break
        if not needs:
            ctx.needs_input_grad = _FALSES[len(args)] if len(args) < 16 else (False,) * len(args)
            res = _wrap(cls.forward(ctx, *arrays, **kw), False, None)
        else:
            edges = [(a.grad_fn or a) if isinstance(a, Tensor) and a._requires_grad else None for a in args]
            ctx.needs_input_grad = tuple([e is not None for e in edges])
            ctx._seq = _next_seq()
            out = cls.forward(ctx, *arrays, **kw)
            res = _wrap(out, True, ctx)
            ctx.next = edges
            if ctx.saved:
                ctx._versions = _track(ctx.saved, args, res, out)
        if cls._bl_ok:
            _flag_bl(res)
        if tracer[0] is not None:
            tracer[0].record(cls, args, res, kw)
        return res

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        cls.apply2 = staticmethod(_make_apply2(cls))

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

    def register_hook(self, fn) -> None:
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_ERR_FREED)
        return tuple(Tensor._wrap(s, False, None) if _is_array(s) else s for s in self.saved)


_bl_live = [False]  # set when the first batch-last tensor is made; until then no op checks


def _flag_bl(res) -> None:
    """Mark an op's output whose memory is (C, H, W, N): torch would give a contiguous tensor."""
    d = res._data
    if type(d) is _np.ndarray and d.ndim == 4 and not d.flags.c_contiguous and _bl_dense(d):
        res._bl = True
        _bl_live[0] = True


def _bl_dense(d) -> bool:
    return d.transpose(1, 2, 3, 0).flags.c_contiguous


def normalize(t) -> None:
    """Make a batch-last tensor NCHW-contiguous in place (same values and version; arrays
    saved for backward keep the old buffer, which nothing else can see)."""
    from ember.ops.batch_last import from_bl

    t._data = from_bl(t._data.transpose(1, 2, 3, 0))
    t._bl = False


def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, Tensor)


def _track(saved, args, res, out=None):
    """For each saved array that is an input's or the output's storage, remember whose it is
    and its version, so backward can detect in-place modification (torch's SavedVariable)."""
    tracked = []
    for s in saved:
        src = None
        if s is None or type(s) is float or type(s) is int:
            tracked.append(None)
            continue
        for a in args:
            if isinstance(a, Tensor) and a._data is s:
                src = (a, a._vc, a._vc[0])
                break
        else:
            if s is res._data or (s is out and out is not None):
                src = (None, res._vc, res._vc[0])
        tracked.append(src)
    return tracked


def _track2(saved, a, b, res, out):
    """_track for apply2's two inputs, without the generic loops."""
    ad = a._data
    bd = b._data if isinstance(b, Tensor) else _NOT_ARRAY
    tracked = []
    for s in saved:
        if s is ad:
            tracked.append((a, a._vc, a._vc[0]))
        elif s is bd:
            tracked.append((b, b._vc, b._vc[0]))
        elif s is None or type(s) is float or type(s) is int:
            tracked.append(None)
        elif s is out or s is res._data:
            tracked.append((None, res._vc, res._vc[0]))
        else:
            tracked.append(None)
    return tracked


_NOT_ARRAY = object()


def _make_apply2(cls):
    """`cls.apply(a, b)` for a Tensor `a`, as a plain function bound to one class: the operator
    bindings' hot path (`Tensor.__mul__ = Mul.apply2`). Same steps as `apply`, without *args
    packing, generic loops or a call to Tensor._wrap (its body is inlined)."""

    def apply2(a, b):
        bl_ok = cls._bl_ok
        if (_bl_live[0] and not bl_ok) or tracer[0] is not None:
            return cls.apply(a, b)
        ctx = _new(cls)
        if isinstance(b, Tensor):
            bd, brg = b._data, b._requires_grad
        else:
            bd, brg = b, False
        res = _new(Tensor)  # Tensor._wrap, inlined
        res.grad = None
        res._vc = [0]
        res._hooks = None
        res._base = None
        if _state[0] and (a._requires_grad or brg):
            ea = (a.grad_fn or a) if a._requires_grad else None
            eb = (b.grad_fn or b) if brg else None
            ctx.needs_input_grad = (ea is not None, eb is not None)
            ctx._seq = _next_seq()
            out = cls.forward(ctx, a._data, bd)
            res._data = out if type(out) is _np.ndarray else _as_array(out)
            res._requires_grad = True
            res.grad_fn = ctx
            ctx.next = [ea, eb]
            if ctx.saved:
                ctx._versions = _track2(ctx.saved, a, b, res, out)
        else:
            ctx.needs_input_grad = _FALSE2
            out = cls.forward(ctx, a._data, bd)
            res._data = out if type(out) is _np.ndarray else _as_array(out)
            res._requires_grad = False
            res.grad_fn = None
        if bl_ok:
            _flag_bl(res)
        return res

    apply2.__name__ = apply2.__qualname__ = cls.__name__ + ".apply2"
    return apply2


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


Tensor = None  # bound by ember._tensor at import (avoids an import cycle)
_wrap = None  # Tensor._wrap, bound likewise
_new = object.__new__
_next_seq = itertools.count(1).__next__  # creation order: consumers always have a larger number
_FALSES = [(False,) * n for n in range(16)]
_FALSE2 = (False, False)
_as_array = None  # ember._tensor._as_array, bound likewise
