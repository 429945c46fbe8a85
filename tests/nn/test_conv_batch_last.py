"""The batch-last convolution path (C*KH*KW >= 64) against torch, incl. stride/padding/dilation."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F


@pytest.mark.parametrize(
    "c,k,stride,padding,dilation,bias",
    [
        (8, 3, 1, 0, 1, True),
        (8, 3, 2, 1, 1, False),
        (6, 5, 1, 2, 1, True),
        (9, 3, (2, 1), (1, 0), (2, 1), True),
    ],
)
def test_batch_last_conv_matches_torch(c, k, stride, padding, dilation, bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, c, 11, 10)).astype(np.float32)
    w = rng.standard_normal((7, c, k, k)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32) if bias else None
    xe, we = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    be = ember.tensor(b, requires_grad=True) if bias else None
    bt = torch.tensor(b, requires_grad=True) if bias else None
    ye = F.conv2d(xe, we, be, stride=stride, padding=padding, dilation=dilation)
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(we.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_allclose(be.grad.numpy(), bt.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert ye.dtype == ember.float32 and ye.grad_fn.name() == "ConvolutionBackward0"


def test_batch_last_conv_only_input_grad_and_no_grad():
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((2, 8, 6, 6)).astype(np.float32), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 8, 3, 3)).astype(np.float32))
    F.conv2d(x, w).sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.nn.functional.conv2d(xt, torch.tensor(w.numpy())).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    with ember.no_grad():
        assert F.conv2d(x, w).grad_fn is None
