"""torch-style tensor printing (placeholder: precise port of torch's _tensor_str lives here)."""

from __future__ import annotations

import numpy as np


def _fmt_array(a: np.ndarray) -> str:
    if a.dtype.kind == "f":
        finite = a[np.isfinite(a)]
        if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
            body = np.array2string(a, separator=", ", formatter={"float_kind": lambda v: f"{v:.0f}."}, threshold=1000, edgeitems=3, max_line_width=80)
        else:
            body = np.array2string(a, separator=", ", precision=4, floatmode="fixed", threshold=1000, edgeitems=3, max_line_width=80, suppress_small=False)
    elif a.dtype == np.bool_:
        body = np.array2string(a, separator=", ", formatter={"bool": lambda v: "True" if v else "False"})
    else:
        body = np.array2string(a, separator=", ", threshold=1000, edgeitems=3, max_line_width=80)
    return body.replace("\n", "\n       ")


def tensor_repr(t) -> str:
    from ember import _backend, _dtype

    a = _backend.to_numpy(t._data)
    body = _fmt_array(a)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default = (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool_)
    if t.dtype not in default or a.size == 0:
        extras.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    if a.size == 0 and a.ndim != 1:
        body = "[]"
        extras.insert(0, f"size={tuple(a.shape)}")
    return "tensor(" + ", ".join([body] + extras) + ")"
