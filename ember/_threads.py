"""Split big memory-bound array work across threads. NumPy releases the GIL inside ufunc loops
and copies, so two threads on two cores really run in parallel (torch does the same with its
intra-op thread pool). BLAS calls are left to BLAS's own threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_MIN_ITEMS = 1 << 16  # below this, thread hand-off costs more than it saves
_state = {"threads": None, "pool": None}
# a forked child (multiprocessing, DataLoader workers) has none of the parent's pool threads
os.register_at_fork(after_in_child=lambda: _state.update(pool=None))


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
    if _state["pool"] is not None:
        _state["pool"].shutdown(wait=False)
        _state["pool"] = None


def split(fn, n: int, items: int) -> None:
    """Call fn(lo, hi) over contiguous chunks of range(n), in parallel when `items` (the total
    number of elements the work touches) is large enough; fn must write disjoint outputs."""
    t = get_num_threads()
    if t < 2 or n < 2 or items < _MIN_ITEMS:
        fn(0, n)
        return
    t = min(t, n)
    if _state["pool"] is None:
        _state["pool"] = ThreadPoolExecutor(max_workers=t - 1, thread_name_prefix="ember")
    bounds = [n * i // t for i in range(t + 1)]
    futures = [_state["pool"].submit(fn, bounds[i], bounds[i + 1]) for i in range(1, t)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()


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
