"""Elementwise ops vs torch: values, dtypes, gradients (incl. broadcast, non-contiguous, 0-d),
gradcheck in float64, second derivatives through graph_math, in-place and out= variants."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same, pair
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

RNG = np.random.default_rng(0)

# name -> input generator domain ("any", "pos" (>0), "unit" (|x|<1))
UNARY = {
    "exp": "any",
    "exp2": "any",
    "expm1": "any",
    "log": "pos",
    "log2": "pos",
    "log10": "pos",
    "log1p": "pos",
    "sqrt": "pos",
    "rsqrt": "pos",
    "reciprocal": "pos",
    "square": "any",
    "sin": "any",
    "cos": "any",
    "tan": "unit",
    "asin": "unit",
    "acos": "unit",
    "atan": "any",
    "sinh": "any",
    "cosh": "any",
    "tanh": "any",
    "sigmoid": "any",
    "relu": "any",
    "erf": "any",
    "abs": "any",
    "neg": "any",
    "sign": "any",
    "floor": "any",
    "ceil": "any",
    "trunc": "any",
    "frac": "any",
    "round": "any",
}


def _data(domain, shape, dtype=np.float64):
    x = RNG.standard_normal(shape) * 1.5
    if domain == "pos":
        x = np.abs(x) + 0.2
    elif domain == "unit":
        x = np.tanh(x) * 0.9
    return x.astype(dtype)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values_and_grad(name, dtype):
    x = _data(UNARY[name], (3, 4), dtype)
    e, t = pair(x, requires_grad=True)
    re, rt = getattr(ember, name)(e), getattr(torch, name)(t)
    assert_same(re, rt, atol=1e-5)
    w = RNG.standard_normal(rt.shape).astype(dtype)
    (re * ember.tensor(w)).sum().backward()
    (rt * torch.from_numpy(w)).sum().backward()
    assert_same(e.grad, t.grad, atol=1e-4, rtol=1e-4)
    assert re.grad_fn is not None


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method_inplace_out(name):
    x = _data(UNARY[name], (2, 3), np.float32)
    e, t = pair(x)
    assert_same(getattr(e, name)(), getattr(t, name)(), atol=1e-5)
    if hasattr(t, name + "_"):
        getattr(e, name + "_")()
        getattr(t, name + "_")()
        assert_same(e, t, atol=1e-5)
    e, t = pair(x)
    oe, ot = ember.empty(2, 3), torch.empty(2, 3)
    if name != "relu":
        getattr(ember, name)(e, out=oe)
        getattr(torch, name)(t, out=ot)
        assert_same(oe, ot, atol=1e-5)


@pytest.mark.parametrize(
    "name", ["exp", "log", "sqrt", "sin", "sigmoid", "tanh", "abs", "floor", "neg", "sign"]
)
def test_unary_int_input(name):
    x = np.array([1, 2, 3, 4], dtype=np.int64)
    e, t = pair(x)
    assert_same(getattr(ember, name)(e), getattr(torch, name)(t), atol=1e-5)


GRAD_UNARY = [n for n in UNARY if n not in ("sign", "floor", "ceil", "trunc", "round", "relu", "abs")]


@pytest.mark.parametrize("name", GRAD_UNARY)
def test_unary_gradcheck_transposed(name):
    # the op sees a non-contiguous (transposed) view of the leaf
    e = ember.tensor(_data(UNARY[name], (3, 2), np.float64), requires_grad=True)
    assert not e.t().is_contiguous()
    assert ember.autograd.gradcheck(lambda v: getattr(ember, name)(v.t()), (e,))


SECOND = [
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "reciprocal",
    "rsqrt",
    "atan",
    "erf",
    "square",
]


@pytest.mark.parametrize("name", SECOND)
def test_unary_second_derivative(name):
    x = _data(UNARY[name], (4,), np.float64)
    e, t = pair(x, requires_grad=True)
    (ge,) = ember.autograd.grad(getattr(ember, name)(e).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(getattr(torch, name)(t).sum(), t, create_graph=True)
    assert_same(ge, gt, atol=1e-6)
    (gge,) = ember.autograd.grad(ge.sum(), e)
    (ggt,) = torch.autograd.grad(gt.sum(), t)
    assert_same(gge, ggt, atol=1e-6)


BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "atan2",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "remainder",
    "fmod",
]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3,))])
def test_binary_broadcast_grad(name, shapes):
    a = np.abs(RNG.standard_normal(shapes[0])) + 0.5
    b = RNG.standard_normal(shapes[1]) + (0.3 if name != "pow" else 0.0)
    ea, ta = pair(a, True)
    eb, tb = pair(b, True)
    re, rt = getattr(ember, name)(ea, eb), getattr(torch, name)(ta, tb)
    assert_same(re, rt)
    re.sum().backward()
    rt.sum().backward()
    assert_same(ea.grad, ta.grad, atol=1e-6)
    assert_same(eb.grad, tb.grad, atol=1e-6)


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradcheck(name):
    a = ember.tensor(np.abs(RNG.standard_normal((2, 3))) + 0.5, requires_grad=True)
    b = ember.tensor(RNG.standard_normal((3,)) + 2.0, requires_grad=True)
    assert ember.autograd.gradcheck(getattr(ember, name), (a, b))


def test_binary_second_derivatives():
    for name in ["mul", "div", "pow", "atan2"]:
        a, ta = pair(np.abs(RNG.standard_normal(3)) + 0.5, True)
        b, tb = pair(np.abs(RNG.standard_normal(3)) + 0.5, True)
        ge = ember.autograd.grad(getattr(ember, name)(a, b).sum(), (a, b), create_graph=True)
        gt = torch.autograd.grad(getattr(torch, name)(ta, tb).sum(), (ta, tb), create_graph=True)
        assert_same(ge, gt)
        assert_same(
            ember.autograd.grad(ge[0].sum() + ge[1].sum(), (a, b)),
            torch.autograd.grad(gt[0].sum() + gt[1].sum(), (ta, tb)),
        )


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**"])
@pytest.mark.parametrize("scalar", [2, 2.5, -3])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_operators_with_scalars(op, scalar, dtype):
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=dtype)
    e, t = pair(x)
    for f in (lambda a: eval(f"a {op} scalar"), lambda a: eval(f"scalar {op} a")):
        try:
            rt = f(t)
        except Exception as exc:
            with pytest.raises(type(exc)):
                f(e)
            continue
        assert_same(f(e), rt, atol=1e-5)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", "!="])
def test_operators_tensor_tensor_mixed(op):
    combos = [
        (np.float32, np.float64),
        (np.int64, np.float32),
        (np.int32, np.int64),
        (np.bool_, np.int64),
        (np.float32, np.float32),
    ]
    for da, db in combos:
        a = np.array([[1, 2, 3], [4, 5, 6]]).astype(da)
        b = np.array([3, 1, 2]).astype(db)
        ea, ta = pair(a)
        eb, tb = pair(b)
        try:
            rt = eval(f"ta {op} tb")
        except RuntimeError:
            with pytest.raises(RuntimeError):
                eval(f"ea {op} eb")
            continue
        assert_same(eval(f"ea {op} eb"), rt, atol=1e-5)


def test_bool_and_int_rules():
    b = [True, False, True]
    for f in (
        lambda m, x: x + x,
        lambda m, x: x * x,
        lambda m, x: 1 + x,
        lambda m, x: x & x,
        lambda m, x: x | ~x,
        lambda m, x: x ^ x,
        lambda m, x: -x.int(),
        lambda m, x: x / x.long().clamp(min=1),
    ):
        e, t = pair(np.array(b))
        assert_same(f(ember, e), f(torch, t))
    e, t = pair(np.array(b))
    assert_raises_same(lambda: e - e, lambda: t - t)
    assert_raises_same(lambda: 1 - e, lambda: 1 - t)
    assert_raises_same(lambda: -e, lambda: -t)


def test_bitwise_and_logical():
    x = np.array([1, 6, -3], dtype=np.int64)
    y = np.array([3, 5, 7], dtype=np.int64)
    (ex, tx), (ey, ty) = pair(x), pair(y)
    for name in ["bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor"]:
        assert_same(getattr(ember, name)(ex, ey), getattr(torch, name)(tx, ty))
    assert_same(ember.bitwise_not(ex), torch.bitwise_not(tx))
    assert_same(ember.logical_not(ex), torch.logical_not(tx))
    assert_same(ex << 2, tx << 2)
    assert_same(ex >> 1, tx >> 1)
    ef, tf = pair(np.array([1.5]))
    assert_raises_same(lambda: ef & ef, lambda: tf & tf)
    assert_raises_same(lambda: ~ef, lambda: ~tf)


def test_clamp_variants():
    x = RNG.standard_normal((3, 4))
    x[0, 0] = np.nan
    for kw in [dict(min=-0.5), dict(max=0.5), dict(min=-0.5, max=0.5), dict(min=0.5, max=-0.5)]:
        e, t = pair(x, True)
        re, rt = ember.clamp(e, **kw), torch.clamp(t, **kw)
        assert_same(re, rt)
        re.nansum().backward() if hasattr(re, "nansum") else None
        rt.nansum().backward()
        assert_same(e.grad, t.grad)
        assert_same(ember.clip(e, **kw), torch.clip(t, **kw))
    e, t = pair(np.arange(6).reshape(2, 3))
    assert_same(ember.clamp(e, min=1.5), torch.clamp(t, min=1.5))
    assert_same(ember.clamp(e, 1, 4), torch.clamp(t, 1, 4))
    assert_same(e.clamp_min(2), t.clamp_min(2))
    assert_same(e.clamp_max(2), t.clamp_max(2))
    assert_raises_same(lambda: ember.clamp(e), lambda: torch.clamp(t))
    lo, tlo = pair(RNG.standard_normal((4,)) - 0.5, True)
    hi, thi = pair(RNG.standard_normal((3, 1)) + 0.5, True)
    x2, tx2 = pair(RNG.standard_normal((3, 4)), True)
    re, rt = ember.clamp(x2, lo, hi), torch.clamp(tx2, tlo, thi)
    assert_same(re, rt)
    (re * re).sum().backward()
    (rt * rt).sum().backward()
    assert_same((x2.grad, lo.grad, hi.grad), (tx2.grad, tlo.grad, thi.grad))
    e, t = pair(x.copy())
    e.clamp_(-0.1, 0.1)
    t.clamp_(-0.1, 0.1)
    assert_same(e, t)


def test_where():
    x = RNG.standard_normal((3, 4))
    c = x > 0
    (ec, tc), (ex, tx) = pair(c), pair(x, True)
    ey, ty = pair(RNG.standard_normal((4,)), True)
    re, rt = ember.where(ec, ex, ey), torch.where(tc, tx, ty)
    assert_same(re, rt)
    re.sum().backward()
    rt.sum().backward()
    assert_same((ex.grad, ey.grad), (tx.grad, ty.grad))
    assert_same(ember.where(ec, ex, 0.0), torch.where(tc, tx, 0.0))
    assert_same(ember.where(ec, 1.0, 0.0), torch.where(tc, 1.0, 0.0))
    assert_same(ember.where(ec, 1, 0), torch.where(tc, 1, 0))
    ei, ti = pair(np.arange(12).reshape(3, 4))
    assert_same(ember.where(ec, ei, 0.5), torch.where(tc, ti, 0.5))
    assert_same(ember.where(ec), torch.where(tc))
    assert_same(ex.where(ec, ey), tx.where(tc, ty))
    assert_raises_same(lambda: ember.where(ex, ex, ex), lambda: torch.where(tx, tx, tx))
    a = ember.tensor([1.0, -2.0], requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda v: ember.where(v > 0, v * v, v), (a.double().detach().requires_grad_(),)
    )


def test_lerp_addcmul_addcdiv():
    (ea, ta), (eb, tb), (ew, tw) = (pair(RNG.standard_normal(s), True) for s in [(2, 3), (3,), (2, 1)])
    for fe, ft in [
        (lambda: ember.lerp(ea, eb, 0.3), lambda: torch.lerp(ta, tb, 0.3)),
        (lambda: ember.lerp(ea, eb, ew), lambda: torch.lerp(ta, tb, tw)),
        (lambda: ember.addcmul(ea, eb, ew, value=0.5), lambda: torch.addcmul(ta, tb, tw, value=0.5)),
        (lambda: ember.addcdiv(ea, eb, ew + 3, value=2), lambda: torch.addcdiv(ta, tb, tw + 3, value=2)),
    ]:
        re, rt = fe(), ft()
        assert_same(re, rt)
        ge = ember.autograd.grad(re.sum(), (ea, eb, ew), allow_unused=True)
        gt = torch.autograd.grad(rt.sum(), (ta, tb, tw), allow_unused=True)
        for x, y in zip(ge, gt):
            assert (x is None) == (y is None)
            if y is not None:
                assert_same(x, y)
    a = ember.tensor(RNG.standard_normal(3), requires_grad=True)
    b = ember.tensor(RNG.standard_normal(3), requires_grad=True)
    w = ember.tensor(RNG.uniform(size=3), requires_grad=True)
    assert ember.autograd.gradcheck(ember.lerp, (a, b, w))


def test_isnan_family_and_nan_to_num():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -0.0], dtype=np.float32)
    e, t = pair(x)
    for n in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]:
        assert_same(getattr(ember, n)(e), getattr(torch, n)(t))
    assert_same(ember.nan_to_num(e), torch.nan_to_num(t))
    assert_same(
        ember.nan_to_num(e, nan=2.0, posinf=9.0, neginf=-9.0),
        torch.nan_to_num(t, nan=2.0, posinf=9.0, neginf=-9.0),
    )
    ei, ti = pair(np.array([1, 2]))
    assert_same(ember.isnan(ei), torch.isnan(ti))
    e, t = pair(x.astype(np.float64), True)
    ember.nan_to_num(e).sum().backward()
    torch.nan_to_num(t).sum().backward()
    assert_same(e.grad, t.grad)


def test_equal_allclose_isclose():
    a = np.array([1.0, 2.0, np.nan])
    b = a + 1e-9
    (ea, ta), (eb, tb) = pair(a), pair(b)
    assert ember.equal(ea, ea.clone()) is torch.equal(ta, ta.clone())
    assert ember.equal(ea[:2], eb[:2]) == torch.equal(ta[:2], tb[:2])
    assert ember.allclose(ea, eb) == torch.allclose(ta, tb)
    assert ember.allclose(ea, eb, equal_nan=True) == torch.allclose(ta, tb, equal_nan=True)
    assert_same(ember.isclose(ea, eb), torch.isclose(ta, tb))
    assert_same(ember.isclose(ea, eb, rtol=0, atol=1e-12), torch.isclose(ta, tb, rtol=0, atol=1e-12))
    ef, tf = pair(a.astype(np.float32))
    assert_raises_same(lambda: ember.allclose(ea, ef), lambda: torch.allclose(ta, tf))


def test_round_decimals_and_div_modes():
    x = np.array([-2.5, -1.55, 0.5, 1.5, 2.345, 7.0])
    e, t = pair(x)
    assert_same(ember.round(e), torch.round(t))
    assert_same(ember.round(e, decimals=1), torch.round(t, decimals=1))
    ei, ti = pair(np.array([-7, 7, -6, 5]))
    for mode in [None, "floor", "trunc"]:
        assert_same(ember.div(ei, 2, rounding_mode=mode), torch.div(ti, 2, rounding_mode=mode))
        assert_same(ember.div(e, -2.0, rounding_mode=mode), torch.div(t, -2.0, rounding_mode=mode))
    assert_raises_same(
        lambda: ember.div(ei, 0, rounding_mode="floor"), lambda: torch.div(ti, 0, rounding_mode="floor")
    )
    assert_raises_same(lambda: ei**-1, lambda: ti**-1)


def test_shape_mismatch_message():
    (ea, ta), (eb, tb) = pair(np.ones((2, 3))), pair(np.ones((4,)))
    for f in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a == b):
        err = assert_raises_same(lambda: f(ea, eb), lambda: f(ta, tb))
        with pytest.raises(RuntimeError) as ee:
            f(ea, eb)
        if "size of tensor a" in str(err):
            assert "(3)" in str(ee.value) and "(4)" in str(ee.value)


def test_inplace_ops_and_version():
    e, t = pair(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    v = e._version
    e.add_(1).mul_(2).sub_(0.5).div_(3).pow_(2).clamp_(max=3.0)
    t.add_(1).mul_(2).sub_(0.5).div_(3).pow_(2).clamp_(max=3.0)
    assert_same(e, t)
    assert e._version > v
    ei, ti = pair(np.array([1, 2, 3]))
    assert_raises_same(lambda: ei.add_(1.5), lambda: ti.add_(1.5))
    ei += 2
    ti += 2
    ei //= 2
    ti //= 2
    ei %= 2
    ti %= 2
    assert_same(ei, ti)
    leaf = ember.ones(2, requires_grad=True)
    tleaf = torch.ones(2, requires_grad=True)
    assert_raises_same(lambda: leaf.mul_(2), lambda: tleaf.mul_(2))


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=0, max_size=3),
    bdims=st.integers(0, 3),
    name=st.sampled_from(["add", "mul", "sub", "div", "maximum", "atan2"]),
    transpose=st.booleans(),
)
def test_hypothesis_binary_broadcast(shape, bdims, name, transpose):
    shape = tuple(shape)
    bshape = tuple(1 if i % 2 else s for i, s in enumerate(shape[len(shape) - min(bdims, len(shape)) :]))
    a = RNG.standard_normal(shape) + 0.1
    b = RNG.standard_normal(bshape) + 3.0
    ea, ta = pair(a, True)
    eb, tb = pair(b, True)
    if transpose and len(shape) >= 2:
        ea2, ta2 = ea.transpose(0, 1), ta.transpose(0, 1)
        eb2, tb2 = (eb, tb) if len(bshape) < 2 else (eb.transpose(0, 1), tb.transpose(0, 1))
        if len(bshape) == 1 and bshape[0] != 1 and bshape[0] != shape[0]:
            ea2, ta2 = ea, ta
    else:
        ea2, ta2, eb2, tb2 = ea, ta, eb, tb
    try:
        rt = getattr(torch, name)(ta2, tb2)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(ember, name)(ea2, eb2)
        return
    re = getattr(ember, name)(ea2, eb2)
    assert_same(re, rt)
    (re * re).sum().backward()
    (rt * rt).sum().backward()
    assert_same((ea.grad, eb.grad), (ta.grad, tb.grad))


def test_hot_path_graph_is_minimal():
    a, b, c = (ember.randn(16, requires_grad=True) for _ in range(3))
    y = (a * b + c).sum()
    assert y.grad_fn.name() == "SumBackward0"
    assert y.grad_fn.next[0].name() == "AddBackward0"
    y.backward()
    assert_same(a.grad, to := torch.from_numpy(b.detach().numpy().copy()))
    assert to is not None
