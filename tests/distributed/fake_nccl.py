"""A stand-in for CuPy's NCCL, to test ember's nccl glue (ember/distributed/nccl_ops.py and
friends) on a machine without a GPU. It checks ember, not NCCL: "device memory" is host memory in
FakeCudaArray (a NumPy subclass tagged with a device index), and each NCCL call is run as the MPI
call that computes the same result on the memory behind the raw pointers it is given. On the way
it checks what ember hands NCCL: pointers and element counts inside live device arrays of the
communicator's device, NCCL's dtype and op numbers, the current stream of that device, one
unique id drawn by rank 0 and received by every rank, sends and receives that would deadlock
unless grouped. It cannot check CUDA streams, overlap, NCCL's own numerics or its hangs.

Groups: the whole MPI world, or one rank (others would need the world's ranks to join)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
import weakref

import numpy as np

MPI = None  # mpi4py.MPI, imported by the first communicator (importing it starts MPI)

_LIVE: dict[int, weakref.ref] = {}  # every FakeCudaArray alive (by id): the "device memory"
_CURRENT = [0]  # the current fake device

# NCCL's numbers (nccl.h): dtypes and ops
NCCL_TYPES = {
    0: np.int8,
    1: np.uint8,
    2: np.int32,
    3: np.uint32,
    4: np.int64,
    5: np.uint64,
    6: np.float16,
    7: np.float32,
    8: np.float64,
}
SUM, PROD, MAX, MIN, AVG = 0, 1, 2, 3, 4
P2P_WAIT = 10.0  # seconds a lone send or receive waits for its match before it calls it a deadlock


class FakeCudaArray(np.ndarray):
    """Host memory standing in for device `device_index`'s."""

    def __array_finalize__(self, obj) -> None:
        self.device_index = getattr(obj, "device_index", _CURRENT[0])
        k = id(self)
        _LIVE[k] = weakref.ref(self, lambda _, k=k: _LIVE.pop(k, None))


def cuda(a, device: int | None = None) -> FakeCudaArray:
    """A copy of `a` in fake device memory (on `device`, else the current one)."""
    arr = np.array(a).view(FakeCudaArray)
    arr.device_index = _CURRENT[0] if device is None else device
    return arr


def host(arr) -> np.ndarray:
    return np.array(arr).view(np.ndarray)


class FakeNcclError(RuntimeError):
    pass


class FakeEvent:
    def __init__(self, rt) -> None:
        self.rt, self.done = rt, True  # the fake's calls have finished when they return

    def synchronize(self) -> None:
        self.rt.synchronized += 1


class FakeNccl:
    """The runtime interface of ember.distributed.nccl.CupyNccl, on host memory and MPI."""

    Error = FakeNcclError

    def __init__(self, has_avg: bool = True) -> None:
        self.SUM, self.PROD, self.MAX, self.MIN = SUM, PROD, MAX, MIN
        self.AVG = AVG if has_avg else None
        self.dtypes = {np.dtype(t): k for k, t in NCCL_TYPES.items()}
        self.version = 22105 if has_avg else 2708  # NCCL_VERSION_CODE of 2.21.5 and of 2.7.8
        self.issued: list[tuple] = []  # unique ids drawn here
        self.calls: list[str] = []  # NCCL calls made, by name
        self.group_depth = 0
        self.pending: list = []  # sends/receives of the open group
        self.synchronized = 0

    # -- device memory --------------------------------------------------------------------------
    def is_device_array(self, arr) -> bool:
        return isinstance(arr, FakeCudaArray)

    def device_index(self, arr) -> int:
        return arr.device_index

    def ptr(self, arr) -> int:
        return arr.ctypes.data

    def empty(self, shape, dtype):
        return np.empty(shape, dtype).view(FakeCudaArray)

    def contiguous(self, arr):
        return np.ascontiguousarray(arr).view(FakeCudaArray)

    @contextlib.contextmanager
    def device(self, index: int):
        old, _CURRENT[0] = _CURRENT[0], index
        try:
            yield
        finally:
            _CURRENT[0] = old

    def current_device(self) -> int:
        return _CURRENT[0]

    def stream(self) -> int:
        return 1000 + _CURRENT[0]  # one "current stream" per device

    def record_event(self) -> FakeEvent:
        return FakeEvent(self)

    # -- NCCL -----------------------------------------------------------------------------------
    def unique_id(self) -> tuple:
        uid = tuple(int(v) for v in np.frombuffer(os.urandom(128), dtype=np.int8))  # C chars: signed
        self.issued.append(uid)
        return uid

    def communicator(self, nranks: int, uid: tuple, rank: int):
        global MPI
        from mpi4py import MPI

        world = MPI.COMM_WORLD
        if nranks == 1:
            comm = MPI.COMM_SELF.Dup()
        elif nranks == world.Get_size():
            comm = world.Dup()
        else:
            raise NotImplementedError("the fake NCCL makes groups of the whole world or of one rank")
        if comm.Get_rank() != rank or comm.Get_size() != nranks:
            raise FakeNcclError(f"rank {rank} of {nranks} joined as {comm.Get_rank()} of {comm.Get_size()}")
        ids = comm.allgather(tuple(uid))
        if any(i != ids[0] for i in ids) or len(uid) != 128:
            raise FakeNcclError("the ranks joined with different unique ids")
        if rank == 0 and tuple(uid) not in self.issued:
            raise FakeNcclError("rank 0 joined with a unique id it did not draw")
        self.calls.append("ncclCommInitRank")
        return FakeComm(self, comm, _CURRENT[0])

    def group_start(self) -> None:
        self.calls.append("ncclGroupStart")
        self.group_depth += 1

    def group_end(self) -> None:
        self.calls.append("ncclGroupEnd")
        if self.group_depth == 0:
            raise FakeNcclError("ncclGroupEnd without ncclGroupStart")
        self.group_depth -= 1
        if self.group_depth == 0:
            pending, self.pending = self.pending, []
            reqs = [
                comm.Irecv(arr, source=peer) if kind == "recv" else comm.Isend(arr, dest=peer)
                for kind, comm, arr, peer in pending
            ]
            MPI.Request.Waitall(reqs)


_MPI_OPS = {SUM: "SUM", PROD: "PROD", MAX: "MAX", MIN: "MIN", AVG: "SUM"}


class FakeComm:
    def __init__(self, rt: FakeNccl, comm, device: int) -> None:
        self.rt, self.comm, self.device = rt, comm, device
        self.n, self.rank = comm.Get_size(), comm.Get_rank()
        self.destroyed = False

    def _enter(self, name: str, stream: int) -> None:
        if self.destroyed:
            raise FakeNcclError(f"{name} on a destroyed communicator")
        if _CURRENT[0] != self.device:
            raise FakeNcclError(f"{name}: current device {_CURRENT[0]}, communicator's {self.device}")
        if stream != 1000 + self.device:
            raise FakeNcclError(f"{name}: stream {stream} is not device {self.device}'s current stream")
        self.rt.calls.append(name)

    def _mem(self, name: str, ptr: int, count: int, datatype: int) -> np.ndarray:
        """The `count` elements at `ptr`, checked to lie in one live device array of our device."""
        if datatype not in NCCL_TYPES:
            raise FakeNcclError(f"{name}: invalid NCCL dtype {datatype}")
        dt = np.dtype(NCCL_TYPES[datatype])
        nbytes = int(count) * dt.itemsize
        for ref in list(_LIVE.values()):
            a = ref()
            if a is None:
                continue
            lo = a.ctypes.data
            if a.device_index == self.device and lo <= ptr and ptr + nbytes <= lo + a.nbytes:
                break
        else:
            raise FakeNcclError(
                f"{name}: {count} elements of {dt} at {ptr:#x} are not in device {self.device}'s memory"
            )
        return np.frombuffer((ctypes.c_char * nbytes).from_address(ptr), dtype=dt)

    def _op(self, name: str, op: int) -> None:
        if op not in _MPI_OPS or (op == AVG and self.rt.AVG is None):
            raise FakeNcclError(f"{name}: invalid NCCL op {op}")

    def _reduced(self, dst, src, op: int, mpi_call) -> None:
        """`mpi_call(send, recv, mpi_op)` into `dst` (None off the root), float16 through float32
        (MPI has no half type), then AVG's division."""
        wide = src.dtype == np.float16
        send = src.astype(np.float32) if wide else src.copy()
        recv = None if dst is None else (np.empty(dst.shape, np.float32) if wide else dst)
        mpi_call(send, recv, getattr(MPI, _MPI_OPS[op]))
        if dst is None:
            return
        if op == AVG:
            recv[...] = recv / self.n if recv.dtype.kind == "f" else np.trunc(recv / self.n)
        if wide:
            dst[...] = recv.astype(np.float16)

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802 (CuPy's names)
        self._enter("allReduce", stream)
        src, dst = (
            self._mem("allReduce", sendbuf, count, datatype),
            self._mem("allReduce", recvbuf, count, datatype),
        )
        self._op("allReduce", op)
        self._reduced(dst, src, op, lambda s, d, o: self.comm.Allreduce(s, d, o))

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        self._enter("broadcast", stream)
        dst = self._mem("broadcast", recvbuf, count, datatype)
        if self.rank == root and sendbuf != recvbuf:
            dst[...] = self._mem("broadcast", sendbuf, count, datatype)
        self.comm.Bcast(dst, root)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        self._enter("reduce", stream)
        src = self._mem("reduce", sendbuf, count, datatype)
        self._op("reduce", op)
        dst = self._mem("reduce", recvbuf, count, datatype) if self.rank == root else None
        self._reduced(dst, src, op, lambda s, d, o: self.comm.Reduce(s, d, o, root))

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        self._enter("allGather", stream)
        src = self._mem("allGather", sendbuf, count, datatype).copy()
        self.comm.Allgather(src, self._mem("allGather", recvbuf, count * self.n, datatype))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):  # noqa: N802
        self._enter("reduceScatter", stream)
        src = self._mem("reduceScatter", sendbuf, recvcount * self.n, datatype).copy()
        dst = self._mem("reduceScatter", recvbuf, recvcount, datatype)
        self._op("reduceScatter", op)
        self._reduced(dst, src, op, lambda s, d, o: self.comm.Reduce_scatter_block(s, d, o))

    def _p2p(self, kind: str, buf, count, datatype, peer, stream) -> None:
        self._enter(kind, stream)
        if not 0 <= peer < self.n:
            raise FakeNcclError(f"{kind}: peer {peer} is not a rank of {self.n}")
        arr = self._mem(kind, buf, count, datatype)
        if self.rt.group_depth:
            self.rt.pending.append((kind, self.comm, arr, peer))
        elif peer == self.rank:
            raise FakeNcclError(f"{kind} to itself outside a group would deadlock")
        else:  # NCCL's lone send waits for the peer's receive (Issend), as the GPU would
            req = self.comm.Issend(arr, dest=peer) if kind == "send" else self.comm.Irecv(arr, source=peer)
            deadline = time.monotonic() + P2P_WAIT
            while not req.Test():
                if time.monotonic() > deadline:
                    req.Cancel()
                    raise FakeNcclError(f"{kind} with rank {peer} found no match in {P2P_WAIT} s: a deadlock")
                time.sleep(0.001)

    def send(self, sendbuf, count, datatype, peer, stream):
        self._p2p("send", sendbuf, count, datatype, peer, stream)

    def recv(self, recvbuf, count, datatype, peer, stream):
        self._p2p("recv", recvbuf, count, datatype, peer, stream)

    def destroy(self) -> None:
        self.destroyed = True
