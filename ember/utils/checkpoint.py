"""torch.utils.checkpoint: run a piece of the forward pass without keeping its intermediate
values, and recompute it during backward. The first pass runs under no_grad with a recorder on
`autograd.function.tracer` that notes which tensors requiring grad (parameters, captured
activations) the piece reads, so their gradients flow through the checkpoint node (torch's
non-reentrant behaviour) whatever the inputs are."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import ember
from ember import Tensor
from ember.graph import node as _function

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential"]


class CheckpointError(RuntimeError):
    pass


class _Capture:
    """tracer: every tensor requiring grad that a primitive reads and the piece did not make."""

    def __init__(self, prev) -> None:
        self.prev = prev
        self.made: set[int] = set()
        self.used: dict[int, Tensor] = {}
        self.keep: list = []

    def push_scope(self, module) -> None:
        if self.prev is not None:
            self.prev.push_scope(module)

    def pop_scope(self, module) -> None:
        if self.prev is not None:
            self.prev.pop_scope(module)

    def record(self, fn_cls, args, out, kw=None) -> None:
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad and id(a) not in self.made:
                self.used.setdefault(id(a), a)
        self.made.add(id(out))
        self.keep.append(out)
        if self.prev is not None:
            self.prev.record(fn_cls, args, out, kw)


def _tensors_of(out) -> list:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors_of(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors_of(o)]
    return []


class _Checkpoint(ember.autograd.Function):
    @staticmethod
    def forward(ctx, state, *tensors):
        ctx.state = state
        return state["outputs"]

    @staticmethod
    def backward(ctx, *grads):
        st = ctx.state
        if st.get("done"):
            raise CheckpointError(
                "torch.utils.checkpoint: Trying to backward through the checkpointed region a second time"
            )
        n_args = st["n_args"]
        inputs = st["inputs"]
        args = list(st["args"])
        detached = []
        for pos, t in zip(st["positions"], inputs[:n_args]):
            d = t.detach().requires_grad_(t.requires_grad)
            args[pos] = d
            detached.append(d)
        saved_rng = ember.get_rng_state() if st["rng"] is not None else None
        if saved_rng is not None:
            ember.set_rng_state(st["rng"])
        try:
            with ember.enable_grad():
                out = st["fn"](*args, **st["kwargs"])
        finally:
            if saved_rng is not None:
                ember.set_rng_state(saved_rng)
        outs, gs = [], []
        for o, g in zip(_tensors_of(out), grads):
            if o.requires_grad and g is not None:
                outs.append(o)
                gs.append(g)
        wrt = detached + inputs[n_args:]
        need = [i for i, t in enumerate(wrt) if t.requires_grad]
        res = [None] * len(wrt)
        if outs and need:
            got = ember.autograd.grad(
                outs, [wrt[i] for i in need], gs, allow_unused=True,
                retain_graph=any(not wrt[i].is_leaf for i in need),
            )  # fmt: skip
            for i, g in zip(need, got):
                res[i] = g
        return (None, *res)


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """torch.utils.checkpoint.checkpoint: `function(*args, **kwargs)` without saved activations;
    its forward runs again in backward (with the same random state when preserve_rng_state)."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the current "
            "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
            "the differences between the two variants.",
            UserWarning,
            stacklevel=2,
        )
        use_reentrant = True
    if context_fn is not None and use_reentrant:
        raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    arg_tensors = [args[i] for i in positions]
    if not ember.is_grad_enabled():
        return function(*args, **kwargs)
    if use_reentrant and not any(t.requires_grad for t in arg_tensors):
        warnings.warn(
            "None of the inputs have requires_grad=True. Gradients will be None", UserWarning, stacklevel=2
        )
        with ember.no_grad():
            return function(*args, **kwargs)
    rng = ember.get_rng_state() if preserve_rng_state else None
    cap = _Capture(_function.tracer[0])
    _function.tracer[0] = cap
    try:
        with ember.no_grad():
            outputs = function(*args, **kwargs)
    finally:
        _function.tracer[0] = cap.prev
    given = {id(t) for t in arg_tensors}
    external = [t for k, t in cap.used.items() if k not in given]
    state = {
        "fn": function, "args": args, "kwargs": kwargs, "positions": positions, "n_args": len(arg_tensors),
        "inputs": arg_tensors + external, "rng": rng, "outputs": outputs,
    }  # fmt: skip
    if not isinstance(outputs, (Tensor, tuple)):
        raise CheckpointError("ember: checkpoint supports functions returning a Tensor or a tuple of them")
    return _Checkpoint.apply(state, *arg_tensors, *external)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None, **kwargs):
    """Checkpoint a Sequential (or list of modules) in `segments` pieces; the last piece runs
    normally."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
            "passed explicitly. In version 2.9 we will raise an exception if use_reentrant is not "
            "passed. use_reentrant=False is recommended, but if you need to preserve the current "
            "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
            "the differences between the two variants.",
            UserWarning,
            stacklevel=2,
        )
        use_reentrant = True

    def run(start: int, end: int, fns):
        def forward(x):
            for j in range(start, end + 1):
                x = fns[j](x)
            return x

        return forward

    if isinstance(functions, ember.nn.Sequential):
        functions = list(functions.children())
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end, functions), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1, functions)(input)
