"""Tensor.register_post_accumulate_grad_hook: when it fires (during backward, as soon as the leaf's
gradient is final), with what `.grad`, compared with torch."""

import numpy as np
import pytest
import torch

import ember


def _events(lib):
    """Run a two-layer net's backward and record the order of leaf hooks and an intermediate hook."""
    g = np.random.default_rng(0)
    w1 = lib.tensor(g.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w2 = lib.tensor(g.standard_normal((2, 4)).astype(np.float32), requires_grad=True)
    b2 = lib.tensor(g.standard_normal(2).astype(np.float32), requires_grad=True)
    x = lib.tensor(g.standard_normal((5, 3)).astype(np.float32))
    events = []
    for name, p in (("w1", w1), ("w2", w2), ("b2", b2)):
        p.register_post_accumulate_grad_hook(lambda t, n=name: events.append((n, t.grad.numpy().copy())))
    h = (x @ w1.t()).relu()
    h.register_hook(lambda gr: events.append(("h", None)))
    out = h @ w2.t() + b2
    loss = (out * out).sum() + (w2 * w2).sum()  # w2 used twice: its hook fires once, with the sum
    loss.backward()
    return events


def test_post_accumulate_hook_fires_during_backward_like_torch():
    ev_e, ev_t = _events(ember), _events(torch)
    assert [n for n, _ in ev_e] == [n for n, _ in ev_t]
    assert ev_e.index(("h", None)) > [n for n, _ in ev_e].index("w2")  # w2 ready before h's gradient
    for (_, a), (_, b) in zip(ev_e, ev_t):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_post_accumulate_hook_errors_and_remove():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    calls = []
    h = x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.clone()))
    (x * 3).sum().backward()
    h.remove()
    (x * 3).sum().backward()
    assert len(calls) == 1 and calls[0].tolist() == [3.0, 3.0] and x.grad.tolist() == [6.0, 6.0]


def test_post_accumulate_hook_general_path_autograd_backward_two_roots():
    for lib in (ember, torch):
        x = lib.ones(2, requires_grad=True)
        seen = []
        x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
        lib.autograd.backward([(x * 2).sum(), (x * 5).sum()])
        assert seen == [[7.0, 7.0]]
