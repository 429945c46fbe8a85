"""nn.init vs torch: gains, fans, bounds and statistics (RNG streams differ, so no equal numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from ember import nn


@pytest.mark.parametrize(
    "nl,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_calculate_gain(nl, param):
    assert nn.init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))


def test_calculate_gain_errors():
    for args in [("foo",), ("leaky_relu", "x")]:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(*args)
        with pytest.raises(ValueError):
            nn.init.calculate_gain(*args)


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (2, 6, 7)])
def test_fans(shape):
    assert nn.init._calculate_fan_in_and_fan_out(
        ember.empty(*shape)
    ) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError):
        nn.init._calculate_fan_in_and_fan_out(ember.empty(3))


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.min(), a.max(), a.mean(), a.std()


def test_in_place_and_returns_same_tensor_under_no_grad():
    w = nn.Parameter(ember.empty(100, 50))
    ptr = w.data_ptr()
    for fn in [
        lambda t: nn.init.uniform_(t, -1, 1),
        lambda t: nn.init.normal_(t),
        lambda t: nn.init.xavier_uniform_(t),
        lambda t: nn.init.kaiming_normal_(t),
        lambda t: nn.init.constant_(t, 3.0),
        lambda t: nn.init.zeros_(t),
        lambda t: nn.init.trunc_normal_(t),
        lambda t: nn.init.orthogonal_(t),
    ]:
        out = fn(w)
        assert out is w and w.data_ptr() == ptr and w.grad_fn is None and w.requires_grad
        assert w.dtype is ember.float32


def test_uniform_normal_constant():
    lo, hi, mean, std = _stats(nn.init.uniform_(ember.empty(200, 200), -2, 3))
    assert -2 <= lo and hi <= 3 and abs(mean - 0.5) < 0.05 and abs(std - 5 / math.sqrt(12)) < 0.05
    _, _, mean, std = _stats(nn.init.normal_(ember.empty(200, 200), 1.0, 0.5))
    assert abs(mean - 1) < 0.01 and abs(std - 0.5) < 0.01
    assert bool((nn.init.constant_(ember.empty(3, 3), 0.3) == 0.3).all())
    assert bool((nn.init.ones_(ember.empty(2)) == 1).all()) and bool(
        (nn.init.zeros_(ember.ones(2)) == 0).all()
    )
    e = nn.init.eye_(ember.empty(3, 5))
    np.testing.assert_array_equal(e.numpy(), torch.nn.init.eye_(torch.empty(3, 5)).numpy())


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain):
    shape = (300, 200)
    bound = gain * math.sqrt(6 / (300 + 200))
    lo, hi, _, std = _stats(nn.init.xavier_uniform_(ember.empty(*shape), gain=gain))
    assert -bound <= lo and hi <= bound and abs(std - bound / math.sqrt(3)) < 0.02 * bound
    _, _, mean, std = _stats(nn.init.xavier_normal_(ember.empty(*shape), gain=gain))
    assert abs(std - gain * math.sqrt(2 / 500)) < 0.02 * gain * math.sqrt(2 / 500) and abs(mean) < 0.01


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("relu", 0), ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming(mode, nl, a):
    shape = (256, 64, 3, 3)
    fan = 64 * 9 if mode == "fan_in" else 256 * 9
    std = torch.nn.init.calculate_gain(nl, a) / math.sqrt(fan)
    lo, hi, _, s = _stats(nn.init.kaiming_uniform_(ember.empty(*shape), a=a, mode=mode, nonlinearity=nl))
    assert -math.sqrt(3) * std <= lo and hi <= math.sqrt(3) * std and abs(s - std) < 0.02 * std
    _, _, m, s = _stats(nn.init.kaiming_normal_(ember.empty(*shape), a=a, mode=mode, nonlinearity=nl))
    assert abs(s - std) < 0.02 * std and abs(m) < 0.02 * std


def test_kaiming_bad_mode():
    with pytest.raises(ValueError):
        torch.nn.init.kaiming_uniform_(torch.empty(3, 3), mode="x")
    with pytest.raises(ValueError):
        nn.init.kaiming_uniform_(ember.empty(3, 3), mode="x")


def test_trunc_normal_bounds():
    lo, hi, mean, _ = _stats(nn.init.trunc_normal_(ember.empty(200, 200), mean=0.5, std=1.0, a=-0.5, b=1.0))
    assert -0.5 <= lo and hi <= 1.0 and lo < -0.45 and hi > 0.95
    ref = torch.nn.init.trunc_normal_(torch.empty(200, 200), mean=0.5, std=1.0, a=-0.5, b=1.0)
    assert abs(mean - ref.mean().item()) < 0.02


def test_orthogonal():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        w = nn.init.orthogonal_(ember.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        if w.shape[0] <= w.shape[1]:
            np.testing.assert_allclose(w @ w.T, 4 * np.eye(w.shape[0]), atol=1e-5)
        else:
            np.testing.assert_allclose(w.T @ w, 4 * np.eye(w.shape[1]), atol=1e-5)


def test_seeded_init_reproducible():
    ember.manual_seed(3)
    a = nn.Linear(5, 5).weight.detach().numpy().copy()
    ember.manual_seed(3)
    b = nn.Linear(5, 5).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_float64_tensor_stays_float64():
    t = nn.init.xavier_uniform_(ember.empty(4, 4, dtype=ember.float64))
    assert t.dtype is ember.float64
