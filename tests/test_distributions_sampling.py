"""Sampling from ember.distributions: shapes and dtypes as torch's; moments of 10k draws within
statistical bounds of torch's mean/variance; rsample gradients (exact identities for location-
scale families, implicit reparameterisation for Gamma/Beta/Dirichlet checked against torch's
_standard_gamma_grad and against d/dtheta of the analytic mean). ember's random stream is not
torch's, so draws are never compared with torch's draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

N = 10_000
D = ember.distributions


def _moments_ok(x: np.ndarray, mean: np.ndarray, var: np.ndarray, k: float = 5.0) -> None:
    """Sample mean within k standard errors; sample variance within k of its own standard error."""
    m = x.mean(0)
    c = x - m
    s2 = (c**2).mean(0)
    m4 = (c**4).mean(0)
    assert np.all(np.abs(m - mean) <= k * np.sqrt(var / len(x)) + 1e-12), (m, mean)
    assert np.all(np.abs(s2 - var) <= k * np.sqrt(np.maximum(m4 - s2**2, 1e-30) / len(x)) + 1e-12), (s2, var)


CASES = [
    ("Normal", lambda L: dict(loc=L.tensor([0.0, 2.0]), scale=L.tensor([1.0, 0.5]))),
    ("Uniform", lambda L: dict(low=L.tensor([0.0, -2.0]), high=L.tensor([1.0, 3.0]))),
    ("Bernoulli", lambda L: dict(probs=L.tensor([0.1, 0.7]))),
    ("Binomial", lambda L: dict(total_count=L.tensor([5.0, 20.0]), probs=L.tensor([0.3, 0.8]))),
    ("Beta", lambda L: dict(concentration1=L.tensor([0.5, 2.0]), concentration0=L.tensor([0.5, 5.0]))),
    ("Gamma", lambda L: dict(concentration=L.tensor([0.3, 4.0]), rate=L.tensor([2.0, 0.5]))),
    ("Exponential", lambda L: dict(rate=L.tensor([0.5, 3.0]))),
    ("Laplace", lambda L: dict(loc=L.tensor([1.0, -1.0]), scale=L.tensor([0.5, 2.0]))),
    ("Dirichlet", lambda L: dict(concentration=L.tensor([[0.5, 1.0, 2.0], [3.0, 3.0, 3.0]]))),
    ("OneHotCategorical", lambda L: dict(probs=L.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]))),
    (
        "MultivariateNormal",
        lambda L: dict(loc=L.tensor([1.0, -1.0]), covariance_matrix=L.tensor([[2.0, 0.6], [0.6, 1.0]])),
    ),
]

CASES += [
    ("Multinomial", lambda L: dict(total_count=7, probs=L.tensor([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]]))),
    ("Poisson", lambda L: dict(rate=L.tensor([0.5, 8.0]))),
    ("Geometric", lambda L: dict(probs=L.tensor([0.2, 0.9]))),
    ("LogNormal", lambda L: dict(loc=L.tensor([0.0, 1.0]), scale=L.tensor([0.25, 0.5]))),
    ("HalfNormal", lambda L: dict(scale=L.tensor([1.0, 3.0]))),
    ("Chi2", lambda L: dict(df=L.tensor([1.0, 6.0]))),
    (
        "StudentT",
        lambda L: dict(df=L.tensor([9.0, 20.0]), loc=L.tensor([1.0, 0.0]), scale=L.tensor([1.0, 2.0])),
    ),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_samples_have_torch_shape_dtype_and_moments(name, kw):
    ember.manual_seed(0)
    ed, td = getattr(D, name)(**kw(ember)), getattr(torch.distributions, name)(**kw(torch))
    for shape in ((), (3,), (2, 4)):
        es, ts = ed.sample(shape), td.sample(shape)
        assert tuple(es.shape) == tuple(ts.shape) and str(es.dtype) == str(ts.dtype), (
            shape,
            es.shape,
            ts.shape,
        )
        assert not es.requires_grad
    x = ed.sample((N,)).numpy().astype(np.float64)
    assert bool(ed.support.check(ember.tensor(x)).all())
    _moments_ok(x, td.mean.numpy(), td.variance.numpy())
    if name == "MultivariateNormal":
        np.testing.assert_allclose(np.cov(x.T), td.covariance_matrix.numpy(), atol=0.1)
    if td.has_rsample:
        er = ed.rsample((N,))
        assert tuple(er.shape) == (N,) + tuple(td.batch_shape + td.event_shape)
        _moments_ok(er.detach().numpy().astype(np.float64), td.mean.numpy(), td.variance.numpy())


def test_categorical_frequencies():
    ember.manual_seed(1)
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    c = D.Categorical(probs=ember.tensor(p * 3))  # unnormalised probs are normalised
    s = c.sample((N,))
    assert s.dtype == ember.int64 and tuple(s.shape) == (N, 2)
    for row in range(2):
        freq = np.bincount(s.numpy()[:, row], minlength=4) / N
        assert np.all(np.abs(freq - p[row]) <= 5 * np.sqrt(p[row] * (1 - p[row]) / N) + 1e-12)
    assert (s.numpy()[:, 0] != 1).all()  # a zero-probability category is never drawn
    lc = D.Categorical(logits=ember.tensor(np.log(p[1])))
    assert np.abs(np.bincount(lc.sample((N,)).numpy(), minlength=4) / N - 0.25).max() < 0.03


def test_sampling_is_reproducible_under_manual_seed():
    for name, kw in CASES:
        d = getattr(D, name)(**kw(ember))
        ember.manual_seed(123)
        a = d.sample((5,)).numpy()
        ember.manual_seed(123)
        b = d.sample((5,)).numpy()
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_location_scale_rsample_gradients_are_exact():
    ember.manual_seed(2)
    for name in ("Normal", "Laplace"):
        loc = ember.tensor([0.5, -1.0], requires_grad=True)
        scale = ember.tensor([1.5, 0.3], requires_grad=True)
        x = getattr(D, name)(loc, scale).rsample((100,))
        x.sum().backward()
        np.testing.assert_allclose(loc.grad.numpy(), [100.0, 100.0])
        eps = (x.detach() - loc.detach()) / scale.detach()
        np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5)
    rate = ember.tensor([0.5, 2.0], requires_grad=True)
    x = D.Exponential(rate).rsample((100,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), (-x.detach() / rate.detach()).sum(0).numpy(), rtol=1e-5)
    low, high = ember.tensor([0.0], requires_grad=True), ember.tensor([2.0], requires_grad=True)
    u = D.Uniform(low, high).rsample((100,))
    u.sum().backward()
    np.testing.assert_allclose(high.grad.numpy() + low.grad.numpy(), [100.0], rtol=1e-5)
    loc = ember.tensor([1.0, 2.0], requires_grad=True)
    L = ember.tensor([[1.0, 0.0], [0.5, 2.0]], requires_grad=True)
    y = D.MultivariateNormal(loc, scale_tril=L).rsample((50,))
    y.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [50.0, 50.0])
    eps = np.linalg.solve(L.detach().numpy(), (y.detach() - loc.detach()).numpy().T)  # y = loc + L eps
    np.testing.assert_allclose(L.grad.numpy(), np.tile(eps.sum(1), (2, 1)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [ember.float64, ember.float32])
def test_gamma_rsample_gradient_matches_torch_standard_gamma_grad(dtype):
    pytest.importorskip("scipy", reason="Gamma rsample gradients use scipy.special.gammainc")
    ember.manual_seed(3)
    alpha = ember.tensor([0.2, 1.0, 3.5, 40.0], dtype=dtype, requires_grad=True)
    rate = ember.tensor([1.0, 2.0, 0.5, 1.0], dtype=dtype)
    x = D.Gamma(alpha, rate).rsample((200,))
    assert x.dtype == dtype
    x.sum().backward()
    std = (x.detach() * rate).numpy().astype(np.float64)  # the Gamma(alpha, 1) draws
    a = np.broadcast_to(alpha.detach().numpy().astype(np.float64), std.shape)
    ref = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(std)).numpy() / rate.numpy()
    np.testing.assert_allclose(alpha.grad.numpy(), ref.sum(0), rtol=2e-3 if dtype == ember.float64 else 5e-3)


def test_implicit_reparameterisation_gradients_are_unbiased():
    """d/dtheta of E[x] from rsample averages to the analytic derivative of the mean."""
    pytest.importorskip("scipy", reason="Gamma/Beta/Dirichlet rsample gradients use scipy.special.gammainc")
    ember.manual_seed(4)
    conc, rate = ember.tensor([0.5, 3.0], requires_grad=True), ember.tensor([2.0, 0.5], requires_grad=True)
    D.Gamma(conc, rate).rsample((N,)).mean(0).sum().backward()
    np.testing.assert_allclose(conc.grad.numpy(), 1 / rate.detach().numpy(), rtol=0.05)  # dE/da = 1/b
    np.testing.assert_allclose(rate.grad.numpy(), -(conc / rate**2).detach().numpy(), rtol=0.05)
    a, b = ember.tensor([0.7, 2.0], requires_grad=True), ember.tensor([1.5, 5.0], requires_grad=True)
    D.Beta(a, b).rsample((N,)).mean(0).sum().backward()
    s = (a + b).detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy() / s**2, rtol=0.08)
    np.testing.assert_allclose(b.grad.numpy(), -a.detach().numpy() / s**2, rtol=0.08)
    c = ember.tensor([0.5, 1.0, 2.0], requires_grad=True)
    x = D.Dirichlet(c).rsample((N,))
    np.testing.assert_allclose(x.sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    x[:, 0].mean().backward()
    A, c0 = 3.5, 0.5
    expected = np.array([(A - c0) / A**2, -c0 / A**2, -c0 / A**2])  # d E[x0] / d c
    np.testing.assert_allclose(c.grad.numpy(), expected, rtol=0.1, atol=0.01)


def test_sample_never_builds_a_graph_and_rsample_does():
    loc = ember.tensor([0.0], requires_grad=True)
    d = D.Normal(loc, 1.0)
    assert d.sample().grad_fn is None and not d.sample().requires_grad
    assert d.rsample().requires_grad
    assert D.Bernoulli(ember.tensor([0.5], requires_grad=True)).sample().grad_fn is None
    with pytest.raises(NotImplementedError):
        D.Bernoulli(0.5).rsample()
