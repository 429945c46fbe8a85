"""Finite-difference checks of analytic gradients (torch.autograd.gradcheck)."""

from __future__ import annotations

import numpy as np

from ember import creation as F
from ember._tensor import Tensor
from ember.autograd.backward import grad
from ember.autograd.grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def _inputs(inputs):
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _flat_outputs(out):
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def _numerical(fn, inputs, i, eps):
    """Central differences: d out / d inputs[i] as a (numel_in, numel_out) matrix per output."""
    x = inputs[i]
    data = x._data  # perturbed in place through indices, so non-contiguous inputs work too
    cols = []
    with no_grad():
        for k in np.ndindex(data.shape):
            orig = data[k].copy()
            data[k] = orig + eps
            plus = [o._data.astype(np.float64).ravel().copy() for o in _flat_outputs(fn(*inputs))]
            data[k] = orig - eps
            minus = [o._data.astype(np.float64).ravel().copy() for o in _flat_outputs(fn(*inputs))]
            data[k] = orig
            cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    return cols


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **kwargs,
) -> bool:
    """Compare the analytic Jacobian (via autograd.grad) with central finite differences."""
    inputs = _inputs(inputs)
    diff = [i for i, t in enumerate(inputs) if hasattr(t, "_requires_grad") and t._requires_grad]
    for i in diff:
        if inputs[i].dtype.name != "float64":
            import warnings

            warnings.warn(
                "Input #%d requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision "
                "floating point. ".replace("#%d", f"#{i}"),
                stacklevel=2,
            )
    outs = _flat_outputs(func(*inputs))
    for oi, o in enumerate(outs):
        if not o._requires_grad:
            continue
        n_out = o._data.size
        analytic = {i: np.zeros((inputs[i]._data.size, n_out)) for i in diff}
        for k in range(n_out):
            go = np.zeros(n_out, dtype=o._data.dtype)
            go[k] = 1
            o2 = _flat_outputs(func(*inputs))[oi]
            gs = grad(
                o2, [inputs[i] for i in diff], Tensor._wrap(go.reshape(o._data.shape)), allow_unused=True
            )
            for i, g in zip(diff, gs):
                if g is not None:
                    analytic[i][:, k] = g._data.astype(np.float64).ravel()
        for i in diff:
            num = np.array([c[oi] for c in _numerical(func, inputs, i, eps)])
            num = num.reshape(analytic[i].shape)
            if not np.allclose(analytic[i], num, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                        f"numerical:{num}\nanalytical:{analytic[i]}\n"
                    )
                return False
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **kwargs,
) -> bool:
    """gradcheck of the first derivative (built with create_graph=True)."""
    inputs = _inputs(inputs)
    outs = _flat_outputs(func(*inputs))
    rng = np.random.default_rng(0)
    gos = grad_outputs or [F.tensor(rng.standard_normal(o.shape), dtype=o.dtype) for o in outs]

    def first(*xs):
        # enable_grad: the finite differences call this under no_grad, and it needs a graph
        with enable_grad():
            os = _flat_outputs(func(*xs))
            gs = grad(
                os,
                [x for x in xs if hasattr(x, "_requires_grad") and x._requires_grad],
                gos,
                create_graph=True,
                allow_unused=True,
            )
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
