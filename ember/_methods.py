"""Bind the shape / reduction / indexing / linalg functions as Tensor methods."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.ops import index, linalg, reduce, shape


def _bind() -> None:
    T = Tensor
    T.sum = reduce.sum
    T.mean = reduce.mean
    T.reshape = shape.reshape
    T.view = shape.view
    T.permute = shape.permute
    T.transpose = shape.transpose
    T.t = shape.t
    T.expand = shape.expand
    T.matmul = linalg.matmul
    T.__getitem__ = index.getitem
    T.__setitem__ = index.setitem


_bind()
