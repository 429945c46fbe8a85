"""Same seed, same numbers as torch on the CPU: every sampling function, each dtype, sizes on both
sides of torch's algorithm switches, interleaved calls. Integers and uniform floats must be bitwise
equal; so must everything else on this machine (a transcendental function may round differently
elsewhere: those checks allow one float32 ulp). After each sequence the generator states (torch's
5056-byte layout) must be equal too, so the same number of draws was consumed."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

import ember


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(ember._backend.to_numpy(x._data))


def _flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def run_both(fn, seed: int = 0):
    """fn(lib) with lib = torch and lib = ember after manual_seed(seed): (torch arrays, ember arrays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        t = [_np(v) for v in _flat(fn(torch))]
        ember.manual_seed(seed)
        e = [_np(v) for v in _flat(fn(ember))]
    assert bytes(torch.get_rng_state().numpy()) == bytes(_np(ember.get_rng_state())), (
        "generator states differ"
    )
    assert len(t) == len(e)
    return t, e


def assert_bitwise(fn, seed: int = 0) -> None:
    t, e = run_both(fn, seed)
    for a, b in zip(t, e):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        assert np.array_equal(a, b, equal_nan=True), np.flatnonzero(a != b)[:10]


def assert_ulp(fn, seed: int = 0) -> None:
    """Equal to one float32 ulp of the larger magnitude (exact on the test machine in practice)."""
    t, e = run_both(fn, seed)
    for a, b in zip(t, e):
        assert a.dtype == b.dtype and a.shape == b.shape
        a64, b64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), b.astype(a.dtype)
        tol = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32)).astype(np.float64)
        assert (np.abs(a64 - b64) <= tol).all()


FLOATS = ["float32", "float64", "float16", "complex64", "complex128"]
SIZES = [1, 5, 15, 16, 17, 31, 33, (3, 7), 200]  # torch's normal switches algorithm at 16 elements


@pytest.mark.parametrize("dt", FLOATS)
def test_rand(dt):
    assert_bitwise(lambda L: [L.rand(n, dtype=getattr(L, dt)) for n in SIZES])


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "complex64"])
def test_randn_sizes(dt):
    assert_ulp(lambda L: [L.randn(n, dtype=getattr(L, dt)) for n in SIZES])


def test_randn_cached_second_sample():
    # the scalar path (under 16 values) caches its second Box-Muller value in the generator
    assert_ulp(lambda L: [L.randn(3), L.randn(5), L.randn(1), L.randn(9, dtype=L.float64), L.randn(20)])


@pytest.mark.parametrize("dt", ["int64", "int32", "int16", "int8", "uint8", "float32", "float64"])
def test_randint(dt):
    def calls(L):
        d = getattr(L, dt)
        out = [
            L.randint(0, 2, (9,), dtype=d),
            L.randint(-5, 100, (13,), dtype=d) if dt != "uint8" else L.randint(5, 100, (13,), dtype=d),
        ]
        if dt in ("int64", "int32", "float32", "float64"):  # 32-bit draws below 2^28, 64-bit from there
            out += [L.randint(0, 2**28 - 1, (7,), dtype=d), L.randint(0, 2**28, (7,), dtype=d)]
            out += [L.randint(3, 2**31 - 1, (5,), dtype=d)]
        if dt in ("int64", "float32", "float64"):
            out += [L.randint(-(2**40), 2**40, (5,), dtype=d)]
        return out

    assert_bitwise(calls)


def test_randint_bool_and_like():
    assert_bitwise(
        lambda L: [
            L.randint(0, 2, (20,), dtype=L.bool),
            L.randint(7, (4, 3)),
            L.randint_like(L.zeros(5), 10),
            L.randint_like(L.zeros(4, dtype=L.int32), 3, 10),
        ]
    )


@pytest.mark.parametrize(
    "dt", ["int64", "int32", "int16", "int8", "uint8", "float32", "float64", "bool", "float16"]
)
def test_random_(dt):
    def calls(L):
        d = getattr(L, dt)
        out = [
            L.empty(12, dtype=d).random_(),
            L.empty(12, dtype=d).random_(2),
            L.empty(12, dtype=d).random_(1, None),
        ]
        if dt in ("int64", "float32", "float64"):
            out.append(L.empty(12, dtype=d).random_(-(2**63), None))
        if dt not in ("bool", "uint8"):
            out.append(L.empty(12, dtype=d).random_(-3, 17))
        return out

    assert_bitwise(calls)


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1000, 30000])
def test_randperm(n):
    assert_bitwise(lambda L: [L.randperm(n), L.randperm(n, dtype=L.int32), L.randperm(n, dtype=L.float32)])


def test_normal_overloads():
    def calls(L):
        m = L.arange(20.0)
        return [
            L.normal(2.0, 3.0, (5,)),
            L.normal(2.0, 3.0, (40,)),
            L.normal(m, 3.0),
            L.normal(1.5, m),
            L.normal(m, m.flip(0)),
            L.normal(m[:5], m[5:10]),
            L.normal(m.double(), 2.2),
            L.normal(0.5, L.ones(3, 20, dtype=L.float64)),
        ]

    assert_ulp(calls)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [5, 16, 40])
def test_inplace_continuous(dt, n):
    def calls(L):
        d = getattr(L, dt)
        return [
            L.empty(n, dtype=d).uniform_(-1.3, 2.7),
            L.empty(n, dtype=d).uniform_(-2, 3),
            L.empty(n, dtype=d).normal_(1.7, 2.3),
            L.empty(n, 3, dtype=d).t().normal_(-0.5, 0.1),  # strided: scalar path, memory order
            L.empty(n, dtype=d).exponential_(2.5),
            L.empty(n, dtype=d).geometric_(0.3),
            L.empty(n, dtype=d).log_normal_(0.3, 0.7),
            L.empty(n, dtype=d).cauchy_(0.3, 2.3),
        ]

    assert_ulp(calls)


def test_uniform_rounding_up_to_to():
    # a value that rounds to `to` becomes `from`, as in torch's kernel
    assert_bitwise(
        lambda L: [L.empty(3000).uniform_(1e8, 1e8 + 100), L.empty(2000, dtype=L.float16).uniform_(-1.3, 2.7)]
    )


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "int64", "uint8", "bool"])
def test_bernoulli_(dt):
    def calls(L):
        d = getattr(L, dt)
        return [
            L.empty(30, dtype=d).bernoulli_(0.3),
            L.empty(30, dtype=d).bernoulli_(),
            L.empty(30, dtype=d).bernoulli_(L.linspace(0, 1, 30)),
            L.empty(30, dtype=d).bernoulli_(L.linspace(0, 1, 30, dtype=L.float64)),
            L.empty(2, 15, dtype=d).bernoulli_(L.rand(15)),  # broadcast p
        ]

    assert_bitwise(calls)


def test_bernoulli_function():
    assert_bitwise(
        lambda L: [
            L.bernoulli(L.rand(50)),
            L.bernoulli(L.rand(5, 5, dtype=L.float64)),
            L.bernoulli(L.rand(50), 0.2),
            L.rand(7).bernoulli(),
            L.zeros(7).bernoulli(0.9),
        ]
    )


@pytest.mark.parametrize(
    "k,replacement", [(1, False), (5, False), (20, False), (1, True), (7, True), (60, True)]
)
def test_multinomial(k, replacement):
    assert_bitwise(
        lambda L: [
            L.multinomial(L.rand(20), k, replacement),
            L.multinomial(L.rand(3, 20), k, replacement),
            L.multinomial(L.rand(3, 20, dtype=L.float64), k, replacement),
            L.multinomial(L.rand(2, 20).half(), k, replacement),
            L.rand(4, 20).multinomial(k, replacement=replacement),
        ]
    )


def test_poisson():
    rates = [0.0, 0.5, 3.0, 9.9, 10.0, 50.0, 1000.0] * 3
    assert_bitwise(lambda L: [L.poisson(L.tensor(rates)), L.poisson(L.tensor(rates, dtype=L.float64))])


def test_like_functions_and_generator_kwarg():
    def calls(L):
        g = L.Generator().manual_seed(11)
        return [
            L.rand_like(L.zeros(3, 2)),
            L.randn_like(L.zeros(20, dtype=L.float64)),
            L.rand_like(L.zeros(4), generator=g),
            L.randn_like(L.zeros(4), generator=g),
            L.randint_like(L.zeros(4), 9, generator=g),
        ]

    assert_bitwise(calls)


def test_interleaved_sequence():
    def calls(L):
        F = L.nn.functional
        return [
            L.rand(3),
            L.randn(5),
            L.randperm(7),
            F.dropout(L.ones(20), 0.3),
            L.randint(0, 5, (4,)),
            L.randn(40),
            L.empty(3).normal_(),
            L.randn(2, dtype=L.float64),
            F.dropout(L.ones(4, 5), 0.5, training=True),
            L.multinomial(L.rand(6), 3),
            L.rand(2),
        ]

    assert_ulp(calls)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9, 1.0])
def test_dropout_masks(p):
    def calls(L):
        F, nn = L.nn.functional, L.nn
        x = L.arange(30.0).reshape(5, 6) + 1
        return [
            F.dropout(x, p),
            F.dropout(x.double(), p),
            F.dropout2d(L.ones(2, 3, 4, 4), p),
            nn.Dropout(p)(L.ones(50)),
            F.alpha_dropout(L.zeros(30), p, training=True) != 0,
        ]

    assert_bitwise(calls)


def test_generator_objects_are_independent():
    def calls(L):
        g = L.Generator()
        g.manual_seed(123)
        a = L.rand(3, generator=g)
        b = L.rand(2)  # the global stream, untouched by g
        c = L.randn(20, generator=g)
        d = L.randint(0, 9, (3,), generator=g)
        e = L.randperm(5, generator=g)
        f = L.empty(4).uniform_(generator=g)
        h = L.multinomial(L.rand(5), 2, generator=g)
        return [a, b, c, d, e, f, h, L.tensor(g.initial_seed()), g.get_state()]

    assert_bitwise(calls)


def test_new_generator_default_seed():
    assert ember.Generator().initial_seed() == torch.Generator().initial_seed()
    assert np.array_equal(
        _np(ember.rand(5, generator=ember.Generator())), _np(torch.rand(5, generator=torch.Generator()))
    )


def _fill_view(make, fill):
    base = make()
    fill(base)
    return base


def test_fills_of_strided_tensors_follow_memory_order():
    assert_bitwise(
        lambda L: [
            L.zeros(4, 6).t().uniform_(-1, 1),
            _fill_view(lambda: L.zeros(4, 6), lambda x: x[:, ::2].uniform_()),
            _fill_view(lambda: L.zeros(40, 6), lambda x: x[:, ::2].normal_()),
            _fill_view(lambda: L.zeros(3, 4, 5), lambda x: x.permute(2, 0, 1).bernoulli_(0.4)),
            L.zeros(5, 7).t().exponential_(),
            L.zeros(5, 7).t().random_(0, 100),
        ]
    )


def test_multinomial_zero_probability_categories_never_drawn():
    assert_bitwise(
        lambda L: [
            L.multinomial(L.tensor([0.0, 1.0, 0.0, 2.0, 0.0]), 2),
            L.multinomial(L.tensor([0.0, 1.0, 0.0, 2.0, 0.0]), 20, True),
        ]
    )


_MIXED_OPS = [
    lambda L, n: L.rand(n),
    lambda L, n: L.randn(n),
    lambda L, n: L.randn(n, dtype=L.float64),
    lambda L, n: L.randint(-3, 1000, (n,)),
    lambda L, n: L.randperm(n),
    lambda L, n: L.nn.functional.dropout(L.ones(n), 0.25),
    lambda L, n: L.empty(n).normal_(0.5, 1.5),
    lambda L, n: L.empty(n).uniform_(-3, 5),
    lambda L, n: L.empty(n).exponential_(),
    lambda L, n: L.empty(n).bernoulli_(0.7),
    lambda L, n: L.multinomial(L.ones(n) + L.arange(n * 1.0), min(n, 3)),
    lambda L, n: L.empty(n, dtype=L.int64).random_(),
    lambda L, n: L.empty(n, dtype=L.float64).log_normal_(),
    lambda L, n: L.normal(L.zeros(n), 2.0),
]


@pytest.mark.parametrize("trial", range(12))
def test_random_mixed_sequences(trial):
    """Twelve calls drawn at random (fixed per trial) from the functions above, sizes across 16."""
    r = random.Random(trial)
    seq = [(r.randrange(len(_MIXED_OPS)), r.choice([1, 2, 15, 16, 17, 33, 257])) for _ in range(12)]
    assert_ulp(lambda L: [_MIXED_OPS[i](L, n) for i, n in seq], seed=trial)
