"""F.interpolate / nn.Upsample / UpsamplingNearest2d / UpsamplingBilinear2d vs torch."""

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

MODES = [("nearest", 1), ("nearest", 2), ("nearest", 3), ("nearest-exact", 1), ("nearest-exact", 2),
         ("linear", 1), ("bilinear", 2), ("bicubic", 2), ("trilinear", 3), ("area", 1), ("area", 2),
         ("area", 3)]  # fmt: skip
SPECS = [
    dict(size=3),
    dict(size=11),
    dict(scale_factor=2),
    dict(scale_factor=0.5),
    dict(scale_factor=1.7),
    dict(scale_factor=1.7, recompute_scale_factor=True),
    dict(scale_factor=0.3, recompute_scale_factor=False),
]


def _align(mode):
    return [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]


@pytest.mark.parametrize("mode,nd", MODES)
@pytest.mark.parametrize("spec", SPECS)
def test_modes_values_and_grads(mode, nd, spec):
    for ac in _align(mode):
        kw = dict(spec, mode=mode, align_corners=ac)
        run(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), arr(2, 2, *(5, 7, 4)[:nd]))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(3, 2), (5, 9), (13, 4), (1, 1)])
@pytest.mark.parametrize("ac", [False, True])
def test_antialias(mode, size, ac):
    kw = dict(size=size, mode=mode, align_corners=ac, antialias=True)
    run(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), arr(2, 3, 7, 6))


def test_lanczos_and_float64():
    kw = dict(size=(3, 8), mode="lanczos", antialias=True)
    run(
        lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), arr(1, 2, 9, 5, dtype=np.float64)
    )
    for mode in ["bilinear", "bicubic", "nearest"]:
        kw = dict(scale_factor=(1.5, 0.75), mode=mode)
        run(
            lambda x: F.interpolate(x, **kw),
            lambda x: TF.interpolate(x, **kw),
            arr(2, 1, 6, 8, dtype=np.float64),
        )


@settings(max_examples=25, deadline=None)
@given(
    mode=st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic", "area"]),
    ins=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    outs=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    ac=st.booleans(),
    aa=st.booleans(),
    f64=st.booleans(),
)
def test_hypothesis_2d(mode, ins, outs, ac, aa, f64):
    kw = dict(size=outs, mode=mode)
    if mode in ("bilinear", "bicubic"):
        kw.update(align_corners=ac, antialias=aa)
    x = arr(2, 2, *ins, dtype=np.float64 if f64 else np.float32)
    run(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), x)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 8), sf=st.floats(0.3, 3.5), mode=st.sampled_from(["nearest", "linear", "nearest-exact"])
)
def test_hypothesis_scale_factor_1d(n, sf, mode):
    kw = dict(scale_factor=sf, mode=mode)
    if int(n * sf) < 1:
        assert_raises_same(lambda: F.interpolate(ember.tensor(arr(1, 1, n)), **kw),
                           lambda: TF.interpolate(torch.tensor(arr(1, 1, n)), **kw))  # fmt: skip
        return
    # torch's nearest backward special-cases out == in and out == 2 * in (it ignores the scale the
    # forward used), so there its gradient is not the forward's adjoint: compare values only
    out = int(n * sf)
    grad = not (mode == "nearest" and out in (n, 2 * n) and sf != out / n)
    run(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), arr(1, 2, n), grad=grad)


def test_gradcheck_float64():
    for kw in [dict(size=(4, 3), mode="bilinear"), dict(size=(2, 5), mode="bicubic", align_corners=True),
               dict(size=(2, 2), mode="bicubic", antialias=True), dict(size=(5, 3), mode="nearest"),
               dict(size=(2, 3), mode="area")]:  # fmt: skip
        gradcheck(lambda x: F.interpolate(x, **kw), arr(1, 2, 3, 4))
    gradcheck(lambda x: F.interpolate(x, size=(3, 2, 2), mode="trilinear"), arr(1, 1, 2, 3, 2))


def test_integer_inputs():
    x = np.random.default_rng(3).integers(0, 256, (2, 3, 9, 10)).astype(np.uint8)
    assert_same(
        F.interpolate(ember.tensor(x), scale_factor=1.5), TF.interpolate(torch.tensor(x), scale_factor=1.5)
    )
    for kw in [dict(size=(4, 5), mode="bilinear", antialias=True), dict(size=(13, 7), mode="bilinear"),
               dict(size=(5, 14), mode="bicubic"), dict(size=(4, 4), mode="bicubic", antialias=True),
               dict(size=(9, 3), mode="bilinear", align_corners=True), dict(size=(3, 4), mode="lanczos", antialias=True),
               dict(scale_factor=(0.45, 1.8), mode="bicubic", antialias=True)]:  # fmt: skip
        # torch's int16 fixed-point weights are reproduced exactly
        assert_same(F.interpolate(ember.tensor(x), **kw), TF.interpolate(torch.tensor(x), **kw))
    ex = ember.tensor(x)
    same = F.interpolate(ex, size=(9, 10), mode="bilinear")
    assert_same(same, torch.tensor(x))
    assert not np.shares_memory(same.numpy(), ex.numpy())
    for dt, mode in [(np.int64, "nearest"), (np.uint8, "area"), (np.int32, "bilinear")]:
        xi = x.astype(dt)
        assert_raises_same(lambda: F.interpolate(ember.tensor(xi), size=3, mode=mode),
                           lambda: TF.interpolate(torch.tensor(xi), size=3, mode=mode))  # fmt: skip


def test_float32_stays_float32():
    out = F.interpolate(ember.randn(1, 2, 4, 4), scale_factor=2, mode="bicubic")
    assert out.dtype == ember.float32 and out.shape == (1, 2, 8, 8)


def test_upsample_modules():
    x = arr(2, 3, 4, 5)
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=3, mode="bilinear"), torch.nn.Upsample(size=3, mode="bilinear")),
        (nn.Upsample(scale_factor=(2, 1.5), mode="bicubic", align_corners=True),
         torch.nn.Upsample(scale_factor=(2, 1.5), mode="bicubic", align_corners=True)),
        (nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2)),
        (nn.UpsamplingBilinear2d(size=(3, 7)), torch.nn.UpsamplingBilinear2d(size=(3, 7))),
        (nn.Upsample(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True),
         torch.nn.Upsample(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True)),
    ]  # fmt: skip
    for em, tm in pairs:
        assert repr(em) == repr(tm)
        run(em, tm, x)


def test_deprecated_aliases_warn_and_match():
    x = arr(1, 2, 3, 3)
    with pytest.warns(UserWarning, match="deprecated"):
        eo = F.upsample_bilinear(ember.tensor(x), scale_factor=2)
    with pytest.warns(UserWarning):
        to = TF.upsample_bilinear(torch.tensor(x), scale_factor=2)
    assert_same(eo, to)
    with pytest.warns(UserWarning, match="deprecated"):
        assert_same(F.upsample_nearest(ember.tensor(x), size=5), TF.interpolate(torch.tensor(x), size=5))
    with pytest.warns(UserWarning, match="deprecated"):
        assert_same(F.upsample(ember.tensor(x), size=4, mode="bicubic"),
                    TF.interpolate(torch.tensor(x), size=4, mode="bicubic"))  # fmt: skip


BAD = [
    dict(),
    dict(size=3, scale_factor=2),
    dict(size=3, align_corners=True),
    dict(size=3, mode="foo"),
    dict(size=3, mode="linear"),
    dict(size=3, mode="trilinear"),
    dict(size=(3, 3, 3)),
    dict(scale_factor=(2, 2, 2)),
    dict(size=(0, 3)),
    dict(scale_factor=0.1),
    dict(size=3, antialias=True),
    dict(size=3, mode="bilinear", recompute_scale_factor=True),
    dict(size=(3.0, 3)),
    dict(size=3, mode="lanczos"),
    dict(size=3, mode="lanczos", antialias=True, align_corners=True),
]


@pytest.mark.parametrize("kw", BAD)
def test_errors_match_torch(kw):
    x = arr(2, 3, 6, 6)
    assert_raises_same(
        lambda: F.interpolate(ember.tensor(x), **kw), lambda: TF.interpolate(torch.tensor(x), **kw)
    )


@pytest.mark.parametrize("shape,mode", [((1, 2, 3), "bicubic"), ((2, 3), "nearest"), ((1, 1, 2, 2, 2), "bilinear"),
                                        ((1, 2, 3), "bilinear"), ((1, 1, 2, 2, 2), "linear")])  # fmt: skip
def test_rank_errors_match_torch(shape, mode):
    x = arr(*shape)
    assert_raises_same(lambda: F.interpolate(ember.tensor(x), size=2, mode=mode),
                       lambda: TF.interpolate(torch.tensor(x), size=2, mode=mode))  # fmt: skip
