"""A small DCGAN (pytorch/examples' dcgan at 32x32, nz 32, ngf = ndf = 16, batch 32) trains like torch on
real Fashion-MNIST: same initial weights (torch's state_dict copied into ember), same real batches, same
noise (drawn by torch), 40 steps of D then G with BCELoss and Adam(2e-4, betas=(0.5, 0.999)).

Noise measured first (3 seeds, 40 steps, relative difference of the loss at each step, max over steps):
- torch float32 vs torch float64:           D 8.1e-3 .. 1.35e-2, G 7.2e-3 .. 1.06e-2
- torch float32, 2 threads vs 1 thread:     D 8.1e-3 .. 1.17e-2, G 6.4e-3 .. 1.13e-2
- ember float32 vs torch float32 (1 thread): D 6.0e-3 .. 1.31e-2, G 5.8e-3 .. 1.13e-2
- ember float64 vs torch float64:           D, G <= 1.8e-15
Two correct float32 runs agree to ~1e-7 for the first 8 steps, then drift to ~1e-2 (Adam's first steps
divide tiny gradients by their own magnitude, so rounding in near-zero gradient entries becomes a
full-size step). Tolerances: float64 losses rtol 1e-10 and every weight and running statistic at the
end atol 1e-10 (measured ~1e-15); float32 losses rtol 1e-5 for the first 5 steps and 4e-2 (3x the
largest torch-vs-torch drift) for all 40.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.vision.datasets import FashionMNIST, bundled_root

NZ, NGF, NDF, BATCH, STEPS = 32, 16, 16, 32, 40


def dcgan(lib):
    """pytorch/examples' dcgan Generator and Discriminator for 1x32x32 images."""
    nn = lib.nn
    g = nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh(),
    )  # fmt: skip
    d = nn.Sequential(
        nn.Conv2d(1, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )  # fmt: skip
    return g, d


def weights_init(m):
    """The example's init: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02) and bias 0."""
    name = type(m).__name__
    if "Conv" in name:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


@pytest.fixture(scope="module")
def setup():
    """Real images scaled to [-1, 1] and padded to 32x32 with the background value, torch's initial
    state_dicts and torch's noise, all as NumPy."""
    ds = FashionMNIST(bundled_root(), train=True)
    real = ds.data.numpy()[: STEPS * BATCH, None].astype(np.float64) / 127.5 - 1
    real = np.pad(real, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-1.0)
    torch.manual_seed(0)
    g, d = dcgan(torch)
    g.apply(weights_init)
    d.apply(weights_init)
    noise = torch.randn(STEPS, BATCH, NZ, 1, 1, dtype=torch.float64).numpy()
    states = [{k: v.detach().numpy().copy() for k, v in m.state_dict().items()} for m in (g, d)]
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: torch's thread pool only adds contention here
    yield real, noise, states
    torch.set_num_threads(n)


def train(lib, dtype, real, noise, states):
    """STEPS DCGAN steps; returns the D and G loss curves and the final state_dicts (NumPy)."""
    g, d = dcgan(lib)
    for m, sd in zip((g, d), states):
        m.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in sd.items()})
        m.to(getattr(lib, dtype))
    opt_g = lib.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = lib.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = lib.nn.BCELoss()
    ones = lib.ones(BATCH, dtype=getattr(lib, dtype))
    zeros = lib.zeros(BATCH, dtype=getattr(lib, dtype))
    loss_d, loss_g = [], []
    for s in range(STEPS):
        x = lib.from_numpy(real[s * BATCH : (s + 1) * BATCH].astype(dtype))
        z = lib.from_numpy(noise[s].astype(dtype))
        fake = g(z)
        opt_d.zero_grad()
        err_d = bce(d(x).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
        err_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        err_g = bce(d(fake).view(-1), ones)
        err_g.backward()
        opt_g.step()
        loss_d.append(err_d.item())
        loss_g.append(err_g.item())
    final = [{k: v.detach().numpy().copy() for k, v in m.state_dict().items()} for m in (g, d)]
    return np.array(loss_d), np.array(loss_g), final


def test_dcgan_float64_matches_torch(setup):
    ed, eg, e_final = train(ember, "float64", *setup)
    td, tg, t_final = train(torch, "float64", *setup)
    np.testing.assert_allclose(ed, td, rtol=1e-10)
    np.testing.assert_allclose(eg, tg, rtol=1e-10)
    assert td[-1] < td[0] - 0.5 and tg[-1] > tg[0] + 0.5  # it trained: D wins the first steps
    for mine, ref in zip(e_final, t_final):
        assert mine.keys() == ref.keys()
        for k in ref:  # weights, BatchNorm running mean / var and num_batches_tracked
            np.testing.assert_allclose(mine[k], ref[k], rtol=0, atol=1e-10, err_msg=k)


def test_dcgan_float32_matches_torch(setup):
    ed, eg, e_final = train(ember, "float32", *setup)
    td, tg, _ = train(torch, "float32", *setup)
    assert all(v.dtype == np.float32 for sd in e_final for k, v in sd.items() if "num_batches" not in k)
    np.testing.assert_allclose(ed[:5], td[:5], rtol=1e-5)
    np.testing.assert_allclose(eg[:5], tg[:5], rtol=1e-5)
    np.testing.assert_allclose(ed, td, rtol=4e-2)
    np.testing.assert_allclose(eg, tg, rtol=4e-2)
