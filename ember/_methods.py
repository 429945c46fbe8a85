"""Bind the shape / reduction / indexing / linalg functions as Tensor methods."""

from __future__ import annotations

from ember import _shared
from ember._tensor import Tensor
from ember.ops import index, linalg, reduce, shape


def _inplace(fn):
    def method(self, *args, **kwargs):
        return self._inplace(fn(self, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    return method


def _reshape_inplace(fn):
    """squeeze_/unsqueeze_/t_/transpose_: change this tensor's own shape, keep its storage."""

    def method(self, *args, **kwargs):
        res = fn(self, *args, **kwargs)
        self._data = res._data
        if res.grad_fn is not None:
            self.grad_fn = res.grad_fn
        return self

    return method


_PLAIN = {
    shape: [
        "view_as",
        "reshape_as",
        "flatten",
        "unflatten",
        "ravel",
        "swapaxes",
        "swapdims",
        "adjoint",
        "movedim",
        "moveaxis",
        "squeeze",
        "unsqueeze",
        "expand_as",
        "broadcast_to",
        "repeat",
        "tile",
        "narrow",
        "select",
        "split",
        "chunk",
        "tensor_split",
        "unbind",
        "flip",
        "fliplr",
        "flipud",
        "roll",
        "rot90",
        "diag_embed",
    ],
    index: [
        "gather",
        "scatter",
        "scatter_add",
        "index_select",
        "index_add",
        "index_fill",
        "index_copy",
        "index_put",
        "masked_fill",
        "masked_select",
        "masked_scatter",
        "nonzero",
        "argwhere",
        "take",
        "take_along_dim",
    ],
    linalg: [
        "mm",
        "bmm",
        "mv",
        "dot",
        "vdot",
        "outer",
        "ger",
        "addmm",
        "addmv",
        "baddbmm",
        "addbmm",
        "addr",
        "inverse",
        "det",
        "logdet",
        "svd",
        "diagonal",
        "diag",
        "trace",
        "triu",
        "tril",
        "cross",
        "kron",
    ],
}
_INPLACE = {
    index: [
        "scatter",
        "scatter_add",
        "index_add",
        "index_fill",
        "index_copy",
        "index_put",
        "masked_fill",
        "masked_scatter",
    ],
    linalg: ["addmm", "addmv", "baddbmm", "addbmm", "addr", "triu", "tril"],
}


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
    for mod, names in _PLAIN.items():
        for name in names:
            setattr(T, name, getattr(mod, name))
    for mod, names in _INPLACE.items():
        for name in names:
            setattr(T, name + "_", _inplace(getattr(mod, name)))
    for name in ("squeeze", "unsqueeze", "t", "transpose", "swapaxes", "swapdims"):
        setattr(T, name + "_", _reshape_inplace(getattr(shape, name)))
    T.split = lambda self, split_size, dim=0: shape.split(self, split_size, dim)
    T.share_memory_ = _shared.share_memory_
    T.is_shared = _shared.is_shared


_bind()
