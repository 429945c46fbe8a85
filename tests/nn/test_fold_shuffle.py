"""F.unfold / F.fold / nn.Unfold / nn.Fold, pixel_shuffle / pixel_unshuffle / channel_shuffle
and their modules vs torch."""

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
from ember import nn

BLOCKS = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=(1, 2)),
    dict(kernel_size=3, padding=1, stride=2),
    dict(kernel_size=(3, 2), dilation=(2, 1), padding=(2, 0)),
]


@pytest.mark.parametrize("kw", BLOCKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfold_and_fold(kw, dtype):
    x = arr(2, 3, 7, 8, dtype=dtype)
    eo, to = run(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), x)
    cols = to.detach().numpy()
    run(lambda c: F.fold(c, (7, 8), **kw), lambda c: TF.fold(c, (7, 8), **kw), cols)


@settings(max_examples=20, deadline=None)
@given(
    c=st.integers(1, 3),
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    batched=st.booleans(),
)
def test_unfold_fold_hypothesis(c, hw, k, d, p, s, batched):
    kw = dict(kernel_size=k, dilation=d, padding=p, stride=s)
    x = arr(*((2,) if batched else ()), c, *hw, dtype=np.float64)
    try:
        to = TF.unfold(torch.tensor(x), **kw)
    except RuntimeError:
        assert_raises_same(lambda: F.unfold(ember.tensor(x), **kw), lambda: TF.unfold(torch.tensor(x), **kw))
        return
    run(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), x)
    run(lambda c: F.fold(c, hw, **kw), lambda c: TF.fold(c, hw, **kw), to.numpy())


def test_fold_unfold_gradcheck():
    kw = dict(kernel_size=2, padding=1, stride=2, dilation=1)
    gradcheck(lambda x: F.unfold(x, **kw), arr(1, 2, 3, 3))
    gradcheck(lambda c: F.fold(c, (3, 3), **kw), arr(1, 8, 4))


def test_modules():
    for em, tm, x in [
        (nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2), arr(2, 3, 4, 6)),
        (
            nn.Unfold((2, 3), dilation=2, padding=1),
            torch.nn.Unfold((2, 3), dilation=2, padding=1),
            arr(3, 5, 5),
        ),
        (nn.Fold((4, 4), 2), torch.nn.Fold((4, 4), 2), arr(2, 12, 9)),
        (nn.Fold(5, 3, padding=1, stride=2), torch.nn.Fold(5, 3, padding=1, stride=2), arr(18, 9)),
    ]:
        assert repr(em) == repr(tm)
        run(em, tm, x)


FOLD_BAD = [
    lambda F, t: F.unfold(t(6, 6), 2),
    lambda F, t: F.unfold(t(1, 1, 4, 6, 6), 2),
    lambda F, t: F.unfold(t(2, 4, 6, 6), 7),
    lambda F, t: F.unfold(t(2, 4, 6, 6), 2, stride=0),
    lambda F, t: F.fold(t(1, 15, 9), (4, 4), 2),
    lambda F, t: F.fold(t(1, 16, 8), (4, 4), 2),
    lambda F, t: F.fold(t(1, 16, 8, 1), (4, 4), 2),
]


@pytest.mark.parametrize("bad", FOLD_BAD)
def test_fold_errors_match_torch(bad):
    def mk(lib):
        return lambda *s: lib.tensor(arr(*s))

    assert_raises_same(lambda: bad(F, mk(ember)), lambda: bad(TF, mk(torch)))


@pytest.mark.parametrize(
    "shape,r", [((2, 8, 3, 4), 2), ((18, 2, 2), 3), ((2, 1, 4, 3, 2), 2), ((1, 3, 2, 2), 1)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pixel_shuffle_and_unshuffle(shape, r, dtype):
    x = arr(*shape, dtype=dtype)
    eo, to = run(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), x)
    run(lambda y: F.pixel_unshuffle(y, r), lambda y: TF.pixel_unshuffle(y, r), to.detach().numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(eo, r).detach().numpy(), x)


@pytest.mark.parametrize(
    "shape,g", [((2, 6, 3, 3), 2), ((2, 6, 3, 3), 3), ((1, 4, 5), 4), ((2, 6, 2, 1, 2), 3)]
)
def test_channel_shuffle(shape, g):
    run(lambda x: F.channel_shuffle(x, g), lambda x: TF.channel_shuffle(x, g), arr(*shape))
    em, tm = nn.ChannelShuffle(g), torch.nn.ChannelShuffle(g)
    assert repr(em) == repr(tm)
    run(em, tm, arr(*shape))


def test_shuffle_modules_and_gradcheck():
    for em, tm, x in [(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), arr(2, 8, 2, 3)),
                      (nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), arr(2, 2, 4, 6))]:  # fmt: skip
        assert repr(em) == repr(tm)
        run(em, tm, x)
    gradcheck(lambda x: F.pixel_shuffle(x, 2), arr(1, 4, 2, 2))


SHUF_BAD = [
    lambda F, t: F.pixel_shuffle(t(1, 5, 2, 2), 2),
    lambda F, t: F.pixel_shuffle(t(4, 2), 2),
    lambda F, t: F.pixel_unshuffle(t(1, 1, 3, 4), 2),
    lambda F, t: F.pixel_unshuffle(t(1, 1, 4, 3), 2),
    lambda F, t: F.pixel_unshuffle(t(4, 4), 2),
    lambda F, t: F.channel_shuffle(t(1, 5, 2, 2), 2),
    lambda F, t: F.channel_shuffle(t(4, 2), 2),
    lambda F, t: F.channel_shuffle(t(1, 4, 2, 2), 0),
]


@pytest.mark.parametrize("bad", SHUF_BAD)
def test_shuffle_errors_match_torch(bad):
    def mk(lib):
        return lambda *s: lib.tensor(arr(*s))

    assert_raises_same(lambda: bad(F, mk(ember)), lambda: bad(TF, mk(torch)))


@settings(max_examples=10, deadline=None)
@given(
    lead=st.lists(st.integers(1, 2), max_size=2),
    c=st.integers(1, 3),
    r=st.integers(1, 3),
    hw=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    g=st.integers(1, 3),
)
def test_shuffles_hypothesis(lead, c, r, hw, g):
    x = arr(*lead, c * r * r, *hw, dtype=np.float64)
    _, to = run(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), x)
    run(lambda y: F.pixel_unshuffle(y, r), lambda y: TF.pixel_unshuffle(y, r), to.detach().numpy())
    xc = arr(2, c * g, *hw, dtype=np.float64)
    run(lambda x: F.channel_shuffle(x, g), lambda x: TF.channel_shuffle(x, g), xc)
