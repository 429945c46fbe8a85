"""Tensor.resize_ against torch: shrink, grow, views, non-contiguous tensors, errors; and the
out= paths that resize (geqrf, householder_product)."""

import numpy as np
import pytest
import torch

import ember


def _pair(make):
    return make(ember), make(torch)


def _same(e, t):
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_shrink_and_grow_back_keep_the_storage():
    e, t = _pair(lambda m: m.arange(12.0))
    _same(e.resize_(3, 2), t.resize_(3, 2))
    _same(e.resize_([4, 3]), t.resize_([4, 3]))  # within the storage: the old values again
    _same(e.resize_(ember.Size([2, 2])), t.resize_(torch.Size([2, 2])))
    _same(e.resize_(0), t.resize_(0))
    assert e.resize_(2, 2) is e


def test_grow_past_the_storage_keeps_the_old_elements():
    e, t = _pair(lambda m: m.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3)))
    e.resize_(3, 4)
    t.resize_(3, 4)
    np.testing.assert_array_equal(e.reshape(-1)[:6].numpy(), t.reshape(-1)[:6].numpy())
    assert tuple(e.shape) == (3, 4) and e.dtype == ember.float32


def test_views_and_non_contiguous():
    eb, tb = _pair(lambda m: m.arange(6.0))
    ev, tv = eb[1:4], tb[1:4]
    _same(ev.resize_(2), tv.resize_(2))
    _same(ev.resize_(5), tv.resize_(5))  # reads the base's storage past the view
    ev[0] = 9.0
    tv[0] = 9.0
    _same(eb, tb)  # still shares memory
    with pytest.raises(RuntimeError, match="past its storage"):
        ev.resize_(9)
    e, t = _pair(lambda m: m.arange(6.0).reshape(2, 3).t())
    _same(e.resize_(3, 2), t.resize_(3, 2))  # same shape: strides kept
    _same(e.resize_(2, 3), t.resize_(2, 3))  # laid out contiguously from the storage offset


def test_errors_and_version():
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        ember.randn(3, requires_grad=True).resize_(4)
    with pytest.raises(TypeError, match="must be tuple of ints"):
        ember.zeros(2).resize_(2.0)
    e, t = _pair(lambda m: m.zeros(4))
    e.resize_(2, 2)
    t.resize_(2, 2)
    assert e._version == t._version


def test_out_arguments_that_resize():
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = (ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.float64))
    a, tau = ember.geqrf(ember.tensor(x), out=out)
    ta, ttau = torch.geqrf(torch.tensor(x))
    assert a is out[0]
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tau.numpy(), ttau.numpy(), rtol=1e-10, atol=1e-12)
    q = ember.empty(0, dtype=ember.float64)
    ember.linalg.householder_product(a, tau, out=q)
    np.testing.assert_allclose(q.numpy(), torch.linalg.householder_product(ta, ttau).numpy(), atol=1e-12)
