"""In-place ops, views and out=: version counters, saved-tensor checks, gradients through
in-place writes on views of non-leaves (torch's CopySlices), compared with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

RNG = np.random.default_rng(3)


def leaves(shape=(3, 4)):
    a = RNG.standard_normal(shape)
    return ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_seed_memory_examples():
    x, y = ember.ones(2, 2), ember.full((2, 2), 2.0)
    tx, ty = torch.ones(2, 2), torch.full((2, 2), 2.0)
    yid, v = id(y), y._version
    y[:] = x + y
    ty[:] = tx + ty
    assert id(y) == yid and y._version == v + 1
    r = ember.add(x, y, out=y)
    torch.add(tx, ty, out=ty)
    assert r is y and id(y) == yid and y._version == v + 2
    assert_same(y, ty)


def test_out_rules():
    e = ember.zeros(2, dtype=ember.int64)
    t = torch.zeros(2, dtype=torch.int64)
    assert_raises_same(
        lambda: ember.add(ember.ones(2), ember.ones(2), out=e),
        lambda: torch.add(torch.ones(2), torch.ones(2), out=t),
    )
    with pytest.warns(UserWarning):
        o = ember.ones(3)
        ember.add(ember.ones(2), ember.ones(2), out=o)
    assert o.shape == (2,)
    w = ember.ones(2, requires_grad=True)
    tw = torch.ones(2, requires_grad=True)
    assert_raises_same(
        lambda: ember.add(w, w, out=ember.zeros(2)), lambda: torch.add(tw, tw, out=torch.zeros(2))
    )
    od = ember.zeros(2, dtype=ember.float64)
    ember.add(ember.ones(2), ember.ones(2), out=od)
    assert od.dtype is ember.float64 and od.tolist() == [2.0, 2.0]


@pytest.mark.parametrize(
    "name, mod",
    [
        ("row", lambda v: v[1].mul_(3)),
        ("slice", lambda v: v[:, 1:3].add_(v[:, :2] * 2)),
        ("setitem", lambda v: v.__setitem__((0, slice(None)), v[2] + 1)),
        ("view", lambda v: v.view(12)[2:5].mul_(-1)),
        ("transpose", lambda v: v.t()[0].mul_(2)),
        ("narrow", lambda v: v.narrow(1, 0, 2).add_(v.narrow(1, 2, 2))),
        ("select", lambda v: v.select(0, 2).add_(1)),
        ("diag", lambda v: v.diagonal().mul_(5)),
        ("nested", lambda v: v[1:][0][1:3].mul_(4)),
        ("adv", lambda v: v.__setitem__(([0, 2], [1, 3]), v[1, :2] * 7)),
    ],
)
def test_inplace_on_view_of_nonleaf_matches_torch(name, mod):
    e, t = leaves()
    ye, yt = e * 1.5, t * 1.5
    mod(ye)
    mod(yt)
    assert_same(ye, yt)
    w = RNG.standard_normal((3, 4))
    (ye.exp() * ember.tensor(w)).sum().backward()
    (yt.exp() * torch.tensor(w)).sum().backward()
    assert_same(e.grad, t.grad)


def test_view_sees_base_history_after_inplace():
    e, t = leaves()
    for x in (e, t):
        y = x * 2
        v = y[0]
        v.mul_(x[1])
        (y.sum() + v.sum()).backward()
    assert_same(e.grad, t.grad)


def test_inplace_on_leaf_and_view_of_leaf_raise():
    e, t = leaves()
    assert_raises_same(lambda: e.add_(1), lambda: t.add_(1))
    assert_raises_same(lambda: e[0].add_(1), lambda: t[0].add_(1))
    assert_raises_same(lambda: e.view(12).mul_(2), lambda: t.view(12).mul_(2))
    with ember.no_grad():
        e[0].add_(1)
    with torch.no_grad():
        t[0].add_(1)
    assert_same(e, t)


def test_modified_saved_tensor_raises():
    cases = [
        lambda m, x: (lambda y: (y * y, y))(x * 1),  # input of mul saved
        lambda m, x: (lambda y: (y, y))(x.exp()),  # output of exp saved
        lambda m, x: (lambda s: (s * 1, s))(x.sigmoid()),  # output of sigmoid saved
    ]
    for make in cases:
        msgs = []
        for m, x in zip((ember, torch), leaves()):
            z, y = make(m, x)
            y.add_(1)
            with pytest.raises(RuntimeError) as err:
                z.sum().backward()
            msgs.append(str(err.value))
        assert msgs[0].startswith(
            "one of the variables needed for gradient computation has been modified by an inplace operation"
        )
        assert msgs[0][:100] == msgs[1][:100]


def test_modifying_a_view_invalidates_saved_base():
    e, t = leaves()
    for x in (e, t):
        y = x * 1
        z = y**2
        y[0] = 0.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_mm_saved_input_modified_raises():
    for m in (ember, torch):
        a = m.ones(2, 2, requires_grad=True)
        b = a * 1
        c = m.mm(b, b)
        b.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


def test_versions_match_torch_across_ops():
    e, t = ember.zeros(3, 4), torch.zeros(3, 4)
    ops = [
        lambda x: x.add_(1),
        lambda x: x[0].mul_(2),
        lambda x: x.__setitem__(1, 5.0),
        lambda x: x.view(12).add_(1),
        lambda x: x.t().sub_(1),
        lambda x: (
            x.index_fill_(0, type(x)([0]).long() if False else None, 1.0)
            if False
            else x.masked_fill_(x > 2, 0.0)
        ),
        lambda x: x.transpose(0, 1)[0].zero_(),
    ]
    for op in ops:
        op(e)
        op(t)
        assert e._version == t._version
    assert_same(e, t)
    for v_e, v_t in ((e[0], t[0]), (e.view(12), t.view(12)), (e.detach(), t.detach())):
        assert v_e._version == v_t._version


def test_detach_shares_storage_and_version_data_does_not():
    e = ember.ones(3)
    d = e.detach()
    d.add_(1)
    assert e.tolist() == [2.0, 2.0, 2.0] and e._version == 1


def test_inplace_setitem_with_grad_value_into_plain_tensor():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    for m, ww in ((ember, w), (torch, tw)):
        buf = m.zeros(2, 3)
        buf[:, 1] = ww * 3
        buf[0, :2].add_(ww)
        (buf**2).sum().backward()
    assert_same(w.grad, tw.grad)


def test_write_to_expanded_view_raises():
    e, t = leaves((1, 3))
    assert_raises_same(lambda: (e * 1).expand(2, 3).add_(1), lambda: (t * 1).expand(2, 3).add_(1))
