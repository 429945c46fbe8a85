"""Indexing and gather/scatter family vs torch: values, dtypes, views, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(1)


def both(a, grad=True):
    a = np.asarray(a)
    rg = grad and a.dtype.kind == "f"
    return ember.tensor(a, requires_grad=rg), torch.tensor(a, requires_grad=rg)


def conv(k, m):
    """Mirror an index made of numpy arrays / lists into the module m's tensors."""
    if isinstance(k, tuple):
        return tuple(conv(x, m) for x in k)
    if isinstance(k, np.ndarray):
        return m.tensor(k)
    return k


def check(fn, *arrays):
    es, ts = zip(*(both(a) for a in arrays))
    eo, to = fn(ember, *es), fn(torch, *ts)
    assert_same(eo, to)
    if to.requires_grad:
        w = RNG.standard_normal(tuple(to.shape))
        (eo * ember.tensor(w, dtype=eo.dtype)).sum().backward()
        (to * torch.tensor(w, dtype=to.dtype)).sum().backward()
        for e, t in zip(es, ts):
            if t.requires_grad:
                assert_same(e.grad, t.grad)


X = RNG.standard_normal((3, 4, 2))
KEYS = [
    1,
    -1,
    (0, 2),
    (slice(None), 1),
    (Ellipsis, 0),
    (None, 1),
    (slice(None, None, 2),),
    (slice(1, None), None, slice(None), -1),
    (0, 1, 1),
    Ellipsis,
    (),
    np.array([0, 2, 2]),
    np.array([[0, 1], [2, 2]]),
    (np.array([0, 1]), np.array([1, 3])),
    (np.array([0, 2]), slice(None), np.array([1, 0])),
    (slice(None), np.array([3, 0, 3])),
    (np.array([[0], [2]]), np.array([1, 2, 3])),
    X[..., 0] > 0,
    (X[:, :, 0] > 0, 1),
    (np.array(1), slice(None)),
    (None, np.array([1, 0]), Ellipsis),
    [0, 2],
    [[0, 1], [1, 2]],
    np.array([-1, -3]),
    (np.array([True, False, True]),),
]


@pytest.mark.parametrize("i", range(len(KEYS)))
def test_getitem_matches_torch(i):
    k = KEYS[i]
    check(lambda m, x: x[conv(k, m)], X)


def test_basic_index_is_view_advanced_is_copy():
    x = ember.arange(12.0).reshape(3, 4)
    for v in (x[1], x[:, 1:3], x[0, 0], x[None, ..., 1]):
        assert np.shares_memory(v._data, x._data) and v._version_counter is x._version_counter
    for c in (x[[0, 1]], x[x > 3], x[ember.tensor([1])]):
        assert not np.shares_memory(c._data, x._data)
    y = x[0, 1]
    y.add_(100)  # 0-d basic index still writes through
    assert x[0, 1].item() == 101.0
    s = ember.tensor([1, 2, 3, 4, 5])
    s[1:3][0] = 9
    assert s.tolist() == [1, 9, 3, 4, 5]


def test_index_errors_match_torch():
    e, t = ember.ones(3, 2), torch.ones(3, 2)
    err = assert_raises_same(lambda: e[5], lambda: t[5])
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        e[5]
    assert "index 5 is out of bounds for dimension 0 with size 3" in str(err)
    assert_raises_same(lambda: e[ember.tensor([0, 3])], lambda: t[torch.tensor([0, 3])])
    assert_raises_same(lambda: e[0, 0, 0], lambda: t[0, 0, 0])
    assert_raises_same(lambda: e[::-1], lambda: t[::-1])
    assert_raises_same(lambda: e[ember.tensor([0.5])], lambda: t[torch.tensor([0.5])])
    assert_raises_same(lambda: e.__setitem__(7, 1.0), lambda: t.__setitem__(7, 1.0))
    assert_raises_same(
        lambda: e.__setitem__(slice(None), ember.ones(4)), lambda: t.__setitem__(slice(None), torch.ones(4))
    )


SET_KEYS = [
    (1, 5.0),
    ((slice(None), 0), np.array([1.0, 2.0])),
    (np.array([0, 2]), 7.0),
    (X[..., 0] > 0, -1.0),
    ((Ellipsis, 1), np.array([[1.0], [2.0], [3.0], [4.0]]).T.reshape(1, 4)),
    ((np.array([0, 1]), np.array([1, 1])), np.array([[9.0, 8.0]])),
]


@pytest.mark.parametrize("i", range(len(SET_KEYS)))
def test_setitem_values_versions_and_grads(i):
    k, v = SET_KEYS[i]
    v = np.broadcast_to(np.asarray(v), np.asarray(v).shape)
    xe, xt = both(X)
    ve, vt = both(v) if np.ndim(v) else (float(v), float(v))
    ye, yt = xe * 1, xt * 1
    before = ye._version
    ye[conv(k, ember)] = ve
    yt[conv(k, torch)] = vt
    assert ye._version > before
    assert_same(ye, yt)
    w = RNG.standard_normal(X.shape)
    (ye * ember.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    assert_same(xe.grad, xt.grad)
    if isinstance(ve, ember.Tensor):
        assert_same(ve.grad, vt.grad)


def test_setitem_leaf_requiring_grad_raises_and_no_grad_allows():
    e = ember.ones(3, requires_grad=True)
    t = torch.ones(3, requires_grad=True)
    assert_raises_same(lambda: e.__setitem__(0, 2.0), lambda: t.__setitem__(0, 2.0))
    with ember.no_grad():
        e[0] = 2.0
    assert e.tolist() == [2.0, 1.0, 1.0]


def test_setitem_dtype_cast_and_seed_example():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = ember.ones(2, 2)
    yid = id(y)
    y[:] = x + y
    assert id(y) == yid and y.tolist() == [[2.0, 3.0], [4.0, 5.0]]
    i = ember.zeros(3, dtype=ember.int64)
    i[1] = ember.tensor(2.7)
    ti = torch.zeros(3, dtype=torch.int64)
    ti[1] = torch.tensor(2.7)
    assert_same(i, ti)


def _idx(a):
    return np.asarray(a, dtype=np.int64)


GATHER_LIKE = [
    lambda m, x: x.gather(1, m.tensor(_idx([[0, 0], [1, 0], [3, 2]]))),
    lambda m, x: m.gather(x, 0, m.tensor(_idx([[2, 1, 0, 0]]))),
    lambda m, x: x.index_select(1, m.tensor(_idx([3, 0, 3]))),
    lambda m, x: m.index_select(x, 0, m.tensor(_idx([1]))),
    lambda m, x: x.masked_select(x > 0),
    lambda m, x: m.masked_select(x, m.tensor([True, False, True, True])),
    lambda m, x: m.take(x, m.tensor(_idx([[0, 11], [-1, 5]]))),
    lambda m, x: x.scatter(1, m.tensor(_idx([[1], [0], [3]])), m.ones(3, 1, dtype=x.dtype) * 2),
    lambda m, x: x.scatter(0, m.tensor(_idx([[2, 1, 0, 0]])), 5.0),
    lambda m, x: x.scatter(1, m.tensor(_idx([[1, 2], [0, 1], [3, 2]])), x[:, :2] * 3),
    lambda m, x: x.scatter_add(1, m.tensor(_idx([[1, 1], [0, 0], [3, 3]])), x[:, 1:3]),
    lambda m, x: m.scatter_add(x, 0, m.tensor(_idx([[0, 0, 2, 2], [0, 1, 1, 1]])), (x * x)[:2]),
    lambda m, x: x.index_add(0, m.tensor(_idx([0, 0, 2])), x * 2),
    lambda m, x: x.index_add(1, m.tensor(_idx([1, 3])), x[:, :2], alpha=3),
    lambda m, x: x.index_fill(1, m.tensor(_idx([0, 2])), -1.0),
    lambda m, x: x.index_copy(0, m.tensor(_idx([2, 0])), x[:2] * 5),
    lambda m, x: x.index_put((m.tensor(_idx([0, 2])), m.tensor(_idx([1, 1]))), x[0, :2] * 3),
    lambda m, x: x.index_put((m.tensor(_idx([0, 0])),), x[1] * 2, accumulate=True),
    lambda m, x: x.masked_fill(x < 0, 0.5),
    lambda m, x: x.masked_fill(m.tensor([True, False, False, True]), x.sum()),
    lambda m, x: m.take_along_dim(x, m.tensor(_idx([[0], [3], [1]])), 1),
]


@pytest.mark.parametrize("i", range(len(GATHER_LIKE)))
def test_gather_scatter_family(i):
    check(GATHER_LIKE[i], RNG.standard_normal((3, 4)))


def test_seed_gather_and_nonzero():
    y_hat = ember.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = ember.LongTensor([0, 2])
    ty_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert_same(y_hat.gather(1, y.view(-1, 1)), ty_hat.gather(1, torch.tensor([0, 2]).view(-1, 1)))
    a = np.array([[0, 1, 0], [2, 0, 3]])
    for f in (lambda m, x: m.nonzero(x), lambda m, x: x.nonzero(as_tuple=True), lambda m, x: m.argwhere(x)):
        assert_same(f(ember, ember.tensor(a)), f(torch, torch.tensor(a)))
    assert_same(
        ember.nonzero(ember.tensor(3.0), as_tuple=True), torch.nonzero(torch.tensor(3.0), as_tuple=True)
    )


def test_inplace_family_bumps_version():
    for name, args in [
        ("scatter_", (1, [[0], [1]], 9.0)),
        ("index_fill_", (0, [1], 0.0)),
        ("masked_fill_", (None, 7.0)),
        ("index_add_", (1, [0], None)),
    ]:
        e, t = ember.ones(2, 3), torch.ones(2, 3)

        def mk(m, x):
            out = []
            for a in args:
                if isinstance(a, list):
                    out.append(m.tensor(_idx(a)))
                elif a is None:
                    out.append(x > 0 if name == "masked_fill_" else m.ones(2, 1))
                else:
                    out.append(a)
            return out

        v = e._version
        re = getattr(e, name)(*mk(ember, e))
        getattr(t, name)(*mk(torch, t))
        assert re is e and e._version == v + 1
        assert_same(e, t)


def test_gather_scatter_errors_match_torch():
    e, t = ember.ones(2, 3), torch.ones(2, 3)
    ie, it = ember.tensor([[0, 5]]), torch.tensor([[0, 5]])
    err = assert_raises_same(lambda: e.gather(1, ie), lambda: t.gather(1, it))
    with pytest.raises(RuntimeError) as ee:
        e.gather(1, ie)
    assert str(ee.value) == str(err)
    assert_raises_same(lambda: e.gather(1, ie.int()), lambda: t.gather(1, it.int()))
    assert_raises_same(lambda: e.gather(1, ember.tensor([0])), lambda: t.gather(1, torch.tensor([0])))
    assert_raises_same(
        lambda: e.index_select(0, ember.tensor([2])), lambda: t.index_select(0, torch.tensor([2]))
    )
    assert_raises_same(
        lambda: e.masked_fill(e > 0, ember.ones(2)), lambda: t.masked_fill(t > 0, torch.ones(2))
    )
    assert_raises_same(
        lambda: e.masked_fill(ember.ones(2, 3), 1.0), lambda: t.masked_fill(torch.ones(2, 3), 1.0)
    )
    assert_raises_same(
        lambda: e.scatter(1, ember.tensor([[3]]), 1.0), lambda: t.scatter(1, torch.tensor([[3]]), 1.0)
    )


def test_index_put_add_is_differentiable_for_double_backward():
    x = ember.tensor(RNG.standard_normal(4), requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    for m, v in ((ember, x), (torch, tx)):
        y = (v[m.tensor([0, 0, 2])] ** 3).sum()
        (g,) = (ember if m is ember else torch).autograd.grad(y, v, create_graph=True)
        g.sum().backward()
    assert_same(x.grad, tx.grad)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x[1:, [0, 2]],
        lambda x: x[x > 0] * 2,
        lambda x: x.gather(0, ember.tensor([[2, 0, 1, 1]])),
        lambda x: x.scatter(1, ember.tensor([[1], [0], [3]]), x[:, :1] * 2),
        lambda x: x.scatter_add(0, ember.tensor([[0, 0, 2, 2]]), x[:1]),
        lambda x: x.index_add(1, ember.tensor([0, 0]), x[:, 1:3]),
        lambda x: x.masked_fill(ember.tensor([True, False, True, False]), 0.0),
        lambda x: ember.take(x, ember.tensor([0, 5, 5])),
    ],
)
def test_gradcheck(fn):
    assert gradcheck(fn, [ember.tensor(RNG.standard_normal((3, 4)), requires_grad=True)])


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_hypothesis_advanced_index(shape, data):
    a = RNG.standard_normal(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    idx = np.array(data.draw(st.lists(st.integers(-shape[dim], shape[dim] - 1), min_size=1, max_size=5)))
    key = (slice(None),) * dim + (idx,)
    check(lambda m, x: x[conv(key, m)], a)
    mask = RNG.random(shape) > 0.5
    check(lambda m, x: x[m.tensor(mask)], a)
