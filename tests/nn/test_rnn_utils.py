"""nn.utils.rnn vs torch: pad_sequence, pack_sequence, pack_padded_sequence / pad_packed_sequence
(values, gradients, batch_sizes, sorted/unsorted indices, total_length), unpad / unpack, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_same
from torch.nn.utils import rnn as tr

import ember
from ember.nn.utils import rnn as er

rng = np.random.default_rng(0)


def seqs(lengths, feat=(3,)):
    arrays = [rng.standard_normal((n, *feat)) for n in lengths]
    e = [ember.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    return e, t


def _err(fe, ft):
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)) as ee:
        fe()
    assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    e, t = seqs([2, 4, 1], feat=(2, 3))
    eo = er.pad_sequence(e, batch_first=batch_first, padding_value=-2.0, padding_side=side)
    to = tr.pad_sequence(t, batch_first=batch_first, padding_value=-2.0, padding_side=side)
    assert_same(eo, to)
    (eo * eo).sum().backward()
    (to * to).sum().backward()
    for a, b in zip(e, t):
        assert_same(a.grad, b.grad)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip(enforce_sorted, batch_first):
    lengths = [4, 3, 3, 1] if enforce_sorted else [3, 1, 4, 3]
    e, t = seqs(lengths)
    ep = er.pack_sequence(e, enforce_sorted=enforce_sorted)
    tp = tr.pack_sequence(t, enforce_sorted=enforce_sorted)
    assert isinstance(ep, tuple) and ep._fields == tp._fields
    assert_same(ep.data, tp.data)
    assert ep.batch_sizes.tolist() == tp.batch_sizes.tolist()
    for a, b in ((ep.sorted_indices, tp.sorted_indices), (ep.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None) and (a is None or a.tolist() == b.tolist())
    epad, elen = er.pad_packed_sequence(ep, batch_first=batch_first, padding_value=9.0, total_length=6)
    tpad, tlen = tr.pad_packed_sequence(tp, batch_first=batch_first, padding_value=9.0, total_length=6)
    assert_same(epad, tpad)
    assert elen.tolist() == tlen.tolist() and elen.dtype is ember.int64
    w = rng.standard_normal(tuple(tpad.shape))
    (epad * ember.tensor(w)).sum().backward()
    (tpad * torch.tensor(w)).sum().backward()
    for a, b in zip(e, t):
        assert_same(a.grad, b.grad)
    for a, b in zip(er.unpack_sequence(ep), tr.unpack_sequence(tp)):
        assert_same(a, b)
    ebf = epad if batch_first else epad.transpose(0, 1)
    tbf = tpad if batch_first else tpad.transpose(0, 1)
    for a, b in zip(
        er.unpad_sequence(ebf, elen, batch_first=True), tr.unpad_sequence(tbf, tlen, batch_first=True)
    ):
        assert_same(a, b)


def test_pack_padded_sequence_tensor_lengths_and_batch_first():
    x = rng.standard_normal((3, 5, 2))
    lengths = [5, 2, 2]
    ep = er.pack_padded_sequence(ember.tensor(x), ember.tensor(lengths), batch_first=True)
    tp = tr.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True)
    assert_same(ep.data, tp.data)
    assert ep.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert repr(ep.batch_sizes) == repr(tp.batch_sizes)


def test_errors():
    x = ember.randn(4, 3, 2)
    tx = torch.tensor(x.numpy())
    _err(lambda: er.pack_padded_sequence(x, [2, 3, 1]), lambda: tr.pack_padded_sequence(tx, [2, 3, 1]))
    _err(lambda: er.pack_padded_sequence(x, [3, 0, 0]), lambda: tr.pack_padded_sequence(tx, [3, 0, 0]))
    _err(lambda: er.pack_padded_sequence(x, [3, 2]), lambda: tr.pack_padded_sequence(tx, [3, 2]))
    ep = er.pack_padded_sequence(x, [3, 2, 1])
    tp = tr.pack_padded_sequence(tx, [3, 2, 1])
    _err(
        lambda: er.pad_packed_sequence(ep, total_length=2), lambda: tr.pad_packed_sequence(tp, total_length=2)
    )
    _err(
        lambda: er.pad_sequence([ember.randn(2, 3), ember.randn(3, 4)]),
        lambda: tr.pad_sequence([torch.randn(2, 3), torch.randn(3, 4)]),
    )
    _err(lambda: er.pad_sequence(3), lambda: tr.pad_sequence(3))


def test_invert_permutation_and_to():
    p = ember.tensor([2, 0, 3, 1])
    assert er.invert_permutation(p).tolist() == tr.invert_permutation(torch.tensor([2, 0, 3, 1])).tolist()
    assert er.invert_permutation(None) is None
    e, _ = seqs([3, 1, 2])
    ep = er.pack_sequence(e, enforce_sorted=False)
    ep32 = ep.float()  # data is float64
    assert ep32.data.dtype is ember.float32 and ep32.sorted_indices.tolist() == ep.sorted_indices.tolist()
    assert ep32.batch_sizes is ep.batch_sizes
    assert ep.double() is ep and ep.to("cpu") is ep  # nothing to convert: the same object, as torch
