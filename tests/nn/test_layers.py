"""Layers vs torch with identical weights: Linear, activations, Dropout, Embedding, Flatten."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember
from ember import nn

RNG = np.random.default_rng(2)


def twin(make):
    """(ember module, torch module) built by the same recipe, with torch's parameters copied over."""
    me, mt = make(nn), make(torch.nn)
    for (ne, pe), (nt, pt) in zip(me.named_parameters(), mt.named_parameters()):
        assert ne == nt and tuple(pe.shape) == tuple(pt.shape)
        pe._data[...] = pt.detach().numpy()
    return me, mt


def run_twin(me, mt, x, atol=1e-5):
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = me(e), mt(t)
    assert_same(ye, yt, atol=atol)
    g = RNG.standard_normal(tuple(yt.shape)).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    assert_same(e.grad, t.grad, atol=atol)
    for (_n, pe), (_, pt) in zip(me.named_parameters(), mt.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=atol * 10)


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    me, mt = twin(lambda m: m.Linear(5, 3, bias=bias))
    run_twin(me, mt, RNG.standard_normal(shape).astype(np.float32))
    assert me.weight.dtype is ember.float32 and isinstance(me.weight, nn.Parameter)
    assert (me.bias is None) == (not bias)


def test_linear_default_init_bounds():
    ember.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-b, b): std = b / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(w.mean()) < 0.02 * bound
    assert np.abs(b).max() > 0.9 * bound


def test_linear_dtype_and_device_kwargs():
    m = nn.Linear(3, 2, dtype=ember.float64)
    assert m.weight.dtype is ember.float64
    assert m(ember.ones(1, 3, dtype=ember.float64)).dtype is ember.float64


ACTS = [
    lambda m: m.ReLU(),
    lambda m: m.ReLU6(),
    lambda m: m.LeakyReLU(0.2),
    lambda m: m.ELU(0.7),
    lambda m: m.SELU(),
    lambda m: m.CELU(1.5),
    lambda m: m.GELU(),
    lambda m: m.GELU(approximate="tanh"),
    lambda m: m.SiLU(),
    lambda m: m.Mish(),
    lambda m: m.Sigmoid(),
    lambda m: m.Tanh(),
    lambda m: m.Softmax(dim=1),
    lambda m: m.LogSoftmax(dim=-1),
    lambda m: m.Softmin(dim=0),
    lambda m: m.Softplus(beta=2.0),
    lambda m: m.Hardtanh(-0.5, 0.5),
    lambda m: m.PReLU(),
    lambda m: m.PReLU(4),
    lambda m: m.Hardswish(),
    lambda m: m.Hardsigmoid(),
    lambda m: m.LogSigmoid(),
    lambda m: m.Softsign(),
    lambda m: m.Threshold(0.1, 20.0),
    lambda m: m.Identity(),
    lambda m: m.Flatten(),
    lambda m: m.Flatten(0),
    lambda m: m.Unflatten(1, (2, 2)),
]


@pytest.mark.parametrize("i", range(len(ACTS)))
def test_activation_modules(i):
    me, mt = twin(ACTS[i])
    assert repr(me) == repr(mt)
    x = RNG.standard_normal((3, 4)).astype(np.float32) * 3
    run_twin(me, mt, x)


def test_inplace_module_in_sequential():
    me, mt = twin(lambda m: m.Sequential(m.Linear(3, 4), m.ReLU(inplace=True), m.Linear(4, 2)))
    run_twin(me, mt, RNG.standard_normal((5, 3)).astype(np.float32))


def test_dropout_module_train_eval():
    d = nn.Dropout(0.5)
    x = ember.ones(100, 100)
    y = d(x)
    assert 0.4 < float((y == 0).float().mean()) < 0.6
    assert set(np.unique(y.numpy()).tolist()) <= {0.0, 2.0}
    d.eval()
    assert d(x) is x or bool((d(x) == x).all())
    assert_raises_same(lambda: nn.Dropout(-0.1), lambda: torch.nn.Dropout(-0.1))
    assert_raises_same(lambda: nn.Dropout(1.1), lambda: torch.nn.Dropout(1.1))


def test_dropout_reproducible_with_seed():
    ember.manual_seed(7)
    a = nn.Dropout(0.3)(ember.ones(50))
    ember.manual_seed(7)
    b = nn.Dropout(0.3)(ember.ones(50))
    assert bool((a == b).all())


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding(padding_idx):
    me, mt = twin(lambda m: m.Embedding(7, 3, padding_idx=padding_idx))
    assert repr(me) == repr(mt)
    idx = np.array([[0, 2, 6], [6, 6, 1]])
    ye, yt = me(ember.tensor(idx)), mt(torch.tensor(idx))
    assert_same(ye, yt)
    g = RNG.standard_normal((2, 3, 3)).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    assert_same(me.weight.grad, mt.weight.grad, atol=1e-5)


def test_embedding_init_and_padding_row():
    ember.manual_seed(0)
    e = nn.Embedding(1000, 16, padding_idx=3)
    w = e.weight.detach().numpy()
    assert np.all(w[3] == 0)
    assert abs(w.std() - 1.0) < 0.03 and abs(w.mean()) < 0.03


def test_embedding_from_pretrained():
    w = RNG.standard_normal((4, 2)).astype(np.float32)
    e = nn.Embedding.from_pretrained(ember.tensor(w))
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert e.weight.requires_grad == t.weight.requires_grad is False
    assert_same(e(ember.tensor([3, 1])), t(torch.tensor([3, 1])))
    e2 = nn.Embedding.from_pretrained(ember.tensor(w), freeze=False)
    assert e2.weight.requires_grad


def test_mlp_training_step_matches_torch():
    def build(m):
        return m.Sequential(m.Linear(4, 16), m.Tanh(), m.Linear(16, 16), m.GELU(), m.Linear(16, 3))

    me, mt = twin(build)
    x = RNG.standard_normal((8, 4)).astype(np.float32)
    y = RNG.integers(0, 3, 8)
    for _ in range(3):
        le = nn.CrossEntropyLoss()(me(ember.tensor(x)), ember.tensor(y))
        lt = torch.nn.CrossEntropyLoss()(mt(torch.tensor(x)), torch.tensor(y))
        assert_same(le, lt, atol=1e-5)
        me.zero_grad()
        mt.zero_grad()
        le.backward()
        lt.backward()
        with ember.no_grad():
            for p in me.parameters():
                p._data -= 0.1 * p.grad._data
        with torch.no_grad():
            for p in mt.parameters():
                p -= 0.1 * p.grad


def test_clip_grad_norm_and_value():
    def build(m):
        return m.Linear(5, 4)

    for norm_type in [2.0, 1.0, math.inf]:
        me, mt = twin(build)
        x = RNG.standard_normal((3, 5)).astype(np.float32) * 10
        me(ember.tensor(x)).sum().backward()
        mt(torch.tensor(x)).sum().backward()
        ne = nn.utils.clip_grad_norm_(me.parameters(), 1.0, norm_type=norm_type)
        nt = torch.nn.utils.clip_grad_norm_(mt.parameters(), 1.0, norm_type=norm_type)
        assert_same(ne, nt, atol=1e-4)
        for pe, pt in zip(me.parameters(), mt.parameters()):
            assert_same(pe.grad, pt.grad, atol=1e-5)
    me, mt = twin(build)
    me(ember.tensor(x)).sum().backward()
    mt(torch.tensor(x)).sum().backward()
    nn.utils.clip_grad_value_(me.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(mt.parameters(), 0.5)
    for pe, pt in zip(me.parameters(), mt.parameters()):
        assert_same(pe.grad, pt.grad)


def test_parameters_vector_roundtrip():
    me, mt = twin(lambda m: m.Sequential(m.Linear(3, 2), m.Linear(2, 1)))
    ve = nn.utils.parameters_to_vector(me.parameters())
    vt = torch.nn.utils.parameters_to_vector(mt.parameters())
    assert_same(ve, vt)
    nn.utils.vector_to_parameters(ve * 0 + 1, me.parameters())
    assert all(bool((p == 1).all()) for p in me.parameters())
    assert all(isinstance(p, nn.Parameter) for p in me.parameters())
