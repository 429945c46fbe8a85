"""scaled_dot_product_attention, MultiheadAttention, Transformer layers and RMSNorm vs torch with
copied weights: outputs and gradients over the options, masks, gradcheck, errors, state_dicts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_same

import ember
import ember.nn.functional as F
from ember import nn

rng = np.random.default_rng(0)


def leaf(a):
    return ember.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def copy_weights(tm, em) -> None:
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


def _weighted(out, lib):
    w = lib.arange(out.numel(), dtype=out.dtype).reshape(out.shape) / out.numel()
    return (lib.sin(out) * w).sum()


MASKS = ["none", "bool", "float", "causal", "bool_bcast"]


@pytest.mark.parametrize("mask,dtype,scale", itertools.product(MASKS, ["float32", "float64"], [None, 0.3]))
def test_sdpa_matches_torch(mask, dtype, scale):
    tol = 1e-5 if dtype == "float32" else 1e-11
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)))
    pairs = [leaf(a) for a in (q, k, v)]
    kw_e, kw_t = {"scale": scale}, {"scale": scale}
    if mask == "causal":
        q = q[:, :, :4]
        kw_e["is_causal"] = kw_t["is_causal"] = True
    elif mask in ("bool", "bool_bcast"):
        m = rng.random((4, 6) if mask == "bool" else (2, 1, 4, 6)) > 0.3
        m[..., 0] = True
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif mask == "float":
        em_, tm_ = leaf(rng.standard_normal((4, 6)).astype(dtype))
        kw_e["attn_mask"], kw_t["attn_mask"] = em_, tm_
    eo = F.scaled_dot_product_attention(*[p[0] for p in pairs], **kw_e)
    to = TF.scaled_dot_product_attention(*[p[1] for p in pairs], **kw_t)
    assert_same(eo, to, atol=tol, rtol=tol)
    _weighted(eo, ember).backward()
    _weighted(to, torch).backward()
    for e, t in pairs:
        assert_same(e.grad, t.grad, atol=tol * 10, rtol=tol * 10)
    if mask == "float":
        assert_same(kw_e["attn_mask"].grad, kw_t["attn_mask"].grad, atol=tol * 10)


def test_sdpa_fully_masked_row_unbatched_and_gqa():
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    m = np.ones((3, 5), dtype=bool)
    m[1] = False
    (eq, tq), (ek, tk), (ev, tv) = leaf(q), leaf(k), leaf(v)
    eo = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=ember.tensor(m))
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(m))
    assert_same(eo, to, atol=1e-12)
    eo.sum().backward()
    to.sum().backward()
    for e, t in ((eq, tq), (ek, tk), (ev, tv)):
        assert_same(e.grad, t.grad, atol=1e-12)
    q, k, v = (
        rng.standard_normal((2, 4, 3, 4)),
        rng.standard_normal((2, 2, 5, 4)),
        rng.standard_normal((2, 2, 5, 3)),
    )
    (eq, tq), (ek, tk), (ev, tv) = leaf(q), leaf(k), leaf(v)
    eo = F.scaled_dot_product_attention(eq, ek, ev, enable_gqa=True)
    to = TF.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    assert_same(eo, to, atol=1e-12)
    eo.sum().backward()
    to.sum().backward()
    for e, t in ((eq, tq), (ek, tk), (ev, tv)):
        assert_same(e.grad, t.grad, atol=1e-12)


def test_sdpa_dropout():
    q, k, v = (ember.randn(2, 3, 4, 5) for _ in range(3))
    assert float(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).abs().sum()) == 0.0
    assert (
        float(
            TF.scaled_dot_product_attention(*(torch.randn(2, 3, 4, 5) for _ in range(3)), dropout_p=1.0)
            .abs()
            .sum()
        )
        == 0
    )
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    b = F.scaled_dot_product_attention(q, k, v)
    assert a.shape == b.shape and not np.allclose(a.numpy(), b.numpy())
    # expectation over the dropout mask is the undropped output
    ember.manual_seed(0)
    mean = sum(F.scaled_dot_product_attention(q, k, v, dropout_p=0.3) for _ in range(400)) / 400
    assert np.abs(mean.numpy() - b.numpy()).max() < 0.15


def test_sdpa_gradcheck():
    ember.manual_seed(0)
    q = ember.randn(2, 3, 4, dtype=ember.float64, requires_grad=True)
    k = ember.randn(2, 5, 4, dtype=ember.float64, requires_grad=True)
    v = ember.randn(2, 5, 3, dtype=ember.float64, requires_grad=True)
    m = ember.randn(3, 5, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), (q, k, v, m)
    )
    assert ember.autograd.gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :3], v[:, :3], is_causal=True), (q, k, v)
    )


def _err(fe, ft):
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)) as ee:
        fe()
    assert str(ee.value) == str(te.value), (str(ee.value), str(te.value))


def test_sdpa_errors():
    e = [ember.randn(1, 2, 3, 4), ember.randn(1, 2, 5, 4), ember.randn(1, 2, 5, 6)]
    t = [torch.tensor(x.numpy()) for x in e]
    _err(
        lambda: F.scaled_dot_product_attention(
            *e, attn_mask=ember.ones(3, 5, dtype=ember.bool), is_causal=True
        ),
        lambda: TF.scaled_dot_product_attention(
            *t, attn_mask=torch.ones(3, 5, dtype=torch.bool), is_causal=True
        ),
    )
    _err(
        lambda: F.scaled_dot_product_attention(*e, attn_mask=ember.ones(3, 5, dtype=ember.int64)),
        lambda: TF.scaled_dot_product_attention(*t, attn_mask=torch.ones(3, 5, dtype=torch.int64)),
    )
    _err(
        lambda: F.scaled_dot_product_attention(e[0].double(), e[1], e[2]),
        lambda: TF.scaled_dot_product_attention(t[0].double(), t[1], t[2]),
    )
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(*e, attn_mask=ember.ones(4, 5, dtype=ember.bool))
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(ember.randn(1, 3, 3, 4), e[1], e[2], enable_gqa=True)


# every combination of the structural options and masks; bias and need_weights alternate over them
MHA_OPTS = [
    (bf, kv, bkv, za, (i // 2) % 2 == 0, i % 2 == 0, masks)
    for i, (bf, kv, bkv, za, masks) in enumerate(
        itertools.product(
            [False, True],  # batch_first
            [False, True],  # kdim/vdim differ
            [False, True],  # add_bias_kv
            [False, True],  # add_zero_attn
            ["none", "kpm_bool", "attn_bool", "attn_float3d", "both"],
        )
    )
]


@pytest.mark.parametrize("bf,kvdim,bias_kv,zero_attn,bias,need_weights,masks", MHA_OPTS)
def test_multihead_attention_matches_torch(bf, kvdim, bias_kv, zero_attn, bias, need_weights, masks):
    E, nh, L, S, N = 4, 2, 3, 5, 2
    kw = dict(bias=bias, add_bias_kv=bias_kv, add_zero_attn=zero_attn, batch_first=bf)
    if kvdim:
        kw.update(kdim=3, vdim=6)
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, nh, **kw).double()
    em = nn.MultiheadAttention(E, nh, **kw).double()
    copy_weights(tm, em)
    r = np.random.default_rng(1)
    shp = lambda n, d: (N, n, d) if bf else (n, N, d)  # noqa: E731
    q, k, v = (
        r.standard_normal(shp(L, E)),
        r.standard_normal(shp(S, 3 if kvdim else E)),
        r.standard_normal(shp(S, 6 if kvdim else E)),
    )
    pairs = [leaf(a) for a in (q, k, v)]
    ke, kt = {}, {}
    if masks in ("kpm_bool", "both"):
        m = np.zeros((N, S), dtype=bool)
        m[0, -2:] = True
        ke["key_padding_mask"], kt["key_padding_mask"] = ember.tensor(m), torch.tensor(m)
    if masks in ("attn_bool", "both"):
        m = r.random((L, S)) > 0.7
        m[:, 0] = False
        ke["attn_mask"], kt["attn_mask"] = ember.tensor(m), torch.tensor(m)
    if masks == "attn_float3d":
        m = r.standard_normal((N * nh, L, S))
        ke["attn_mask"], kt["attn_mask"] = ember.tensor(m), torch.tensor(m)
    eo, ew = em(*[p[0] for p in pairs], need_weights=need_weights, **ke)
    to, tw = tm(*[p[1] for p in pairs], need_weights=need_weights, **kt)
    assert_same(eo, to, atol=1e-10)
    assert (ew is None) == (tw is None)
    if tw is not None:
        assert_same(ew, tw, atol=1e-10)
    _weighted(eo, ember).backward()
    _weighted(to, torch).backward()
    for e, t in pairs:
        assert_same(e.grad, t.grad, atol=1e-10)
    tp = dict(tm.named_parameters())
    assert [n for n, _ in em.named_parameters()] == list(tp)
    for name, p in em.named_parameters():
        assert_same(p.grad, tp[name].grad, atol=1e-10)


@pytest.mark.parametrize("average", [True, False])
def test_mha_unbatched_self_attention_and_weights(average):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(6, 3).double()
    em = nn.MultiheadAttention(6, 3).double()
    copy_weights(tm, em)
    x = rng.standard_normal((4, 6))
    ex, tx = leaf(x)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4).double()
    eo, ew = em(
        ex,
        ex,
        ex,
        attn_mask=nn.Transformer.generate_square_subsequent_mask(4).double(),
        average_attn_weights=average,
    )
    to, tw = tm(tx, tx, tx, attn_mask=mask, average_attn_weights=average)
    assert_same(eo, to, atol=1e-12)
    assert_same(ew, tw, atol=1e-12)
    (eo.sum() + ew.sum()).backward()
    (to.sum() + tw.sum()).backward()
    assert_same(ex.grad, tx.grad, atol=1e-12)


def test_mha_gradcheck():
    ember.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    x = ember.randn(3, 2, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, *p: m(x, x, x, need_weights=False)[0], (x, *m.parameters()))
    assert ember.autograd.gradgradcheck(lambda x: m(x, x, x, need_weights=True)[0], (x,))


def test_mha_errors():
    _err(lambda: nn.MultiheadAttention(5, 2), lambda: torch.nn.MultiheadAttention(5, 2))
    _err(lambda: nn.MultiheadAttention(0, 2), lambda: torch.nn.MultiheadAttention(0, 2))
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 2)
    em = nn.MultiheadAttention(4, 2)
    copy_weights(tm, em)
    ex, tx = ember.randn(3, 2, 4), torch.randn(3, 2, 4)
    cases = [
        ({"key_padding_mask": (np.zeros((2, 4), bool))}, None),
        ({"key_padding_mask": (np.zeros((2, 3), np.int64))}, None),
        ({"attn_mask": np.zeros((3, 4), np.float32)}, None),
        ({"attn_mask": np.zeros((3, 3, 3), np.float32)}, None),
        ({"attn_mask": np.zeros((3, 3), np.int32)}, None),
        ({"attn_mask": np.zeros((1, 1, 3, 3), np.float32)}, None),
        ({"key_padding_mask": np.zeros((2, 3, 1), bool)}, None),
    ]
    for kw, _ in cases:
        _err(
            lambda: em(ex, ex, ex, **{k: ember.tensor(v) for k, v in kw.items()}),
            lambda: tm(tx, tx, tx, **{k: torch.tensor(v) for k, v in kw.items()}),
        )
    _err(lambda: em(ex, ex, ember.randn(3, 2, 4, 1)), lambda: tm(tx, tx, torch.randn(3, 2, 4, 1)))
    _err(lambda: em(ember.randn(3, 2, 5), ex, ex), lambda: tm(torch.randn(3, 2, 5), tx, tx))
    _err(lambda: em(ex, ex, ex, is_causal=True), lambda: tm(tx, tx, tx, is_causal=True))


LAYER_OPTS = [
    (nf, ("relu", "gelu", "callable")[i % 3], bf, masks)
    for i, (nf, bf, masks) in enumerate(
        itertools.product([False, True], [False, True], ["none", "causal", "kpm"])
    )
]


def _act(name, lib):
    return (lambda x: lib.tanh(x) * 2) if name == "callable" else name


@pytest.mark.parametrize("norm_first,act,bf,masks", LAYER_OPTS)
def test_transformer_encoder_and_decoder_layers(norm_first, act, bf, masks):
    d, nh, ff, L, S, N = 8, 2, 16, 4, 5, 2
    kw = dict(dim_feedforward=ff, dropout=0.0, norm_first=norm_first, batch_first=bf)
    torch.manual_seed(0)
    t_enc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(d, nh, activation=_act(act, torch), **kw), 2, torch.nn.LayerNorm(d)
    ).double()
    e_enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d, nh, activation=_act(act, ember), **kw), 2, nn.LayerNorm(d)
    ).double()
    t_dec = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(d, nh, activation=_act(act, torch), **kw), 2
    ).double()
    e_dec = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(d, nh, activation=_act(act, ember), **kw), 2
    ).double()
    copy_weights(t_enc, e_enc)
    copy_weights(t_dec, e_dec)
    r = np.random.default_rng(2)
    src = r.standard_normal((N, S, d) if bf else (S, N, d))
    tgt = r.standard_normal((N, L, d) if bf else (L, N, d))
    (es, ts), (et, tt) = leaf(src), leaf(tgt)
    ke, kt, de, dt = {}, {}, {}, {}
    if masks == "causal":
        ke["mask"], kt["mask"] = (
            nn.Transformer.generate_square_subsequent_mask(S).double(),
            torch.nn.Transformer.generate_square_subsequent_mask(S).double(),
        )
        de["tgt_mask"], dt["tgt_mask"] = (
            nn.Transformer.generate_square_subsequent_mask(L).double(),
            torch.nn.Transformer.generate_square_subsequent_mask(L).double(),
        )
    elif masks == "kpm":
        m = np.zeros((N, S), dtype=bool)
        m[1, -2:] = True
        ke["src_key_padding_mask"], kt["src_key_padding_mask"] = ember.tensor(m), torch.tensor(m)
        de["memory_key_padding_mask"], dt["memory_key_padding_mask"] = ember.tensor(m), torch.tensor(m)
    em_ = e_enc(es, **ke)
    tm_ = t_enc(ts, **kt)
    if masks != "kpm":
        assert_same(em_, tm_, atol=1e-10)
    eo = e_dec(et, em_, **de)
    to = t_dec(tt, tm_, **dt)
    assert_same(eo, to, atol=1e-10)
    _weighted(eo, ember).backward()
    _weighted(to, torch).backward()
    assert_same(es.grad, ts.grad, atol=1e-9)
    assert_same(et.grad, tt.grad, atol=1e-9)
    for em, tm in ((e_enc, t_enc), (e_dec, t_dec)):
        tp = dict(tm.named_parameters())
        for name, p in em.named_parameters():
            assert_same(p.grad, tp[name].grad, atol=1e-9)


def test_transformer_state_dict_and_masks():
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.1)
    tm = torch.nn.Transformer(**kw)
    em = nn.Transformer(**kw)
    assert [(n, tuple(p.shape)) for n, p in em.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in tm.named_parameters()
    ]
    copy_weights(tm, em)
    tm.eval()
    em.eval()
    r = np.random.default_rng(3)
    src, tgt = (
        r.standard_normal((5, 2, 8)).astype(np.float32),
        r.standard_normal((4, 2, 8)).astype(np.float32),
    )
    mask_e = nn.Transformer.generate_square_subsequent_mask(4)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert_same(mask_e, mask_t, atol=0)
    eo = em(ember.tensor(src), ember.tensor(tgt), tgt_mask=mask_e)
    to = tm(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask_t)
    assert_same(eo, to.detach(), atol=2e-5)
    _err(
        lambda: em(ember.tensor(src), ember.tensor(tgt[:, :1])),
        lambda: tm(torch.tensor(src), torch.tensor(tgt[:, :1])),
    )
    _err(
        lambda: em(ember.tensor(src[..., :4]), ember.tensor(tgt)),
        lambda: tm(torch.tensor(src[..., :4]), torch.tensor(tgt)),
    )
    # xavier init of every matrix: bounds as torch's
    ember.manual_seed(0)
    w = nn.Transformer(**kw).encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (8 + 16)) + 1e-7


@pytest.mark.parametrize("shape,eps,affine", [((4,), None, True), ((3, 4), 1e-3, True), ((4,), 1e-6, False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm(shape, eps, affine, dtype):
    tm = torch.nn.RMSNorm(shape, eps=eps, elementwise_affine=affine).to(getattr(torch, dtype))
    em = nn.RMSNorm(shape, eps=eps, elementwise_affine=affine).to(getattr(ember, dtype))
    if affine:
        w = rng.standard_normal(shape).astype(dtype)
        tm.weight.data = torch.tensor(w)
        em.weight.data = ember.tensor(w)
    assert repr(em) == repr(tm)
    ex, tx = leaf(rng.standard_normal((2, 3) + shape).astype(dtype) * 0.01)
    tol = 1e-5 if dtype == "float32" else 1e-12
    eo, to = em(ex), tm(tx)
    assert_same(eo, to, atol=tol, rtol=tol)
    _weighted(eo, ember).backward()
    _weighted(to, torch).backward()
    assert_same(ex.grad, tx.grad, atol=tol * 10, rtol=tol * 10)
    if affine:
        assert_same(em.weight.grad, tm.weight.grad, atol=tol * 10, rtol=tol * 10)
    _err(lambda: F.rms_norm(ex, (5,)), lambda: TF.rms_norm(tx, (5,)))


def test_double_backward_through_fused_attention_raises():
    q = ember.randn(2, 3, 4, dtype=ember.float64, requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q)
    with pytest.raises(RuntimeError, match="double backward"):
        ember.autograd.grad(out.sum(), q, create_graph=True)
