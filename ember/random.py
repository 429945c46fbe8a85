"""Random state: one global NumPy Generator (torch.manual_seed seeds it) and ember.Generator."""

from __future__ import annotations

import numpy as np

from ember import _backend
from ember._tensor import Tensor


class Generator:
    """torch.Generator: an independent random stream (NumPy PCG64 underneath)."""

    def __init__(self, device="cpu") -> None:
        self._seed = 67280421310721
        self._rng = None  # created on first use: numpy.random is slow to import
        self.device = device

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed)
        return self._rng

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = None
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        import pickle

        return Tensor._wrap(np.frombuffer(pickle.dumps(self.rng.bit_generator.state), dtype=np.uint8).copy())

    def set_state(self, state) -> Generator:
        import pickle

        self.rng.bit_generator.state = pickle.loads(bytes(state.tolist()))
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed ember's global generator (and CuPy's, when a GPU is in use)."""
    default_generator.manual_seed(seed)
    if _backend._cupy is not None:
        _backend._cupy.random.seed(int(seed) % (2**32))
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng(generator: Generator | None = None) -> np.random.Generator:
    return (generator or default_generator).rng
