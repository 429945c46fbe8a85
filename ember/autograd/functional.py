"""torch.autograd.functional: jacobian and hessian by repeated reverse passes."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.autograd.backward import grad
from ember.creation import zeros_like
from ember.ops.shape import cat, stack


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False):
    single = isinstance(inputs, Tensor)
    xs = (inputs,) if single else tuple(inputs)
    xs = tuple(x.detach().requires_grad_(True) for x in xs)
    out = func(*xs)
    flat = out.reshape(-1)
    rows = [[] for _ in xs]
    for k in range(flat.numel()):
        gs = grad(flat[k], xs, retain_graph=True, create_graph=create_graph, allow_unused=True)
        for j, (x, g) in enumerate(zip(xs, gs)):
            rows[j].append(zeros_like(x) if g is None else g)
    jac = tuple(stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, xs))
    return jac[0] if single else jac


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False):
    single = isinstance(inputs, Tensor)

    def g(*xs):
        ys = func(*xs)
        gs = grad(ys, xs, create_graph=True)
        return gs[0] if single else cat([t.reshape(-1) for t in gs])

    return jacobian(g, inputs, create_graph=create_graph)
