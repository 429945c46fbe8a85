"""DistributedSampler: each rank's share of the dataset, with torch's exact index order."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import ember.distributed as dist
from ember.utils.data.sampler import Sampler


def torch_randperm(n: int, seed: int) -> list[int]:
    """torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist(), bit for bit:
    torch's CPU generator is MT19937 seeded with the low 32 bits of the seed, and randperm (for
    n < 2**32 / 20) swaps element i with element i + (next 32-bit draw % (n - i))."""
    if n >= (2**32 - 1) // 20:
        raise ValueError(f"DistributedSampler: datasets of {n} samples are beyond torch's small-n randperm")
    mt = np.random.RandomState(seed & 0xFFFFFFFF)  # legacy seeding = MT19937 init_genrand, as torch's
    draws = (mt._bit_generator.random_raw(max(n - 1, 0)) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
    idx = list(range(n))
    for i, z in enumerate(draws):
        j = i + z
        idx[i], idx[j] = idx[j], idx[i]
    return idx


class DistributedSampler(Sampler):
    """Rank `rank`'s indices: every `num_replicas`-th of the (shuffled, padded or trimmed) index list."""

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size()
        if rank is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            indices = torch_randperm(len(self.dataset), self.seed + self.epoch)
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        indices = indices[self.rank : self.total_size : self.num_replicas]
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Shuffle differently in each epoch (the order is a function of seed + epoch)."""
        self.epoch = epoch
