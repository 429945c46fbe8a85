"""AdaptiveMaxPool1d, MaxPool1d/AvgPool1d, max_pool2d(return_indices) + MaxUnpool1d/2d, LPPool1d/2d,
LocalResponseNorm, InstanceNorm1d/2d and Dropout1d/2d/3d on batch-last conv outputs, vs torch."""

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


# -- adaptive max pool 1d / max + avg pool 1d ---------------------------------------------------------
@pytest.mark.parametrize(
    "shape,out", [((2, 3, 10), 4), ((3, 7), 3), ((2, 2, 5), 5), ((1, 2, 4), 7), ((2, 1, 9), [2])]
)
def test_adaptive_max_pool1d(shape, out):
    x = arr(*shape)
    run(lambda x: F.adaptive_max_pool1d(x, out), lambda x: TF.adaptive_max_pool1d(x, out), x)
    run(lambda x: F.adaptive_max_pool1d(x, out, True), lambda x: TF.adaptive_max_pool1d(x, out, True), x)
    em, tm = (
        nn.AdaptiveMaxPool1d(out, return_indices=True),
        torch.nn.AdaptiveMaxPool1d(out, return_indices=True),
    )
    run(em, tm, x)
    assert repr(nn.AdaptiveMaxPool1d(3)) == repr(torch.nn.AdaptiveMaxPool1d(3))


def test_adaptive_max_pool1d_errors():
    for shape in [(2, 3, 4, 5), (5,)]:
        x = arr(*shape)
        assert_raises_same(
            lambda: F.adaptive_max_pool1d(ember.tensor(x), 2),
            lambda: TF.adaptive_max_pool1d(torch.tensor(x), 2),
        )


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 2),
    length=st.integers(1, 12),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil=st.booleans(),
    kind=st.sampled_from(["max", "avg"]),
)
def test_pool1d_hypothesis(n, length, k, s, p, d, ceil, kind):
    x = arr(n, 2, length, dtype=np.float64)
    if kind == "max":
        em, tm = (nn.MaxPool1d(k, s, p, d, return_indices=True, ceil_mode=ceil),
                  torch.nn.MaxPool1d(k, s, p, d, return_indices=True, ceil_mode=ceil))  # fmt: skip
    else:
        em, tm = (
            nn.AvgPool1d(k, s, p, ceil, count_include_pad=d == 1),
            torch.nn.AvgPool1d(k, s, p, ceil, d == 1),
        )
    try:
        tm(torch.tensor(x))
    except RuntimeError:
        assert_raises_same(lambda: em(ember.tensor(x)), lambda: tm(torch.tensor(x)))
        return
    run(em, tm, x)


# -- unpooling ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(2, 1))],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_indices_and_unpool2d(kw, dtype):
    x = arr(2, 3, 7, 8, dtype=dtype)
    _, (to, ti) = run(
        lambda x: F.max_pool2d(x, return_indices=True, **kw),
        lambda x: TF.max_pool2d(x, return_indices=True, **kw),
        x,
    )
    ukw = {k: v for k, v in kw.items() if k != "dilation"}
    y, idx = to.detach().numpy(), ti.numpy()
    try:  # the default output size may be smaller than the pooled input: then both must refuse
        TF.max_unpool2d(torch.tensor(y), torch.tensor(idx), **ukw)
        run(lambda y, i: F.max_unpool2d(y, i, **ukw), lambda y, i: TF.max_unpool2d(y, i, **ukw), y, idx)
    except RuntimeError:
        assert_raises_same(lambda: F.max_unpool2d(ember.tensor(y), ember.tensor(idx), **ukw),
                           lambda: TF.max_unpool2d(torch.tensor(y), torch.tensor(idx), **ukw))  # fmt: skip
    run(lambda y, i: F.max_unpool2d(y, i, output_size=(7, 8), **ukw),
        lambda y, i: TF.max_unpool2d(y, i, output_size=(7, 8), **ukw), y, idx)  # fmt: skip
    em, tm = nn.MaxUnpool2d(**ukw), torch.nn.MaxUnpool2d(**ukw)
    assert repr(em) == repr(tm)
    run(
        lambda y, i: em(y, i, output_size=[2, 3, 7, 8]),
        lambda y, i: tm(y, i, output_size=[2, 3, 7, 8]),
        y,
        idx,
    )


def test_max_unpool1d_and_unbatched():
    x = arr(2, 3, 9)
    to, ti = TF.max_pool1d(torch.tensor(x), 2, return_indices=True)
    run(lambda y, i: F.max_unpool1d(y, i, 2), lambda y, i: TF.max_unpool1d(y, i, 2), to.numpy(), ti.numpy())
    em, tm = nn.MaxUnpool1d(2), torch.nn.MaxUnpool1d(2)
    assert repr(em) == repr(tm)
    run(
        lambda y, i: em(y, i, output_size=[9]), lambda y, i: tm(y, i, output_size=[9]), to.numpy(), ti.numpy()
    )
    to, ti = TF.max_pool2d(torch.tensor(arr(3, 4, 4)), 2, return_indices=True)
    run(lambda y, i: F.max_unpool2d(y, i, 2), lambda y, i: TF.max_unpool2d(y, i, 2), to.numpy(), ti.numpy())
    eo, ei = F.max_pool1d_with_indices(ember.tensor(x), 3)
    assert_same(ei, TF.max_pool1d_with_indices(torch.tensor(x), 3)[1])


UNPOOL_BAD = [
    (np.array([[[[0, 1], [40, 3]]]]), dict()),
    (np.array([[[[0, 1], [4, 3]]]]), dict(output_size=(9, 9))),
    (np.array([[[[0, 1], [4, 3]]]]).astype(np.float32), dict()),
    (np.array([[[[0, 1, 2], [4, 3, 5]]]]), dict()),
]


@pytest.mark.parametrize("idx,kw", UNPOOL_BAD)
def test_unpool_errors_match_torch(idx, kw):
    x = arr(1, 1, 2, 2)
    assert_raises_same(lambda: F.max_unpool2d(ember.tensor(x), ember.tensor(idx), 2, **kw),
                       lambda: TF.max_unpool2d(torch.tensor(x), torch.tensor(idx), 2, **kw))  # fmt: skip


# -- LP pooling ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 1.5])
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=(3, 2), stride=(1, 2)),
        dict(kernel_size=3, stride=2, ceil_mode=True),
    ],
)
def test_lp_pool2d(p, kw):
    x = arr(2, 3, 7, 6, lo=0.1, hi=2.0) if p % 1 else arr(2, 3, 7, 6)
    run(lambda x: F.lp_pool2d(x, p, **kw), lambda x: TF.lp_pool2d(x, p, **kw), x)
    em, tm = nn.LPPool2d(p, **kw), torch.nn.LPPool2d(p, **kw)
    assert repr(em) == repr(tm)
    run(em, tm, x)


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_lp_pool1d(p):
    x = arr(2, 3, 9)
    run(lambda x: F.lp_pool1d(x, p, 3, 2), lambda x: TF.lp_pool1d(x, p, 3, 2), x)
    em, tm = nn.LPPool1d(p, 2), torch.nn.LPPool1d(p, 2)
    assert repr(em) == repr(tm)
    run(em, tm, x)
    gradcheck(lambda x: F.lp_pool2d(x, 2.0, 2), arr(1, 1, 4, 4, lo=0.5, hi=1.5))


# -- local response norm ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 6, 3, 4), (1, 4, 2, 3, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm(shape, size):
    kw = dict(size=size, alpha=1e-2, beta=0.75, k=2.0)
    run(lambda x: F.local_response_norm(x, **kw), lambda x: TF.local_response_norm(x, **kw), arr(*shape))
    em, tm = nn.LocalResponseNorm(size), torch.nn.LocalResponseNorm(size)
    assert repr(em) == repr(tm)
    run(em, tm, arr(*shape, dtype=np.float64))


def test_local_response_norm_errors_and_gradcheck():
    assert_raises_same(
        lambda: F.local_response_norm(ember.zeros(2, 3), 2),
        lambda: TF.local_response_norm(torch.zeros(2, 3), 2),
    )
    gradcheck(lambda x: F.local_response_norm(x, 3, alpha=0.5, k=1.5), arr(1, 4, 2, 2))


# -- instance norm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm2d", (3, 4, 5, 6)),
                                       ("InstanceNorm1d", (4, 6)), ("InstanceNorm2d", (4, 5, 6))])  # fmt: skip
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm_module(cls, shape, affine, track):
    kw = dict(affine=affine, track_running_stats=track, momentum=0.3)
    em, tm = getattr(nn, cls)(4, **kw), getattr(torch.nn, cls)(4, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    if affine:
        w, b = arr(4), arr(4)
        em.weight.data.copy_(ember.tensor(w))
        em.bias.data.copy_(ember.tensor(b))
        tm.weight.data.copy_(torch.tensor(w))
        tm.bias.data.copy_(torch.tensor(b))
    for _ in range(2):
        run(em, tm, arr(*shape))
        if affine:
            assert_same(em.weight.grad, tm.weight.grad, atol=1e-4)
            em.weight.grad = tm.weight.grad = None
    if track:
        assert_same(em.running_mean, tm.running_mean)
        assert_same(em.running_var, tm.running_var)
        assert_same(em.num_batches_tracked, tm.num_batches_tracked)
    em.eval()
    tm.eval()
    run(em, tm, arr(*shape))


def test_instance_norm_functional_and_gradcheck():
    x, w, b, rm, rv = arr(2, 3, 5, dtype=np.float64), arr(3), arr(3), arr(3), arr(3, lo=0.5, hi=2)
    run(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3), x, w.astype(np.float64), b.astype(np.float64))  # fmt: skip
    em, tm = ember.tensor(rm), torch.tensor(rm)
    ev, tv = ember.tensor(rv), torch.tensor(rv)
    x32 = x.astype(np.float32)
    assert_same(
        F.instance_norm(ember.tensor(x32), em, ev, momentum=0.5),
        TF.instance_norm(torch.tensor(x32), tm, tv, momentum=0.5),
    )
    assert_same(em, tm)
    assert_same(ev, tv)
    assert_same(F.instance_norm(ember.tensor(x32), em, ev, use_input_stats=False),
                TF.instance_norm(torch.tensor(x32), tm, tv, use_input_stats=False))  # fmt: skip
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), arr(2, 2, 3), arr(2), arr(2))


def test_instance_norm_errors_and_warning():
    for fe, ft in [
        (lambda: F.instance_norm(ember.zeros(2, 3, 1)), lambda: TF.instance_norm(torch.zeros(2, 3, 1))),
        (lambda: nn.InstanceNorm2d(3)(ember.zeros(1, 3, 4, 4, 1)), lambda: torch.nn.InstanceNorm2d(3)(torch.zeros(1, 3, 4, 4, 1))),
        (lambda: nn.InstanceNorm1d(3, affine=True)(ember.zeros(2, 4, 5)), lambda: torch.nn.InstanceNorm1d(3, affine=True)(torch.zeros(2, 4, 5))),
    ]:  # fmt: skip
        assert_raises_same(fe, ft)
    with pytest.warns(UserWarning, match="num_features"):
        nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))


# -- channel dropout on batch-last conv outputs -------------------------------------------------------
@pytest.mark.parametrize("name,nd", [("dropout2d", 2), ("dropout1d", 1), ("dropout3d", 3)])
def test_channel_dropout_on_batch_last_conv_output(name, nd):
    x = ember.tensor(arr(16, 3, 10, 10))
    w = ember.tensor(arr(5, 3, 3, 3), requires_grad=True) if nd == 2 else None
    y = F.conv2d(x, w) if nd == 2 else ember.tensor(arr(16, 5, *(8,) * nd))
    assert nd != 2 or y._batch_last, "the conv output should be batch-last for this test to mean anything"
    ref = y.detach().clone()
    ember.manual_seed(7)
    out = getattr(F, name)(y, 0.4)
    ember.manual_seed(7)
    expect = getattr(F, name)(ref, 0.4)  # a plain contiguous tensor: the general path is the oracle
    np.testing.assert_array_equal(out.detach().numpy(), expect.numpy())
    kept = out.detach().numpy().reshape(16, 5, -1) != 0
    assert (kept.all(-1) | ~kept.any(-1)).all(), "whole channels are dropped"
    frac = 1 - kept.any(-1).mean()
    assert 0.2 < frac < 0.6
    np.testing.assert_allclose(
        out.detach().numpy()[kept.reshape(out.shape)], (ref.numpy() / 0.6)[kept.reshape(out.shape)], rtol=1e-6
    )
    if w is not None:
        out.sum().backward()
        gy = (out.detach().numpy() != 0) / 0.6
        tw = torch.tensor(w.detach().numpy(), requires_grad=True)
        TF.conv2d(torch.tensor(x.numpy()), tw).backward(torch.tensor(gy.astype(np.float32)))
        assert_same(w.grad, tw.grad, atol=1e-3, rtol=1e-4)


def test_dropout2d_module_eval_and_alpha_dropout():
    m = nn.Dropout2d(0.5)
    x = ember.randn(4, 3, 5, 5)
    m.eval()
    assert m(x) is x or np.array_equal(m(x).numpy(), x.numpy())
    assert repr(m) == repr(torch.nn.Dropout2d(0.5))
    ember.manual_seed(0)
    a = F.alpha_dropout(ember.randn(20000), 0.2, training=True)
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 1) < 0.05  # self-normalising


def test_feature_alpha_dropout():
    ember.manual_seed(1)
    x = ember.randn(300, 40, 3, 3, requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.3, training=True)
    assert abs(float(y.mean())) < 0.03 and abs(float(y.std()) - 1) < 0.03  # keeps mean 0, variance 1
    a = 1 / np.sqrt((1.7580993408473766**2 * 0.3 + 1) * 0.7)
    dropped = np.isclose(y.detach().numpy(), -1.7580993408473766 * a + 1.7580993408473766 * a * 0.3)
    per_plane = dropped.reshape(300, 40, 9)
    assert (per_plane.all(-1) | ~per_plane.any(-1)).all() and 0.25 < per_plane.all(-1).mean() < 0.35
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0, a), rtol=1e-5, atol=1e-6)
    m = nn.FeatureAlphaDropout(0.2)
    assert repr(m) == repr(torch.nn.FeatureAlphaDropout(0.2))
    assert np.array_equal(m.eval()(x).detach().numpy(), x.detach().numpy())
    assert_raises_same(lambda: F.feature_alpha_dropout(ember.zeros(3), 0.5, True),
                       lambda: TF.feature_alpha_dropout(torch.zeros(3), 0.5, True))  # fmt: skip


def test_instance_norm3d():
    em, tm = nn.InstanceNorm3d(2, affine=True), torch.nn.InstanceNorm3d(2, affine=True)
    assert repr(em) == repr(tm)
    run(em, tm, arr(2, 2, 3, 4, 2))


def test_lp_pool_all_zero_window_gradient_is_zero_like_torch():
    x = np.array([[[[0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 3.0, -4.0]]]], np.float32)
    for p in [2.0, 3.0]:
        run(lambda x: F.lp_pool2d(x, p, 2), lambda x: TF.lp_pool2d(x, p, 2), x)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 5),
    hw=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    k=st.integers(1, 3),
    out=st.integers(1, 6),
    size=st.integers(1, 4),
    affine=st.booleans(),
)
def test_pool_norm_hypothesis(n, c, hw, k, out, size, affine):
    x = arr(n, c, *hw, dtype=np.float64)
    run(
        lambda x: F.adaptive_max_pool1d(x.flatten(2), out),
        lambda x: TF.adaptive_max_pool1d(x.flatten(2), out),
        x,
    )
    run(lambda x: F.local_response_norm(x, size), lambda x: TF.local_response_norm(x, size), x)
    em, tm = (
        nn.InstanceNorm2d(c, affine=affine, track_running_stats=True),
        torch.nn.InstanceNorm2d(c, affine=affine, track_running_stats=True),
    )
    run(em, tm, x.astype(np.float32))
    assert_same(em.running_var, tm.running_var)
    if min(hw) >= k:
        run(lambda x: F.lp_pool2d(x, 2.0, k), lambda x: TF.lp_pool2d(x, 2.0, k), x)
        to, ti = TF.max_pool2d(torch.tensor(x), k, return_indices=True)
        run(lambda y, i: F.max_unpool2d(y, i, k, output_size=hw), lambda y, i: TF.max_unpool2d(y, i, k, output_size=hw),
            to.numpy(), ti.numpy())  # fmt: skip
