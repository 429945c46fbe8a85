"""ember.onnx.export: exported models pass onnx.checker and give ember's (and torch's) outputs in
onnxruntime; dynamic batch axes; opsets; unsupported ops named in the error."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is an optional extra (pip install ember[onnx])")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
import torch  # noqa: E402

import ember  # noqa: E402
from ember import nn  # noqa: E402


def _run(model, x, opset=None, dynamic=True, atol=1e-5):
    buf = io.BytesIO()
    kw = {"dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}} if dynamic else {}
    prog = ember.onnx.export(
        model, (x,), buf, input_names=["x"], output_names=["y"], opset_version=opset, **kw
    )
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert proto == prog.model_proto
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    model.eval()
    xs = [x]
    if dynamic:
        xs.append(ember.cat([x, x[:1]]))  # another batch size through the same file
    for xi in xs:
        (got,) = sess.run(None, {"x": xi.numpy()})
        with ember.no_grad():
            want = model(xi).numpy()
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=atol)
    return proto


class LeNet(nn.Module):  # the notes' LeNet, with the view(x.size(0), -1) users write
    def __init__(self, act=nn.Sigmoid):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 6, 5), act(), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5), act(),
                                  nn.MaxPool2d(2, 2))  # fmt: skip
        self.fc = nn.Sequential(
            nn.Linear(16 * 4 * 4, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10)
        )

    def forward(self, img):
        feature = self.conv(img)
        return self.fc(feature.view(img.shape[0], -1))


def test_seed_models():
    ember.manual_seed(0)
    _run(nn.Linear(4, 1), ember.randn(3, 4))  # linear regression
    _run(nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Softmax(dim=1)), ember.randn(3, 3, 4))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    ember.onnx.export(mlp.train(), ember.randn(4, 1, 4, 4), io.BytesIO())  # traced in eval mode...
    assert mlp.training is True  # ... and the mode restored
    _run(mlp, ember.randn(4, 1, 4, 4))
    _run(LeNet(), ember.randn(2, 1, 28, 28))
    _run(LeNet(nn.ReLU), ember.randn(2, 1, 28, 28))


def test_lenet_matches_torch():
    ember.manual_seed(1)
    net = LeNet()
    tnet = torch.nn.Sequential()
    tnet.conv = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.Sigmoid(), torch.nn.MaxPool2d(2, 2),
                                    torch.nn.Conv2d(6, 16, 5), torch.nn.Sigmoid(), torch.nn.MaxPool2d(2, 2))  # fmt: skip
    tnet.fc = torch.nn.Sequential(torch.nn.Linear(256, 120), torch.nn.Sigmoid(), torch.nn.Linear(120, 84),
                                  torch.nn.Sigmoid(), torch.nn.Linear(84, 10))  # fmt: skip
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    buf = io.BytesIO()
    ember.onnx.export(net, ember.tensor(x), buf, input_names=["x"])
    (got,) = ort.InferenceSession(buf.getvalue()).run(None, {"x": x})
    with torch.no_grad():
        want = tnet.fc(tnet.conv(torch.tensor(x)).flatten(1)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


class Residual(nn.Module):  # d2l ResNet block
    def __init__(self, cin, cout, use_1x1=False, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv3 = nn.Conv2d(cin, cout, 1, stride=stride) if use_1x1 else None
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x):
        y = nn.functional.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return nn.functional.relu(y + (self.conv3(x) if self.conv3 is not None else x))


class Inception(nn.Module):  # d2l GoogLeNet block (concatenation)
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1 = nn.Conv2d(cin, c1, 1)
        self.p2 = nn.Sequential(nn.Conv2d(cin, c2[0], 1), nn.ReLU(), nn.Conv2d(c2[0], c2[1], 3, padding=1))
        self.p3 = nn.Sequential(nn.Conv2d(cin, c3[0], 1), nn.ReLU(), nn.Conv2d(c3[0], c3[1], 5, padding=2))
        self.p4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(cin, c4, 1))

    def forward(self, x):
        return ember.cat((nn.functional.relu(self.p1(x)), nn.functional.relu(self.p2(x)),
                          nn.functional.relu(self.p3(x)), nn.functional.relu(self.p4(x))), dim=1)  # fmt: skip


def test_book_cnns():
    ember.manual_seed(2)
    x = ember.randn(2, 3, 16, 16)
    alex = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(8, 8, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(), nn.Linear(72, 16), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(16, 10))  # fmt: skip
    _run(alex, x)
    nin = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                        nn.Conv2d(8, 10, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())  # fmt: skip
    _run(nin, x)
    res = nn.Sequential(Residual(3, 3), Residual(3, 6, use_1x1=True, stride=2), nn.AdaptiveAvgPool2d(2),
                        nn.Flatten(), nn.Linear(24, 4))  # fmt: skip
    for m in res.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    _run(res, x)
    _run(nn.Sequential(Inception(3, 4, (2, 4), (2, 4), 4), nn.AvgPool2d(3, 2, padding=1)), x)
    bn_mlp = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Sigmoid(), nn.Linear(8, 2))
    _run(bn_mlp, ember.randn(4, 6))
    pools = nn.Sequential(
        nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), nn.MaxPool2d(2, ceil_mode=True)
    )
    _run(pools, x)


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_activations_norms_and_opsets(opset):
    ember.manual_seed(3)

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.ln = nn.LayerNorm(6)
            self.lin = nn.Linear(6, 6)
            self.prelu = nn.PReLU()
            self.acts = nn.ModuleList([nn.LeakyReLU(0.1), nn.ELU(), nn.SELU(), nn.GELU(), nn.GELU("tanh"), nn.SiLU(),
                                       nn.Tanh(), nn.Softplus(beta=2.0), nn.Hardtanh(-0.5, 0.5), nn.ReLU6()])  # fmt: skip

        def forward(self, x):
            h = self.lin(self.ln(self.emb(x)))  # (N, T, 6): Linear on 3-d input
            outs = [a(h) for a in self.acts] + [self.prelu(h), h.clamp(min=-0.2), 1 - h, h / 2, h**2]
            y = ember.stack(outs, 0).sum(0)
            y = y[:, 1:, ::2].mean(dim=-1, keepdim=True) + y.amax(dim=1, keepdim=True)[..., :1]
            return nn.functional.log_softmax(y.permute(0, 2, 1).reshape(x.shape[0], -1), dim=1)

    proto = _run(Mixed(), ember.randint(0, 10, (3, 5)), opset=opset)
    ops = {n.op_type for n in proto.graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("LayerNormalization" in ops) == (opset >= 17)


def test_errors_name_the_op():
    class Cum(nn.Module):
        def forward(self, x):
            return x.cumsum(1)

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'Cumsum'"):
        ember.onnx.export(Cum(), ember.randn(2, 3), io.BytesIO())

    class Fancy(nn.Module):
        def forward(self, x):
            return x[ember.tensor([0, 0])]

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'GetItem'.*advanced indexing"):
        ember.onnx.export(Fancy(), ember.randn(2, 3), io.BytesIO())
    with pytest.raises(ValueError, match="Unsupported ONNX opset version: 9"):
        ember.onnx.export(nn.Linear(2, 2), ember.randn(1, 2), io.BytesIO(), opset_version=9)


def test_file_names_and_defaults(tmp_path):
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    path = tmp_path / "m.onnx"
    ember.onnx.export(net, (ember.randn(1, 3),), str(path), dynamic_axes={"input_0": [0]})
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["input_0"]
    assert [o.name for o in proto.graph.output] == ["output_0"]
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "input_0_dynamic_axes_1"  # torch's name for a list-form dynamic axis
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "0.bias"}
    assert ember.onnx.is_in_onnx_export() is False
