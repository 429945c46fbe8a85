"""Shape ops vs torch: values, dtypes, views (memory + version), gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)


def run_both(fn, *arrays, grad=True, **kw):
    """Apply fn(module, *tensors) in ember and torch; compare outputs and input gradients."""
    es = [ember.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    eo, to = fn(ember, *es, **kw), fn(torch, *ts, **kw)
    assert_same(eo, to)
    if grad:
        eos = eo if isinstance(eo, (tuple, list)) else [eo]
        tos = to if isinstance(to, (tuple, list)) else [to]
        w = [RNG.standard_normal(tuple(t.shape)) for t in tos]
        le = sum((o * ember.tensor(x, dtype=o.dtype)).sum() for o, x in zip(eos, w) if o.requires_grad)
        lt = sum((o * torch.tensor(x, dtype=o.dtype)).sum() for o, x in zip(tos, w) if o.requires_grad)
        le.backward()
        lt.backward()
        for e, t in zip(es, ts):
            if t.requires_grad:
                assert_same(e.grad, t.grad)
    return eo, to


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


CASES = [
    (lambda m, x: x.view(6, 2), (3, 4)),
    (lambda m, x: x.view(-1), (3, 4)),
    (lambda m, x: m.reshape(x.t(), (4, 3)), (3, 4)),
    (lambda m, x: x.flatten(), (2, 3, 2)),
    (lambda m, x: x.flatten(1), (2, 3, 2)),
    (lambda m, x: m.flatten(x, 0, 1), (2, 3, 2)),
    (lambda m, x: x.flatten(), ()),
    (lambda m, x: x.unflatten(1, (2, 2)), (3, 4)),
    (lambda m, x: x.permute(2, 0, 1), (2, 3, 4)),
    (lambda m, x: x.transpose(0, -1), (2, 3, 4)),
    (lambda m, x: m.swapaxes(x, 0, 1), (2, 3)),
    (lambda m, x: x.t(), (2, 3)),
    (lambda m, x: x.t(), (3,)),
    (lambda m, x: x.T, (2, 3, 4)),
    (lambda m, x: x.mT, (2, 3, 4)),
    (lambda m, x: x.squeeze(), (1, 3, 1)),
    (lambda m, x: x.squeeze(0), (1, 3, 1)),
    (lambda m, x: x.squeeze(1), (1, 3, 1)),
    (lambda m, x: x.squeeze((0, 2)), (1, 3, 1)),
    (lambda m, x: x.unsqueeze(-1), (2, 3)),
    (lambda m, x: m.unsqueeze(x, 0), ()),
    (lambda m, x: x.expand(4, 2, 3), (2, 1)),
    (lambda m, x: x.expand(-1, 3), (2, 1)),
    (lambda m, x: m.broadcast_to(x, (2, 3, 3)), (3, 1)),
    (lambda m, x: x.repeat(2, 3), (2, 2)),
    (lambda m, x: x.repeat(2, 1, 2), (3, 2)),
    (lambda m, x: m.tile(x, (2,)), (2, 3)),
    (lambda m, x: x.narrow(1, 1, 2), (3, 4)),
    (lambda m, x: m.narrow(x, 0, -2, 2), (3, 4)),
    (lambda m, x: x.split(2), (5, 2)),
    (lambda m, x: x.split([1, 3], dim=1), (2, 4)),
    (lambda m, x: x.chunk(3, 1), (2, 7)),
    (lambda m, x: m.chunk(x, 4), (2, 3)),
    (lambda m, x: x.unbind(1), (2, 3)),
    (lambda m, x: m.tensor_split(x, 3), (7,)),
    (lambda m, x: x.flip(0, 1) if m is torch else x.flip((0, 1)), (2, 3)),
    (lambda m, x: m.flip(x, [1]), (2, 3)),
    (lambda m, x: m.fliplr(x), (2, 3)),
    (lambda m, x: m.flipud(x), (2, 3)),
    (lambda m, x: m.roll(x, 1), (2, 3)),
    (lambda m, x: m.roll(x, (1, -1), (0, 1)), (2, 3)),
    (lambda m, x: x.roll(2, 1), (2, 3)),
    (lambda m, x: m.movedim(x, 0, -1), (2, 3, 4)),
    (lambda m, x: m.movedim(x, (0, 1), (2, 0)), (2, 3, 4)),
    (lambda m, x: x.select(1, -1), (2, 3)),
    (lambda m, x: m.rot90(x), (2, 3)),
    (lambda m, x: x.transpose(0, 1).contiguous(), (2, 3)),
    (lambda m, x: x.view_as(x.t().contiguous()), (2, 3))
    if False
    else (lambda m, x: x.reshape_as(x.t()), (2, 3)),
    (lambda m, x: m.atleast_2d(x), (3,)),
    (lambda m, x: m.diag_embed(x), (2, 3)),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_shape_ops_match_torch(i):
    fn, shape = CASES[i]
    run_both(fn, arr(*shape))


def test_cat_stack_family():
    a, b = arr(2, 3), arr(1, 3)
    run_both(lambda m, x, y: m.cat((x, y)), a, b)
    run_both(lambda m, x, y: m.cat([x, y.expand(2, 3)], dim=-1), a, b)
    run_both(lambda m, x, y: m.concat([x, x], 1), a, b)
    run_both(lambda m, x, y: m.stack((x, x * 2), 1), a, b)
    run_both(lambda m, x, y: m.stack([x, x], -1), a, b)
    run_both(lambda m, x, y: m.hstack([x, x]), a, b)
    run_both(lambda m, x, y: m.vstack([x, y]), a, b)
    run_both(lambda m, x, y: m.hstack([x[0], y[0]]), a, b)
    run_both(lambda m, x, y: m.vstack([x[0], y[0]]), a, b)
    run_both(lambda m, x, y: m.dstack([x, x]), a, b)
    run_both(lambda m, x, y: m.column_stack([x[0], y[0]]), a, b)


def test_cat_promotes_and_skips_empty():
    ei, ti = ember.tensor([[1, 2]]), torch.tensor([[1, 2]])
    ef, tf = ember.tensor([[0.5, 1.5]]), torch.tensor([[0.5, 1.5]])
    assert_same(ember.cat([ei, ef]), torch.cat([ti, tf]))
    assert_same(
        ember.cat([ei, ember.tensor([True, False]).reshape(1, 2)]),
        torch.cat([ti, torch.tensor([[True, False]])]),
    )
    assert_same(ember.cat([ef, ember.tensor([])]), torch.cat([tf, torch.tensor([])]))
    assert_same(ember.stack([ei[0], ef[0]]), torch.stack([ti[0], tf[0]]))


def test_cat_stack_errors_match_torch():
    e, t = ember.ones(2, 3), torch.ones(2, 3)
    assert_raises_same(lambda: ember.cat([e, ember.ones(2, 4)]), lambda: torch.cat([t, torch.ones(2, 4)]))
    err = assert_raises_same(
        lambda: ember.cat([e, ember.ones(2, 4)]), lambda: torch.cat([t, torch.ones(2, 4)])
    )
    with pytest.raises(RuntimeError, match=str(err).split(".")[0]):
        ember.cat([e, ember.ones(2, 4)])
    assert_raises_same(lambda: ember.cat([e, ember.ones(3)]), lambda: torch.cat([t, torch.ones(3)]))
    assert_raises_same(lambda: ember.cat([]), lambda: torch.cat([]))
    assert_raises_same(lambda: ember.cat([ember.tensor(1.0)]), lambda: torch.cat([torch.tensor(1.0)]))
    err = assert_raises_same(
        lambda: ember.stack([e, ember.ones(2, 4)]), lambda: torch.stack([t, torch.ones(2, 4)])
    )
    with pytest.raises(RuntimeError) as ee:
        ember.stack([e, ember.ones(2, 4)])
    assert str(ee.value) == str(err)
    assert_raises_same(lambda: ember.cat([e, e], 2), lambda: torch.cat([t, t], 2))


def test_shape_errors_match_torch():
    e, t = ember.ones(2, 3), torch.ones(2, 3)
    for fe, ft in [
        (lambda: e.view(4, 2), lambda: t.view(4, 2)),
        (lambda: e.t().view(6), lambda: t.t().view(6)),
        (lambda: e.view(-1, -1), lambda: t.view(-1, -1)),
        (lambda: e.permute(0, 0), lambda: t.permute(0, 0)),
        (lambda: e.permute(0), lambda: t.permute(0)),
        (lambda: e.transpose(0, 2), lambda: t.transpose(0, 2)),
        (lambda: e.expand(3, 3), lambda: t.expand(3, 3)),
        (lambda: e.expand(3), lambda: t.expand(3)),
        (lambda: e.repeat(2), lambda: t.repeat(2)),
        (lambda: e.narrow(1, 2, 2), lambda: t.narrow(1, 2, 2)),
        (lambda: e.split([1, 2]), lambda: t.split([1, 2])),
        (lambda: e.unsqueeze(3), lambda: t.unsqueeze(3)),
        (lambda: e.squeeze(2), lambda: t.squeeze(2)),
        (lambda: e.flatten(1, 0), lambda: t.flatten(1, 0)),
        (lambda: ember.ones(2, 3, 4).t(), lambda: torch.ones(2, 3, 4).t()),
        (lambda: e.unflatten(1, (2, 2)), lambda: t.unflatten(1, (2, 2))),
        (lambda: e.chunk(0), lambda: t.chunk(0)),
        (lambda: e.select(0, 2), lambda: t.select(0, 2)),
    ]:
        assert_raises_same(fe, ft)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        e.t().view(6)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        e.view(4, 2)


def _shares(view, base):
    return np.shares_memory(view._data, base._data)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.view(6),
        lambda x: x.reshape(3, 2),
        lambda x: x.t(),
        lambda x: x.transpose(0, 1),
        lambda x: x.permute(1, 0),
        lambda x: x.unsqueeze(0),
        lambda x: x[None].squeeze(0),
        lambda x: x[:1].expand(4, 3),
        lambda x: x.narrow(1, 1, 2),
        lambda x: x.split(1)[1],
        lambda x: x.chunk(2, 1)[0],
        lambda x: x.unbind(0)[1],
        lambda x: x[1],
        lambda x: x[:, 1:],
        lambda x: x[..., None, 0],
        lambda x: x.detach(),
        lambda x: x.flatten(),
        lambda x: x.diagonal(),
        lambda x: x.view(3, 2).view(2, 3)[0],
    ],
)
def test_views_share_memory_and_version(make):
    x = ember.arange(6.0).reshape(2, 3)
    tx = torch.arange(6.0).reshape(2, 3)
    v, tv = make(x), make(tx)
    assert_same(v, tv)
    assert _shares(v, x)
    before = v._version
    x.add_(1)
    tx.add_(1)
    assert v._version == before + 1 == tv._version
    assert_same(v, tv)


def test_copies_do_not_share():
    x = ember.arange(6.0).reshape(2, 3)
    for c in (
        x.t().reshape(6),
        x.repeat(1, 1),
        x.flip(0),
        ember.cat([x, x]),
        x[[0, 1]],
        x.roll(1),
        x.t().flatten(),
    ):
        assert not _shares(c, x)


def test_view_dtype_and_seed_examples():
    x = ember.ones(3, 5)
    assert x.view(5, 3).shape == (5, 3) and x.view(15).shape == (15,)
    assert_same(ember.ones(2, 2).view(ember.int32), torch.ones(2, 2).view(torch.int32))
    A, B = ember.ones(2, 3), 2 * ember.ones(2, 3)
    tA, tB = torch.ones(2, 3), 2 * torch.ones(2, 3)
    assert_same(ember.cat((A, B), 0), torch.cat((tA, tB), 0))
    assert_same(ember.cat((A, B), 1), torch.cat((tA, tB), 1))


def test_size_results_are_tuples_and_float32_kept():
    x = ember.ones(2, 3)
    assert x.flatten().dtype is ember.float32
    assert ember.cat([x, x]).dtype is ember.float32
    assert isinstance(x.split(1), tuple) and isinstance(x.unbind(), tuple)


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x: x.view(3, 2).t().reshape(6), [(2, 3)]),
        (lambda x: x.permute(1, 2, 0).flip(1), [(2, 3, 2)]),
        (lambda x: x.expand(3, 2, 2).repeat(1, 2, 1), [(2, 1)]),
        (lambda x, y: ember.cat([x, y], 1), [(2, 2), (2, 3)]),
        (lambda x, y: ember.stack([x, y]), [(2, 2), (2, 2)]),
        (lambda x: x.roll(1, 0).narrow(1, 0, 1), [(3, 2)]),
        (lambda x: ember.movedim(x, 0, 2).squeeze(1), [(2, 1, 3)]),
        (lambda x: x.split([1, 2], 1)[1] * 2, [(2, 3)]),
        (lambda x: ember.tile(x, (2, 1, 2)), [(2, 2)]),
    ],
)
def test_gradcheck(fn, shapes):
    inputs = [ember.tensor(arr(*s), requires_grad=True) for s in shapes]
    assert gradcheck(fn, inputs)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=0, max_size=4),
    data=st.data(),
)
def test_hypothesis_permute_reshape_flip(shape, data):
    a = arr(*shape)
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)))
    flips = data.draw(st.lists(st.integers(0, max(nd - 1, 0)), unique=True, max_size=nd)) if nd else []
    run_both(lambda m, x: x.permute(*perm).reshape(-1).flip(0) if nd else x.reshape(-1), a)
    run_both(lambda m, x: m.flip(x.permute(perm), flips).unsqueeze(0).squeeze(), a)
    run_both(lambda m, x: m.cat([x.reshape(1, -1), x.reshape(1, -1)], 0), a)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    data=st.data(),
)
def test_hypothesis_expand_broadcast(shape, lead, data):
    ones = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    src = [1 if o else s for s, o in zip(shape, ones)]
    run_both(lambda m, x: x.expand(*lead, *shape), arr(*src))
