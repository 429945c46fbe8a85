"""Margin, embedding, triplet, Poisson/Gaussian NLL losses and the distance functions vs torch:
values and gradients per reduction and dtype, options, unbatched inputs, reprs, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same, pair

import ember
import ember.nn.functional as F
from ember import nn

RNG = np.random.default_rng(7)
RED = ["mean", "sum", "none"]
DT = [np.float32, np.float64]


def _f(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _sign(*shape, dtype=np.float32):
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0).astype(dtype)


def _tol(dtype):
    return {"atol": 1e-5, "rtol": 1e-4} if dtype == np.float32 else {"atol": 1e-10, "rtol": 1e-9}


def _check(name, args, grad=(0,), tol=None, module=None, **kw):
    """F.<name>(*args, **kw) in ember and torch: value, then the gradients of args[i] for i in grad
    (numpy float arrays become tensors; other arguments pass through)."""
    if tol is None:
        dts = [a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
        tol = _tol(dts[0] if dts else np.float32)
    ea = [
        ember.tensor(a, requires_grad=i in grad) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(args)
    ]
    ta = [
        torch.tensor(a, requires_grad=i in grad) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(args)
    ]
    ek = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    if module is None:
        le, lt = getattr(F, name)(*ea, **ek), getattr(TF, name)(*ta, **tk)
    else:
        le, lt = getattr(nn, module)(**ek)(*ea), getattr(torch.nn, module)(**tk)(*ta)
    assert_same(le, lt, **tol)
    g = RNG.standard_normal(tuple(lt.shape)).astype(str(lt.dtype).removeprefix("torch."))
    le.backward(ember.tensor(g))
    lt.backward(torch.tensor(g))
    for i in grad:
        assert ta[i].grad is not None
        assert_same(ea[i].grad, ta[i].grad, **tol)
    return le


# -- pairwise ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_margin_ranking(dtype, reduction):
    x1, x2, y = _f(7, dtype=dtype), _f(7, dtype=dtype), _sign(7, dtype=dtype)
    for margin in (0.0, 0.5):
        _check("margin_ranking_loss", [x1, x2, y], grad=(0, 1, 2), margin=margin, reduction=reduction)
    _check("margin_ranking_loss", [_f(4, 1, dtype=dtype), _f(1, 3, dtype=dtype), _sign(4, 3, dtype=dtype)],
           grad=(0, 1), reduction=reduction)  # fmt: skip
    _check("margin_ranking_loss", [x1[:1].reshape(()), x2[:1].reshape(()), y[:1].reshape(())], grad=(0, 1))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_hinge_embedding(dtype, reduction):
    x, y = _f(5, 4, dtype=dtype), _sign(5, 4, dtype=dtype)
    for margin in (1.0, 0.3):
        _check("hinge_embedding_loss", [x, y], margin=margin, reduction=reduction)
    _check("hinge_embedding_loss", [x, _sign(4, dtype=dtype)], reduction=reduction)  # broadcast target
    y0 = y.copy()
    y0[0] = 0.0  # neither 1 nor -1: torch adds both terms
    _check("hinge_embedding_loss", [x, y0], reduction=reduction)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_soft_margin(dtype, reduction):
    x, y = _f(5, 4, dtype=dtype) * 3, _sign(5, 4, dtype=dtype)
    _check("soft_margin_loss", [x, y], reduction=reduction)
    _check("soft_margin_loss", [x, _sign(4, dtype=dtype)], reduction=reduction)
    _check("soft_margin_loss", [x[0], y[0]], reduction=reduction)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_multilabel_soft_margin(dtype, reduction):
    x, y = _f(5, 4, dtype=dtype), (RNG.random((5, 4)) < 0.5).astype(dtype)
    _check("multilabel_soft_margin_loss", [x, y], grad=(0, 1), reduction=reduction)
    _check(
        "multilabel_soft_margin_loss",
        [x, y],
        reduction=reduction,
        weight=np.linspace(0.5, 2, 4).astype(dtype),
    )
    _check("multilabel_soft_margin_loss", [x[0], y[0]], reduction=reduction)
    _check("multilabel_soft_margin_loss", [_f(2, 3, 4, dtype=dtype), (RNG.random((2, 3, 4)) < 0.5).astype(dtype)],
           reduction=reduction)  # fmt: skip


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_cosine_embedding(dtype, reduction):
    x1, x2, y = _f(6, 5, dtype=dtype), _f(6, 5, dtype=dtype), _sign(6, dtype=dtype)
    for margin in (0.0, -0.2, 0.3):
        _check("cosine_embedding_loss", [x1, x2, y], grad=(0, 1), margin=margin, reduction=reduction)
    _check(
        "cosine_embedding_loss", [x1[0], x2[0], np.array(-1.0, dtype=dtype)], grad=(0, 1), reduction=reduction
    )
    _check(
        "cosine_embedding_loss", [x1, x2, np.array([1, -1, 1, 1, -1, -1])], grad=(0, 1), reduction=reduction
    )


# -- class-index margin losses --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin(dtype, reduction, p):
    x, t = _f(6, 5, dtype=dtype), np.array([0, 4, 2, 2, 1, 3])
    for margin in (1.0, 0.4):
        _check("multi_margin_loss", [x, t], p=p, margin=margin, reduction=reduction)
    _check("multi_margin_loss", [x, t], p=p, reduction=reduction, weight=np.linspace(0.5, 2, 5).astype(dtype))
    _check("multi_margin_loss", [x[0], np.array(3)], p=p, reduction=reduction)  # unbatched
    _check("multi_margin_loss", [x[0], np.array([3])], p=p, reduction=reduction)
    _check("multi_margin_loss", [x[:, :1], t * 0], p=p, reduction=reduction)
    _check("multi_margin_loss", [np.array(0.5, dtype=dtype), np.array(0)], p=p, reduction=reduction)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
def test_multilabel_margin(dtype, reduction):
    x = _f(4, 5, dtype=dtype)
    t = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 2, 3, 4], [0, 0, 1, -1, 3]])
    _check("multilabel_margin_loss", [x, t], reduction=reduction)
    _check("multilabel_margin_loss", [x[0], t[0]], reduction=reduction)  # unbatched
    _check("multilabel_margin_loss", [x[:1], t[:1]], reduction=reduction)
    _check("multilabel_margin_loss", [np.array(0.3, dtype=dtype), np.array(0)], reduction=reduction)


# -- distances ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf"), -1.0])
def test_pairwise_distance(dtype, p):
    x1, x2 = _f(5, 4, dtype=dtype), _f(5, 4, dtype=dtype)
    for keepdim in (False, True):
        _check("pairwise_distance", [x1, x2], grad=(0, 1), p=p, keepdim=keepdim)
    _check("pairwise_distance", [x1, x2[0]], grad=(0, 1), p=p, eps=1e-3)
    _check("pairwise_distance", [x1[0], x2[0]], grad=(0, 1), p=p)
    _check("pairwise_distance", [_f(2, 3, 4, dtype=dtype), x2[:3]], grad=(0, 1), p=p)


def test_pairwise_distance_p0_and_scalars():
    x1, x2 = _f(5, 4), _f(5, 4)
    x2[0, :2] = x1[0, :2] + 1e-6
    for keepdim in (False, True):  # torch's p = 0 norm passes no gradient back
        le = F.pairwise_distance(*pair(x1, True)[:1], ember.tensor(x2), p=0, keepdim=keepdim)
        lt = TF.pairwise_distance(torch.tensor(x1), torch.tensor(x2), p=0, keepdim=keepdim)
        assert_same(le, lt)
    _check("pairwise_distance", [np.array(1.5), np.array(0.5)], grad=(0, 1))
    _check("pairwise_distance", [np.array(1.5), np.array(0.5)], grad=(0, 1), keepdim=True)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_pdist(dtype, p):
    _check("pdist", [_f(6, 3, dtype=dtype)], p=p)
    _check("pdist", [_f(1, 3, dtype=dtype)], p=p)


@pytest.mark.parametrize("dtype", DT)
def test_cosine_similarity(dtype):
    x1, x2 = _f(5, 4, dtype=dtype), _f(5, 4, dtype=dtype)
    _check("cosine_similarity", [x1, x2], grad=(0, 1))
    _check("cosine_similarity", [x1, x2], grad=(0, 1), dim=0)
    _check("cosine_similarity", [x1, x2[:1]], grad=(0, 1), dim=-1)
    _check("cosine_similarity", [x1[0], x2[0]], grad=(0, 1), dim=0)
    _check("cosine_similarity", [_f(2, 3, 4, dtype=dtype), x2[:3]], grad=(0, 1), dim=1)
    small = x1 * 1e-9  # a norm below eps: torch clamps the value, not the gradient's path
    _check("cosine_similarity", [small, x2], grad=(0, 1), eps=1e-6, tol={"atol": 1e-4, "rtol": 1e-4})
    _check("cosine_similarity", [np.zeros((2, 4), dtype=dtype), x2[:2]], grad=(0, 1))


# -- triplet --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin(dtype, reduction, swap):
    a, p, n = _f(6, 4, dtype=dtype), _f(6, 4, dtype=dtype), _f(6, 4, dtype=dtype)
    for kw in ({}, {"margin": 0.5, "p": 1.0}, {"p": 3.0, "eps": 1e-3}):
        _check("triplet_margin_loss", [a, p, n], grad=(0, 1, 2), swap=swap, reduction=reduction, **kw)
    _check("triplet_margin_loss", [a[0], p[0], n[0]], grad=(0, 1, 2), swap=swap, reduction=reduction)
    _check("triplet_margin_loss", [a, p, n[:1]], grad=(0, 1, 2), swap=swap, reduction=reduction, margin=3.0)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance(dtype, reduction, swap):
    a, p, n = _f(6, 4, dtype=dtype), _f(6, 4, dtype=dtype), _f(6, 4, dtype=dtype)
    _check("triplet_margin_with_distance_loss", [a, p, n], grad=(0, 1, 2), swap=swap, reduction=reduction)
    le = F.triplet_margin_with_distance_loss(
        *map(ember.tensor, (a, p, n)),
        distance_function=lambda u, v: 1.0 - F.cosine_similarity(u, v),
        margin=0.7,
        swap=swap,
        reduction=reduction,
    )
    lt = TF.triplet_margin_with_distance_loss(
        *map(torch.tensor, (a, p, n)),
        distance_function=lambda u, v: 1.0 - TF.cosine_similarity(u, v),
        margin=0.7,
        swap=swap,
        reduction=reduction,
    )
    assert_same(le, lt, **_tol(dtype))
    _check(
        None,
        [a, p, n],
        grad=(0, 1, 2),
        module="TripletMarginWithDistanceLoss",
        swap=swap,
        reduction=reduction,
    )


# -- likelihood -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(dtype, reduction, log_input, full):
    x = _f(5, 4, dtype=dtype) if log_input else RNG.random((5, 4)).astype(dtype) * 3
    y = RNG.poisson(2.0, (5, 4)).astype(dtype)
    _check("poisson_nll_loss", [x, y], log_input=log_input, full=full, reduction=reduction)
    _check("poisson_nll_loss", [x, y[0]], log_input=log_input, full=full, reduction=reduction, eps=1e-3)
    _check("poisson_nll_loss", [x[0], y[0]], log_input=log_input, full=full, reduction=reduction)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(dtype, reduction, full):
    x, y = _f(4, 5, dtype=dtype), _f(4, 5, dtype=dtype)
    for vshape in [(4, 5), (4,), (4, 1), (1, 5)]:
        v = RNG.random(vshape).astype(dtype) + 0.1
        _check("gaussian_nll_loss", [x, y, v], grad=(0, 1, 2), full=full, reduction=reduction)
    v = RNG.random((4, 5)).astype(dtype)
    v[0, :3] = [0.0, 1e-8, 1e-7]  # below eps: clamped value, gradient through as if unclamped
    _check("gaussian_nll_loss", [x, y, v], grad=(0, 1, 2), full=full, reduction=reduction,
           tol={"atol": 1e-3, "rtol": 1e-4})  # fmt: skip
    _check("gaussian_nll_loss", [x, y, 0.5], grad=(0, 1), full=full, reduction=reduction, eps=1e-3)
    _check(
        "gaussian_nll_loss", [x, y[0], RNG.random(4).astype(dtype) + 0.1], grad=(0, 1, 2), reduction=reduction
    )
    _check(
        "gaussian_nll_loss",
        [x[0], y[0], RNG.random(1).astype(dtype) + 0.1],
        grad=(0, 1, 2),
        reduction=reduction,
    )


# -- modules --------------------------------------------------------------------------------------
MODULES = [
    ("MarginRankingLoss", {"margin": 0.5}),
    ("HingeEmbeddingLoss", {"margin": 2.0}),
    ("CosineEmbeddingLoss", {}),
    ("SoftMarginLoss", {"reduction": "sum"}),
    ("MultiLabelSoftMarginLoss", {"weight": "w"}),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": "w"}),
    ("MultiLabelMarginLoss", {}),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}),
    ("TripletMarginWithDistanceLoss", {"swap": True}),
    ("PoissonNLLLoss", {"log_input": False, "full": True}),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-3}),
    ("CosineSimilarity", {"dim": 0}),
    ("PairwiseDistance", {"p": 1.0, "keepdim": True}),
]


@pytest.mark.parametrize("name,kw", MODULES)
def test_module_repr_and_attributes(name, kw):
    w = np.linspace(0.5, 2, 5).astype(np.float32)
    ek = {k: ember.tensor(w) if v == "w" else v for k, v in kw.items()}
    tk = {k: torch.tensor(w) if v == "w" else v for k, v in kw.items()}
    me, mt = getattr(nn, name)(**ek), getattr(torch.nn, name)(**tk)
    assert repr(me) == repr(mt)
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    for attr in getattr(mt, "__constants__", []):
        assert getattr(me, attr) == getattr(mt, attr), attr
    if "weight" in kw:
        assert_same(me.weight, mt.weight)
        assert "weight" in dict(me.named_buffers())


def test_modules_forward():
    x1, x2, s, w = _f(6, 5), _f(6, 5), _sign(6), np.linspace(0.5, 2, 5).astype(np.float32)
    t = np.array([0, 4, 2, 2, 1, 3])
    _check(None, [x1[:, 0], x2[:, 0], s], grad=(0, 1), module="MarginRankingLoss", margin=0.2)
    _check(None, [x1, np.sign(x2)], module="HingeEmbeddingLoss", margin=0.5, reduction="sum")
    _check(None, [x1, x2, s], grad=(0, 1), module="CosineEmbeddingLoss", margin=0.1)
    _check(None, [x1, np.sign(x2)], module="SoftMarginLoss")
    _check(None, [x1, (x2 > 0).astype(np.float32)], module="MultiLabelSoftMarginLoss", weight=w)
    _check(None, [x1, t], module="MultiMarginLoss", p=2, weight=w, reduction="none")
    _check(None, [x1, np.tile(np.array([1, 3, -1, 0, 0]), (6, 1))], module="MultiLabelMarginLoss")
    _check(None, [x1, x2, x2[::-1].copy()], grad=(0, 1, 2), module="TripletMarginLoss", p=1.0, swap=True)
    _check(None, [RNG.random((6, 5)).astype(np.float32), t[:, None].astype(np.float32)], module="PoissonNLLLoss",
           log_input=False, full=True)  # fmt: skip
    _check(None, [x1, x2, np.ones(6, dtype=np.float32)], grad=(0, 1, 2), module="GaussianNLLLoss", full=True)
    _check(None, [x1, x2], grad=(0, 1), module="CosineSimilarity", dim=0)
    _check(None, [x1, x2], grad=(0, 1), module="PairwiseDistance", p=3.0, keepdim=True)


def test_legacy_reduction_args():
    x, y = _f(5, 4), _sign(5, 4)
    for sa, rd in [(False, None), (None, False), (True, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check("soft_margin_loss", [x, y], size_average=sa, reduce=rd)
            _check("hinge_embedding_loss", [x, y], size_average=sa, reduce=rd)
            _check("multilabel_soft_margin_loss", [x, (y > 0).astype(np.float32)], size_average=sa, reduce=rd)
            _check("poisson_nll_loss", [x, np.abs(y)], size_average=sa, reduce=rd)
            _check("triplet_margin_loss", [x, y, x[::-1].copy()], size_average=sa, reduce=rd)
            me, mt = (
                nn.MultiMarginLoss(size_average=sa, reduce=rd),
                torch.nn.MultiMarginLoss(size_average=sa, reduce=rd),
            )
            assert me.reduction == mt.reduction
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        F.soft_margin_loss(ember.tensor(x), ember.tensor(y), reduce=False)


def test_float32_stays_float32():
    x, y = ember.tensor(_f(4, 5)), ember.tensor(_f(4, 5))
    v = ember.ones(4, 5)
    outs = [
        F.poisson_nll_loss(x, y.abs(), full=True),
        F.gaussian_nll_loss(x, y, v, full=True),
        F.soft_margin_loss(x, y.sign()),
        F.cosine_embedding_loss(x, y, ember.ones(4)),
        F.pdist(x),
        F.triplet_margin_loss(x, y, -x),
        F.multilabel_soft_margin_loss(x, (y > 0).float()),
    ]
    assert all(o.dtype is ember.float32 for o in outs)


def _dtype_cases():
    i, f = RNG.integers(-3, 3, (4, 5)), _f(4, 5)
    d, si, sf = f.astype(np.float64), np.sign(RNG.integers(-3, 3, (4, 5))), np.sign(_f(4, 5))
    e = np.zeros((0, 5), np.float32)
    return [
        ("margin_ranking_loss", [i[0], i[1], si[2]], {}),  # a float margin makes integers float32
        ("margin_ranking_loss", [f[0], d[1], sf[2]], {}),
        ("hinge_embedding_loss", [i, si], {"reduction": "sum"}),  # integers stay integers
        ("hinge_embedding_loss", [i, si.astype(np.float32)], {"reduction": "none"}),
        ("hinge_embedding_loss", [f, si.astype(np.float64)], {}),
        ("hinge_embedding_loss", [f, np.ones((4, 5), bool)], {}),
        ("soft_margin_loss", [f, d], {}),  # the input's dtype
        ("soft_margin_loss", [d, f], {}),
        ("cosine_embedding_loss", [i, i, si[:, 0]], {}),
        ("cosine_embedding_loss", [f, d, sf[:, 0]], {}),
        ("multilabel_soft_margin_loss", [f, d], {}),
        ("poisson_nll_loss", [i, np.abs(i)], {}),
        ("poisson_nll_loss", [f, np.abs(d)], {"full": True}),
        ("poisson_nll_loss", [f, np.abs(i)], {"full": True}),
        ("gaussian_nll_loss", [f, d, np.ones((4, 5))], {}),
        ("gaussian_nll_loss", [f, f, 1.0], {}),
        ("triplet_margin_loss", [i, i + 1, i], {}),
        ("triplet_margin_loss", [f, d, f], {}),
        ("pairwise_distance", [i, i + 1], {}),
        ("pairwise_distance", [f, d], {}),
        ("cosine_similarity", [i, f], {}),
        # an empty batch ('mean'/'sum' leave torch's output uninitialised: not compared)
        ("multi_margin_loss", [e, np.zeros(0, np.int64)], {"reduction": "none"}),
        ("multilabel_margin_loss", [e, np.zeros((0, 5), np.int64)], {"reduction": "none"}),
        ("margin_ranking_loss", [f[0, :0], f[0, :0], f[0, :0]], {}),
        ("triplet_margin_loss", [f[:0], f[:0], f[:0]], {}),
        ("pdist", [f[:0]], {}),
        ("pdist", [f[:, :0]], {}),
        ("cosine_similarity", [f[:0], f[:0]], {}),
    ]


@pytest.mark.parametrize("case", range(len(_dtype_cases())))
def test_dtypes_and_empty_like_torch(case):
    name, args, kw = _dtype_cases()[case]
    ea = [ember.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ta = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    assert_same(getattr(F, name)(*ea, **kw), getattr(TF, name)(*ta, **kw))


def test_gradcheck_float64():
    def t(*shape):
        return ember.tensor(_f(*shape, dtype=np.float64), requires_grad=True)

    a, p, n = t(3, 4), t(3, 4), t(3, 4)
    assert ember.autograd.gradcheck(
        lambda a, p, n: F.triplet_margin_loss(a, p, n, p=3.0, swap=True), (a, p, n)
    )
    assert ember.autograd.gradcheck(lambda a, b: F.cosine_similarity(a, b), (a, p))
    assert ember.autograd.gradcheck(lambda x: F.pdist(x, 1.5), (a,))
    v = ember.tensor(RNG.random((3, 4)) + 0.5, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=True), (a, p, v))
    ti = ember.tensor(np.array([1, 0, 3]))
    assert ember.autograd.gradcheck(lambda x: F.multi_margin_loss(x, ti, p=2, margin=0.5), (a,))
    assert ember.autograd.gradcheck(
        lambda x, y: F.cosine_embedding_loss(x, y, ember.ones(3), margin=0.2), (a, p)
    )
    assert ember.autograd.gradcheck(lambda x: F.poisson_nll_loss(x, p.detach().abs(), full=True), (a,))


# -- errors ---------------------------------------------------------------------------------------
def test_soft_margin_target_grad_error():
    x, y = pair(_f(3)), pair(_sign(3), requires_grad=True)
    err = assert_raises_same(lambda: F.soft_margin_loss(x[0], y[0]), lambda: TF.soft_margin_loss(x[1], y[1]))
    with pytest.raises(RuntimeError, match=str(err)[:40]):
        F.soft_margin_loss(x[0], y[0])
    with ember.no_grad():
        F.soft_margin_loss(x[0], y[0])


def test_multi_margin_weight_grad_error():
    x, w, t = pair(_f(3, 4)), pair(_f(4), requires_grad=True), pair(np.array([0, 3, 1]))
    err = assert_raises_same(
        lambda: F.multi_margin_loss(x[0], t[0], weight=w[0]),
        lambda: TF.multi_margin_loss(x[1], t[1], weight=w[1]),
    )
    with pytest.raises(RuntimeError, match=str(err)[:40]):
        F.multi_margin_loss(x[0], t[0], weight=w[0])


def test_second_derivatives_match_torch():
    x, y = _f(4, 5, dtype=np.float64), _f(4, 5, dtype=np.float64)
    for fe, ft in [
        (
            lambda a: F.soft_margin_loss(a, ember.tensor(np.sign(y))),
            lambda a: TF.soft_margin_loss(a, torch.tensor(np.sign(y))),
        ),
        (
            lambda a: F.poisson_nll_loss(a, ember.tensor(np.abs(y))),
            lambda a: TF.poisson_nll_loss(a, torch.tensor(np.abs(y))),
        ),
        (
            lambda a: F.gaussian_nll_loss(ember.tensor(y), a * 0, a.exp()),
            lambda a: TF.gaussian_nll_loss(torch.tensor(y), a * 0, a.exp()),
        ),
        (
            lambda a: F.cosine_similarity(a, ember.tensor(y)).sum(),
            lambda a: TF.cosine_similarity(a, torch.tensor(y)).sum(),
        ),
        (
            lambda a: F.pairwise_distance(a, ember.tensor(y), p=3.0).sum(),
            lambda a: TF.pairwise_distance(a, torch.tensor(y), p=3.0).sum(),
        ),
    ]:
        e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (ge,) = ember.autograd.grad(fe(e), e, create_graph=True)
        (gt,) = torch.autograd.grad(ft(t), t, create_graph=True)
        assert_same(ge, gt, atol=1e-10, rtol=1e-9)
        (hes,) = ember.autograd.grad((ge * ge).sum(), e)
        (hts,) = torch.autograd.grad((gt * gt).sum(), t)
        assert_same(hes, hts, atol=1e-10, rtol=1e-8)


def _errors():
    x, y = _f(4, 5), _f(4, 5)
    t = np.array([0, 4, 2, 1])
    tm = np.array([[3, 0, -1, 1, 2]] * 4)
    L = np.int64
    return [
        ("margin_ranking_loss", [_f(4), _f(4), _f(3)], {}),
        ("margin_ranking_loss", [_f(4), _f(4, 1), _f(4)], {}),
        ("margin_ranking_loss", [_f(4), _f(4), _f(4)], {"reduction": "bad"}),
        ("hinge_embedding_loss", [x, _f(4)], {}),
        ("cosine_embedding_loss", [x, y, np.ones((4, 1), np.float32)], {}),
        ("cosine_embedding_loss", [x, y, np.ones((), np.float32)], {}),
        ("cosine_embedding_loss", [x[0], y[0], np.ones(4, np.float32)], {}),
        ("cosine_embedding_loss", [x, y, np.ones(3, np.float32)], {}),
        ("cosine_embedding_loss", [x, y[:, :4], np.ones(4, np.float32)], {}),
        ("soft_margin_loss", [_f(5), _f(4, 5)], {}),
        ("soft_margin_loss", [x, _f(3)], {}),
        ("multilabel_soft_margin_loss", [x, y], {"reduction": "bad"}),
        ("multilabel_soft_margin_loss", [np.array(1.0, np.float32), np.array(1.0, np.float32)], {}),
        ("multilabel_soft_margin_loss", [x.astype(L), y], {}),
        ("soft_margin_loss", [x.astype(L), np.sign(y).astype(L)], {}),
        ("hinge_embedding_loss", [x.astype(L), np.sign(y).astype(L)], {}),
        ("multi_margin_loss", [x, t[:3]], {}),
        ("multi_margin_loss", [x, t.reshape(2, 2)], {}),
        ("multi_margin_loss", [x, t], {"p": 3}),
        ("multi_margin_loss", [x, t], {"weight": np.ones(4, np.float32)}),
        ("multi_margin_loss", [x, t], {"weight": np.ones((5, 1), np.float32)}),
        ("multi_margin_loss", [x, t], {"weight": np.ones(5, np.float64)}),
        ("multi_margin_loss", [x, t.astype(np.float32)], {}),
        ("multi_margin_loss", [x, t.astype(np.int32)], {}),
        ("multi_margin_loss", [x, np.array([0, 5, 2, 1])], {}),
        ("multi_margin_loss", [x, np.array([0, -1, 2, 1])], {}),
        ("multi_margin_loss", [_f(2, 3, 4), np.array([0, 1])], {}),
        ("multi_margin_loss", [_f(4, 0), t], {}),
        ("multi_margin_loss", [x.astype(L), t], {}),
        ("multilabel_margin_loss", [x, tm[:3]], {}),
        ("multilabel_margin_loss", [x, tm[:, :3]], {}),
        ("multilabel_margin_loss", [x[0], tm[0, :3]], {}),
        ("multilabel_margin_loss", [x[0], tm[:1]], {}),
        ("multilabel_margin_loss", [x, tm.astype(np.float32)], {}),
        ("multilabel_margin_loss", [x, tm + 3], {}),
        ("multilabel_margin_loss", [x[0], np.array([1, -2, 0, 0, 0])], {}),
        ("multilabel_margin_loss", [x[0], np.array([1, -1, 7, 0, 0])], {}),
        ("multilabel_margin_loss", [_f(2, 3, 4), tm], {}),
        ("multilabel_margin_loss", [x.astype(L), tm], {}),
        ("triplet_margin_loss", [x, y, x[0]], {}),
        ("triplet_margin_loss", [x, y, x[:3]], {}),
        ("triplet_margin_loss", [x, y, x], {"margin": 0}),
        ("triplet_margin_with_distance_loss", [x, y, x[0]], {}),
        ("triplet_margin_with_distance_loss", [x, y, x], {"margin": -1}),
        ("triplet_margin_with_distance_loss", [x, y, x], {"reduction": "bad"}),
        ("poisson_nll_loss", [x, y[:3]], {}),
        ("poisson_nll_loss", [x, y], {"reduction": "bad"}),
        ("gaussian_nll_loss", [x, y, np.ones(5, np.float32)], {}),
        ("gaussian_nll_loss", [x, y, np.ones((1, 1), np.float32)], {}),
        ("gaussian_nll_loss", [x, y, np.ones((4, 2), np.float32)], {}),
        ("gaussian_nll_loss", [x, y, -1.0], {}),
        ("gaussian_nll_loss", [x, y, -np.ones((4, 5), np.float32)], {}),
        ("gaussian_nll_loss", [x, y, np.ones((4, 5), np.float32)], {"reduction": "bad"}),
        ("pairwise_distance", [x, y[:3]], {}),
        ("pdist", [x[0]], {}),
        ("pdist", [x], {"p": -1}),
        ("pdist", [x.astype(L)], {}),
        ("cosine_similarity", [x[0], y[0]], {}),
        ("cosine_similarity", [x.astype(L), y.astype(L)], {}),
        ("cosine_similarity", [x, y[:3]], {}),
    ]


@pytest.mark.parametrize("case", range(len(_errors())))
def test_errors_match_torch(case):
    name, args, kw = _errors()[case]
    ea = [ember.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ta = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ek = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        err = assert_raises_same(lambda: getattr(F, name)(*ea, **ek), lambda: getattr(TF, name)(*ta, **tk))
        with pytest.raises(type(err)) as ee:
            getattr(F, name)(*ea, **ek)
    assert str(ee.value) == str(err)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.MultiMarginLoss(p=3),
        lambda m, w=np.ones((2, 2), np.float32): m.MultiMarginLoss(
            weight=(ember if m is nn else torch).tensor(w)
        ),
        lambda m: m.TripletMarginLoss(margin=0.0),
        lambda m: m.TripletMarginWithDistanceLoss(margin=-1.0),
        lambda m: m.HingeEmbeddingLoss(reduction="bad")(*(ember if m is nn else torch).ones(2, 2).unbind(0)),
    ],
)
def test_module_constructor_errors(make):
    err = assert_raises_same(lambda: make(nn), lambda: make(torch.nn))
    with pytest.raises(type(err)) as ee:
        make(nn)
    assert str(ee.value) == str(err)
