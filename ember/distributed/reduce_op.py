"""torch's ReduceOp, and how each maps onto an MPI operation."""

from __future__ import annotations

import enum

import numpy as np

from ember.distributed.state import _state


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

    def __str__(self) -> str:
        return f"RedOpType.{self.name}"


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


_MPI_OPS: dict = {}  # (op, dtype.kind) -> MPI.Op, filled by the first call of each pair


def mpi_op(op, dtype: np.dtype):
    key = (op, dtype.kind)
    hit = _MPI_OPS.get(key)
    if hit is not None:
        return hit
    hit = _MPI_OPS[key] = _mpi_op(op, dtype)
    return hit


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


def divide(arr: np.ndarray, n: int) -> None:
    if arr.dtype.kind in "fc":
        arr /= arr.dtype.type(n)
    elif arr.dtype.kind in "iu":
        arr[...] = (arr / n).astype(arr.dtype)  # truncated toward zero, as NCCL's integer average
    # booleans: AVG is LOR (an average of 0/1 values that is > 0 rounds up in torch's bool cast)
