"""`out=` support: copy a result into a user-given tensor, torch's resize/dtype rules."""

from __future__ import annotations


def write_out(out, res):
    from ember.autograd.grad_mode import _state

    if _state[0] and (res._requires_grad or out._requires_grad):
        raise RuntimeError(
            "add(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    r = res._data
    if out._data.shape != r.shape:
        if out._data.size == 0 or out._base is None:
            out._data = r.astype(out._data.dtype, copy=True)
            out._vc[0] += 1
            return out
        raise RuntimeError(
            f"output with shape {list(out.shape)} doesn't match the broadcast shape {list(r.shape)}"
        )
    out._data[...] = r
    out._vc[0] += 1
    return out
