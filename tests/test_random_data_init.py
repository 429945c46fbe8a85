"""Seeded initialisation and data order as torch: nn.init, layers' default initialisation,
DataLoader(shuffle=True) with and without generator=, samplers, random_split."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, ember.Tensor):
        return np.asarray(x.detach()._data)
    return np.asarray(x)


def same(fn, seed: int = 0) -> None:
    """fn(lib) after lib.manual_seed(seed) gives bitwise-equal arrays, and equal generator states."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        t = [_np(v) for v in fn(torch)]
        ember.manual_seed(seed)
        e = [_np(v) for v in fn(ember)]
    assert len(t) == len(e)
    for a, b in zip(t, e):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b), np.flatnonzero(a != b)[:10]
    assert bytes(torch.get_rng_state().numpy()) == bytes(_np(ember.get_rng_state()))


def test_linear_default_init_matches_torch():
    same(lambda L: [L.nn.Linear(3, 4).weight, L.nn.Linear(3, 4).bias])


def test_layer_default_inits():
    def layers(L):
        nn = L.nn
        mods = [
            nn.Linear(3, 4),
            nn.Conv2d(1, 6, 5),
            nn.Conv2d(6, 16, 5, bias=False),
            nn.Embedding(10, 3),
            nn.Linear(256, 120),
            nn.Conv1d(2, 3, 3),
            nn.BatchNorm2d(3),
            nn.Linear(5, 2, bias=False),
        ]
        return [p for m in mods for p in m.parameters()]

    same(layers)


@pytest.mark.parametrize(
    "init",
    [
        lambda I, w: I.uniform_(w, -2, 3),
        lambda I, w: I.uniform_(w),
        lambda I, w: I.normal_(w, 1, 2),
        lambda I, w: I.xavier_uniform_(w),
        lambda I, w: I.xavier_normal_(w, 2.0),
        lambda I, w: I.kaiming_uniform_(w, a=0.1),
        lambda I, w: I.kaiming_normal_(w, mode="fan_out"),
        lambda I, w: I.trunc_normal_(w, 0, 1, -2, 2),  # redraw-until-inside branch
        lambda I, w: I.trunc_normal_(w, 0, 1, 1.5, 3.0),  # uniform proposals branch
        lambda I, w: I.sparse_(w, 0.4),
    ],
)
def test_nn_init(init):
    same(lambda L: [init(L.nn.init, L.empty(5, 7)), init(L.nn.init, L.empty(40, 3))])


def test_init_with_generator():
    def calls(L):
        g = L.Generator().manual_seed(4)
        w = L.empty(6, 5)
        return [
            L.nn.init.kaiming_uniform_(w, generator=g).clone(),
            L.nn.init.normal_(w, generator=g),
            L.rand(2),
        ]

    same(calls)


def test_orthogonal_draws_the_same_normals():
    # QR runs in different LAPACKs: the values agree to rounding; the draws exactly (same state)
    torch.manual_seed(0)
    t = torch.nn.init.orthogonal_(torch.empty(4, 6))
    ember.manual_seed(0)
    e = ember.nn.init.orthogonal_(ember.empty(4, 6))
    assert np.allclose(_np(t), _np(e), atol=1e-5)
    assert bytes(torch.get_rng_state().numpy()) == bytes(_np(ember.get_rng_state()))


def _loader_batches(L, gen_seed=None, epochs=3, **kw):
    ds = L.utils.data.TensorDataset(L.arange(23))
    g = None if gen_seed is None else L.Generator().manual_seed(gen_seed)
    dl = L.utils.data.DataLoader(ds, batch_size=5, shuffle=True, generator=g, **kw)
    return [b[0] for _ in range(epochs) for b in dl]


def test_dataloader_shuffle_global_generator():
    same(lambda L: _loader_batches(L) + [L.rand(2)])


def test_dataloader_shuffle_own_generator():
    same(lambda L: _loader_batches(L, 7) + [L.rand(2)])


def test_dataloader_drop_last_and_interleaved_draws():
    def calls(L):
        ds = L.utils.data.TensorDataset(L.arange(17))
        dl = L.utils.data.DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)
        out = []
        for b in dl:
            out += [b[0], L.nn.functional.dropout(L.ones(6), 0.5)]
        return out

    same(calls)


def test_samplers():
    def calls(L):
        D = L.utils.data
        g = L.Generator().manual_seed(5)
        return [
            L.tensor(list(D.RandomSampler(range(10), replacement=True, num_samples=45))),
            L.tensor(list(D.RandomSampler(range(10), num_samples=25))),
            L.tensor(list(D.RandomSampler(range(10), generator=g))),
            L.tensor(list(D.SubsetRandomSampler([3, 5, 7, 9, 11]))),
            L.tensor(list(D.SubsetRandomSampler([3, 5, 7], generator=g))),
            L.tensor(list(D.WeightedRandomSampler([0.1, 0.5, 0.2, 0.2], 12))),
            L.tensor(list(D.WeightedRandomSampler([0.1, 0.5, 0.2, 0.2], 3, replacement=False))),
            L.tensor(list(D.BatchSampler(D.RandomSampler(range(11)), 3, drop_last=False))[0]),
        ]

    same(calls)


def test_random_split():
    same(
        lambda L: [
            L.tensor(s.indices)
            for s in L.utils.data.random_split(range(10), [3, 7])
            + L.utils.data.random_split(range(11), [0.5, 0.5], generator=L.Generator().manual_seed(3))
        ]
    )


class _DrawingDataset:
    """Each item draws from the library's generator, NumPy's global state and Python's random."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 6

    def __getitem__(self, i):
        import random

        return self.lib.from_numpy(np.array([float(self.lib.rand(1)), np.random.rand(), random.random()]))


def test_worker_processes_seeded_as_torch():
    def calls(L):
        dl = L.utils.data.DataLoader(_DrawingDataset(L), batch_size=2, shuffle=True, num_workers=2)
        return list(dl)

    same(calls)
