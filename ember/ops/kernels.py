"""Threaded NumPy kernels for the activations: the named fast paths of Relu, Sigmoid and Tanh
(ops/pointwise.py), used when every array is a dense NumPy array of one shape and dtype. Each
writes a fresh buffer in chunks across ember's threads (`map_flat`), which keeps a batch-last
layout as it is. tests/test_fast_paths.py checks each against its Function's general path."""

from __future__ import annotations

import numpy as np

from ember._threads import map_flat


def takes_kernel(*arrays) -> bool:
    """The one predicate: dense-able NumPy arrays of one shape and dtype, not 0-d."""
    a = arrays[0]
    if type(a) is not np.ndarray or not a.ndim:
        return False
    return all(type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype for b in arrays[1:])


def relu_forward(a):
    out = np.empty_like(a)
    map_flat(lambda v, x: np.maximum(x, 0, out=v), out, a)
    return out


def relu_backward(y, g):
    """g where y = relu(x) != 0 (y is NaN where x was: torch's `not y <= 0`), else exactly 0,
    even where g is NaN or inf (torch selects, it does not multiply)."""
    out = np.empty_like(y)

    def chunk(v, yy, gg):
        np.copyto(v, gg)
        np.copyto(v, 0, where=yy == 0)

    map_flat(chunk, out, y, g)
    return out


def sigmoid_forward(a):
    """sigma(a) = tanh(a / 2) / 2 + 1/2: no overflow for a << 0, and one pass in place."""
    out = np.empty_like(a)

    def chunk(v, x):
        np.multiply(x, 0.5, out=v)
        np.tanh(v, out=v)
        v *= 0.5
        v += 0.5

    map_flat(chunk, out, a)
    return out


def sigmoid_backward(y, g):
    out = np.empty_like(y)

    def chunk(v, yy, gg):
        np.subtract(1, yy, out=v)
        v *= yy
        v *= gg

    map_flat(chunk, out, y, g)
    return out


def tanh_backward(y, g):
    out = y * y
    np.subtract(1, out, out=out)
    out *= g
    return out
