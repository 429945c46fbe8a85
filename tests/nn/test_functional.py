"""nn.functional vs torch: activations, softmax, dropout, embedding, linear (values and grads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(0)


def _x(*shape, dtype=np.float32):
    a = RNG.standard_normal(shape).astype(dtype) * 2
    a.flat[0] = 0.0  # exercise the kink at 0
    return a


def _check(fe, ft, a, atol=1e-6, rtol=1e-5, grad=True):
    e = ember.tensor(a, requires_grad=grad)
    t = torch.tensor(a, requires_grad=grad)
    oe, ot = fe(e), ft(t)
    assert_same(oe, ot, atol=atol, rtol=rtol)
    if grad:
        w = RNG.standard_normal(ot.shape).astype(a.dtype)
        (oe * ember.tensor(w)).sum().backward()
        (ot * torch.tensor(w)).sum().backward()
        assert_same(e.grad, t.grad, atol=atol * 10, rtol=rtol * 10)


ACTS = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("softsign", {}),
    ("logsigmoid", {}),
]


@pytest.mark.parametrize("name,kw", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation(name, kw, dtype):
    a = _x(3, 5, dtype=dtype)
    _check(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), a)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "silu", "hardtanh", "relu6", "selu"])
def test_inplace_activation_shares_storage(name):
    a = _x(4, 3)
    e, t = ember.tensor(a), torch.tensor(a)
    re, rt = getattr(F, name)(e, inplace=True), getattr(TF, name)(t, inplace=True)
    assert re is e and rt is t
    assert_same(e, t)


def test_inplace_relu_on_leaf_requiring_grad_raises():
    a = _x(3)
    assert_raises_same(
        lambda: F.relu(ember.tensor(a, requires_grad=True), inplace=True),
        lambda: TF.relu(torch.tensor(a, requires_grad=True), inplace=True),
    )


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
def test_softmax_family(fn, dim):
    a = _x(4, 6) * 10
    _check(lambda x: getattr(F, fn)(x, dim=dim), lambda x: getattr(TF, fn)(x, dim=dim), a, atol=1e-5)


def test_softmax_3d_and_dtype_argument():
    a = _x(2, 3, 4)
    _check(lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), a)
    e = F.log_softmax(ember.tensor(a), 2, dtype=ember.float64)
    t = TF.log_softmax(torch.tensor(a), 2, dtype=torch.float64)
    assert_same(e, t)


def test_softmax_implicit_dim_warns_and_matches():
    a = _x(3, 4)
    with pytest.warns(UserWarning):
        e = F.softmax(ember.tensor(a))
    with pytest.warns(UserWarning):
        t = TF.softmax(torch.tensor(a))
    assert_same(e, t)


def test_softmax_large_values_stable():
    a = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    _check(lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), a)


def test_softmax_bad_dim():
    a = _x(3, 4)
    assert_raises_same(lambda: F.softmax(ember.tensor(a), 2), lambda: TF.softmax(torch.tensor(a), 2))


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    a, w, b = _x(*shape), _x(3, 4), _x(3)
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    we, wt = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    be, bt = (
        (ember.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)) if bias else (None, None)
    )
    oe, ot = F.linear(e, we, be), TF.linear(t, wt, bt)
    assert_same(oe, ot, atol=1e-5)
    g = _x(*ot.shape)
    oe.backward(ember.tensor(g))
    ot.backward(torch.tensor(g))
    for x, y in [(e, t), (we, wt)] + ([(be, bt)] if bias else []):
        assert_same(x.grad, y.grad, atol=1e-5)


def test_linear_is_one_node():
    x = ember.randn(2, 4, requires_grad=True)
    w = ember.randn(3, 4, requires_grad=True)
    out = F.linear(x, w, ember.randn(3, requires_grad=True))
    assert all(fn is None or type(fn).__name__ == "AccumulateGrad" for fn, _ in out.grad_fn.next_functions)


def test_linear_errors():
    a, w = _x(5, 4), _x(3, 2)
    assert_raises_same(
        lambda: F.linear(ember.tensor(a), ember.tensor(w)),
        lambda: TF.linear(torch.tensor(a), torch.tensor(w)),
    )
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(5x4 and 2x3\)"):
        F.linear(ember.tensor(a), ember.tensor(w))
    assert_raises_same(
        lambda: F.linear(ember.tensor(a), ember.tensor(_x(3, 4, dtype=np.float64))),
        lambda: TF.linear(torch.tensor(a), torch.tensor(_x(3, 4, dtype=np.float64))),
    )


def test_prelu_grads():
    a, w = _x(2, 3, 4), np.array([0.1, 0.2, 0.3], dtype=np.float32)
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    we, wt = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    oe, ot = F.prelu(e, we), TF.prelu(t, wt)
    assert_same(oe, ot)
    oe.sum().backward()
    ot.sum().backward()
    assert_same(e.grad, t.grad)
    assert_same(we.grad, wt.grad, atol=1e-5)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_dropout_train_scaling(p):
    x = ember.ones(200, 50, requires_grad=True)
    y = F.dropout(x, p, training=True)
    vals = np.unique(y.detach().numpy())
    expect = {0.0, float(np.float32(1.0 / (1 - p)))} if 0 < p < 1 else ({1.0} if p == 0 else {0.0})
    assert set(vals.tolist()) <= expect
    if 0 < p < 1:
        assert abs((y.detach().numpy() == 0).mean() - p) < 0.03
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_dropout_eval_identity_and_validation():
    x = ember.randn(3, 4)
    assert_same(F.dropout(x, 0.5, training=False), TF.dropout(torch.tensor(x.numpy()), 0.5, training=False))
    assert_raises_same(lambda: F.dropout(x, 1.5), lambda: TF.dropout(torch.ones(2), 1.5))
    assert y_float32(F.dropout(x, 0.5))


def y_float32(t):
    return t.dtype is ember.float32


def test_dropout2d_drops_whole_channels():
    y = F.dropout2d(ember.ones(8, 16, 5, 5), 0.5, training=True).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert np.all(per_channel == per_channel[..., :1])


def test_embedding_function_and_grad():
    w = _x(10, 3)
    idx = np.array([[1, 2, 1], [0, 9, 1]])
    we, wt = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    oe = F.embedding(ember.tensor(idx), we, padding_idx=0)
    ot = TF.embedding(torch.tensor(idx), wt, padding_idx=0)
    assert_same(oe, ot)
    g = _x(2, 3, 3)
    oe.backward(ember.tensor(g))
    ot.backward(torch.tensor(g))
    assert_same(we.grad, wt.grad, atol=1e-5)


def test_embedding_errors():
    w = _x(3, 2)
    assert_raises_same(
        lambda: F.embedding(ember.tensor([5]), ember.tensor(w)),
        lambda: TF.embedding(torch.tensor([5]), torch.tensor(w)),
    )
    assert_raises_same(
        lambda: F.embedding(ember.tensor([1.0]), ember.tensor(w)),
        lambda: TF.embedding(torch.tensor([1.0]), torch.tensor(w)),
    )


def test_embedding_max_norm_renormalises_rows():
    w = _x(6, 4) * 5
    we, wt = ember.tensor(w), torch.tensor(w)
    idx = np.array([0, 2, 2])
    assert_same(
        F.embedding(ember.tensor(idx), we, max_norm=1.0),
        TF.embedding(torch.tensor(idx), wt, max_norm=1.0),
        atol=1e-5,
    )
    assert_same(we, wt, atol=1e-5)


def test_one_hot():
    idx = np.array([0, 3, 1])
    assert_same(F.one_hot(ember.tensor(idx)), TF.one_hot(torch.tensor(idx)))
    assert_same(F.one_hot(ember.tensor(idx), 6), TF.one_hot(torch.tensor(idx), 6))


def test_normalize_and_cosine_similarity():
    a, b = _x(4, 5), _x(4, 5)
    _check(lambda x: F.normalize(x, dim=1), lambda x: TF.normalize(x, dim=1), a, atol=1e-5)
    assert_same(
        F.cosine_similarity(ember.tensor(a), ember.tensor(b)),
        TF.cosine_similarity(torch.tensor(a), torch.tensor(b)),
        atol=1e-5,
    )


def test_double_backward_through_softmax_and_tanh_activation():
    a = _x(3, 4).astype(np.float64)
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (ge,) = ember.autograd.grad(F.softmax(e, 1)[:, 0].sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(TF.softmax(t, 1)[:, 0].sum(), t, create_graph=True)
    assert_same(ge, gt)
    (gge,) = ember.autograd.grad((ge * ge).sum(), e)
    (ggt,) = torch.autograd.grad((gt * gt).sum(), t)
    assert_same(gge, ggt, atol=1e-8)
