"""ember's split(): persistent workers handed chunks through locks (ember/_threads.py)."""

import threading

import numpy as np
import pytest

from ember import _threads


@pytest.fixture
def two_threads():
    old = _threads.get_num_threads()
    _threads.set_num_threads(2)
    yield
    _threads.set_num_threads(old)


def test_split_covers_every_chunk_once(two_threads):
    out = np.zeros(1001)
    hits = []

    def fn(lo, hi):
        hits.append(threading.current_thread().name)
        out[lo:hi] += np.arange(lo, hi)

    for _ in range(50):
        _threads.split(fn, 1001, 1 << 20)
    np.testing.assert_array_equal(out, 50 * np.arange(1001))
    assert "ember-worker" in hits  # the work really went to the worker thread


def test_a_chunk_error_reaches_the_caller_after_every_chunk_ran(two_threads):
    done = []

    def fn(lo, hi):
        done.append(lo)
        if lo > 0:
            raise ValueError(f"chunk {lo}")

    with pytest.raises(ValueError, match="chunk 5"):
        _threads.split(fn, 10, 1 << 20)
    assert sorted(done) == [0, 5]
    out = np.zeros(10)  # the workers still work afterwards
    _threads.split(lambda lo, hi: out.__setitem__(slice(lo, hi), 1), 10, 1 << 20)
    assert out.sum() == 10


def test_nested_and_concurrent_splits_run_serially_without_deadlock(two_threads):
    out = np.zeros((4, 100))

    def inner(row):
        return lambda lo, hi: out[row].__setitem__(slice(lo, hi), row + 1)

    def outer(lo, hi):
        for r in range(lo, hi):
            _threads.split(inner(r), 100, 1 << 20)  # from a worker: serial

    callers = [threading.Thread(target=_threads.split, args=(outer, 4, 1 << 20)) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in callers)
    np.testing.assert_array_equal(out, np.repeat(np.arange(1, 5)[:, None], 100, 1))
