"""Batch-last activations (ops/batch_last.py): conv/pool/activation chains keep (C, H, W, N)
memory, yet every observable behaviour (values, gradients, strides, views sharing memory,
versions, save/load) is torch's contiguous tensor."""

import io

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember._layout import is_batch_last

RNG = np.random.default_rng(0)


def _arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _conv_out(n=4):
    x = _arr(n, 2, 9, 9)
    w = _arr(3, 2, 3, 3)
    ye = F.conv2d(ember.tensor(x), ember.tensor(w))
    yt = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w))
    return ye, yt


def test_conv_output_is_batch_last_inside():
    ye, _ = _conv_out()
    assert is_batch_last(ye._data) and ye._batch_last  # the fast layout is really used


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("pad,stride", [(0, 1), (1, 1), (2, 2)])
def test_lenet_like_chain_matches_torch(act, pad, stride):
    x, w1, b1, w2, b2 = _arr(5, 1, 16, 16), _arr(4, 1, 5, 5), _arr(4), _arr(6, 4, 3, 3), _arr(6)
    outs, grads = [], []
    for lib in (ember, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in (x, w1, b1, w2, b2)]
        f = getattr(lib, act)
        h = lib.nn.functional.max_pool2d(f(lib.nn.functional.conv2d(ts[0], ts[1], ts[2], stride, pad)), 2)
        h = lib.nn.functional.max_pool2d(f(lib.nn.functional.conv2d(h, ts[3], ts[4], padding=1)), 2)
        out = h.view(h.size(0), -1)
        (out * lib.tensor(np.linspace(-1, 1, out.shape[1], dtype=np.float32))).sum().backward()
        outs.append(out.detach().numpy())
        grads.append([t.grad.numpy() for t in ts])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5)
    for ge, gt in zip(*grads):
        np.testing.assert_allclose(ge, gt, rtol=1e-4, atol=1e-4)


def test_strides_contiguity_and_view_are_torchs():
    ye, yt = _conv_out()
    assert ye.is_contiguous() and yt.is_contiguous()
    assert ye.stride() == yt.stride()
    v = ye.view(ye.size(0), -1)  # the LeNet idiom must work and be a real view
    v[0, 0] = 123.0
    assert ye[0, 0, 0, 0].item() == 123.0
    assert v._base is ye


def test_detach_and_numpy_share_memory():
    ye, _ = _conv_out()
    d = ye.detach()
    d[1, 2, 3, 4] = -7.0
    assert ye[1, 2, 3, 4].item() == -7.0
    a = F.relu(ye).numpy()
    assert a.flags.c_contiguous


def test_indexing_a_batch_last_tensor_is_a_view():
    ye, yt = _conv_out()
    r = F.relu(ye)
    s = r[1]
    assert s.stride() == torch.relu(yt)[1].stride()
    s.fill_(2.5)
    assert float(r[1].sum().item()) == pytest.approx(2.5 * s.numel())


def test_data_ptr_and_storage_offset_match_a_view():
    ye, _ = _conv_out()
    p = ye.data_ptr()
    assert ye.view(-1).data_ptr() == p and ye.storage_offset() == 0


def test_version_counter_survives_normalisation():
    """A tensor saved by a non-layout op, then modified in place: torch's error, not a silent
    wrong gradient (normalising keeps the version counter)."""
    for lib in (ember, torch):
        x = lib.tensor(_arr(3, 2, 6, 6))
        w = lib.tensor(_arr(2, 2, 3, 3), requires_grad=True)
        y = lib.nn.functional.conv2d(x, w)
        z = y * y  # saves y
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_in_place_activation_keeps_values():
    ye, yt = _conv_out()
    F.relu(ye, inplace=True)
    torch.relu_(yt)
    np.testing.assert_allclose(ye.numpy(), yt.numpy(), rtol=1e-5, atol=1e-5)
    assert ye.is_contiguous()


def test_retain_grad_and_hook_see_contiguous_gradients():
    x = _arr(4, 2, 8, 8)
    w = _arr(3, 2, 3, 3)
    seen = {}
    res = []
    for lib in (ember, torch):
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(lib.tensor(x), wt)
        y.retain_grad()
        r = lib.relu(y)
        r.register_hook(lambda g, lib=lib: seen.__setitem__(lib.__name__, (g.stride(), g.view(-1).shape)))
        lib.nn.functional.max_pool2d(r, 2).sum().backward()
        res.append((y.grad.stride(), y.grad.is_contiguous(), y.grad.numpy().copy()))
    assert res[0][:2] == res[1][:2]
    np.testing.assert_allclose(res[0][2], res[1][2], rtol=1e-5, atol=1e-6)
    assert seen["ember"] == seen["torch"]


def test_save_load_round_trip_is_contiguous():
    ye, _ = _conv_out()
    ye = F.relu(ye)
    buf = io.BytesIO()
    ember.save(ye, buf)
    buf.seek(0)
    back = ember.load(buf)
    assert back.is_contiguous() and back.stride() == ye.stride()
    np.testing.assert_array_equal(back.numpy(), ye.numpy())
    buf.seek(0)
    tt = torch.load(buf)
    assert tt.is_contiguous()
    np.testing.assert_array_equal(tt.numpy(), ye.numpy())


def test_repr_matches_torch():
    ye, yt = _conv_out(n=2)
    ye, yt = F.relu(ye), torch.relu(yt)
    assert repr(ye[:, :, :2, :2]) == repr(yt[:, :, :2, :2]).replace("torch", "ember")


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=2, stride=1),
        dict(kernel_size=2, ceil_mode=True),
        dict(kernel_size=2, return_indices=True),
    ],
)
def test_other_pools_on_a_batch_last_input(kw):
    x = _arr(3, 2, 9, 9)
    w = _arr(4, 2, 2, 2)
    res = []
    for lib in (ember, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.relu(lib.nn.functional.conv2d(xt, lib.tensor(w)))
        out = lib.nn.functional.max_pool2d(y, **kw)
        o = out[0] if isinstance(out, tuple) else out
        (o * o).sum().backward()
        res.append(
            [t.detach().numpy() for t in (out if isinstance(out, tuple) else (out,))] + [xt.grad.numpy()]
        )
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_other_ops_on_batch_last_inputs():
    """Non-layout ops (batch norm, grouped conv, avg pool, cat, add) see plain NCHW values."""
    x, w = _arr(4, 4, 8, 8), _arr(4, 4, 3, 3)
    res = []
    for lib in (ember, torch):
        y = lib.nn.functional.conv2d(lib.tensor(x), lib.tensor(w))
        bn = lib.nn.functional.batch_norm(y, None, None, training=True)
        g = lib.nn.functional.conv2d(y, lib.tensor(w[:, :2]), groups=2)
        a = lib.nn.functional.avg_pool2d(y, 2)
        c = lib.cat([y, y + 1], 1)
        res.append([t.numpy() for t in (bn, g, a, c)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_batch_of_one_and_no_grad():
    x, w = _arr(1, 1, 7, 7), _arr(2, 1, 3, 3)
    with ember.no_grad():
        ye = F.max_pool2d(F.relu(F.conv2d(ember.tensor(x), ember.tensor(w))), 2)
    yt = torch.nn.functional.max_pool2d(
        torch.relu(torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w))), 2
    )
    assert ye.stride() == yt.stride()
    np.testing.assert_allclose(ye.numpy(), yt.numpy(), rtol=1e-5, atol=1e-6)


def test_max_pool_ties_and_nan_on_batch_last_input():
    """First maximum wins on ties (relu zeros) and a NaN is the max of its window."""
    x = np.zeros((3, 2, 6, 6), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[1, 1, 2:4, 2:4] = 1.0
    w = np.ones((2, 2, 1, 1), np.float32)
    res = []
    for lib in (ember, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.max_pool2d(lib.relu(lib.nn.functional.conv2d(xt, lib.tensor(w))), 2)
        y.backward(lib.ones_like(y))
        res.append((y.detach().numpy(), xt.grad.numpy()))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_keeps_batch_last_and_matches_torch(training):
    x, w = _arr(6, 3, 10, 10), _arr(4, 3, 3, 3)
    res = []
    for lib in (ember, torch):
        lib.manual_seed(0)
        conv = lib.nn.Conv2d(3, 4, 3)
        bn = lib.nn.BatchNorm2d(4)
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(w))
            conv.bias.zero_()
            bn.weight.copy_(lib.tensor([0.5, 1.0, 1.5, 2.0]))
        bn.train(training)
        xt = lib.tensor(x, requires_grad=True)
        y = bn(conv(xt))
        if lib is ember:
            assert y._batch_last  # stayed batch-last through the norm
        out = lib.nn.functional.max_pool2d(lib.relu(y), 2)
        (out * out).sum().backward()
        res.append(
            [out.detach().numpy(), xt.grad.numpy(), conv.weight.grad.numpy(), bn.weight.grad.numpy()]
            + [bn.running_mean.numpy(), bn.running_var.numpy(), y.stride()]
        )
    for a, b in zip(res[0][:-1], res[1][:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert res[0][-1] == res[1][-1]
