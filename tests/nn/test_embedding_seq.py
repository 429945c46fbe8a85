"""The pieces around sequence models vs torch: Embedding.from_pretrained / padding_idx /
max_norm, EmbeddingBag, one_hot, gumbel_softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_same

import ember
import ember.nn.functional as F
from ember import nn

rng = np.random.default_rng(0)


def _err(fe, ft, same_message: bool = True):
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)) as ee:
        fe()
    if same_message:
        assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_from_pretrained_padding_idx(freeze, padding_idx):
    w = rng.standard_normal((5, 3)).astype(np.float32)
    em = nn.Embedding.from_pretrained(ember.tensor(w), freeze=freeze, padding_idx=padding_idx)
    tm = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=padding_idx)
    assert em.weight.requires_grad == tm.weight.requires_grad
    assert repr(em) == repr(tm)
    idx = np.array([[0, 1, 4], [4, 4, 2]])
    eo, to = em(ember.tensor(idx)), tm(torch.tensor(idx))
    assert_same(eo, to.detach())
    if not freeze:
        (eo * eo).sum().backward()
        (to * to).sum().backward()
        assert_same(em.weight.grad, tm.weight.grad)


def test_embedding_max_norm_renorms_looked_up_rows():
    w = (rng.standard_normal((6, 4)) * 3).astype(np.float32)
    em = nn.Embedding.from_pretrained(ember.tensor(w), freeze=False, max_norm=1.5, norm_type=2.0)
    tm = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.5, norm_type=2.0)
    idx = np.array([0, 2, 2, 5])
    assert_same(em(ember.tensor(idx)), tm(torch.tensor(idx)).detach(), atol=1e-6)
    assert_same(em.weight.detach(), tm.weight.detach(), atol=1e-6)  # rows 0, 2, 5 renormed in place


BAG_CASES = [
    ("sum", False, None, False),
    ("mean", False, None, False),
    ("max", False, None, False),
    ("sum", True, None, False),
    ("mean", True, 2, False),
    ("max", True, None, True),
    ("sum", True, 0, True),
]


@pytest.mark.parametrize("mode,with_offsets,padding_idx,include_last", BAG_CASES)
def test_embedding_bag_matches_torch(mode, with_offsets, padding_idx, include_last):
    w = rng.standard_normal((7, 3))
    tm = torch.nn.EmbeddingBag.from_pretrained(
        torch.tensor(w), freeze=False, mode=mode, padding_idx=padding_idx, include_last_offset=include_last
    )
    em = nn.EmbeddingBag.from_pretrained(
        ember.tensor(w), freeze=False, mode=mode, padding_idx=padding_idx, include_last_offset=include_last
    )
    assert repr(em) == repr(tm)
    if with_offsets:
        idx = np.array([1, 2, 2, 0, 6, 5, 3, 2, 1])
        offsets = np.array([0, 2, 2, 6] + ([9] if include_last else []))  # bag 1 is empty
        ea, ta = (ember.tensor(idx), ember.tensor(offsets)), (torch.tensor(idx), torch.tensor(offsets))
    else:
        idx = np.array([[1, 2, 0], [6, 5, 2]])
        ea, ta = (ember.tensor(idx),), (torch.tensor(idx),)
    eo, to = em(*ea), tm(*ta)
    assert_same(eo, to, atol=1e-12)
    (eo * ember.arange(eo.numel(), dtype=eo.dtype).reshape(eo.shape)).sum().backward()
    (to * torch.arange(to.numel(), dtype=to.dtype).reshape(to.shape)).sum().backward()
    assert_same(em.weight.grad, tm.weight.grad, atol=1e-12)


def test_embedding_bag_per_sample_weights_and_errors():
    w = rng.standard_normal((5, 2))
    tm = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), freeze=False, mode="sum")
    em = nn.EmbeddingBag.from_pretrained(ember.tensor(w), freeze=False, mode="sum")
    idx, off, psw = np.array([0, 1, 4, 4]), np.array([0, 3]), rng.standard_normal(4)
    ep, tp = ember.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    eo = em(ember.tensor(idx), ember.tensor(off), per_sample_weights=ep)
    to = tm(torch.tensor(idx), torch.tensor(off), per_sample_weights=tp)
    assert_same(eo, to, atol=1e-12)
    eo.sum().backward()
    to.sum().backward()
    assert_same(ep.grad, tp.grad, atol=1e-12)
    assert_same(em.weight.grad, tm.weight.grad, atol=1e-12)
    _err(lambda: em(ember.tensor(idx)), lambda: tm(torch.tensor(idx)))
    _err(  # the message names the offsets' class: ember.Tensor vs torch.Tensor
        lambda: em(ember.tensor([[0, 1]]), ember.tensor([0])),
        lambda: tm(torch.tensor([[0, 1]]), torch.tensor([0])),
        same_message=False,
    )
    tm2 = torch.nn.EmbeddingBag(5, 2, mode="mean")
    em2 = nn.EmbeddingBag(5, 2, mode="mean")
    _err(
        lambda: em2(ember.tensor(idx), ember.tensor(off), per_sample_weights=ember.tensor(psw)),
        lambda: tm2(torch.tensor(idx), torch.tensor(off), per_sample_weights=torch.tensor(psw)),
    )


def test_one_hot():
    x = np.array([[0, 3], [2, 1]])
    assert_same(F.one_hot(ember.tensor(x)), TF.one_hot(torch.tensor(x)))
    assert_same(F.one_hot(ember.tensor(x), 6), TF.one_hot(torch.tensor(x), 6))
    _err(lambda: F.one_hot(ember.tensor(x), 3), lambda: TF.one_hot(torch.tensor(x), 3))
    _err(lambda: F.one_hot(ember.tensor([1.0])), lambda: TF.one_hot(torch.tensor([1.0])))


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax(hard):
    logits_np = np.array([[1.0, 0.0, -1.0, 2.0]])
    logits = ember.tensor(np.repeat(logits_np, 4000, 0), requires_grad=True)
    ember.manual_seed(0)
    y = F.gumbel_softmax(logits, tau=0.5, hard=hard)
    assert y.shape == logits.shape and y.dtype is ember.float32 or y.dtype is ember.float64
    assert np.allclose(y.detach().numpy().sum(1), 1.0)
    if hard:
        v = y.detach().numpy()
        assert set(np.unique(v)) <= {0.0, 1.0}
    # the sampled argmax follows softmax(logits) (Gumbel-max trick)
    freq = np.bincount(y.detach().numpy().argmax(1), minlength=4) / 4000
    p = np.exp(logits_np[0]) / np.exp(logits_np[0]).sum()
    assert np.abs(freq - p).max() < 0.03
    # hard=True is straight-through: its gradient is the soft sample's gradient
    w = ember.tensor(rng.standard_normal((4000, 4)))
    (y * w).sum().backward()
    ember.manual_seed(0)
    logits2 = ember.tensor(logits.detach().numpy(), requires_grad=True)
    ys = F.gumbel_softmax(logits2, tau=0.5, hard=False)
    (ys * w).sum().backward()
    assert np.allclose(logits.grad.numpy(), logits2.grad.numpy(), atol=1e-10)
    t = TF.gumbel_softmax(torch.tensor(logits_np), tau=0.5, hard=hard)
    assert tuple(t.shape) == (1, 4)


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_with_loss(head_bias):
    torch.manual_seed(0)
    kw = dict(in_features=8, n_classes=20, cutoffs=[4, 10], div_value=2.0, head_bias=head_bias)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(**kw).double()
    em = nn.AdaptiveLogSoftmaxWithLoss(**kw).double()
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((12, 8))
    y = np.array([0, 3, 4, 9, 10, 19, 1, 5, 15, 2, 11, 7])
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex, ember.tensor(y)), tm(tx, torch.tensor(y))
    assert_same(eo.output, to.output, atol=1e-12)
    assert_same(eo.loss, to.loss, atol=1e-12)
    eo.loss.backward()
    to.loss.backward()
    assert_same(ex.grad, tx.grad, atol=1e-12)
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_same(p.grad, tp[name].grad, atol=1e-12)
    with ember.no_grad(), torch.no_grad():
        assert_same(em.log_prob(ex), tm.log_prob(tx), atol=1e-12)
        assert em.predict(ex).tolist() == tm.predict(tx).tolist()
        e0 = em(ex[0], ember.tensor(y[0]))
        t0 = tm(tx[0], torch.tensor(y[0]))
        assert_same(e0.output, t0.output, atol=1e-12)
    _err(lambda: em(ex, ember.tensor(y + 20)), lambda: tm(tx, torch.tensor(y + 20)))
    _err(
        lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 20, [10, 4]),
        lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [10, 4]),
    )
    assert repr(em) == repr(tm)
