"""Type promotion of elementwise ops against torch (torch.result_type rules, not NumPy's)."""

import itertools

import numpy as np
import pytest
import torch
from conftest import assert_same, pair

import ember

DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64]
SCALARS = [True, 3, 2.5]


@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
def test_tensor_tensor(da, db):
    (ea, ta), (eb, tb) = pair(np.array([1, 0, 2]).astype(da)), pair(np.array([2, 1, 1]).astype(db))  # noqa: F841 (used in eval)
    for op in ("+", "*", "/", "==", "<"):
        assert_same(eval(f"ea {op} eb"), eval(f"ta {op} tb"), atol=1e-6)


@pytest.mark.parametrize("da,s", list(itertools.product(DTYPES, SCALARS)))
def test_tensor_weak_scalar(da, s):
    e, t = pair(np.array([1, 0, 2]).astype(da))
    for f in (lambda x: x + s, lambda x: s * x, lambda x: x / s, lambda x: ember_or_torch_where(x, s)):
        assert_same(f(e), f(t), atol=1e-6)


def ember_or_torch_where(x, s):
    m = ember if isinstance(x, ember.Tensor) else torch
    return m.maximum(x, m.full_like(x, s) if not isinstance(s, bool) else x)


@pytest.mark.parametrize("d0,dd", list(itertools.product(DTYPES, DTYPES)))
def test_zero_dim_vs_dimensioned(d0, dd):
    (e0, t0), (ed, td) = pair(np.array(2).astype(d0)), pair(np.array([1, 3]).astype(dd))
    assert_same(e0 * ed, t0 * td)
    assert_same(ed + e0, td + t0)
    assert_same(e0 + e0, t0 + t0)


def test_int_true_division_and_default_dtype():
    e, t = pair(np.array([1, 2, 3]))
    assert_same(e / 2, t / 2)
    assert_same(e / e, t / t)
    assert_same(ember.exp(e), torch.exp(t))
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    assert_same(e / 2, t / 2)
    assert_same(e * 1.5, t * 1.5)
    ef, tf = pair(np.array([1.0], dtype=np.float32))
    assert_same(ef * 1.5, tf * 1.5)


def test_float32_not_upcast_by_python_float_or_0d_double():
    e, t = pair(np.array([1.0, 2.0], dtype=np.float32))
    e0, t0 = pair(np.array(3.0))  # 0-d float64
    assert_same(e * 0.1, t * 0.1)
    assert_same(e * e0, t * t0)
    assert_same(e**2.0, t**2.0)
    assert_same(ember.where(e > 1, e, 0.5), torch.where(t > 1, t, 0.5))
    assert_same(ember.clamp(e, 0.1, 1.5), torch.clamp(t, 0.1, 1.5))
    assert ember.promote_types(ember.float16, ember.int64) is ember.float16


def test_inplace_cannot_downcast():
    e, t = pair(np.array([1, 2]))
    with pytest.raises(RuntimeError):
        t.mul_(1.5)
    with pytest.raises(RuntimeError):
        e.mul_(1.5)
    ef, tf = pair(np.array([1.0, 2.0], dtype=np.float32))
    ef += pair(np.array([1, 1]))[0]
    tf += torch.tensor([1, 1])
    assert_same(ef, tf)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_python_scalar_operands_bitwise(dt):
    """Python numbers meet float tensors through shared 0-d arrays (ops/_promote.scalar_array):
    results must equal torch's bit for bit, including -0.0, NaN, inf, ints, huge values and the
    same scalar used again (cache hit), and gradients must be unchanged."""
    x = np.array([1.5, -2.25, 0.0, -0.0, 3e-39, 7.0, np.inf, np.nan]).astype(dt)
    scalars = [0.5, 0.1, -0.0, 0.0, 3, -7, 2**40 + 1, 1e300, float("inf"), float("nan"), 0.1]
    for s in scalars:
        for f in (
            lambda v: v * s,
            lambda v: s * v,
            lambda v: v + s,
            lambda v: s + v,
            lambda v: v - s,
            lambda v: s - v,
            lambda v: v / s,
        ):
            e, t = f(ember.tensor(x)), f(torch.tensor(x))
            assert e.dtype == getattr(ember, str(t.dtype).split(".")[1])
            np.testing.assert_array_equal(e.numpy().view(f"u{x.itemsize}"), t.numpy().view(f"u{x.itemsize}"))
    ew, tw = ember.tensor(x[:2], requires_grad=True), torch.tensor(x[:2], requires_grad=True)
    for w in (ew, tw):
        ((w * 0.1 + 0.1) / 0.1 - 0.1).sum().backward()
    np.testing.assert_array_equal(ew.grad.numpy(), tw.grad.numpy())
