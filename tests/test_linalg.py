"""Matrix products and linear algebra vs torch: values, dtypes, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.linalg
from ember.autograd import gradcheck

RNG = np.random.default_rng(2)


def arr(*shape):
    return RNG.standard_normal(shape)


def check(fn, *arrays, atol=1e-6):
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    eo, to = fn(ember, *es), fn(torch, *ts)
    assert_same(eo, to, atol=atol)
    eos = eo if isinstance(eo, tuple) else (eo,)
    tos = to if isinstance(to, tuple) else (to,)
    w = [RNG.standard_normal(tuple(t.shape)) for t in tos]
    sum((o * ember.tensor(x)).sum() for o, x in zip(eos, w)).backward()
    sum((o * torch.tensor(x)).sum() for o, x in zip(tos, w)).backward()
    for e, t in zip(es, ts):
        assert_same(e.grad, t.grad, atol=1e-5)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (5, 3, 2)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul_all_cases(sa, sb):
    check(lambda m, a, b: m.matmul(a, b), arr(*sa), arr(*sb))
    check(lambda m, a, b: a @ b, arr(*sa), arr(*sb))


PRODUCTS = [
    (lambda m, a, b: m.mm(a, b), [(2, 3), (3, 4)]),
    (lambda m, a, b: a.mm(b), [(1, 3), (3, 1)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 3, 4)]),
    (lambda m, a, b: m.mv(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.dot(a, b), [(3,), (3,)]),
    (lambda m, a, b: m.outer(a, b), [(3,), (2,)]),
    (lambda m, a, b: m.ger(a, b), [(3,), (2,)]),
    (lambda m, c, a, b: m.addmm(c, a, b), [(2, 4), (2, 3), (3, 4)]),
    (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2), [(4,), (2, 3), (3, 4)]),
    (lambda m, c, a, b: m.addmv(c, a, b, beta=2), [(2,), (2, 3), (3,)]),
    (lambda m, c, a, b: m.baddbmm(c, a, b, alpha=0.5), [(2, 2, 4), (2, 2, 3), (2, 3, 4)]),
    (lambda m, c, a, b: m.addbmm(c, a, b), [(2, 4), (2, 2, 3), (2, 3, 4)]),
    (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    (lambda m, a, b: m.einsum("bij,bjk->bik", a, b), [(2, 2, 3), (2, 3, 4)]),
    (lambda m, a, b: m.einsum("i,j", a, b), [(3,), (2,)]),
    (lambda m, a, b: m.einsum("ij,ij->", a, b), [(2, 3), (2, 3)]),
    (lambda m, a: m.einsum("ij->ji", a), [(2, 3)]),
    (lambda m, a: m.einsum("ij->j", a), [(2, 3)]),
    (lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b), [(5, 2, 3), (3, 4)]),
    (lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)]),
    (lambda m, a, b: m.einsum("ik,jl->ijkl", a, b), [(2, 3), (2, 2)]),
    (lambda m, a: m.trace(a), [(3, 3)]),
    (lambda m, a: m.trace(a), [(2, 3)]),
    (lambda m, a: m.diag(a), [(3,)]),
    (lambda m, a: m.diag(a, 1), [(3,)]),
    (lambda m, a: m.diag(a, -1), [(3, 4)]),
    (lambda m, a: m.diagonal(a), [(3, 4)]),
    (lambda m, a: a.diagonal(1, 0, 2), [(3, 2, 4)]),
    (lambda m, a: m.diag_embed(a, 1), [(2, 3)]),
    (lambda m, a: m.triu(a), [(3, 4)]),
    (lambda m, a: m.tril(a, -1), [(2, 3, 3)]),
    (lambda m, a: a.triu(1), [(3, 3)]),
    (lambda m, a, b: m.cross(a, b, dim=1), [(2, 3), (2, 3)]),
    (lambda m, a, b: m.linalg.cross(a, b), [(2, 3), (1, 3)]),
    (lambda m, a, b: m.kron(a, b), [(2, 3), (2, 2)]),
    (lambda m, a: m.inverse(a), [(3, 3)]),
    (lambda m, a: m.linalg.inv(a), [(2, 3, 3)]),
    (lambda m, a: m.det(a), [(3, 3)]),
    (lambda m, a: m.linalg.det(a), [(2, 2, 2)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (3, 2)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (3,)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(2, 3, 3), (2, 3)]),
    (lambda m, a: m.linalg.norm(a), [(2, 3)]),
    (lambda m, a: m.linalg.norm(a, dim=1, keepdim=True), [(2, 3)]),
    (lambda m, a: m.linalg.norm(a, 1), [(4,)]),
    (lambda m, a: m.linalg.norm(a, float("inf"), dim=0), [(2, 3)]),
    (lambda m, a: m.linalg.norm(a, "fro"), [(2, 3)]),
    (lambda m, a: m.linalg.norm(a, "nuc"), [(2, 3)]),
    (lambda m, a: m.linalg.vector_norm(a, 3), [(2, 3)]),
    (lambda m, a: m.linalg.svdvals(a), [(3, 2)]),
]


@pytest.mark.parametrize("i", range(len(PRODUCTS)))
def test_products_and_decompositions(i):
    fn, shapes = PRODUCTS[i]
    check(fn, *[arr(*s) for s in shapes])


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_reconstruction_and_grads(shape, full):
    a = arr(*shape)
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    u, s, vh = ember.linalg.svd(e, full_matrices=full)
    tu, ts, tvh = torch.linalg.svd(t, full_matrices=full)
    assert_same(s, ts)
    assert u.shape == tu.shape and vh.shape == tvh.shape
    k = s.shape[-1]
    rec = (u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :]
    assert_same(rec, t.detach())
    # sign-invariant functions of U and V: compare gradients with torch
    fe = (
        (u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :]
        + (u[..., :, :1] ** 2).sum()
        + (vh[..., :1, :] ** 2).sum()
    )
    ft = (
        (tu[..., :k] * ts.unsqueeze(-2)) @ tvh[..., :k, :]
        + (tu[..., :, :1] ** 2).sum()
        + (tvh[..., :1, :] ** 2).sum()
    )
    (fe**2).sum().backward()
    (ft**2).sum().backward()
    assert_same(e.grad, t.grad, atol=1e-5)


def test_torch_svd_returns_v():
    a = arr(4, 3)
    u, s, v = ember.svd(ember.tensor(a))
    tu, ts, tv = torch.svd(torch.tensor(a))
    assert_same(s, ts)
    assert v.shape == tv.shape and u.shape == tu.shape
    assert_same((u * s) @ v.t(), torch.tensor(a))


def test_float32_stays_float32_and_dtype_errors():
    a, b = ember.ones(2, 3), ember.ones(3, 2)
    for r in (
        ember.mm(a, b),
        a @ b,
        ember.inverse(ember.eye(2)),
        ember.linalg.norm(a),
        ember.det(ember.eye(2)),
    ):
        assert r.dtype is ember.float32
    assert_raises_same(
        lambda: ember.mm(a, b.double()), lambda: torch.mm(torch.ones(2, 3), torch.ones(3, 2).double())
    )
    assert_raises_same(
        lambda: ember.dot(a[0], a[0].double()), lambda: torch.dot(torch.ones(3), torch.ones(3).double())
    )


def test_errors_match_torch():
    pairs = [
        (lambda m: m.mm(m.ones(2, 3), m.ones(4, 5))),
        (lambda m: m.matmul(m.ones(2, 3), m.ones(4, 5))),
        (lambda m: m.matmul(m.ones(3), m.ones(4))),
        (lambda m: m.matmul(m.ones(2, 2, 3), m.ones(2, 4, 5))),
        (lambda m: m.matmul(m.tensor(1.0), m.ones(3))),
        (lambda m: m.mm(m.ones(3), m.ones(3, 2))),
        (lambda m: m.bmm(m.ones(2, 3), m.ones(2, 3, 4))),
        (lambda m: m.bmm(m.ones(2, 2, 3), m.ones(3, 3, 4))),
        (lambda m: m.mv(m.ones(2, 3), m.ones(4))),
        (lambda m: m.dot(m.ones(2, 3), m.ones(2, 3))),
        (lambda m: m.dot(m.ones(3), m.ones(4))),
        (lambda m: m.inverse(m.ones(2, 3))),
        (lambda m: m.det(m.ones(3))),
        (lambda m: m.triu(m.ones(3))),
        (lambda m: m.linalg.cross(m.ones(2, 2), m.ones(2, 2))),
        (lambda m: m.trace(m.ones(3))),
        (lambda m: m.diag(m.ones(2, 2, 2))),
    ]
    for f in pairs:
        err = assert_raises_same(lambda: f(ember), lambda: f(torch))
        if "shapes cannot be multiplied" in str(err):
            with pytest.raises(RuntimeError) as ee:
                f(ember)
            assert str(ee.value) == str(err)


def test_singular_inverse_raises_linalg_error():
    for f in (lambda m: m.linalg.inv(m.zeros(2, 2)), lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2))):
        with pytest.raises(torch.linalg.LinAlgError) as te:
            f(torch)
        with pytest.raises(ember.linalg.LinAlgError) as ee:
            f(ember)
        assert str(ee.value).split(":")[0] == str(te.value).split(":")[0]
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)


def test_out_and_methods():
    a, b = ember.ones(2, 3), ember.ones(3, 4)
    o = ember.empty(2, 4)
    r = ember.mm(a, b, out=o)
    assert r is o and o.tolist() == [[3.0] * 4] * 2
    c = ember.zeros(2, 4)
    c.addmm_(a, b, alpha=2)
    assert c.tolist() == [[6.0] * 4] * 2
    assert_same(a.matmul(b), torch.ones(2, 3).matmul(torch.ones(3, 4)))


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda a, b: a @ b, [(2, 1, 3), (2, 3, 2)]),
        (lambda a, b: ember.mv(a, b), [(2, 3), (3,)]),
        (lambda c, a, b: ember.addmm(c, a, b, beta=0.5, alpha=1.5), [(3,), (2, 2), (2, 3)]),
        (lambda a, b: ember.einsum("bij,jk->bk", a, b), [(2, 2, 3), (3, 2)]),
        (lambda a: ember.inverse(a + 3 * ember.eye(3, dtype=ember.float64)), [(3, 3)]),
        (lambda a: ember.det(a), [(3, 3)]),
        (lambda a, b: ember.linalg.solve(a + 3 * ember.eye(2, dtype=ember.float64), b), [(2, 2), (2, 3)]),
        (lambda a: ember.linalg.svdvals(a), [(3, 2)]),
        (lambda a: ember.linalg.norm(a, dim=0), [(2, 3)]),
        (lambda a: ember.diag(a).triu().tril(1), [(3,)]),
        (lambda a: ember.diagonal(a, 1).sum() + ember.trace(a), [(3, 3)]),
        (lambda a, b: ember.linalg.cross(a, b), [(2, 3), (2, 3)]),
    ],
)
def test_gradcheck(fn, shapes):
    assert gradcheck(fn, [ember.tensor(arr(*s), requires_grad=True) for s in shapes])


@settings(max_examples=25, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    ones_a=st.lists(st.booleans(), min_size=2, max_size=2),
    ones_b=st.lists(st.booleans(), min_size=2, max_size=2),
    drop_b=st.integers(0, 2),
    n=st.integers(1, 3),
    k=st.integers(1, 3),
    p=st.integers(1, 3),
    va=st.booleans(),
    vb=st.booleans(),
)
def test_hypothesis_matmul_broadcast(batch, ones_a, ones_b, drop_b, n, k, p, va, vb):
    ba = [1 if o else s for s, o in zip(batch, ones_a)]
    bb = [1 if o else s for s, o in zip(batch, ones_b)][drop_b:]
    sa = (k,) if va else tuple(ba) + (n, k)
    sb = (k,) if vb else tuple(bb) + (k, p)
    check(lambda m, a, b: m.matmul(a, b), arr(*sa), arr(*sb))
