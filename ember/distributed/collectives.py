"""Collectives on tensors, in place as torch's: each is one MPI call on the tensor's own memory
(a contiguous copy when it has none), checked first for the same call, shape and dtype on
every rank so that a mismatch is a clear error instead of a hang or garbage. On an nccl group
the arguments are checked here and the work is nccl_ops'."""

from __future__ import annotations

from typing import Any

import numpy as np

import ember
from ember.distributed import checks as _checks
from ember.distributed import nccl_ops
from ember.distributed.buffers import TensorBuffer
from ember.distributed.checks import check_same, describe, group_root
from ember.distributed.process_group import resolve
from ember.distributed.reduce_op import RedOpType, ReduceOp, mpi_op
from ember.distributed.state import _state
from ember.distributed.watchdog import run_blocking
from ember.distributed.work import Work


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
    if pg.nccl is not None:
        return nccl_ops.all_reduce(pg, tensor, op, async_op)
    b = TensorBuffer(tensor, "all_reduce")
    mop = mpi_op(op, b.arr.dtype)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "all_reduce", describe(tensor, op=op))
    MPI = _state.mpi
    n = pg.size() if op == RedOpType.AVG else 0

    def start(nb):
        return (pg.comm.Iallreduce if nb else pg.comm.Allreduce)(MPI.IN_PLACE, b.arr, mop)

    return _finish(pg, "all_reduce", async_op, start, lambda: b.done(n), [tensor])


class PreparedAllReduce:
    """all_reduce(tensor, op, group, async_op=True) of one tensor, many times: the argument checks,
    the buffer and the op mapping are done once, here, so that `start()` is the backend's call
    and a Work (for callers that reduce the same memory every iteration, as DDP's buckets; the
    same-call check is theirs to make once). `tensor` must be a contiguous tensor that its owner
    neither reallocates nor reshapes. As an MPI persistent request, start() hands back the same
    Work each time once it has finished (a new one while it has not)."""

    __slots__ = ("pg", "tensor", "op", "arr", "mop", "done", "work")

    def __init__(self, pg, tensor, op: RedOpType) -> None:
        self.pg, self.tensor, self.op = pg, tensor, RedOpType(op)
        self.work = None
        if pg.nccl is not None:
            return  # nccl_ops.all_reduce at each start: its checks are small next to a kernel launch
        b = TensorBuffer(tensor, "all_reduce")
        if b.copy:
            raise ValueError("PreparedAllReduce needs a contiguous, writeable tensor of an MPI dtype")
        self.arr, self.mop = b.arr, mpi_op(self.op, b.arr.dtype)
        # what b.done() does for a buffer that is the tensor's own memory: divide (AVG), bump
        self.done = tensor._bump if self.op != RedOpType.AVG else lambda: b.done(pg.size())

    def start(self) -> Work:
        pg = self.pg
        if pg.nccl is not None:
            return nccl_ops.all_reduce(pg, self.tensor, self.op, True, False)
        pg.seq += 1
        req = pg.comm.Iallreduce(_state.mpi.IN_PLACE, self.arr, self.mop)
        w = self.work
        if w is None or not w._finished:
            w = self.work = Work(pg, "all_reduce", [req], self.done, [self.tensor])
        else:
            w._requests[0], w._finished = req, False
        return w


def broadcast(
    tensor, src: int | None = None, group=None, async_op: bool = False, group_src=None
) -> Work | None:
    """Copy rank `src`'s tensor into every rank's `tensor`."""
    pg = resolve(group)
    if pg is None:
        return None
    root = group_root(pg, "broadcast", src, group_src, "src")
    return broadcast_on(pg, tensor, root, async_op)


def broadcast_on(pg, tensor, root: int, async_op: bool, check: bool = True) -> Work | None:
    """broadcast on a resolved group from group rank `root`; check=False skips the same-call check
    (an all-gather), for callers that checked their layout once up front (DDP)."""
    if pg.nccl is not None:
        return nccl_ops.broadcast(pg, tensor, root, async_op, check)
    b = TensorBuffer(tensor, "broadcast")
    if check:
        if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
            check_same(pg, "broadcast", describe(tensor, src=pg.ranks[root]))

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
    root = group_root(pg, "reduce", dst, group_dst, "dst")
    if pg.nccl is not None:
        return nccl_ops.reduce(pg, tensor, root, op, async_op)
    me = pg.rank() == root
    b = TensorBuffer(tensor, "reduce", read_only=not me)
    mop = mpi_op(op, b.arr.dtype)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "reduce", describe(tensor, op=op, dst=pg.ranks[root]))
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
        t._bump()


def all_gather(tensor_list, tensor, group=None, async_op: bool = False) -> Work | None:
    """`tensor_list[i]` receives rank i's `tensor`."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_list("all_gather", tensor_list, pg.size(), tensor, "tensor_list")
    if pg.nccl is not None:
        return nccl_ops.all_gather(pg, tensor_list, tensor, async_op)
    b = TensorBuffer(tensor, "all_gather", read_only=True)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "all_gather", describe(tensor))
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
    if pg.nccl is not None:
        return nccl_ops.all_gather_into_tensor(pg, output_tensor, input_tensor, async_op)
    b = TensorBuffer(input_tensor, "all_gather_into_tensor", read_only=True)
    out = TensorBuffer(output_tensor, "all_gather_into_tensor")
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "all_gather_into_tensor", describe(input_tensor))

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
    root = group_root(pg, "gather", dst, group_dst, "dst")
    me = pg.rank() == root
    if me:
        _check_list("gather", gather_list, pg.size(), tensor, "gather_list")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    if pg.nccl is not None:
        return nccl_ops.gather(pg, tensor, gather_list, root, async_op)
    b = TensorBuffer(tensor, "gather", read_only=True)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "gather", describe(tensor, dst=pg.ranks[root]))
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
    root = group_root(pg, "scatter", src, group_src, "src")
    me = pg.rank() == root
    if me:
        _check_list("scatter", scatter_list, pg.size(), tensor, "scatter_list")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    if pg.nccl is not None:
        return nccl_ops.scatter(pg, tensor, scatter_list, root, async_op)
    b = TensorBuffer(tensor, "scatter")
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "scatter", describe(tensor, src=pg.ranks[root]))
    send = np.stack([TensorBuffer(t, "scatter", read_only=True).arr for t in scatter_list]) if me else None

    def start(nb):
        return (pg.comm.Iscatter if nb else pg.comm.Scatter)(send, b.arr, root)

    return _finish(pg, "scatter", async_op, start, b.done, [tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False) -> Work | None:
    """Rank i's `output` is the reduction over ranks of their `input_list[i]`."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_list("reduce_scatter", input_list, pg.size(), output, "input_list")
    if pg.nccl is not None:
        return nccl_ops.reduce_scatter(pg, output, input_list, op, async_op)
    send = np.stack([TensorBuffer(t, "reduce_scatter", read_only=True).arr for t in input_list])
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
    if pg.nccl is not None:
        return nccl_ops.reduce_scatter_tensor(pg, output, input, op, async_op)
    send = TensorBuffer(input, "reduce_scatter_tensor", read_only=True).arr
    return _reduce_scatter(pg, "reduce_scatter_tensor", output, send, op, async_op)


def _reduce_scatter(pg, what, output, send, op, async_op):
    op = RedOpType(op)
    b = TensorBuffer(output, what)
    mop = mpi_op(op, b.arr.dtype)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, what, describe(output, op=op))
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
    scounts = _counts("all_to_all_single", input, input_split_sizes, n, "input")
    rcounts = _counts("all_to_all_single", output, output_split_sizes, n, "output")
    if pg.nccl is not None:
        return nccl_ops.all_to_all_single(pg, output, input, scounts, rcounts, async_op)
    b_in = TensorBuffer(input, "all_to_all_single", read_only=True)
    b_out = TensorBuffer(output, "all_to_all_single")
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "all_to_all_single", describe(None, dtype=input.dtype))
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
    if pg.nccl is not None:
        return nccl_ops.all_to_all(pg, output_tensor_list, input_tensor_list, async_op)
    if _checks.CHECKS and pg.size() > 1:  # describe() only when the check runs
        check_same(pg, "all_to_all", describe(None, dtype=input_tensor_list[0].dtype))
    send_parts = [TensorBuffer(t, "all_to_all", read_only=True).arr.ravel() for t in input_tensor_list]
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
    if pg.nccl is not None:
        return nccl_ops.barrier(pg, async_op, device_ids)

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
