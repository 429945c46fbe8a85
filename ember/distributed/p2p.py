"""Point-to-point: send/recv and their non-blocking forms (isend/irecv return a Work). On an nccl
group they are NCCL sends and receives (nccl_ops); NCCL has no tags and no receive from any rank."""

from __future__ import annotations

import numpy as np

from ember.distributed import nccl_ops
from ember.distributed.buffers import TensorBuffer
from ember.distributed.checks import group_root
from ember.distributed.process_group import resolve
from ember.distributed.state import _state
from ember.distributed.watchdog import run_blocking
from ember.distributed.work import Work


def _peer(pg, what, rank, group_rank, name):
    if rank is None and group_rank is None:
        raise ValueError(f"{what}: {name} is required")
    return group_root(pg, what, rank, group_rank, name)


def send(tensor, dst: int | None = None, group=None, tag: int = 0, group_dst=None) -> None:
    """Send `tensor` to rank `dst` (returns when the buffer may be reused)."""
    pg = resolve(group)
    if pg is None:
        return
    peer = _peer(pg, "send", dst, group_dst, "dst")
    if pg.nccl is not None:
        nccl_ops.send(pg, tensor, peer, "send", False)
        return
    b = TensorBuffer(tensor, "send", read_only=True)
    run_blocking(pg, "send", pg.comm.Send, [b.arr, _state.mpi.BYTE], peer, tag)


def isend(tensor, dst: int | None = None, group=None, tag: int = 0, group_dst=None) -> Work | None:
    pg = resolve(group)
    if pg is None:
        return None
    peer = _peer(pg, "isend", dst, group_dst, "dst")
    if pg.nccl is not None:
        return nccl_ops.send(pg, tensor, peer, "isend", True)
    b = TensorBuffer(tensor, "isend", read_only=True)
    return Work(pg, "isend", pg.comm.Isend([b.arr, _state.mpi.BYTE], peer, tag), lambda: None, [tensor])


def recv(tensor, src: int | None = None, group=None, tag: int = 0, group_src=None) -> int:
    """Receive into `tensor` from rank `src` (any rank if None); returns the sender's rank. A message
    of another size is a RuntimeError (after it was taken, so the sender is not left waiting)."""
    pg = resolve(group)
    if pg is None:
        return -1
    if pg.nccl is not None:
        peer = _nccl_source(pg, "recv", src, group_src)
        nccl_ops.recv(pg, tensor, peer, "recv", False)
        return pg.ranks[peer]
    MPI = _state.mpi
    b = TensorBuffer(tensor, "recv")
    source = (
        MPI.ANY_SOURCE if src is None and group_src is None else group_root(pg, "recv", src, group_src, "src")
    )
    status = MPI.Status()
    run_blocking(pg, "recv", pg.comm.Probe, source, tag, status)
    sender, nbytes = status.Get_source(), status.Get_count(MPI.BYTE)
    if nbytes != b.arr.nbytes:
        run_blocking(pg, "recv", pg.comm.Recv, [np.empty(nbytes, np.uint8), MPI.BYTE], sender, tag)
        raise RuntimeError(
            f"recv: rank {pg.ranks[sender]} sent {nbytes} bytes, but the receiving tensor has shape "
            f"{list(tensor.shape)} and dtype {tensor.dtype} ({b.arr.nbytes} bytes)"
        )
    run_blocking(pg, "recv", pg.comm.Recv, [b.arr, MPI.BYTE], sender, tag)
    b.done()
    return pg.ranks[sender]


def irecv(tensor, src: int | None = None, group=None, tag: int = 0, group_src=None) -> Work | None:
    pg = resolve(group)
    if pg is None:
        return None
    if pg.nccl is not None:
        return nccl_ops.recv(pg, tensor, _nccl_source(pg, "irecv", src, group_src), "irecv", True)
    MPI = _state.mpi
    b = TensorBuffer(tensor, "irecv")
    source = (
        MPI.ANY_SOURCE
        if src is None and group_src is None
        else group_root(pg, "irecv", src, group_src, "src")
    )
    return Work(pg, "irecv", pg.comm.Irecv([b.arr, MPI.BYTE], source, tag), b.done, [tensor])


def _nccl_source(pg, what, src, group_src) -> int:
    if src is None and group_src is None:
        raise RuntimeError(
            f"{what}: the nccl backend cannot receive from any rank (src=None): give src (NCCL has no "
            "any-source receive)"
        )
    return group_root(pg, what, src, group_src, "src")


class P2POp:
    """One operation of batch_isend_irecv: `P2POp(dist.isend, tensor, peer)`."""

    def __init__(
        self, op, tensor, peer: int | None = None, group=None, tag: int = 0, group_peer=None
    ) -> None:
        if op not in (isend, irecv):
            raise ValueError(
                "Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                "``torch.distributed.irecv``."
            )
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = (
            op,
            tensor,
            peer,
            group,
            tag,
            group_peer,
        )


def batch_isend_irecv(p2p_op_list: list[P2POp]) -> list[Work]:
    """Start every operation of the list; returns their Works. On an nccl group the operations
    are one NCCL group call (so that sends and receives between the same ranks cannot deadlock)."""
    pgs = [resolve(p.group) for p in p2p_op_list]
    if any(pg is not None and pg.nccl is not None for pg in pgs):
        if len({id(pg) for pg in pgs}) != 1:
            raise ValueError("batch_isend_irecv: all operations of an nccl batch must use the same group")
        pg = pgs[0]
        items = [
            (p.op is isend, p.tensor, _peer(pg, "batch_isend_irecv", p.peer, p.group_peer, "peer"))
            for p in p2p_op_list
        ]
        return nccl_ops.batch_isend_irecv(pg, items)
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, group_dst=p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, group_src=p.group_peer))
    return [w for w in works if w is not None]
