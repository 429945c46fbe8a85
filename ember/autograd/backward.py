"""backward() and grad(): the public entry points to the engine (torch.autograd.backward/grad),
and Tensor.backward."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.graph import engine
from ember.graph.engine import run_backward_single_root, seed_grad
from ember.graph.grad_mode import _anomaly


def _root_grads(tensors, grad_tensors, create_graph):
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
            g = seed_grad(t._data)
            out.append(Tensor._wrap(g.copy()) if create_graph else g)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._wrap(np.asarray(g, dtype=t._data.dtype))
            if g.shape != t.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and output[0] "
                    f"has a shape of {t.shape}."
                )
            out.append(g if create_graph else g._data.copy())
    return out


def _as_seq(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def tensor_backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Tensor.backward. Fast path: the common `loss.backward()` (a one-element float tensor
    with a graph, nothing else asked) goes straight to the engine's single-root loop; the
    general path is `backward` below (tests/test_fast_paths.py compares them); anomaly mode
    always takes the general path, whose engine loop checks each node's gradients."""
    if gradient is None and inputs is None and not create_graph and self._requires_grad and not _anomaly[0]:
        d = self._data
        if d.size == 1 and d.dtype.kind == "f" and self.grad_fn is not None:
            run_backward_single_root(self.grad_fn, seed_grad(d), retain_graph)
            return
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


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
        res = tuple(Tensor._wrap(np.zeros_like(t._data)) if g is None else g for t, g in zip(inputs_l, res))
    return res
