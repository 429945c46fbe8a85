"""batch_norm / layer_norm / group_norm and BatchNorm1d/2d, LayerNorm, GroupNorm vs torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same, pair

import ember
import ember.nn.functional as F
from ember import nn

rng = np.random.default_rng(2)


def _f32(*shape):
    return (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)


def _copy_params(em, tm):
    with torch.no_grad():
        for (ne, pe), (nt, pt) in zip(em.named_parameters(), tm.named_parameters()):
            assert ne == nt
            pt.copy_(torch.from_numpy(pe.detach().numpy().copy()))


def _perturb(em, tm):
    """Non-trivial affine parameters, identical in both."""
    for p in em.parameters():
        p._data[...] = rng.standard_normal(p.shape).astype(p._data.dtype)
    _copy_params(em, tm)


def _step(em, tm, x, atol=1e-5):
    (ex, tx) = pair(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_same(eo, to, atol=atol, rtol=1e-4)
    g = rng.standard_normal(tuple(to.shape)).astype(x.dtype)
    eo.backward(ember.Tensor._wrap(g.copy()))
    to.backward(torch.from_numpy(g.copy()))
    assert_same(ex.grad, tx.grad, atol=atol * 10, rtol=1e-3)
    for (_, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=atol * 10, rtol=1e-3)


@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm1d", (8, 5)), ("BatchNorm1d", (4, 5, 6)), ("BatchNorm2d", (4, 5, 3, 6))],
)
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(momentum=None),
        dict(momentum=0.3, eps=1e-3),
        dict(affine=False),
        dict(bias=False),
        dict(track_running_stats=False),
    ],
)
def test_batchnorm_train_steps_then_eval(cls, shape, kw):
    em, tm = getattr(nn, cls)(5, **kw), getattr(torch.nn, cls)(5, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _perturb(em, tm)
    for _ in range(3):
        _step(em, tm, _f32(*shape))
    for (ne, be), (nt, bt) in zip(em.named_buffers(), tm.named_buffers()):
        assert ne == nt
        assert_same(be, bt, atol=1e-5)
    em.eval()
    tm.eval()
    _step(em, tm, _f32(*shape))
    em.train()
    tm.train()
    em.zero_grad()
    tm.zero_grad()
    _step(em, tm, _f32(*shape))


def test_batchnorm_buffers_dtypes_and_state_dict():
    em, tm = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    sd_e, sd_t = em.state_dict(), tm.state_dict()
    for k in sd_t:
        assert_same(sd_e[k], sd_t[k])
    assert em.num_batches_tracked.dtype == ember.int64
    em(ember.randn(2, 3, 4, 4))
    assert int(em.num_batches_tracked) == 1
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_batchnorm_float64_and_errors():
    em, tm = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    _step(em, tm, rng.standard_normal((4, 3, 2, 2)), atol=1e-10)
    for cls, shape in [("BatchNorm2d", (2, 3)), ("BatchNorm1d", (2, 3, 4, 5)), ("BatchNorm1d", (1, 3))]:
        (ex, tx) = pair(_f32(*shape))
        err = assert_raises_same(lambda: getattr(nn, cls)(3)(ex), lambda: getattr(torch.nn, cls)(3)(tx))
        with pytest.raises(type(err)) as ee:
            getattr(nn, cls)(3)(ex)
        assert str(ee.value) == str(err)


def test_functional_batch_norm_eval_and_no_affine():
    x = _f32(6, 4, 3)
    rm, rv = _f32(4), np.abs(_f32(4)) + 0.1
    w, b = _f32(4), _f32(4)
    (ex, tx), (ew, tw), (eb, tb) = pair(x, True), pair(w, True), pair(b, True)
    eo = F.batch_norm(ex, pair(rm)[0], pair(rv)[0], ew, eb, training=False)
    to = TF.batch_norm(tx, torch.from_numpy(rm), torch.from_numpy(rv), tw, tb, training=False)
    assert_same(eo, to, atol=1e-5)
    eo.sum().backward()
    to.sum().backward()
    for e, t in ((ex, tx), (ew, tw), (eb, tb)):
        assert_same(e.grad, t.grad, atol=1e-4)
    (erm, trm), (erv, trv) = pair(rm), pair(rv)
    eo = F.batch_norm(pair(x)[0], erm, erv, training=True, momentum=0.2)
    to = TF.batch_norm(torch.from_numpy(x), trm, trv, training=True, momentum=0.2)
    assert_same(eo, to, atol=1e-5)
    assert_same(erm, trm, atol=1e-6)
    assert_same(erv, trv, atol=1e-5)


def test_batchnorm_gradcheck_float64():
    x = ember.Tensor._wrap(rng.standard_normal((4, 3, 2))).requires_grad_()
    w = ember.Tensor._wrap(rng.standard_normal(3)).requires_grad_()
    b = ember.Tensor._wrap(rng.standard_normal(3)).requires_grad_()
    assert ember.autograd.gradcheck(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b)
    )
    assert ember.autograd.gradcheck(
        lambda x, w, b: F.layer_norm(x, (3, 2), None, None) * w[0] + b[0], (x, w, b)
    )
    assert ember.autograd.gradcheck(lambda x, w, b: F.group_norm(x, 3, w, b), (x, w, b))


@pytest.mark.parametrize(
    "args,kw,shape",
    [
        ((6,), {}, (4, 6)),
        ((6,), {}, (2, 3, 6)),
        (((3, 6),), dict(eps=1e-3), (2, 3, 6)),
        ((6,), dict(elementwise_affine=False), (5, 6)),
        ((6,), dict(bias=False), (5, 6)),
    ],
)
def test_layernorm(args, kw, shape):
    em, tm = nn.LayerNorm(*args, **kw), torch.nn.LayerNorm(*args, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _perturb(em, tm)
    _step(em, tm, _f32(*shape))


def test_layer_norm_errors():
    (ex, tx) = pair(_f32(2, 3))
    err = assert_raises_same(lambda: F.layer_norm(ex, (4,)), lambda: TF.layer_norm(tx, (4,)))
    with pytest.raises(RuntimeError) as ee:
        F.layer_norm(ex, (4,))
    assert str(ee.value) == str(err)


@pytest.mark.parametrize(
    "args,shape", [((2, 6), (3, 6, 4, 2)), ((3, 6), (2, 6)), ((1, 6), (2, 6, 5)), ((6, 6), (2, 6, 3))]
)
@pytest.mark.parametrize("kw", [{}, dict(affine=False), dict(bias=False, eps=1e-3)])
def test_groupnorm(args, shape, kw):
    em, tm = nn.GroupNorm(*args, **kw), torch.nn.GroupNorm(*args, **kw)
    assert repr(em) == repr(tm)
    _perturb(em, tm)
    _step(em, tm, _f32(*shape))


def test_groupnorm_errors():
    err = assert_raises_same(lambda: nn.GroupNorm(4, 6), lambda: torch.nn.GroupNorm(4, 6))
    with pytest.raises(ValueError, match=str(err).replace("(", r"\(").replace(")", r"\)")):
        nn.GroupNorm(4, 6)
    (ex, tx) = pair(_f32(2, 6, 3))
    assert_raises_same(lambda: F.group_norm(ex, 4), lambda: TF.group_norm(tx, 4))


def test_float32_preserved():
    x = ember.randn(4, 3, 5, 5)
    for m in (nn.BatchNorm2d(3), nn.LayerNorm(5), nn.GroupNorm(3, 3)):
        assert m(x).dtype == ember.float32
    m = nn.BatchNorm2d(3)
    m(x)
    assert m.running_var.dtype == ember.float32


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 5, 7)), ("InstanceNorm2d", (3, 5, 4, 6))])
@pytest.mark.parametrize("kw", [dict(affine=True, bias=False), dict(affine=True), dict(bias=False)])
def test_instancenorm_bias_keyword(cls, shape, kw):
    """torch 2.13's keyword-only `bias` of the InstanceNorm modules: no bias parameter when False."""
    em, tm = getattr(nn, cls)(5, **kw), getattr(torch.nn, cls)(5, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _perturb(em, tm)
    _step(em, tm, _f32(*shape))
