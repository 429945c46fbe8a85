"""Helpers shared by the primitives."""

from __future__ import annotations

import numpy as np


def array_result(out):
    """NumPy ops on 0-d arrays return scalars; a result or saved output must stay the array the
    node returns (create_graph re-attaches it), so turn scalars back into 0-d arrays."""
    return np.asarray(out) if isinstance(out, np.generic) else out


def unbroadcast(g, shape):
    """Sum a gradient of a broadcast result back to the operand's `shape`."""
    gs = g.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    if gs[lead:] == shape:  # only leading dims were added: one reduction, no reshape
        axes = _LEAD[lead] if lead < 32 else tuple(range(lead))
    else:
        axes = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1
        )
        g = _sum(g, axes, True)
        return g.reshape(shape)
    return _sum(g, axes, False)


def _sum(g, axes, keepdims):
    # np.add.reduce for NumPy: np.sum and ndarray.sum add ~1-4 us of Python dispatch on small
    # arrays; a NumPy scalar result (0-d) becomes a 0-d array again
    if type(g) is np.ndarray:
        r = _add_reduce(g, axes, None, None, keepdims)
        return r if type(r) is np.ndarray else np.asarray(r)
    return g.sum(axis=axes, keepdims=keepdims)


_LEAD = [tuple(range(i)) for i in range(32)]
_add_reduce = np.add.reduce


def norm_dim(dim, ndim: int):
    """Normalise a dim / tuple of dims (negative allowed) to a sorted tuple, or None for all."""
    if dim is None:
        return None
    n = max(ndim, 1)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
        out.append(d % n if ndim else 0)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return tuple(sorted(out))


def shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"
