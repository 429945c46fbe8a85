"""torch.testing: assert_close with torch's default tolerances and failure messages."""

from __future__ import annotations

import collections.abc
from typing import Any

import numpy as np

import ember
from ember import Tensor

__all__ = ["assert_allclose", "assert_close"]

_TOL = {  # dtype -> (rtol, atol), torch.testing's defaults
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}  # fmt: skip


class _Mismatch(AssertionError):
    pass


def _tolerances(dtype_name: str, rtol, atol) -> tuple[float, float]:
    if (rtol is None) != (atol is None):
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}.")
    if rtol is not None:
        return float(rtol), float(atol)
    return _TOL.get(dtype_name, (0.0, 0.0))


def _fmt(x) -> str:
    return str(x.item() if isinstance(x, np.generic) else x)


def _compare_arrays(a: np.ndarray, e: np.ndarray, rtol, atol, equal_nan: bool, scalar: bool, msg):
    exact = rtol == 0 and atol == 0
    if a.dtype == np.bool_:
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        if exact:
            ok = (a == e) | (equal_nan & np.isnan(a) & np.isnan(e)) if a.dtype.kind in "fc" else a == e
        else:
            ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if ok.all():
        return
    if msg is not None:
        raise _Mismatch(msg(None) if callable(msg) else msg)
    with np.errstate(all="ignore"):
        diff = np.abs(a - e) if a.dtype.kind in "fc" else np.abs(a.astype(np.int64) - e.astype(np.int64))
        rel_dtype = a.dtype if a.dtype.kind in "fc" else np.float32
        rel = diff.astype(rel_dtype) / np.abs(e).astype(rel_dtype)
    word = "equal" if exact else "close"
    if scalar:  # torch reports scalars' differences as Python numbers
        d, ev = diff.reshape(())[()].item(), e.reshape(())[()].item()
        with np.errstate(all="ignore"):
            rel = np.float64(abs(d)) / np.float64(abs(ev))
        lines = [
            f"Scalars are not {word}!", "", f"Expected {_fmt(e.reshape(())[()])} but got {_fmt(a.reshape(())[()])}.",
            f"Absolute difference: {_fmt(diff.reshape(())[()])}" + ("" if exact else f" (up to {atol} allowed)"),
            f"Relative difference: {_fmt(rel.reshape(())[()])}" + ("" if exact else f" (up to {rtol} allowed)"),
        ]  # fmt: skip
        raise _Mismatch("\n".join(lines))
    bad = ~ok
    n_bad, n = int(bad.sum()), ok.size
    masked_diff = (
        np.where(bad, np.nan_to_num(diff, nan=np.inf), -1)
        if diff.dtype.kind in "fc"
        else np.where(bad, diff, -1)
    )
    i_abs = np.unravel_index(int(np.argmax(masked_diff)), a.shape)
    masked_rel = np.where(bad, np.nan_to_num(rel, nan=np.inf, posinf=np.inf), -1)
    i_rel = np.unravel_index(int(np.argmax(masked_rel)), a.shape)
    lines = [
        f"Tensor-likes are not {word}!", "", f"Mismatched elements: {n_bad} / {n} ({100 * n_bad / n:.1f}%)",
        f"Greatest absolute difference: {_fmt(diff[i_abs])} at index {tuple(int(i) for i in i_abs)}"
        + ("" if exact else f" (up to {atol} allowed)"),
        f"Greatest relative difference: {_fmt(rel[i_rel])} at index {tuple(int(i) for i in i_rel)}"
        + ("" if exact else f" (up to {rtol} allowed)"),
    ]  # fmt: skip
    raise _Mismatch("\n".join(lines))


def _attr(name: str, a, e) -> None:
    if a != e:
        raise _Mismatch(f"The values for attribute '{name}' do not match: {a} != {e}.")


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, check_stride, msg) -> None:
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        _attr("shape", actual.shape, expected.shape)
        if check_device:
            _attr("device", actual.device, expected.device)
        if check_dtype:
            _attr("dtype", actual.dtype, expected.dtype)
        if check_stride:
            _attr("stride()", actual.stride(), expected.stride())
        dt = (
            actual.dtype
            if actual.dtype == expected.dtype
            else ember.promote_types(actual.dtype, expected.dtype)
        )
        rtol, atol = _tolerances(str(dt).removeprefix("torch."), rtol, atol)
        a = actual.detach().cpu().numpy().astype(dt.np)
        e = expected.detach().cpu().numpy().astype(dt.np)
        _compare_arrays(a, e, rtol, atol, equal_nan, actual.ndim == 0, msg)
        return
    if isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray):
        _attr("shape", actual.shape, expected.shape)
        if check_dtype:
            _attr("dtype", actual.dtype, expected.dtype)
        dt = np.promote_types(actual.dtype, expected.dtype)
        rtol, atol = _tolerances(dt.name, rtol, atol)
        _compare_arrays(actual.astype(dt), expected.astype(dt), rtol, atol, equal_nan, actual.ndim == 0, msg)
        return
    numbers = (bool, int, float, complex)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        if check_dtype and type(actual) is not type(expected):
            _attr("type", type(actual), type(expected))
        kind = complex if complex in (type(actual), type(expected)) else float
        if isinstance(actual, (int, bool)) and isinstance(expected, (int, bool)):
            rtol, atol = _tolerances("int64", rtol, atol)
            arr = np.int64
        else:
            rtol, atol = _tolerances("complex128" if kind is complex else "float64", rtol, atol)
            arr = np.complex128 if kind is complex else np.float64
        _compare_arrays(np.asarray(actual, arr), np.asarray(expected, arr), rtol, atol, equal_nan, True, msg)
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            raise _Mismatch(
                f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                f"{sorted(set(expected) - set(actual))}\nExtra keys in the actual mapping: "
                f"{sorted(set(actual) - set(expected))}"
            )
        for k in expected:
            _item(
                actual[k],
                expected[k],
                repr(k),
                rtol,
                atol,
                equal_nan,
                check_dtype,
                check_device,
                check_stride,
                msg,
            )
        return
    seq = (list, tuple)
    if isinstance(actual, seq) and isinstance(expected, seq):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _item(a, e, str(i), rtol, atol, equal_nan, check_dtype, check_device, check_stride, msg)
        return
    raise TypeError(
        f"No comparison pair was able to handle inputs of type {_torch_type(actual)} and {_torch_type(expected)}."
    )


def _torch_type(x) -> str:
    return "<class 'torch.Tensor'>" if isinstance(x, Tensor) else str(type(x))


def _item(a, e, key: str, *rest) -> None:
    try:
        _compare(a, e, *rest)
    except _Mismatch as err:
        text = str(err)
        if "\n\nThe failure occurred for item [" in text:
            head, _, tail = text.partition("\n\nThe failure occurred for item ")
            raise _Mismatch(f"{head}\n\nThe failure occurred for item [{key}]{tail}") from None
        raise _Mismatch(f"{text}\n\nThe failure occurred for item [{key}]") from None


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: Any = None,
) -> None:
    """Raise AssertionError unless |actual - expected| <= atol + rtol |expected| elementwise, with
    shapes, dtypes and devices equal (torch.testing.assert_close)."""
    try:
        _compare(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, check_stride, msg)
    except _Mismatch as err:
        raise AssertionError(str(err)) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg="") -> None:
    """Deprecated torch.testing.assert_allclose: assert_close without the dtype check."""
    if not isinstance(actual, Tensor):
        actual = ember.tensor(actual)
    if not isinstance(expected, Tensor):
        expected = ember.tensor(expected, dtype=actual.dtype)
    assert_close(
        actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False, msg=msg or None
    )
