"""Whole blocks from the tutorials these layers serve, vs the same blocks in real torch with
copied weights: forward values and every parameter's gradient (batch-last conv outputs flow
through padding, instance norm, upsampling and pixel shuffle)."""

from __future__ import annotations

import numpy as np
import torch
from _vision_check import arr
from conftest import assert_same

import ember


def _copy(em, tm) -> None:
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


def _compare(em, tm, x, atol=1e-4):
    _copy(em, tm)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_same(eo, to, atol=atol, rtol=1e-4)
    g = np.cos(np.arange(to.numel())).reshape(to.shape).astype(np.float32)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    assert_same(ex.grad, tx.grad, atol=atol * 10, rtol=1e-3)
    names = [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in em.named_parameters()] == names
    for ep, tp in zip(em.parameters(), tm.parameters()):
        assert_same(ep.grad, tp.grad, atol=atol * 10, rtol=1e-3)


def _blocks(lib):
    n = lib.nn
    torch.manual_seed(0)
    cyclegan = n.Sequential(n.ReflectionPad2d(1), n.Conv2d(3, 4, 3), n.InstanceNorm2d(4, affine=True), n.ReLU(True),
                            n.ReflectionPad2d(1), n.Conv2d(4, 3, 3), n.InstanceNorm2d(3))  # fmt: skip
    espcn = n.Sequential(n.Conv2d(1, 8, 5, 1, 2), n.ReLU(), n.Conv2d(8, 4, 3, 1, 1), n.Tanh(),
                         n.Conv2d(4, 9, 3, 1, 1), n.PixelShuffle(3))  # fmt: skip
    unet_up = n.Sequential(n.Conv2d(2, 4, 3, padding=1), n.ReLU(), n.Upsample(scale_factor=2, mode="bilinear"),
                           n.ConvTranspose2d(4, 2, 2, stride=2), n.ReplicationPad2d((1, 0, 0, 1)))  # fmt: skip
    dcgan_d = n.Sequential(n.Conv2d(1, 4, 4, 2, 1, bias=False), n.LeakyReLU(0.2, inplace=True),
                           n.Conv2d(4, 8, 4, 2, 1, bias=False), n.BatchNorm2d(8), n.LeakyReLU(0.2, inplace=True),
                           n.Dropout2d(0.0), n.Conv2d(8, 1, 4, 1, 0, bias=False), n.Sigmoid())  # fmt: skip
    return [cyclegan, espcn, unet_up, dcgan_d]


def test_tutorial_blocks_match_torch():
    shapes = [(2, 3, 8, 8), (3, 1, 6, 6), (2, 2, 5, 6), (4, 1, 16, 16)]
    for em, tm, shape in zip(_blocks(ember), _blocks(torch), shapes):
        _compare(em, tm, arr(*shape))


def test_alexnet_style_lrn_and_lp_pool_block():
    def block(n):
        return n.Sequential(n.Conv2d(3, 6, 3, stride=2), n.ReLU(), n.LocalResponseNorm(5, k=2.0),
                            n.LPPool2d(2, 2), n.Flatten(), n.Linear(6 * 3 * 3, 2))  # fmt: skip

    _compare(block(ember.nn), block(torch.nn), arr(2, 3, 15, 15))


def test_dcgan_generator_into_discriminator_step():
    # G's batch-last ConvTranspose2d outputs feed D's Conv2d; one loss, gradients for both nets
    def nets(n):
        g = n.Sequential(n.ConvTranspose2d(8, 8, 4, 1, 0, bias=False), n.BatchNorm2d(8), n.ReLU(True),
                         n.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), n.BatchNorm2d(4), n.ReLU(True),
                         n.ConvTranspose2d(4, 1, 4, 2, 1, bias=False), n.Tanh())  # fmt: skip
        d = n.Sequential(n.Conv2d(1, 4, 4, 2, 1, bias=False), n.LeakyReLU(0.2, inplace=True),
                         n.Conv2d(4, 8, 4, 2, 1, bias=False), n.BatchNorm2d(8), n.LeakyReLU(0.2, inplace=True),
                         n.Conv2d(8, 1, 4, 1, 0, bias=False), n.Sigmoid())  # fmt: skip
        return g, d

    (eg, ed), (tg, td) = nets(ember.nn), nets(torch.nn)
    _copy(eg, tg)
    _copy(ed, td)
    z = arr(6, 8, 1, 1)
    el = ember.nn.functional.binary_cross_entropy(ed(eg(ember.tensor(z))).view(-1), ember.ones(6))
    tl = torch.nn.functional.binary_cross_entropy(td(tg(torch.tensor(z))).view(-1), torch.ones(6))
    assert_same(el, tl, atol=1e-5)
    el.backward()
    tl.backward()
    for ep, tp in zip(
        list(eg.parameters()) + list(ed.parameters()), list(tg.parameters()) + list(td.parameters())
    ):
        assert_same(ep.grad, tp.grad, atol=1e-4, rtol=1e-3)
