"""Collectives on tensors, in place as torch's: each is one MPI call on the tensor's own memory
(a contiguous copy when it has none), checked first for the same call, shape and dtype on
every rank so that a mismatch is a clear error instead of a hang or garbage."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

import ember
from ember.distributed.process_group import ProcessGroup, _state, resolve, run_blocking
from ember.distributed.work import Work


class RedOpType(enum.IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {self.value}>"


class ReduceOp:
    """torch.distributed.ReduceOp: `ReduceOp.SUM`, `AVG`, `PRODUCT`, `MIN`, `MAX`, `BAND`, `BOR`, `BXOR`."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


def _mpi_op(op, dtype: np.dtype):
    MPI = _state.mpi
    op = RedOpType(op)
    if op == RedOpType.PREMUL_SUM:
        raise ValueError("ReduceOp.PREMUL_SUM is only supported by torch's NCCL backend, not by ember's mpi")
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and dtype.kind not in "iub":
        raise ValueError(f"Cannot use ReduceOp.{op.name} with non-integral dtype {dtype}")
    if dtype.kind == "b":  # MPI reduces C booleans with logical ops only
        return {
            RedOpType.SUM: MPI.LOR,
            RedOpType.MAX: MPI.LOR,
            RedOpType.BOR: MPI.LOR,
            RedOpType.AVG: MPI.LOR,
            RedOpType.MIN: MPI.LAND,
            RedOpType.PRODUCT: MPI.LAND,
            RedOpType.BAND: MPI.LAND,
            RedOpType.BXOR: MPI.LXOR,
        }[op]
    return {
        RedOpType.SUM: MPI.SUM,
        RedOpType.AVG: MPI.SUM,  # divided by the group size afterwards
        RedOpType.PRODUCT: MPI.PROD,
        RedOpType.MIN: MPI.MIN,
        RedOpType.MAX: MPI.MAX,
        RedOpType.BAND: MPI.BAND,
        RedOpType.BOR: MPI.BOR,
        RedOpType.BXOR: MPI.BXOR,
    }[op]


class _Buf:
    """A tensor's memory as a contiguous NumPy buffer for MPI; `done()` writes it back (when it
    had to be a copy) and bumps the tensor's version, as torch's in-place collectives do."""

    __slots__ = ("t", "arr", "copy")

    def __init__(self, t, what: str, read_only: bool = False) -> None:
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"ember.distributed.{what}: expected a Tensor, got {type(t).__name__}")
        if t.is_cuda:
            raise RuntimeError(
                f"ember.distributed.{what}: CUDA tensors need the nccl backend (not yet in ember)"
            )
        if t._bl:
            t.detach()  # shows the memory, so a batch-last tensor becomes NCHW-contiguous first
        d = t._data
        self.t = t
        self.copy = (
            not d.flags.c_contiguous or (not read_only and not d.flags.writeable) or d.dtype == np.float16
        )
        self.arr = np.ascontiguousarray(d, dtype=np.float32 if d.dtype == np.float16 else d.dtype)
        if self.copy and self.arr is d:
            self.arr = d.copy()

    def done(self, avg_over: int = 0) -> None:
        if avg_over:
            _divide(self.arr, avg_over)
        if self.copy:
            self.t._data[...] = self.arr
        self.t._vc[0] += 1


def _divide(arr: np.ndarray, n: int) -> None:
    if arr.dtype.kind in "fc":
        arr /= arr.dtype.type(n)
    elif arr.dtype.kind in "iu":
        arr[...] = (arr / n).astype(arr.dtype)  # truncated toward zero, as NCCL's integer average
    # booleans: AVG is LOR (an average of 0/1 values that is > 0 rounds up in torch's bool cast)


_DESC = 160  # bytes of the per-call description every rank shares before a collective


def _describe(t, **kw) -> str:
    parts = []
    if t is not None:
        parts.append(f"shape={list(t.shape)}")
        parts.append(f"dtype={t.dtype}")
    parts += [f"{k}={v.name if isinstance(v, enum.Enum) else v}" for k, v in kw.items() if v is not None]
    return ", ".join(parts)


def check_same(pg: ProcessGroup, what: str, desc: str) -> None:
    """Every rank states the call it is making; if they differ, all raise the same clear error."""
    if pg.size() == 1:
        return
    mine = f"{what}({desc})".encode()[:_DESC].ljust(_DESC)
    allv = np.empty((pg.size(), _DESC), dtype=np.uint8)
    run_blocking(pg, what, pg.comm.Allgather, np.frombuffer(mine, dtype=np.uint8), allv)
    if (allv == allv[0]).all():
        return
    calls = [bytes(row).decode(errors="replace").rstrip() for row in allv]
    listing = "; ".join(f"rank {pg.ranks[i]} called {c}" for i, c in enumerate(calls))
    raise RuntimeError(
        f"ember.distributed.{what}: the ranks' calls do not match (every rank of the group must make "
        f"the same collective with tensors of the same shape and dtype): {listing}"
    )


def _root(pg: ProcessGroup, what: str, rank: int | None, group_rank: int | None, name: str) -> int:
    """torch's src/dst are global ranks; group_src/group_dst are ranks within the group."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{what}: give {name} or group_{name}, not both")
    if group_rank is not None:
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{what}: group_{name}={group_rank} is not a rank of the group of {pg.size()}")
        return group_rank
    rank = 0 if rank is None else int(rank)
    if rank not in pg.ranks:
        raise ValueError(f"Global rank {rank} is not part of group {pg}")
    return pg.ranks.index(rank)


def _finish(pg, what, async_op, start, done, outputs) -> Work | None:
    """Run a collective: blocking (MPI's blocking call, then `done`) or as a Work handle."""
    if async_op:
        return Work(pg, what, start(True), done, outputs)
    run_blocking(pg, what, start, False)
    done()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False) -> Work | None:
    """Reduce `tensor` over the group, in place on every rank."""
    pg = resolve(group)
    if pg is None:
        return None
    op = RedOpType(op)
    b = _Buf(tensor, "all_reduce")
    mop = _mpi_op(op, b.arr.dtype)
    check_same(pg, "all_reduce", _describe(tensor, op=op))
    MPI = _state.mpi
    n = pg.size() if op == RedOpType.AVG else 0

    def start(nb):
        return (pg.comm.Iallreduce if nb else pg.comm.Allreduce)(MPI.IN_PLACE, b.arr, mop)

    return _finish(pg, "all_reduce", async_op, start, lambda: b.done(n), [tensor])


def broadcast(
    tensor, src: int | None = None, group=None, async_op: bool = False, group_src=None
) -> Work | None:
    """Copy rank `src`'s tensor into every rank's `tensor`."""
    pg = resolve(group)
    if pg is None:
        return None
    root = _root(pg, "broadcast", src, group_src, "src")
    b = _Buf(tensor, "broadcast")
    check_same(pg, "broadcast", _describe(tensor, src=pg.ranks[root]))

    def start(nb):
        return (pg.comm.Ibcast if nb else pg.comm.Bcast)(b.arr, root)

    return _finish(pg, "broadcast", async_op, start, b.done, [tensor])


def reduce(
    tensor, dst: int | None = None, op=ReduceOp.SUM, group=None, async_op: bool = False, group_dst=None
) -> Work | None:
    """Reduce over the group into rank `dst`'s tensor (the others' are left as they were)."""
    pg = resolve(group)
    if pg is None:
        return None
    op = RedOpType(op)
    root = _root(pg, "reduce", dst, group_dst, "dst")
    me = pg.rank() == root
    b = _Buf(tensor, "reduce", read_only=not me)
    mop = _mpi_op(op, b.arr.dtype)
    check_same(pg, "reduce", _describe(tensor, op=op, dst=pg.ranks[root]))
    MPI = _state.mpi
    send = MPI.IN_PLACE if me else b.arr
    recv = b.arr if me else None

    def start(nb):
        return (pg.comm.Ireduce if nb else pg.comm.Reduce)(send, recv, mop, root)

    def done():
        if me:
            b.done(pg.size() if op == RedOpType.AVG else 0)

    return _finish(pg, "reduce", async_op, start, done, [tensor])


def _check_list(what: str, tensors, n: int, like, name: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(
            f"{what}: {name} must be a list of {n} tensors (one per rank of the group), got {got}"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"{what}: {name}[{i}] is a {type(t).__name__}, not a Tensor")
        if like is not None and (tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype):
            raise ValueError(
                f"{what}: {name}[{i}] has shape {list(t.shape)} and dtype {t.dtype}, but the input has "
                f"shape {list(like.shape)} and dtype {like.dtype}"
            )


def _np_dtype(t) -> np.dtype:
    d = t._data.dtype
    return np.dtype(np.float32) if d == np.float16 else d


def _store(outputs, rows) -> None:
    for t, row in zip(outputs, rows):
        t._data[...] = row.reshape(t._data.shape) if t._data.ndim else row.reshape(())
        t._vc[0] += 1


def all_gather(tensor_list, tensor, group=None, async_op: bool = False) -> Work | None:
    """`tensor_list[i]` receives rank i's `tensor`."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_list("all_gather", tensor_list, pg.size(), tensor, "tensor_list")
    b = _Buf(tensor, "all_gather", read_only=True)
    check_same(pg, "all_gather", _describe(tensor))
    recv = np.empty((pg.size(), *b.arr.shape), dtype=b.arr.dtype)

    def start(nb):
        return (pg.comm.Iallgather if nb else pg.comm.Allgather)(b.arr, recv)

    return _finish(pg, "all_gather", async_op, start, lambda: _store(tensor_list, recv), tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False) -> Work | None:
    """Rank i's `input_tensor` goes to the i-th chunk (along dim 0, or stacked) of `output_tensor`."""
    pg = resolve(group)
    if pg is None:
        return None
    _same_dtype("all_gather_into_tensor", output_tensor, input_tensor)
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError(
            f"all_gather_into_tensor: output tensor size {list(output_tensor.shape)} must be equal to world_size "
            f"({pg.size()}) times input tensor size {list(input_tensor.shape)}"
        )
    b = _Buf(input_tensor, "all_gather_into_tensor", read_only=True)
    out = _Buf(output_tensor, "all_gather_into_tensor")
    check_same(pg, "all_gather_into_tensor", _describe(input_tensor))

    def start(nb):
        return (pg.comm.Iallgather if nb else pg.comm.Allgather)(b.arr, out.arr)

    return _finish(pg, "all_gather_into_tensor", async_op, start, out.done, [output_tensor])


def _same_dtype(what: str, out, inp) -> None:
    for t, name in ((out, "output"), (inp, "input")):
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"{what}: {name} must be a Tensor, got {type(t).__name__}")
    if out.dtype != inp.dtype:
        raise ValueError(f"{what}: output dtype {out.dtype} differs from input dtype {inp.dtype}")


def gather(
    tensor, gather_list=None, dst: int | None = None, group=None, async_op: bool = False, group_dst=None
) -> Work | None:
    """Rank `dst` receives every rank's `tensor` into `gather_list`."""
    pg = resolve(group)
    if pg is None:
        return None
    root = _root(pg, "gather", dst, group_dst, "dst")
    me = pg.rank() == root
    if me:
        _check_list("gather", gather_list, pg.size(), tensor, "gather_list")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    b = _Buf(tensor, "gather", read_only=True)
    check_same(pg, "gather", _describe(tensor, dst=pg.ranks[root]))
    recv = np.empty((pg.size(), *b.arr.shape), dtype=b.arr.dtype) if me else None

    def start(nb):
        return (pg.comm.Igather if nb else pg.comm.Gather)(b.arr, recv, root)

    def done():
        if me:
            _store(gather_list, recv)

    return _finish(pg, "gather", async_op, start, done, list(gather_list or []))


def scatter(
    tensor, scatter_list=None, src: int | None = None, group=None, async_op: bool = False, group_src=None
) -> Work | None:
    """Rank i's `tensor` receives `scatter_list[i]` of rank `src`."""
    pg = resolve(group)
    if pg is None:
        return None
    root = _root(pg, "scatter", src, group_src, "src")
    me = pg.rank() == root
    if me:
        _check_list("scatter", scatter_list, pg.size(), tensor, "scatter_list")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    b = _Buf(tensor, "scatter")
    check_same(pg, "scatter", _describe(tensor, src=pg.ranks[root]))
    send = np.stack([_Buf(t, "scatter", read_only=True).arr for t in scatter_list]) if me else None

    def start(nb):
        return (pg.comm.Iscatter if nb else pg.comm.Scatter)(send, b.arr, root)

    return _finish(pg, "scatter", async_op, start, b.done, [tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False) -> Work | None:
    """Rank i's `output` is the reduction over ranks of their `input_list[i]`."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_list("reduce_scatter", input_list, pg.size(), output, "input_list")
    send = np.stack([_Buf(t, "reduce_scatter", read_only=True).arr for t in input_list])
    return _reduce_scatter(pg, "reduce_scatter", output, send, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False) -> Work | None:
    """Rank i's `output` is the reduction over ranks of the i-th chunk of their `input`."""
    pg = resolve(group)
    if pg is None:
        return None
    _same_dtype("reduce_scatter_tensor", output, input)
    if input.numel() != pg.size() * output.numel():
        raise ValueError(
            f"reduce_scatter_tensor: input tensor size {list(input.shape)} must be equal to world_size "
            f"({pg.size()}) times output tensor size {list(output.shape)}"
        )
    send = _Buf(input, "reduce_scatter_tensor", read_only=True).arr
    return _reduce_scatter(pg, "reduce_scatter_tensor", output, send, op, async_op)


def _reduce_scatter(pg, what, output, send, op, async_op):
    op = RedOpType(op)
    b = _Buf(output, what)
    mop = _mpi_op(op, b.arr.dtype)
    check_same(pg, what, _describe(output, op=op))
    n = pg.size() if op == RedOpType.AVG else 0

    def start(nb):
        return (pg.comm.Ireduce_scatter_block if nb else pg.comm.Reduce_scatter_block)(send, b.arr, mop)

    return _finish(pg, what, async_op, start, lambda: b.done(n), [output])


def all_to_all_single(
    output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op: bool = False
) -> Work | None:
    """Split `input` along dim 0 (equally, or by `input_split_sizes`), send piece j to rank j, and
    concatenate what arrives into `output` (by `output_split_sizes`)."""
    pg = resolve(group)
    if pg is None:
        return None
    _same_dtype("all_to_all_single", output, input)
    n = pg.size()
    b_in = _Buf(input, "all_to_all_single", read_only=True)
    b_out = _Buf(output, "all_to_all_single")
    scounts = _counts("all_to_all_single", input, input_split_sizes, n, "input")
    rcounts = _counts("all_to_all_single", output, output_split_sizes, n, "output")
    check_same(pg, "all_to_all_single", _describe(None, dtype=input.dtype))
    send = [b_in.arr, (scounts, _displs(scounts))]
    recv = [b_out.arr, (rcounts, _displs(rcounts))]

    def start(nb):
        return (pg.comm.Ialltoallv if nb else pg.comm.Alltoallv)(send, recv)

    return _finish(pg, "all_to_all_single", async_op, start, b_out.done, [output])


def _counts(what, t, splits, n, name) -> list[int]:
    rows = t.shape[0] if t.dim() else 1
    row = t.numel() // max(rows, 1)
    if splits is None or len(splits) == 0:
        if rows % n:
            raise ValueError(f"{what}: {name} of {rows} rows does not split evenly over {n} ranks")
        return [rows // n * row] * n
    splits = [int(s) for s in splits]
    if len(splits) != n or sum(splits) != rows:
        raise ValueError(f"{what}: {name}_split_sizes {splits} must be {n} sizes summing to {rows}")
    return [s * row for s in splits]


def _displs(counts: list[int]) -> list[int]:
    return [sum(counts[:i]) for i in range(len(counts))]


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op: bool = False) -> Work | None:
    """Rank i's `output_tensor_list[j]` receives rank j's `input_tensor_list[i]`."""
    pg = resolve(group)
    if pg is None:
        return None
    n = pg.size()
    _check_list("all_to_all", output_tensor_list, n, None, "output_tensor_list")
    _check_list("all_to_all", input_tensor_list, n, None, "input_tensor_list")
    dtypes = {t.dtype for t in (*output_tensor_list, *input_tensor_list)}
    if len(dtypes) != 1:
        raise ValueError(f"all_to_all: all tensors must have one dtype, got {sorted(map(str, dtypes))}")
    check_same(pg, "all_to_all", _describe(None, dtype=input_tensor_list[0].dtype))
    send_parts = [_Buf(t, "all_to_all", read_only=True).arr.ravel() for t in input_tensor_list]
    send = np.concatenate(send_parts) if send_parts else np.empty(0)
    rcounts = [t.numel() for t in output_tensor_list]
    scounts = [a.size for a in send_parts]
    recv = np.empty(sum(rcounts), dtype=send.dtype)
    sbuf, rbuf = [send, (scounts, _displs(scounts))], [recv, (rcounts, _displs(rcounts))]

    def start(nb):
        return (pg.comm.Ialltoallv if nb else pg.comm.Alltoallv)(sbuf, rbuf)

    def done():
        _store(output_tensor_list, np.split(recv, np.cumsum(rcounts)[:-1]))

    return _finish(pg, "all_to_all", async_op, start, done, output_tensor_list)


def barrier(group=None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank of the group has reached the barrier."""
    pg = resolve(group)
    if pg is None:
        return None

    def start(nb):
        return pg.comm.Ibarrier() if nb else pg.comm.Barrier()

    return _finish(pg, "barrier", async_op, start, lambda: None, [])


def monitored_barrier(group=None, timeout=None, wait_all_ranks: bool = False) -> None:
    """A barrier with its own timeout (the group's by default)."""
    pg = resolve(group)
    if pg is None:
        return None
    run_blocking(pg, "monitored_barrier", pg.comm.Barrier, timeout=timeout)
    return None


__all__ = [
    "ReduceOp",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "gather",
    "monitored_barrier",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
]
