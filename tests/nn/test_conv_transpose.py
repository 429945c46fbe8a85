"""conv_transpose1d / conv_transpose2d and ConvTranspose1d / ConvTranspose2d vs torch."""

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

OPTS = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
    dict(dilation=2, padding=1),
    dict(dilation=(2, 1), stride=(1, 2), output_padding=(1, 1)),  # output_padding < dilation
    dict(groups=2, stride=2, padding=1),
    dict(groups=4, stride=3, dilation=2, padding=2, output_padding=2),
]


@pytest.mark.parametrize("kw", OPTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d(kw, dtype, bias):
    g = kw.get("groups", 1)
    x, w = arr(2, 4, 5, 6, dtype=dtype), arr(4, 6 // 2 * 2 // g, 3, 2, dtype=dtype)
    args = (x, w) + ((arr(w.shape[1] * g, dtype=dtype),) if bias else ())
    run(lambda *a: F.conv_transpose2d(*a, **kw), lambda *a: TF.conv_transpose2d(*a, **kw), *args)


OPTS1 = [dict(), dict(stride=3, padding=1, output_padding=2), dict(dilation=3, groups=2), dict(padding=2)]


@pytest.mark.parametrize("kw", OPTS1)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose1d(kw, dtype):
    x, w, b = arr(3, 4, 7, dtype=dtype), arr(4, 3, 3, dtype=dtype), arr(3 * kw.get("groups", 1), dtype=dtype)
    run(lambda *a: F.conv_transpose1d(*a, **kw), lambda *a: TF.conv_transpose1d(*a, **kw), x, w, b)


def test_unbatched_input():
    run(lambda x, w: F.conv_transpose2d(x, w, stride=2), lambda x, w: TF.conv_transpose2d(x, w, stride=2),
        arr(3, 4, 4), arr(3, 2, 3, 3))  # fmt: skip
    run(F.conv_transpose1d, TF.conv_transpose1d, arr(3, 5), arr(3, 2, 2))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 3),
    cin_g=st.integers(1, 3),
    cout_g=st.integers(1, 3),
    g=st.integers(1, 2),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    p=st.integers(0, 2),
    data=st.data(),
)
def test_conv_transpose2d_hypothesis(n, cin_g, cout_g, g, k, s, d, hw, p, data):
    op = tuple(data.draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    outs = [(hw[i] - 1) * s[i] - 2 * p + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2)]
    x, w, b = arr(n, cin_g * g, *hw), arr(cin_g * g, cout_g, *k), arr(cout_g * g)
    if min(outs) < 0:
        assert_raises_same(
            lambda: F.conv_transpose2d(ember.tensor(x), ember.tensor(w), None, **kw),
            lambda: TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, **kw),
        )
        return
    if min(outs) == 0:  # torch's answer depends on its backend here (empty tensor or an error)
        out = F.conv_transpose2d(ember.tensor(x), ember.tensor(w), None, **kw)
        assert tuple(out.shape) == (n, cout_g * g, *outs)
        return
    run(lambda *a: F.conv_transpose2d(*a, **kw), lambda *a: TF.conv_transpose2d(*a, **kw), x, w, b)


def test_gradcheck_float64():
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), arr(1, 2, 3, 2), arr(2, 1, 2, 3), arr(2))
    gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2, dilation=2), arr(2, 2, 3), arr(2, 2, 2))


def test_is_adjoint_of_conv2d():
    # <conv(x), y> == <x, conv_transpose(y)> for the same weight
    x, y, w = (
        arr(2, 3, 9, 9, dtype=np.float64),
        arr(2, 4, 5, 5, dtype=np.float64),
        arr(4, 3, 3, 3, dtype=np.float64),
    )
    ex, ey, ew = ember.tensor(x), ember.tensor(y), ember.tensor(w)
    lhs = float((F.conv2d(ex, ew, stride=2, padding=1) * ey).sum())
    rhs = float((ex * F.conv_transpose2d(ey, ew, stride=2, padding=1, output_padding=0)).sum())
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))


def test_module_matches_torch_with_copied_weights_and_output_size():
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=1, bias=True)
    em = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=1, bias=True)
    assert [(k, tuple(v.shape)) for k, v in em.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tm.state_dict().items()
    ]
    em.weight.data.copy_(ember.tensor(tm.weight.detach().numpy()))
    em.bias.data.copy_(ember.tensor(tm.bias.detach().numpy()))
    x = arr(2, 4, 5, 5)
    for size in [None, (10, 10), (9, 10), [2, 6, 10, 9], (6, 9, 9)]:
        if size is not None and len(size) == 3:
            assert_raises_same(
                lambda: em(ember.tensor(x), output_size=size), lambda: tm(torch.tensor(x), output_size=size)
            )
            continue
        run(lambda a: em(a, output_size=size), lambda a: tm(a, output_size=size), x)
    for bad in [(20, 20), (8, 10)]:
        assert_raises_same(
            lambda: em(ember.tensor(x), output_size=bad), lambda: tm(torch.tensor(x), output_size=bad)
        )
    assert repr(em) == repr(tm)
    t1 = torch.nn.ConvTranspose1d(3, 2, 4, stride=3, output_padding=1, bias=False, dilation=2)
    e1 = nn.ConvTranspose1d(3, 2, 4, stride=3, output_padding=1, bias=False, dilation=2)
    assert repr(e1) == repr(t1)
    e1.weight.data.copy_(ember.tensor(t1.weight.detach().numpy()))
    run(e1, t1, arr(2, 3, 6))
    run(lambda a: e1(a, output_size=[23]), lambda a: t1(a, output_size=[23]), arr(3, 6))


def test_module_init_range_and_dtype():
    m = nn.ConvTranspose2d(8, 4, 3, groups=2, dtype=ember.float64)
    assert m.weight.shape == (8, 2, 3, 3) and m.weight.dtype == ember.float64
    bound = 1 / np.sqrt(2 * 9)  # fan_in = weight.size(1) * k * k, as torch computes it
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError):
        nn.ConvTranspose2d(3, 2, 3, groups=2)


def test_float32_stays_float32_and_dcgan_shapes():
    g = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 1, 0, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.ConvTranspose2d(4, 1, 4, 2, 1, bias=False), nn.Tanh())  # fmt: skip
    out = g(ember.randn(5, 8, 1, 1))
    assert out.shape == (5, 1, 8, 8) and out.dtype == ember.float32
    out.mean().backward()
    assert g[0].weight.grad.shape == (8, 4, 4, 4)


BAD = [
    lambda F, t: F.conv_transpose2d(t(2, 3, 5, 5), t(4, 2, 3, 3)),  # channels
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), stride=2, output_padding=2),
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), padding=4),  # output too small
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), t(3)),  # bias size
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), groups=2),
    lambda F, t: F.conv_transpose2d(t(5, 5), t(3, 2, 3, 3)),
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), stride=0),
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), padding=-1),
    lambda F, t: F.conv_transpose2d(t(1, 3, 5, 5), t(3, 2, 3, 3), padding="same"),
    lambda F, t: F.conv_transpose1d(t(1, 3, 5), t(3, 2, 3), padding=-1),
]


@pytest.mark.parametrize("bad", BAD)
def test_errors_match_torch(bad):
    def mk(lib):
        return lambda *s: lib.tensor(arr(*s))

    err = assert_raises_same(lambda: bad(F, mk(ember)), lambda: bad(TF, mk(torch)))
    assert err is not None


def test_dtype_mismatch_error():
    x, w = arr(1, 3, 5, 5), arr(3, 2, 3, 3)
    assert_raises_same(
        lambda: F.conv_transpose2d(ember.tensor(x.astype(np.float64)), ember.tensor(w)),
        lambda: TF.conv_transpose2d(torch.tensor(x.astype(np.float64)), torch.tensor(w)),
    )


def test_output_dtype_and_values_float64():
    x, w = arr(1, 2, 3, 3, dtype=np.float64), arr(2, 2, 2, 2, dtype=np.float64)
    eo = F.conv_transpose2d(ember.tensor(x), ember.tensor(w), stride=2)
    assert_same(eo, TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2), atol=1e-12)


@pytest.mark.parametrize(
    "kw", [dict(stride=2, padding=1), dict(stride=1, dilation=2), dict(stride=(2, 3), output_padding=(1, 2))]
)
@pytest.mark.parametrize("rows_bytes", [1, 1 << 30])  # one input row per block / one block
def test_row_paths_match_general_path(kw, rows_bytes, monkeypatch):
    """forward_rows / backward_rows (row blocks of the columns) against forward_general /
    backward_general as oracle."""
    import ember.ops.conv_transpose as CT

    monkeypatch.setattr(CT, "ROWS_BYTES", rows_bytes)
    fwd, bwd = CT.uses_rows, CT.uses_rows_backward
    x, w, b = arr(3, 4, 5, 6, dtype=np.float64), arr(4, 3, 3, 3, dtype=np.float64), arr(3, dtype=np.float64)
    results, taken = [], []
    for fast in (True, False):
        monkeypatch.setattr(CT, "uses_rows", lambda *a: taken.append(fwd(*a)) or (fast and taken[-1]))
        monkeypatch.setattr(
            CT, "uses_rows_backward", lambda *a: taken.append(bwd(*a)) or (fast and taken[-1])
        )
        ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.conv_transpose2d(ex, ew, eb, **kw)
        out.backward(ember.tensor(np.cos(np.arange(out.numel())).reshape(out.shape)))
        results.append((out.detach().numpy(), ex.grad.numpy(), ew.grad.numpy(), eb.grad.numpy()))
    assert taken[0] and taken[1], "both row paths should be eligible here"
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_batch_last_output_feeds_batchnorm_and_next_layer():
    # the NumPy output is batch-last; BatchNorm/ReLU and the next ConvTranspose2d take it as is
    tm = torch.nn.Sequential(torch.nn.ConvTranspose2d(6, 4, 4, 1, 0), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.ConvTranspose2d(4, 2, 4, 2, 1), torch.nn.BatchNorm2d(2), torch.nn.Tanh())  # fmt: skip
    em = nn.Sequential(nn.ConvTranspose2d(6, 4, 4, 1, 0), nn.BatchNorm2d(4), nn.ReLU(),
                       nn.ConvTranspose2d(4, 2, 4, 2, 1), nn.BatchNorm2d(2), nn.Tanh())  # fmt: skip
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    mid = em[0](ember.tensor(arr(5, 6, 1, 1)))
    assert mid._batch_last
    run(em, tm, arr(5, 6, 1, 1), atol=1e-5)
