"""torch's CPU sampling algorithms on NumPy arrays (ATen's DistributionsHelper.h,
TransformationHelper.h, native/cpu/DistributionTemplates.h, Distributions.cpp, randperm), each
drawing from one ember.random.Generator's mt19937 stream exactly as torch 2.13 draws from its own.

Every function takes the output shape and NumPy dtype and returns a new C-ordered array, filled in
the order torch's serial kernels fill a contiguous tensor."""

from __future__ import annotations

import math
import platform
import warnings

import numpy as np

from ember import random as _random
from ember._avx_mathfun import box_muller16_avx2
from ember._fma import fma32, fma64

_F32 = np.float32
_MASK53 = np.uint64((1 << 53) - 1)


def engine(generator=None):
    return (_random.default_generator if generator is None else generator)._engine


def _numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def _component(dt: np.dtype) -> np.dtype:
    return np.dtype(np.float32 if dt == np.complex64 else np.float64)


# -- uniform [0, 1) conversions (transformation::uniform_real) -------------------------------------
def unit_float32(r32: np.ndarray) -> np.ndarray:
    """(random() & (2^24 - 1)) * 2^-24, in place on the uint32 draws."""
    r32 &= np.uint32(0xFFFFFF)
    out = r32.astype(np.float32)
    out *= _F32(2.0**-24)
    return out


def unit_float64(r64: np.ndarray) -> np.ndarray:
    """(random64() & (2^53 - 1)) * 2^-53."""
    r64 &= _MASK53
    out = r64.astype(np.float64)
    out *= 2.0**-53
    return out


def unit_float64_list(eng, n: int) -> list[float]:
    return unit_float64(eng.random64(n)).tolist()


def uniform(shape, dtype, low: float = 0.0, high: float = 1.0, generator=None) -> np.ndarray:
    """Tensor.uniform_(low, high): one 32-bit draw per float32/float16 value, one 64-bit per double."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        comp = uniform((*shape, 2), _component(dt), low, high, generator)
        return comp.view(dt).reshape(shape)
    if dt.kind != "f":
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{_short(dt)}'")
    if low > high:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={low:g} > to={high:g}"
        )
    eng, n = engine(generator), _numel(shape)
    # x * (to - from) + from, contracted to an FMA in torch's compiled kernel
    if dt == np.float64:
        u = unit_float64(eng.random64(n))
        if (low, high) != (0.0, 1.0):
            u = fma64(u, high - low, low)
    elif dt == np.float32:
        u = unit_float32(eng.random32(n))
        lo, hi = _F32(low), _F32(high)
        if (lo, hi) != (0, 1):
            u = fma32(u, hi - lo, lo)
    else:  # float16: drawn and computed as float, then rounded to half (torch 2.13)
        u = uniform((n,), np.float32, low, high, generator).astype(np.float16)
    if (low, high) != (0.0, 1.0) or dt == np.float16:  # [0, 1) floats never round up to 1
        u[u == dt.type(high)] = dt.type(low)  # a value rounded up to `to` becomes `from`, as torch
    return u.reshape(shape)


# -- normal -----------------------------------------------------------------------------------------
def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


def normal(shape, dtype, mean: float = 0.0, std: float = 1.0, generator=None, contiguous: bool = True):
    """Tensor.normal_(mean, std). torch picks the algorithm by size: 16 or more elements of a
    contiguous tensor take normal_fill (Box-Muller on blocks of 16 uniforms of the tensor's own
    type, the last 16 redrawn and recomputed when the size is not a multiple of 16); smaller or
    strided tensors take the scalar normal_distribution<double> (which caches its second value)."""
    _check_std(std)
    dt = np.dtype(dtype)
    if dt.kind == "c":  # real and imaginary parts each get variance std^2 / 2
        comp = normal((*shape, 2), _component(dt), mean, std / math.sqrt(2.0), generator, contiguous)
        return comp.view(dt).reshape(shape)
    if dt.kind != "f":
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{_short(dt)}'")
    eng, n = engine(generator), _numel(shape)
    if n >= 16 and contiguous and dt == np.float32:
        out = _normal_fill(eng, n, _F32(mean), _F32(std), unit_float32, eng.random32, box_muller16_avx2)
    elif n >= 16 and contiguous and dt == np.float16:  # float kernel; uniforms for full blocks only
        full = n - n % 16
        args = (_F32(mean), _F32(std), unit_float32, eng.random32, box_muller16_avx2)
        out = _normal_fill(eng, full, *args) if full else np.empty(0, np.float32)
        if n % 16:
            out = np.concatenate([out[: n - 16], _normal_fill(eng, 16, *args)])
    elif n >= 16 and contiguous and dt == np.float64:
        out = _normal_fill(eng, n, float(mean), float(std), unit_float64, eng.random64, _box_muller16_f64)
    else:
        out = normal_scalar(eng, n, mean, std)
        if dt != np.float64:
            out = out.astype(np.float32)  # static_cast from double (to Half through float)
    return out.astype(dt, copy=False).reshape(shape)


def _normal_fill(eng, n: int, mean, std, unit, draw, box_muller16) -> np.ndarray:
    """normal_fill / normal_fill_AVX2: n uniforms, Box-Muller on each full block of 16, then the
    last 16 values drawn again and recomputed when n % 16 != 0."""
    u = unit(draw(n))
    full = n - n % 16
    out = np.empty_like(u)
    step = 16 * 2048  # blocks of 32K values keep the temporaries in cache
    for lo in range(0, full, step):
        hi = min(lo + step, full)
        out[lo:hi] = box_muller16(u[lo:hi].reshape(-1, 16), mean, std).reshape(-1)
    if n % 16:
        out[n - 16 :] = box_muller16(unit(draw(16)).reshape(1, 16), mean, std).reshape(-1)
    return out


def _box_muller16_f64(d: np.ndarray, mean: float, std: float) -> np.ndarray:
    """normal_fill_16<double>: u1 = 1 - d[j], u2 = d[j + 8]; glibc log, sin, cos; the final
    `radius * cos(theta) * std + mean` contracted to an FMA by the compiler."""
    u1, u2 = 1.0 - d[:, :8], d[:, 8:]
    radius = np.sqrt(-2.0 * libm_log(u1))
    theta = (2.0 * math.pi) * u2
    res = np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    return _affine64(res, std, mean)


def _affine64(x: np.ndarray, std: float, mean: float) -> np.ndarray:
    """x * std + mean as one FMA; the standard-normal case needs no arithmetic."""
    if std == 1.0 and mean == 0.0:
        return x
    return fma64(x, std, mean)


def normal_scalar(eng, n: int, mean: float, std: float) -> np.ndarray:
    """normal_distribution<double>: pairs u1, u2 (64-bit draws), r = sqrt(-2 log1p(-u2)),
    theta = 2 pi u1; returns r cos(theta) and caches r sin(theta) in the generator."""
    _check_std(std)
    cache = eng.next_double_normal
    fresh = n - (cache is not None)
    u = unit_float64_list(eng, 2 * ((fresh + 1) // 2)) if fresh > 0 else []
    vals: list[float] = []
    k = 0
    for _ in range(n):
        if cache is not None:
            vals.append(cache)
            cache = None
            continue
        u1, u2 = u[k], u[k + 1]
        k += 2
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        cache = r * math.sin(theta)
        vals.append(r * math.cos(theta))
    eng.next_double_normal = cache
    return _affine64(np.array(vals, dtype=np.float64), float(std), float(mean))


def _libm(exact, vectorised):
    """glibc's function (what torch's scalar C++ calls): exact per element up to 64K values;
    NumPy's vectorised ufunc beyond (it can differ from glibc in the last bit of a double)."""

    def fn(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.size <= 65536:
            return np.frompyfunc(exact, 1, 1)(x).astype(np.float64)
        return vectorised(x)

    fn.__name__ = f"libm_{exact.__name__}"
    return fn


libm_log = _libm(math.log, np.log)
libm_log1p = _libm(math.log1p, np.log1p)
libm_exp = _libm(math.exp, np.exp)
libm_tan = _libm(math.tan, np.tan)


# -- integers ---------------------------------------------------------------------------------------
_INT_MAX = {"int8": 127, "int16": 32767, "int32": 2**31 - 1, "int64": 2**63 - 1, "uint8": 255, "bool": 1}
_TORCH_NAME = {"int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int",
               "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half", "float32": "float",
               "float64": "double"}  # fmt: skip
_DIGITS = {"float16": 11, "float32": 24, "float64": 53}


def _update_from(frm: int, dt: np.dtype) -> int:
    """torch's update_from: move `from` up to the next value the float type holds."""
    plus1 = int(np.array(frm + 1, dtype=np.float64).astype(dt).astype(np.float64))
    if plus1 < frm:
        n = abs(frm + 1).bit_length() - 1
        frm = plus1 + (1 << (n - _DIGITS[dt.name] + 1))
    return frm


def _update_to(to: int, dt: np.dtype) -> int:
    """torch's update_to: move `to` down so that `to - 1` is a value the float type holds."""
    minus1 = int(np.array(to - 1, dtype=np.float64).astype(dt).astype(np.float64))
    if minus1 >= to:
        n = abs(to - 1).bit_length() - 1
        to = minus1 - (1 << (n - _DIGITS[dt.name] + 1))
    return to


def _check_in_range(frm: int, to_inc: int, dt: np.dtype) -> None:
    if dt.kind == "f":
        lim = 1 << _DIGITS[dt.name]
        for name, v in (("from", frm), ("to - 1", to_inc)):
            if not -lim <= v <= lim:
                warnings.warn(
                    f"{name} is out of bounds [-(2^{_DIGITS[dt.name]}), 2^{_DIGITS[dt.name]}]. Due to precision "
                    f"limitations {_TORCH_NAME[dt.name]} can support discrete uniform distribution only within "
                    "this range. This warning will become an error in version 1.7 release, please fix the code "
                    "in advance",
                    stacklevel=4,
                )
        return
    info = np.iinfo(dt) if dt.kind != "b" else None
    lo, hi = (0, 1) if info is None else (int(info.min), int(info.max))
    if not lo <= frm <= hi:
        raise RuntimeError(f"from is out of bounds for {_TORCH_NAME[dt.name]}")
    if not lo <= to_inc <= hi:
        raise RuntimeError(f"to - 1 is out of bounds for {_TORCH_NAME[dt.name]}")


def _from_range(eng, n: int, span: int, base: int) -> np.ndarray:
    """uniform_int_from_to: (draw % span) + base, with 64-bit draws once span >= 2^28 (torch 2.13)."""
    draws = eng.random64(n) if span >= 1 << 28 else eng.random32(n).astype(np.uint64)
    vals = draws % np.uint64(span) + np.uint64(base % (1 << 64))
    return vals.view(np.int64)


def random_from_to(shape, dtype, frm: int, to: int | None, generator=None) -> np.ndarray:
    """Tensor.random_(from, to): uniform integers in [from, to) (to=None: up to the dtype's max)."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        raise RuntimeError("check_random_bounds handles only integral, floating-point and boolean types")
    frm = int(frm)
    if to is not None:
        to = int(to)
        if not frm < to:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={frm} >= to={to}")
        if dt.kind == "f":
            frm, to = _update_from(frm, dt), _update_to(to, dt)
            if not frm < to:
                raise RuntimeError(
                    "random_ expects 'from' casted to dtype to be less than 'to' casted to dtype, but got "
                    f"from={frm} >= to={to}"
                )
        _check_in_range(frm, to - 1, dt)
        span = to - frm
    elif frm != -(2**63):
        if dt.kind == "f":
            to_inc = min(1 << _DIGITS[dt.name], 2**63 - 1)
            frm = _update_from(frm, dt)
            if not frm < to_inc:
                raise RuntimeError(
                    "random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' casted to "
                    f"dtype, but got from={frm} > to_inc={to_inc}"
                )
        else:
            to_inc = _INT_MAX[dt.name]
        _check_in_range(frm, to_inc, dt)
        span = to_inc - frm + 1
    else:  # the whole int64 range
        if dt.name in ("bool", "float16"):
            raise NotImplementedError(
                f"\"random_full_64_bits_range_kernel_cpu\" not implemented for '{_short(dt)}'"
            )
        if dt.name not in ("int64", "float32", "float64"):
            raise RuntimeError(
                "random_full_64_bits_range_kernel_cpu handles only int64, double, float and bfloat16"
            )
        vals = engine(generator).random64(_numel(shape)).view(np.int64)
        return vals.astype(dt).reshape(shape)
    vals = _from_range(engine(generator), _numel(shape), span, frm)
    return vals.astype(dt).reshape(shape)


def random_(shape, dtype, generator=None) -> np.ndarray:
    """Tensor.random_(): [0, 2^mantissa] for floats, [0, max] for integers (uniform_int)."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        raise _not_implemented("random_kernel_cpu", dt)
    eng, n = engine(generator), _numel(shape)
    if dt.kind == "b":
        return (eng.random32(n) & np.uint32(1)).astype(bool).reshape(shape)
    wide = dt.name in ("int64", "float64")
    draws = eng.random64(n) if wide else eng.random32(n).astype(np.uint64)
    if dt.kind == "f":
        span = (1 << _DIGITS[dt.name]) + 1
    else:
        span = _INT_MAX[dt.name] + 1
    return (draws % np.uint64(span)).astype(np.int64).astype(dt).reshape(shape)


def randint(shape, dtype, low: int, high: int, generator=None) -> np.ndarray:
    """torch.randint(low, high, size): random_(low, high) on a new tensor."""
    return random_from_to(shape, dtype, low, high, generator)


def _randperm_draws(eng, n: int) -> np.ndarray:
    """The swap targets of torch.randperm's forward Fisher-Yates: step i swaps i with
    i + draw % (n - i), 32-bit draws while n < 2^32 / 20 and 64-bit draws beyond."""
    steps = max(n - 1, 0)
    draws = eng.random32(steps).astype(np.uint64) if n < (2**32 - 1) // 20 else eng.random64(steps)
    return (draws % np.arange(n, 1, -1, dtype=np.uint64)).astype(np.int64) + np.arange(steps)


def randperm_swaps(n: int, targets: np.ndarray) -> np.ndarray:
    """General path: the swaps one after another (sequential by nature: each sees the last)."""
    perm = list(range(n))
    for i, j in enumerate(targets.tolist()):
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)


def randperm_jumps(n: int, targets: np.ndarray) -> np.ndarray:
    """Fast path of randperm_swaps (same permutation), with whole-array passes. Step i swaps
    positions i and j_i >= i, so position i is final after it. Let f(p) be the value at p when
    step p runs: the value the last step k < p with j_k = p moved there, i.e. f(k), else p
    itself; the chains k -> p are resolved by pointer jumping. Then out[i] = f(i) when j_i = i,
    else the value at j_i before step i: f(k) for the last earlier step k with the same target,
    or j_i when none."""
    steps = n - 1
    if steps <= 0:
        return np.arange(n, dtype=np.int64)
    j = targets
    order = np.argsort(j, kind="stable")  # steps grouped by target, ascending within a group
    js = j[order]
    same = js[1:] == js[:-1]
    prev = np.full(steps, -1, dtype=np.int64)  # the previous step with the same target
    prev[order[1:][same]] = order[:-1][same]
    last = np.full(n, -1, dtype=np.int64)  # the last step with target p
    last[js[np.append(~same, True)]] = order[np.append(~same, True)]
    pos = np.arange(n, dtype=np.int64)
    fixed = j == pos[:steps]  # steps that swap with themselves
    src = last.copy()  # the last step k < p with j_k = p, or -1
    src[:steps][fixed] = prev[fixed]
    f = np.where(src >= 0, src, pos)
    while True:
        nxt = f[f]
        if np.array_equal(nxt, f):
            break
        f = nxt
    out = f.copy()
    moved = ~fixed
    p = prev[moved]
    out[:steps][moved] = np.where(p >= 0, f[np.maximum(p, 0)], j[moved])
    return out


def randperm(n: int, dtype, generator=None) -> np.ndarray:
    """torch.randperm on the CPU (forward Fisher-Yates, see _randperm_draws)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    targets = _randperm_draws(engine(generator), n)
    perm = randperm_jumps(n, targets) if n > 64 else randperm_swaps(n, targets)
    return perm.astype(dtype, copy=False)


def skip_randperm(n: int, generator=None) -> None:
    """Advance the generator exactly as randperm(n) would, without building the permutation
    (RandomSampler's last, empty slice of a pass)."""
    steps = max(int(n) - 1, 0)
    eng = engine(generator)
    eng.random32(steps) if n < (2**32 - 1) // 20 else eng.random64(steps)


# -- bernoulli --------------------------------------------------------------------------------------
def _cpu_is_intel() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return "GenuineIntel" in line
    except OSError:
        pass
    return False


# torch's x86-64 builds use MKL's VSL_BRNG_MCG31 stream for bernoulli_(p: float) on Intel processors
# (cpuinfo vendor check in DistributionKernels.cpp); every other processor takes the generic kernel.
MKL_BERNOULLI = platform.machine().lower() in ("x86_64", "amd64") and _cpu_is_intel()


def bernoulli_scalar(shape, dtype, p: float, generator=None) -> np.ndarray:
    """Tensor.bernoulli_(p) for a float p: a double uniform (64-bit draw) < p per element."""
    if np.dtype(dtype).kind == "c":
        raise _not_implemented("bernoulli_scalar_cpu_", dtype)
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    eng, n = engine(generator), _numel(shape)
    if MKL_BERNOULLI:
        return bernoulli_scalar_mkl(eng, n, p).astype(dtype).reshape(shape)
    return bernoulli_words(eng.random32(2 * n), p).astype(dtype).reshape(shape)


def bernoulli_uniform(r32: np.ndarray, p: float) -> np.ndarray:
    """General path: u < p with u the double uniform of each random64() word pair of r32."""
    r64 = r32.astype(np.uint64)
    return unit_float64((r64[0::2] << np.uint64(32)) | r64[1::2]) < p


def bernoulli_words(r32: np.ndarray, p: float) -> np.ndarray:
    """Fast path of bernoulli_uniform, on the 32-bit words: u = k 2^-53 with
    k = (hi & (2^21 - 1)) 2^32 + lo is exact, so u < p <=> k < K = ceil(p 2^53) (p 2^53 is exact),
    i.e. hi' < K_hi, or hi' == K_hi and lo < K_lo. The tie (hi' == K_hi, probability 2^-21 per
    element) is settled only where it occurs. Bit-identical; no 64-bit or double arrays."""
    if not 0.0 <= p <= 1.0:
        return bernoulli_uniform(r32, p)
    K = math.ceil(p * 2.0**53)
    khi, klo = K >> 32, K & 0xFFFFFFFF
    hi = r32[0::2] & np.uint32((1 << 21) - 1)
    if khi >= 1 << 21:  # p = 1
        return np.ones(hi.shape, dtype=bool)
    keep = hi < np.uint32(khi)
    tie = np.flatnonzero(hi == np.uint32(khi))
    if tie.size:
        keep[tie] = r32[1::2][tie] < np.uint32(klo)
    return keep


def bernoulli_scalar_mkl(eng, n: int, p: float) -> np.ndarray:
    """MKL's path (Intel processors): seed = one 32-bit draw, then viRngBernoulli(ICDF) on an
    MCG31m1 stream: x_k = a^k seed mod (2^31 - 1) from k = 0, u_k = x_k / (2^31 - 1), sample = u_k < p.
    (The stream is split across threads with vslSkipAheadStream, which gives the same sequence.)"""
    m, a = (1 << 31) - 1, 1132489760
    x0 = eng.one32() % m or 1
    # x_k = x0 * a^k mod m for k = 0..n-1, by doubling runs of powers of a (products stay below 2^62)
    x = np.empty(n, dtype=np.int64)
    if n:
        x[0] = x0
        filled, step = 1, a
        while filled < n:
            take = min(filled, n - filled)
            x[filled : filled + take] = x[:take] * step % m
            filled += take
            step = step * step % m
    return (x.astype(np.float64) / m < p).astype(np.int32)


def bernoulli_tensor(shape, dtype, p: np.ndarray, generator=None) -> np.ndarray:
    """Tensor.bernoulli_(p_tensor): p broadcast to the output; a double uniform per element when p
    is float64, a float uniform (32-bit draw) otherwise; sample = uniform < p."""
    if np.dtype(dtype).kind == "c":
        raise _not_implemented("bernoulli_tensor_cpu_self_", dtype)
    p = np.broadcast_to(p, tuple(shape))
    eng, n = engine(generator), _numel(shape)
    if p.dtype == np.float64:
        u = unit_float64(eng.random64(n))
    else:
        u = unit_float32(eng.random32(n))
        p = p.astype(np.float32, copy=False)
    return (u.reshape(shape) < p).astype(dtype)


# -- exponential family (double transformations, cast to the tensor's type) -------------------------
def _unit64(generator, shape) -> np.ndarray:
    return unit_float64(engine(generator).random64(_numel(shape))).reshape(shape)


def exponential(shape, dtype, lambd: float = 1.0, generator=None) -> np.ndarray:
    """Tensor.exponential_(lambd): -1 / lambd * log1p(-u)."""
    _require_float(dtype, "Exponential")
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    u = _unit64(generator, shape)
    return ((-1.0 / lambd) * libm_log1p(-u)).astype(dtype)


def geometric(shape, dtype, p: float, generator=None) -> np.ndarray:
    """Tensor.geometric_(p): ceil(log(u) / log1p(-p))."""
    if not 0.0 < p < 1.0:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    if np.dtype(dtype).kind in "bc":
        raise _not_implemented("geometric_cpu", dtype)
    u = _unit64(generator, shape)
    return np.ceil(libm_log(u) / math.log1p(-p)).astype(dtype)


def cauchy(shape, dtype, median: float = 0.0, sigma: float = 1.0, generator=None) -> np.ndarray:
    """Tensor.cauchy_(median, sigma): median + sigma * tan(pi * (u - 0.5))."""
    _require_float(dtype, "Cauchy", cpp_name=True)
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    u = _unit64(generator, shape)
    return fma64(sigma, libm_tan(math.pi * (u - 0.5)), median).astype(dtype)


def log_normal(shape, dtype, mean: float = 1.0, std: float = 2.0, generator=None) -> np.ndarray:
    """Tensor.log_normal_(mean, std): exp of the scalar (double, cached) normal, for every size."""
    if np.dtype(dtype).kind != "f":
        raise _not_implemented("log_normal_cpu", dtype)
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    vals = normal_scalar(engine(generator), _numel(shape), mean, std)
    return libm_exp(vals).astype(dtype).reshape(shape)


def poisson(rates: np.ndarray, generator=None) -> np.ndarray:
    """torch.poisson: sample_poisson per element in order (transformed rejection for rate >= 10,
    Knuth's product of uniforms below), returned in the rates' dtype."""
    eng = engine(generator)
    flat = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1)
    out = [_poisson_one(eng, lam) for lam in flat.tolist()]
    return np.array(out, dtype=np.float64).astype(rates.dtype).reshape(rates.shape)


def _poisson_one(eng, lam: float) -> int:
    if not lam >= 0:
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = unit_float64_list(eng, 2)
            U, V = u[0] - 0.5, u[1]
            us = 0.5 - abs(U)
            k = math.floor((2 * a / us + b) * U + lam + 0.43)
            if us >= 0.07 and V <= vr:
                return k
            if k < 0 or (us < 0.013 and V > us):
                continue
            if math.log(V) + math.log(invalpha) - math.log(
                a / (us * us) + b
            ) <= -lam + k * loglam - math.lgamma(k + 1.0):
                return k
    if lam == 0:
        return 0
    enlam, x, prod = math.exp(-lam), 0, 1.0
    while True:
        prod *= unit_float64_list(eng, 1)[0]
        if prod > enlam:
            x += 1
        else:
            return x


# -- multinomial ------------------------------------------------------------------------------------
def multinomial(probs: np.ndarray, num_samples: int, replacement: bool = False, generator=None) -> np.ndarray:
    """torch.multinomial on 1-d or 2-d (rows of) probabilities, as int64 indices."""
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if probs.dtype.kind != "f":
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {_short(probs.dtype)}"
        )
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n_cat = probs.shape[-1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n_cat > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = probs.reshape(-1, n_cat)
    if not (np.isfinite(rows).all() and (rows >= 0).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1) == 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement or num_samples == 1:  # torch's fast path covers a single draw too
        return _multinomial_gumbel(rows, num_samples, generator).reshape(*probs.shape[:-1], num_samples)
    return _multinomial_cdf(rows, num_samples, generator).reshape(*probs.shape[:-1], num_samples)


_LONG_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
              "float16": "Half", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}  # fmt: skip
_CPP_NAME = {**_TORCH_NAME, "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _not_implemented(kernel: str, dt) -> NotImplementedError:
    return NotImplementedError(f"\"{kernel}\" not implemented for '{_short(dt)}'")


def _require_float(dt, distribution: str, cpp_name: bool = False) -> None:
    """torch's check for the continuous distributions: 'dtype must be a floating point'."""
    dt = np.dtype(dt)
    if dt.kind != "f":
        name = _CPP_NAME.get(dt.name, str(dt)) if cpp_name else _short(dt)
        raise RuntimeError(
            f"{distribution} distribution is a continuous probability distribution. dtype must be a floating "
            f"point but you specified {name}"
        )


def _short(dt) -> str:
    return _LONG_NAME.get(np.dtype(dt).name, str(dt))


def _multinomial_gumbel(rows: np.ndarray, k: int, generator) -> np.ndarray:
    """Without replacement: q ~ Exp(1) in the input's type, then the top k of p / q per row."""
    q = exponential(rows.shape, rows.dtype, 1.0, generator)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = rows / q
    if k == 1:
        return np.argmax(keys, axis=1).reshape(-1, 1).astype(np.int64)
    # topk: largest first; equal keys in index order
    order = np.argsort(-keys, axis=1, kind="stable")
    return order[:, :k].astype(np.int64)


def _multinomial_cdf(rows: np.ndarray, k: int, generator) -> np.ndarray:
    """With replacement: per row, the running sum in the input's type divided by the total, the
    last bucket set to 1, and a binary search (first bucket >= u) for each double uniform."""
    eng = engine(generator)
    out = np.empty((rows.shape[0], k), dtype=np.int64)
    acc = np.float32 if rows.dtype == np.float16 else rows.dtype  # half accumulates in float
    for i, row in enumerate(rows):
        cum = np.cumsum(row, dtype=acc)
        total = cum[-1]
        if not total > 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cum = cum / total
        cum[-1] = 1
        u = unit_float64(eng.random64(k))
        out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out
