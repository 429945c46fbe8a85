"""conv1d / conv2d and Conv1d / Conv2d vs torch: values, grads, dtypes, errors, repr."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from conftest import assert_raises_same, assert_same, pair

import ember
import ember.nn.functional as F
from ember import nn

rng = np.random.default_rng(0)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _run(fe, ft, *arrays, grad=True, atol=1e-5, rtol=1e-4):
    """Call fe / ft on the same inputs; compare outputs and the grads of every input."""
    pairs = [pair(a, requires_grad=grad) for a in arrays]
    eo, to = fe(*[p[0] for p in pairs]), ft(*[p[1] for p in pairs])
    assert_same(eo, to, atol=atol, rtol=rtol)
    if grad:
        g = rng.standard_normal(tuple(to.shape)).astype(
            np.float32 if to.dtype == torch.float32 else np.float64
        )
        eo.backward(ember.Tensor._wrap(g.copy()))
        to.backward(torch.from_numpy(g.copy()))
        for e, t in pairs:
            assert_same(e.grad, t.grad, atol=atol * 10, rtol=rtol * 10)
    return eo, to


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


CONV2D = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 3), padding=(1, 2)),
    dict(padding=2, dilation=2),
    dict(dilation=(1, 2), padding="same"),
    dict(padding="same"),  # even kernel width: torch pads the extra column on the right
    dict(padding="valid", stride=(1, 2)),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, dilation=2, padding=3),
]


@pytest.mark.parametrize("kw", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(kw, bias):
    g = kw.get("groups", 1)
    x, w, b = _f32(2, 4, 9, 8), _f32(8, 4 // g, 3, 2), _f32(8)
    if bias:
        _run(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b)
    else:
        _run(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), x, w)


CONV1D = [dict(), dict(stride=2, padding=1), dict(dilation=3, padding="same"), dict(groups=3, padding=2)]


@pytest.mark.parametrize("kw", CONV1D)
def test_conv1d_matches_torch(kw):
    g = kw.get("groups", 1)
    x, w, b = _f32(3, 6, 11), _f32(6, 6 // g, 4), _f32(6)
    _run(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw), x, w, b)


def test_unbatched_input():
    _run(
        lambda x, w: F.conv2d(x, w, padding=1),
        lambda x, w: TF.conv2d(x, w, padding=1),
        _f32(3, 5, 5),
        _f32(2, 3, 3, 3),
    )
    _run(lambda x, w: F.conv1d(x, w), lambda x, w: TF.conv1d(x, w), _f32(3, 7), _f32(2, 3, 3))


def test_only_needed_grads_and_float32_preserved():
    (ex, tx), (ew, tw) = pair(_f32(2, 3, 6, 6)), pair(_f32(4, 3, 3, 3), requires_grad=True)
    eo, to = F.conv2d(ex, ew), TF.conv2d(tx, tw)
    assert eo.dtype == ember.float32 and eo.requires_grad
    eo.sum().backward()
    to.sum().backward()
    assert ex.grad is None
    assert_same(ew.grad, tw.grad, atol=1e-4)
    with ember.no_grad():
        assert F.conv2d(ex, ew).grad_fn is None


def test_grad_fn_name_single_node():
    ex, ew, eb = (pair(a, requires_grad=True)[0] for a in (_f32(1, 2, 5, 5), _f32(3, 2, 3, 3), _f32(3)))
    out = F.conv2d(ex, ew, eb)
    assert out.grad_fn.name() == "ConvolutionBackward0"
    assert [f.name() for f, _ in out.grad_fn.next_functions[:3]] == ["AccumulateGrad"] * 3


def test_float64_gradcheck():
    x = ember.Tensor._wrap(rng.standard_normal((1, 2, 5, 4))).requires_grad_()
    w = ember.Tensor._wrap(rng.standard_normal((4, 1, 2, 3))).requires_grad_()
    b = ember.Tensor._wrap(rng.standard_normal(4)).requires_grad_()
    assert ember.autograd.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w, b)
    )
    x1 = ember.Tensor._wrap(rng.standard_normal((2, 2, 6))).requires_grad_()
    w1 = ember.Tensor._wrap(rng.standard_normal((3, 2, 3))).requires_grad_()
    assert ember.autograd.gradcheck(lambda x, w: F.conv1d(x, w, padding="same", dilation=2), (x1, w1))
    _run(
        lambda x, w: F.conv2d(x, w, stride=2),
        lambda x, w: TF.conv2d(x, w, stride=2),
        rng.standard_normal((2, 3, 7, 7)),
        rng.standard_normal((2, 3, 3, 3)),
        atol=1e-10,
    )


ERRORS = [
    ((2, 3, 28, 28), (6, 1, 5, 5), {}),
    ((2, 1, 4, 4), (6, 1, 5, 5), {}),
    ((2, 3), (6, 3, 5, 5), {}),
    ((2, 4, 8, 8), (6, 2, 3, 3), dict(groups=3)),
    ((2, 4, 8, 8), (6, 4, 3, 3), dict(stride=2, padding="same")),
    ((2, 4, 8, 8), (6, 4, 3, 3), dict(padding="foo")),
    ((2, 4, 8, 8), (6, 4, 3, 3), dict(stride=0)),
    ((2, 4, 8, 8), (6, 4, 3, 3), dict(padding=-1)),
    ((2, 4, 3, 3), (6, 4, 2, 2), dict(dilation=3)),
]


@pytest.mark.parametrize("xs,ws,kw", ERRORS)
def test_conv2d_errors_match_torch(xs, ws, kw):
    (ex, tx), (ew, tw) = pair(_f32(*xs)), pair(_f32(*ws))
    err = assert_raises_same(lambda: F.conv2d(ex, ew, **kw), lambda: TF.conv2d(tx, tw, **kw))
    with pytest.raises(type(err)) as ee:
        F.conv2d(ex, ew, **kw)
    assert str(ee.value) == str(err)


def test_conv_misc_errors():
    (ex, tx), (ew, tw), (eb, tb) = pair(_f32(2, 4, 8, 8)), pair(_f32(6, 4, 3, 3)), pair(_f32(5))
    for fe, ft in [
        (lambda: F.conv2d(ex, ew, eb), lambda: TF.conv2d(tx, tw, tb)),
        (lambda: F.conv2d(ex.double(), ew), lambda: TF.conv2d(tx.double(), tw)),
        (lambda: F.conv1d(ex, ew[:, :, 0]), lambda: TF.conv1d(tx, tw[:, :, 0])),
        (lambda: F.conv1d(ex[:, :, 0, :2], ew[:, :, 0]), lambda: TF.conv1d(tx[:, :, 0, :2], tw[:, :, 0])),
    ]:
        err = assert_raises_same(fe, ft)
        with pytest.raises(type(err)) as ee:
            fe()
        assert str(ee.value) == str(err)


@pytest.mark.parametrize(
    "args,kw",
    [
        ((1, 6, 5), {}),
        ((3, 6, (3, 2)), dict(stride=2, padding=1, bias=False, groups=3)),
        ((2, 4, 3), dict(padding="same", dilation=2, padding_mode="reflect")),
        ((2, 4, 4), dict(padding="same", padding_mode="circular")),
        ((2, 4, 3), dict(padding=(1, 2), padding_mode="replicate")),
        ((2, 4, 3), dict(padding="valid")),
    ],
)
def test_conv2d_module_repr_and_forward(args, kw):
    em, tm = nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(em.weight.detach().numpy()))
        if tm.bias is not None:
            tm.bias.copy_(torch.from_numpy(em.bias.detach().numpy()))
    x = _f32(2, args[0], 7, 6)
    (ex, tx) = pair(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_same(eo, to, atol=1e-5)
    eo.sum().backward()
    to.sum().backward()
    assert_same(ex.grad, tx.grad, atol=1e-4)
    assert_same(em.weight.grad, tm.weight.grad, atol=1e-4)


def test_conv1d_module():
    em, tm = nn.Conv1d(4, 2, 3, stride=2, dilation=2), torch.nn.Conv1d(4, 2, 3, stride=2, dilation=2)
    assert repr(em) == repr(tm) == "Conv1d(4, 2, kernel_size=(3,), stride=(2,), dilation=(2,))"
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(em.weight.detach().numpy()))
        tm.bias.copy_(torch.from_numpy(em.bias.detach().numpy()))
    ex, tx = pair(_f32(3, 4, 12))
    assert_same(em(ex), tm(tx), atol=1e-5)


def test_conv_module_init_distribution():
    ember.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert m.weight.dtype == ember.float32 and m.weight.requires_grad
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # uniform over the whole range, not a narrower one
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound


@pytest.mark.parametrize(
    "kw",
    [
        dict(groups=0),
        dict(groups=3),
        dict(padding="same", stride=2),
        dict(padding="x"),
        dict(padding_mode="foo"),
    ],
)
def test_conv_module_errors(kw):
    assert_raises_same(lambda: nn.Conv2d(4, 6, 3, **kw), lambda: torch.nn.Conv2d(4, 6, 3, **kw))


def test_lenet_shapes():
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Sigmoid(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5),
        nn.Sigmoid(),
        nn.MaxPool2d(2, 2),
    )
    out = net(ember.randn(4, 1, 28, 28))
    assert tuple(out.shape) == (4, 16, 4, 4) and out.dtype == ember.float32


def test_same_padding_even_kernel_warns():
    ex, _ = pair(_f32(1, 1, 5, 5))
    ew, _ = pair(_f32(1, 1, 2, 2))
    with pytest.warns(UserWarning, match="padding='same' with even kernel"):
        F.conv2d(ex, ew, padding="same")


def test_lenet_forward_backward_matches_torch():
    def net(m):
        return m.Sequential(
            m.Conv2d(1, 6, 5),
            m.Sigmoid(),
            m.MaxPool2d(2, 2),
            m.Conv2d(6, 16, 5),
            m.Sigmoid(),
            m.MaxPool2d(2, 2),
            m.Flatten(),
            m.Linear(256, 10),
        )

    en, tn = net(nn), net(torch.nn)
    tn.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in en.state_dict().items()})
    (ex, tx), y = pair(_f32(8, 1, 28, 28)), rng.integers(0, 10, 8)
    el = ember.nn.functional.cross_entropy(en(ex), ember.tensor(y))
    tl = TF.cross_entropy(tn(tx), torch.from_numpy(y))
    assert_same(el, tl, atol=1e-5)
    el.backward()
    tl.backward()
    for (_, pe), (_, pt) in zip(en.named_parameters(), tn.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=1e-5, rtol=1e-3)
