"""A tensor's memory as the contiguous buffer a call reads or writes: a NumPy array for MPI
(TensorBuffer), CUDA memory for NCCL (DeviceBuffer)."""

from __future__ import annotations

import numpy as np

import ember
from ember.distributed.nccl import runtime
from ember.distributed.reduce_op import divide


class _Buffer:
    """What both buffers do after the call: divide for AVG, write a copy back, bump the version."""

    __slots__ = ()

    def done(self, avg_over: int = 0) -> None:
        if avg_over:
            divide(self.arr, avg_over)
        if self.copy:
            self.t._data[...] = self.arr
        self.t._bump()


class TensorBuffer(_Buffer):
    """A tensor's memory as a contiguous NumPy buffer for MPI; `done()` writes it back (when it
    had to be a copy) and bumps the tensor's version, as torch's in-place collectives do."""

    __slots__ = ("t", "arr", "copy")

    def __init__(self, t, what: str, read_only: bool = False) -> None:
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"ember.distributed.{what}: expected a Tensor, got {type(t).__name__}")
        if t.is_cuda:
            raise RuntimeError(
                f"ember.distributed.{what}: the tensor is on {t.device}, but the group's backend is mpi, "
                "which takes CPU tensors: use a group with backend='nccl' for CUDA tensors, or move "
                "the tensor with .cpu()"
            )
        if t._batch_last:
            t.detach()  # shows the memory, so a batch-last tensor becomes NCHW-contiguous first
        d = t._data
        self.t = t
        self.copy = (
            not d.flags.c_contiguous or (not read_only and not d.flags.writeable) or d.dtype == np.float16
        )
        self.arr = np.ascontiguousarray(d, dtype=np.float32 if d.dtype == np.float16 else d.dtype)
        if self.copy and self.arr is d:
            self.arr = d.copy()


class DeviceBuffer(_Buffer):
    """A CUDA tensor's memory as NCCL sees it: a device pointer, an element count and an NCCL
    dtype (bool as uint8, complex as pairs of reals). `done()` writes a contiguous copy back and
    bumps the version; both are queued on the current stream, after the NCCL call."""

    __slots__ = ("t", "arr", "copy", "device", "dtype", "count", "ptr")

    def __init__(self, rt, t, what: str) -> None:
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"ember.distributed.{what}: expected a Tensor, got {type(t).__name__}")
        if t._batch_last:
            t.detach()
        d = t._data
        if not rt.is_device_array(d):
            raise RuntimeError(
                f"ember.distributed.{what}: the tensor is on {t.device}, but the group's backend is "
                "nccl, which takes CUDA tensors: move it with .cuda(), or use a group with "
                "backend='mpi' for CPU tensors"
            )
        self.t = t
        self.device = rt.device_index(d)
        self.dtype, per = nccl_dtype(rt, d.dtype)
        self.copy = not d.flags.c_contiguous
        if self.copy:
            with rt.device(self.device):  # CuPy allocates on the current device, not the array's
                self.arr = rt.contiguous(d)
        else:
            self.arr = d
        self.count = int(d.size) * per
        self.ptr = rt.ptr(self.arr)


def nccl_dtype(rt, dt: np.dtype) -> tuple[int, int]:
    """(NCCL's dtype, NCCL elements per element) for a NumPy dtype, as torch's ProcessGroupNCCL maps
    them: bool travels as uint8, complex as two reals; int16 has no NCCL type."""
    dt = np.dtype(dt)
    if dt.kind == "b":
        return rt.dtypes[np.dtype(np.uint8)], 1
    if dt.kind == "c":
        return rt.dtypes[np.dtype(np.float32 if dt == np.complex64 else np.float64)], 2
    if dt not in rt.dtypes:
        name = ember.Tensor._wrap(np.empty(0, dt)).dtype
        raise TypeError(f"Input tensor data type is not supported for NCCL process group: {name}")
    return rt.dtypes[dt], 1


def group_zeros(pg, like, size: int, dtype):
    """A zeroed 1-D array of `size` elements in the memory `pg`'s collectives take: host NumPy for
    mpi; for nccl, on the CUDA device of `like` (an array), allocated by the NCCL runtime."""
    if pg.nccl is None:
        return np.zeros(size, dtype=dtype)
    rt = runtime()
    with rt.device(rt.device_index(like)):
        out = rt.empty((size,), dtype)
        out[...] = 0
    return out


def group_flat(pg, arrays: list):
    """`arrays` (one dtype) concatenated into a new 1-D array in `pg`'s memory (as group_zeros)."""
    if pg.nccl is None:
        return np.concatenate([a.reshape(-1) for a in arrays])
    out = group_zeros(pg, arrays[0], sum(int(a.size) for a in arrays), arrays[0].dtype)
    off = 0
    for a in arrays:
        out[off : off + a.size] = a.reshape(-1)
        off += a.size
    return out


def check_group_memory(pg, tensors: list, what: str) -> None:
    """The clear error when `tensors` are not where `pg`'s backend takes them: CPU for mpi, one
    CUDA device for nccl."""
    if pg.nccl is None:
        cuda = [t for t in tensors if t.is_cuda]
        if cuda:
            raise RuntimeError(
                f"{what}: the module has tensors on {cuda[0].device}, but the group's backend is mpi, "
                "which takes CPU tensors: use a group with backend='nccl' for a CUDA module"
            )
        return
    rt = runtime()
    host = [t for t in tensors if not rt.is_device_array(t._data)]
    if host:
        raise RuntimeError(
            f"{what}: the module has tensors on {host[0].device}, but the group's backend is nccl, "
            "which takes CUDA tensors: move the module with .cuda() (or .to(device)) before wrapping "
            "it, or use a group with backend='mpi' for a CPU module"
        )
    devices = sorted({rt.device_index(t._data) for t in tensors})
    if len(devices) > 1:
        raise RuntimeError(
            f"{what}: the module's tensors are on several devices ({', '.join(f'cuda:{d}' for d in devices)}); "
            "ember's nccl backend takes a module on one device"
        )
