"""torch.geqrf, torch.linalg.householder_product (values and gradients) and
parametrizations.orthogonal(use_trivialization=False) against real torch."""

import numpy as np
import pytest
import torch

import ember
from ember import nn


def _t(x):
    return torch.tensor(x.detach().numpy())


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 4), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_geqrf(shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    a, tau = ember.geqrf(ember.tensor(x))
    ta, ttau = torch.geqrf(torch.tensor(x))
    assert a.dtype == ember.tensor(x).dtype and a.shape == ta.shape and tau.shape == ttau.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(tau.numpy(), ttau.numpy(), rtol=tol, atol=tol)
    res = ember.geqrf(ember.tensor(x))
    assert res.a is res[0] and res.tau is res[1]


@pytest.mark.parametrize("shape,k", [((5, 3), 3), ((5, 3), 2), ((4, 4), 4), ((2, 6, 3), 3), ((3, 1), 1)])
def test_householder_product_values_and_grads(shape, k):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape)
    tau = rng.uniform(0.2, 1.8, shape[:-2] + (k,))
    g = rng.standard_normal(shape)
    ea, et = ember.tensor(a, requires_grad=True), ember.tensor(tau, requires_grad=True)
    ta, tt = torch.tensor(a, requires_grad=True), torch.tensor(tau, requires_grad=True)
    eq = ember.linalg.householder_product(ea, et)
    tq = torch.linalg.householder_product(ta, tt)
    np.testing.assert_allclose(eq.detach().numpy(), tq.detach().numpy(), rtol=1e-10, atol=1e-12)
    (eq * ember.tensor(g)).sum().backward()
    (tq * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(et.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-11)
    # geqrf then householder_product gives Q of the QR decomposition, in float32 too
    x = rng.standard_normal(shape).astype(np.float32)
    q = ember.linalg.householder_product(*ember.geqrf(ember.tensor(x)))
    np.testing.assert_allclose(q.numpy(), torch.linalg.householder_product(*torch.geqrf(torch.tensor(x))).numpy(),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_householder_product_errors():
    for a, tau in ((np.zeros((2, 3)), np.zeros(2)), (np.zeros((4, 2)), np.zeros(3))):
        with pytest.raises(RuntimeError) as want:
            torch.linalg.householder_product(torch.tensor(a), torch.tensor(tau))
        with pytest.raises(RuntimeError) as got:
            ember.linalg.householder_product(ember.tensor(a), ember.tensor(tau))
        assert str(got.value) == str(want.value).split("\n")[0]


@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_orthogonal_without_trivialization(omap, shape, opt):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(shape).astype(np.float32)
    em, tm = nn.Linear(shape[1], shape[0]), torch.nn.Linear(shape[1], shape[0])
    with ember.no_grad():
        em.weight.copy_(ember.tensor(w0))
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w0))
    nn.utils.parametrizations.orthogonal(em, orthogonal_map=omap, use_trivialization=False)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=omap, use_trivialization=False)
    assert not hasattr(em.parametrizations.weight[0], "base")
    eorig, torig = em.parametrizations.weight.original, tm.parametrizations.weight.original
    np.testing.assert_allclose(eorig.detach().numpy(), torig.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
    eo = getattr(ember.optim, opt)(em.parameters(), lr=0.05)
    to = getattr(torch.optim, opt)(tm.parameters(), lr=0.05)
    x = rng.standard_normal((6, shape[1])).astype(np.float32)
    c = rng.standard_normal((6, shape[0])).astype(np.float32)
    for _ in range(2):
        eo.zero_grad()
        to.zero_grad()
        (em(ember.tensor(x)) * ember.tensor(c)).sum().backward()
        (tm(torch.tensor(x)) * torch.tensor(c)).sum().backward()
        eo.step()
        to.step()
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-4, atol=2e-5)
    w = em.weight.detach().numpy()
    gram = w @ w.T if shape[0] < shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)
    if omap == "householder":  # assigning goes through geqrf again
        new = (
            torch.linalg.qr(torch.tensor(rng.standard_normal(shape).astype(np.float32)))[0]
            if shape[0] >= shape[1]
            else None
        )
        if new is not None:
            em.weight = ember.tensor(new.numpy())
            tm.weight = new
            np.testing.assert_allclose(
                em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5
            )
    else:
        with pytest.raises(NotImplementedError, match="not possible to assign to the matrix exponential"):
            em.weight = ember.tensor(w0)


@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 3, 3), (2, 2, 4)])
def test_orthogonal_householder_batched(shape):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(shape).astype(np.float32)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(ember.tensor(w0))

    class TM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(w0))

    em, tm = M(), TM()
    nn.utils.parametrizations.orthogonal(em, orthogonal_map="householder", use_trivialization=False)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map="householder", use_trivialization=False)
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
    eo, to = ember.optim.SGD(em.parameters(), lr=0.1), torch.optim.SGD(tm.parameters(), lr=0.1)
    c = rng.standard_normal(shape).astype(np.float32)
    (em.weight * ember.tensor(c)).sum().backward()
    (tm.weight * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(
        em.parametrizations.weight.original.grad.numpy(),
        tm.parametrizations.weight.original.grad.numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    eo.step()
    to.step()
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
