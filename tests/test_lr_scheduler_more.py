"""CyclicLR, CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler and swa_utils against
torch: the same lr/momentum sequences, state_dicts, errors; AveragedModel/update_bn values."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import ember

LS = "lr_scheduler"


def _opts(name="SGD", groups=2, **kw):
    kw = kw or {"lr": 0.1, "momentum": 0.9}
    eps = [ember.nn.Parameter(ember.ones(2)) for _ in range(groups)]
    tps = [torch.nn.Parameter(torch.ones(2)) for _ in range(groups)]
    eg = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(eps)]
    tg = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(tps)]
    return getattr(ember.optim, name)(eg, **kw), getattr(torch.optim, name)(tg, **kw)


def _same_groups(eo, to):
    for eg, tg in zip(eo.param_groups, to.param_groups):
        assert eg.keys() == tg.keys()
        for k in tg:
            if k == "params":
                continue
            if isinstance(tg[k], (float, int, tuple)) and not isinstance(tg[k], bool):
                assert eg[k] == pytest.approx(tg[k], rel=1e-12, abs=1e-15), k
            else:
                assert eg[k] == tg[k], k


SCHEDULERS = [
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    (
        "CyclicLR",
        dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=3, step_size_down=5, mode="triangular2"),
    ),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.9)),
    (
        "CyclicLR",
        dict(base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=lambda x: 0.5**x, scale_mode="iterations"),
    ),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, cycle_momentum=False)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_lr_sequence_matches_torch(name, kw, opt):
    eo, to = _opts(opt, **({} if opt == "SGD" else {"lr": 0.01}))
    es = getattr(ember.optim.lr_scheduler, name)(eo, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(to, **kw)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    _same_groups(eo, to)
    for _ in range(25):
        eo.step()
        to.step()
        es.step()
        ts.step()
        assert es.last_epoch == ts.last_epoch
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
        _same_groups(eo, to)
    esd, tsd = es.state_dict(), ts.state_dict()
    assert set(esd) == set(tsd)


def test_warm_restarts_with_fractional_epochs():
    eo, to = _opts()
    es = ember.optim.lr_scheduler.CosineAnnealingWarmRestarts(eo, T_0=4, T_mult=2)
    ts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(to, T_0=4, T_mult=2)
    for epoch in [0.5, 1.25, 3.9, 4.0, 7.5, 12.0, 13.3, 30.0]:
        es.step(epoch)
        ts.step(epoch)
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert (es.T_cur, es.T_i, es.last_epoch) == pytest.approx((ts.T_cur, ts.T_i, ts.last_epoch))
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        es.step(-1)


def _build(lib, kind, opt):
    L = getattr(lib.optim, LS)
    if kind == "sequential":
        s1 = L.LinearLR(opt, start_factor=0.1, total_iters=3)
        s2 = L.ExponentialLR(opt, gamma=0.9)
        s3 = L.StepLR(opt, step_size=2, gamma=0.5)
        return L.SequentialLR(opt, [s1, s2, s3], milestones=[3, 7])
    if kind == "sequential-nested":
        inner = L.ChainedScheduler([L.ConstantLR(opt, factor=0.5, total_iters=2), L.ExponentialLR(opt, 0.95)])
        return L.SequentialLR(opt, [L.LinearLR(opt, 0.2, total_iters=4), inner], milestones=[4])
    s1 = L.ConstantLR(opt, factor=0.1, total_iters=2)
    s2 = L.ExponentialLR(opt, gamma=0.9)
    s3 = L.CosineAnnealingLR(opt, T_max=6)
    return L.ChainedScheduler([s1, s2, s3])


@pytest.mark.parametrize("kind", ["sequential", "chained"])
def test_combinators_match_torch(kind):
    eo, to = _opts()
    es, ts = _build(ember, kind, eo), _build(torch, kind, to)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    for _ in range(15):
        eo.step()
        to.step()
        es.step()
        ts.step()
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
        _same_groups(eo, to)
    esd, tsd = es.state_dict(), ts.state_dict()
    assert set(esd) == set(tsd)
    assert len(esd["_schedulers"]) == len(tsd["_schedulers"])
    sd = pickle.loads(pickle.dumps(esd))
    es.load_state_dict(sd)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)


def test_sequential_over_chained_fails_at_milestone_like_torch():
    eo, to = _opts()
    es, ts = _build(ember, "sequential-nested", eo), _build(torch, "sequential-nested", to)
    for _ in range(3):
        eo.step()
        to.step()
        es.step()
        ts.step()
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    for s in (es, ts):  # torch's ChainedScheduler has no get_lr for the milestone's restart
        with pytest.raises(NotImplementedError):
            s.step()


def _err(fn):
    with pytest.raises(Exception) as ei:
        fn()
    return type(ei.value), str(ei.value).replace("torch.", "").replace("ember.", "")


@pytest.mark.parametrize(
    "case",
    [
        "seq-empty",
        "seq-milestones",
        "seq-plateau",
        "seq-other-opt",
        "chain-empty",
        "cyc-mode",
        "cyc-mom",
        "wr-T0",
        "wr-Tmult",
        "wr-eta",
        "swalr-strategy",
        "swalr-epochs",
        "ema-decay",
    ],
)
def test_errors_match_torch(case):
    def make(lib):
        L = getattr(lib.optim, LS)
        o, o2 = (_opts()[0 if lib is ember else 1] for _ in range(2))
        base = L.StepLR(o, 2)
        return {
            "seq-empty": lambda: L.SequentialLR(o, [], []),
            "seq-milestones": lambda: L.SequentialLR(o, [base, L.StepLR(o, 3)], [1, 2]),
            "seq-plateau": lambda: L.SequentialLR(o, [base, L.ReduceLROnPlateau(o)], [1]),
            "seq-other-opt": lambda: L.SequentialLR(o, [base, L.StepLR(o2, 3)], [1]),
            "chain-empty": lambda: L.ChainedScheduler([]),
            "cyc-mode": lambda: L.CyclicLR(o, 0.1, 1.0, mode="sawtooth"),
            "cyc-mom": lambda: L.CyclicLR(lib.optim.Adagrad([lib.nn.Parameter(lib.ones(1))]), 0.1, 1.0),
            "wr-T0": lambda: L.CosineAnnealingWarmRestarts(o, T_0=0),
            "wr-Tmult": lambda: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
            "wr-eta": lambda: L.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
            "swalr-strategy": lambda: lib.optim.swa_utils.SWALR(o, 0.05, anneal_strategy="exp"),
            "swalr-epochs": lambda: lib.optim.swa_utils.SWALR(o, 0.05, anneal_epochs=-1),
            "ema-decay": lambda: lib.optim.swa_utils.get_ema_multi_avg_fn(1.5),
        }[case]

    te, ee = _err(make(torch)), _err(make(ember))
    if case == "seq-other-opt":  # the message prints the optimizer object, which differs by design
        assert ee[0] is te[0] and ee[1].split(" has ")[0] == te[1].split(" has ")[0]
    else:
        assert ee == te


# -- swa_utils ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        dict(swa_lr=0.05),
        dict(swa_lr=[0.05, 0.01], anneal_epochs=3, anneal_strategy="linear"),
        dict(swa_lr=0.02, anneal_epochs=0),
    ],
)
def test_swalr_matches_torch(kw):
    eo, to = _opts()
    es = ember.optim.swa_utils.SWALR(eo, **kw)
    ts = torch.optim.swa_utils.SWALR(to, **kw)
    for _ in range(15):
        eo.step()
        to.step()
        es.step()
        ts.step()
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    assert set(es.state_dict()) == set(ts.state_dict())


def _net(lib, seed=0):
    rng = np.random.default_rng(seed)
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return net


def _perturb(nets, k):
    rng = np.random.default_rng(100 + k)
    for ps in zip(*(n.parameters() for n in nets)):
        d = rng.standard_normal(tuple(ps[0].shape)).astype(np.float32)
        for p, lib in zip(ps, (ember, torch)):
            with lib.no_grad():
                p.add_(lib.tensor(d))


@pytest.mark.parametrize("how", ["swa", "ema-multi", "ema-avg", "swa-multi", "swa-avg-buffers"])
def test_averaged_model_matches_torch(how):
    nets = [_net(ember), _net(torch)]
    avgs = []
    for lib, net in zip((ember, torch), nets):
        U = lib.optim.swa_utils
        kw = {
            "swa": {},
            "ema-multi": {"multi_avg_fn": U.get_ema_multi_avg_fn(0.9)},
            "ema-avg": {"avg_fn": U.get_ema_avg_fn(0.8)},
            "swa-multi": {"multi_avg_fn": U.get_swa_multi_avg_fn()},
            "swa-avg-buffers": {"avg_fn": U.get_swa_avg_fn(), "use_buffers": True},
        }[how]
        avgs.append(U.AveragedModel(net, **kw))
    x = np.random.default_rng(7).standard_normal((5, 3)).astype(np.float32)
    for k in range(6):
        _perturb(nets, k)
        for net, lib in zip(nets, (ember, torch)):
            net.train()
            net(lib.tensor(x))  # moves BatchNorm running stats
        for a, n in zip(avgs, nets):
            a.update_parameters(n)
    ea, ta = avgs
    assert int(ea.n_averaged) == int(ta.n_averaged) == 6
    assert ea.n_averaged.dtype == ember.int64
    esd, tsd = ea.state_dict(), ta.state_dict()
    assert list(esd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(esd[k].numpy(), tsd[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    ea.eval()
    ta.eval()
    np.testing.assert_allclose(
        ea(ember.tensor(x)).detach().numpy(), ta(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_update_bn_matches_torch():
    nets = [_net(ember), _net(torch)]
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal((4, 3)).astype(np.float32) * (i + 1) for i in range(5)]
    for net, lib in zip(nets, (ember, torch)):
        net.eval()
        loader = [(lib.tensor(b), lib.zeros(4)) for b in batches]
        lib.optim.swa_utils.update_bn(loader, net)
        assert not net.training
        assert net[1].momentum == 0.1
    for k, v in nets[1].state_dict().items():
        np.testing.assert_allclose(
            nets[0].state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k
        )
    # a model without BatchNorm is left alone
    lin = ember.nn.Linear(2, 2)
    ember.optim.swa_utils.update_bn([ember.ones(1, 2)], lin)
