"""The nccl backend's CuPy calls, and nothing else. The rest of ember.distributed reaches NCCL only
through `runtime()`, an object with the narrow interface of `CupyNccl` below (device pointers in,
NCCL calls on the current CuPy stream), so tests can put a stand-in in its place (`set_runtime`)."""

from __future__ import annotations

import numpy as np

_runtime = None  # the CupyNccl in use (or a test's stand-in), once made
_reason = None  # why there is none, once tried


class CupyNccl:
    """cupy.cuda.nccl: communicators, group calls, dtypes and ops as NCCL numbers, device memory."""

    def __init__(self) -> None:
        from ember import _backend

        cp = _backend.cupy()  # None without CuPy or without a visible GPU
        if cp is None:
            raise RuntimeError("CuPy is not installed or sees no CUDA GPU")
        try:
            from cupy.cuda import nccl
        except ImportError as e:
            raise RuntimeError(
                f"CuPy has no NCCL ({e}): install NCCL (pip install nvidia-nccl-cu12)"
            ) from None
        if not getattr(nccl, "available", False):
            raise RuntimeError("CuPy was built without NCCL")
        self.cp, self.nccl = cp, nccl
        self.Error = nccl.NcclError
        self.version = nccl.get_version()  # e.g. 22105 for 2.21.5
        self.SUM, self.PROD, self.MAX, self.MIN = nccl.NCCL_SUM, nccl.NCCL_PROD, nccl.NCCL_MAX, nccl.NCCL_MIN
        avg = getattr(nccl, "NCCL_AVG", None)
        self.AVG = avg if self.version >= 21000 else None  # ncclAvg is NCCL 2.10+
        self.dtypes = {
            np.dtype(np.int8): nccl.NCCL_INT8,
            np.dtype(np.uint8): nccl.NCCL_UINT8,
            np.dtype(np.int32): nccl.NCCL_INT32,
            np.dtype(np.uint32): nccl.NCCL_UINT32,
            np.dtype(np.int64): nccl.NCCL_INT64,
            np.dtype(np.uint64): nccl.NCCL_UINT64,
            np.dtype(np.float16): nccl.NCCL_FLOAT16,
            np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64,
        }

    # -- device memory --------------------------------------------------------------------------
    def is_device_array(self, arr) -> bool:
        return isinstance(arr, self.cp.ndarray)

    def device_index(self, arr) -> int:
        return arr.device.id

    def ptr(self, arr) -> int:
        return arr.data.ptr

    def empty(self, shape, dtype):
        """Uninitialised memory on the current device."""
        return self.cp.empty(shape, dtype=dtype)

    def contiguous(self, arr):
        """`arr` (not C-contiguous) as a C-contiguous copy on its device."""
        return self.cp.ascontiguousarray(arr)

    def device(self, index: int):
        """Context manager: `index` is the current device inside."""
        return self.cp.cuda.Device(index)

    def current_device(self) -> int:
        return self.cp.cuda.Device().id

    def stream(self) -> int:
        """The current CuPy stream of the current device, as NCCL takes it."""
        return self.cp.cuda.get_current_stream().ptr

    def record_event(self):
        """An event recorded on the current stream: `.done` (never blocks), `.synchronize()`."""
        ev = self.cp.cuda.Event(block=False, disable_timing=True)
        ev.record()
        return ev

    # -- NCCL -----------------------------------------------------------------------------------
    def unique_id(self) -> tuple[int, ...]:
        """ncclGetUniqueId: 128 small ints, to be passed unchanged to `communicator` on every rank."""
        return tuple(int(v) for v in self.nccl.get_unique_id())

    def communicator(self, nranks: int, uid: tuple[int, ...], rank: int):
        """ncclCommInitRank on the current device (blocks until all `nranks` ranks have called it).
        The object has allReduce, broadcast, reduce, allGather, reduceScatter, send, recv (device
        pointers, element counts, NCCL dtype and op numbers, a stream) and destroy()."""
        return self.nccl.NcclCommunicator(nranks, tuple(uid), rank)

    def group_start(self) -> None:
        self.nccl.groupStart()

    def group_end(self) -> None:
        self.nccl.groupEnd()


def runtime():
    """The NCCL runtime (made on first use), or a RuntimeError saying why there is none."""
    global _runtime, _reason
    if _runtime is None:
        if _reason is None:
            try:
                _runtime = CupyNccl()
            except Exception as e:  # CuPy's import can fail in many ways (driver, libraries)
                _reason = str(e) or type(e).__name__
        if _runtime is None:
            raise RuntimeError(
                f"ember's nccl backend needs CuPy with NCCL and a CUDA GPU: {_reason}; use "
                "backend='mpi' for CPU tensors"
            )
    return _runtime


def available() -> bool:
    try:
        runtime()
    except RuntimeError:
        return False
    return True


def set_runtime(rt):
    """Put `rt` (None: CuPy's, found again on next use) in the runtime's place; returns the old one.
    For tests that drive ember's glue with a stand-in for NCCL."""
    global _runtime, _reason
    old, _runtime, _reason = _runtime, rt, None
    return old
