"""Ending the job instead of hanging: MPI_Abort with the reason, on an uncaught exception or when a
blocking MPI call outlives its group's timeout (MPI calls cannot be interrupted)."""

from __future__ import annotations

import datetime
import sys
import threading
import time

from ember.distributed.state import _state


def abort(message: str) -> None:
    """Print the reason and end every rank of the job (MPI_Abort): never a hang."""
    rank = _state.mpi.COMM_WORLD.Get_rank()
    try:
        sys.stderr.write(f"ember.distributed: rank {rank}: {message}. Aborting the job.\n")
        sys.stderr.flush()
    finally:
        _state.mpi.COMM_WORLD.Abort(1)


def abort_on_exception(kind, value, tb) -> None:
    """sys.excepthook while a group exists: an uncaught exception on one rank ends the whole job
    (otherwise the others would wait in their next collective, and this rank in MPI_Finalize)."""
    (_state.hook or sys.__excepthook__)(kind, value, tb)
    abort(f"raised {kind.__name__}: {value}")


class _Watchdog:
    """A daemon thread that aborts the job when the blocking MPI call in progress (`current`) has
    run past its group's timeout: MPI calls cannot be interrupted, so this is torch's NCCL
    watchdog's answer (end the processes, with the reason)."""

    def __init__(self) -> None:
        self.current: tuple[tuple, float] | None = None  # (_timeout_message's args, deadline)
        self.tick = 1.0
        self.thread: threading.Thread | None = None

    def watch(self, timeout: datetime.timedelta) -> None:
        self.tick = min(self.tick, max(timeout.total_seconds() / 20, 0.01))
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="ember.distributed watchdog", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            cur = self.current
            if cur is not None and time.monotonic() > cur[1]:
                abort(_timeout_message(*cur[0]))


watchdog = _Watchdog()


def _timeout_message(what: str, seq: int, group_name: str, t: float) -> str:
    return (
        f"{what} (collective #{seq} of group {group_name!r}) did not complete within "
        f"{datetime.timedelta(seconds=t)}: another rank has stopped, died or is running a different "
        "collective (the timeout is init_process_group's/new_group's timeout=)"
    )


def run_blocking(pg, what: str, fn, *args, timeout: datetime.timedelta | None = None):
    """Run one blocking MPI call under the watchdog; MPI errors become RuntimeErrors naming `what`."""
    pg.seq += 1
    t = (timeout or pg.timeout).total_seconds()
    # the message is formatted only if the watchdog fires (a few us per collective otherwise)
    watchdog.current = ((what, pg.seq, pg.group_name, t), time.monotonic() + t)
    try:
        return fn(*args)
    except _state.mpi.Exception as e:
        raise RuntimeError(f"ember.distributed.{what}: MPI error: {e.Get_error_string()}") from None
    finally:
        watchdog.current = None
