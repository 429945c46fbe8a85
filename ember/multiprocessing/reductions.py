"""Pickling tensors between processes by shared-memory handle (torch.multiprocessing.reductions):
registered with multiprocessing's ForkingPickler, so Queue, Pipe, Process arguments under
spawn/forkserver and the DataLoader's workers send a tensor as (block handle, offset, shape,
strides, dtype) and the receiver maps the same memory. A tensor not yet in shared memory is
moved there first, in the sender, as torch does."""

from __future__ import annotations

from multiprocessing import reduction

import numpy as np

import ember
from ember import _shared
from ember.nn.parameter import Buffer, Parameter

_ERR_NON_LEAF = (
    "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd does not "
    "support crossing process boundaries.  If you just want to transfer the data, call detach() "
    "on the tensor before serializing (e.g., putting it on the queue)."
)


_by_value_below = [0]  # bytes; set in DataLoader workers (see `by_value_below`)


def by_value_below(nbytes: int) -> None:
    """In this process, pickle tensors smaller than `nbytes` that are not already shared by
    value. The DataLoader's workers use 1 MiB: below about that, creating a block and handing its
    descriptor over costs more than copying the bytes through the pipe (docs/multiprocessing.md)."""
    _by_value_below[0] = int(nbytes)


def reduce_tensor(t: ember.Tensor):
    cls, requires_grad = type(t), t.requires_grad
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(_ERR_NON_LEAF)
    if t._data.nbytes < _by_value_below[0] and _shared.block_of(t._data) is None:
        return t.__reduce_ex__(2)
    if type(t._data) is not np.ndarray:
        raise RuntimeError(
            "ember.multiprocessing: CUDA tensors cannot be sent between processes "
            "(ember has no CUDA IPC); move it to the CPU with .cpu() first"
        )
    found = _shared.block_of(t._data)
    if found is None:
        t.share_memory_()
        found = _shared.block_of(t._data)
    block, offset = found
    if block.fd is None and block.name is None:  # a received block that closed its descriptor
        t = ember.Tensor._wrap(t._data.copy()).share_memory_()
        block, offset = _shared.block_of(t._data)
    arr = t._data
    if block.fd is not None:
        handle = ("fd", reduction.DupFd(block.fd), len(block), block.key)
    else:
        handle = ("name", block.name, len(block), block.key)
    return (
        rebuild_tensor,
        (cls, handle, offset, arr.shape, arr.strides, arr.dtype.str, requires_grad),
    )


def rebuild_tensor(cls, handle, offset, shape, strides, dtype, requires_grad):
    kind, ref, nbytes, key = handle
    if kind == "fd":
        block = _shared.attach_fd(ref.detach(), nbytes, key)
    else:
        block = _shared.attach_name(ref, nbytes, key)
    t = ember.Tensor._wrap(_shared.array_in(block, offset, shape, strides, np.dtype(dtype)))
    if cls is Parameter:
        return Parameter(t, requires_grad)
    if cls is not ember.Tensor:
        t.__class__ = cls
    t._requires_grad = requires_grad
    return t


def init_reductions() -> None:
    for cls in (ember.Tensor, Parameter, Buffer):
        reduction.ForkingPickler.register(cls, reduce_tensor)
