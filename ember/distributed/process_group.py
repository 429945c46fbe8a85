"""Process groups on MPI communicators: init_process_group, new_group, ranks, and the watchdog
that ends the job when a collective outlives its group's timeout. An nccl group is an MPI group
(for its rendezvous, checks and object collectives) whose tensors travel through NCCL."""

from __future__ import annotations

import datetime
import faulthandler
import os
import sys
import time
from importlib.util import find_spec
from typing import Any

import numpy as np

from ember import _backend
from ember.distributed import nccl
from ember.distributed.nccl_comms import NcclComms
from ember.distributed.state import _state
from ember.distributed.watchdog import abort, abort_on_exception, run_blocking, watchdog

default_pg_timeout = datetime.timedelta(minutes=30)  # torch's default for CPU backends

_INSTALL = (
    "ember.distributed needs mpi4py and an MPI library: pip install 'ember[distributed]' and install "
    "Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)"
)
_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


class Backend(str):
    """Backend names as torch spells them; ember runs `mpi` (CPU tensors) and `nccl` (CUDA tensors)."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    UCC = "ucc"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name}")
        return super().__new__(cls, name.lower())


class ProcessGroup:
    """A set of ranks with its own MPI communicator (`comm`); `rank()` and `size()` are group-local.
    An nccl group also has `nccl`, its NCCL communicators (one per device, made on first use)."""

    def __init__(
        self, comm: Any, ranks: list[int], timeout: datetime.timedelta, name: str, backend: str = "mpi"
    ) -> None:
        self.comm = comm
        self.backend = Backend(backend)
        self.nccl = NcclComms(self) if self.backend == Backend.NCCL else None
        self.ranks = ranks  # global ranks, in group-rank order
        self.timeout = timeout
        self.group_name = name
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self.seq = 0  # collectives started on this group (for error messages)

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def name(self) -> str:
        return self.backend

    def __repr__(self) -> str:
        return (
            f"<ember.distributed.ProcessGroup {self.group_name!r} ({self.backend}) rank {self._rank} "
            f"of {self._size}>"
        )


class GroupMember:
    """torch's sentinels: `NON_GROUP_MEMBER` is what new_group returns on ranks outside the group."""

    NON_GROUP_MEMBER = object()

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802 (torch's name)
        return _state.world


class _GroupNamespace:
    """`dist.group.WORLD`: the default group (None before init_process_group)."""

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802 (torch's name)
        return _state.world


group = _GroupNamespace()


def is_available() -> bool:
    """True when mpi4py is installed (MPI itself starts in init_process_group)."""
    return find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:
    return False


def is_nccl_available() -> bool:
    """True when CuPy imports with NCCL and sees a CUDA GPU (the nccl backend also needs mpi4py)."""
    return nccl.available()


def is_ucc_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def is_initialized() -> bool:
    return _state.world is not None


def _mpi(timeout: datetime.timedelta | None = None):
    """mpi4py.MPI, imported on first use: importing it initialises MPI (MPI_Init_thread)."""
    if _state.mpi is None:
        if not is_available():
            raise RuntimeError(_INSTALL)
        _state.mpi = _wait_for_all_ranks_to_start_mpi(timeout or default_pg_timeout)
    return _state.mpi


def _wait_for_all_ranks_to_start_mpi(timeout: datetime.timedelta):
    """Import mpi4py.MPI. MPI_Init returns once every rank of the job has called it, holding the
    GIL meanwhile, so the timeout is faulthandler's (a C thread): past it, this process prints
    'Timeout (...)!' with this function's name in the traceback and exits, and mpirun ends the job."""
    faulthandler.dump_traceback_later(timeout.total_seconds(), exit=True)
    try:
        from mpi4py import MPI  # lazy on purpose: the import starts MPI
    finally:
        faulthandler.cancel_dump_traceback_later()
    return MPI


def _check_timeout(timeout) -> datetime.timedelta:
    if timeout is None:
        return default_pg_timeout
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")
    return timeout


def _env_int(name: str) -> int | None:
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {v!r}") from None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the job's default group. Ranks come from the MPI launcher (`ember run`, `mpirun`); the
    torchrun variables (RANK, WORLD_SIZE) and explicit `rank`/`world_size`, if given, must agree.
    With backend='nccl' the NCCL communicator is made at the first collective on a CUDA tensor (on
    that tensor's device), or here when `device_id` is given."""
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend) if backend is not None else Backend.MPI
    if name == Backend.GLOO:
        raise ValueError(
            "ember.distributed has no gloo backend: use backend='mpi' (or None), which runs the same "
            "CPU collectives on MPI (see docs/distributed.md)"
        )
    if name not in (Backend.MPI, Backend.NCCL):
        raise ValueError(f"Invalid backend: '{backend}' (ember.distributed supports 'mpi' and 'nccl')")
    if store is not None:
        raise ValueError(
            f"store= is not supported: ember's {name} backend takes its ranks from the MPI launcher"
        )
    if pg_options is not None:
        raise ValueError(f"pg_options= is not supported by ember's {name} backend")
    device = _device_index(device_id, name)
    if name == Backend.NCCL:
        nccl.runtime()  # says what is missing before MPI starts
    if init_method is not None and not init_method.startswith(("env://", "tcp://", "file://", "mpi://")):
        raise ValueError(f"unsupported init_method {init_method!r} (use env://, tcp:// or file://)")
    timeout = _check_timeout(timeout)
    MPI = _mpi(timeout)
    world = MPI.COMM_WORLD
    n, r = world.Get_size(), world.Get_rank()
    for what, given in (
        ("world_size", world_size if world_size >= 0 else _env_int("WORLD_SIZE")),
        ("rank", rank if rank >= 0 else _env_int("RANK")),
    ):
        mine = n if what == "world_size" else r
        if given is not None and given != mine:
            hint = (
                " This process was not started by an MPI launcher: start the job with "
                "`ember run --nproc-per-node N script.py` or `mpirun -n N python script.py`."
                if n == 1
                else ""
            )
            raise ValueError(
                f"{what}={given} (argument or environment), but MPI started this process as rank {r} "
                f"of {n}: ember's mpi backend takes ranks from the MPI launcher.{hint}"
            )
    comm = world.Dup()
    pg = ProcessGroup(comm, list(range(n)), timeout, group_name or "WORLD", name)
    _rendezvous(pg)
    if device is not None and pg.nccl is not None:
        pg.nccl.get(device)
    _state.world = pg
    _state.groups = [pg]
    watchdog.watch(timeout)
    if n > 1 and _state.hook is None:
        _state.hook = sys.excepthook
        sys.excepthook = abort_on_exception


def _device_index(device_id: Any, backend: str) -> int | None:
    """init_process_group's/new_group's `device_id` (a cuda device or its index) as an index; the
    mpi backend has no use for it (None)."""
    if device_id is None or backend != Backend.NCCL:
        return None
    if isinstance(device_id, int):
        return device_id
    dev = device_id if isinstance(device_id, _backend.device) else _backend.device(device_id)
    if dev.type != "cuda":
        raise ValueError(f"device_id must be a cuda device, got {dev}")
    return dev.index or 0


def _rendezvous(pg: ProcessGroup) -> None:
    """Every rank says hello to rank 0, which answers once all have: within the timeout, or an
    error naming the ranks that did not come."""
    MPI = _state.mpi
    comm, n, r = pg.comm, pg.size(), pg.rank()
    deadline = time.monotonic() + pg.timeout.total_seconds()
    if n == 1:
        return
    hello = np.zeros((n, 1), dtype=np.int64)  # raw buffers: nothing received is unpickled
    if r == 0:
        reqs = {i: comm.Irecv(hello[i], source=i, tag=7) for i in range(1, n)}
        while reqs and time.monotonic() < deadline:
            for i in [i for i, q in reqs.items() if q.Test()]:
                del reqs[i]
            time.sleep(0.001)
        if reqs:
            abort(f"init_process_group timed out after {pg.timeout}: rank(s) {sorted(reqs)} did not join")
        MPI.Request.Waitall([comm.Isend(hello[0], dest=i, tag=8) for i in range(1, n)])
    else:
        hello[0] = r
        comm.Send(hello[0], dest=0, tag=7)
        req = comm.Irecv(hello[1], source=0, tag=8)
        while not req.Test():
            if time.monotonic() > deadline:
                abort(f"init_process_group timed out after {pg.timeout}: rank 0 did not answer")
            time.sleep(0.001)


def _default() -> ProcessGroup:
    if _state.world is None:
        raise ValueError(_NOT_INIT)
    return _state.world


def resolve(group) -> ProcessGroup | None:
    """The ProcessGroup to use (default for None), or None on a rank outside `group`."""
    if group is None:
        return _default()
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup, got {type(group).__name__}")
    if group not in _state.groups:
        raise ValueError(f"{group} was destroyed (or belongs to a process group that was)")
    return group


def get_rank(group=None) -> int:
    """This process's rank in `group` (-1 outside it)."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend


def get_process_group_ranks(group) -> list[int]:
    pg = resolve(group)
    if pg is None:
        raise ValueError("this rank is not part of the group")
    return list(pg.ranks)


def get_global_rank(group, group_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def new_group(
    ranks: list[int] | None = None,
    timeout: datetime.timedelta | None = None,
    backend: str | None = None,
    pg_options: Any = None,
    use_local_synchronization: bool = False,
    group_desc: str | None = None,
    device_id: Any = None,
) -> ProcessGroup | object:
    """A group of `ranks` (all by default), on the default group's backend unless `backend` is
    given. Every rank of the default group calls it, unless `use_local_synchronization=True`
    (then only the members do)."""
    world = _default()
    name = world.backend if backend is None else Backend(backend)
    if name not in (Backend.MPI, Backend.NCCL):
        raise ValueError(f"Invalid backend: '{backend}' (ember.distributed supports 'mpi' and 'nccl')")
    if name == Backend.NCCL:
        nccl.runtime()
    if pg_options is not None:
        raise ValueError(f"pg_options= is not supported by ember's {name} backend")
    device = _device_index(device_id, name)
    n = world.size()
    members = sorted(range(n) if ranks is None else {int(x) for x in ranks})
    if ranks is not None and len(members) != len(ranks):
        raise ValueError(f"new_group: ranks {list(ranks)} contain duplicates")
    for x in members:
        if not 0 <= x < n:
            raise ValueError(f"new_group: rank {x} is not in the world of {n} ranks")
    timeout = _check_timeout(timeout if timeout is not None else world.timeout)
    mine = world.rank() in members
    if use_local_synchronization:
        if not mine:
            return GroupMember.NON_GROUP_MEMBER
        comm = run_blocking(world, "new_group", world.comm.Create_group, world.comm.Get_group().Incl(members))
    else:
        MPI = _state.mpi
        color = 0 if mine else MPI.UNDEFINED
        key = members.index(world.rank()) if mine else 0
        comm = run_blocking(world, "new_group", world.comm.Split, color, key)
        if not mine:
            return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, members, timeout, group_desc or f"group{len(_state.groups)}", name)
    _state.groups.append(pg)
    watchdog.watch(timeout)
    if device is not None and pg.nccl is not None:
        pg.nccl.get(device)
    return pg


def destroy_process_group(group=None) -> None:
    """Free `group`'s communicator, or with None every group (the default one included)."""
    if group is None or group is _state.world:
        if _state.world is None:
            raise ValueError(_NOT_INIT)
        for pg in _state.groups:
            _free(pg)
        _state.groups = []
        _state.world = None
        if _state.hook is not None:
            sys.excepthook, _state.hook = _state.hook, None
        return
    pg = resolve(group)
    if pg is not None:
        _free(pg)
        _state.groups.remove(pg)


def _free(pg: ProcessGroup) -> None:
    if pg.nccl is not None:
        pg.nccl.destroy()
    pg.comm.Free()
