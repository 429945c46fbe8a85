"""torch's CPU random engine: at::mt19937 seeded as manual_seed seeds it, torch's 5056-byte state
layout (CPUGeneratorImplState), and bulk 32/64-bit draws through NumPy's MT19937 (same core)."""

from __future__ import annotations

import struct

import numpy as np

from ember._jit import kernels

N = 624  # MERSENNE_STATE_N
STATE_SIZE = 5056  # sizeof(CPUGeneratorImplState) on 64-bit platforms
_HEADER = struct.Struct("<QiiQ")  # the_initial_seed, left, seeded, next
_KEY = slice(24, 24 + 8 * N)  # uint64 state[624] (32-bit words, zero-extended)
_NORMAL_Y, _NORMAL_VALID, _FLOAT_NORMAL, _FLOAT_VALID = 5024, 5040, 5048, 5052


def init_genrand(seed: int) -> np.ndarray:
    """at::mt19937's seeding (Matsumoto-Nishimura init_genrand) of the low 32 bits of `seed`."""
    key = [seed & 0xFFFFFFFF]
    for j in range(1, N):
        prev = key[-1]
        key.append((1812433253 * (prev ^ (prev >> 30)) + j) & 0xFFFFFFFF)
    return np.array(key, dtype=np.uint32)


JIT_MIN_WORDS = 4096  # below this, reading and writing the state back costs more than it saves


def _load_mt(numba):
    from ember import _mt19937_jit

    return _mt19937_jit.fill32


def mt_kernel():
    """_mt19937_jit.fill32, or None without numba."""
    return kernels("mt19937", _load_mt)


class Engine:
    """One CPU generator's whole state: the mt19937 words and position (held by a NumPy MT19937,
    whose `pos` is torch's `next_`), the seed, and the cached second Box-Muller samples."""

    __slots__ = ("_bg", "_gen", "seed", "fresh", "next_double_normal", "next_float_normal")

    def __init__(self, seed: int) -> None:
        self._bg = np.random.MT19937(0)
        self._gen = np.random.Generator(self._bg)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._set(init_genrand(seed), N)
        self.fresh = True  # torch reports left=1, next=0 until the first draw
        self.next_double_normal: float | None = None
        self.next_float_normal: float | None = None

    def _set(self, key: np.ndarray, pos: int) -> None:
        self._bg.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}

    # -- draws (CPUGeneratorImpl::random / random64) ---------------------------------------------
    def random32(self, n: int) -> np.ndarray:
        """n consecutive 32-bit outputs as uint32 (general path: NumPy's MT19937)."""
        if n:
            self.fresh = False
        if n >= JIT_MIN_WORDS and (fill := mt_kernel()) is not None:
            return self._random32_jit(fill, n)
        return self._gen.integers(0, 1 << 32, size=n, dtype=np.uint32)

    def _random32_jit(self, fill, n: int) -> np.ndarray:
        """Fast path of random32: the same words from the compiled twister (_mt19937_jit.py)
        on a copy of the state, which is then written back."""
        st = self._bg.state["state"]
        key = np.array(st["key"], dtype=np.uint32)
        out = np.empty(n, dtype=np.uint32)
        pos = fill(key, int(st["pos"]), out)
        self._set(key, pos)
        return out

    def random64(self, n: int) -> np.ndarray:
        """n outputs of random64(): (first 32-bit draw << 32) | second."""
        r = self.random32(2 * n).astype(np.uint64)
        return (r[0::2] << np.uint64(32)) | r[1::2]

    def one32(self) -> int:
        self.fresh = False
        return int(self._bg.random_raw())

    def one64(self) -> int:
        self.fresh = False
        hi, lo = self._bg.random_raw(2).tolist()
        return (hi << 32) | lo

    # -- torch's state layout ---------------------------------------------------------------------
    def to_bytes(self) -> np.ndarray:
        st = self._bg.state["state"]
        pos = int(st["pos"])
        left, nxt = (1, 0) if self.fresh else (N + 1 - pos, pos)
        buf = np.zeros(STATE_SIZE, dtype=np.uint8)
        _HEADER.pack_into(buf, 0, self.seed, left, 1, nxt)
        buf[_KEY] = np.asarray(st["key"], dtype="<u8").view(np.uint8)
        if self.next_double_normal is not None:
            struct.pack_into("<d", buf, _NORMAL_Y, self.next_double_normal)
            struct.pack_into("<i", buf, _NORMAL_VALID, 1)
        if self.next_float_normal is not None:
            struct.pack_into("<f", buf, _FLOAT_NORMAL, self.next_float_normal)
            buf[_FLOAT_VALID] = 1
        return buf

    def from_bytes(self, buf: np.ndarray) -> None:
        if buf.size != STATE_SIZE:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the input RNG state "
                f"size to be {buf.size}"
            )
        buf = np.ascontiguousarray(buf, dtype=np.uint8)
        seed, left, seeded, nxt = _HEADER.unpack_from(buf, 0)
        if not seeded or not 0 < left <= N or not 0 <= nxt <= N:
            raise RuntimeError("Invalid mt19937 state")
        key = buf[_KEY].view("<u8").astype(np.uint32)  # torch keeps the low 32 bits (std::copy)
        # torch twists when `left` reaches 0: with left == 1 the next draw twists whatever `next` is
        self._set(key, N if left == 1 else nxt)
        self.seed = seed
        self.fresh = left == 1 and nxt == 0
        valid = struct.unpack_from("<i", buf, _NORMAL_VALID)[0]
        self.next_double_normal = struct.unpack_from("<d", buf, _NORMAL_Y)[0] if valid else None
        self.next_float_normal = (
            struct.unpack_from("<f", buf, _FLOAT_NORMAL)[0] if buf[_FLOAT_VALID] else None
        )

    def copy(self) -> Engine:
        other = Engine.__new__(Engine)
        other._bg = np.random.MT19937(0)
        other._gen = np.random.Generator(other._bg)
        other.from_bytes(self.to_bytes())
        other.fresh = self.fresh
        return other
