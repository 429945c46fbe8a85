"""A process group's NCCL communicators, one per CUDA device, made on first use: rank 0 of the
group draws NCCL's unique id, the group's MPI communicator broadcasts it, and every rank joins."""

from __future__ import annotations

import numpy as np

from ember.distributed.nccl import runtime
from ember.distributed.watchdog import run_blocking


def nccl_call(what: str, device: int, fn, *args):
    """One NCCL call; NCCL's errors become RuntimeErrors naming the operation and the device."""
    rt = runtime()
    try:
        return fn(*args)
    except rt.Error as e:
        raise RuntimeError(f"ember.distributed.{what} (nccl backend, cuda:{device}): {e}") from None


class NcclComms:
    """`get(device)`: the group's communicator on that device. Making one is collective: every
    rank of the group makes it at the same operation (its first on that device)."""

    def __init__(self, pg) -> None:
        self.pg = pg
        self.by_device: dict[int, object] = {}

    def get(self, device: int):
        comm = self.by_device.get(device)
        if comm is None:
            comm = self.by_device[device] = self._join(device)
        return comm

    def _join(self, device: int):
        rt, pg = runtime(), self.pg
        uid = np.zeros(128, dtype=np.int64)  # NCCL_UNIQUE_ID_BYTES, as small ints
        if pg.rank() == 0:
            mine = rt.unique_id()
            if len(mine) != uid.size:
                raise RuntimeError(f"NCCL's unique id has {len(mine)} bytes, expected {uid.size}")
            uid[:] = mine
        run_blocking(pg, "nccl communicator (unique id)", pg.comm.Bcast, uid, 0)
        with rt.device(device):
            return run_blocking(
                pg,
                "nccl communicator (ncclCommInitRank)",
                nccl_call,
                "init_process_group",
                device,
                rt.communicator,
                pg.size(),
                tuple(int(v) for v in uid),
                pg.rank(),
            )

    def any_device(self) -> int | None:
        return next(iter(self.by_device), None)

    def destroy(self) -> None:
        for comm in self.by_device.values():
            comm.destroy()
        self.by_device.clear()
