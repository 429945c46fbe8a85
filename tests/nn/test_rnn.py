"""nn.RNN / GRU / LSTM and the cells vs torch with copied weights: outputs, final states and the
gradients of inputs, initial states and every parameter over the constructor options; packed
input; unbatched input; errors; repr; the fused layer against the unrolled cells."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import assert_same

import ember
from ember import nn
from ember.nn.modules import rnn_cell

T, B, I, H = 4, 3, 3, 4


def copy_weights(tm, em) -> None:
    """torch state_dict -> ember module (strict: names and shapes must match)."""
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


def make(cls_name: str, dtype, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(**kw).to(dtype)
    em = getattr(nn, cls_name)(**kw).to(getattr(ember, str(dtype).removeprefix("torch.")))
    copy_weights(tm, em)
    return tm, em


def leaf(a):
    return ember.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def loss_of(out, state, lib):
    """A loss that weights every output element and state element differently."""
    parts = [out] + (list(state) if isinstance(state, tuple) else [state])
    total = 0
    for k, p in enumerate(parts):
        w = lib.arange(p.numel(), dtype=p.dtype).reshape(p.shape) / p.numel() + k
        total = total + (lib.sin(p) * w).sum()
    return total


def compare(tm, em, x, hx, atol, rtol=1e-4):
    """Run both, compare outputs/states, backprop, compare grads of x, hx and all parameters."""
    ex, tx = leaf(x)
    if hx is None:
        eh = th = None
    elif isinstance(hx, tuple):
        (eh0, th0), (ec0, tc0) = leaf(hx[0]), leaf(hx[1])
        eh, th = (eh0, ec0), (th0, tc0)
    else:
        eh, th = leaf(hx)
    eo, es = em(ex, eh)
    to, ts = tm(tx, th)
    assert_same(eo, to, atol=atol, rtol=rtol)
    for a, b in zip(es if isinstance(es, tuple) else [es], ts if isinstance(ts, tuple) else [ts]):
        assert_same(a, b, atol=atol, rtol=rtol)
    loss_of(eo, es, ember).backward()
    loss_of(to, ts, torch).backward()
    assert_same(ex.grad, tx.grad, atol=atol, rtol=rtol)
    if hx is not None:
        for a, b in zip(eh if isinstance(eh, tuple) else [eh], th if isinstance(th, tuple) else [th]):
            assert_same(a.grad, b.grad, atol=atol, rtol=rtol)
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_same(p.grad, tp[name].grad, atol=atol, rtol=rtol)


def _state_shapes(cls_name, layers, bidir, proj, batch):
    D = 2 if bidir else 1
    P = proj or H
    lead = (layers * D,) + ((batch,) if batch else ())
    if cls_name == "LSTM":
        return [lead + (P,), lead + (H,)]
    return [lead + (P,)]


MODES = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {})]
COMBOS = [
    (cls, extra, layers, bias, bf, bidir, proj, with_h)
    for (cls, extra), layers, bias, bf, bidir, proj, with_h in itertools.product(
        MODES, (1, 2), (True, False), (False, True), (False, True), (0, 2), (False, True)
    )
    if not (proj and cls != "LSTM")
]


@pytest.mark.parametrize("cls,extra,layers,bias,bf,bidir,proj,with_h", COMBOS)
def test_layer_matches_torch_float64(cls, extra, layers, bias, bf, bidir, proj, with_h):
    kw = dict(input_size=I, hidden_size=H, num_layers=layers, bias=bias, batch_first=bf, bidirectional=bidir)
    kw.update(extra)
    if proj:
        kw["proj_size"] = proj
    tm, em = make(cls, torch.float64, **kw)
    rng = np.random.default_rng(len(COMBOS))
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    hx = None
    if with_h:
        hs = [rng.standard_normal(s) for s in _state_shapes(cls, layers, bidir, proj, B)]
        hx = tuple(hs) if cls == "LSTM" else hs[0]
    compare(tm, em, x, hx, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("cls,extra", MODES)
@pytest.mark.parametrize("bidir", [False, True])
def test_layer_matches_torch_float32(cls, extra, bidir):
    tm, em = make(cls, torch.float32, input_size=I, hidden_size=H, num_layers=2, bidirectional=bidir, **extra)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, B, I)).astype(np.float32)
    compare(tm, em, x, None, atol=2e-5)
    eo, _ = em(ember.tensor(x))
    assert eo.dtype is ember.float32


@pytest.mark.parametrize("cls,extra", MODES)
def test_unbatched_input(cls, extra):
    tm, em = make(cls, torch.float64, input_size=I, hidden_size=H, num_layers=2, bidirectional=True, **extra)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, I))
    hs = [rng.standard_normal(s) for s in _state_shapes(cls, 2, True, 0, None)]
    compare(tm, em, x, tuple(hs) if cls == "LSTM" else hs[0], atol=1e-10)
    compare(tm, em, x, None, atol=1e-10)


LENGTHS = [[4, 3, 3, 1], [2, 4, 1, 3]]


@pytest.mark.parametrize("cls,extra", MODES)
@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("bidir", [False, True])
def test_packed_input_and_output(cls, extra, lengths, bidir):
    """Packed in (enforce_sorted both ways) -> packed out, states in the caller's batch order."""
    kw = dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=bidir, **extra)
    if cls == "LSTM":
        kw["proj_size"] = 3 if bidir else 0
    tm, em = make(cls, torch.float64, **kw)
    rng = np.random.default_rng(3)
    Bp = len(lengths)
    x = rng.standard_normal((4, Bp, I))
    sorted_ = lengths == sorted(lengths, reverse=True)
    ex, tx = leaf(x)
    ep = nn.utils.rnn.pack_padded_sequence(ex, lengths, enforce_sorted=sorted_)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=sorted_)
    assert_same(ep.data, tp.data, atol=0)
    assert ep.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert ep.batch_sizes.dtype is ember.int64
    for a, b in ((ep.sorted_indices, tp.sorted_indices), (ep.unsorted_indices, tp.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    hs = [rng.standard_normal(s) for s in _state_shapes(cls, 2, bidir, kw.get("proj_size", 0), Bp)]
    pairs = [leaf(h) for h in hs]
    eh = tuple(p[0] for p in pairs) if cls == "LSTM" else pairs[0][0]
    th = tuple(p[1] for p in pairs) if cls == "LSTM" else pairs[0][1]
    eo, es = em(ep, eh)
    to, ts = tm(tp, th)
    assert isinstance(eo, nn.utils.rnn.PackedSequence)
    assert_same(eo.data, to.data, atol=1e-10)
    assert eo.batch_sizes.tolist() == to.batch_sizes.tolist()
    for a, b in zip(es if cls == "LSTM" else [es], ts if cls == "LSTM" else [ts]):
        assert_same(a, b, atol=1e-10)
    epad, elen = nn.utils.rnn.pad_packed_sequence(eo, batch_first=True, padding_value=-1.0)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True, padding_value=-1.0)
    assert_same(epad, tpad, atol=1e-10)
    assert elen.tolist() == tlen.tolist()
    loss_of(epad, es, ember).backward()
    loss_of(tpad, ts, torch).backward()
    assert_same(ex.grad, tx.grad, atol=1e-10)
    for (e, _), (_, t) in zip(pairs, pairs):
        assert_same(e.grad, t.grad, atol=1e-10)
    tparams = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_same(p.grad, tparams[name].grad, atol=1e-10)


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "GRU", "LSTM"])
def test_fused_layer_against_unrolled_cells(mode):
    """The fused node (fast path) against the composite cells stepped in a Python loop."""
    cls = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "GRU": "GRU", "LSTM": "LSTM"}[mode]
    extra = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    ember.manual_seed(0)
    m = getattr(nn, cls)(I, H, bidirectional=True, **extra).double()
    x = ember.randn(T, B, I, dtype=ember.float64, requires_grad=True)
    out, state = m(x)
    loss_of(out, state, ember).backward()
    g_fused = [x.grad.clone()] + [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    x.grad = None
    cell = {
        "RNN_TANH": rnn_cell.rnn_tanh_cell,
        "RNN_RELU": rnn_cell.rnn_relu_cell,
        "GRU": rnn_cell.gru_cell,
        "LSTM": rnn_cell.lstm_cell,
    }[mode]
    outs, hs, cs = [], [], []
    for suffix, steps in (("", range(T)), ("_reverse", range(T - 1, -1, -1))):
        w = [getattr(m, f"{n}_l0{suffix}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = ember.zeros(B, H, dtype=ember.float64)
        c = ember.zeros(B, H, dtype=ember.float64)
        ys = [None] * T
        for t in steps:
            if mode == "LSTM":
                h, c = cell(x[t], (h, c), *w)
            else:
                h = cell(x[t], h, *w)
            ys[t] = h
        outs.append(ember.stack(ys, 0))
        hs.append(h)
        cs.append(c)
    ref_out = ember.cat(outs, 2)
    ref_state = (ember.stack(hs), ember.stack(cs)) if mode == "LSTM" else ember.stack(hs)
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=1e-12)
    loss_of(ref_out, ref_state, ember).backward()
    for a, b in zip(g_fused, [x.grad] + [p.grad for p in m.parameters()]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(cls, batched, bias):
    kw = dict(input_size=I, hidden_size=H, bias=bias)
    for extra in [{}, {"nonlinearity": "relu"}] if cls == "RNNCell" else [{}]:
        tm, em = make(cls, torch.float64, **kw, **extra)
        rng = np.random.default_rng(4)
        shape = (B,) if batched else ()
        ex, tx = leaf(rng.standard_normal(shape + (I,)))
        hp = [leaf(rng.standard_normal(shape + (H,))) for _ in range(2 if cls == "LSTMCell" else 1)]
        eh = tuple(p[0] for p in hp) if cls == "LSTMCell" else hp[0][0]
        th = tuple(p[1] for p in hp) if cls == "LSTMCell" else hp[0][1]
        eo, to = em(ex, eh), tm(tx, th)
        eo2, to2 = em(ex), tm(tx)  # zero state
        for a, b in zip(
            list(eo if cls == "LSTMCell" else [eo]) + list(eo2 if cls == "LSTMCell" else [eo2]),
            list(to if cls == "LSTMCell" else [to]) + list(to2 if cls == "LSTMCell" else [to2]),
        ):
            assert_same(a, b, atol=1e-12)
        e_all = sum(
            ((o * o).sum() for o in (eo if cls == "LSTMCell" else [eo])),
            ember.tensor(0.0, dtype=ember.float64),
        )
        t_all = sum((o * o).sum() for o in (to if cls == "LSTMCell" else [to]))
        e_all.backward()
        t_all.backward()
        assert_same(ex.grad, tx.grad, atol=1e-12)
        for e, t in hp:
            assert_same(e.grad, t.grad, atol=1e-12)
        tparams = dict(tm.named_parameters())
        for name, p in em.named_parameters():
            assert_same(p.grad, tparams[name].grad, atol=1e-12)


@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_gradcheck_and_gradgradcheck(cls):
    ember.manual_seed(0)
    cell = getattr(nn, cls)(2, 3).double()
    x = ember.randn(2, 2, dtype=ember.float64, requires_grad=True)
    h = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    c = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    params = list(cell.parameters())
    if cls == "LSTMCell":
        f = lambda x, h, c, *p: cell(x, (h, c))[0] * 2 + cell(x, (h, c))[1]  # noqa: E731
        inputs = (x, h, c)
    else:
        f = lambda x, h, *p: cell(x, h)  # noqa: E731
        inputs = (x, h)
    assert ember.autograd.gradcheck(f, inputs + tuple(params))
    assert ember.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_fused_layer_gradcheck(cls):
    ember.manual_seed(0)
    m = getattr(nn, cls)(2, 3, num_layers=2, bidirectional=True).double()
    x = ember.randn(3, 2, 2, dtype=ember.float64, requires_grad=True)
    h0 = ember.randn(4, 2, 3, dtype=ember.float64, requires_grad=True)
    if cls == "LSTM":
        c0 = ember.randn(4, 2, 3, dtype=ember.float64, requires_grad=True)
        f = lambda x, h0, c0, *p: m(x, (h0, c0))[0]  # noqa: E731
        inputs = (x, h0, c0)
    else:
        f = lambda x, h0, *p: m(x, h0)[0]  # noqa: E731
        inputs = (x, h0)
    assert ember.autograd.gradcheck(f, inputs + tuple(m.parameters()))


def test_double_backward_through_fused_layer_raises():
    m = nn.LSTM(2, 3).double()
    x = ember.randn(3, 1, 2, dtype=ember.float64, requires_grad=True)
    out, _ = m(x)
    with pytest.raises(RuntimeError, match="double backward"):
        ember.autograd.grad(out.sum(), x, create_graph=True)


def test_state_dict_from_torch_gives_torch_outputs():
    torch.manual_seed(0)
    for tm in (
        torch.nn.LSTM(3, 5, 2, proj_size=2),
        torch.nn.GRU(3, 4, bidirectional=True),
        torch.nn.RNN(3, 4, 3),
    ):
        em = getattr(nn, type(tm).__name__)(
            tm.input_size,
            tm.hidden_size,
            tm.num_layers,
            bidirectional=tm.bidirectional,
            **({"proj_size": tm.proj_size} if tm.proj_size else {}),
        )
        assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
        assert [tuple(p.shape) for p in em.parameters()] == [tuple(p.shape) for p in tm.parameters()]
        copy_weights(tm, em)
        x = np.random.default_rng(5).standard_normal((6, 2, 3)).astype(np.float32)
        assert_same(em(ember.tensor(x))[0], tm(torch.tensor(x))[0], atol=1e-5)


def test_dropout_between_layers():
    """p=1 zeroes the input of the second layer in training (torch is deterministic there too);
    in eval mode dropout is off."""
    for p in (1.0, 0.5):
        tm, em = make("GRU", torch.float64, input_size=I, hidden_size=H, num_layers=2, dropout=p)
        x = np.random.default_rng(6).standard_normal((T, B, I))
        if p == 1.0:
            assert_same(em(ember.tensor(x))[0], tm(torch.tensor(x))[0].detach(), atol=1e-10)
        em.eval()
        tm.eval()
        assert_same(em(ember.tensor(x))[0], tm(torch.tensor(x))[0].detach(), atol=1e-10)
    em.train()
    a, b = em(ember.tensor(x))[0], em(ember.tensor(x))[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())


def test_default_init_and_flatten_parameters():
    ember.manual_seed(0)
    m = nn.LSTM(10, 64, 2, proj_size=16)
    bound = 1 / np.sqrt(64)
    allw = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.abs(allw).max() <= bound and np.abs(allw).max() > 0.95 * bound
    assert abs(allw.std() - bound / np.sqrt(3)) < 0.05 * bound  # U(-b, b) has std b / sqrt(3)
    assert m.flatten_parameters() is None
    assert [[tuple(p.shape) for p in ws] for ws in m.all_weights] == [
        [tuple(p.shape) for p in ws] for ws in torch.nn.LSTM(10, 64, 2, proj_size=16).all_weights
    ]


REPRS = [
    ("LSTM", (4, 3, 2), dict(bias=False, batch_first=True, dropout=0.5, bidirectional=True, proj_size=2)),
    ("RNN", (3, 4), dict(nonlinearity="relu")),
    ("RNN", (3, 4, 2, "relu"), {}),
    ("GRU", (2, 3), dict(num_layers=3)),
    ("RNNCell", (3, 4), dict(bias=False, nonlinearity="relu")),
    ("LSTMCell", (3, 4), {}),
    ("GRUCell", (3, 4), dict(bias=False)),
]


@pytest.mark.parametrize("cls,args,kw", REPRS)
def test_repr(cls, args, kw):
    assert repr(getattr(nn, cls)(*args, **kw)) == repr(getattr(torch.nn, cls)(*args, **kw))


def _err(fe, ft):
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)) as ee:
        fe()
    assert str(ee.value) == str(te.value)


def test_errors_match_torch():
    for cls in ("RNN", "GRU", "LSTM"):
        tm, em = make(cls, torch.float32, input_size=4, hidden_size=3, num_layers=2)
        e, t = ember.randn, torch.randn
        _err(lambda: em(e(5, 2, 4, 1)), lambda: tm(t(5, 2, 4, 1)))
        _err(lambda: em(e(5, 2, 3)), lambda: tm(t(5, 2, 3)))
        _err(lambda: em(e(5, 2, 4, dtype=ember.float64)), lambda: tm(t(5, 2, 4, dtype=torch.float64)))
        if cls == "LSTM":
            _err(
                lambda: em(e(5, 2, 4), (e(2, 2, 3), e(2, 3, 3))),
                lambda: tm(t(5, 2, 4), (t(2, 2, 3), t(2, 3, 3))),
            )
            _err(
                lambda: em(e(5, 2, 4), (e(1, 2, 3), e(2, 2, 3))),
                lambda: tm(t(5, 2, 4), (t(1, 2, 3), t(2, 2, 3))),
            )
            _err(lambda: em(e(5, 2, 4), (e(2, 3), e(2, 2, 3))), lambda: tm(t(5, 2, 4), (t(2, 3), t(2, 2, 3))))
            _err(lambda: em(e(5, 4), (e(2, 1, 3), e(2, 3))), lambda: tm(t(5, 4), (t(2, 1, 3), t(2, 3))))
        else:
            _err(lambda: em(e(5, 2, 4), e(2, 3, 3)), lambda: tm(t(5, 2, 4), t(2, 3, 3)))
            _err(lambda: em(e(5, 2, 4), e(2, 3)), lambda: tm(t(5, 2, 4), t(2, 3)))
            _err(lambda: em(e(5, 4), e(2, 1, 3)), lambda: tm(t(5, 4), t(2, 1, 3)))
    for cls in ("RNNCell", "GRUCell", "LSTMCell"):
        tm, em = make(cls, torch.float32, input_size=4, hidden_size=3)
        lstm = cls == "LSTMCell"
        wrap_e = (lambda h: (h, h)) if lstm else (lambda h: h)
        _err(lambda: em(ember.randn(2, 5)), lambda: tm(torch.randn(2, 5)))
        _err(
            lambda: em(ember.randn(2, 4), wrap_e(ember.randn(2, 2))),
            lambda: tm(torch.randn(2, 4), wrap_e(torch.randn(2, 2))),
        )
        _err(
            lambda: em(ember.randn(2, 4), wrap_e(ember.randn(3, 3))),
            lambda: tm(torch.randn(2, 4), wrap_e(torch.randn(3, 3))),
        )
        _err(lambda: em(ember.randn(2, 2, 4)), lambda: tm(torch.randn(2, 2, 4)))
        _err(
            lambda: em(ember.randn(2, 4), wrap_e(ember.randn(1, 2, 3))),
            lambda: tm(torch.randn(2, 4), wrap_e(torch.randn(1, 2, 3))),
        )
    for args, kw in [
        ((4, 3), {"proj_size": 3}),
        ((4, 3), {"dropout": 2.0}),
        ((4, 0), {}),
        ((4, 3), {"num_layers": 0}),
    ]:
        _err(lambda: nn.LSTM(*args, **kw), lambda: torch.nn.LSTM(*args, **kw))
    _err(lambda: nn.GRU(4, 3, proj_size=2), lambda: torch.nn.GRU(4, 3, proj_size=2))
    _err(lambda: nn.RNN(4, 3, nonlinearity="sig"), lambda: torch.nn.RNN(4, 3, nonlinearity="sig"))


def test_clip_grad_norm_on_lstm_and_detach_hidden():
    """Truncated BPTT as the book trains it: detach_() the carried state, clip the LSTM grads."""
    tm, em = make("LSTM", torch.float32, input_size=I, hidden_size=H, num_layers=2)
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((T, B, I)).astype(np.float32) * 3 for _ in range(3)]
    eh = th = None
    for x in xs:
        if eh is not None:
            for a, b in zip(eh, th):
                a.detach_()
                b.detach_()
        eo, eh = em(ember.tensor(x), eh)
        to, th = tm(torch.tensor(x), th)
        assert not eh[0].requires_grad or eh[0].grad_fn is not None
        (eo**2).sum().backward()
        (to**2).sum().backward()
        en = nn.utils.clip_grad_norm_(em.parameters(), 0.5)
        tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)
        assert_same(en, tn, atol=1e-4)
        tparams = dict(tm.named_parameters())
        for name, p in em.named_parameters():
            assert_same(p.grad, tparams[name].grad, atol=1e-5)
            with ember.no_grad():
                p -= 0.1 * p.grad
            p.grad = None
        with torch.no_grad():
            for p in tm.parameters():
                p -= 0.1 * p.grad
                p.grad = None
    assert eh[0].grad_fn is not None and eh[0].requires_grad
    eh[0].detach_()
    assert eh[0].grad_fn is None and not eh[0].requires_grad
