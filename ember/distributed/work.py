"""Work: the handle an `async_op=True` collective returns (torch's c10d Work)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from ember.distributed.process_group import ProcessGroup
from ember.distributed.state import _state
from ember.distributed.watchdog import run_blocking


class Work:
    """An MPI request in flight; `wait()` completes it and then updates the output tensors."""

    __slots__ = ("_pg", "_what", "_done", "_requests", "_outputs", "_finished", "_status")

    def __init__(
        self, pg: ProcessGroup, what: str, requests, done: Callable[[], None], outputs: list
    ) -> None:
        self._pg, self._what, self._done = pg, what, done
        self._requests = list(requests) if isinstance(requests, (list, tuple)) else [requests]
        self._outputs = outputs
        self._finished = False
        self._status = None

    def wait(self, timeout: datetime.timedelta | None = None) -> bool:
        """Block until the operation is done (within `timeout`, or the group's)."""
        if not self._finished:
            MPI = _state.mpi
            statuses = [MPI.Status() for _ in self._requests]
            run_blocking(self._pg, self._what, MPI.Request.Waitall, self._requests, statuses, timeout=timeout)
            self._status = statuses[0] if statuses else None
            self._complete()
        return True

    def is_completed(self) -> bool:
        """Whether the operation has finished (never blocks; drives MPI's progress)."""
        if not self._finished:
            for q in self._requests:  # one Test each: a tenth of mpi4py's Testall, the same answer
                if not q.Test():
                    return False
            self._complete()
        return self._finished

    def _complete(self) -> None:
        self._finished = True
        self._done()

    def is_success(self) -> bool:
        return self._finished

    def exception(self) -> None:
        return None

    def result(self) -> list:
        return list(self._outputs)

    def source_rank(self) -> int:
        """For a receive: the global rank the message came from."""
        self.wait()
        if self._status is None:
            raise RuntimeError("source_rank() is only defined for a receive")
        return self._pg.ranks[self._status.Get_source()]

    def synchronize(self) -> None:
        self.wait()

    def get_future(self):
        raise NotImplementedError("Work.get_future() is not supported by ember's mpi backend; use wait()")

    def __repr__(self) -> str:
        return f"<ember.distributed.Work {self._what} {'done' if self._finished else 'pending'}>"


def wait_all(pg: ProcessGroup, what: str, works: list[Work]) -> None:
    """Wait for several MPI Works of `pg` in one blocking call (one Waitall for all their requests,
    under one watchdog entry), then finish each as its wait() would."""
    pending, requests = [], []
    for w in works:
        if not w._finished:
            if isinstance(w, NcclWork):
                raise TypeError("wait_all takes MPI Works; an NcclWork waits on its own (wait())")
            pending.append(w)
            requests += w._requests
    if pending:
        run_blocking(pg, what, _state.mpi.Request.Waitall, requests)
        for w in pending:
            w._complete()


class NcclWork(Work):
    """An nccl operation: already queued on the current CUDA stream, with an event recorded after
    it; `wait()` blocks until the event has happened (under the group's timeout)."""

    __slots__ = ("_event", "_source")

    def __init__(self, pg: ProcessGroup, what: str, event, outputs: list, source: int | None = None) -> None:
        super().__init__(pg, what, [], lambda: None, outputs)
        self._event, self._source = event, source

    def wait(self, timeout: datetime.timedelta | None = None) -> bool:
        if not self._finished:
            run_blocking(self._pg, self._what, self._event.synchronize, timeout=timeout)
            self._finished = True
        return True

    def is_completed(self) -> bool:
        if not self._finished and self._event.done:
            self._finished = True
        return self._finished

    def source_rank(self) -> int:
        self.wait()
        if self._source is None:
            raise RuntimeError("source_rank() is only defined for a receive")
        return self._source
