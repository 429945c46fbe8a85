"""Shared helpers: compare ember against real torch (the spec).

Import them in a test file with `from conftest import assert_same, to_torch, to_ember`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import settings

import ember

# deterministic examples: a CI run never depends on which cases hypothesis happens to draw
settings.register_profile("ember", derandomize=True, database=None)
settings.load_profile("ember")


def _np(x) -> np.ndarray:
    """Raw host array of an ember tensor, torch tensor, numpy array or scalar."""
    if isinstance(x, ember.Tensor):
        return np.asarray(ember._backend.to_numpy(x._data))
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().resolve_conj().numpy()
    return np.asarray(x)


def dtype_name(x) -> str:
    """'float32', 'int64', 'bool', ... for ember/torch tensors and dtypes."""
    d = x.dtype if hasattr(x, "dtype") and not isinstance(x, (ember.dtype, torch.dtype)) else x
    return str(d).removeprefix("torch.")


def to_torch(t, requires_grad: bool | None = None) -> torch.Tensor:
    """A torch tensor with the same values, dtype and shape (requires_grad copied by default)."""
    if not isinstance(t, ember.Tensor):
        return t
    out = torch.from_numpy(_np(t).copy())
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_(rg) if rg else out


def to_ember(t, requires_grad: bool | None = None) -> ember.Tensor:
    """An ember tensor with the same values, dtype and shape (requires_grad copied by default)."""
    if not isinstance(t, torch.Tensor):
        return t
    out = (
        ember.from_numpy(t.detach().cpu().numpy().copy())
        if hasattr(ember, "from_numpy")
        else (ember.Tensor._wrap(t.detach().cpu().numpy().copy()))
    )
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_(rg) if rg else out


def pair(arr, requires_grad: bool = False):
    """(ember, torch) tensors from one numpy array (copied, so in-place ops don't interfere)."""
    a = np.array(arr)
    e = ember.Tensor._wrap(a.copy())
    t = torch.from_numpy(a.copy())
    if requires_grad:
        e.requires_grad_(True)
        t.requires_grad_(True)
    return e, t


def assert_same(e, t, atol: float = 1e-6, rtol: float = 1e-5, check_dtype: bool = True) -> None:
    """Assert an ember result equals a torch result: type (tensor/tuple/scalar), shape, dtype
    and values (NaN == NaN, infinities must match, bool/int exactly)."""
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)), f"expected a sequence, got {type(e).__name__}"
        assert len(e) == len(t), f"length {len(e)} != {len(t)}"
        for x, y in zip(e, t):
            assert_same(x, y, atol=atol, rtol=rtol, check_dtype=check_dtype)
        return
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f"expected a Tensor, got {type(e).__name__}: {e!r}"
        assert tuple(e.shape) == tuple(t.shape), f"shape {tuple(e.shape)} != torch {tuple(t.shape)}"
        if check_dtype:
            assert dtype_name(e) == dtype_name(t), f"dtype {e.dtype} != torch {t.dtype}"
    else:
        assert not isinstance(e, ember.Tensor) or e.ndim == 0, f"expected a scalar, got {e!r}"
        if isinstance(t, (bool, int, float)) and not isinstance(e, ember.Tensor):
            assert type(e) is type(t) or (isinstance(e, (int, float)) and isinstance(t, float)), (
                f"type {type(e).__name__} != torch {type(t).__name__}"
            )
    a, b = _np(e), _np(t)
    if b.dtype.kind in "biu" and a.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(
            a.astype(np.complex128 if b.dtype.kind == "c" else np.float64),
            b.astype(np.complex128 if b.dtype.kind == "c" else np.float64),
            atol=atol,
            rtol=rtol,
            equal_nan=True,
        )


def assert_grads(e_inputs, t_inputs, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare `.grad` of matching ember / torch leaves (None must match None)."""
    for e, t in zip(e_inputs, t_inputs):
        if t.grad is None:
            assert e.grad is None, "ember has a grad where torch has None"
        else:
            assert e.grad is not None, "ember grad is None where torch has one"
            assert_same(e.grad, t.grad, atol=atol, rtol=rtol)


def assert_raises_same(fe, ft):
    """Both calls raise, with the same exception type (torch's type is the spec)."""
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)):
        fe()
    return te.value


@pytest.fixture(autouse=True)
def _reset_ember_state():
    """Keep tests independent: default dtype and grad mode restored after each test."""
    yield
    ember.set_default_dtype(ember.float32)
    torch.set_default_dtype(torch.float32)
    ember.set_grad_enabled(True)
    torch.set_grad_enabled(True)
    if hasattr(ember, "set_printoptions"):
        ember.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")
