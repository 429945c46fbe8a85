"""torch's top-level windows, type queries, compile, and the nn.functional aliases, against torch."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(2)


@pytest.mark.parametrize(
    "fn", ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows(fn, n, periodic):
    assert_same(getattr(ember, fn)(n, periodic), getattr(torch, fn)(n, periodic), atol=1e-6)
    assert_same(
        getattr(ember, fn)(n, periodic, dtype=ember.float64),
        getattr(torch, fn)(n, periodic, dtype=torch.float64),
        atol=1e-12,
    )


def test_window_options_and_errors():
    assert_same(ember.hamming_window(7, True, 0.5, 0.5), torch.hamming_window(7, True, 0.5, 0.5), atol=1e-6)
    assert_same(ember.kaiser_window(9, False, 5.0), torch.kaiser_window(9, False, 5.0), atol=1e-6)
    assert ember.hann_window(4, requires_grad=True).requires_grad
    assert_raises_same(lambda: ember.hann_window(-1), lambda: torch.hann_window(-1))
    assert_raises_same(
        lambda: ember.hann_window(4, dtype=ember.int64), lambda: torch.hann_window(4, dtype=torch.int64)
    )


def test_type_queries():
    for a in (np.zeros(2, np.float32), np.zeros(2, np.int64), np.zeros(2, np.complex64), np.zeros((), bool)):
        e, t = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
        assert ember.is_floating_point(e) == torch.is_floating_point(t)
        assert ember.is_complex(e) == torch.is_complex(t)
    assert_raises_same(lambda: ember.is_floating_point(3), lambda: torch.is_floating_point(3))
    for v in ([0.5], [0.0], [[1]]):
        assert ember.is_nonzero(ember.tensor(v)) == torch.is_nonzero(torch.tensor(v))
    for v in ([], [1, 2]):
        err = assert_raises_same(
            lambda: ember.is_nonzero(ember.tensor(v)), lambda: torch.is_nonzero(torch.tensor(v))
        )
        with pytest.raises(type(err), match=str(err)):
            ember.is_nonzero(ember.tensor(v))
    assert ember.is_same_size(ember.zeros(2, 3), ember.ones(2, 3)) and not ember.is_same_size(
        ember.zeros(2), ember.zeros(3)
    )
    pairs = [
        (lambda m: m.tensor([1]), lambda m: 1.0),
        (lambda m: m.tensor([1.0], dtype=m.float16), lambda m: m.tensor(2.0)),
        (lambda m: m.tensor([1], dtype=m.int32), lambda m: m.tensor([1], dtype=m.int64)),
        (lambda m: m.tensor([True]), lambda m: 2),
        (lambda m: 2, lambda m: 3.5),
    ]
    for a, b in pairs:
        assert repr(ember.result_type(a(ember), b(ember))) == repr(torch.result_type(a(torch), b(torch)))
    names = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64", "complex64"]
    for x in names:
        for y in names:
            assert ember.can_cast(getattr(ember, x), getattr(ember, y)) == torch.can_cast(
                getattr(torch, x), getattr(torch, y)
            ), (x, y)
    for obj in (3, "s", [1], ember.nn.Linear(1, 1)):
        assert ember.typename(obj) == torch.typename(obj).replace("torch.", "ember.", 1) or ember.typename(
            obj
        ) == torch.typename(obj)
    assert ember.typename(ember.zeros(2)) == torch.typename(torch.zeros(2))
    assert ember.typename(ember.zeros(2, dtype=ember.int64)) == torch.typename(
        torch.zeros(2, dtype=torch.int64)
    )
    assert_same(ember.scalar_tensor(3), torch.scalar_tensor(3))
    assert_same(ember.scalar_tensor(2, dtype=ember.int64), torch.scalar_tensor(2, dtype=torch.int64))


def test_compile_returns_the_model_and_interop_threads():
    m = ember.nn.Linear(2, 3)
    assert ember.compile(m) is m
    assert ember.compile(m, mode="reduce-overhead", fullgraph=True) is m

    @ember.compile
    def f(x):
        return x * 2

    @ember.compile(dynamic=True)
    def g(x):
        return x + 1

    assert f(ember.tensor(2.0)).item() == 4.0 and g(ember.tensor(2.0)).item() == 3.0
    with pytest.raises(RuntimeError):
        ember.compile(3)
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError):
        ember.set_num_interop_threads(0)


def test_functional_aliases_at_top_level():
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    e, t = ember.from_numpy(x.copy()), torch.from_numpy(x.copy())
    ew, tw = ember.from_numpy(w.copy()), torch.from_numpy(w.copy())
    assert_same(ember.conv2d(e, ew, None, 1, 1), torch.conv2d(t, tw, None, 1, 1), atol=1e-4)
    assert_same(ember.max_pool2d(e, 2), torch.max_pool2d(t, 2))
    assert_same(ember.pixel_shuffle(e, 2), torch.pixel_shuffle(t, 2))
    assert_same(ember.selu(e), torch.selu(t), atol=1e-6)
    assert_same(ember.cosine_similarity(e, e + 1), torch.cosine_similarity(t, t + 1), atol=1e-6)
    assert_same(ember.threshold(e, 0.1, 20.0), torch.threshold(t, 0.1, 20.0))
    x1 = rng.standard_normal((3, 5)).astype(np.float32)
    assert_same(
        ember.conv1d(ember.from_numpy(x1[None]), ember.ones(2, 3, 2)),
        torch.conv1d(torch.from_numpy(x1[None]), torch.ones(2, 3, 2)),
        atol=1e-5,
    )
    assert_same(
        ember.avg_pool1d(ember.from_numpy(x1[None]), 2),
        torch.avg_pool1d(torch.from_numpy(x1[None]), 2),
        atol=1e-6,
    )
