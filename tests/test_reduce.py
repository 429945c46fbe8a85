"""Reductions vs torch: values, dtypes, namedtuples, gradients, gradcheck, second derivatives."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same, pair
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

RNG = np.random.default_rng(1)

CASES = [
    ("sum", (), {}),
    ("sum", (1,), {}),
    ("sum", ((0, 2),), {"keepdim": True}),
    ("mean", (-1,), {}),
    ("prod", (), {}),
    ("prod", (1,), {"keepdim": True}),
    ("amax", (1,), {}),
    ("amin", ((0, 1),), {}),
    ("max", (), {}),
    ("min", (), {}),
    ("var", (), {}),
    ("var", (1,), {"correction": 0}),
    ("std", (0,), {"keepdim": True}),
    ("var", (1, False), {}),
    ("std", (), {"unbiased": False}),
    ("norm", (), {}),
    ("norm", (1,), {}),
    ("norm", (1, 1), {}),
    ("norm", (float("inf"), 1), {}),
    ("norm", (3, (0, 2)), {}),
    ("logsumexp", (1,), {}),
    ("logsumexp", ((0, 2),), {"keepdim": True}),
    ("cumsum", (1,), {}),
    ("cumprod", (2,), {}),
    ("softmax", (1,), {}),
    ("log_softmax", (-1,), {}),
    ("median", (), {}),
]


@pytest.mark.parametrize("name,args,kw", CASES)
def test_reduction_values_and_grad(name, args, kw):
    x = RNG.standard_normal((2, 3, 4))
    e, t = pair(x, True)
    re, rt = getattr(ember, name)(e, *args, **kw), getattr(torch, name)(t, *args, **kw)
    assert_same(re, rt)
    w = RNG.standard_normal(rt.shape)
    (re * ember.tensor(w)).sum().backward()
    (rt * torch.from_numpy(w)).sum().backward()
    assert_same(e.grad, t.grad)
    assert re.grad_fn.name() == rt.grad_fn.name()
    e32, t32 = pair(x.astype(np.float32))
    assert_same(getattr(e32, name)(*args, **kw), getattr(t32, name)(*args, **kw), atol=1e-5)


@pytest.mark.parametrize(
    "name,args,kw", [c for c in CASES if c[0] not in ("max", "min", "amax", "amin", "median")]
)
def test_reduction_gradcheck(name, args, kw):
    e = ember.tensor(RNG.standard_normal((2, 3, 3)) + 0.1, requires_grad=True)
    assert ember.autograd.gradcheck(lambda v: getattr(ember, name)(v.transpose(0, 2), *args, **kw), (e,))


@pytest.mark.parametrize(
    "name,args",
    [
        ("softmax", (1,)),
        ("log_softmax", (0,)),
        ("logsumexp", (1,)),
        ("var", (1,)),
        ("std", (0,)),
        ("norm", ()),
        ("prod", (1,)),
        ("cumsum", (1,)),
        ("mean", (0,)),
    ],
)
def test_reduction_second_derivative(name, args):
    e, t = pair(RNG.standard_normal((3, 4)) + 0.1, True)
    w = RNG.standard_normal((3, 4))
    (ge,) = ember.autograd.grad((getattr(ember, name)(e, *args) ** 2).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad((getattr(torch, name)(t, *args) ** 2).sum(), t, create_graph=True)
    assert_same(ge, gt)
    (gge,) = ember.autograd.grad((ge * ember.tensor(w)).sum(), e)
    (ggt,) = torch.autograd.grad((gt * torch.from_numpy(w)).sum(), t)
    assert_same(gge, ggt, atol=1e-5)


@pytest.mark.parametrize("name", ["max", "min", "median"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_dim_namedtuple(name, dim, keepdim):
    x = RNG.integers(0, 3, (3, 4)).astype(np.float64)  # ties
    e, t = pair(x, True)
    re, rt = getattr(ember, name)(e, dim, keepdim), getattr(torch, name)(t, dim, keepdim)
    assert_same(tuple(re), tuple(rt))
    assert_same(re.values, rt.values)
    assert_same(re.indices, rt.indices)
    v, i = re
    assert type(re).__name__ == type(rt).__name__
    re.values.sum().backward()
    rt.values.sum().backward()
    assert_same(e.grad, t.grad)
    assert repr(re).replace("ember", "torch") == repr(rt)
    assert v.grad_fn.name() == rt.values.grad_fn.name()


def test_max_ties_full_and_binary():
    e, t = pair(np.array([[1.0, 3.0], [3.0, 2.0]]), True)
    ember.max(e).backward()
    torch.max(t).backward()
    assert_same(e.grad, t.grad)
    (ea, ta), (eb, tb) = pair(np.array([1.0, 5.0])), pair(np.array([2.0, 4.0]))
    assert_same(ember.max(ea, eb), torch.max(ta, tb))
    assert_same(ember.min(ea, eb), torch.min(ta, tb))
    assert_same(ea.max(eb), ta.max(tb))
    en, tn = pair(np.array([1.0, np.nan, 3.0]))
    assert_same(ember.max(en), torch.max(tn))
    assert_same(ember.argmax(en), torch.argmax(tn))
    assert_same(tuple(ember.max(en, 0)), tuple(torch.max(tn, 0)))


def test_empty_and_errors():
    e, t = pair(np.zeros((0, 3)))
    assert_raises_same(lambda: ember.max(e), lambda: torch.max(t))
    assert_raises_same(lambda: ember.amax(e), lambda: torch.amax(t))
    assert_same(ember.sum(e), torch.sum(t))
    assert_same(ember.sum(e, 0), torch.sum(t, 0))
    assert_same(ember.amax(e, 1), torch.amax(t, 1))
    ei, ti = pair(np.array([1, 2, 3]))
    assert_raises_same(lambda: ember.mean(ei), lambda: torch.mean(ti))
    assert_raises_same(lambda: ember.var(ei), lambda: torch.var(ti))
    assert_raises_same(lambda: ember.sum(ei, 3), lambda: torch.sum(ti, 3))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
def test_dtypes(dtype):
    x = RNG.integers(0, 3, (3, 4)).astype(dtype)
    e, t = pair(x)
    for f in (
        lambda m, v: m.sum(v),
        lambda m, v: m.sum(v, 1),
        lambda m, v: m.prod(v, 0),
        lambda m, v: m.cumsum(v, 1),
        lambda m, v: m.cumprod(v, 0),
        lambda m, v: m.all(v),
        lambda m, v: m.any(v, 1),
        lambda m, v: m.count_nonzero(v),
        lambda m, v: m.count_nonzero(v, 0),
        lambda m, v: m.argmax(v),
        lambda m, v: m.argmin(v, 1, keepdim=True),
        lambda m, v: m.amax(v, 0),
        lambda m, v: m.sum(v, dtype=m.float64),
        lambda m, v: v.max(),
        lambda m, v: m.median(v),
    ):
        try:
            rt = f(torch, t)
        except Exception as exc:
            with pytest.raises(type(exc)):
                f(ember, e)
            continue
        assert_same(f(ember, e), rt)


def test_var_mean_std_mean_and_0d():
    e, t = pair(RNG.standard_normal((3, 4)))
    assert_same(ember.var_mean(e, 1), torch.var_mean(t, 1))
    assert_same(ember.std_mean(e, correction=0), torch.std_mean(t, correction=0))
    e0, t0 = pair(np.array(2.5), True)
    for name in ["sum", "mean", "prod", "amax", "logsumexp", "softmax", "cumsum"]:
        args = (0,) if name in ("logsumexp", "softmax", "cumsum") else ()
        assert_same(getattr(ember, name)(e0, *args), getattr(torch, name)(t0, *args))
    assert_same(tuple(ember.max(e0, 0)), tuple(torch.max(t0, 0)))


def test_softmax_stable_and_methods():
    x = np.array([[1000.0, 1001.0, -1000.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    e, t = pair(x)
    assert_same(e.softmax(1), t.softmax(1))
    assert_same(e.log_softmax(dim=1), t.log_softmax(dim=1))
    assert_same(ember.logsumexp(e, 1), torch.logsumexp(t, 1))
    assert_same(ember.softmax(e, 0, dtype=ember.float64), torch.softmax(t, 0, dtype=torch.float64))
    assert_same(e.norm(), t.norm())


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    data=st.data(),
    name=st.sampled_from(["sum", "mean", "amax", "prod", "var", "logsumexp", "norm"]),
    keepdim=st.booleans(),
)
def test_hypothesis_dims(shape, data, name, keepdim):
    nd = len(shape)
    drawn = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd))
    dims = tuple({d % nd: d for d in drawn}.values())
    e, t = pair(RNG.standard_normal(shape) + 0.5, True)
    if name == "prod":
        dims = dims[0]
    if name == "norm":
        re, rt = ember.norm(e, 2, dims, keepdim), torch.norm(t, 2, dims, keepdim)
    else:
        re, rt = (
            getattr(ember, name)(e, dims, keepdim=keepdim),
            getattr(torch, name)(t, dims, keepdim=keepdim),
        )
    assert_same(re, rt)
    (re * re).sum().backward()
    (rt * rt).sum().backward()
    assert_same(e.grad, t.grad, atol=1e-5)


def test_prod_and_cumprod_with_zeros():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    for f in (lambda m, v: m.prod(v, 1), lambda m, v: m.prod(v), lambda m, v: m.cumprod(v, 1)):
        e, t = pair(x, True)
        f(ember, e).sum().backward()
        f(torch, t).sum().backward()
        assert_same(e.grad, t.grad)
