# ruff: noqa: UP008, UP031 -- the seed code is replayed as written (super(Cls, self), % formats)
"""Replays the nn / optim / data code examples of seed 001 (and 002's sin regression with SGD and
momentum) with ``import ember as torch`` and checks the results against real torch running the
same code.

Each seed block is written once as a function of the library module ``T`` (``T = ember`` or
``T = real torch``) so that the very same lines run in both. Where random initial values matter,
they are drawn once and copied across (NumPy arrays or ``state_dict`` NumPy copies). Typos in the
notes that real torch rejects too (``require_grad=``, ``torch.Parameter``, ``dim1``, ``W1`` for
``W2``, undefined ``label``/``feature``, the corr2d loop bounds...) are corrected, and a few of
them are checked to fail the same way in both libraries.
"""

from __future__ import annotations

import random
from collections import OrderedDict

import numpy as np
import pytest
import torch as real_torch

import ember

LIBS = pytest.mark.parametrize("T", [ember, real_torch], ids=["ember", "torch"])


def npy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def to_lib(T, a, **kw):
    return T.tensor(np.array(a), **kw)


def copy_module(src, dst):
    """Copy a module's parameters/buffers into a module of the other library (NumPy copies)."""
    T = real_torch if isinstance(dst, real_torch.nn.Module) else ember
    dst.load_state_dict(OrderedDict((k, T.tensor(npy(v).copy())) for k, v in src.state_dict().items()))


def both(fn, *args, **kw):
    """Run ``fn(T, ...)`` with ember and with real torch; returns (ember result, torch result)."""
    return fn(ember, *args, **kw), fn(real_torch, *args, **kw)


# ============================================================================================
# 3.2 linear regression from scratch


def linreg_scratch(T, seed=0):
    np.random.seed(seed)
    random.seed(seed)
    num_inputs = 2
    num_examples = 1000
    true_w = [2, -3.4]
    true_b = 4.2
    # the notes draw features with torch.randn; draw them with NumPy so both libraries agree
    features = T.tensor(np.random.randn(num_examples, num_inputs), dtype=T.float32)
    labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
    labels += T.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=T.float32)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            j = T.LongTensor(indices[i : min(i + batch_size, num_examples)])
            yield features.index_select(0, j), labels.index_select(0, j)

    w = T.tensor(np.random.normal(0, 0.01, (num_inputs, 1)), dtype=T.float32)
    b = T.zeros(1, dtype=T.float32)
    w.requires_grad_(requires_grad=True)
    b.requires_grad_(requires_grad=True)

    def linreg(X, w, b):
        return T.mm(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.view(y_hat.size())) ** 2 / 2

    def sgd(params, lr, batch_size):
        for param in params:
            param.data -= lr * param.grad / batch_size

    lr = 0.03
    num_epochs = 3
    batch_size = 10
    net = linreg
    loss = squared_loss
    printed = []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y).sum()
            l.backward()
            sgd([w, b], lr, batch_size)
            w.grad.data.zero_()
            b.grad.data.zero_()
        train_l = loss(net(features, w, b), labels)
        printed.append("epoch %d, loss %f" % (epoch + 1, train_l.mean().item()))
    return npy(w).copy(), npy(b).copy(), printed


def test_linreg_scratch_matches_torch():
    (we, be, pe), (wt, bt, pt) = both(linreg_scratch)
    np.testing.assert_allclose(we, wt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be, bt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(we.ravel(), [2, -3.4], atol=0.01)
    np.testing.assert_allclose(be, [4.2], atol=0.01)
    # printed epoch losses agree to the printed precision (or to float32 rounding of ~5e-5)
    for a, b in zip(pe, pt):
        assert abs(float(a.split()[-1]) - float(b.split()[-1])) <= 2e-6 + 1e-3 * float(b.split()[-1]), (a, b)


@LIBS
def test_notes_typo_require_grad_rejected(T):
    with pytest.raises(TypeError):
        T.zeros(1).requires_grad_(require_grad=True)


# ============================================================================================
# 3.3 linear regression, concise


def test_linreg_concise_reprs_and_training():
    def run(T):
        nn = T.nn
        Data = T.utils.data
        np.random.seed(1)
        num_inputs, true_w, true_b = 2, [2, -3.4], 4.2
        features = T.tensor(np.random.randn(1000, num_inputs), dtype=T.float32)
        labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
        labels += T.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=T.float32)

        batch_size = 10
        dataset = Data.TensorDataset(features, labels)
        data_iter = Data.DataLoader(dataset, batch_size, shuffle=True)

        class LinearNet(nn.Module):
            def __init__(self, n_feature):
                super(LinearNet, self).__init__()
                self.linear = nn.Linear(n_feature, 1)

            def forward(self, x):
                y = self.linear(x)
                return y

        reprs = [repr(LinearNet(num_inputs))]
        net = nn.Sequential(nn.Linear(num_inputs, 1))
        reprs.append(repr(net))
        net = nn.Sequential()
        net.add_module("linear", nn.Linear(num_inputs, 1))
        reprs.append(repr(net))
        net = nn.Sequential(OrderedDict([("linear", nn.Linear(num_inputs, 1))]))
        reprs.append(repr(net))
        net = nn.Sequential(nn.Linear(num_inputs, 1))

        from_init = T.nn.init
        from_init.normal_(net[0].weight, mean=0, std=0.01)
        from_init.constant_(net[0].bias, val=0)
        assert npy(net[0].bias).tolist() == [0.0]
        assert 0 < npy(net[0].weight).std() < 0.05
        loss = nn.MSELoss()
        optimizer = T.optim.SGD(net.parameters(), lr=0.03)
        reprs.append(repr(optimizer))
        num_epochs = 3
        for _epoch in range(1, num_epochs + 1):
            for X, y in data_iter:
                output = net(X)
                l = loss(output, y.view(-1, 1))
                optimizer.zero_grad()
                l.backward()
                optimizer.step()
        dense = net[0]
        batches = [(tuple(X.shape), tuple(y.shape)) for X, y in data_iter]
        return reprs, npy(dense.weight).copy(), npy(dense.bias).copy(), batches

    (re, we, be, bte), (rt, wt, bt, btt) = both(run)
    assert re == rt
    assert bte == btt and len(bte) == 100 and bte[0] == ((10, 2), (10,))
    # the two shuffles differ; both land on the least-squares answer up to SGD noise (~1e-3)
    np.testing.assert_allclose(we, wt, atol=0.01)
    np.testing.assert_allclose(be, bt, atol=0.01)
    np.testing.assert_allclose(we.ravel(), [2, -3.4], atol=0.01)


def test_parameter_print_matches_torch():
    tnet = real_torch.nn.Sequential(real_torch.nn.Linear(2, 1))
    enet = ember.nn.Sequential(ember.nn.Linear(2, 1))
    copy_module(tnet, enet)
    assert [str(p) for p in enet.parameters()] == [str(p) for p in tnet.parameters()]
    assert str(enet[0].weight).startswith("Parameter containing:\ntensor([[")


# ============================================================================================
# 3.6 / 3.7 softmax regression pieces


def test_softmax_and_cross_entropy_from_scratch_match_nn_loss():
    rng = np.random.RandomState(0)
    O, yv = rng.randn(6, 5).astype(np.float32), rng.randint(0, 5, 6)

    def run(T):
        def softmax(X):
            X_exp = X.exp()
            partition = X_exp.sum(dim=1, keepdim=True)
            return X_exp / partition

        def cross_entropy(y_hat, y):
            return -T.log(y_hat.gather(1, y.view(-1, 1)))

        def accuracy(y_hat, y):
            return (y_hat.argmax(dim=1) == y).float().mean().item()

        X, y = T.tensor(O, requires_grad=True), T.tensor(yv)
        p = softmax(X)
        l = cross_entropy(p, y)
        l.sum().backward()
        builtin = T.nn.CrossEntropyLoss()(X.detach(), y)
        return npy(p), npy(l), npy(X.grad), builtin.item(), accuracy(p, y), tuple(l.shape)

    (pe, le, ge, be, ae, se), (pt, lt, gt, bt, at, st) = both(run)
    np.testing.assert_allclose(pe, pt, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(pe.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(le, lt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ge, gt, rtol=1e-5, atol=1e-6)
    assert se == st == (6, 1)
    assert abs(be - bt) < 1e-6 and abs(le.mean() - be) < 1e-5
    assert ae == at


def test_softmax_concise_model_flatten_layer():
    def run(T):
        nn = T.nn

        class FlattenLayer(nn.Module):
            def __init__(self):
                super(FlattenLayer, self).__init__()

            def forward(self, x):
                return x.view(x.shape[0], -1)

        class LinearNet(nn.Module):
            def __init__(self, num_inputs, num_outputs):
                super(LinearNet, self).__init__()
                self.linear = nn.Linear(num_inputs, num_outputs)

            def forward(self, x):
                return self.linear(x.view(x.shape[0], -1))

        net = nn.Sequential(OrderedDict([("flatten", FlattenLayer()), ("Linear", nn.Linear(784, 10))]))
        with pytest.raises(AttributeError):
            net.linear  # noqa: B018 - the notes' `net.linear` (the key is 'Linear') fails in torch too
        nn.init.normal_(net.Linear.weight, mean=0, std=0.01)
        nn.init.constant_(net.Linear.bias, val=0)
        X = T.tensor(np.linspace(0, 1, 3 * 784, dtype=np.float32).reshape(3, 1, 28, 28))
        return repr(net), repr(LinearNet(784, 10)), tuple(net(X).shape), tuple(net.flatten(X).shape)

    assert run(ember) == run(real_torch)


# ============================================================================================
# 3.9 / 3.10 MLP


def test_mlp_scratch_relu_and_net():
    rng = np.random.RandomState(0)
    W1v, W2v = rng.normal(0, 0.01, (784, 256)), rng.normal(0, 0.01, (256, 10))
    Xv = rng.rand(4, 1, 28, 28).astype(np.float32)

    def run(T):
        num_inputs, num_outputs, num_hiddens = 784, 10, 256
        W1 = T.tensor(W1v, dtype=T.float)
        b1 = T.zeros(num_hiddens, dtype=T.float)
        W2 = T.tensor(W2v, dtype=T.float)
        b2 = T.zeros(num_outputs, dtype=T.float)
        params = [W1, b1, W2, b2]
        for param in params:
            param.requires_grad_(requires_grad=True)

        def relu(X):
            return T.max(input=X, other=T.tensor(0.0))

        def net(X):
            X = X.view((-1, num_inputs))
            H = relu(T.matmul(X, W1) + b1)
            return T.matmul(H, W2) + b2

        def net_with_typo(X):
            X = X.view((-1, num_inputs))
            H = relu(T.matmul(X, W1) + b1)
            return T.matmul(H, W1) + b2  # as printed in the notes

        X, y = T.tensor(Xv), T.tensor([0, 1, 2, 3])
        with pytest.raises(RuntimeError):
            net_with_typo(X)
        r = relu(T.tensor([-1.0, 0.0, 2.0]))
        loss = T.nn.CrossEntropyLoss()
        l = loss(net(X), y)
        l.backward()
        return npy(r).tolist(), l.item(), [npy(p.grad).copy() for p in params]

    (re, le, ge), (rt, lt, gt) = both(run)
    assert re == rt == [0.0, 0.0, 2.0]
    assert abs(le - lt) <= 1e-6 * abs(lt)
    for a, b in zip(ge, gt):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-8)


# ============================================================================================
# 4.1 model construction


def build_models(T):
    nn = T.nn
    num_inputs, num_hidden, num_outputs = 784, 256, 10

    class MLP(nn.Module):
        def __init__(self, **kwargs):
            super(MLP, self).__init__(**kwargs)
            self.hidden = nn.Linear(784, 256)
            self.act = nn.ReLU()
            self.output = nn.Linear(256, 10)

        def forward(self, x):
            a = self.act(self.hidden(x))
            return self.output(a)

    class MyModule(nn.Module):
        def __init__(self):
            super(MyModule, self).__init__()
            self.linears = nn.ModuleList([nn.Linear(num_inputs, num_hidden), nn.ReLU()])
            self.linears.append(nn.Linear(num_hidden, num_outputs))

        def forward(self, x):
            h = self.linears[0](x)
            h = self.linears[1](h)
            o = self.linears[2](h)
            return o

    seq_dict = nn.Sequential(
        OrderedDict(
            [
                ("hidden", nn.Linear(num_inputs, num_hidden)),
                ("ReLU", nn.ReLU()),
                ("output", nn.Linear(num_hidden, num_outputs)),
            ]
        )
    )
    seq = nn.Sequential(
        nn.Linear(num_inputs, num_hidden),
        nn.ReLU(),
        nn.Linear(num_hidden, num_outputs),
    )
    mdict = nn.ModuleDict({"linear": nn.Linear(num_inputs, num_hidden), "act": nn.ReLU()})
    mdict["output"] = nn.Linear(num_hidden, num_outputs)
    return {"MLP": MLP(), "seq_dict": seq_dict, "seq": seq, "MyModule": MyModule(), "ModuleDict": mdict}


def test_model_construction_reprs_names_and_outputs():
    em, tm = both(build_models)
    X = np.random.RandomState(0).rand(2, 784).astype(np.float32)
    for key in tm:
        e, t = em[key], tm[key]
        assert repr(e) == repr(t), key
        assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == [
            (n, tuple(p.shape)) for n, p in t.named_parameters()
        ], key
        assert all(isinstance(p, ember.nn.Parameter) for p in e.parameters())
        assert type(next(e.parameters())).__name__ == "Parameter"
        copy_module(t, e)
        if key != "ModuleDict":
            np.testing.assert_allclose(
                npy(e(ember.tensor(X))), npy(t(real_torch.tensor(X))), rtol=1e-5, atol=1e-6
            )
    assert list(em["ModuleDict"].keys()) == ["linear", "act", "output"]
    assert isinstance(em["MyModule"].linears[2], ember.nn.Linear)


# ============================================================================================
# 4.2 parameter access, initialisation, sharing


def test_param_access_and_init_examples():
    def run(T):
        nn, init = T.nn, T.nn.init
        T.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
        names = [(name, tuple(param.size()), type(param).__name__) for name, param in net.named_parameters()]
        for name, param in net.named_parameters():
            if "weight" in name:
                init.normal_(param, mean=0, std=0.01)
        stds = [float(npy(p).std()) for n, p in net.named_parameters() if "weight" in n]
        for name, param in net.named_parameters():
            if "weight" in name:
                init.constant_(param, val=0)
        zeros = [npy(p).tolist() for n, p in net.named_parameters() if "weight" in n]
        biases_kept = [bool((npy(p) != 0).any()) for n, p in net.named_parameters() if "bias" in n]

        def init_weight_(tensor):  # the corrected custom init of the notes' chapter
            with T.no_grad():
                tensor.uniform_(-10, 10)
                tensor *= (tensor.abs() >= 5).float()

        for name, param in net.named_parameters():
            if "weight" in name:
                init_weight_(param)
        w = npy(net[0].weight)
        custom_ok = bool(((w == 0) | (np.abs(w) >= 5)).all()) and bool((np.abs(w) <= 10).all())
        for name, param in net.named_parameters():
            if "bias" in name:
                param.data += 1  # changing .data leaves autograd out of it
        leaf = net[0].bias.is_leaf and net[0].bias.grad_fn is None and net[0].bias.requires_grad
        with T.no_grad():
            net[2].weight.fill_(1)  # the notes' "set everything to 1" done the working way
        return names, zeros, biases_kept, custom_ok, leaf, npy(net[2].weight).tolist(), stds

    (ne, ze, be, ce, le, oe, se), (nt, zt, bt, ct, lt, ot, st) = both(run)
    assert ne == nt
    assert ze == zt and be == bt == [True, True]
    assert ce and ct and le and lt
    assert oe == ot == [[1.0, 1.0, 1.0]]
    assert all(0.0 < s < 0.03 for s in se)


@LIBS
def test_shared_parameters_grad_accumulates_twice(T):
    nn = T.nn
    linear = nn.Linear(1, 1, bias=False)
    net = nn.Sequential(linear, linear)
    assert (
        repr(net)
        == "Sequential(\n  (0): Linear(in_features=1, out_features=1, bias=False)\n  (1): Linear(in_features=1, out_features=1, bias=False)\n)"
    )
    assert [n for n, _ in net.named_parameters()] == ["0.weight"]
    assert id(net[0]) == id(net[1]) and id(net[0].weight) == id(net[1].weight)
    nn.init.constant_(linear.weight, val=3.0)
    x = T.ones(1, 1)
    y = net(x).sum()
    assert y.item() == 9.0
    y.backward()
    assert net[0].weight.grad.item() == 6.0  # d(w*w*x)/dw = 2wx, accumulated from both uses


# ============================================================================================
# 4.4 custom layers


def custom_layers(T):
    nn = T.nn

    class CenteredLayer(nn.Module):
        def __init__(self, **kwargs):
            super(CenteredLayer, self).__init__(**kwargs)

        def forward(self, x):
            return x - x.mean()

    class MyDense(nn.Module):
        def __init__(self):
            super(MyDense, self).__init__()
            self.params = nn.ParameterList([nn.Parameter(T.randn(4, 4)) for i in range(3)])
            self.params.append(nn.Parameter(T.randn(4, 1)))

        def forward(self, x):
            for i in range(len(self.params)):
                x = T.mm(x, self.params[i])
            return x

    class MyDictDense(nn.Module):
        def __init__(self):
            super(MyDictDense, self).__init__()
            self.params = nn.ParameterDict(
                {"linear1": nn.Parameter(T.randn(4, 4)), "linear2": nn.Parameter(T.randn(4, 1))}
            )
            self.params.update({"linear3": nn.Parameter(T.randn(4, 2))})

        def forward(self, x, choice="linear1"):
            return T.mm(x, self.params[choice])

    return CenteredLayer, MyDense, MyDictDense


def test_custom_layers():
    (Ce, De, DDe), (Ct, Dt, DDt) = both(custom_layers)
    layer = Ce()
    assert npy(layer(ember.tensor([1, 2, 3, 4, 5], dtype=ember.float))).tolist() == [
        -2.0,
        -1.0,
        0.0,
        1.0,
        2.0,
    ]
    net_e = ember.nn.Sequential(ember.nn.Linear(8, 128), Ce())
    net_t = real_torch.nn.Sequential(real_torch.nn.Linear(8, 128), Ct())
    copy_module(net_t, net_e)
    xv = np.random.RandomState(0).rand(4, 8).astype(np.float32)
    ye = net_e(ember.tensor(xv))
    assert abs(ye.mean().item()) < 1e-6
    np.testing.assert_allclose(npy(ye), npy(net_t(real_torch.tensor(xv))), rtol=1e-4, atol=1e-6)

    x4 = np.ones((1, 4), np.float32)
    reprs = []  # compared last, so a repr difference does not hide value/grad checks
    for cls_e, cls_t in ((De, Dt), (DDe, DDt)):
        ne, nt = cls_e(), cls_t()
        reprs.append((repr(ne), repr(nt)))
        assert [(n, tuple(p.shape)) for n, p in ne.named_parameters()] == [
            (n, tuple(p.shape)) for n, p in nt.named_parameters()
        ]
        copy_module(nt, ne)
        if cls_e is De:
            pairs = [(ne(ember.tensor(x4)), nt(real_torch.tensor(x4)))]
        else:
            pairs = [
                (ne(ember.tensor(x4), c), nt(real_torch.tensor(x4), c))
                for c in ("linear1", "linear2", "linear3")
            ]
        for a, b in pairs:
            np.testing.assert_allclose(npy(a), npy(b), rtol=1e-5, atol=1e-5)
            a.sum().backward()
            b.sum().backward()
        for (n1, p1), (_n2, p2) in zip(ne.named_parameters(), nt.named_parameters()):
            np.testing.assert_allclose(npy(p1.grad), npy(p2.grad), rtol=1e-5, atol=1e-5, err_msg=n1)
    # a custom layer inside a Sequential
    seq_e, seq_t = ember.nn.Sequential(DDe(), De()), real_torch.nn.Sequential(DDt(), Dt())
    reprs.append((repr(seq_e), repr(seq_t)))
    for e, t in reprs:
        assert e == t


# ============================================================================================
# 4.5 save and load


def test_save_load_tensors_lists_dicts(tmp_path):
    x = ember.ones(3)
    ember.save(x, tmp_path / "x.pt")
    x2 = ember.load(tmp_path / "x.pt")
    assert isinstance(x2, ember.Tensor) and x2.dtype == ember.float32 and npy(x2).tolist() == [1.0, 1.0, 1.0]
    y = ember.zeros(4)
    ember.save([x, y], str(tmp_path / "xy.pt"))
    xy = ember.load(str(tmp_path / "xy.pt"))
    assert isinstance(xy, list) and [npy(t).tolist() for t in xy] == [[1.0] * 3, [0.0] * 4]
    ember.save({"x": x, "y": y}, tmp_path / "xy_dict.pt")
    d = ember.load(tmp_path / "xy_dict.pt")
    assert list(d) == ["x", "y"] and npy(d["y"]).tolist() == [0.0] * 4
    # the files are torch's format: real torch reads them
    dt = real_torch.load(tmp_path / "xy_dict.pt")
    assert dt["x"].tolist() == [1.0, 1.0, 1.0] and dt["y"].dtype == real_torch.float32


def test_save_load_state_dict_and_model(tmp_path):
    def make(T):
        class MLP(T.nn.Module):
            def __init__(self):
                super(MLP, self).__init__()
                self.hidden = T.nn.Linear(3, 2)
                self.act = T.nn.ReLU()
                self.output = T.nn.Linear(2, 1)

            def forward(self, x):
                a = self.act(self.hidden(x))
                return self.output(a)

        return MLP

    MLPe, MLPt = both(make)
    X = ember.randn(2, 3)
    net = MLPe()
    Y = net(X)
    sd = net.state_dict()
    assert list(sd.keys()) == ["hidden.weight", "hidden.bias", "output.weight", "output.bias"]
    assert list(sd.keys()) == list(MLPt().state_dict().keys())
    opt = ember.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    assert opt.state_dict()["param_groups"][0]["lr"] == 0.001
    ember.save(net.state_dict(), tmp_path / "mlp.params")
    clone = MLPe()
    clone.load_state_dict(ember.load(tmp_path / "mlp.params"))
    np.testing.assert_array_equal(npy(clone(X)), npy(Y))
    # the state_dict file loads into the same model built with real torch
    tnet = MLPt()
    tnet.load_state_dict(real_torch.load(tmp_path / "mlp.params"))
    np.testing.assert_allclose(npy(tnet(real_torch.tensor(npy(X)))), npy(Y), rtol=1e-6, atol=1e-7)
    # whole-model save/load (pickling needs an importable class, as in torch)
    net = SavedMLP()
    Y = net(X)
    ember.save(net, tmp_path / "model.pt")
    model = ember.load(tmp_path / "model.pt", weights_only=False)
    assert type(model) is SavedMLP and repr(model) == repr(net)
    np.testing.assert_array_equal(npy(model(X)), npy(Y))


class SavedMLP(ember.nn.Module):
    def __init__(self):
        super(SavedMLP, self).__init__()
        self.hidden = ember.nn.Linear(3, 2)
        self.act = ember.nn.ReLU()
        self.output = ember.nn.Linear(2, 1)

    def forward(self, x):
        return self.output(self.act(self.hidden(x)))


# ============================================================================================
# 4.6 GPU / device snippets


def test_gpu_info_matches_torch_on_this_machine():
    # this test machine has no CUDA for real torch; ember must not claim one either unless CuPy
    # sees a GPU (then the device path below runs on it)
    if not ember.cuda.is_available():
        assert ember.cuda.device_count() == 0
        assert ember.cuda.is_available() == real_torch.cuda.is_available()
    device = ember.device("cuda" if ember.cuda.is_available() else "cpu")
    x = ember.tensor([1, 2, 3], device=device)
    x2 = ember.tensor([1.0, 2.0]).to(device)
    net = ember.nn.Linear(1, 1)
    net = net.to(device)
    out = net(ember.ones(2, 1, device=device))
    expected = "cuda:0" if ember.cuda.is_available() else "cpu"
    assert str(x.device) == str(x2.device) == str(out.device) == str(net.weight.device) == expected
    assert str(ember.device("cuda")) == str(real_torch.device("cuda")) == "cuda"
    assert ember.device("cpu").type == "cpu"
    assert (x * x).sum().item() == 14


def test_cuda_calls_without_gpu_raise_like_torch():
    if ember.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the no-GPU error path does not apply")
    for call in (
        lambda M: M.ones(2).cuda(),
        lambda M: M.nn.Linear(1, 1).cuda(),
        lambda M: M.cuda.current_device(),
    ):
        with pytest.raises((AssertionError, RuntimeError)) as t:
            call(real_torch)
        with pytest.raises((AssertionError, RuntimeError)) as e:
            call(ember)
        assert "not compiled with CUDA" in str(t.value) and "CUDA" in str(e.value)


# ============================================================================================
# 5.1 2-D cross-correlation


def corr2d_lib(T):
    def corr2d(X, K):
        h, w = K.shape
        Y = T.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
        for i in range(Y.shape[0]):  # the notes loop over the kernel size, an indexing typo
            for j in range(Y.shape[1]):
                Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
        return Y

    class Conv2D(T.nn.Module):
        def __init__(self, kernel_size):
            super(Conv2D, self).__init__()
            self.weight = T.nn.Parameter(T.randn(kernel_size))  # `torch.Parameter` in the notes
            self.bias = T.nn.Parameter(T.randn(1))

        def forward(self, x):
            return corr2d(x, self.weight) + self.bias

    return corr2d, Conv2D


@LIBS
def test_corr2d_example(T):
    corr2d, _ = corr2d_lib(T)
    X = T.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = T.tensor([[0, 1], [2, 3]])
    assert corr2d(X, K).tolist() == [[19.0, 25.0], [37.0, 43.0]]
    X = T.ones(6, 8)
    X[:, 2:6] = 0
    K = T.tensor([[1, -1]])
    Y = corr2d(X, K)
    assert Y.tolist() == [[0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]] * 6
    assert not hasattr(T, "Parameter") or T is ember  # the notes' `torch.Parameter` is not torch's


def test_conv2d_learns_edge_kernel_like_torch():
    def run(T, w0, b0):
        corr2d, Conv2D = corr2d_lib(T)
        X = T.ones(6, 8)
        X[:, 2:6] = 0
        K = T.tensor([[1, -1]])
        Y = corr2d(X, K)
        conv2d = Conv2D(kernel_size=(1, 2))
        with T.no_grad():
            conv2d.weight.copy_(T.tensor(w0))
            conv2d.bias.copy_(T.tensor(b0))
        step, lr, losses = 20, 0.01, []
        for _i in range(step):
            Y_hat = conv2d(X)
            l = ((Y_hat - Y) ** 2).sum()
            l.backward()
            conv2d.weight.data -= lr * conv2d.weight.grad
            conv2d.bias.data -= lr * conv2d.bias.grad
            conv2d.weight.grad.fill_(0)
            conv2d.bias.grad.fill_(0)
            losses.append(l.item())
        return npy(conv2d.weight).copy(), npy(conv2d.bias).copy(), losses

    rng = np.random.RandomState(0)
    w0, b0 = rng.randn(1, 2).astype(np.float32), rng.randn(1).astype(np.float32)
    (we, be, le), (wt, bt, lt) = both(run, w0, b0)
    np.testing.assert_allclose(le, lt, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(we, wt, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(be, bt, rtol=1e-4, atol=1e-6)
    assert le[-1] < 0.1 * le[0]
    np.testing.assert_allclose(we, [[1.0, -1.0]], atol=0.25)


# ============================================================================================
# 5.2 padding and stride


@LIBS
def test_padding_and_stride_output_shapes(T):
    nn = T.nn

    def comp_conv2d(conv2d, X):
        X = X.view((1, 1) + X.shape)
        Y = conv2d(X)
        return Y.view(Y.shape[2:])

    X = T.rand(8, 8)
    cases = [
        (nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, padding=1), (8, 8)),
        (nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(5, 3), padding=(2, 1)), (8, 8)),
        (nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2), (4, 4)),
        (nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)), (2, 2)),
        (nn.Conv2d(1, 1, kernel_size=5), (4, 4)),  # n - k + 1
    ]
    for conv, shape in cases:
        assert tuple(comp_conv2d(conv, X).shape) == shape, conv


def test_conv2d_layer_values_match_torch():
    tconv = real_torch.nn.Conv2d(3, 4, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
    econv = ember.nn.Conv2d(3, 4, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
    assert repr(econv) == repr(tconv)
    copy_module(tconv, econv)
    xv = np.random.RandomState(0).rand(2, 3, 11, 13).astype(np.float32)
    xe, xt = ember.tensor(xv, requires_grad=True), real_torch.tensor(xv, requires_grad=True)
    ye, yt = econv(xe), tconv(xt)
    np.testing.assert_allclose(npy(ye), npy(yt), rtol=1e-5, atol=1e-5)
    (ye**2).sum().backward()
    (yt**2).sum().backward()
    np.testing.assert_allclose(npy(xe.grad), npy(xt.grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(npy(econv.weight.grad), npy(tconv.weight.grad), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(npy(econv.bias.grad), npy(tconv.bias.grad), rtol=1e-4, atol=1e-4)


# ============================================================================================
# 5.3 multiple input / output channels


def multi_channel(T):
    corr2d, _ = corr2d_lib(T)

    def corr2d_multi_in(X, K):
        res = corr2d(X[0, :, :], K[0, :, :])
        for i in range(1, X.shape[0]):
            res += corr2d(X[i, :, :], K[i, :, :])
        return res

    def corr2d_multi_in_out(X, K):
        return T.stack([corr2d_multi_in(X, k) for k in K])

    def corr2d_multi_in_out_1x1(X, K):
        c_i, h, w = X.shape
        c_o = K.shape[0]
        X = X.view(c_i, h * w)
        K = K.view(c_o, c_i)
        Y = T.mm(K, X)
        return Y.view(c_o, h, w)

    X = T.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    K = T.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    one = corr2d_multi_in(X, K).tolist()
    K3 = T.stack([K, K + 1, K + 2])
    three = corr2d_multi_in_out(X, K3)
    Xr = T.tensor(np.random.RandomState(0).rand(3, 3, 3).astype(np.float32))
    Kr = T.tensor(np.random.RandomState(1).rand(2, 3, 1, 1).astype(np.float32))
    Y1 = corr2d_multi_in_out_1x1(Xr, Kr)
    Y2 = corr2d_multi_in_out(Xr, Kr)
    builtin = T.nn.functional.conv2d(X.float().unsqueeze(0), K3.float())
    return one, tuple(K3.shape), npy(three), npy(Y1), npy(Y2), npy(builtin)[0]


def test_multi_channel_corr2d():
    (oe, ke, te, y1e, y2e, be), (ot, kt, tt, y1t, y2t, bt) = both(multi_channel)
    assert oe == ot == [[56.0, 72.0], [104.0, 120.0]]
    assert ke == kt == (3, 2, 2, 2)
    np.testing.assert_array_equal(te, tt)
    np.testing.assert_array_equal(te[1], [[76.0, 100.0], [148.0, 172.0]])
    np.testing.assert_allclose(y1e, y2e, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y1e, y1t, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(be, te)  # conv2d is the same cross-correlation


# ============================================================================================
# 5.4 pooling


def pooling(T):
    nn = T.nn

    def pool2d(X, pool_size, mode="max"):
        X = X.float()
        p_h, p_w = pool_size
        Y = T.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1)
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                if mode == "max":
                    Y[i, j] = X[i : i + p_h, j : j + p_w].max()
                elif mode == "avg":
                    Y[i, j] = X[i : i + p_h, j : j + p_w].mean()
        return Y

    X = T.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    out = [pool2d(X, (2, 2)).tolist(), pool2d(X, (2, 2), "avg").tolist()]
    X = T.arange(16, dtype=T.float).view((1, 1, 4, 4))
    out.append(nn.MaxPool2d(3)(X).tolist())
    out.append(nn.MaxPool2d(3, padding=1, stride=2)(X).tolist())
    out.append(nn.MaxPool2d((2, 4), padding=(1, 2), stride=(2, 3))(X).tolist())
    X = T.cat((X, X + 1), dim=1)
    out.append(nn.MaxPool2d(3, padding=1, stride=2)(X).tolist())
    out.append(nn.AvgPool2d(3, padding=1, stride=2)(X).tolist())
    out.append(repr(nn.MaxPool2d(2, 2)))
    return out


def test_pooling_examples():
    oe, ot = both(pooling)
    assert oe[0] == [[4.0, 5.0], [7.0, 8.0]]
    assert oe[1] == [[2.0, 3.0], [5.0, 6.0]]
    assert oe[2] == [[[[10.0]]]]
    assert oe[3] == [[[[5.0, 7.0], [13.0, 15.0]]]]
    for a, b in zip(oe, ot):
        if isinstance(b, str):
            assert a == b
        else:
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6)


# ============================================================================================
# 5.5 LeNet


def lenet_cls(T):
    nn = T.nn

    class LeNet(nn.Module):
        def __init__(self):
            super(LeNet, self).__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(1, 6, 5),
                nn.Sigmoid(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(6, 16, 5),
                nn.Sigmoid(),
                nn.MaxPool2d(2, 2),
            )
            self.fc = nn.Sequential(
                nn.Linear(16 * 4 * 4, 120),
                nn.Sigmoid(),
                nn.Linear(120, 84),
                nn.Sigmoid(),
                nn.Linear(84, 10),
            )

        def forward(self, img):
            feature = self.conv(img)
            output = self.fc(feature.view(img.shape[0], -1))
            return output

    return LeNet


def test_lenet_print_shapes_and_forward_backward():
    LeNete, LeNett = both(lenet_cls)
    ne, nt = LeNete(), LeNett()
    assert repr(ne) == repr(nt)
    assert [(n, tuple(p.shape)) for n, p in ne.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in nt.named_parameters()
    ]
    assert sum(p.numel() for p in ne.parameters()) == sum(p.numel() for p in nt.parameters()) == 44426
    copy_module(nt, ne)
    xv = np.random.RandomState(0).rand(3, 1, 28, 28).astype(np.float32)
    xe, xt = ember.tensor(xv), real_torch.tensor(xv)
    shapes_e, shapes_t = [], []
    he, ht = xe, xt
    for le_, lt_ in zip(ne.conv, nt.conv):
        he, ht = le_(he), lt_(ht)
        shapes_e.append((type(le_).__name__, tuple(he.shape)))
        shapes_t.append((type(lt_).__name__, tuple(ht.shape)))
    assert shapes_e == shapes_t
    assert shapes_e[-1] == ("MaxPool2d", (3, 16, 4, 4))
    ye, yt = ne(xe), nt(xt)
    np.testing.assert_allclose(npy(ye), npy(yt), rtol=1e-5, atol=1e-6)
    y = [0, 1, 2]
    le = ember.nn.CrossEntropyLoss()(ye, ember.tensor(y))
    lt = real_torch.nn.CrossEntropyLoss()(yt, real_torch.tensor(y))
    assert abs(le.item() - lt.item()) <= 1e-6 * lt.item()
    le.backward()
    lt.backward()
    for (n, pe), (_, pt) in zip(ne.named_parameters(), nt.named_parameters()):
        np.testing.assert_allclose(npy(pe.grad), npy(pt.grad), rtol=1e-4, atol=1e-7, err_msg=n)


# ============================================================================================
# 3.13 dropout


def dropout_lib(T):
    def dropout(X, drop_prob):
        X = X.float()
        assert 0 <= drop_prob <= 1
        keep_prob = 1 - drop_prob
        if keep_prob == 0:
            return T.zeros_like(X)
        mask = (T.rand(X.shape) < keep_prob).float()
        return mask * X / keep_prob

    return dropout


@LIBS
def test_dropout_from_scratch(T):
    dropout = dropout_lib(T)
    X = T.arange(16).view(2, 8)
    assert dropout(X, 0).tolist() == X.float().tolist()
    assert dropout(X, 1).tolist() == [[0.0] * 8] * 2
    assert dropout(X, 0).dtype == T.float32
    T.manual_seed(0)
    big = T.arange(1, 200001).float()
    out = dropout(big, 0.5)
    o, b = npy(out), npy(big)
    kept = o != 0
    np.testing.assert_allclose(o[kept], 2 * b[kept], rtol=1e-6)
    frac = kept.mean()
    assert abs(frac - 0.5) < 5 * np.sqrt(0.25 / b.size), frac  # 5 sigma of a Binomial(n, 1/2)
    with pytest.raises(AssertionError):
        dropout(X, 1.5)


@LIBS
def test_nn_dropout_train_and_eval(T):
    T.manual_seed(0)
    drop = T.nn.Dropout(0.2)
    assert repr(drop) == "Dropout(p=0.2, inplace=False)"
    x = T.ones(100000)
    y = drop(x)
    kept = npy(y) != 0
    np.testing.assert_allclose(npy(y)[kept], 1 / 0.8, rtol=1e-6)
    assert abs(kept.mean() - 0.8) < 5 * np.sqrt(0.16 / x.numel())
    drop.eval()
    assert drop(x) is x or bool((drop(x) == x).all())
    net = T.nn.Sequential(T.nn.Linear(4, 4), T.nn.Dropout(0.5))
    net.eval()
    assert not net[1].training and not net.training
    net.train()
    assert net[1].training


# ============================================================================================
# 3.12 weight decay


def weight_decay_run(T, data, wd, use_optimizer, num_epochs=10):
    Xtr, ytr, w0 = data
    n_train, num_inputs = Xtr.shape
    batch_size, lr = 1, 0.003
    features, labels = T.tensor(Xtr), T.tensor(ytr)
    order = np.random.RandomState(0)

    def linreg(X, w, b):
        return T.mm(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.view(y_hat.size())) ** 2 / 2

    def l2_penalty(w):
        return (w**2).sum() / 2

    def sgd(params, lr, batch_size):
        for param in params:
            param.data -= lr * param.grad / batch_size

    if not use_optimizer:
        w = T.tensor(w0, requires_grad=True)
        b = T.zeros(1, requires_grad=True)
    else:
        net = T.nn.Linear(num_inputs, 1)
        with T.no_grad():
            net.weight.copy_(T.tensor(w0.T))
            net.bias.zero_()
        optimizer_w = T.optim.SGD(params=[net.weight], lr=lr, weight_decay=wd)
        optimizer_b = T.optim.SGD(params=[net.bias], lr=lr)
    losses, first_grad = [], None
    for _ in range(num_epochs):
        for i in order.permutation(n_train):
            X, y = features[i : i + 1], labels[i : i + 1]
            if not use_optimizer:
                l = squared_loss(linreg(X, w, b), y) + wd * l2_penalty(w)
                l = l.sum()
                if w.grad is not None:
                    w.grad.data.zero_()
                    b.grad.data.zero_()
                l.backward()
                if first_grad is None:
                    first_grad = npy(w.grad).copy()
                sgd([w, b], lr, batch_size)
            else:
                l = squared_loss(net(X), y).mean()
                optimizer_w.zero_grad()
                optimizer_b.zero_grad()
                l.backward()
                if first_grad is None:
                    first_grad = npy(net.weight.grad).T + wd * w0  # what weight_decay adds
                optimizer_w.step()
                optimizer_b.step()
        if not use_optimizer:
            losses.append(squared_loss(linreg(features, w, b), labels).mean().item())
        else:
            losses.append(squared_loss(net(features), labels).mean().item())
    wf = npy(w).copy() if not use_optimizer else npy(net.weight).T.copy()
    return wf, losses, first_grad


def test_weight_decay_scratch_vs_optimizer():
    rng = np.random.RandomState(0)
    n_train, num_inputs = 20, 200
    true_w, true_b = np.ones((num_inputs, 1)) * 0.01, 0.05
    Xtr = rng.randn(n_train, num_inputs).astype(np.float32)
    ytr = (Xtr @ true_w + true_b + rng.normal(0, 0.01, (n_train, 1))).ravel().astype(np.float32)
    w0 = rng.randn(num_inputs, 1).astype(np.float32)
    data = (Xtr, ytr, w0)
    # from-scratch L2 penalty: gradient is X^T (Xw + b - y) + lambda w for one sample
    x0 = Xtr[np.random.RandomState(0).permutation(n_train)[0]]
    y0 = ytr[np.random.RandomState(0).permutation(n_train)[0]]
    expected_grad = (x0 @ w0 - y0)[0] * x0[:, None] + 3.0 * w0
    results = {}
    for T in (ember, real_torch):
        for wd in (0.0, 3.0):
            for opt in (False, True):
                results[T.__name__, wd, opt] = weight_decay_run(T, data, wd, opt)
    for key, (w, losses, g) in results.items():
        if key[1] == 3.0:
            np.testing.assert_allclose(g, expected_grad, rtol=1e-4, atol=1e-4, err_msg=str(key))
        tw, tl, _ = results["torch", key[1], key[2]]
        np.testing.assert_allclose(w, tw, rtol=1e-4, atol=1e-5, err_msg=str(key))
        np.testing.assert_allclose(losses, tl, rtol=1e-4, atol=1e-6, err_msg=str(key))
        # scratch penalty and optimizer weight_decay give the same trajectory
        sw, sl, _ = results[key[0], key[1], not key[2]]
        np.testing.assert_allclose(w, sw, rtol=1e-3, atol=1e-4, err_msg=str(key))
    # weight decay shrinks the weights and keeps training error from collapsing to zero
    assert np.linalg.norm(results["ember", 3.0, True][0]) < 0.5 * np.linalg.norm(
        results["ember", 0.0, True][0]
    )
    assert results["ember", 0.0, False][1][-1] < results["ember", 3.0, False][1][-1]


# ============================================================================================
# seed 002: sin regression with SGD, then with momentum


def sin_regression(T, init_from, momentum):
    np.random.seed(1)
    X = np.sort(5 * np.random.rand(100, 1), axis=0)
    y = np.sin(X).ravel()
    X_tensor = T.from_numpy(X).float()
    y_tensor = T.from_numpy(y).float()
    input_dim, hidden_dim, output_dim = 1, 10, 1
    model = T.nn.Sequential(
        T.nn.Linear(input_dim, hidden_dim), T.nn.ReLU(), T.nn.Linear(hidden_dim, output_dim)
    )
    if init_from is not None:
        copy_module(init_from, model)
    learning_rate = 0.1
    criterion = T.nn.MSELoss()
    if momentum:
        optimizer = T.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
    else:
        optimizer = T.optim.SGD(model.parameters(), lr=learning_rate)
    num_epochs = 100
    training_losses, validation_losses = [], []
    for epoch in range(num_epochs):
        model.train()
        optimizer.zero_grad()
        y_pred = model(X_tensor)
        loss = criterion(y_pred, y_tensor)  # (100, 1) vs (100,) broadcasts, with torch's warning
        loss.backward()
        optimizer.step()
        if epoch % 10 == 0:
            model.eval()
            val_y_pred = model(X_tensor)
            validation_loss = criterion(val_y_pred, y_tensor)
            validation_losses.append(validation_loss.item())
        training_losses.append(loss.item())
    with T.no_grad():
        test_X_tensor = T.from_numpy(np.array([[6.5]])).float()
        pred_y = model(test_X_tensor).item()
    return model, training_losses, validation_losses, pred_y


@pytest.mark.parametrize("momentum", [False, True], ids=["sgd", "momentum"])
def test_seed002_sin_regression(momentum):
    real_torch.manual_seed(0)
    tmodel0 = real_torch.nn.Sequential(
        real_torch.nn.Linear(1, 10), real_torch.nn.ReLU(), real_torch.nn.Linear(10, 1)
    )
    with pytest.warns(UserWarning, match="target size"):
        _, tl, tv, tp = sin_regression(real_torch, tmodel0, momentum)
    with pytest.warns(UserWarning, match="target size"):
        model, el, ev, ep = sin_regression(ember, tmodel0, momentum)
    assert len(el) == 100 and len(ev) == 10
    assert repr(model) == repr(tmodel0)
    np.testing.assert_allclose(el, tl, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ev, tv, rtol=1e-4, atol=1e-6)
    assert abs(ep - tp) <= 1e-4 * max(1.0, abs(tp))
    assert isinstance(ep, float)
