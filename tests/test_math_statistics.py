"""ops/mathfuncs.py and ops/statistics.py against torch: values, indices, dtypes, gradients,
errors, and gradcheck for logcumsumexp."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(4)


def both(a, grad=False):
    e, t = ember.from_numpy(np.array(a).copy()), torch.from_numpy(np.array(a).copy())
    if grad:
        e.requires_grad_()
        t.requires_grad_()
    return e, t


def check(fe, ft, *arrays, atol=1e-6, grad=True):
    pairs = [both(a, grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    es, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    eo, to = fe(*es), ft(*ts)
    assert_same(eo, to, atol=atol, rtol=1e-5)
    if not grad:
        return
    outs_e = [o for o in (eo if isinstance(eo, tuple) else (eo,)) if o.dtype.is_floating_point]
    outs_t = [o for o in (to if isinstance(to, tuple) else (to,)) if o.dtype.is_floating_point]
    gs = [rng.standard_normal(tuple(o.shape)) for o in outs_t]
    sum((o * ember.from_numpy(g.astype(o.dtype.np))).sum() for o, g in zip(outs_e, gs)).backward()
    sum((o * torch.from_numpy(g).to(o.dtype)).sum() for o, g in zip(outs_t, gs)).backward()
    for e, t in zip(es, ts):
        if t.requires_grad:
            tg = torch.zeros_like(t.grad) if t.grad._is_zerotensor() else t.grad  # torch's zero gradient
            assert_same(e.grad, tg, atol=atol * 10, rtol=1e-4)


F32, F64 = np.float32, np.float64


@pytest.mark.parametrize("dt", [F32, F64])
def test_pointwise_compositions(dt):
    a, b = rng.standard_normal((3, 4)).astype(dt), rng.standard_normal((3, 4)).astype(dt)
    b[0, 0] = a[0, 0]
    for name in ("logaddexp", "logaddexp2", "hypot", "copysign"):
        check(getattr(ember, name), getattr(torch, name), a, b)
        check(lambda x, y, n=name: getattr(x, n)(y), lambda x, y, n=name: getattr(x, n)(y), a, b)
    p = rng.uniform(0.01, 0.99, (3, 4)).astype(dt)
    p[0, 0] = 0.001
    check(ember.logit, torch.logit, p)
    check(lambda x: ember.logit(x, eps=0.05), lambda x: torch.logit(x, eps=0.05), p)
    s = a.copy()
    s[1, 1] = 0
    for name in ("sinc", "rad2deg", "deg2rad", "sgn", "positive"):
        check(getattr(ember, name), getattr(torch, name), s)
    # exponents >= 0: torch's ldexp gradient for a negative integer exponent is 0 (integer pow), ember's is 2^n
    check(
        lambda x: ember.ldexp(x, ember.tensor([1, 2, 3, 0])),
        lambda x: torch.ldexp(x, torch.tensor([1, 2, 3, 0])),
        a,
    )
    inf = np.array([np.inf, -np.inf, -np.inf, 1.0], dtype=dt)
    check(
        ember.logaddexp, torch.logaddexp, inf, np.array([np.inf, -np.inf, 0.0, np.inf], dtype=dt), grad=False
    )


def test_pointwise_without_gradients():
    f = np.array([-2.0, -0.0, 0.0, 1.5, np.nan], dtype=F32)
    check(ember.signbit, torch.signbit, f, grad=False)
    check(
        lambda x: x.heaviside(ember.tensor([0.5])), lambda x: x.heaviside(torch.tensor([0.5])), f, grad=False
    )
    i, j = rng.integers(-20, 20, 8), rng.integers(1, 20, 8)
    check(ember.gcd, torch.gcd, i, j, grad=False)
    check(ember.lcm, torch.lcm, i, j, grad=False)
    check(ember.frexp, torch.frexp, rng.standard_normal(6).astype(F32) * 100, grad=False)
    check(ember.rad2deg, torch.rad2deg, np.array([1, 2]), grad=False)
    assert_raises_same(
        lambda: ember.gcd(ember.ones(2), ember.ones(2)), lambda: torch.gcd(torch.ones(2), torch.ones(2))
    )
    assert_raises_same(
        lambda: ember.positive(ember.ones(2).bool()), lambda: torch.positive(torch.ones(2).bool())
    )
    assert_raises_same(lambda: ember.frexp(ember.tensor([1])), lambda: torch.frexp(torch.tensor([1])))


@pytest.mark.parametrize("dt", [F32, F64])
def test_cummax_cummin_aminmax(dt):
    x = rng.integers(0, 4, (3, 7)).astype(dt)  # ties
    x[1, 3] = np.nan
    for dim in (0, 1, -1):
        check(lambda t, d=dim: ember.cummax(t, d), lambda t, d=dim: torch.cummax(t, d), x)
        check(lambda t, d=dim: t.cummin(d), lambda t, d=dim: t.cummin(d), x)
    y = rng.standard_normal((3, 5)).astype(dt)
    for kw in ({}, dict(dim=0), dict(dim=1, keepdim=True)):
        e, t = both(y)
        eo, to = ember.aminmax(e, **kw), torch.aminmax(t, **kw)
        assert_same(eo.min, to.min)
        assert_same(eo.max, to.max)
    assert_raises_same(lambda: ember.aminmax(ember.ones(0)), lambda: torch.aminmax(torch.ones(0)))


def test_mode_and_nanmedian():
    a = np.array([[1, 2, 2, 3, 3, 1], [4, 4, 0, 0, 0, 5]])
    check(lambda t: ember.mode(t, 1), lambda t: torch.mode(t, 1), a, grad=False)
    check(lambda t: t.mode(0, keepdim=True), lambda t: t.mode(0, keepdim=True), a, grad=False)
    f = rng.permutation(12).reshape(3, 4).astype(F32)
    check(lambda t: ember.mode(t, 1), lambda t: torch.mode(t, 1), f)
    g = f.copy()
    g[0, 1] = g[2, 0] = np.nan
    check(ember.nanmedian, torch.nanmedian, g)
    check(lambda t: ember.nanmedian(t, 1), lambda t: torch.nanmedian(t, 1), g)
    check(lambda t: t.nanmedian(0, keepdim=True), lambda t: t.nanmedian(0, keepdim=True), g)


@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dt", [F32, F64])
def test_quantile_and_nanquantile(interp, dt):
    x = rng.standard_normal((4, 7)).astype(dt)
    qs = np.array([0.0, 0.25, 0.5, 0.9, 1.0], dtype=dt)
    for dim, keep in ((None, False), (None, True), (1, False), (0, True), (-1, True)):
        for q in (0.3, qs):
            qe = q if isinstance(q, float) else ember.from_numpy(q)
            qt = q if isinstance(q, float) else torch.from_numpy(q)
            check(
                lambda t: ember.quantile(t, qe, dim=dim, keepdim=keep, interpolation=interp),
                lambda t: torch.quantile(t, qt, dim=dim, keepdim=keep, interpolation=interp),
                x,
            )
    y = x.copy()
    y[0, 2] = y[3, :] = np.nan
    for fn in ("quantile", "nanquantile"):
        check(
            lambda t, f=fn: getattr(ember, f)(t, 0.4, dim=1, interpolation=interp),
            lambda t, f=fn: getattr(torch, f)(t, 0.4, dim=1, interpolation=interp),
            y,
            grad=False,
        )
    assert_raises_same(lambda: ember.quantile(ember.ones(3), 1.5), lambda: torch.quantile(torch.ones(3), 1.5))
    assert_raises_same(
        lambda: ember.quantile(ember.tensor([1, 2]), 0.5), lambda: torch.quantile(torch.tensor([1, 2]), 0.5)
    )


@pytest.mark.parametrize("dt", [F32, F64])
def test_logcumsumexp(dt):
    x = (rng.standard_normal((3, 6)) * 30).astype(dt)
    x[0, 0] = -1e4 if dt is F64 else -200  # far below the row's max: a cumsum of exps would underflow
    for dim in (0, 1):
        check(
            lambda t, d=dim: ember.logcumsumexp(t, d), lambda t, d=dim: torch.logcumsumexp(t, d), x, atol=1e-5
        )
        check(lambda t, d=dim: t.logcumsumexp(d), lambda t, d=dim: t.logcumsumexp(d), x, atol=1e-5)
    a = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: ember.logcumsumexp(t, 1), (a,))


def test_cov_corrcoef_trapezoid():
    x = rng.standard_normal((3, 8))
    check(ember.cov, torch.cov, x)
    check(lambda t: ember.cov(t, correction=0), lambda t: torch.cov(t, correction=0), x)
    fw, aw = rng.integers(1, 4, 8), rng.random(8)
    check(
        lambda t: ember.cov(t, fweights=ember.from_numpy(fw), aweights=ember.from_numpy(aw)),
        lambda t: torch.cov(t, fweights=torch.from_numpy(fw), aweights=torch.from_numpy(aw)),
        x,
    )
    check(ember.cov, torch.cov, rng.standard_normal(6))
    check(ember.corrcoef, torch.corrcoef, x)
    check(lambda t: t.corrcoef(), lambda t: t.corrcoef(), x.astype(F32))
    y = rng.standard_normal((2, 5))
    xs = np.sort(rng.random(5))
    check(ember.trapezoid, torch.trapezoid, y)
    check(lambda t: ember.trapezoid(t, dx=0.5, dim=0), lambda t: torch.trapezoid(t, dx=0.5, dim=0), y)
    check(lambda t, u: ember.trapezoid(t, u), lambda t, u: torch.trapezoid(t, u), y, xs)
    check(ember.cumulative_trapezoid, torch.cumulative_trapezoid, y)
    check(lambda t, u: ember.cumulative_trapezoid(t, u), lambda t, u: torch.cumulative_trapezoid(t, u), y, xs)
