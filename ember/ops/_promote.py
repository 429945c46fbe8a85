"""Operand preparation for elementwise ops: torch's type promotion on raw arrays and scalars."""

from __future__ import annotations

import numpy as np

from ember import _dtype

_F = _dtype._FROM_NP
_SCALARS = (bool, int, float, complex)


def result_dtype(*vals) -> _dtype.dtype:
    """torch.result_type on raw values: dimensioned arrays > 0-d arrays > Python scalars, and a
    lower-priority operand only wins when its category (bool<int<float<complex) is higher."""
    dim = zero = None
    scal = None
    for v in vals:
        if isinstance(v, np.generic):
            v = py_scalar(v)
        if isinstance(v, _SCALARS):
            c = _dtype.category(v)
            if scal is None or c > scal:
                scal = c
        elif hasattr(v, "dtype"):
            d = _F[v.dtype] if v.dtype in _F else _dtype.from_np(v.dtype)
            if v.ndim:
                dim = d if dim is None else _dtype.promote_types(dim, d)
            else:
                zero = d if zero is None else _dtype.promote_types(zero, d)
    res = dim
    if zero is not None:
        if res is None or zero._cat > res._cat:
            res = zero
    if scal is not None and (res is None or scal > res._cat):
        res = {
            0: _dtype.bool_,
            1: _dtype.int64,
            2: _dtype.get_default_dtype(),
            3: _dtype.complex64 if _dtype.get_default_dtype() is _dtype.float32 else _dtype.complex128,
        }[scal]
        if res is not None and dim is not None and scal == 3 and dim is _dtype.float64:
            res = _dtype.complex128
    return res


def binary(a, b):
    """Return (a, b) as arrays of the promoted dtype (fast path: same-dtype arrays)."""
    ta, tb = type(a), type(b)
    if ta is tb is np.ndarray and a.dtype == b.dtype:
        return a, b
    # a float array with a Python int/float, or an integer array with a Python int, keeps the
    # array's dtype (weak scalars); NumPy 2 computes these directly, so skip result_dtype
    if ta is np.ndarray and (tb is float or tb is int):
        k = a.dtype.kind
        if k == "f":
            return a, scalar_array(b, a.dtype)
        if tb is int and k == "i":
            return a, b
    elif tb is np.ndarray and (ta is float or ta is int):
        k = b.dtype.kind
        if k == "f":
            return scalar_array(a, b.dtype), b
        if ta is int and k == "i":
            return a, b
    rt = result_dtype(a, b).np
    return _cast(a, rt), _cast(b, rt)


def scalar_array(v, dt):
    """A Python number as a shared read-only 0-d array of float dtype `dt` (float32/float64).

    NumPy computes `float32_array * 0.5` by converting the weak scalar to float32 on every call
    (~2.5k instructions, a third of a small op); multiplying by the same 0-d float32 array gives
    identical results without that. 0 and NaN stay Python numbers (0.0 and -0.0 are one dict
    key; NaN never finds itself), as do other dtypes."""
    cache = _F32_SCALARS if dt is _F32_NP else _F64_SCALARS if dt is _F64_NP else None
    if cache is None or not v or v != v:
        return v
    arr = cache.get(v)
    if arr is None:
        if len(cache) >= 512:  # e.g. a learning-rate schedule making a new float every step
            cache.clear()
        with np.errstate(over="ignore"):
            arr = np.asarray(v, dtype=dt)
        arr.flags.writeable = False
        cache[v] = arr
    return arr


_F32_NP, _F64_NP = np.dtype(np.float32), np.dtype(np.float64)
_F32_SCALARS: dict = {}
_F64_SCALARS: dict = {}


def py_scalar(v):
    """A NumPy scalar as the Python number torch's argument parser makes of it: np.integer ->
    int, any other (np.floating, np.bool_, np.complexfloating) -> float. So np.float64(2.0)
    meets a float32 tensor as a weak scalar, as in torch (NumPy would upcast to float64)."""
    return int(v) if isinstance(v, np.integer) else float(v)


def _cast(v, rt):
    if isinstance(v, np.generic):
        return py_scalar(v)
    if isinstance(v, _SCALARS):
        return v  # NumPy 2 treats Python scalars as weak, like torch
    if v.dtype != rt:
        return v.astype(rt)
    return v


def float_binary(a, b):
    """Like `binary`, but integer results become the default float dtype (true division)."""
    a, b = binary(a, b)
    arr = a if hasattr(a, "dtype") else b
    if arr.dtype.kind in "biu":
        dt = _dtype.get_default_dtype().np
        return _cast(a, dt), _cast(b, dt)
    return a, b


def to_float(a):
    """Unary float ops (exp, sin, ...) turn integer/bool input into the default float dtype."""
    if a.dtype.kind in "biu":
        return a.astype(_dtype.get_default_dtype().np)
    return a
