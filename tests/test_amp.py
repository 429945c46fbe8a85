"""ember.amp.GradScaler against torch.amp.GradScaler('cpu'): the same losses, scales, skipped
steps and state; autocast's disabled form and its clear error when enabled."""

import warnings

import numpy as np
import pytest
import torch

import ember


def _pair(growth_interval=3):
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    models = []
    for lib in (ember, torch):
        m = lib.nn.Linear(4, 3)
        with lib.no_grad():
            m.weight.copy_(lib.from_numpy(w.copy()))
            m.bias.copy_(lib.from_numpy(b.copy()))
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        sc = lib.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=growth_interval)
        models.append((lib, m, opt, sc))
    return models


def test_grad_scaler_matches_torch_with_skips_and_growth():
    rng = np.random.default_rng(1)
    runs = _pair()
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(8)]
    bad = {2, 5}  # steps whose input holds inf: the gradient is inf/NaN and the step is skipped
    trace = {}
    for lib, m, opt, sc in runs:
        out = []
        for i, x in enumerate(xs):
            if i in bad:
                x = x.copy()
                x[0, 0] = np.inf
            opt.zero_grad()
            loss = (m(lib.from_numpy(x)) ** 2).mean()
            sc.scale(loss).backward()
            sc.unscale_(opt) if i % 2 else None  # unscale_ before step on some steps (clipping point)
            sc.step(opt)
            sc.update()
            out.append((sc.get_scale(), m.weight.detach().numpy().copy()))
        trace[lib.__name__] = (out, sc.state_dict())
    (oe, se), (ot, st) = trace["ember"], trace["torch"]
    assert se == st
    for (s1, w1), (s2, w2) in zip(oe, ot):
        assert s1 == s2
        np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)


def test_grad_scaler_api_and_errors():
    for lib in (ember, torch):
        sc = lib.amp.GradScaler("cpu", enabled=False)
        assert not sc.is_enabled() and sc.get_scale() == 1.0 and sc.state_dict() == {}
        t = lib.ones(2)
        assert sc.scale(t) is t
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert not lib.amp.GradScaler().is_enabled()  # default device 'cuda', none here
        assert any("CUDA is not available" in str(x.message) for x in w)
        sc = lib.amp.GradScaler("cpu")
        m = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        sc.scale(m(lib.ones(1, 2)).sum()).backward()
        sc.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            sc.unscale_(opt)
        sc.step(opt)
        with pytest.raises(RuntimeError):
            sc.step(opt)
        sc.update(new_scale=8.0)
        assert sc.get_scale() == 8.0
        scaled = sc.scale([lib.ones(1), lib.ones(2)])
        assert isinstance(scaled, list) and float(scaled[0].sum()) == 8.0
        other = lib.amp.GradScaler("cpu")
        other.load_state_dict(sc.state_dict())
        assert other.get_scale() == 8.0


def test_autocast():
    with ember.autocast("cpu", enabled=False):
        y = ember.ones(2) * 2
    assert y.dtype is ember.float32
    with ember.amp.autocast("cpu", dtype=ember.float16, enabled=False):
        pass
    with pytest.raises(NotImplementedError, match="no autocast"):
        with ember.autocast("cpu", dtype=ember.float16):
            pass
    assert not ember.amp.is_autocast_available("cpu")
