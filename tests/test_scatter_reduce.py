"""scatter_reduce against torch: every reduce, include_self both ways, 1-d and 2-d, ties, float
and integer dtypes, gradients, the in-place form and errors."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(21)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_reduce_matches_torch(reduce, include_self, dim):
    x = rng.integers(1, 4, (4, 5)).astype(np.float64)  # small integers: ties for amax/amin
    src = rng.integers(1, 4, (3, 5) if dim == 0 else (4, 3)).astype(np.float64)
    idx = rng.integers(0, 4 if dim == 0 else 5, src.shape)
    ex, tx = (lib.from_numpy(x.copy()).requires_grad_() for lib in (ember, torch))
    es, ts = (lib.from_numpy(src.copy()).requires_grad_() for lib in (ember, torch))
    ei, ti = ember.from_numpy(idx.copy()), torch.from_numpy(idx.copy())
    ey = ex.scatter_reduce(dim, ei, es, reduce, include_self=include_self)
    ty = tx.scatter_reduce(dim, ti, ts, reduce, include_self=include_self)
    assert_same(ey, ty, atol=1e-12)
    g = rng.standard_normal(x.shape)
    (ey * ember.from_numpy(g)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    assert_same(ex.grad, tx.grad, atol=1e-12)
    assert_same(es.grad, ts.grad, atol=1e-12)
    assert_same(
        ember.scatter_reduce(ex.detach(), dim, ei, es.detach(), reduce),
        torch.scatter_reduce(tx.detach(), dim, ti, ts.detach(), reduce),
    )


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_int_and_inplace(reduce):
    x, src, idx = rng.integers(-5, 5, 6), rng.integers(-5, 5, 8), rng.integers(0, 6, 8)
    for inc in (True, False):
        e, t = ember.from_numpy(x.copy()), torch.from_numpy(x.copy())
        e.scatter_reduce_(0, ember.from_numpy(idx), ember.from_numpy(src), reduce, include_self=inc)
        t.scatter_reduce_(0, torch.from_numpy(idx), torch.from_numpy(src), reduce, include_self=inc)
        assert_same(e, t)
    f = rng.standard_normal(6).astype(np.float32)
    e, t = ember.from_numpy(f.copy()), torch.from_numpy(f.copy())
    fs = rng.standard_normal(8).astype(np.float32)
    assert_same(
        e.scatter_reduce(0, ember.from_numpy(idx), ember.from_numpy(fs), reduce),
        t.scatter_reduce(0, torch.from_numpy(idx), torch.from_numpy(fs), reduce),
        atol=1e-6,
    )


def test_scatter_reduce_max_min_spellings():
    for r in ("max", "min"):
        e = ember.zeros(3).scatter_reduce(0, ember.tensor([0, 0]), ember.tensor([5.0, -2.0]), r)
        t = torch.zeros(3).scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([5.0, -2.0]), r)
        assert_same(e, t)


def test_scatter_reduce_errors():
    for fe, ft in [
        (
            lambda: ember.zeros(3).scatter_reduce(0, ember.tensor([0]), ember.ones(1), "foo"),
            lambda: torch.zeros(3).scatter_reduce(0, torch.tensor([0]), torch.ones(1), "foo"),
        ),
        (
            lambda: ember.zeros(3).scatter_reduce(0, ember.tensor([5]), ember.ones(1), "sum"),
            lambda: torch.zeros(3).scatter_reduce(0, torch.tensor([5]), torch.ones(1), "sum"),
        ),
        (
            lambda: ember.zeros(3).scatter_reduce(0, ember.tensor([0]), ember.ones(1).double(), "sum"),
            lambda: torch.zeros(3).scatter_reduce(0, torch.tensor([0]), torch.ones(1).double(), "sum"),
        ),
    ]:
        assert_raises_same(fe, ft)
