"""`out=` support: copy a result into a user-given tensor, torch's resize/dtype rules."""

from __future__ import annotations

import warnings

from ember._tensor import Tensor
from ember.graph.grad_mode import _state


def write_out(out, res, name: str = "add"):
    """Write `res` into `out` in place (version bumped); a wrongly shaped `out` is resized with
    torch's warning; a result dtype of a higher category than out's raises."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _state[0] and (res._requires_grad or out._requires_grad):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    r = res._data
    if r.dtype != out._data.dtype and res.dtype._cat > out.dtype._cat:
        raise RuntimeError(
            f"result type {res.dtype.scalar_name} can't be cast to the desired output type {out.dtype.scalar_name}"
        )
    if out._data.shape != r.shape:
        if out._base is not None:
            raise RuntimeError(
                f"output with shape {list(out.shape)} doesn't match the broadcast shape {list(r.shape)}"
            )
        if out._data.size != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                "which does not match the required output shape "
                f"{list(r.shape)}. This behavior is deprecated, and in a future PyTorch release outputs "
                "will not be resized unless they have zero elements. You can explicitly reuse an out "
                "tensor t by resizing it, inplace, to zero elements with t.resize_(0).",
                UserWarning,
                stacklevel=3,
            )
        out._data = r.astype(out._data.dtype, copy=True)
        out._bump()
        return out
    out._data[...] = r
    out._bump()
    return out
