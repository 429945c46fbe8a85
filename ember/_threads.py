"""Split big memory-bound array work across threads. NumPy releases the GIL inside ufunc loops
and copies, so two threads on two cores really run in parallel (torch does the same with its
intra-op thread pool). BLAS calls are left to BLAS's own threads."""

from __future__ import annotations

import os
import threading

_MIN_ITEMS = 1 << 16  # below this, thread hand-off costs more than it saves
_state = {"threads": None, "pool": None, "busy": threading.Lock()}
_local = threading.local()


class _Worker:
    """One persistent thread, handed one chunk at a time through a pair of locks: about 6-13 us
    per hand-off against 21 us for ThreadPoolExecutor.submit + result (docs/performance.md)."""

    def __init__(self) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job = None
        self._err = None
        threading.Thread(target=self._run, daemon=True, name="ember-worker").start()

    def _run(self) -> None:
        _local.in_worker = True
        while True:
            self._go.acquire()
            if self._job is None:  # stop
                return
            fn, lo, hi = self._job
            try:
                fn(lo, hi)
            except BaseException as e:  # re-raised in the calling thread by wait()
                self._err = e
            self._done.release()

    def start(self, fn, lo: int, hi: int) -> None:
        self._job = (fn, lo, hi)
        self._go.release()

    def wait(self) -> None:
        self._done.acquire()
        err, self._err = self._err, None
        if err is not None:
            raise err

    def stop(self) -> None:
        self._job = None
        self._go.release()


def _after_fork_in_child() -> None:  # a forked child has none of the parent's threads
    _state.update(pool=None, busy=threading.Lock())


os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_threads() -> int:
    """EMBER_NUM_THREADS if set; otherwise all cores, but only when BLAS runs single-threaded:
    OpenBLAS's worker threads spin after each call and would steal the other core
    (docs/performance.md, "Threads")."""
    env = os.environ.get("EMBER_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    if os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS")) != "1":
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads ember uses for large elementwise work (torch.get_num_threads)."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """torch.set_num_threads: 1 turns ember's own threading off."""
    if int(n) < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = int(n)
    pool = _state["pool"]
    if pool is not None and _state["busy"].acquire(blocking=False):
        try:
            for w in pool:
                w.stop()
            _state["pool"] = None
        finally:
            _state["busy"].release()


def split(fn, n: int, items: int) -> None:
    """Call fn(lo, hi) over contiguous chunks of range(n), in parallel when `items` (the total
    number of elements the work touches) is large enough; fn must write disjoint outputs.
    Serial inside a worker (nested splits) and while another thread is using the workers."""
    t = get_num_threads()
    if t < 2 or n < 2 or items < _MIN_ITEMS or getattr(_local, "in_worker", False):
        fn(0, n)
        return
    busy = _state["busy"]
    if not busy.acquire(blocking=False):
        fn(0, n)
        return
    try:
        t = min(t, n)
        pool = _state["pool"]
        if pool is None or len(pool) < get_num_threads() - 1:
            pool = _state["pool"] = [_Worker() for _ in range(get_num_threads() - 1)]
        bounds = [n * i // t for i in range(t + 1)]
        started = []
        for i in range(1, t):
            pool[i - 1].start(fn, bounds[i], bounds[i + 1])
            started.append(pool[i - 1])
        err = None
        try:
            fn(bounds[0], bounds[1])
        except BaseException as e:
            err = e
        for w in started:  # every chunk finishes before the caller goes on, even after an error
            try:
                w.wait()
            except BaseException as e:
                err = err or e
        if err is not None:
            raise err
    finally:
        busy.release()


def dense_flat(a):
    """1-d view of `a` in memory order when it is C-contiguous or batch-last (C, H, W, N)
    contiguous, else None."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim == 4:
        t = a.transpose(1, 2, 3, 0)
        if t.flags.c_contiguous:
            return t.reshape(-1)
    return None


def map_flat(fn, out, *ins) -> None:
    """fn(out_part, *in_parts) over chunks of memory, across ember's threads, when every array
    has out's shape and strides and is dense; otherwise one fn(out, *ins) call."""
    flat = dense_flat(out) if out.ndim else None
    if flat is None or any(a.strides != out.strides or a.shape != out.shape for a in ins):
        fn(out, *ins)
        return
    flats = [flat] + [dense_flat(a) for a in ins]
    split(lambda lo, hi: fn(*(f[lo:hi] for f in flats)), flat.size, flat.size)
