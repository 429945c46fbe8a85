"""ember.onnx.export of masks computed in forward: comparisons, logical and bitwise ops,
where and masked_fill are recorded by the tracer (ops/compare.py) and become ONNX nodes, and
constants made from a dynamic axis's length (arange, ones, triu of ones) are rebuilt at run time,
so the exported graph gives ember's outputs at sequence lengths other than the traced one."""

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is an optional extra (pip install ember[onnx])")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")

import ember  # noqa: E402
from ember import nn  # noqa: E402

PAD = 0


def _export(model, args, names, out_names, dynamic_axes, opset=None):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "exported as a constant" warning may be left
        ember.onnx.export(model, args, buf, input_names=names, output_names=out_names,
                          dynamic_axes=dynamic_axes, opset_version=opset)  # fmt: skip
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _compare(model, sess, variants, rtol=1e-4, atol=1e-5):
    names = [i.name for i in sess.get_inputs()]
    model.eval()
    for args in variants:
        got = sess.run(None, {n: t.numpy() for n, t in zip(names, args)})
        with ember.no_grad():
            out = model(*args)
        want = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _tokens(n, s, lengths):
    src = ember.randint(1, 20, (n, s))
    for i, ln in enumerate(lengths):
        src[i, ln:] = PAD
    return src


class MaskedAttention(nn.Module):
    """One attention head over token ids (batch, seq): padding mask from `src == PAD`, causal mask
    from `src.size(1)`, both combined with logical ops and applied by masked_fill and where."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.q = nn.Linear(8, 8)
        self.k = nn.Linear(8, 8)

    def forward(self, src):
        x = self.emb(src)
        pad = src == PAD  # (N, S) bool, computed from the input
        L = src.size(1)
        causal = ember.triu(ember.ones(L, L, dtype=ember.bool), diagonal=1)
        pos = ember.arange(L)
        later = pos[None, :] > pos[:, None]  # the same mask through a comparison of constants
        masked = causal | pad[:, None, :] | later  # (N, L, L)
        scores = self.q(x) @ self.k(x).transpose(1, 2)
        scores = scores.masked_fill(masked, -1e9)
        scores = scores.masked_fill(causal, float("-inf"))  # a constant mask, broadcast over the batch
        y = scores.softmax(-1) @ x
        keep = ~pad & (src != PAD) & ember.logical_not(pad)
        y = ember.where(keep[..., None], y, 0.0)
        few = ember.logical_or(src < 3, src >= 17) | ember.logical_and(src <= 5, src > 4)
        return y, few, (src.float() * 0.5 == ember.ones(L)).logical_xor(pad)


@pytest.mark.parametrize("opset", [13, 18])
def test_masks_from_inputs_follow_dynamic_axes(opset):
    ember.manual_seed(0)
    m = MaskedAttention().eval()
    src = _tokens(3, 6, [6, 4, 2])
    dyn = {"src": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}, "few": {0: "batch", 1: "seq"},
           "half": {0: "batch", 1: "seq"}}  # fmt: skip
    proto, sess = _export(m, (src,), ["src"], ["y", "few", "half"], dyn, opset)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Equal", "Not", "And", "Or", "Xor", "Where", "Less", "Greater", "LessOrEqual"} <= ops
    assert {"GreaterOrEqual", "Range"} <= ops
    _compare(m, sess, [(src,), (_tokens(2, 9, [9, 3]),), (_tokens(4, 3, [3, 1, 2, 3]),)])


def test_ints_and_bools_as_ints():
    class Bits(nn.Module):
        def forward(self, a, b):
            return a & b, a | 6, ~a, a ^ b, (a > 2) & (b > 2), a == 2.5

    a, b = ember.randint(0, 8, (2, 5)), ember.randint(0, 8, (2, 5))
    dyn = {"a": {1: "n"}, "b": {1: "n"}}
    _, sess = _export(Bits(), (a, b), ["a", "b"], None, dyn, 18)
    _compare(Bits(), sess, [(a, b), (ember.randint(0, 8, (2, 7)), ember.randint(0, 8, (2, 7)))])
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="opset 18"):
        _export(Bits(), (a, b), ["a", "b"], None, dyn, 17)


def test_lengths_mask_from_arange():
    """`pos >= lengths[:, None]` with pos = arange(x.size(1)): the arange follows the axis."""

    class Pool(nn.Module):
        def forward(self, x, lengths):
            pos = ember.arange(x.size(1))
            pad = pos[None, :] >= lengths[:, None]
            return x.masked_fill(pad[..., None], 0.0).sum(1) / lengths[:, None].float()

    x, ln = ember.randn(3, 5, 4), ember.tensor([5, 2, 3])
    dyn = {"x": {0: "b", 1: "s"}, "lengths": {0: "b"}}
    _, sess = _export(Pool(), (x, ln), ["x", "lengths"], ["y"], dyn)
    _compare(Pool(), sess, [(x, ln), (ember.randn(2, 8, 4), ember.tensor([8, 1]))])


def test_normal_path_records_nothing_and_tensorboard_names():
    """The tracer hook: off, a comparison calls nothing; on, it reports torch's aten name."""
    from ember.graph import node
    from ember.utils.tensorboard.graph import aten_kind

    seen = []

    class Rec:
        def record(self, cls, args, out, kw):
            seen.append((aten_kind(cls), len(args), out.dtype))

    a = ember.randn(3)
    _ = (a < 0) | (a > 1)
    assert seen == []
    node.tracer[0] = Rec()
    try:
        _ = ~((a < 0) | (a > 1))
    finally:
        node.tracer[0] = None
    assert [s[0] for s in seen] == ["aten::lt", "aten::gt", "aten::bitwise_or", "aten::bitwise_not"]
    assert all(s[2] == ember.bool for s in seen)


def test_in_place_writes_in_forward():
    """masked_fill_ / clamp_ (a primitive, then a copy into the storage) export as their results;
    a buffer written in place is a new constant; a write the tracer cannot see is an error, not a
    graph with the old value."""

    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("b", ember.ones(4))

        def forward(self, x):
            y = x * 2
            y.masked_fill_(x > 0.5, 0.0)
            y.clamp_(min=-1.0)
            z = y + self.b
            self.b.mul_(3)
            return z + self.b

    x = ember.randn(3, 4)
    m = InPlace()
    _, sess = _export(m, (x,), ["x"], ["y"], {"x": {0: "n"}, "y": {0: "n"}})
    m.b.fill_(1.0)
    for xi in (x, ember.randn(5, 4)):
        np.testing.assert_allclose(sess.run(None, {"x": xi.numpy()})[0], m(xi).numpy(), rtol=1e-6)
        m.b.fill_(1.0)

    class Untraced(nn.Module):
        def forward(self, x):
            y = x * 2
            y[:, 0] = 0.0  # under export's no_grad: written straight into the storage
            return y + 1

    with pytest.raises(
        ember.onnx.OnnxExporterError, match="written in place by an op the tracer does not see"
    ):
        ember.onnx.export(Untraced(), (x,), io.BytesIO())


def test_residual_in_place_add_exports():
    """`out += identity` (torchvision's BasicBlock) takes the recorded path under the tracer."""
    import ember.vision as tv

    m = tv.models.resnet18(num_classes=10).eval()
    x = ember.randn(2, 3, 32, 32)
    _, sess = _export(m, (x,), ["x"], ["y"], {"x": {0: "n"}, "y": {0: "n"}})
    for xi in (x, ember.randn(3, 3, 32, 32)):
        with ember.no_grad():
            want = m(xi).numpy()
        np.testing.assert_allclose(sess.run(None, {"x": xi.numpy()})[0], want, rtol=1e-4, atol=1e-5)
