"""Shared-memory storage for tensors (Tensor.share_memory_, is_shared): a block is an mmap of a
memfd ('file_descriptor', torch's default on Linux) or of a named POSIX shm file
('file_system'), so other processes can map the same bytes. ember.multiprocessing sends
handles to these blocks instead of the bytes."""

from __future__ import annotations

import mmap
import os
import weakref

import numpy as np

from ember._layout import make_nchw as _normalize

STRATEGY = ["file_descriptor" if hasattr(os, "memfd_create") else "file_system"]
_by_key: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # key -> SharedBlock


class SharedBlock(mmap.mmap):
    """An mmap of shared memory that remembers how to reach it from another process:
    `fd` (an open descriptor, file_descriptor strategy) or `name` (file_system), and `key`,
    which is the same in every process that maps it."""

    fd: int | None = None
    name: str | None = None
    key: tuple = ()


# Received file_descriptor blocks keep their descriptor (so they can be sent on) up to this many;
# past it a received block closes it after mapping (a process that keeps thousands of received
# batches would otherwise hit the open-files limit), and sending such a block sends a copy.
MAX_HELD_RECEIVED = 512
_held = [0]


def _map(fd: int, nbytes: int, name: str | None = None, keep_fd: bool = True) -> SharedBlock:
    block = SharedBlock(fd, max(nbytes, 1))
    st = os.fstat(fd)
    block.key = (st.st_dev, st.st_ino)
    if name is None and keep_fd:
        block.fd = fd
        weakref.finalize(block, os.close, fd)
    else:
        block.name = name
        os.close(fd)
    _by_key[block.key] = block
    return block


def _release_held() -> None:
    _held[0] -= 1


def new_block(nbytes: int, strategy: str | None = None) -> SharedBlock:
    """Fresh zeroed shared memory of `nbytes` bytes."""
    strategy = strategy or STRATEGY[0]
    if strategy == "file_descriptor":
        fd = os.memfd_create("ember-shared", os.MFD_CLOEXEC)
        os.ftruncate(fd, max(nbytes, 1))
        return _map(fd, nbytes)
    import _posixshmem
    from multiprocessing import resource_tracker

    name = "/ember_" + os.urandom(8).hex()
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    os.ftruncate(fd, max(nbytes, 1))
    block = _map(fd, nbytes, name)
    # the creator unlinks the name when its mapping dies; the tracker cleans up after a crash
    resource_tracker.register(name, "shared_memory")
    weakref.finalize(block, _unlink, name)
    return block


def _unlink(name: str) -> None:
    import _posixshmem
    from multiprocessing import resource_tracker

    try:
        _posixshmem.shm_unlink(name)
    except OSError:
        pass
    resource_tracker.unregister(name, "shared_memory")


def attach_fd(fd: int, nbytes: int, key: tuple) -> SharedBlock:
    """The block behind a received descriptor (reusing this process's mapping if it has one)."""
    block = _by_key.get(key)
    if block is not None:
        os.close(fd)
        return block
    if _held[0] >= MAX_HELD_RECEIVED:
        return _map(fd, nbytes, keep_fd=False)
    block = _map(fd, nbytes)
    _held[0] += 1
    weakref.finalize(block, _release_held)
    return block


def attach_name(name: str, nbytes: int, key: tuple) -> SharedBlock:
    block = _by_key.get(key)
    if block is not None:
        return block
    import _posixshmem

    return _map(_posixshmem.shm_open(name, os.O_RDWR, mode=0o600), nbytes, name)


def block_of(arr) -> tuple[SharedBlock, int] | None:
    """(block, byte offset of arr's first element) when arr lives in shared memory."""
    if type(arr) is not np.ndarray:
        return None
    base = arr
    while base is not None:
        if isinstance(base, memoryview):
            base = base.obj
        if isinstance(base, SharedBlock):
            start = np.frombuffer(base, np.uint8, 1).__array_interface__["data"][0]
            return base, arr.__array_interface__["data"][0] - start
        base = getattr(base, "base", None)
    return None


def array_in(block: SharedBlock, offset: int, shape, strides, dtype) -> np.ndarray:
    return np.ndarray(shape, dtype=dtype, buffer=block, offset=offset, strides=strides)


def move_to_shared(arr: np.ndarray) -> tuple[np.ndarray, SharedBlock, int]:
    """A copy of `arr` in a new block with the same strides; also returns the block and the byte
    distance from the block's start to where `arr`'s lowest address maps (for its views)."""
    lo, hi = np.lib.array_utils.byte_bounds(arr)
    block = new_block(hi - lo)
    ptr = arr.__array_interface__["data"][0]
    out = array_in(block, ptr - lo, arr.shape, arr.strides, arr.dtype)
    out[...] = arr
    return out, block, lo


def share_memory_(self):
    """Tensor.share_memory_: move the storage into shared memory (no-op when it already is and
    for CUDA tensors). A view moves its root tensor and is re-pointed into the new block."""
    if type(self._data) is not np.ndarray:
        return self
    if self._batch_last:
        _normalize(self)
    if block_of(self._data) is not None:
        return self
    root = self._base if self._base is not None else self
    if root is not self and root._batch_last:
        _normalize(root)
    old = root._data
    new, block, lo = move_to_shared(old)
    if root is not self:
        ptr = self._data.__array_interface__["data"][0]
        self._data = array_in(block, ptr - lo, self._data.shape, self._data.strides, self._data.dtype)
    root._data = new
    return self


def is_shared(self) -> bool:
    """Tensor.is_shared: True when the storage is in shared memory (CUDA tensors: False here,
    ember does not share GPU memory between processes)."""
    return block_of(self._data) is not None
