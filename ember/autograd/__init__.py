"""torch.autograd: backward, grad, grad modes, custom Functions, gradcheck."""

from __future__ import annotations

from ember.autograd import engine
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)


def _root_grads(tensors, grad_tensors, create_graph):
    from ember._tensor import Tensor

    out = []
    for t, g in zip(tensors, grad_tensors):
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.dtype.is_floating_point and not t.dtype.is_complex:
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}"
                )
            g = t._data * 0 + 1
            g = g.astype(t._data.dtype) if hasattr(g, "astype") else g
            out.append(Tensor._wrap(g) if create_graph else _arr(g))
        else:
            if not isinstance(g, Tensor):
                from ember.functional import tensor

                g = tensor(g, dtype=t.dtype)
            if g.shape != t.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and output[0] "
                    f"has a shape of {t.shape}."
                )
            out.append(g if create_graph else g._data.copy())
    return out


def _arr(g):
    import numpy as np

    return np.asarray(g) if type(g) is not np.ndarray and isinstance(g, np.generic) else g


def _as_seq(x):
    from ember._tensor import Tensor

    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph: bool = False,
    grad_variables=None,
    inputs=None,
) -> None:
    """torch.autograd.backward: accumulate d(tensors)/d(leaves) into the leaves' .grad."""
    tensors = _as_seq(tensors)
    grad_tensors = _as_seq(grad_tensors if grad_tensors is not None else grad_variables)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    gs = _root_grads(tensors, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _as_seq(inputs)
        res = engine.run_backward(tensors, gs, retain_graph, create_graph, inputs=inputs, allow_unused=True)
        for t, g in zip(inputs, res):
            if g is not None:
                engine._accumulate(t, g if create_graph else g._data, create_graph)
        return
    engine.run_backward(tensors, gs, retain_graph, create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused=None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
):
    """torch.autograd.grad: d(outputs)/d(inputs), returned as a tuple; .grad is not touched."""
    outputs = _as_seq(outputs)
    inputs_l = _as_seq(inputs)
    for t in inputs_l:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grad_outputs = _as_seq(grad_outputs) or [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    gs = _root_grads(outputs, grad_outputs, create_graph)
    res = engine.run_backward(
        outputs, gs, retain_graph, create_graph, inputs=inputs_l, allow_unused=allow_unused
    )
    if materialize_grads:
        from ember.functional import zeros_like

        res = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs_l, res))
    return res


from ember.autograd import functional  # noqa: E402,F401
from ember.autograd.custom import Function, FunctionCtx  # noqa: E402
from ember.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402
from ember.autograd.variable import Variable  # noqa: E402,F401

__all__ = [
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "Function",
    "FunctionCtx",
    "gradcheck",
    "gradgradcheck",
]
