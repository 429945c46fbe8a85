"""F.grid_sample and F.affine_grid vs torch (values, input and grid gradients, errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _vision_check import arr, gradcheck, run
from conftest import assert_raises_same
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore:Default grid_sample", "ignore:Since version 1.3.0")


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_sample(mode, padding_mode, align_corners, dtype):
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    x, grid = arr(2, 3, 5, 6, dtype=dtype), arr(2, 4, 7, 2, dtype=dtype, lo=-1.6, hi=1.6)
    run(lambda x, g: F.grid_sample(x, g, **kw), lambda x, g: TF.grid_sample(x, g, **kw), x, grid)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    mode=st.sampled_from(["bilinear", "nearest", "bicubic"]),
    padding_mode=st.sampled_from(["zeros", "border", "reflection"]),
    align_corners=st.booleans(),
)
def test_grid_sample_hypothesis(n, c, hw, out, mode, padding_mode, align_corners):
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    x, grid = arr(n, c, *hw, dtype=np.float64), arr(n, *out, 2, dtype=np.float64, lo=-2.5, hi=2.5)
    run(lambda x, g: F.grid_sample(x, g, **kw), lambda x, g: TF.grid_sample(x, g, **kw), x, grid)


def test_gradcheck_float64():
    for mode in ["bilinear", "bicubic"]:
        for pm in ["zeros", "border", "reflection"]:
            kw = dict(mode=mode, padding_mode=pm, align_corners=pm == "border")
            gradcheck(
                lambda x, g: F.grid_sample(x, g, **kw), arr(1, 2, 3, 4), arr(1, 2, 3, 2, lo=-0.9, hi=0.9)
            )


def test_identity_affine_grid_samples_the_input():
    x = ember.tensor(arr(2, 3, 5, 7))
    theta = ember.tensor(np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (2, 1, 1)))
    for ac in [False, True]:
        grid = F.affine_grid(theta, (2, 3, 5, 7), align_corners=ac)
        np.testing.assert_allclose(F.grid_sample(x, grid, align_corners=ac).numpy(), x.numpy(), atol=1e-5)


@pytest.mark.parametrize("size", [(2, 3, 5, 7), (2, 1, 1, 4), (2, 2, 3, 4, 5)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(size, align_corners):
    theta = arr(2, 2, 3) if len(size) == 4 else arr(2, 3, 4)
    kw = dict(size=size, align_corners=align_corners)
    run(lambda t: F.affine_grid(t, **kw), lambda t: TF.affine_grid(t, **kw), theta)
    run(lambda t: F.affine_grid(t, **kw), lambda t: TF.affine_grid(t, **kw), theta.astype(np.float64))


def test_spatial_transformer_round_trip_gradients():
    # theta -> affine_grid -> grid_sample, gradients reach theta as in torch's STN tutorial
    x, theta = arr(2, 1, 6, 6), arr(2, 2, 3) * 0.3 + np.array([[1, 0, 0], [0, 1, 0]], np.float32)

    def ours(x, t):
        return F.grid_sample(x, F.affine_grid(t, (2, 1, 6, 6), align_corners=False), align_corners=False)

    def theirs(x, t):
        return TF.grid_sample(x, TF.affine_grid(t, (2, 1, 6, 6), align_corners=False), align_corners=False)

    run(ours, theirs, x, theta)


def test_default_align_corners_warns():
    with pytest.warns(UserWarning, match="align_corners=False"):
        F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2))
    with pytest.warns(UserWarning, match="align_corners=False"):
        F.affine_grid(ember.zeros(1, 2, 3), (1, 1, 2, 2))


GS_BAD = [
    lambda F, t: F.grid_sample(t(2, 4, 6, 6), t(2, 3, 3, 2), mode="foo"),
    lambda F, t: F.grid_sample(t(2, 4, 6, 6), t(2, 3, 3, 2), padding_mode="foo"),
    lambda F, t: F.grid_sample(t(2, 4, 6, 6), t(2, 3, 3, 3)),
    lambda F, t: F.grid_sample(t(2, 4, 6, 6), t(3, 3, 3, 2)),
    lambda F, t: F.grid_sample(t(4, 6, 6), t(3, 3, 2)),
    lambda F, t: F.affine_grid(t(2, 3, 3), (2, 3, 4, 4)),
    lambda F, t: F.affine_grid(t(2, 2, 3), (3, 3, 4, 4)),
    lambda F, t: F.affine_grid(t(2, 2, 3), (2, 3, 4)),
    lambda F, t: F.affine_grid(t(2, 2, 3), (2, 3, 0, 4), align_corners=False),
]


@pytest.mark.parametrize("bad", GS_BAD)
def test_errors_match_torch(bad):
    def mk(lib):
        return lambda *s: lib.tensor(arr(*s))

    assert_raises_same(lambda: bad(F, mk(ember)), lambda: bad(TF, mk(torch)))


def test_dtype_errors_match_torch():
    x, g = arr(1, 1, 3, 3), arr(1, 2, 2, 2).astype(np.float64)
    assert_raises_same(lambda: F.grid_sample(ember.tensor(x), ember.tensor(g), align_corners=False),
                       lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g), align_corners=False))  # fmt: skip
    th = np.zeros((1, 2, 3), np.int64)
    assert_raises_same(lambda: F.affine_grid(ember.tensor(th), (1, 1, 2, 2)),
                       lambda: TF.affine_grid(torch.tensor(th), (1, 1, 2, 2)))  # fmt: skip


def test_unsupported_options_raise_clearly():
    with pytest.raises(NotImplementedError, match="4-D"):
        F.grid_sample(ember.zeros(1, 1, 3, 3, 3), ember.zeros(1, 2, 2, 2, 3), align_corners=False)
