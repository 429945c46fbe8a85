"""ConvTranspose1d/2d (F.conv_transpose1d/2d) against torch: values, gradients, output_size,
groups, dilation, unbatched input, reprs, errors, and the DCGAN generator's blocks."""

import numpy as np
import pytest
import torch

import ember


def _pair(tcls, ecls, *args, **kw):
    tm, em = tcls(*args, **kw), ecls(*args, **kw)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, em


def _check(tm, em, x, **fw):
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    ty, ey = tm(tx, **fw), em(ex, **fw)
    assert tuple(ey.shape) == tuple(ty.shape) and ey.dtype == ember.float32
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(2).standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    ey.backward(ember.tensor(g))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (k, tp), (_, ep) in zip(tm.named_parameters(), em.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=k)


@pytest.mark.parametrize(
    "kw",
    [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"stride": 3, "padding": 2, "dilation": 2},
     {"stride": 2, "groups": 2, "bias": False}, {"stride": (2, 1), "padding": (0, 1), "kernel_size": (4, 3)}],
)  # fmt: skip
def test_conv_transpose2d(kw):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    tm, em = _pair(torch.nn.ConvTranspose2d, ember.nn.ConvTranspose2d, 4, 6, k, **kw)
    assert repr(em) == repr(tm) and tuple(em.weight.shape) == tuple(tm.weight.shape)
    _check(tm, em, np.random.default_rng(0).standard_normal((2, 4, 5, 6)).astype(np.float32))


def test_conv_transpose_output_size_unbatched_and_1d():
    tm, em = _pair(torch.nn.ConvTranspose2d, ember.nn.ConvTranspose2d, 3, 2, 3, stride=2, padding=1)
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(np.float32)
    _check(tm, em, x, output_size=(8, 10))
    _check(tm, em, x[0])  # unbatched (C, H, W)
    with pytest.raises(ValueError, match="requested an output size of"):
        em(ember.tensor(x), output_size=(20, 20))
    t1, e1 = _pair(torch.nn.ConvTranspose1d, ember.nn.ConvTranspose1d, 2, 3, 4, stride=2, padding=1)
    assert repr(e1) == repr(t1)
    _check(t1, e1, np.random.default_rng(3).standard_normal((2, 2, 7)).astype(np.float32))
    for lib in (torch, ember):
        with pytest.raises(
            RuntimeError, match="output padding must be smaller than either stride or dilation"
        ):
            lib.nn.functional.conv_transpose2d(lib.zeros(1, 1, 3, 3), lib.zeros(1, 1, 3, 3), output_padding=1)


def test_dcgan_generator_block():
    def gen(lib):
        nn = lib.nn
        return nn.Sequential(nn.ConvTranspose2d(8, 6, 4, 1, 0, bias=False), nn.BatchNorm2d(6), nn.ReLU(True),
                             nn.ConvTranspose2d(6, 3, 4, 2, 1, bias=False), nn.Tanh())  # fmt: skip

    tm, em = gen(torch), gen(ember)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    _check(tm, em, np.random.default_rng(4).standard_normal((3, 8, 1, 1)).astype(np.float32))
    w = ember.nn.ConvTranspose2d(16, 8, 3).weight.detach().numpy()
    bound = 1 / np.sqrt(8 * 9)  # kaiming_uniform(a=sqrt 5) on fan_in = weight.size(1) * k * k, as torch
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
