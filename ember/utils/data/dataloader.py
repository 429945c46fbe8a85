"""DataLoader: batches from a dataset, in the main process or in worker processes.

A TensorDataset (or a Subset of one) with the default collate is gathered with one fancy
index per tensor per batch instead of indexing and stacking sample by sample.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import queue
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from multiprocessing import connection as mp_connection
from typing import Any

import numpy as np

from ember import _sampling, cuda
from ember._tensor import Tensor
from ember.multiprocessing import reductions as _reductions
from ember.utils.data import _worker
from ember.utils.data._collate import default_collate, default_convert
from ember.utils.data.dataset import Dataset, IterableDataset, Subset, TensorDataset
from ember.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_PARENT_CHECK_INTERVAL = 1.0


class _InfiniteConstantSampler(Sampler):
    """The sampler for iterable datasets: None forever."""

    def __iter__(self):
        while True:
            yield None


def _tensor_gather(dataset: Any) -> Callable | None:
    """A function batch_indices -> [t[indices] for t in tensors] when the dataset is a
    TensorDataset (or a Subset of one) whose samples are plain rows, else None."""
    remap = None
    if type(dataset).__getitem__ is Subset.__getitem__ and isinstance(dataset, Subset):
        ind = dataset.indices
        remap = np.asarray(ind._data if isinstance(ind, Tensor) else ind, dtype=np.intp)
        dataset = dataset.dataset
    if not isinstance(dataset, TensorDataset) or (type(dataset).__getitem__ is not TensorDataset.__getitem__):
        return None
    tensors = dataset.tensors
    if not tensors or any(not isinstance(t, Tensor) or t.requires_grad for t in tensors):
        return None
    arrays = [t._data for t in tensors]

    def gather(index: list) -> list:
        idx = np.asarray(index, dtype=np.intp)
        if remap is not None:
            idx = remap[idx]
        return [Tensor._wrap(a[idx]) for a in arrays]

    return gather


class _MapFetcher:
    iterable = False

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.gather = _tensor_gather(dataset) if auto_collation and collate_fn is default_collate else None

    def fetch(self, index: Any) -> Any:
        if self.auto_collation:
            if self.gather is not None:
                return self.gather(index)
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if getitems else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableFetcher:
    iterable = True

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool):
        self.it = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.it))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.it)
        return self.collate_fn(data)


def _make_fetcher(iterable: bool, auto_collation: bool, collate_fn: Callable, drop_last: bool, dataset: Any):
    cls = _IterableFetcher if iterable else _MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


class DataLoader:
    """torch.utils.data.DataLoader."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._iterable = True
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            self._iterable = False

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator: Any = None
        self.__initialized = True

    def __setattr__(self, attr: str, val: Any) -> None:
        if self.__dict__.get("_DataLoader__initialized") and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetcher_factory(self) -> Callable:
        return functools.partial(
            _make_fetcher, self._iterable, self._auto_collation, self.collate_fn, self.drop_last
        )

    def __iter__(self):
        if self.pin_memory:
            if not cuda.is_available():
                warnings.warn(
                    "'pin_memory' argument is set as true but no accelerator is found, then "
                    "device pinned memory won't be used.",
                    stacklevel=2,
                )
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = weakref.ref(loader)  # no cycle: the loader may own a persistent iterator
        try:
            self._len: int | None = len(loader)
        except TypeError:
            self._len = None
        self._num_yielded = 0
        # drawn in every mode, as torch does, so shuffles match with and without workers
        self._base_seed = int(_sampling.random_((), np.int64, loader.generator)[()])

    def __iter__(self):
        return self

    def __len__(self) -> int:
        loader = self._loader()
        if loader is None:
            if self._len is None:
                raise TypeError("the DataLoader is gone and its sampler has no length")
            return self._len
        return len(loader)

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        return data


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._sampler_iter = iter(loader._index_sampler)
        self._fetcher = loader._fetcher_factory()(loader.dataset)

    def _next_data(self) -> Any:
        index = next(self._sampler_iter)
        return self._fetcher.fetch(index)


def _shm_worker_loop(*args: Any) -> None:
    """A worker process: batches of 1 MiB and more come back through shared memory
    (ember.multiprocessing), smaller ones by value, which is cheaper for them."""
    _reductions.by_value_below(1 << 20)
    _worker.worker_loop(*args)


class _MultiProcessIter(_BaseIter):
    """Workers get (task index, batch indices) round-robin; results come back in order."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing.get_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._shutdown = False
        self._data_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        factory = loader._fetcher_factory()
        for i in range(self._num_workers):
            iq = ctx.Queue()
            iq.cancel_join_thread()
            w = ctx.Process(
                target=_shm_worker_loop,
                args=(
                    factory,
                    loader.dataset,
                    iq,
                    self._data_queue,
                    self._done_event,
                    self._base_seed + i,
                    loader.worker_init_fn,
                    i,
                    self._num_workers,
                ),
                daemon=True,
            )
            w.start()
            self._index_queues.append(iq)
            self._workers.append(w)
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(loader._index_sampler)
        self._num_yielded = 0
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for q in self._index_queues:
                q.put(_worker.ResumeIteration())
            remaining = self._num_workers
            while remaining > 0:
                r = self._get_data()
                if isinstance(r[0], _worker.ResumeIteration):
                    remaining -= 1
        for _ in range(self._prefetch):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._worker_cycle)
            if self._workers_status[wid]:
                break
        else:
            return
        self._index_queues[wid].put((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._send_idx += 1

    def _get_data(self) -> tuple:
        """The next (task index, data) from any worker. Waits on the data pipe and on every live
        worker's process sentinel together, so a worker that dies is reported at once (torch's
        message), and `timeout` only bounds how long healthy workers may take."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        reader = self._data_queue._reader
        while True:
            wait_s = _PARENT_CHECK_INTERVAL
            if deadline is not None:
                wait_s = max(0.0, min(wait_s, deadline - time.monotonic()))
            live = [w for i, w in enumerate(self._workers) if self._workers_status[i]]
            ready = mp_connection.wait([reader] + [w.sentinel for w in live], timeout=wait_s)
            if reader in ready:
                try:  # a message is arriving: get() waits for the whole of it
                    return self._data_queue.get(timeout=_PARENT_CHECK_INTERVAL)
                except queue.Empty:
                    continue
            dead = [w for w in live if not w.is_alive()]
            if dead:
                if reader.poll():  # what a worker sent just before it died comes first
                    continue
                self._shutdown_workers()
                pids = ", ".join(str(w.pid) for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _next_data(self) -> Any:
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            idx, data = self._get_data()
            if isinstance(data, _worker.IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process(data)

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        if getattr(self, "_shutdown", True):
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            for w in self._workers:
                w.join(timeout=2.0)
                if w.is_alive():
                    w.terminate()
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._data_queue.cancel_join_thread()
            self._data_queue.close()
        except Exception:
            pass

    def __del__(self) -> None:
        self._shutdown_workers()
