"""torch.distributed.nn.functional: differentiable collectives (out of place)."""

from __future__ import annotations

import numpy as np

from ember.distributed import nccl_ops
from ember.distributed.checks import check_same
from ember.distributed.process_group import resolve
from ember.distributed.reduce_op import RedOpType, ReduceOp
from ember.distributed.state import _state
from ember.distributed.watchdog import run_blocking
from ember.graph.node import Function


def _summed(pg, a, what: str):
    if pg.nccl is not None:  # a CUDA array: summed by NCCL on its device
        return nccl_ops.sum_array(pg, a)
    out = np.array(a, dtype=a.dtype, order="C", copy=True)
    run_blocking(pg, what, pg.comm.Allreduce, _state.mpi.IN_PLACE, out, _state.mpi.SUM)
    return out


class AllReduceSum(Function):
    # y = sum_r x_r on every rank, so dL/dx_r = sum_r' dL/dy_r' (the same all-reduce of the gradients)
    @staticmethod
    def forward(ctx, a, pg):
        ctx.pg = pg
        return _summed(pg, a, "all_reduce (forward)")

    @staticmethod
    def backward(ctx, g):
        return _summed(ctx.pg, g if ctx.pg.nccl is not None else np.asarray(g), "all_reduce (backward)"), None


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The reduction over the group as a new tensor that backward flows through (SUM and AVG)."""
    pg = resolve(group)
    if pg is None:
        return tensor
    op = RedOpType(op)
    if op not in (RedOpType.SUM, RedOpType.AVG):
        raise ValueError(f"ember.distributed.nn.functional.all_reduce supports SUM and AVG, not {op.name}")
    check_same(pg, "nn.functional.all_reduce", f"shape={list(tensor.shape)}, dtype={tensor.dtype}")
    out = AllReduceSum.apply(tensor, pg)
    return out / pg.size() if op == RedOpType.AVG else out
