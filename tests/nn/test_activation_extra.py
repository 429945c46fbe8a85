"""Hardshrink, Softshrink, Tanhshrink, GLU, Softmax2d, RReLU, threshold and the in-place `*_`
functional variants vs torch; the activations torchvision's models use, checked as modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _vision_check import arr, gradcheck, run
from conftest import assert_raises_same, assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn.functional as F
from ember import nn

FUNCS = [
    ("hardshrink", dict()), ("hardshrink", dict(lambd=1.2)), ("softshrink", dict()), ("softshrink", dict(lambd=0.0)),
    ("tanhshrink", dict()), ("glu", dict()), ("glu", dict(dim=0)), ("threshold", dict(threshold=0.3, value=-2.0)),
    ("rrelu", dict()), ("rrelu", dict(lower=0.1, upper=0.5, training=False)),
]  # fmt: skip


@pytest.mark.parametrize("name,kw", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional(name, kw, dtype):
    x = arr(4, 6, dtype=dtype) * 2
    run(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), x)


MODULES = [
    ("Hardshrink", ()), ("Hardshrink", (0.7,)), ("Softshrink", ()), ("Softshrink", (1.0,)), ("Tanhshrink", ()),
    ("GLU", ()), ("GLU", (1,)), ("Softmax2d", ()), ("RReLU", ()), ("RReLU", (0.1, 0.3)),
    ("ReLU6", ()), ("Hardswish", ()), ("Hardsigmoid", ()), ("SiLU", ()), ("GELU", ()), ("GELU", ("tanh",)),
    ("Mish", ()), ("ELU", (0.5,)), ("SELU", ()), ("LeakyReLU", (0.2,)), ("Threshold", (0.1, 20.0)),
]  # fmt: skip


@pytest.mark.parametrize("name,args", MODULES)
def test_modules_eval(name, args):
    em, tm = getattr(nn, name)(*args).eval(), getattr(torch.nn, name)(*args).eval()
    assert repr(em) == repr(tm)
    x = arr(2, 4, 3, 6) * 4
    x[0, 0, 0, :4] = [-3.0, 3.0, 0.5, -0.5]  # hard-* kinks at exactly +-3 and the shrink thresholds
    run(em, tm, x)


def test_inplace_variants():
    for name, args in [("elu_", ()), ("celu_", (0.5,)), ("selu_", ()), ("leaky_relu_", (0.3,)),
                       ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, 9.0)), ("rrelu_", (0.2, 0.4))]:  # fmt: skip
        x = arr(3, 4)
        e, t = ember.tensor(x), torch.tensor(x)
        assert getattr(F, name)(e, *args) is e
        getattr(TF, name)(t, *args)
        assert_same(e, t)


def test_rrelu_training_draws_slopes_in_range():
    ember.manual_seed(0)
    x = ember.tensor(-np.ones((200, 50), np.float32), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.04
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)  # dy/dx is the drawn slope
    m = nn.RReLU(0.1, 0.3)
    assert np.array_equal(m(ember.ones(3)).numpy(), np.ones(3, np.float32))


def test_gradcheck_float64():
    for fn in [lambda x: F.softshrink(x, 0.3), lambda x: F.hardshrink(x, 0.3), F.tanhshrink,
               lambda x: F.glu(x, 1), lambda x: nn.Softmax2d()(x)]:  # fmt: skip
        gradcheck(fn, arr(1, 4, 2, 3))


def test_errors_match_torch():
    for fe, ft in [
        (lambda: F.glu(ember.zeros(2, 3), 1), lambda: TF.glu(torch.zeros(2, 3), 1)),
        (lambda: F.glu(ember.tensor(1.0)), lambda: TF.glu(torch.tensor(1.0))),
        (lambda: F.softshrink(ember.zeros(2), -1), lambda: TF.softshrink(torch.zeros(2), -1)),
        (lambda: F.rrelu(ember.zeros(2), 0.5, 0.1), lambda: TF.rrelu(torch.zeros(2), 0.5, 0.1)),
        (lambda: nn.Softmax2d()(ember.zeros(2, 3)), lambda: torch.nn.Softmax2d()(torch.zeros(2, 3))),
    ]:
        assert_raises_same(fe, ft)


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    lambd=st.floats(0.0, 2.0),
    f64=st.booleans(),
)
def test_activations_hypothesis(shape, lambd, f64):
    x = arr(*shape, dtype=np.float64 if f64 else np.float32) * 2
    for name, kw in [("hardshrink", dict(lambd=lambd)), ("softshrink", dict(lambd=lambd)), ("tanhshrink", {}),
                     ("threshold", dict(threshold=lambd, value=-1.0))]:  # fmt: skip
        run(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), x)
    d = len(shape) - 1
    if shape[d] % 2 == 0:
        run(lambda x: F.glu(x, d), lambda x: TF.glu(x, d), x)
