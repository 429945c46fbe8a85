"""Before a collective, the ranks check that they are making the same call (a mismatch would
otherwise hang or give garbage); roots given as global ranks become group ranks."""

from __future__ import annotations

import enum
import os

import numpy as np

from ember.distributed.process_group import ProcessGroup
from ember.distributed.watchdog import run_blocking

_DESC = 160  # bytes of the per-call description every rank shares before a collective
# EMBER_DISTRIBUTED_CHECKS=0 skips the exchange (one small all-gather per collective), as torch does by
# default: a mismatch then hangs or fails inside MPI instead of raising the clear error
CHECKS = os.environ.get("EMBER_DISTRIBUTED_CHECKS", "1") != "0"


def describe(t, **kw) -> str:
    parts = []
    if t is not None:
        parts.append(f"shape={list(t.shape)}")
        parts.append(f"dtype={t.dtype}")
    parts += [f"{k}={v.name if isinstance(v, enum.Enum) else v}" for k, v in kw.items() if v is not None]
    return ", ".join(parts)


def check_same(pg: ProcessGroup, what: str, desc: str) -> None:
    """Every rank states the call it is making; if they differ, all raise the same clear error."""
    if pg.size() == 1 or not CHECKS:
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


def group_root(pg: ProcessGroup, what: str, rank: int | None, group_rank: int | None, name: str) -> int:
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
