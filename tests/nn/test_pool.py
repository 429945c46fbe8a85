"""Pooling (max / avg / adaptive, 1-d and 2-d) and F.pad / interpolate / dropout2d vs torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same, pair

import ember
import ember.nn.functional as F
from ember import nn

rng = np.random.default_rng(1)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def _run(fe, ft, x, atol=1e-6):
    (ex, tx) = pair(x, requires_grad=True)
    eo, to = fe(ex), ft(tx)
    if isinstance(to, tuple):
        assert_same(eo[1], to[1])
        eo, to = eo[0], to[0]
    assert_same(eo, to, atol=atol)
    g = rng.standard_normal(tuple(to.shape)).astype(x.dtype)
    eo.backward(ember.Tensor._wrap(g.copy()))
    to.backward(torch.from_numpy(g.copy()))
    assert_same(ex.grad, tx.grad, atol=atol * 10)


MAX = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, ceil_mode=True, padding=1),
    dict(kernel_size=2, return_indices=True),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, return_indices=True, ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAX)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 7, 9), (3, 7, 9)])
def test_max_pool2d(kw, shape):
    _run(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), _f32(*shape))


def test_max_pool2d_ties_go_to_first_max():
    x = np.zeros((1, 1, 4, 4), np.float32)
    _run(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x)
    _run(lambda x: F.max_pool2d(x, 3, 1), lambda x: TF.max_pool2d(x, 3, 1), x)


def test_max_pool_nan_propagates_and_float64():
    x = _f32(1, 2, 4, 4)
    x[0, 0, 1, 1] = np.nan
    (ex, tx) = pair(x)
    assert_same(F.max_pool2d(ex, 2), TF.max_pool2d(tx, 2))
    _run(
        lambda x: F.max_pool2d(x, 3, 2, 1),
        lambda x: TF.max_pool2d(x, 3, 2, 1),
        rng.standard_normal((2, 2, 7, 7)),
    )


AVG = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, divisor_override=3),
]


@pytest.mark.parametrize("kw", AVG)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 7, 9), (3, 7, 9)])
def test_avg_pool2d(kw, shape):
    _run(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), _f32(*shape))


@pytest.mark.parametrize("size", [1, 2, 3, (5, 4), (None, 3), (4, None), (7, 9), (8, 11)])
def test_adaptive_avg_pool2d(size):
    _run(
        lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), _f32(2, 3, 7, 9)
    )


@pytest.mark.parametrize("size", [1, (3, 2), (7, 4), (None, 5)])
def test_adaptive_max_pool2d(size):
    _run(
        lambda x: F.adaptive_max_pool2d(x, size, return_indices=True),
        lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True),
        _f32(2, 3, 7, 9),
    )


def test_pool1d():
    x = _f32(2, 3, 11)
    _run(lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: TF.max_pool1d(x, 3, 2, 1), x)
    _run(
        lambda x: F.max_pool1d(x, 2, return_indices=True),
        lambda x: TF.max_pool1d(x, 2, return_indices=True),
        x,
    )
    _run(lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), lambda x: TF.avg_pool1d(x, 3, 2, 1, True, False), x)
    _run(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: TF.adaptive_avg_pool1d(x, 4), x)


@pytest.mark.parametrize(
    "fe,ft,shape",
    [
        (lambda x: F.max_pool2d(x, 2, padding=2), lambda x: TF.max_pool2d(x, 2, padding=2), (2, 4, 8, 8)),
        (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), (2, 4, 1, 1)),
        (lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), (2, 4, 1, 1)),
        (lambda x: F.avg_pool2d(x, 2, padding=2), lambda x: TF.avg_pool2d(x, 2, padding=2), (2, 4, 8, 8)),
        (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), (4, 8)),
        (lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: TF.adaptive_avg_pool2d(x, 2), (4, 8)),
    ],
)
def test_pool_errors(fe, ft, shape):
    (ex, tx) = pair(_f32(*shape))
    err = assert_raises_same(lambda: fe(ex), lambda: ft(tx))
    with pytest.raises(type(err)) as ee:
        fe(ex)
    assert str(ee.value) == str(err)


def test_pool_modules_repr_and_forward():
    x = _f32(2, 3, 9, 9)
    for args, name, kw in [
        ((2,), "MaxPool2d", {}),
        ((3, 2, 1), "MaxPool2d", dict(ceil_mode=True)),
        ((3,), "AvgPool2d", dict(stride=2, count_include_pad=False)),
        (((None, 4),), "AdaptiveAvgPool2d", {}),
        ((3,), "AdaptiveMaxPool2d", {}),
    ]:
        em, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(em) == repr(tm)
        _run(em, tm, x)
    for name in ("MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d"):
        em, tm = getattr(nn, name)(3), getattr(torch.nn, name)(3)
        assert repr(em) == repr(tm)
        _run(em, tm, _f32(2, 3, 10))
    em, tm = nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    (ex, tx) = pair(x)
    assert_same(em(ex), tm(tx))


def test_max_pool_gradcheck_float64():
    x = ember.Tensor._wrap(rng.permutation(50).reshape(1, 2, 5, 5).astype(np.float64)).requires_grad_()
    assert ember.autograd.gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert ember.autograd.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert ember.autograd.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (x,))


@pytest.mark.parametrize(
    "p,mode",
    [
        ((1, 2), "constant"),
        ((1, 0, 2, 1), "constant"),
        ((-1, 2, 0, -2), "constant"),
        ((2, 1, 1, 2), "reflect"),
        ((2, 3, 1, 0), "replicate"),
        ((3, 1, 2, 2), "circular"),
    ],
)
def test_pad(p, mode):
    x = _f32(2, 3, 5, 6)
    _run(lambda x: F.pad(x, p, mode=mode), lambda x: TF.pad(x, p, mode=mode), x)
    if mode == "constant":
        (ex, tx) = pair(x)
        assert_same(F.pad(ex, p, value=2.5), TF.pad(tx, p, value=2.5))


def test_pad_errors():
    (ex, tx) = pair(_f32(1, 2, 3, 3))
    assert_raises_same(lambda: F.pad(ex, (1,)), lambda: TF.pad(tx, (1,)))
    assert_raises_same(
        lambda: F.pad(ex, (3, 3, 0, 0), mode="reflect"), lambda: TF.pad(tx, (3, 3, 0, 0), mode="reflect")
    )
    err = assert_raises_same(
        lambda: F.pad(ex, (1, 1), mode="reflect"), lambda: TF.pad(tx, (1, 1), mode="reflect")
    )
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D"):
        F.pad(ex, (1, 1), mode="reflect")
    assert "Padding size 2" in str(err)
    _run(
        lambda x: F.pad(x, (2, 1), mode="reflect"), lambda x: TF.pad(x, (2, 1), mode="reflect"), _f32(2, 3, 4)
    )


@pytest.mark.parametrize(
    "kw", [dict(scale_factor=2), dict(size=(5, 7)), dict(size=3), dict(scale_factor=(1.5, 0.5))]
)
def test_interpolate_nearest(kw):
    _run(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), _f32(2, 3, 4, 6))


def test_dropout2d_zeroes_whole_channels():
    ember.manual_seed(0)
    x = ember.ones(8, 16, 3, 3)
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    assert F.dropout2d(x, 0.5, training=False) is x
