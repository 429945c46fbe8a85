"""Losses (modules and F.*) vs torch: values, dtypes, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same

import ember
import ember.nn.functional as F
from ember import nn

RNG = np.random.default_rng(1)


def _f(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _run(fe, ft, x, *others, atol=1e-5, rtol=1e-4, grad_others=False):
    """Apply both, compare values and input (and optionally other-argument) gradients."""
    e = ember.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    eo = [ember.tensor(o, requires_grad=grad_others) if isinstance(o, np.ndarray) else o for o in others]
    to = [torch.tensor(o, requires_grad=grad_others) if isinstance(o, np.ndarray) else o for o in others]
    le, lt = fe(e, *eo), ft(t, *to)
    assert_same(le, lt, atol=atol, rtol=rtol)
    g = RNG.standard_normal(lt.shape).astype(x.dtype)
    le.backward(ember.tensor(g))
    lt.backward(torch.tensor(g))
    assert_same(e.grad, t.grad, atol=atol, rtol=rtol)
    if grad_others:
        for a, b in zip(eo, to):
            assert_same(a.grad, b.grad, atol=atol, rtol=rtol)


RED = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"label_smoothing": 0.1},
        {"weight": "w"},
        {"weight": "w", "label_smoothing": 0.3},
        {"ignore_index": 2},
    ],
)
def test_cross_entropy_class_indices(reduction, kw):
    x, t, w = _f(6, 5), np.array([0, 4, 2, 2, 1, 3]), np.linspace(0.5, 2, 5).astype(np.float32)
    ke = {k: (ember.tensor(w) if v == "w" else v) for k, v in kw.items()}
    kt = {k: (torch.tensor(w) if v == "w" else v) for k, v in kw.items()}
    _run(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction, **ke),
        lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **kt),
        x,
        t,
    )


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_spatial_and_unbatched(reduction):
    x, t = _f(2, 4, 3, 3), RNG.integers(0, 4, (2, 3, 3))
    _run(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.2),
        lambda a, b: TF.cross_entropy(a, b, reduction=reduction, label_smoothing=0.2),
        x,
        t,
    )
    _run(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction),
        lambda a, b: TF.cross_entropy(a, b, reduction=reduction),
        _f(5),
        np.array(3),
    )


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_probability_targets(reduction):
    x = _f(4, 3)
    p = np.abs(_f(4, 3))
    p /= p.sum(1, keepdims=True)
    w = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    _run(
        lambda a, b: F.cross_entropy(a, b, weight=ember.tensor(w), reduction=reduction, label_smoothing=0.1),
        lambda a, b: TF.cross_entropy(a, b, weight=torch.tensor(w), reduction=reduction, label_smoothing=0.1),
        x,
        p,
    )


def test_cross_entropy_all_ignored_is_nan():
    x, t = _f(2, 3), np.array([-100, -100])
    assert_same(
        F.cross_entropy(ember.tensor(x), ember.tensor(t)), TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    )


def test_cross_entropy_float64_stays_float64():
    x = _f(3, 4, dtype=np.float64)
    out = F.cross_entropy(ember.tensor(x), ember.tensor([1, 2, 3]))
    assert out.dtype is ember.float64


@pytest.mark.parametrize(
    "x,t",
    [
        (_f(3, 4), np.array([1, 5, 0])),  # target out of bounds
        (_f(3, 4), np.array([-1, 2, 0])),
        (_f(3, 4), np.array([1, 2])),  # batch size mismatch
        (_f(3, 4), np.array([1, 2, 0], dtype=np.int32)),  # wrong dtype
        (_f(3, 4), np.array([1.0, 2.0, 0.0], dtype=np.float32)),
        (_f(3, 4), np.array([[1, 2, 0]])),
    ],
)
def test_cross_entropy_errors(x, t):
    assert_raises_same(
        lambda: F.cross_entropy(ember.tensor(x), ember.tensor(t)),
        lambda: TF.cross_entropy(torch.tensor(x), torch.tensor(t)),
    )


def test_cross_entropy_error_messages():
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)\."
    ):
        F.cross_entropy(ember.randn(3, 4), ember.tensor([1, 2]))
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(ember.randn(3, 4), ember.tensor([1, 5, 0]))
    assert_raises_same(
        lambda: F.cross_entropy(ember.randn(3, 4), ember.tensor([1, 2, 0]), weight=ember.ones(3)),
        lambda: TF.cross_entropy(torch.randn(3, 4), torch.tensor([1, 2, 0]), weight=torch.ones(3)),
    )


@pytest.mark.parametrize("reduction", RED)
def test_nll_loss(reduction):
    x, t, w = _f(5, 4), np.array([0, 3, 1, 1, 2]), np.array([1, 2, 3, 4], dtype=np.float32)
    for kw_e, kw_t in [
        ({}, {}),
        ({"weight": ember.tensor(w)}, {"weight": torch.tensor(w)}),
        ({"ignore_index": 1}, {"ignore_index": 1}),
    ]:
        _run(
            lambda a, b: F.nll_loss(F.log_softmax(a, 1), b, reduction=reduction, **kw_e),
            lambda a, b: TF.nll_loss(TF.log_softmax(a, 1), b, reduction=reduction, **kw_t),
            x,
            t,
        )


def test_nll_loss_errors():
    assert_raises_same(
        lambda: F.nll_loss(ember.randn(3, 4), ember.tensor([1, 4, 0])),
        lambda: TF.nll_loss(torch.randn(3, 4), torch.tensor([1, 4, 0])),
    )


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", RED)
def test_pair_losses(name, reduction):
    x, y = _f(4, 3), _f(4, 3)
    x[0, 0] = y[0, 0]  # a zero difference
    _run(
        lambda a, b: getattr(F, name)(a, b, reduction=reduction),
        lambda a, b: getattr(TF, name)(a, b, reduction=reduction),
        x,
        y,
        grad_others=True,
    )


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_smooth_l1_beta_and_huber_delta(beta):
    x, y = _f(10) * 2, _f(10)
    _run(
        lambda a, b: F.smooth_l1_loss(a, b, beta=beta), lambda a, b: TF.smooth_l1_loss(a, b, beta=beta), x, y
    )
    if beta > 0:
        _run(lambda a, b: F.huber_loss(a, b, delta=beta), lambda a, b: TF.huber_loss(a, b, delta=beta), x, y)
    assert_raises_same(
        lambda: F.smooth_l1_loss(ember.ones(2), ember.ones(2), beta=-1.0),
        lambda: TF.smooth_l1_loss(torch.ones(2), torch.ones(2), beta=-1.0),
    )
    assert_raises_same(
        lambda: F.huber_loss(ember.ones(2), ember.ones(2), delta=0.0),
        lambda: TF.huber_loss(torch.ones(2), torch.ones(2), delta=0.0),
    )


def test_mse_broadcast_warning_and_promotion():
    x, y = _f(3, 4), _f(4)
    with pytest.warns(UserWarning, match="different to the input size"):
        e = F.mse_loss(ember.tensor(x), ember.tensor(y))
    with pytest.warns(UserWarning):
        t = TF.mse_loss(torch.tensor(x), torch.tensor(y))
    assert_same(e, t)
    assert_same(
        F.mse_loss(ember.tensor(x), ember.tensor(x.astype(np.float64))),
        TF.mse_loss(torch.tensor(x), torch.tensor(x.astype(np.float64))),
    )
    assert_raises_same(
        lambda: F.mse_loss(ember.tensor(x), ember.tensor(_f(3))),
        lambda: TF.mse_loss(torch.tensor(x), torch.tensor(_f(3))),
    )


@pytest.mark.parametrize("reduction", RED)
def test_bce(reduction):
    x = 1 / (1 + np.exp(-_f(4, 3)))
    x[0, 0], x[0, 1] = 0.0, 1.0  # log clamps at -100
    y = RNG.random((4, 3)).astype(np.float32)
    y[0, 0], y[0, 1] = 1.0, 0.0
    w = np.abs(_f(3)) + 0.1
    e = F.binary_cross_entropy(ember.tensor(x), ember.tensor(y), ember.tensor(w), reduction=reduction)
    t = TF.binary_cross_entropy(torch.tensor(x), torch.tensor(y), torch.tensor(w), reduction=reduction)
    assert_same(e, t, atol=1e-4)
    x2 = np.clip(x, 0.05, 0.95)
    _run(
        lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
        lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction),
        x2,
        y,
        grad_others=True,
    )


def test_bce_errors():
    assert_raises_same(
        lambda: F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0])),
        lambda: TF.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0])),
    )
    assert_raises_same(
        lambda: F.binary_cross_entropy(ember.rand(3, 1), ember.rand(3)),
        lambda: TF.binary_cross_entropy(torch.rand(3, 1), torch.rand(3)),
    )
    assert_raises_same(
        lambda: F.binary_cross_entropy_with_logits(ember.rand(3, 1), ember.rand(3)),
        lambda: TF.binary_cross_entropy_with_logits(torch.rand(3, 1), torch.rand(3)),
    )


@pytest.mark.parametrize("reduction", RED)
def test_bce_with_logits(reduction):
    x, y = _f(5, 3) * 30, RNG.random((5, 3)).astype(np.float32)
    w, pw = np.abs(_f(3)), np.array([1.0, 2.0, 0.5], dtype=np.float32)
    _run(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        x,
        y,
        grad_others=True,
    )
    _run(
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, ember.tensor(w), reduction=reduction, pos_weight=ember.tensor(pw)
        ),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)
        ),
        x,
        y,
        grad_others=True,
        atol=1e-4,
    )


def test_kl_div():
    x = TF.log_softmax(torch.tensor(_f(3, 4)), 1).numpy()
    y = TF.softmax(torch.tensor(_f(3, 4)), 1).numpy()
    for red in ["batchmean", "sum", "mean"]:
        _run(lambda a, b: F.kl_div(a, b, reduction=red), lambda a, b: TF.kl_div(a, b, reduction=red), x, y)


MODULES = [
    (lambda m: m.MSELoss(), "reg"),
    (lambda m: m.L1Loss(reduction="sum"), "reg"),
    (lambda m: m.SmoothL1Loss(beta=0.5), "reg"),
    (lambda m: m.HuberLoss(delta=2.0), "reg"),
    (lambda m: m.CrossEntropyLoss(label_smoothing=0.1), "cls"),
    (lambda m: m.CrossEntropyLoss(ignore_index=1, reduction="sum"), "cls"),
    (lambda m: m.NLLLoss(), "cls"),
    (lambda m: m.BCEWithLogitsLoss(), "bin"),
    (lambda m: m.BCELoss(), "prob"),
]


@pytest.mark.parametrize("make,kind", MODULES)
def test_loss_modules(make, kind):
    me, mt = make(nn), make(torch.nn)
    assert repr(me) == repr(mt)
    x = _f(4, 3)
    if kind == "reg":
        y = _f(4, 3)
    elif kind == "cls":
        y = np.array([0, 2, 1, 1])
    elif kind == "bin":
        y = RNG.random((4, 3)).astype(np.float32)
    else:
        x = RNG.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
        y = RNG.random((4, 3)).astype(np.float32)
    _run(me, mt, x, y)


def test_weighted_loss_module_registers_weight_buffer():
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    me, mt = nn.CrossEntropyLoss(weight=ember.tensor(w)), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(me.state_dict()) == list(mt.state_dict())
    _run(me, mt, _f(4, 3), np.array([0, 2, 1, 1]))


def test_legacy_size_average_reduce():
    x, y = _f(3, 2), _f(3, 2)
    for kw in [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}]:
        assert_same(
            nn.MSELoss(**kw)(ember.tensor(x), ember.tensor(y)),
            torch.nn.MSELoss(**kw)(torch.tensor(x), torch.tensor(y)),
        )


def test_bad_reduction():
    assert_raises_same(
        lambda: F.mse_loss(ember.ones(2), ember.ones(2), reduction="avg"),
        lambda: TF.mse_loss(torch.ones(2), torch.ones(2), reduction="avg"),
    )


def test_cross_entropy_class_index_fast_path_edges():
    """Class-index cross entropy without weights/smoothing skips the coefficient matrix
    (ops/loss.ClassCrossEntropy); what it must still do like torch: ignore_index rows
    present, out-of-range targets raising, -inf logits, a target changed in place after
    forward, and the grad_fn name."""
    x = _f(5, 4)
    _run(
        lambda a, b: F.cross_entropy(a, b),
        lambda a, b: TF.cross_entropy(a, b),
        x,
        np.array([0, -100, 3, 1, -100]),
    )
    _run(
        lambda a, b: F.cross_entropy(a, b, reduction="sum"),
        lambda a, b: TF.cross_entropy(a, b, reduction="sum"),
        x,
        np.array([0, 2, 3, 1, 1]),
    )
    xi = x.copy()
    xi[0, 1] = -np.inf  # a -inf logit of a class that is not the target: finite loss and gradient
    _run(
        lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), xi, np.array([0, 2, 3, 1, 1])
    )
    w = np.linspace(0.5, 2, 4).astype(np.float32)  # the general path too (weights, ignore_index)
    _run(
        lambda a, b: F.cross_entropy(a, b, weight=ember.tensor(w)),
        lambda a, b: TF.cross_entropy(a, b, weight=torch.tensor(w)),
        xi,
        np.array([0, 2, -100, 1, 1]),
    )
    for bad in ([0, 4, 1, 1, 1], [0, -1, 1, 1, 1]):
        assert_raises_same(
            lambda a=bad: F.cross_entropy(ember.tensor(x), ember.tensor(a)),
            lambda a=bad: TF.cross_entropy(torch.tensor(x), torch.tensor(a)),
        )
    e = ember.tensor(x, requires_grad=True)
    t = ember.tensor([0, 2, 3, 1, 1])
    loss = F.cross_entropy(e, t)
    assert loss.grad_fn.name() == "NllLossBackward0"
    t[0] = 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
