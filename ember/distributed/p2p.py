"""Point-to-point: send/recv and their non-blocking forms (isend/irecv return a Work)."""

from __future__ import annotations

import numpy as np

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
    b = TensorBuffer(tensor, "send", read_only=True)
    run_blocking(pg, "send", pg.comm.Send, [b.arr, _state.mpi.BYTE], peer, tag)


def isend(tensor, dst: int | None = None, group=None, tag: int = 0, group_dst=None) -> Work | None:
    pg = resolve(group)
    if pg is None:
        return None
    peer = _peer(pg, "isend", dst, group_dst, "dst")
    b = TensorBuffer(tensor, "isend", read_only=True)
    return Work(pg, "isend", pg.comm.Isend([b.arr, _state.mpi.BYTE], peer, tag), lambda: None, [tensor])


def recv(tensor, src: int | None = None, group=None, tag: int = 0, group_src=None) -> int:
    """Receive into `tensor` from rank `src` (any rank if None); returns the sender's rank. A message
    of another size is a RuntimeError (after it was taken, so the sender is not left waiting)."""
    pg = resolve(group)
    if pg is None:
        return -1
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
    MPI = _state.mpi
    b = TensorBuffer(tensor, "irecv")
    source = (
        MPI.ANY_SOURCE
        if src is None and group_src is None
        else group_root(pg, "irecv", src, group_src, "src")
    )
    return Work(pg, "irecv", pg.comm.Irecv([b.arr, MPI.BYTE], source, tag), b.done, [tensor])


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
    """Start every operation of the list; returns their Works."""
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, group_dst=p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, group_src=p.group_peer))
    return [w for w in works if w is not None]
