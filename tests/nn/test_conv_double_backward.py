"""Double backward (create_graph=True) through conv1d/conv2d against torch: a gradient penalty
on the input's and the weight's gradients, differentiated again (ops/conv_graph.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

CASES = [  # (input shape, weight shape, kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=1)),  # batch-last path
    ((2, 3, 9, 7), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((2, 3, 10, 10), (4, 3, 3, 2), dict(dilation=2, padding=(2, 1))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),  # NCHW path (groups)
    ((2, 3, 8, 8), (4, 3, 4, 4), dict(padding="same")),  # asymmetric padding
    ((2, 3, 9, 9), (4, 3, 3, 3), dict(stride=3)),  # rows no window reads
    ((2, 3, 12), (5, 3, 3), dict(stride=2, padding=1)),  # conv1d
]


def _penalty(lib, x, w, b, kw):
    f = lib.nn.functional.conv1d if x.dim() == 3 else lib.nn.functional.conv2d
    y = f(x, w, b, **kw)
    gx, gw = lib.autograd.grad((y * y).sum() + y.sum(), (x, w), create_graph=True)
    return (gx * gx).sum() + (gw * gw * gw).sum()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv_double_backward_matches_torch(case, dtype):
    xs, ws, kw = case
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[0],))]
    grads = {}
    for lib in (ember, torch):
        x, w, b = (lib.from_numpy(a.copy()).requires_grad_() for a in arrays)
        _penalty(lib, x, w, b, kw).backward()
        grads[lib.__name__] = [t.grad.numpy().copy() for t in (x, w, b)]
    tol = 1e-9 if dtype == "float64" else 2e-4
    for e, t in zip(grads["ember"], grads["torch"]):
        np.testing.assert_allclose(e, t, rtol=tol, atol=tol * np.abs(t).max())


def test_conv_double_backward_gradcheck():
    rng = np.random.default_rng(4)
    x = ember.from_numpy(rng.standard_normal((1, 2, 5, 5))).requires_grad_()
    w = ember.from_numpy(rng.standard_normal((3, 2, 3, 3))).requires_grad_()
    fn = lambda a, b: ember.nn.functional.conv2d(a, b, stride=2, padding=1)  # noqa: E731
    assert ember.autograd.gradgradcheck(fn, (x, w))


def test_conv_third_derivative_raises_clearly():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    y = ember.nn.functional.conv2d(x, w, padding=1)
    (g,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="conv_transpose"):  # a third derivative through it
        ember.autograd.grad((g * g).sum(), w, create_graph=True)
