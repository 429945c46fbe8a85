"""DataLoader worker processes: the loop each worker runs, worker info, error wrapping."""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

import ember

MP_STATUS_CHECK_INTERVAL = 5.0
_POLL_INTERVAL = 0.1  # how often an idle worker checks the done event and its parent

_worker_info: WorkerInfo | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo, or None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the parent with its traceback text."""

    def __init__(self, exc_info: tuple | None = None, where: str = "in background") -> None:
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class KeyErrorMessage(str):
    """KeyError quotes its message; this keeps the traceback text readable."""

    def __repr__(self) -> str:
        return self


class IterableDatasetStopIteration:
    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch."""


def worker_loop(
    fetcher_factory: Any,
    dataset: Any,
    index_queue: Any,
    data_queue: Any,
    done_event: Any,
    seed: int,
    init_fn: Any,
    worker_id: int,
    num_workers: int,
) -> None:
    """Fetch the batches whose indices arrive on index_queue and put them on data_queue."""
    global _worker_info
    try:
        random.seed(seed)
        ember.manual_seed(seed)
        base = seed - worker_id  # torch's _generate_state is NumPy's SeedSequence of these words
        np.random.seed(
            np.random.SeedSequence([worker_id, base & 0xFFFFFFFF, base >> 32, 0]).generate_state(4)
        )
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = fetcher_factory(dataset)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        exhausted = False
        parent = os.getppid()
        while True:
            try:
                r = index_queue.get(timeout=_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent:
                    break
                continue
            if isinstance(r, ResumeIteration):
                data_queue.put((r, None))
                exhausted = False
                if init_exception is None:
                    fetcher = fetcher_factory(dataset)
                continue
            if r is None:
                break
            if done_event.is_set() or exhausted:
                continue
            idx, index = r
            if init_exception is not None:
                data: Any = init_exception
                init_exception = None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and fetcher.iterable:
                        data = IterableDatasetStopIteration(worker_id)
                        exhausted = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
