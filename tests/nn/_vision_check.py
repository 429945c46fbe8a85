"""Helpers for the vision-layer tests: run one call through ember and torch on the same arrays
and compare outputs and the gradients of every float input."""

from __future__ import annotations

import numpy as np
import torch
from conftest import assert_same, pair

import ember

rng = np.random.default_rng(14)


def arr(*shape, dtype=np.float32, lo=None, hi=None):
    if lo is not None:
        return rng.uniform(lo, hi, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def tol(dtype) -> dict:
    return dict(atol=1e-5, rtol=1e-4) if np.dtype(dtype) == np.float32 else dict(atol=1e-10, rtol=1e-8)


def run(fe, ft, *arrays, grad=True, atol=None, rtol=None, gscale=10.0):
    """fe/ft get (ember, torch) tensors of the same arrays (float ones require grad); outputs
    (a tensor or a tuple, first element differentiated) and every input's grad must agree."""
    t = tol(arrays[0].dtype if hasattr(arrays[0], "dtype") else np.float32)
    atol = t["atol"] if atol is None else atol
    rtol = t["rtol"] if rtol is None else rtol
    pairs = [pair(a, requires_grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    eo, to = fe(*[p[0] for p in pairs]), ft(*[p[1] for p in pairs])
    assert_same(eo, to, atol=atol, rtol=rtol)
    if grad:
        e1, t1 = (eo[0], to[0]) if isinstance(to, tuple) else (eo, to)
        g = rng.standard_normal(tuple(t1.shape)).astype(str(t1.dtype).removeprefix("torch."))
        e1.backward(ember.Tensor._wrap(g.copy()))
        t1.backward(torch.from_numpy(g.copy()))
        for e, tt in pairs:
            if tt.requires_grad:
                assert e.grad is not None, "ember grad missing"
                assert_same(e.grad, tt.grad, atol=atol * gscale, rtol=rtol * gscale)
    return eo, to


def gradcheck(fn, *arrays) -> None:
    """ember.autograd.gradcheck in float64 on fresh leaves of the arrays."""
    ins = [ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert ember.autograd.gradcheck(fn, ins, eps=1e-6, atol=1e-5)
