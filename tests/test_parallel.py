"""ember's own thread splitting gives the same results as the single-threaded path."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _threads as _parallel


@pytest.fixture
def threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


def _run(fn):
    ember.set_num_threads(1)
    a = fn()
    ember.set_num_threads(2)
    b = fn()
    return a, b


def test_split_covers_range_once(threads):
    ember.set_num_threads(2)
    seen = np.zeros(1000, dtype=int)

    def chunk(lo, hi):
        seen[lo:hi] += 1

    _parallel.split(chunk, 1000, 1 << 20)
    assert (seen == 1).all()
    with pytest.raises(RuntimeError):
        ember.set_num_threads(0)


def test_threaded_ops_match_single_thread(threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4, 24, 24)).astype(np.float32)
    w = rng.standard_normal((6, 4, 5, 5)).astype(np.float32)

    def fn():
        xe = ember.tensor(x, requires_grad=True)
        we = ember.tensor(w, requires_grad=True)
        y = F.max_pool2d(F.conv2d(xe, we).sigmoid(), 2).relu()
        y.sum().backward()
        return y.detach().numpy(), xe.grad.numpy(), we.grad.numpy()

    for a, b in zip(*_run(fn)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
