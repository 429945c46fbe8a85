"""The process-wide state of ember.distributed: the default group, the groups, mpi4py.MPI."""

from __future__ import annotations

from typing import Any


class _State:
    world: Any = None  # the default ProcessGroup
    groups: list = []  # every live ProcessGroup, the default one first
    mpi: Any = None  # the mpi4py.MPI module once initialised
    hook: Any = None  # sys.excepthook before init_process_group


_state = _State()
