"""ember.special (torch.special) and the new special primitives (erfc, entr, xlog1py, mvlgamma)
against torch: values, gradients, gradcheck."""

import numpy as np
import pytest
import torch
from conftest import assert_same

import ember

rng = np.random.default_rng(12)


def run(fe, ft, *arrays, atol=1e-6, grad=True):
    es = [ember.from_numpy(a.copy()).requires_grad_(grad) for a in arrays]
    ts = [torch.from_numpy(a.copy()).requires_grad_(grad) for a in arrays]
    eo, to = fe(*es), ft(*ts)
    assert_same(eo, to, atol=atol, rtol=1e-5)
    if grad:
        g = rng.standard_normal(tuple(to.shape)).astype(arrays[0].dtype)
        (eo * ember.from_numpy(g)).sum().backward()
        (to * torch.from_numpy(g)).sum().backward()
        for e, t in zip(es, ts):
            assert_same(e.grad, t.grad, atol=atol * 10, rtol=1e-4)


UNARY = [
    "erf",
    "erfc",
    "erfinv",
    "expit",
    "expm1",
    "exp2",
    "log1p",
    "gammaln",
    "digamma",
    "psi",
    "ndtr",
    "log_ndtr",
    "sinc",
    "entr",
    "logit",
]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unary(name, dt):
    lo, hi = {
        "erfinv": (-0.95, 0.95),
        "gammaln": (0.2, 5),
        "digamma": (0.2, 5),
        "psi": (0.2, 5),
        "entr": (0.05, 3),
        "logit": (0.05, 0.95),
    }.get(name, (-4, 4))
    x = rng.uniform(lo, hi, (3, 5)).astype(dt)
    run(
        getattr(ember.special, name),
        getattr(torch.special, name),
        x,
        atol=1e-5 if dt == np.float32 else 1e-10,
    )


def test_edges_and_binary():
    x = np.array([0.0, -1.0, 2.0, np.nan], dtype=np.float64)
    run(ember.special.entr, torch.special.entr, x, grad=False)
    x = np.array([-30.0, -5.0, 10.0, 30.0])  # erfc keeps its tiny tail where 1 - erf would be 0
    run(ember.special.erfc, torch.special.erfc, x, atol=0)
    run(ember.erfc, torch.erfc, x, atol=0)
    a, b = rng.standard_normal(6), rng.uniform(-0.5, 3, 6)
    a[0] = 0
    for n in ("xlog1py", "xlogy"):
        run(
            getattr(ember.special, n),
            getattr(torch.special, n),
            a,
            np.abs(b) if n == "xlogy" else b,
            atol=1e-10,
        )
    m = rng.uniform(2, 5, 4)
    run(lambda t: ember.special.multigammaln(t, 3), lambda t: torch.special.multigammaln(t, 3), m, atol=1e-10)
    run(lambda t: t.mvlgamma(2), lambda t: t.mvlgamma(2), m, atol=1e-10)
    s = rng.standard_normal((2, 4))
    for n in ("softmax", "log_softmax"):
        run(
            lambda t, n=n: getattr(ember.special, n)(t, 1),
            lambda t, n=n: getattr(torch.special, n)(t, 1),
            s,
            atol=1e-10,
        )
    run(lambda t: ember.special.logsumexp(t, 1), lambda t: torch.special.logsumexp(t, 1), s, atol=1e-10)
    run(ember.special.round, torch.special.round, np.array([0.5, 1.5, -2.5, 2.4]), grad=False)
    c = ember.randn(4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(ember.erfc, (c,))
    p = (ember.rand(4, dtype=ember.float64) + 0.1).requires_grad_()
    assert ember.autograd.gradcheck(ember.special.entr, (p,))
    e = ember.tensor([1.0, 2.0], dtype=ember.float64)
    e.erfc_()
    assert_same(e, torch.tensor([1.0, 2.0], dtype=torch.float64).erfc_(), atol=1e-15)
