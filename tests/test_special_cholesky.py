"""lgamma/digamma/polygamma/erfinv/xlogy and linalg.cholesky/solve_triangular against torch:
values, dtypes, gradients (SciPy path and the NumPy fallback), errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.ops import special

R = np.random.default_rng(1)
POS = np.concatenate([R.uniform(0.05, 20, 12), [0.5, 1.0, 2.0, 1e-3, 150.0]])


def _pair(x, dtype):
    return ember.tensor(x.astype(dtype), requires_grad=True), torch.tensor(
        x.astype(dtype), requires_grad=True
    )


CASES = [
    ("lgamma", lambda L, x: L.lgamma(x), np.concatenate([POS, [-2.5, -0.3]])),
    ("digamma", lambda L, x: L.digamma(x), np.concatenate([POS, [-2.5, -0.3]])),
    ("polygamma1", lambda L, x: L.polygamma(1, x), POS),
    ("polygamma2", lambda L, x: L.polygamma(2, x), POS),
    ("erfinv", lambda L, x: L.erfinv(x), R.uniform(-0.99, 0.99, 12)),
    ("xlogy", lambda L, x: L.xlogy(x, x + 0.5), np.concatenate([R.uniform(0.1, 3, 8), [0.0]])),
]


@pytest.mark.parametrize("scipy", [True, False], ids=["scipy", "numpy-fallback"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,x", CASES, ids=[c[0] for c in CASES])
def test_special_functions_match_torch(name, fn, x, dtype, scipy, monkeypatch):
    if not scipy:
        monkeypatch.setattr(special, "_scipy_special", [None])  # as if SciPy were absent
    elif special._lib(np.zeros(1)) is None:
        pytest.skip("SciPy is not installed (an optional accelerator of these functions)")
    rtol = 1e-9 if dtype == np.float64 else 2e-6
    e, t = _pair(x, dtype)
    ey, ty = fn(ember, e), fn(torch, t)
    assert str(ey.dtype) == str(ty.dtype)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=rtol)
    ey.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol * 10, atol=rtol)


def test_special_edge_values_and_dtypes():
    x = [0.0, -1.0, -2.5, 1e-8]
    np.testing.assert_allclose(
        ember.lgamma(ember.tensor(x)).numpy(), torch.lgamma(torch.tensor(x)).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(
        ember.digamma(ember.tensor(x[2:])).numpy(), torch.digamma(torch.tensor(x[2:])).numpy(), rtol=1e-6
    )
    assert ember.lgamma(ember.tensor([1, 2, 3])).dtype == ember.float32
    a, b = [0.0, 0.0, 1.0], [0.0, float("nan"), 0.0]
    np.testing.assert_array_equal(
        ember.xlogy(ember.tensor(a), ember.tensor(b)).numpy(),
        torch.xlogy(torch.tensor(a), torch.tensor(b)).numpy(),
    )
    np.testing.assert_allclose(
        ember.xlogy(2, ember.tensor([1.0, 2.0])).numpy(), torch.xlogy(2, torch.tensor([1.0, 2.0])).numpy()
    )
    with pytest.raises(RuntimeError, match="negative n"):
        ember.polygamma(-1, ember.ones(1))


def test_digamma_double_backward():
    e, t = _pair(POS[:5], np.float64)
    (ge,) = ember.autograd.grad(ember.lgamma(e).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(torch.lgamma(t).sum(), t, create_graph=True)
    ge.sum().backward()
    gt.sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-9)


def _spd(n, batch=()):
    m = R.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_cholesky_matches_torch(upper, batch):
    A, G = _spd(3, batch), R.standard_normal(batch + (3, 3))
    e, t = _pair(A, np.float64)
    el, tl = ember.linalg.cholesky(e, upper=upper), torch.linalg.cholesky(t, upper=upper)
    np.testing.assert_allclose(el.detach().numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-12)
    (el * ember.tensor(G)).sum().backward()
    (tl * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_matches_torch(upper, left, unit):
    L = np.linalg.cholesky(_spd(3, (2,)))
    A = np.swapaxes(L, -1, -2) if upper else L
    B = R.standard_normal((2, 3, 4) if left else (2, 4, 3))
    G = R.standard_normal(B.shape)
    (ea, ta), (eb, tb) = _pair(A, np.float64), _pair(B, np.float64)
    ex = ember.linalg.solve_triangular(ea, eb, upper=upper, left=left, unitriangular=unit)
    tx = torch.linalg.solve_triangular(ta, tb, upper=upper, left=left, unitriangular=unit)
    np.testing.assert_allclose(ex.detach().numpy(), tx.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ex * ember.tensor(G)).sum().backward()
    (tx * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_solve_triangular_broadcasts_batch():
    L = np.linalg.cholesky(_spd(3))
    B = R.standard_normal((5, 3, 2))
    ex = ember.linalg.solve_triangular(ember.tensor(L), ember.tensor(B), upper=False)
    tx = torch.linalg.solve_triangular(torch.tensor(L), torch.tensor(B), upper=False)
    np.testing.assert_allclose(ex.numpy(), tx.numpy(), rtol=1e-12)


def _err(fn):
    with pytest.raises(Exception) as ei:
        fn()
    return ei.value


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.linalg.cholesky(L.tensor([[1.0, 2.0], [2.0, 1.0]])),
        lambda L: L.linalg.cholesky(L.tensor([[-1.0, 0.0], [0.0, 1.0]])),
        lambda L: L.linalg.cholesky(L.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])),
        lambda L: L.linalg.cholesky(L.ones(2, 3)),
        lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(3, 1), upper=False),
        lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(1, 3), upper=False, left=False),
        lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2), upper=False),
    ],
)
def test_linalg_errors_match_torch(call):
    te, ee = _err(lambda: call(torch)), _err(lambda: call(ember))
    assert str(ee) == str(te)
    assert isinstance(ee, RuntimeError) and (
        isinstance(ee, ember.linalg.LinAlgError) == isinstance(te, torch.linalg.LinAlgError)
    )


@pytest.mark.parametrize(
    "a,b",
    [([1.5, 2.5], 2.0), (2, [1.0, 2.0]), ([1, 2], [3, 4]), ([1, 2], 2.5), ("f64", [2.0]), ([1.0], "0d-f64")],
)
def test_xlogy_promotion_matches_torch(a, b):
    def make(lib, v):
        if v == "f64":
            return lib.tensor([1.0], dtype=lib.float64)
        if v == "0d-f64":
            return lib.tensor(2.0, dtype=lib.float64)
        return lib.tensor(v) if isinstance(v, list) else v

    e, t = ember.xlogy(make(ember, a), make(ember, b)), torch.xlogy(make(torch, a), make(torch, b))
    assert str(e.dtype) == str(t.dtype)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


def test_special_tensor_methods():
    x, t = ember.tensor([0.7, 3.2]), torch.tensor([0.7, 3.2])
    for name in ("lgamma", "digamma", "erfinv"):
        v = x / 4 if name == "erfinv" else x
        tv = t / 4 if name == "erfinv" else t
        np.testing.assert_allclose(getattr(v, name)().numpy(), getattr(tv, name)().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.polygamma(1).numpy(), t.polygamma(1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.xlogy(3.0).numpy(), t.xlogy(3.0).numpy(), rtol=1e-6)
    y = ember.tensor([0.7, 3.2])
    v0 = y._version
    y.lgamma_()
    np.testing.assert_allclose(y.numpy(), t.lgamma().numpy(), rtol=1e-6)
    assert y._version > v0
