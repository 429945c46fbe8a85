"""nn.Module / Parameter / containers vs torch: registration, traversal, state_dict, repr, hooks."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from conftest import assert_same

import ember
from ember import nn


def copy_params(me, mt) -> None:
    """Give an ember module the exact parameters/buffers of its torch twin."""
    te = dict(me.named_parameters()) | dict(me.named_buffers())
    tt = dict(mt.named_parameters()) | dict(mt.named_buffers())
    assert list(te) == list(tt)
    for k, v in tt.items():
        te[k]._data[...] = v.detach().numpy()


def mlp(m):
    return m.Sequential(
        m.Linear(4, 8), m.ReLU(), m.Dropout(0.2), m.Linear(8, 3, bias=False), m.LogSoftmax(dim=1)
    )


def lenet(m):
    class LeNet(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = m.Sequential(
                m.Conv2d(1, 6, 5, padding=2),
                m.ReLU(),
                m.MaxPool2d(2, 2),
                m.Conv2d(6, 16, 5),
                m.Sigmoid(),
                m.AvgPool2d(2),
            )
            self.flatten = m.Flatten()
            self.classifier = m.Sequential(
                OrderedDict(
                    fc1=m.Linear(16 * 5 * 5, 120), act=m.Tanh(), fc2=m.Linear(120, 84), fc3=m.Linear(84, 10)
                )
            )
            self.heads = m.ModuleList([m.Linear(10, 2) for _ in range(3)] + [m.Identity()])
            self.extra = m.ModuleDict(
                {"gelu": m.GELU(approximate="tanh"), "lrelu": m.LeakyReLU(0.1, inplace=True)}
            )

        def forward(self, x):
            x = self.classifier(self.flatten(self.features(x)))
            return sum(h(x) for h in self.heads[:3])

    return LeNet()


@pytest.mark.parametrize("build", [mlp, lenet])
def test_repr_matches_torch(build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_layer_reprs_match_torch():
    def layers(m):
        return [
            m.Linear(3, 2),
            m.Linear(3, 2, bias=False),
            m.ReLU(inplace=True),
            m.ReLU6(),
            m.LeakyReLU(),
            m.ELU(alpha=0.5),
            m.SELU(),
            m.GELU(),
            m.SiLU(),
            m.Sigmoid(),
            m.Tanh(),
            m.Softmax(dim=-1),
            m.LogSoftmax(1),
            m.Softplus(),
            m.Hardtanh(-2.0, 2.0),
            m.PReLU(3),
            m.Dropout(),
            m.Dropout(0.1, True),
            m.Embedding(10, 3),
            m.Embedding(10, 3, padding_idx=0, max_norm=1.0),
            m.Flatten(),
            m.Unflatten(1, (2, 3)),
            m.Identity(),
            m.Mish(),
            m.CELU(),
            m.Softmin(0),
            m.Hardswish(),
            m.ModuleList(),
            m.Sequential(),
            m.ModuleList([m.ReLU(), m.ReLU(), m.Tanh(), m.ReLU()]),
        ]

    for a, b in zip(layers(nn), layers(torch.nn)):
        assert repr(a) == repr(b)


def test_parameter_basics():
    p = nn.Parameter(ember.ones(2))
    tp = torch.nn.Parameter(torch.ones(2))
    assert repr(p) == repr(tp)
    assert p.requires_grad and isinstance(p, ember.Tensor) and p.is_leaf
    assert not nn.Parameter(ember.ones(2), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    q._data[0] = 5
    assert p[0].item() == 1.0
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad
    assert type(p * 2) is ember.Tensor


def test_parameter_shares_storage():
    t = ember.zeros(3)
    p = nn.Parameter(t)
    t._data[0] = 7
    assert p[0].item() == 7


class Net:
    @staticmethod
    def build(m):
        class Block(m.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fc = m.Linear(3, 3)
                self.register_buffer("running", torch_or_ember(m).zeros(3))
                self.register_buffer("tmp", torch_or_ember(m).ones(1), persistent=False)
                self.scale = m.Parameter(torch_or_ember(m).ones(1))

            def forward(self, x):
                return self.fc(x) * self.scale + self.running

        class Top(m.Module):
            def __init__(self) -> None:
                super().__init__()
                self.a = Block()
                self.b = self.a  # shared: deduplicated
                self.seq = m.Sequential(m.Linear(3, 2), m.ReLU())
                self.none_mod = None

            def forward(self, x):
                return self.seq(self.b(self.a(x)))

        return Top()


def torch_or_ember(m):
    return torch if m is torch.nn else ember


def test_traversal_matches_torch():
    me, mt = Net.build(nn), Net.build(torch.nn)
    assert [n for n, _ in me.named_parameters()] == [n for n, _ in mt.named_parameters()]
    assert [n for n, _ in me.named_parameters(remove_duplicate=False)] == [
        n for n, _ in mt.named_parameters(remove_duplicate=False)
    ]
    assert [n for n, _ in me.named_buffers()] == [n for n, _ in mt.named_buffers()]
    assert [n for n, _ in me.named_modules()] == [n for n, _ in mt.named_modules()]
    assert [n for n, _ in me.named_modules(prefix="root")] == [n for n, _ in mt.named_modules(prefix="root")]
    assert [n for n, _ in me.named_children()] == [n for n, _ in mt.named_children()]
    assert [n for n, _ in me.a.named_parameters(prefix="x", recurse=False)] == [
        n for n, _ in mt.a.named_parameters(prefix="x", recurse=False)
    ]
    assert len(list(me.parameters())) == len(list(mt.parameters()))
    assert list(me.state_dict()) == list(mt.state_dict())
    assert me.get_submodule("seq.0") is me.seq[0]
    assert me.get_parameter("a.fc.weight") is me.a.fc.weight
    with pytest.raises(AttributeError):
        me.get_submodule("nope")
    assert "fc" in dir(me.a) and "running" in dir(me.a)


def test_forward_and_grads_match_torch():
    me, mt = Net.build(nn), Net.build(torch.nn)
    copy_params(me, mt)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    ye, yt = me(ember.tensor(x)), mt(torch.tensor(x))
    assert_same(ye, yt, atol=1e-5)
    ye.sum().backward()
    yt.sum().backward()
    for (_n, pe), (_, pt) in zip(me.named_parameters(), mt.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=1e-5)


def test_setattr_rules():
    m, t = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for mod, lib in [(m, ember), (t, torch)]:
        with pytest.raises(TypeError):
            mod.weight = lib.ones(2, 2)  # plain tensor onto a parameter slot
        mod.bias = None
        assert mod.bias is None and "bias" in mod._parameters
    with pytest.raises(AttributeError):
        _ = nn.Linear(2, 2).missing
    with pytest.raises(TypeError):
        nn.Module().register_parameter("w", ember.ones(1))
    with pytest.raises(KeyError):
        nn.Module().register_buffer("a.b", ember.ones(1))
    s = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError):
        s.add_module("x", "not a module")

    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(ember.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    lin = nn.Linear(2, 2)
    del lin.weight
    assert "weight" not in lin._parameters
    lin.sub = nn.ReLU()
    assert "sub" in lin._modules
    lin.sub = None
    assert lin.sub is None


def test_train_eval_zero_grad_requires_grad():
    m = mlp(nn)
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m and not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())
    m(ember.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    with pytest.raises(ValueError):
        m.train("yes")


def test_apply_and_init():
    m = mlp(nn)
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    tseen = []
    mlp(torch.nn).apply(lambda mod: tseen.append(type(mod).__name__))
    assert seen == tseen

    def init_fn(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)

    m.apply(init_fn)
    assert float(m[0].weight.min()) == 0.5


def test_to_double_keeps_parameter_identity():
    m = Net.build(nn)
    w = m.a.fc.weight
    m(ember.randn(2, 3)).sum().backward()
    out = m.double()
    assert out is m and m.a.fc.weight is w and w.dtype is ember.float64 and isinstance(w, nn.Parameter)
    assert w.grad.dtype is ember.float64
    assert m.a.running.dtype is ember.float64
    m.to(ember.float32)
    assert w.dtype is ember.float32
    m.to("cpu")
    m.float().cpu()
    assert w.dtype is ember.float32
    assert m(ember.randn(2, 3)).dtype is ember.float32
    with pytest.raises(TypeError):
        m.to(ember.int64)


def test_state_dict_shares_storage_and_detaches():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert not sd["weight"].requires_grad and type(sd["weight"]) is ember.Tensor
    sd["weight"]._data[0, 0] = 42.0
    assert m.weight[0, 0].item() == 42.0
    kv = m.state_dict(keep_vars=True)
    assert kv["weight"] is m.weight
    assert list(m.state_dict(prefix="lin.")) == ["lin.weight", "lin.bias"]


def test_load_state_dict_roundtrip_from_torch():
    me, mt = lenet(nn), lenet(torch.nn)
    sd = {k: ember.tensor(v.numpy()) for k, v in mt.state_dict().items()}
    res = me.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == repr(torch.nn.Linear(1, 1).load_state_dict(torch.nn.Linear(1, 1).state_dict()))
    me.eval()
    mt.eval()
    x = np.random.default_rng(3).standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert_same(me(ember.tensor(x)), mt(torch.tensor(x)), atol=1e-4)
    w = me.classifier.fc1.weight
    me.load_state_dict(me.state_dict())
    assert me.classifier.fc1.weight is w


def _err(fn):
    with pytest.raises(Exception) as e:
        fn()
    return e.type, str(e.value)


def test_load_state_dict_errors_match_torch():
    me, mt = nn.Sequential(nn.Linear(2, 3)), torch.nn.Sequential(torch.nn.Linear(2, 3))
    cases = [
        ({"0.weight": np.ones((3, 2), np.float32)}, True),  # missing bias
        (
            {
                "0.weight": np.ones((3, 2), np.float32),
                "0.bias": np.ones(3, np.float32),
                "1.x": np.ones(1, np.float32),
                "y": np.ones(1, np.float32),
            },
            True,
        ),
        ({"0.weight": np.ones((2, 3), np.float32), "0.bias": np.ones(3, np.float32)}, True),  # size mismatch
        ({"0.weight": np.ones((2, 3), np.float32)}, False),  # size mismatch even if not strict
    ]
    for sd, strict in cases:
        e = _err(lambda: me.load_state_dict({k: ember.tensor(v) for k, v in sd.items()}, strict=strict))
        t = _err(lambda: mt.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=strict))
        assert e == t
    sd = {"0.weight": ember.ones(3, 2), "extra": ember.ones(1)}
    res = me.load_state_dict(sd, strict=False)
    tres = mt.load_state_dict({"0.weight": torch.ones(3, 2), "extra": torch.ones(1)}, strict=False)
    assert res.missing_keys == tres.missing_keys and res.unexpected_keys == tres.unexpected_keys
    assert float(me[0].weight.sum()) == 6.0


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    x = ember.ones(4, 2)
    y = m(x)
    assert calls == [ember.Size([4, 2])]
    assert_same(y, torch.tensor(m.bias.detach().numpy()).expand(4, 2) + 1)
    h1.remove()
    h2.remove()
    assert_same(
        m(x),
        torch.tensor(x.numpy()) @ torch.tensor(m.weight.detach().numpy()).T
        + torch.tensor(m.bias.detach().numpy()),
        atol=1e-6,
    )
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True)
    assert_same(
        m(x),
        torch.tensor(2 * x.numpy()) @ torch.tensor(m.weight.detach().numpy()).T
        + torch.tensor(m.bias.detach().numpy()),
        atol=1e-6,
    )


def test_tracer_scopes():
    from ember.graph import node as fn

    class Rec:
        def __init__(self) -> None:
            self.events = []

        def push_scope(self, mod):
            self.events.append(("push", type(mod).__name__))

        def pop_scope(self, mod):
            self.events.append(("pop", type(mod).__name__))

        def record(self, *a):
            pass

    rec = Rec()
    fn.tracer[0] = rec
    try:
        nn.Sequential(nn.Linear(2, 2), nn.ReLU())(ember.ones(1, 2))
    finally:
        fn.tracer[0] = None
    assert rec.events == [
        ("push", "Sequential"),
        ("push", "Linear"),
        ("pop", "Linear"),
        ("push", "ReLU"),
        ("pop", "ReLU"),
        ("pop", "Sequential"),
    ]


def test_sequential_api():
    def build(m):
        return m.Sequential(m.Linear(2, 3), m.ReLU(), m.Linear(3, 1))

    s, t = build(nn), build(torch.nn)
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and isinstance(s[1], nn.ReLU)
    assert repr(s[1:]) == repr(t[1:]) and type(s[1:]) is nn.Sequential
    assert [type(x).__name__ for x in s] == [type(x).__name__ for x in t]
    for q, m in ((s, nn), (t, torch.nn)):
        q.append(m.Tanh())
        q.insert(0, m.Sigmoid())
        q.insert(-1, m.ReLU6())
        q.extend([m.ELU()])
        del q[2]
    assert repr(s) == repr(t)
    with pytest.raises(IndexError):
        s[10]
    s2 = nn.Sequential(OrderedDict(a=nn.ReLU(), b=nn.Tanh()))
    assert s2.a is s2[0] and list(dict(s2.named_children())) == ["a", "b"]


def test_modulelist_moduledict_parameterlist():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    ml.append(nn.Tanh())
    ml += [nn.Sigmoid()]
    assert len(ml) == 4 and isinstance(ml[-1], nn.Sigmoid)
    assert len(list(ml.parameters())) == 2
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    pl = nn.ParameterList([nn.Parameter(ember.ones(2)), nn.Parameter(ember.zeros(3))])
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.zeros(3))])
    assert [n for n, _ in pl.named_parameters()] == [n for n, _ in tpl.named_parameters()]
    assert repr(pl) == repr(tpl)
    pd = nn.ParameterDict({"w": nn.Parameter(ember.ones(1))})
    assert list(dict(pd.named_parameters())) == ["w"]


def test_deepcopy_and_pickle_module():
    m = mlp(nn)
    c = copy.deepcopy(m)
    assert c is not m and c[0].weight is not m[0].weight
    assert_same(c[0].weight, torch.tensor(m[0].weight.detach().numpy()))
    r = pickle.loads(pickle.dumps(m))
    assert isinstance(r[0].weight, nn.Parameter)
    assert_same(r[0].weight, torch.tensor(m[0].weight.detach().numpy()))


def test_missing_forward():
    with pytest.raises(NotImplementedError):
        nn.Module()(ember.ones(1))


def test_full_backward_hooks_match_torch():
    def run(lib):
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        with lib.no_grad():
            for i in (0, 2):
                m[i].weight.fill_(0.3)
                m[i].bias.fill_(0.1)
        seen = []
        for i, layer in enumerate(m):
            layer.register_full_backward_hook(
                lambda mod, gi, go, i=i: seen.append(
                    (
                        i,
                        None if gi[0] is None else round(float(gi[0].abs().sum()), 4),
                        round(float(go[0].abs().sum()), 4),
                    )
                )
            )
        m(lib.ones(2, 3)).sum().backward()
        x = lib.ones(2, 3, requires_grad=True)
        m[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))
        pre = m[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m(x).sum().backward()
        pre.remove()
        return seen, float(m[2].weight.grad.abs().sum()), float(x.grad.abs().sum())

    with pytest.warns(UserWarning):
        expected = run(torch)
    assert run(ember) == expected
