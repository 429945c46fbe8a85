"""ember.optim against torch.optim: same params, same synthetic gradients, same trajectory."""

from __future__ import annotations

import copy
import pickle
import time

import numpy as np
import pytest
import torch

import ember

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9))),  # lerp weight >= 0.5 branch
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


def _setup(name, kw, shapes=((3, 4), (5,)), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ep = [ember.nn.Parameter(ember.Tensor._wrap(a.copy())) for a in inits]
    tp = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in inits]
    eo = getattr(ember.optim, name)(ep, **kw)
    to = getattr(torch.optim, name)(tp, **kw)
    return rng, ep, tp, eo, to


def _feed(rng, ep, tp):
    for e, t in zip(ep, tp):
        g = rng.standard_normal(e.shape).astype(e._data.dtype)
        e.grad = ember.Tensor._wrap(g.copy())
        t.grad = torch.from_numpy(g.copy())


def _close(ep, tp, rtol=2e-6, atol=2e-7):
    for e, t in zip(ep, tp):
        assert e.dtype == getattr(ember, str(t.dtype).removeprefix("torch."))
        np.testing.assert_allclose(e._data, t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_one_step_matches_torch(name, kw):
    rng, ep, tp, eo, to = _setup(name, kw)
    _feed(rng, ep, tp)
    v0 = ep[0]._version
    eo.step()
    to.step()
    _close(ep, tp, rtol=1e-6, atol=1e-7)
    assert ep[0]._version > v0


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_hundred_steps_match_torch(name, kw):
    rng, ep, tp, eo, to = _setup(name, kw)
    for _ in range(100):
        _feed(rng, ep, tp)
        eo.step()
        to.step()
        _close(ep, tp, rtol=2e-5, atol=2e-6)
    _same_state(eo.state_dict(), to.state_dict())


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_float64_params(name):
    kw = {"lr": 0.01, "momentum": 0.9} if name != "Adam" else {"lr": 0.01}
    rng, ep, tp, eo, to = _setup(name, kw, dtype=np.float64)
    for _ in range(20):
        _feed(rng, ep, tp)
        eo.step()
        to.step()
    _close(ep, tp, rtol=1e-12, atol=1e-13)
    assert ep[0].dtype == ember.float64


def _same_state(esd, tsd):
    assert esd["param_groups"] == [{k: v for k, v in g.items()} for g in tsd["param_groups"]], (
        esd["param_groups"],
        tsd["param_groups"],
    )
    assert esd["state"].keys() == tsd["state"].keys()
    for k in tsd["state"]:
        es, ts = esd["state"][k], tsd["state"][k]
        assert list(es.keys()) == list(ts.keys())
        for key in ts:
            e, t = es[key], ts[key]
            assert isinstance(e, ember.Tensor)
            assert str(e.dtype) == str(t.dtype), (key, e.dtype, t.dtype)
            assert tuple(e.shape) == tuple(t.shape)
            np.testing.assert_allclose(e._data, t.numpy(), rtol=1e-4, atol=1e-5)


def test_state_dict_format_and_step_tensor():
    rng, ep, tp, eo, to = _setup("Adam", dict(lr=0.01))
    _feed(rng, ep, tp)
    eo.step()
    to.step()
    sd = eo.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    st = sd["state"][0]["step"]
    assert st.dtype == ember.float32 and st.ndim == 0 and float(st) == 1.0
    _same_state(sd, to.state_dict())


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[1].get("momentum", 1)])
def test_state_dict_round_trip(name, kw):
    rng, ep, tp, eo, to = _setup(name, kw)
    for _ in range(3):
        _feed(rng, ep, tp)
        eo.step()
        to.step()
    sd = pickle.loads(pickle.dumps(eo.state_dict()))
    ep2 = [ember.nn.Parameter(ember.Tensor._wrap(p._data.copy())) for p in ep]
    eo2 = getattr(ember.optim, name)(ep2, lr=123.0)
    eo2.load_state_dict(sd)
    assert eo2.param_groups[0]["lr"] == eo.param_groups[0]["lr"]
    assert eo2.param_groups[0]["params"][0] is ep2[0]
    for _ in range(5):
        _feed(rng, ep, tp)
        for a, b in zip(ep2, ep):
            a.grad = ember.Tensor._wrap(b.grad._data.copy())
        eo.step()
        eo2.step()
        to.step()
    _close(ep2, tp, rtol=2e-5, atol=2e-6)
    _close(ep, ep2 and tp, rtol=2e-5, atol=2e-6)


def test_load_state_dict_errors():
    p = ember.nn.Parameter(ember.zeros(2))
    q = ember.nn.Parameter(ember.zeros(2))
    o = ember.optim.SGD([p], lr=0.1)
    o2 = ember.optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        o.load_state_dict(o2.state_dict())
    o3 = ember.optim.SGD([p, q], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        o.load_state_dict(o3.state_dict())


def test_param_groups_defaults_and_per_group_options():
    a, b = ember.nn.Parameter(ember.ones(2)), ember.nn.Parameter(ember.ones(3))
    ta, tb = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    eo = ember.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    to = torch.optim.SGD([{"params": [ta]}, {"params": tb, "lr": 0.5}], lr=0.1, momentum=0.9)
    for eg, tg in zip(eo.param_groups, to.param_groups):
        assert {k: v for k, v in eg.items() if k != "params"} == {
            k: v for k, v in tg.items() if k != "params"
        }
    assert repr(eo) == repr(to)


def test_params_as_generator_and_named():
    lin = torch.nn.Linear(3, 2)
    to = torch.optim.Adam(lin.parameters())
    m = ember.nn.Parameter(ember.ones(2))
    eo = ember.optim.Adam(p for p in [m])
    assert eo.param_groups[0]["params"][0] is m
    assert sorted(eo.param_groups[0]) == sorted(to.param_groups[0])
    eo2 = ember.optim.SGD([("w", m)], lr=0.1)
    assert eo2.param_groups[0]["param_names"] == ["w"]


def test_add_param_group():
    a, b = ember.nn.Parameter(ember.ones(2)), ember.nn.Parameter(ember.ones(2))
    o = ember.optim.Adam([a], lr=0.1)
    o.add_param_group({"params": [b], "lr": 0.01})
    assert o.param_groups[1]["lr"] == 0.01 and o.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        o.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        o.add_param_group([a])
    with pytest.raises(TypeError, match="ordered collections"):
        o.add_param_group({"params": {ember.nn.Parameter(ember.ones(1))}})


def _err(fn):
    with pytest.raises(Exception) as ei:
        fn()
    return type(ei.value), str(ei.value)


@pytest.mark.parametrize(
    "name,args,kw",
    [
        ("SGD", (), dict(lr=-1)),
        ("SGD", (), dict(lr=0.1, momentum=-0.5)),
        ("SGD", (), dict(lr=0.1, weight_decay=-1)),
        ("SGD", (), dict(lr=0.1, nesterov=True)),
        ("SGD", (), dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1)),
        ("Adam", (), dict(lr=-0.1)),
        ("Adam", (), dict(eps=-1.0)),
        ("Adam", (), dict(betas=(1.0, 0.9))),
        ("Adam", (), dict(betas=(0.9, -0.1))),
        ("Adam", (), dict(weight_decay=-1.0)),
        ("AdamW", (), dict(lr=-1e-3)),
        ("Adagrad", (), dict(lr_decay=-1)),
        ("Adagrad", (), dict(initial_accumulator_value=-1)),
        ("RMSprop", (), dict(alpha=-0.1)),
        ("RMSprop", (), dict(momentum=-0.1)),
        ("Adadelta", (), dict(rho=1.5)),
    ],
)
def test_bad_hyperparameters(name, args, kw):
    te = _err(lambda: getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], *args, **kw))
    ee = _err(lambda: getattr(ember.optim, name)([ember.nn.Parameter(ember.ones(1))], *args, **kw))
    assert ee == te


def test_bad_params():
    assert _err(lambda: ember.optim.SGD([], lr=0.1)) == _err(lambda: torch.optim.SGD([], lr=0.1))
    assert _err(lambda: ember.optim.SGD(ember.ones(2), lr=0.1)) == _err(
        lambda: torch.optim.SGD(torch.ones(2), lr=0.1)
    )
    assert _err(lambda: ember.optim.SGD([1.0], lr=0.1))[0] is TypeError
    x = ember.ones(2, requires_grad=True)
    tx = torch.ones(2, requires_grad=True)
    assert _err(lambda: ember.optim.SGD([x * 2], lr=0.1)) == _err(lambda: torch.optim.SGD([tx * 2], lr=0.1))


def test_zero_grad_and_params_without_grad():
    a, b = ember.nn.Parameter(ember.ones(2)), ember.nn.Parameter(ember.ones(2))
    o = ember.optim.Adam([a, b], lr=0.1)
    a.grad = ember.ones(2)
    o.step()
    assert len(o.state) == 1 and b not in o.state
    assert np.array_equal(b._data, np.ones(2, np.float32))
    o.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad._data.any()
    o.zero_grad()
    assert a.grad is None


def test_closure_and_hooks():
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    o = ember.optim.SGD([w], lr=0.1)
    calls = []
    h = o.register_step_pre_hook(lambda opt, a, k: calls.append("pre"))
    o.register_step_post_hook(lambda opt, a, k: calls.append("post"))

    def closure():
        o.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(w._data, [0.8, 1.6], rtol=1e-6)
    assert calls == ["pre", "post"]
    h.remove()
    o.step(closure)
    assert calls == ["pre", "post", "post"]


def test_tensor_lr():
    e, t = ember.nn.Parameter(ember.ones(3)), torch.nn.Parameter(torch.ones(3))
    eo = ember.optim.Adam([e], lr=ember.tensor(0.01))
    to = torch.optim.Adam([t], lr=torch.tensor(0.01))
    e.grad, t.grad = ember.full((3,), 0.5), torch.full((3,), 0.5)
    eo.step()
    to.step()
    np.testing.assert_allclose(e._data, t.detach().numpy(), rtol=1e-6)


def test_training_through_autograd_matches_torch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 3)).astype(np.float32)
    W = rng.standard_normal((3, 1)).astype(np.float32)
    ew, tw = ember.nn.Parameter(ember.Tensor._wrap(W.copy())), torch.nn.Parameter(torch.from_numpy(W.copy()))
    eX, tX = ember.Tensor._wrap(X), torch.from_numpy(X)
    eo = ember.optim.SGD([ew], lr=0.05, momentum=0.9)
    to = torch.optim.SGD([tw], lr=0.05, momentum=0.9)
    for _ in range(20):
        for x, w, o in ((eX, ew, eo), (tX, tw, to)):
            o.zero_grad()
            loss = ((x @ w) ** 2).mean()
            loss.backward()
            o.step()
    np.testing.assert_allclose(ew._data, tw.detach().numpy(), rtol=1e-4, atol=1e-6)


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def test_himmelblau_adam_seed_example():
    x = ember.tensor([-4.0, 0.0], requires_grad=True)
    optimizer = ember.optim.Adam([x], lr=1e-3)
    t0 = time.perf_counter()
    for _step in range(20000):
        pred = himmelblau(x)
        optimizer.zero_grad()
        pred.backward()
        optimizer.step()
    elapsed = time.perf_counter() - t0
    np.testing.assert_allclose(x.tolist(), [-3.7793, -3.2832], atol=1e-4)
    assert x.dtype == ember.float32
    assert elapsed < 30, f"20000 Adam steps took {elapsed:.1f}s"


def test_optimizer_deepcopy():
    p = ember.nn.Parameter(ember.ones(2))
    o = ember.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = ember.ones(2)
    o.step()
    o2 = copy.deepcopy(o)
    assert o2.param_groups[0]["lr"] == 0.1
