"""Printing must match str(torch_tensor) exactly."""

import numpy as np
import pytest
import torch
from conftest import pair
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

RNG = np.random.default_rng(3)

CASES = [
    RNG.standard_normal((3, 4)).astype(np.float32),
    np.arange(12).reshape(3, 4),
    np.array([True, False, True]),
    np.array([1.0, 2.0, -3.0], dtype=np.float32),
    np.array([1e-5, 1.0, 1000.0], dtype=np.float32),
    np.array([1e10, 1.0], dtype=np.float32),
    np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32),
    np.array([np.nan, 2.0], dtype=np.float32),
    np.array([0.0, -0.0], dtype=np.float32),
    RNG.standard_normal((20, 60)).astype(np.float32),
    RNG.standard_normal((2, 3, 4)),
    RNG.standard_normal((2, 3, 4, 2)).astype(np.float32),
    np.array(3.5, dtype=np.float32),
    np.array(7),
    np.array(True),
    np.zeros((0, 3), dtype=np.float32),
    np.zeros(0, dtype=np.int32),
    np.zeros(0, dtype=np.float32),
    np.array([1, 2], dtype=np.int32),
    np.array([1, 200], dtype=np.uint8),
    np.array([1.5, 2], dtype=np.float16),
    RNG.standard_normal(2000).astype(np.float32) * 1e9,
    np.arange(2000),
    RNG.standard_normal((40, 40)).astype(np.float32),
    RNG.standard_normal((11, 12, 13)),
    np.array([123456789.0, 1.0]),
    np.array([1 + 2j, -3.5j], dtype=np.complex64),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_repr_matches_torch(i):
    e, t = pair(CASES[i])
    assert repr(e) == repr(t)
    assert str(e) == str(t)


def test_autograd_suffixes():
    e, t = pair(np.array([1.0, 2.0], dtype=np.float32), True)
    assert repr(e) == repr(t)
    assert repr(e * 2) == repr(t * 2)
    assert repr(e.sum()) == repr(t.sum())
    e64, t64 = pair(np.arange(100, dtype=np.float64).reshape(10, 10), True)
    assert repr(e64 + 1) == repr(t64 + 1)


def test_set_printoptions():
    x = RNG.standard_normal((4, 5)).astype(np.float32) * 100
    e, t = pair(x)
    for kw in [
        dict(precision=2),
        dict(sci_mode=True),
        dict(threshold=5),
        dict(edgeitems=1, threshold=3),
        dict(linewidth=30),
        dict(profile="short"),
        dict(profile="full"),
    ]:
        ember.set_printoptions(**kw)
        torch.set_printoptions(**kw)
        assert repr(e) == repr(t), kw
        ember.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=3),
    scale=st.sampled_from([1e-6, 1e-3, 1.0, 1e3, 1e9]),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int16]),
    integral=st.booleans(),
)
def test_hypothesis_repr(shape, scale, dtype, integral):
    x = RNG.standard_normal(shape) * scale
    if integral or np.dtype(dtype).kind == "i":
        x = np.round(x)
    e, t = pair(x.astype(dtype))
    assert repr(e) == repr(t)
