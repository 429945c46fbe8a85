"""linalg.slogdet / eigh / eigvalsh / qr / lstsq / matrix_rank / cond / vecdot / vander against
torch: values, gradients (through sign-invariant losses where the decomposition has a sign
freedom), errors, and gradcheck."""

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(9)


def both(a, grad=True):
    e = ember.from_numpy(np.array(a).copy()).requires_grad_(grad)
    t = torch.from_numpy(np.array(a).copy()).requires_grad_(grad)
    return e, t


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_slogdet(dt, shape):
    e, t = both(rng.standard_normal(shape).astype(dt))
    (se, le), (st, lt) = ember.linalg.slogdet(e), torch.linalg.slogdet(t)
    assert_same(se, st)
    assert_same(le, lt, atol=1e-5)
    g = rng.standard_normal(tuple(lt.shape)).astype(dt)
    (le * ember.from_numpy(g)).sum().backward()
    (lt * torch.from_numpy(g)).sum().backward()
    assert_same(e.grad, t.grad, atol=1e-4, rtol=1e-4)
    assert ember.linalg.slogdet(e).logabsdet is not None


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_eigh_and_eigvalsh(uplo, dt):
    b = rng.standard_normal((2, 4, 4)).astype(dt)
    eb, tb = both(b)
    ea, ta = eb + eb.mT, tb + tb.mT
    (we, ve), (wt, vt) = ember.linalg.eigh(ea, UPLO=uplo), torch.linalg.eigh(ta, UPLO=uplo)
    tol = 1e-4 if dt == np.float32 else 1e-10
    assert_same(we, wt, atol=tol, rtol=tol)
    assert_same(ve.abs(), vt.abs(), atol=tol, rtol=1e-3)  # columns agree up to sign
    # a loss invariant to each eigenvector's sign: sum_i c_i * v_i v_i^T weighted by w
    c = rng.standard_normal((4, 4)).astype(dt)
    le = (we.unsqueeze(-2) * (ve * ember.from_numpy(c) @ ve.mT)).sum() + (we**2).sum()
    lt = (wt.unsqueeze(-2) * (vt * torch.from_numpy(c) @ vt.mT)).sum() + (wt**2).sum()
    le.backward()
    lt.backward()
    assert_same(eb.grad, tb.grad, atol=tol * 10, rtol=1e-3)
    e2, t2 = both(b)
    ember.linalg.eigvalsh(e2 + e2.mT, UPLO=uplo).sum().backward()
    torch.linalg.eigvalsh(t2 + t2.mT, UPLO=uplo).sum().backward()
    assert_same(e2.grad, t2.grad, atol=tol * 10, rtol=1e-3)


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 6, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(shape, mode):
    a = rng.standard_normal(shape)
    e, t = both(a)
    qe, re = ember.linalg.qr(e, mode=mode)
    qt, rt = torch.linalg.qr(t, mode=mode)
    assert_same(re, rt, atol=1e-10)
    assert_same(qe, qt, atol=1e-10)
    if mode == "r" or (mode == "complete" and shape[-2] > shape[-1]):
        return
    gq, gr = rng.standard_normal(tuple(qt.shape)), rng.standard_normal(tuple(rt.shape))
    ((qe * ember.from_numpy(gq)).sum() + (re * ember.from_numpy(gr)).sum()).backward()
    ((qt * torch.from_numpy(gq)).sum() + (rt * torch.from_numpy(gr)).sum()).backward()
    assert_same(e.grad, t.grad, atol=1e-8, rtol=1e-6)


def test_gradcheck_decompositions():
    a = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda x: ember.linalg.qr(x)[1].sum() + ember.linalg.qr(x)[0].pow(2).sum(), (a,)
    )
    s = ember.randn(3, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x: ember.linalg.slogdet(x)[1], (s,))
    assert ember.autograd.gradcheck(lambda x: ember.linalg.eigvalsh(x + x.mT), (s,))


@pytest.mark.parametrize("driver", [None, "gelsd", "gelss", "gels"])
def test_lstsq(driver):
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    (ea, ta), (eb, tb) = both(a), both(b)
    re, rt = ember.linalg.lstsq(ea, eb, driver=driver), torch.linalg.lstsq(ta, tb, driver=driver)
    assert_same(re.solution, rt.solution, atol=1e-10)
    assert_same(re.residuals, rt.residuals, atol=1e-10)
    assert_same(re.rank, rt.rank) if driver != "gels" else None
    assert_same(re.singular_values, rt.singular_values, atol=1e-10)
    re.solution.sum().backward()
    rt.solution.sum().backward()
    assert_same(ea.grad, ta.grad, atol=1e-8)
    assert_same(eb.grad, tb.grad, atol=1e-8)
    assert_raises_same(
        lambda: ember.linalg.lstsq(ember.ones(3, 2), ember.ones(4, 1)),
        lambda: torch.linalg.lstsq(torch.ones(3, 2), torch.ones(4, 1)),
    )


def test_rank_cond_vecdot_vander():
    m = rng.standard_normal((3, 5, 4))
    m[1, :, 3] = m[1, :, 0]  # rank 3
    e, t = both(m, grad=False)
    assert_same(ember.linalg.matrix_rank(e), torch.linalg.matrix_rank(t))
    assert_same(ember.linalg.matrix_rank(e, atol=1.0), torch.linalg.matrix_rank(t, atol=1.0))
    sq = rng.standard_normal((2, 3, 3))
    for p in (None, 2, -2, "fro", 1, float("inf")):
        e, t = both(sq)
        assert_same(ember.linalg.cond(e, p), torch.linalg.cond(t, p), atol=1e-8, rtol=1e-6)
    (ex, tx), (ey, ty) = both(rng.standard_normal((2, 4))), both(rng.standard_normal(4))
    out_e, out_t = ember.linalg.vecdot(ex, ey), torch.linalg.vecdot(tx, ty)
    assert_same(out_e, out_t, atol=1e-12)
    out_e.sum().backward()
    out_t.sum().backward()
    assert_same(ex.grad, tx.grad)
    assert_same(ey.grad, ty.grad)
    e, t = both(rng.standard_normal(4))
    assert_same(ember.linalg.vander(e), torch.linalg.vander(t), atol=1e-12)
    assert_same(ember.linalg.vander(e, N=2), torch.linalg.vander(t, N=2), atol=1e-12)
    ember.linalg.vander(e).sum().backward()
    torch.linalg.vander(t).sum().backward()
    assert_same(e.grad, t.grad, atol=1e-10)


def test_errors():
    for fe, ft in [
        (lambda: ember.linalg.eigh(ember.ones(2, 3)), lambda: torch.linalg.eigh(torch.ones(2, 3))),
        (
            lambda: ember.linalg.eigh(ember.eye(2), UPLO="X"),
            lambda: torch.linalg.eigh(torch.eye(2), UPLO="X"),
        ),
        (lambda: ember.linalg.slogdet(ember.ones(2, 3)), lambda: torch.linalg.slogdet(torch.ones(2, 3))),
        (lambda: ember.linalg.qr(ember.ones(3)), lambda: torch.linalg.qr(torch.ones(3))),
        (
            lambda: ember.linalg.qr(ember.ones(3, 3), mode="x"),
            lambda: torch.linalg.qr(torch.ones(3, 3), mode="x"),
        ),
    ]:
        assert_raises_same(fe, ft)
    e = ember.randn(4, 2, dtype=ember.float64, requires_grad=True)
    q, r = ember.linalg.qr(e, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        q.sum().backward()


def test_top_level_spellings():
    a = rng.standard_normal((4, 3))
    e, t = both(a, grad=False)
    for some in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.qr is deprecated in torch
            qt, rt = torch.qr(t, some)
        qe, re = ember.qr(e, some)
        assert_same(qe, qt, atol=1e-10)
        assert_same(re, rt, atol=1e-10)
    assert_same(ember.pinverse(e), torch.pinverse(t), atol=1e-10)
    sq = rng.standard_normal((3, 3))
    es, ts = both(sq, grad=False)
    assert_same(ember.slogdet(es), torch.slogdet(ts), atol=1e-10)
    assert_same(ember.matrix_power(es, 3), torch.matrix_power(ts, 3), atol=1e-10)
    assert_same(ember.chain_matmul(es, es, e.mT), torch.chain_matmul(ts, ts, t.mT), atol=1e-10)
    x = rng.standard_normal(4)
    ex, tx = both(x, grad=False)
    for kw in ({}, dict(N=2), dict(increasing=True), dict(N=5, increasing=True)):
        assert_same(ember.vander(ex, **kw), torch.vander(tx, **kw), atol=1e-10)
