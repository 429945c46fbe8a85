"""ember.optim.lr_scheduler against torch: the same lr sequence, state_dict, warnings."""

from __future__ import annotations

import math
import pickle
import warnings

import pytest
import torch

import ember


def _opts(name="SGD", groups=2, **kw):
    kw = kw or {"lr": 0.1, "momentum": 0.9}
    eps = [ember.nn.Parameter(ember.ones(2)) for _ in range(groups)]
    tps = [torch.nn.Parameter(torch.ones(2)) for _ in range(groups)]
    eg = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(eps)]
    tg = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(tps)]
    return getattr(ember.optim, name)(eg, **kw), getattr(torch.optim, name)(tg, **kw)


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95**e)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("LinearLR", dict(start_factor=0.25, total_iters=6)),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=30, three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=3, steps_per_epoch=10, anneal_strategy="linear")),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name, kw):
    eo, to = _opts()
    es = getattr(ember.optim.lr_scheduler, name)(eo, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(to, **kw)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    for _ in range(29):
        eo.step()
        to.step()
        es.step()
        ts.step()
        assert es.last_epoch == ts.last_epoch
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
        for eg, tg in zip(eo.param_groups, to.param_groups):
            assert eg["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15)
            assert eg["initial_lr"] == tg["initial_lr"]
            if "momentum" in tg:
                assert eg["momentum"] == pytest.approx(tg["momentum"], rel=1e-12)


def test_onecycle_with_adam_betas_and_overrun():
    eo, to = _opts("Adam", lr=0.01)
    es = ember.optim.lr_scheduler.OneCycleLR(eo, max_lr=0.1, total_steps=5)
    ts = torch.optim.lr_scheduler.OneCycleLR(to, max_lr=0.1, total_steps=5)
    for _ in range(5):
        eo.step()
        to.step()
        es.step() if es.last_epoch < 5 else None
        ts.step() if ts.last_epoch < 5 else None
        assert eo.param_groups[0]["betas"] == pytest.approx(to.param_groups[0]["betas"])
    with pytest.raises(ValueError, match="Tried to step 6 times"):
        es.step()
        es.step()


def test_chainable_recursive_cosine_with_two_schedulers():
    eo, to = _opts()
    e1 = ember.optim.lr_scheduler.CosineAnnealingLR(eo, T_max=5)
    e2 = ember.optim.lr_scheduler.ExponentialLR(eo, gamma=0.9)
    t1 = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=5)
    t2 = torch.optim.lr_scheduler.ExponentialLR(to, gamma=0.9)
    for _ in range(15):
        eo.step()
        to.step()
        for s in (e1, e2, t1, t2):
            s.step()
        assert e2.get_last_lr() == pytest.approx(t2.get_last_lr(), rel=1e-12)


def test_closed_form_with_epoch_warns_like_torch():
    eo, to = _opts()
    es = ember.optim.lr_scheduler.StepLR(eo, 2, 0.5)
    ts = torch.optim.lr_scheduler.StepLR(to, 2, 0.5)
    eo.step()
    to.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        es.step(7)
    with pytest.warns(UserWarning):
        ts.step(7)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr())


def test_step_order_warning():
    eo, _ = _opts()
    s = ember.optim.lr_scheduler.StepLR(eo, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    eo2, _ = _opts()
    s2 = ember.optim.lr_scheduler.StepLR(eo2, 2)
    eo2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()


def test_get_lr_outside_step_warns():
    eo, _ = _opts()
    s = ember.optim.lr_scheduler.ExponentialLR(eo, 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


def test_state_dict_round_trip():
    eo, to = _opts()
    es = ember.optim.lr_scheduler.MultiStepLR(eo, [2, 4], 0.5)
    ts = torch.optim.lr_scheduler.MultiStepLR(to, [2, 4], 0.5)
    for _ in range(3):
        eo.step()
        es.step()
        to.step()
        ts.step()
    esd, tsd = es.state_dict(), ts.state_dict()
    assert set(esd) == set(tsd)
    for k in ("last_epoch", "base_lrs", "_last_lr", "_step_count", "milestones", "gamma"):
        assert esd[k] == tsd[k], k
    sd = pickle.loads(pickle.dumps(esd))
    eo2, _ = _opts()
    eo2.load_state_dict(eo.state_dict())
    es2 = ember.optim.lr_scheduler.MultiStepLR(eo2, [9], 0.1)
    es2.load_state_dict(sd)
    for _ in range(3):
        eo.step()
        eo2.step()
        es.step()
        es2.step()
        assert es2.get_last_lr() == es.get_last_lr()


def test_lambda_state_dict_keeps_callable_objects():
    class Fn:
        def __init__(self):
            self.k = 0.5

        def __call__(self, e):
            return self.k**e

    eo, _ = _opts(groups=1)
    s = ember.optim.lr_scheduler.LambdaLR(eo, Fn())
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"k": 0.5}]
    s2 = ember.optim.lr_scheduler.LambdaLR(eo, lambda e: 1.0)
    assert s2.state_dict()["lr_lambdas"] == [None]


def test_resume_requires_initial_lr():
    eo, to = _opts()
    with pytest.raises(KeyError):
        torch.optim.lr_scheduler.StepLR(to, 2, last_epoch=3)
    with pytest.raises(KeyError, match="initial_lr"):
        ember.optim.lr_scheduler.StepLR(eo, 2, last_epoch=3)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        ember.optim.lr_scheduler.StepLR(3, 2)


METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2] * 2


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(patience=1, factor=0.5),
        dict(mode="max", patience=2, factor=0.3, cooldown=2),
        dict(threshold_mode="abs", threshold=0.05, patience=0, min_lr=0.01),
        dict(patience=0, factor=0.5, min_lr=[0.02, 0.05]),
        dict(patience=0, factor=0.99, eps=1e-2),
    ],
)
def test_reduce_lr_on_plateau_matches_torch(kw):
    eo, to = _opts()
    es = ember.optim.lr_scheduler.ReduceLROnPlateau(eo, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
    for m in METRICS:
        es.step(ember.tensor(m))
        ts.step(torch.tensor(m))
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert (es.num_bad_epochs, es.cooldown_counter, es.best) == (
            ts.num_bad_epochs,
            ts.cooldown_counter,
            ts.best,
        )
    assert es.state_dict().keys() == ts.state_dict().keys()


def test_reduce_lr_on_plateau_errors():
    eo, to = _opts()
    for kw in (dict(factor=1.0), dict(mode="up"), dict(threshold_mode="x"), dict(min_lr=[0.1])):
        with pytest.raises(ValueError) as te:
            torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
        with pytest.raises(ValueError) as ee:
            ember.optim.lr_scheduler.ReduceLROnPlateau(eo, **kw)
        assert str(ee.value) == str(te.value)


def test_cosine_recursive_formula_value():
    eo, _ = _opts(groups=1)
    s = ember.optim.lr_scheduler.CosineAnnealingLR(eo, T_max=10, eta_min=0.0)
    for e in range(1, 11):
        eo.step()
        s.step()
        assert s.get_last_lr()[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * e / 10)))
