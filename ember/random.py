"""Random state, as torch's CPU generator: mt19937 seeded by manual_seed, torch's 5056-byte state
layout (a state saved by torch restores here and the reverse), fork_rng. The sampling algorithms
that draw from it are in ember._sampling."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from ember import _backend
from ember._mt19937 import Engine
from ember._tensor import Tensor

DEFAULT_SEED = 67280421310721  # c10::detail::default_rng_seed_val: a new torch.Generator()'s seed


def _nondeterministic_seed() -> int:
    """c10::detail::getNonDeterministicRandom: 64 random bits limited to 53 (exact as a double)."""
    return int.from_bytes(os.urandom(8), "little") & ((1 << 53) - 1)


def _seed_value(seed, strict: bool) -> int:
    """torch's unpacking of a seed: a uint64, or a negative int64 reinterpreted as uint64."""
    if strict and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError("Overflow when unpacking long long")
    return seed % (1 << 64)


class Generator:
    """torch.Generator on the CPU: an independent mt19937 stream."""

    def __init__(self, device="cpu") -> None:
        dev = str(device)
        if dev != "cpu":
            raise RuntimeError(f"ember.Generator supports only the CPU stream, got device {dev!r}")
        self._seed_pending: int | None = DEFAULT_SEED
        self._engine_obj: Engine | None = None

    @property
    def _engine(self) -> Engine:
        """The stream, built on first use (numpy.random is slow to import: `import ember` stays fast)."""
        if self._engine_obj is None:
            self._engine_obj = Engine(self._seed_pending)
            self._seed_pending = None
        return self._engine_obj

    @_engine.setter
    def _engine(self, engine: Engine) -> None:
        self._engine_obj, self._seed_pending = engine, None

    def _reseed(self, seed: int) -> None:
        if self._engine_obj is None:
            self._seed_pending = seed
        else:
            self._engine_obj.reseed(seed)

    @property
    def device(self) -> _backend.device:
        return _backend.device("cpu")

    def manual_seed(self, seed: int) -> Generator:
        self._reseed(_seed_value(seed, strict=True))
        return self

    def seed(self) -> int:
        s = _nondeterministic_seed()
        self._reseed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed_pending if self._engine_obj is None else self._engine_obj.seed

    def get_state(self) -> Tensor:
        """The state as torch lays it out: a uint8 tensor of 5056 bytes."""
        return Tensor._wrap(self._engine.to_bytes())

    def set_state(self, new_state) -> Generator:
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype.name != "uint8":
            raise TypeError("RNG state must be a torch.ByteTensor")
        self._engine.from_bytes(np.asarray(new_state._data).reshape(-1))
        return self

    def get_offset(self) -> int:
        raise RuntimeError("CPU Generator does not use offset")

    def set_offset(self, offset: int) -> Generator:
        raise RuntimeError("CPU Generator does not use offset")

    def clone_state(self) -> Generator:
        other = Generator.__new__(Generator)
        other._engine = self._engine.copy()
        return other

    def __getstate__(self) -> dict:
        return {"state": bytes(self._engine.to_bytes()), "fresh": self._engine.fresh}

    def __setstate__(self, d: dict) -> None:
        engine = Engine(DEFAULT_SEED)
        engine.from_bytes(np.frombuffer(d["state"], dtype=np.uint8))
        engine.fresh = d.get("fresh", False)
        self._engine = engine

    def __repr__(self) -> str:
        return f"<ember.Generator object at {id(self):#x}>"


default_generator = Generator()
default_generator.seed()  # torch seeds its default CPU generator non-deterministically


def manual_seed(seed) -> Generator:
    """Seed ember's global generator (and CuPy's, when a GPU is in use); returns it, as torch."""
    seed = int(seed)
    default_generator._reseed(_seed_value(seed, strict=False))
    if _backend._cupy is not None:
        _backend._cupy.random.seed(seed % (2**32))
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """A NumPy Generator seeded by one 64-bit draw from ember's (torch's) stream, for samplers
    that have no torch-identical algorithm in ember yet (distributions' gamma, binomial,
    poisson, ...): reproducible under manual_seed, but not torch's numbers."""
    gen = generator if generator is not None else default_generator
    return np.random.default_rng(int(gen._engine.random64(1)[0]))


@contextlib.contextmanager
def fork_rng(
    devices=None,
    enabled: bool = True,
    _caller: str = "fork_rng",
    _devices_kw: str = "devices",
    device_type=None,
) -> Iterator[None]:
    """torch.random.fork_rng: the CPU generator's state is restored on exit (CuPy's stream is not
    forked: GPU streams are not torch's anyway)."""
    if not enabled:
        yield
        return
    cpu_state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(cpu_state)
