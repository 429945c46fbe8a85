"""Memory layouts below the Tensor: the batch-last (C, H, W, N) buffers that convolution
networks run in, and the conversions to and from NCHW (NumPy only).

A batch-last tensor holds the NCHW-shaped view `bl.transpose(3, 0, 1, 2)` of a (C, H, W, N)
buffer and carries `Tensor._batch_last = True`. Ops that know the layout (their Function sets
`takes_batch_last`) consume it as it is; before any other op, and before anything that shows
strides or aliases memory, `make_nchw` turns the tensor NCHW-contiguous in place, so users only
ever see torch's contiguous tensor. `batch_last_seen[0]` stays False until the first such
tensor exists, so no op pays for the check before then."""

from __future__ import annotations

import numpy as np

from ember._threads import split

_BLOCK = 64  # rows per block in the blocked transpose (docs/performance.md)

batch_last_seen = [False]


def is_batch_last(a) -> bool:
    """True when the 4-d NumPy array's memory is (C, H, W, N)-contiguous."""
    return type(a) is np.ndarray and a.ndim == 4 and a.transpose(1, 2, 3, 0).flags.c_contiguous


def flag_batch_last(t) -> None:
    """Mark a tensor whose 4-d array is an NCHW view of a (C, H, W, N) buffer."""
    d = t._data
    if type(d) is np.ndarray and d.ndim == 4 and not d.flags.c_contiguous and is_batch_last(d):
        t._batch_last = True
        batch_last_seen[0] = True


def make_nchw(t) -> None:
    """Make a batch-last tensor NCHW-contiguous in place (same values and version; arrays
    saved for backward keep the old buffer, which nothing else can see)."""
    t._data = from_batch_last(t._data.transpose(1, 2, 3, 0))
    t._batch_last = False


def transpose2d(a, out=None):
    """Contiguous copy of a.T for a 2-d array, in row blocks (a plain copy of a.T walks one side
    with a large stride and is several times slower on a few MB)."""
    r, c = a.shape
    if out is None:
        out = np.empty((c, r), dtype=a.dtype)

    def chunk(lo, hi):
        for s in range(lo, hi, _BLOCK):
            e = min(s + _BLOCK, hi)
            out[:, s:e] = a[s:e].T

    split(chunk, r, a.size)
    return out


def to_batch_last(a):
    """(N, C, H, W) in any layout -> (C, H, W, N) contiguous (a free view when it already is)."""
    t = a.transpose(1, 2, 3, 0)
    if t.flags.c_contiguous:
        return t
    n, c, h, w = a.shape
    if a.flags.c_contiguous:
        return transpose2d(a.reshape(n, c * h * w)).reshape(c, h, w, n)
    return np.ascontiguousarray(t)


def nchw_view(bl):
    """The NCHW-shaped view of a (C, H, W, N) buffer (what a batch-last tensor holds)."""
    return bl.transpose(3, 0, 1, 2)


def from_batch_last(bl):
    """(C, H, W, N) in any layout -> contiguous (N, C, H, W) copy."""
    c, h, w, n = bl.shape
    if bl.flags.c_contiguous:
        return transpose2d(bl.reshape(c * h * w, n)).reshape(n, c, h, w)
    return np.ascontiguousarray(bl.transpose(3, 0, 1, 2))
