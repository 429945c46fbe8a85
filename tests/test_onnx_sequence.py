"""ember.onnx.export of sequence models: RNN/LSTM/GRU as ONNX's recurrent ops, attention and
Transformer encoders decomposed, instance norm; each exported file passes onnx.checker and
gives ember's outputs in onnxruntime, also at batch and sequence lengths other than the traced
ones (dynamic_axes)."""

import io
import math
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is an optional extra (pip install ember[onnx])")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
import torch  # noqa: E402

import ember  # noqa: E402
from ember import nn  # noqa: E402


def _export(model, args, names, out_names, dynamic_axes, opset=None):
    buf = io.BytesIO()
    ember.onnx.export(model, args, buf, input_names=names, output_names=out_names,
                      dynamic_axes=dynamic_axes, opset_version=opset)  # fmt: skip
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _flat(x):
    if isinstance(x, ember.Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for a in x for t in _flat(a)]
    return []


def _compare(model, sess, variants, rtol=1e-4, atol=1e-5):
    """variants: argument tuples; ORT's outputs must equal ember's for each."""
    names = [i.name for i in sess.get_inputs()]
    model.eval()
    for args in variants:
        feeds = {n: t.numpy() for n, t in zip(names, _flat(args))}
        got = sess.run(None, feeds)
        with ember.no_grad():
            want = [t.numpy() for t in _flat(model(*args))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# -- recurrent layers -------------------------------------------------------------------------------
def _states(mode, L, B, H, batched=True):
    shape = (L, B, H) if batched else (L, H)
    if mode == "LSTM":
        return (ember.randn(*shape), ember.randn(*shape))
    return ember.randn(*shape)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias", [
    (1, False, False, True), (2, True, False, True), (2, False, True, False), (3, True, True, False),
])  # fmt: skip
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent(mode, num_layers, bidirectional, batch_first, bias, with_state):
    ember.manual_seed(0)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    if mode == "LSTM":
        m = nn.LSTM(5, 4, **kw)
    elif mode == "GRU":
        m = nn.GRU(5, 4, **kw)
    else:
        m = nn.RNN(5, 4, nonlinearity="relu" if mode == "RNN_RELU" else "tanh", **kw)
    D = 2 if bidirectional else 1
    L = num_layers * D
    b_ax, t_ax = (0, 1) if batch_first else (1, 0)

    def x_of(B, T):
        return ember.randn(B, T, 5) if batch_first else ember.randn(T, B, 5)

    x = x_of(3, 7)
    names = ["x"]
    dyn = {
        "x": {b_ax: "batch", t_ax: "seq"},
        "y": {b_ax: "batch", t_ax: "seq"},
        "h": {1: "batch"},
        "c": {1: "batch"},
    }
    args, variants = (x,), [(x,), (x_of(2, 4),), (x_of(5, 1),)]
    if with_state:
        s = _states(mode, L, 3, 4)
        args = (x, s)
        names = ["x", "h0", "c0"] if mode == "LSTM" else ["x", "h0"]
        dyn.update({"h0": {1: "batch"}, "c0": {1: "batch"}})
        variants = [args, (x_of(2, 4), _states(mode, L, 2, 4))]
    outs = ["y", "h", "c"] if mode == "LSTM" else ["y", "h"]
    proto, sess = _export(m, args, names, outs, dyn)
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    assert sum(n.op_type == op for n in proto.graph.node) == num_layers
    _compare(m, sess, variants)


def test_recurrent_unbatched_and_torch():
    ember.manual_seed(1)
    m = nn.GRU(3, 6, num_layers=2, bidirectional=True)
    x = ember.randn(5, 3)  # (T, I) without a batch dim
    _, sess = _export(m, (x,), ["x"], ["y", "h"], {"x": {0: "seq"}, "y": {0: "seq"}})
    _compare(m, sess, [(x,), (ember.randn(9, 3),)])
    tm = torch.nn.GRU(3, 6, num_layers=2, bidirectional=True)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    xb = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    _, sess = _export(m, (ember.tensor(xb),), ["x"], ["y", "h"], None)
    got = sess.run(None, {"x": xb})
    with torch.no_grad():
        want = tm(torch.tensor(xb))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "num_layers,bidirectional,batch_first,bias", [(1, False, False, True), (2, True, True, False)]
)
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_proj_size(num_layers, bidirectional, batch_first, bias, with_state):
    ember.manual_seed(10)
    m = nn.LSTM(
        4, 6, num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, proj_size=3
    )
    L = num_layers * (2 if bidirectional else 1)
    b_ax, t_ax = (0, 1) if batch_first else (1, 0)

    def x_of(B, T):
        return ember.randn(B, T, 4) if batch_first else ember.randn(T, B, 4)

    def state(B):
        return (ember.randn(L, B, 3), ember.randn(L, B, 6))

    dyn = {"x": {b_ax: "batch", t_ax: "seq"}, "y": {b_ax: "batch", t_ax: "seq"}, "h": {1: "batch"}, "c": {1: "batch"},
           "h0": {1: "batch"}, "c0": {1: "batch"}}  # fmt: skip
    x = x_of(2, 5)
    if with_state:
        proto, sess = _export(m, (x, state(2)), ["x", "h0", "c0"], ["y", "h", "c"], dyn)
        variants = [(x, state(2)), (x_of(3, 8), state(3))]
    else:
        proto, sess = _export(m, (x,), ["x"], ["y", "h", "c"], dyn)
        variants = [(x,), (x_of(3, 8),), (x_of(1, 1),)]
    assert "Scan" in {n.op_type for n in proto.graph.node}
    _compare(m, sess, variants)


class RNNModel(nn.Module):  # examples/word_language_model's model (LSTM variant, tied weights)
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=True):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.nlayers, self.nhid = nlayers, nhid

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.decoder.out_features)
        return nn.functional.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        return (ember.zeros(self.nlayers, bsz, self.nhid), ember.zeros(self.nlayers, bsz, self.nhid))


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_word_language_model(opset):
    ember.manual_seed(2)
    m = RNNModel(50, 8, 8, 2)
    x = ember.randint(0, 50, (7, 3))
    h = (ember.randn(2, 3, 8), ember.randn(2, 3, 8))
    dyn = {"x": {0: "seq", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}, "y": {0: "rows"}}
    proto, sess = _export(m, (x, h), ["x", "h0", "c0"], ["y", "h", "c"], dyn, opset)
    assert proto.opset_import[0].version == opset
    assert {n.op_type for n in proto.graph.node} >= {"Gather", "LSTM"}
    _compare(m, sess, [(x, h), (ember.randint(0, 50, (4, 2)), m.init_hidden(2))])


# -- attention --------------------------------------------------------------------------------------
class SDPA(nn.Module):
    def __init__(self, causal=False):
        super().__init__()
        self.causal = causal

    def forward(self, q, k, v, mask=None):
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)


def test_scaled_dot_product_attention():
    ember.manual_seed(3)
    q, k, v = ember.randn(2, 3, 5, 4), ember.randn(2, 3, 6, 4), ember.randn(2, 3, 6, 4)
    dyn = {n: {0: "batch", 2: "seq" + n} for n in "qkv"}
    dyn["y"] = {0: "batch", 2: "seqq"}
    _, sess = _export(SDPA(), (q, k, v), ["q", "k", "v"], ["y"], dyn)
    _compare(
        SDPA(), sess, [(q, k, v), (ember.randn(1, 3, 2, 4), ember.randn(1, 3, 9, 4), ember.randn(1, 3, 9, 4))]
    )
    mask = ember.randn(5, 6)  # a float mask as an input
    _, sess = _export(SDPA(), (q, k, v, mask), ["q", "k", "v", "mask"], ["y"], None)
    _compare(SDPA(), sess, [(q, k, v, mask), (q, k, v, ember.randn(5, 6))])
    keep = ember.rand(5, 6) > 0.3  # a bool mask (True: attend) as an input, made additive outside the trace
    keep[:, 0] = True
    _, sess = _export(SDPA(), (q, k, v, keep), ["q", "k", "v", "mask"], ["y"], None)
    other = ember.rand(5, 6) > 0.5
    other[:, 2] = True
    _compare(SDPA(), sess, [(q, k, v, keep), (q, k, v, other)])

    class GQA(nn.Module):  # grouped-query attention: keys and values repeated over the heads (expand)
        def forward(self, q, k, v):
            return nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    kg, vg = ember.randn(2, 1, 6, 4), ember.randn(2, 1, 6, 4)
    _, sess = _export(GQA(), (q, kg, vg), ["q", "k", "v"], ["y"], {n: {0: "b", 2: "s" + n} for n in "qkv"})
    _compare(
        GQA(),
        sess,
        [(q, kg, vg), (ember.randn(3, 3, 2, 4), ember.randn(3, 1, 7, 4), ember.randn(3, 1, 7, 4))],
    )
    qs = ember.randn(2, 3, 5, 4)
    dyn = {n: {0: "batch", 2: "seq"} for n in "qkvy"}
    _, sess = _export(SDPA(True), (qs, qs, qs), ["q", "k", "v"], ["y"], dyn)  # causal, rebuilt per length
    q2 = ember.randn(3, 3, 8, 4)
    _compare(SDPA(True), sess, [(qs, qs, qs), (q2, q2, q2)])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention(batch_first, need_weights, average):
    ember.manual_seed(4)
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    m.in_proj_bias.data.uniform_(-1, 1)
    m.out_proj.bias.data.uniform_(-1, 1)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = m

        def forward(self, q, kv, mask):
            return self.attn(
                q, kv, kv, attn_mask=mask, need_weights=need_weights, average_attn_weights=average
            )

    def shape(B, T):
        return (B, T, 8) if batch_first else (T, B, 8)

    net = Wrap()
    q, kv, mask = ember.randn(*shape(3, 5)), ember.randn(*shape(3, 6)), ember.randn(5, 6)
    b_ax, t_ax = (0, 1) if batch_first else (1, 0)
    dyn = {"q": {b_ax: "batch", t_ax: "L"}, "kv": {b_ax: "batch", t_ax: "S"}, "mask": {0: "L", 1: "S"},
           "y": {b_ax: "batch", t_ax: "L"}, "w": {0: "batch"}}  # fmt: skip
    outs = ["y", "w"] if need_weights else ["y"]
    _, sess = _export(net, (q, kv, mask), ["q", "kv", "mask"], outs, dyn)
    _compare(
        net, sess, [(q, kv, mask), (ember.randn(*shape(2, 4)), ember.randn(*shape(2, 9)), ember.randn(4, 9))]
    )


def test_multihead_attention_masks_and_kdim():
    ember.manual_seed(5)
    m = nn.MultiheadAttention(8, 4, kdim=5, vdim=3, bias=False)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = m

        def forward(self, q, k, v, kpm, mask):
            return self.attn(q, k, v, key_padding_mask=kpm, attn_mask=mask)

    q, k, v = ember.randn(4, 2, 8), ember.randn(6, 2, 5), ember.randn(6, 2, 3)
    kpm = ember.tensor([[False] * 5 + [True], [False] * 3 + [True] * 3])
    mask = ember.rand(2 * 4, 4, 6) > 0.8  # 3-d bool mask (N*H, L, S), True: masked
    mask[:, :, 0] = False
    net = Wrap()
    dyn = {
        "q": {1: "b"},
        "k": {1: "b"},
        "v": {1: "b"},
        "kpm": {0: "b"},
        "mask": {0: "bh"},
        "y": {1: "b"},
        "w": {0: "b"},
    }
    _, sess = _export(net, (q, k, v, kpm, mask), ["q", "k", "v", "kpm", "mask"], ["y", "w"], dyn)
    mask3 = ember.rand(3 * 4, 4, 6) > 0.8
    mask3[:, :, 1] = False
    kpm3 = ember.tensor([[False] * 6, [True] + [False] * 5, [False] * 2 + [True] * 4])
    _compare(
        net,
        sess,
        [
            (q, k, v, kpm, mask),
            (ember.randn(4, 3, 8), ember.randn(6, 3, 5), ember.randn(6, 3, 3), kpm3, mask3),
        ],
    )
    unb = nn.MultiheadAttention(8, 2)
    x = ember.randn(5, 8)
    _, sess = _export(unb, (x, x, x), ["x", "k", "v"], ["y", "w"], None)
    _compare(unb, sess, [(x, x, x)])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masking", ["none", "src_mask", "causal", "is_causal"])
def test_transformer_encoder(norm_first, activation, masking):
    ember.manual_seed(6)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=activation, norm_first=norm_first,
                                       batch_first=True)  # fmt: skip
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, x, mask=None):
            if masking == "causal":  # built in forward as the tutorial does: a constant in the trace
                mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.enc(x, mask=mask, is_causal=True if masking == "is_causal" else None)

    net = Wrap().eval()
    x = ember.randn(3, 5, 8)
    dyn = {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}}
    if masking == "src_mask":
        mask = ember.randn(5, 5)
        dyn["mask"] = {0: "seq", 1: "seq"}
        _, sess = _export(net, (x, mask), ["x", "mask"], ["y"], dyn)
        _compare(net, sess, [(x, mask), (ember.randn(2, 7, 8), ember.randn(7, 7))], atol=1e-4)
        return
    if masking == "is_causal":
        mask = nn.Transformer.generate_square_subsequent_mask(5)
        dyn["mask"] = {0: "seq", 1: "seq"}
        _, sess = _export(net, (x, mask), ["x", "mask"], ["y"], dyn)
        x2 = ember.randn(2, 7, 8)
        got = sess.run(
            None, {"x": x2.numpy(), "mask": nn.Transformer.generate_square_subsequent_mask(7).numpy()}
        )
        with ember.no_grad():
            want = net(x2, nn.Transformer.generate_square_subsequent_mask(7))
        np.testing.assert_allclose(got[0], want.numpy(), rtol=1e-4, atol=1e-4)
        return
    _, sess = _export(net, (x,), ["x"], ["y"], dyn)
    _compare(net, sess, [(x,), (ember.randn(2, 7, 8),), (ember.randn(1, 1, 8),)], atol=1e-4)


class PositionalEncoding(nn.Module):  # "Language Modeling with nn.Transformer and torchtext"
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = ember.arange(max_len).unsqueeze(1)
        div_term = ember.exp(ember.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = ember.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = ember.sin(position * div_term)
        pe[:, 0, 1::2] = ember.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[: x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask=None):
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        if src_mask is None:
            src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_transformer_tutorial_model(opset):
    ember.manual_seed(7)
    m = TransformerModel(40, 8, 2, 16, 2).eval()
    src = ember.randint(0, 40, (6, 3))  # (seq, batch)
    dyn = {"src": {0: "seq", 1: "batch"}, "y": {0: "seq", 1: "batch"}}
    proto, sess = _export(m, (src,), ["src"], ["y"], dyn, opset)
    assert {"Softmax", "MatMul"} <= {n.op_type for n in proto.graph.node}
    tm = _torch_tutorial_model(m)
    got = sess.run(None, {"src": src.numpy()})[0]
    with torch.no_grad():
        want = tm(torch.tensor(src.numpy())).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _compare(m, sess, [(src,), (ember.randint(0, 40, (9, 2)),), (ember.randint(0, 40, (2, 5)),)], atol=1e-4)
    # with the mask given as an input of the graph
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    _, sess = _export(m, (src, mask), ["src", "mask"], ["y"], None)
    _compare(m, sess, [(src, mask)], atol=1e-4)


def test_transformer_padding_mask_input_and_decoder():
    ember.manual_seed(9)
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1, enable_nested_tensor=False
    )

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, x, pad):
            return self.enc(x, src_key_padding_mask=pad)

    net = Wrap().eval()
    x, pad = ember.randn(3, 5, 8), ember.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    dyn = {"x": {0: "b", 1: "s"}, "pad": {0: "b", 1: "s"}, "y": {0: "b", 1: "s"}}
    _, sess = _export(net, (x, pad), ["x", "pad"], ["y"], dyn)
    pad2 = ember.tensor([[False] * 6 + [True], [True] * 7])  # a sequence with every key masked: zeros
    _compare(net, sess, [(x, pad), (ember.randn(2, 7, 8), pad2)], atol=1e-4)
    model = nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16).eval()
    src, tgt = ember.randn(6, 3, 8), ember.randn(5, 3, 8)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = model

        def forward(self, src, tgt):
            mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[0])
            return self.t(src, tgt, tgt_mask=mask, tgt_is_causal=True)

    net = Seq2Seq().eval()
    dyn = {"src": {0: "S", 1: "b"}, "tgt": {0: "T", 1: "b"}, "y": {0: "T", 1: "b"}}
    _, sess = _export(net, (src, tgt), ["src", "tgt"], ["y"], dyn)
    _compare(net, sess, [(src, tgt), (ember.randn(4, 2, 8), ember.randn(7, 2, 8))], atol=1e-4)


def _torch_tutorial_model(m):
    """The same model in torch, with m's weights (torch's fast path off: it is the math path in eval)."""

    class TorchModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(40, 8)
            layer = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.5)
            self.transformer_encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.linear = torch.nn.Linear(8, 40)
            self.register_buffer("pe", torch.tensor(m.pos_encoder.pe.numpy()))

        def forward(self, src):
            x = self.embedding(src) * math.sqrt(8) + self.pe[: src.size(0)]
            mask = torch.nn.Transformer.generate_square_subsequent_mask(len(src))
            return self.linear(self.transformer_encoder(x, mask))

    tm = TorchModel().eval()
    sd = {k: torch.tensor(v.numpy()) for k, v in m.state_dict().items() if not k.startswith("pos_encoder")}
    tm.load_state_dict({**sd, "pe": tm.pe})
    return tm


# -- instance norm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [(nn.InstanceNorm1d, (3, 4, 7)), (nn.InstanceNorm2d, (3, 4, 5, 6)),
                                       (nn.InstanceNorm2d, (4, 5, 6))])  # fmt: skip
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instance_norm(cls, shape, affine, track):
    ember.manual_seed(8)
    m = cls(4, affine=affine, track_running_stats=track)
    if affine:
        m.weight.data.uniform_(0.5, 2)
        m.bias.data.uniform_(-1, 1)
    if track:
        m.train()
        m(ember.randn(*shape) * 3 + 1)  # non-trivial running statistics
    x = ember.randn(*shape)
    dyn = (
        {"x": {0: "n", len(shape) - 1: "w"}, "y": {0: "n", len(shape) - 1: "w"}}
        if len(shape) > 3 or cls is nn.InstanceNorm1d
        else None
    )
    proto, sess = _export(m, (x,), ["x"], ["y"], dyn)
    ops = {n.op_type for n in proto.graph.node}
    assert ("BatchNormalization" if track else "InstanceNormalization") in ops
    variants = [(x,)]
    if dyn:
        variants.append((ember.randn(*((2,) + shape[1:-1] + (9,))),))
    _compare(m, sess, variants)


# -- errors -----------------------------------------------------------------------------------------
def test_unsupported_ops_name_the_op():
    class Cum(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(3, 3)

        def forward(self, x):
            return self.rnn(x)[0].cumsum(0)

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'Cumsum'"):
        ember.onnx.export(Cum(), ember.randn(4, 2, 3), io.BytesIO())
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True)
    x = ember.randn(3, 1, 4)
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'MultiheadAttention' with add_bias_kv"):
        ember.onnx.export(m, (x, x, x), io.BytesIO())

    class Unused(nn.Module):  # an unconverted op still fails, used or not
        def forward(self, x):
            x.cumsum(0)
            return x * 2

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'Cumsum'"):
        ember.onnx.export(Unused(), ember.randn(2, 3), io.BytesIO())


def test_mask_computed_in_forward_follows_dynamic_axes():
    # comparisons are traced: a padding mask computed from the inputs follows them, and the
    # arange over x's sequence axis is rebuilt from its run-time length
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1, enable_nested_tensor=False
    )

    class Pad(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, x, lengths):
            pos = ember.arange(x.shape[1]).unsqueeze(0)
            return self.enc(x, src_key_padding_mask=pos >= lengths.unsqueeze(1))

    x, lengths = ember.randn(3, 5, 8), ember.tensor([5, 3, 4])
    dyn = {"x": {0: "b", 1: "s"}, "len": {0: "b"}, "y": {0: "b", 1: "s"}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, sess = _export(Pad(), (x, lengths), ["x", "len"], ["y"], dyn)
    _compare(Pad(), sess, [(x, lengths), (ember.randn(2, 7, 8), ember.tensor([2, 7]))], atol=1e-4)


def test_constant_made_in_forward_warns():
    # a tensor made outside the trace with a dynamic axis's size, not one rebuilt from the length
    class Noise(nn.Module):
        def forward(self, x):
            return x + ember.tensor(np.linspace(0.0, 1.0, x.shape[1], dtype=np.float32) ** 2)

    with pytest.warns(UserWarning, match=r"shape \(5,\) made outside the trace"):
        ember.onnx.export(
            Noise(), ember.randn(3, 5), io.BytesIO(), input_names=["x"], dynamic_axes={"x": [1]}
        )


def test_constant_folding_and_pruning():
    class Folded(nn.Module):  # ops on constants only are folded; unused work is pruned
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ember.randn(3, 3))

        def forward(self, x):
            m = ember.triu(ember.ones(3, 3), 1).cumsum(0)  # no conversion for Cumsum, but folded
            (x * 3).sum()  # unused
            return x @ (self.w.t() + m)

    net = Folded()
    proto, sess = _export(net, (ember.randn(2, 3),), ["x"], ["y"], {"x": {0: "b"}, "y": {0: "b"}})
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Identity"]
    _compare(net, sess, [(ember.randn(2, 3),), (ember.randn(5, 3),)])
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'Cumsum'"):
        ember.onnx.export(net, ember.randn(2, 3), io.BytesIO(), do_constant_folding=False)
