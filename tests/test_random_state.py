"""torch's generator state layout in ember: seeding, get/set_rng_state both ways, Generator
objects, fork_rng, errors; the engine against NumPy's legacy MT19937; fast paths against the
general paths they shortcut."""

from __future__ import annotations

import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
import torch

import ember
from ember import _avx_mathfun, _fma, _sampling
from ember._mt19937 import Engine, init_genrand


def _np(x):
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x._data)


def _state_bytes(lib) -> bytes:
    return bytes(_np(lib.get_rng_state()))


@pytest.mark.parametrize(
    "seed", [0, 1, 2**32 - 1, 2**32 + 5, 2**63 - 1, -1, -(2**63), 2**64 - 1, 67280421310721]
)
def test_manual_seed_state_and_initial_seed(seed):
    torch.manual_seed(seed)
    ember.manual_seed(seed)
    assert _state_bytes(torch) == _state_bytes(ember)
    assert torch.initial_seed() == ember.initial_seed()
    assert np.array_equal(_np(torch.rand(4)), _np(ember.rand(4)))
    assert _state_bytes(torch) == _state_bytes(ember)


def test_state_shape_dtype():
    s = ember.get_rng_state()
    assert s.dtype == ember.uint8 and tuple(s.shape) == (5056,)


def test_torch_state_restores_in_ember_and_back():
    torch.manual_seed(42)
    torch.randn(5)
    torch.randn(3)  # leaves a cached double normal in the state
    torch.rand(700)  # past one twist of the mt19937 words
    ember.set_rng_state(ember.tensor(torch.get_rng_state().numpy()))
    assert _state_bytes(torch) == _state_bytes(ember)
    assert np.array_equal(_np(torch.randn(7)), _np(ember.randn(7)))
    ember.manual_seed(5)
    ember.randn(3)
    torch.set_rng_state(torch.from_numpy(_np(ember.get_rng_state()).copy()))
    assert np.array_equal(_np(torch.randn(7)), _np(ember.randn(7)))
    assert _state_bytes(torch) == _state_bytes(ember)


def test_generator_state_and_clone():
    for lib in (torch, ember):
        g = lib.Generator().manual_seed(9)
        lib.rand(3, generator=g)
        st = g.get_state()
        a = _np(lib.rand(4, generator=g))
        g.set_state(st)
        assert np.array_equal(a, _np(lib.rand(4, generator=g)))
    tg, eg = torch.Generator().manual_seed(9), ember.Generator().manual_seed(9)
    torch.randn(3, generator=tg)
    ember.randn(3, generator=eg)
    assert bytes(_np(tg.get_state())) == bytes(_np(eg.get_state()))
    eg2 = pickle.loads(pickle.dumps(eg))
    assert np.array_equal(_np(ember.randn(5, generator=eg2)), _np(torch.randn(5, generator=tg)))
    assert np.array_equal(_np(ember.randn(5, generator=eg.clone_state())), _np(ember.randn(5, generator=eg)))


def test_seed_is_nondeterministic_53_bits():
    s1, s2 = ember.seed(), ember.Generator().seed()
    assert s1 != s2 and 0 <= s1 < 2**53 and ember.initial_seed() == s1


def test_manual_seed_returns_default_generator():
    assert ember.manual_seed(3) is ember.random.default_generator is ember.default_generator


def test_offset_is_not_a_cpu_notion():
    for f in (lambda L: L.Generator().get_offset(), lambda L: L.Generator().set_offset(1)):
        assert _error(lambda: f(torch)) == _error(lambda: f(ember))


def test_fork_rng():
    for lib in (torch, ember):
        lib.manual_seed(0)
        with lib.random.fork_rng():
            lib.rand(5)
        a = _np(lib.rand(2))
        lib.manual_seed(0)
        assert np.array_equal(a, _np(lib.rand(2)))
        before = _state_bytes(lib)
        with lib.random.fork_rng(enabled=False):
            lib.rand(1)
        assert _state_bytes(lib) != before


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (the type is compared)
        return type(e), str(e).split("\n")[0]
    return None


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.set_rng_state(L.zeros(10, dtype=L.uint8)),
        lambda L: L.set_rng_state(L.zeros(5056, dtype=L.int64)),
        lambda L: L.set_rng_state(L.zeros(5056, dtype=L.uint8)),
        lambda L: L.Generator().manual_seed(1.5),
        lambda L: L.Generator().manual_seed(True),
        lambda L: L.manual_seed(2**64),
        lambda L: L.empty(3).bernoulli_(1.5),
        lambda L: L.empty(3).geometric_(1.5),
        lambda L: L.empty(3).exponential_(-1),
        lambda L: L.empty(3).cauchy_(0, -1),
        lambda L: L.empty(3).log_normal_(0, -1),
        lambda L: L.empty(3).uniform_(2, 1),
        lambda L: L.empty(3, dtype=L.int64).uniform_(),
        lambda L: L.empty(3, dtype=L.int64).normal_(),
        lambda L: L.randint(5, 3, (2,)),
        lambda L: L.randint(0, 300, (2,), dtype=L.uint8),
        lambda L: L.randperm(-1),
        lambda L: L.normal(L.zeros(3), -1.0),
        lambda L: L.normal(L.zeros(3), -L.ones(3)),
        lambda L: L.poisson(L.tensor([-1.0])),
        lambda L: L.bernoulli(L.tensor([1.5])),
        lambda L: L.multinomial(L.tensor([1, 2]), 1),
        lambda L: L.multinomial(L.tensor([1.0, -1.0]), 1, True),
        lambda L: L.multinomial(L.tensor([0.0, 0.0]), 1),
        lambda L: L.multinomial(L.tensor([1.0, 2.0]), 3),
        lambda L: L.multinomial(L.ones(2, 2, 2), 1),
        lambda L: L.empty(3, dtype=L.int64).exponential_(),
        lambda L: L.empty(3, dtype=L.complex64).exponential_(),
        lambda L: L.empty(3, dtype=L.int64).cauchy_(),
        lambda L: L.empty(3, dtype=L.bool).log_normal_(),
        lambda L: L.empty(3, dtype=L.complex64).geometric_(0.5),
        lambda L: L.empty(3, dtype=L.complex64).bernoulli_(0.5),
        lambda L: L.empty(3, dtype=L.complex64).random_(),
        lambda L: L.empty(3, dtype=L.complex64).random_(0, 2),
        lambda L: L.empty(3, dtype=L.float16).random_(-(2**63), None),
    ],
)
def test_errors_match_torch(call):
    t, e = _error(lambda: call(torch)), _error(lambda: call(ember))
    assert t is not None and e is not None
    assert e[0] is t[0] or issubclass(e[0], t[0]), (t, e)
    assert e[1] == t[1][: len(e[1])] and len(e[1]) > 20, (t, e)


# -- the engine ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 5489, 2**32 - 1])
def test_engine_matches_numpy_legacy_mt19937(seed):
    """at::mt19937 is the reference MT19937: NumPy's legacy seeding (init_genrand) gives the same words."""
    rs = np.random.RandomState(seed)
    key = rs.get_state()[1]
    assert np.array_equal(init_genrand(seed), key)
    eng = Engine(seed)
    assert np.array_equal(
        eng.random32(1500), rs.randint(0, 2**32, size=1500, dtype=np.uint64).astype(np.uint32)
    )


def test_engine_random64_is_hi_lo():
    a, b = Engine(3), Engine(3)
    r = a.random32(6).astype(np.uint64)
    assert np.array_equal(b.random64(3), (r[0::2] << np.uint64(32)) | r[1::2])
    c = Engine(3)
    assert c.one32() == int(r[0]) and c.one64() == (int(r[1]) << 32) | int(r[2])


# -- fast paths against their general paths --------------------------------------------------------
def _round_f32(q: Fraction) -> np.float32:
    """The float32 nearest to q, ties to even (the reference for a single rounding)."""
    x = np.float32(float(q))
    cands = [np.nextafter(x, np.float32(-np.inf)), x, np.nextafter(x, np.float32(np.inf))]
    errs = [abs(Fraction(float(c)) - q) for c in cands]
    best = min(errs)
    ties = [c for c, err in zip(cands, errs) if err == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.int32)) & 1)


def test_fma32_rounds_once():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(3000).astype(np.float32)
    b = rng.standard_normal(3000).astype(np.float32)
    c = (rng.standard_normal(3000) * 1e-3).astype(np.float32)
    x = rng.random(3000).astype(np.float32)  # x * x + 0.3 lands on float32 halfway points often
    for p, q, r in ((a, b, c), (x, x, np.full(3000, np.float32(0.3)))):
        got = _fma.fma32(p, q, r)
        ref = [
            _round_f32(Fraction(float(u)) * Fraction(float(v)) + Fraction(float(w)))
            for u, v, w in zip(p, q, r)
        ]
        assert np.array_equal(got, np.array(ref, dtype=np.float32))


def test_fma64_rounds_once():
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal(2000), rng.standard_normal(2000) * 3, rng.standard_normal(2000) * 1e-9
    got = _fma.fma64(a, b, c)
    ref = [
        float(Fraction(u) * Fraction(v) + Fraction(w)) for u, v, w in zip(a.tolist(), b.tolist(), c.tolist())
    ]
    assert np.array_equal(got, np.array(ref))


def test_standard_normal_shortcut_equals_general_affine():
    x = np.random.default_rng(3).standard_normal(100)
    assert np.array_equal(_sampling._affine64(x, 1.0, 0.0), _fma.fma64(x, 1.0, 0.0))
    d = np.random.default_rng(4).random((8, 16), dtype=np.float32)
    fast = _avx_mathfun.box_muller16_avx2(d, np.float32(0), np.float32(1))
    general = _avx_mathfun.box_muller16_avx2(d, np.float32(0), np.float32(1.0000001))  # forces the FMA
    assert np.array_equal(fast, _fma.fma32(fast, np.float32(1), np.float32(0)))
    assert np.allclose(fast, general, rtol=1e-6, atol=0)


def test_libm_vectorised_path_within_an_ulp_of_exact():
    x = np.random.default_rng(5).random(70000)
    for fn, exact in (
        (_sampling.libm_log, math.log),
        (_sampling.libm_log1p, math.log1p),
        (_sampling.libm_exp, math.exp),
    ):
        fast = fn(x)  # over 64K values: NumPy's ufunc
        ref = np.array([exact(v) for v in x.tolist()])
        assert (np.abs(fast - ref) <= np.spacing(np.abs(ref))).all()
        assert np.array_equal(fn(x[:100]), ref[:100])  # the exact path


def test_mkl_bernoulli_stream_matches_mcg31_recurrence():
    """The Intel-processor path: x_0 = seed mod (2^31 - 1) (0 -> 1), x_k = a x_{k-1}, u_k = x_k / m."""
    eng, ref = Engine(7), Engine(7)
    got = _sampling.bernoulli_scalar_mkl(eng, 50, 0.4)
    m, a = 2**31 - 1, 1132489760
    x = ref.one32() % m or 1
    want = []
    for _ in range(50):
        want.append(x / m < 0.4)
        x = x * a % m
    assert np.array_equal(got, np.array(want, dtype=np.int32))
    assert _state_of(eng) == _state_of(ref)


def _state_of(eng) -> bytes:
    return bytes(eng.to_bytes())


def _mkl_runtime():
    import ctypes
    import ctypes.util
    import os

    name = os.environ.get("EMBER_TEST_MKL_LIB") or ctypes.util.find_library("mkl_rt")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def test_mkl_bernoulli_against_mkl_itself():
    import ctypes

    mkl = _mkl_runtime()
    if mkl is None:
        pytest.skip("MKL runtime (libmkl_rt, e.g. `pip install mkl`) not found; set EMBER_TEST_MKL_LIB")

    class OneDraw:
        def __init__(self, v):
            self.v = v

        def one32(self):
            return self.v

    for seed in (0, 1, 123456789, 2**31 - 1, 2**32 - 1):
        for p in (0.0, 0.37, 0.5, 1.0):
            stream = ctypes.c_void_p()
            mkl.vslNewStream(
                ctypes.byref(stream), ctypes.c_int(1 << 20), ctypes.c_uint(seed)
            )  # VSL_BRNG_MCG31
            out = np.zeros(3000, np.int32)
            mkl.viRngBernoulli(0, stream, 3000, out.ctypes.data_as(ctypes.c_void_p), ctypes.c_double(p))
            mkl.vslDeleteStream(ctypes.byref(stream))
            assert np.array_equal(_sampling.bernoulli_scalar_mkl(OneDraw(seed), 3000, p), out)
