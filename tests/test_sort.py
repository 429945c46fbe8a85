"""sort / argsort / topk / kthvalue against torch: values, indices, gradients, NaN order."""

import numpy as np
import pytest
import torch

import ember


def pair(a, grad=True):
    return ember.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 7.0


@pytest.mark.parametrize("shape,dim", [((6,), -1), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_values_indices_and_grad(shape, dim, descending):
    a = distinct(shape)
    e, t = pair(a)
    ve, ie = ember.sort(e, dim=dim, descending=descending)
    vt, it = torch.sort(t, dim=dim, descending=descending)
    np.testing.assert_array_equal(ve.detach().numpy(), vt.detach().numpy())
    np.testing.assert_array_equal(ie.numpy(), it.numpy())
    w = np.random.default_rng(1).standard_normal(ve.shape)
    (ve * ember.tensor(w)).sum().backward()
    (vt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())
    assert ve.grad_fn.name() == vt.grad_fn.name()
    assert ie.dtype == ember.int64


def test_sort_stable_ties_and_nan_like_torch():
    a = np.array([3.0, 1.0, np.nan, 1.0, 3.0, -2.0])
    for desc in (False, True):
        ve, ie = ember.tensor(a).sort(descending=desc, stable=True)
        vt, it = torch.tensor(a).sort(descending=desc, stable=True)
        np.testing.assert_array_equal(ve.numpy(), vt.numpy())
        np.testing.assert_array_equal(ie.numpy(), it.numpy())
    np.testing.assert_array_equal(
        ember.tensor(a).argsort(stable=True).numpy(), torch.tensor(a).argsort(stable=True).numpy()
    )


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_topk(largest, k):
    a = distinct((4, 6), seed=2)
    e, t = pair(a)
    ve, ie = e.topk(k, dim=1, largest=largest)
    vt, it = t.topk(k, dim=1, largest=largest)
    np.testing.assert_array_equal(ve.detach().numpy(), vt.detach().numpy())
    np.testing.assert_array_equal(ie.numpy(), it.numpy())
    ve.sum().backward()
    vt.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())
    with pytest.raises(RuntimeError):
        e.topk(7, dim=1)


@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(keepdim):
    a = distinct((3, 5), seed=3)
    e, t = pair(a)
    ve, ie = ember.kthvalue(e, 2, dim=1, keepdim=keepdim)
    vt, it = torch.kthvalue(t, 2, dim=1, keepdim=keepdim)
    np.testing.assert_array_equal(ve.detach().numpy(), vt.detach().numpy())
    np.testing.assert_array_equal(ie.numpy(), it.numpy())
    ve.sum().backward()
    vt.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


def test_sort_gradcheck_and_double_backward():
    x = ember.tensor(distinct((3, 4), seed=4), requires_grad=True)
    assert ember.autograd.gradcheck(lambda v: ember.sort(v, dim=1)[0] * 2, (x,))
    assert ember.autograd.gradcheck(lambda v: v.topk(2)[0] ** 2, (x,))
    (g,) = ember.autograd.grad((ember.sort(x, 1)[0] ** 2).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.full((3, 4), 2.0))


def test_return_type_repr_fields():
    r = ember.tensor([2.0, 1.0]).sort()
    assert r.values.tolist() == [1.0, 2.0] and r.indices.tolist() == [1, 0]
    assert repr(r).startswith("torch.return_types.sort(")
