"""Lazy modules (nn.LazyLinear, nn.LazyConv2d, nn.LazyBatchNorm2d, ...) against torch: repr and
type before and after the dry run, torch's init draws, outputs and gradients, an optimizer built
before the first forward, state dicts both ways, UninitializedParameter / UninitializedBuffer."""

import copy
import warnings

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(7)


def _lenet(nn):
    """d2l's LeNet with batch norm (d2l 8.5), every layer lazy."""
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2),
        nn.LazyBatchNorm2d(),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5),
        nn.LazyBatchNorm2d(),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120),
        nn.LazyBatchNorm1d(),
        nn.Sigmoid(),
        nn.LazyLinear(84),
        nn.Sigmoid(),
        nn.LazyLinear(10),
    )


def _lenet_plain(nn):
    """d2l's LeNet (d2l 7.6), every layer lazy."""
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120),
        nn.Sigmoid(),
        nn.LazyLinear(84),
        nn.Sigmoid(),
        nn.LazyLinear(10),
    )


def _both(build, seed=0):
    torch.manual_seed(seed)
    tm = build(torch.nn)
    ember.manual_seed(seed)
    em = build(ember.nn)
    return em, tm


def _input(shape):
    x = rng.standard_normal(shape).astype(np.float32)
    return ember.from_numpy(x.copy()), torch.from_numpy(x.copy())


def _types(m):
    return [type(s).__name__ for s in m.modules()]


def _state_summary(sd):
    return [
        (k, type(v).__name__, repr(v) if "Uninitialized" in type(v).__name__ else None) for k, v in sd.items()
    ]


def _assert_params_same(em, tm, atol=0.0, rtol=0.0):
    en, tn = list(em.named_parameters()), list(tm.named_parameters())
    assert [n for n, _ in en] == [n for n, _ in tn]
    for (n, pe), (_, pt) in zip(en, tn):
        assert tuple(pe.shape) == tuple(pt.shape), n
        assert_same(pe, pt, atol=atol, rtol=rtol)
    eb, tb = list(em.named_buffers()), list(tm.named_buffers())
    assert [n for n, _ in eb] == [n for n, _ in tb]
    for (_, be), (_, bt) in zip(eb, tb):
        assert_same(be, bt, atol=max(atol, 1e-6), rtol=max(rtol, 1e-5))


def test_lenet_dry_run_matches_torch():
    em, tm = _both(_lenet)
    assert repr(em) == repr(tm)
    assert _types(em) == _types(tm)
    assert _state_summary(em.state_dict()) == _state_summary(tm.state_dict())
    assert [type(p).__name__ for p in em.parameters()] == ["UninitializedParameter"] * 16
    ex, tx = _input((2, 1, 28, 28))
    ey, ty = em(ex), tm(tx)  # the dry run: every lazy layer materializes, then draws its init
    assert repr(em) == repr(tm)
    assert _types(em) == _types(tm)
    assert type(em[0]) is ember.nn.Conv2d and type(em[9]) is ember.nn.Linear
    assert type(em[1]) is ember.nn.BatchNorm2d and type(em[10]) is ember.nn.BatchNorm1d
    assert all(type(p) is ember.nn.Parameter for p in em.parameters())
    assert type(em[1].running_mean) is ember.Tensor
    assert not any(isinstance(m, ember.nn.modules.lazy.LazyModuleMixin) for m in em.modules())
    _assert_params_same(em, tm)  # the same draws in the same order as torch's lazy path
    assert_same(ey, ty, atol=1e-5, rtol=1e-4)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ey.backward(ember.from_numpy(g.copy()))
    ty.backward(torch.from_numpy(g.copy()))
    for (_, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=1e-5, rtol=1e-3)
    # after the dry run the hooks are gone: a second call is a plain call
    assert not em[0]._forward_pre_hooks and not em[0]._load_state_dict_pre_hooks
    assert_same(em(ex), tm(tx), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_optimizer_built_before_dry_run(opt):
    # Adam turns the rounding noise in the gradient of a bias that feeds a batch norm (zero in
    # exact arithmetic) into +-lr steps, so it runs the LeNet without batch norm
    em, tm = _both(_lenet if opt == "sgd" else _lenet_plain, seed=3)
    make = {
        "sgd": lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
        "adam": lambda lib, ps: lib.optim.Adam(ps, lr=1e-2),
    }[opt]
    eo, to = make(ember, em.parameters()), make(torch, tm.parameters())
    held = [p for g in eo.param_groups for p in g["params"]]
    ex, tx = _input((2, 1, 28, 28))
    for _ in range(2):
        eo.zero_grad()
        to.zero_grad()
        em(ex).square().sum().backward()
        tm(tx).square().sum().backward()
        eo.step()
        to.step()
    # materialized in place: the optimizer's tensors are the module's, and they moved
    assert [id(p) for p in held] == [id(p) for p in em.parameters()]
    _assert_params_same(em, tm, atol=1e-5, rtol=1e-4)


_LAYERS = [
    ("LazyLinear", (10,), {}, (3, 7)),
    ("LazyLinear", (4,), {"bias": False}, (2, 3, 5)),
    ("LazyConv1d", (4, 3), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("LazyConv1d", (4, 3), {"groups": 2}, (4, 6)),
    ("LazyConv2d", (6,), {"kernel_size": 5, "padding": 2}, (2, 1, 8, 8)),
    ("LazyConv2d", (4, 3), {"padding": "same", "bias": False, "padding_mode": "reflect"}, (1, 2, 6, 5)),
    ("LazyConvTranspose1d", (3, 2), {"stride": 2}, (2, 4, 5)),
    ("LazyConvTranspose2d", (4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 4, 4)),
    ("LazyConvTranspose2d", (4, 2), {"groups": 2}, (4, 3, 5)),
    ("LazyBatchNorm1d", (), {}, (4, 5)),
    ("LazyBatchNorm1d", (), {"affine": False}, (4, 3, 6)),
    ("LazyBatchNorm2d", (), {"momentum": None}, (2, 3, 4, 4)),
    ("LazyBatchNorm2d", (), {"track_running_stats": False, "bias": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {}, (2, 2, 3, 3, 3)),
]


_NOTHING_LAZY = ("LazyInstanceNorm2d", {"affine": False, "track_running_stats": False})


@pytest.mark.parametrize("name,args,kwargs,shape", _LAYERS)
def test_lazy_layer_matches_torch(name, args, kwargs, shape):
    em, tm = _both(lambda nn: getattr(nn, name)(*args, **kwargs), seed=5)
    assert repr(em) == repr(tm)
    assert em.has_uninitialized_params() == tm.has_uninitialized_params() == ((name, kwargs) != _NOTHING_LAZY)
    assert _state_summary(em.state_dict()) == _state_summary(tm.state_dict())
    ex, tx = _input(shape)
    with warnings.catch_warnings(record=True) as we:
        warnings.simplefilter("always")
        ey = em(ex)
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        ty = tm(tx)
    assert [str(w.message) for w in we] == [str(w.message) for w in wt]  # num_features=0 warns (torch)
    assert type(em).__name__ == type(tm).__name__ == name[4:]
    assert not isinstance(em, ember.nn.modules.lazy.LazyModuleMixin)
    assert repr(em) == repr(tm)
    _assert_params_same(em, tm)
    assert_same(ey, ty, atol=1e-5, rtol=1e-4)


def test_dtype_and_conversion_before_dry_run():
    em, tm = _both(lambda nn: nn.LazyLinear(3))
    em2, tm2 = _both(lambda nn: nn.LazyLinear(3, dtype=(ember if nn is ember.nn else torch).float64), seed=2)
    assert em2.weight.dtype == ember.float64 and tm2.weight.dtype == torch.float64
    ex, tx = _input((2, 4))
    em2(ex.double()), tm2(tx.double())
    assert em2.weight.dtype == ember.float64
    _assert_params_same(em2, tm2)
    # .double() on a lazy module converts the lazy tensors and keeps them lazy (materialized as float64)
    em.double()
    tm.double()
    assert type(em.weight).__name__ == "UninitializedParameter" and em.weight.dtype == ember.float64
    em(ex.double()), tm(tx.double())
    assert em.bias.dtype == ember.float64
    _assert_params_same(em, tm)


def test_initialize_parameters_and_apply_after_dry_run():
    def init_fn(lib):
        def fn(m):
            if type(m) in (lib.nn.Linear, lib.nn.Conv2d):
                lib.nn.init.xavier_uniform_(m.weight)

        return fn

    em, tm = _both(_lenet, seed=11)
    ex, tx = _input((2, 1, 28, 28))
    em(ex), tm(tx)
    ember.manual_seed(4)
    torch.manual_seed(4)
    em.apply(init_fn(ember))
    tm.apply(init_fn(torch))
    _assert_params_same(em, tm)
    # initialize_parameters materializes without a forward; the class changes at the first call
    em, tm = _both(lambda nn: nn.LazyLinear(5), seed=12)
    em.initialize_parameters(ex.flatten(1)[:, :6])
    tm.initialize_parameters(tx.flatten(1)[:, :6])
    assert not em.has_uninitialized_params()
    assert repr(em) == repr(tm) == "LazyLinear(in_features=6, out_features=5, bias=True)"
    _assert_params_same(em, tm)
    em(ex.flatten(1)[:, :6]), tm(tx.flatten(1)[:, :6])
    assert type(em) is ember.nn.Linear and repr(em) == repr(tm)


def test_state_dict_materialized_into_lazy():
    em, tm = _both(_lenet, seed=21)
    ex, tx = _input((2, 1, 28, 28))
    em(ex), tm(tx)
    sd_e = em.state_dict()
    # ember -> fresh lazy ember (and torch's into a lazy torch net): materialized, class kept
    le, lt = _both(_lenet, seed=99)
    assert repr(le.load_state_dict(sd_e)) == repr(lt.load_state_dict(tm.state_dict()))
    assert repr(le) == repr(lt)  # still Lazy*, in_features=0 (as torch)
    assert _types(le) == _types(lt)
    assert not any(
        m.has_uninitialized_params() for m in le.modules() if hasattr(m, "has_uninitialized_params")
    )
    _assert_params_same(le, tm, atol=1e-6, rtol=1e-5)
    for (_, v), (_, w) in zip(le.state_dict().items(), em.state_dict().items()):
        np.testing.assert_array_equal(v.numpy(), w.numpy())
    ye, yt = le(ex), lt(tx)  # loaded tensors are not redrawn
    assert repr(le) == repr(lt)  # Linear picks in_features up; Conv2d / BatchNorm keep 0 (torch)
    assert _types(le) == _types(lt)
    assert_same(ye, yt, atol=1e-5, rtol=1e-4)
    # torch's materialized state dict -> lazy ember
    le2 = _both(_lenet, seed=5)[0]
    le2.load_state_dict({k: ember.from_numpy(v.numpy().copy()) for k, v in tm.state_dict().items()})
    _assert_params_same(le2, tm, atol=0, rtol=0)
    # a lazy state dict into a lazy module: nothing to copy, still lazy
    la, lb = _both(_lenet, seed=6)
    la2, lb2 = _both(_lenet, seed=7)
    la.load_state_dict(la2.state_dict())
    lb.load_state_dict(lb2.state_dict())
    assert la[0].has_uninitialized_params() and la[9].has_uninitialized_params()
    assert _state_summary(la.state_dict()) == _state_summary(lb.state_dict())


def test_loaded_lazy_linear_checks_its_input():
    em, tm = _both(lambda nn: nn.LazyLinear(3), seed=1)
    ex, tx = _input((2, 4))
    em(ex), tm(tx)
    le, lt = _both(lambda nn: nn.LazyLinear(3))
    le.load_state_dict(em.state_dict())
    lt.load_state_dict(tm.state_dict())
    assert repr(le) == repr(lt) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    ebad, tbad = _input((2, 5))
    assert_raises_same(lambda: le(ebad), lambda: lt(tbad))  # AssertionError: in_features mismatch
    assert_same(le(ex), lt(tx), atol=1e-6)
    assert type(le) is ember.nn.Linear and repr(le) == repr(lt)


def test_uninitialized_errors_match_torch():
    E, T = ember.nn, torch.nn
    pe, pt = E.UninitializedParameter(), T.UninitializedParameter()
    assert repr(pe) == repr(pt) == "<UninitializedParameter>" and str(pe) == str(pt)
    assert isinstance(pe, E.Parameter) and E.parameter.is_lazy(pe) and not E.parameter.is_lazy(E.Parameter())
    assert pe.requires_grad and pe.is_leaf and pe.dtype == ember.float32 and str(pe.device) == "cpu"
    assert pe.size() == ember.Size([0]) and pe.ndim == 1 and pe.is_floating_point()
    assert pe.float() is pe and pe.cpu() is pe
    assert tuple(pe.data.shape) == (0,)
    e = assert_raises_same(lambda: pe.shape, lambda: pt.shape)
    assert isinstance(e, RuntimeError) and str(e).startswith("Can't access the shape of an uninitialized")
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        _ = pe.shape
    x_e, x_t = _input((2, 3))
    cases = [
        (lambda: ember.nn.functional.linear(x_e, pe), lambda: torch.nn.functional.linear(x_t, pt)),
        (lambda: pe + 1, lambda: pt + 1),
        (lambda: pe.sum(), lambda: pt.sum()),
        (lambda: pe.detach(), lambda: pt.detach()),
        (lambda: pe.numel(), lambda: pt.numel()),
        (lambda: len(pe), lambda: len(pt)),
        (lambda: ember.nn.init.kaiming_uniform_(pe), lambda: torch.nn.init.kaiming_uniform_(pt)),
        (lambda: pe.share_memory_(), lambda: pt.share_memory_()),
    ]
    for fe, ft in cases:
        err = assert_raises_same(fe, ft)
        if isinstance(err, ValueError):
            with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in"):
                fe()
    be, bt = E.UninitializedBuffer(), T.UninitializedBuffer()
    assert repr(be) == repr(bt) == "<UninitializedBuffer>" and not be.requires_grad
    assert_raises_same(lambda: be.shape, lambda: bt.shape)
    be.materialize((3,), dtype=ember.float64)
    assert type(be) is ember.Tensor and be.shape == (3,) and be.dtype == ember.float64
    pe.materialize((2, 3))
    assert type(pe) is E.Parameter and pe.shape == (2, 3) and pe.requires_grad
    # a module's errors
    conv_e, conv_t = E.LazyConv2d(4, 3), T.LazyConv2d(4, 3)
    bad_e, bad_t = _input((2, 3, 4))
    assert_raises_same(lambda: conv_e(bad_e[None, None]), lambda: conv_t(bad_t[None, None]))  # 5-D input
    g_e, g_t = E.LazyConv2d(4, 3, groups=2), T.LazyConv2d(4, 3, groups=2)
    odd_e, odd_t = _input((1, 3, 5, 5))
    assert_raises_same(lambda: g_e(odd_e), lambda: g_t(odd_t))  # in_channels not divisible by groups
    lin_e, lin_t = E.LazyLinear(3), T.LazyLinear(3)
    assert_raises_same(lambda: lin_e.weight.shape, lambda: lin_t.weight.shape)
    assert_raises_same(lambda: lin_e.forward(x_e), lambda: lin_t.forward(x_t))  # no dry run: ValueError
    assert_raises_same(lambda: lin_e.share_memory(), lambda: lin_t.share_memory())
    # a lazy state dict into a materialized module reads a lazy shape
    full_e, full_t = E.Linear(2, 3), T.Linear(2, 3)
    assert_raises_same(
        lambda: full_e.load_state_dict(E.LazyLinear(3).state_dict()),
        lambda: full_t.load_state_dict(T.LazyLinear(3).state_dict()),
    )
    assert_raises_same(
        lambda: E.LazyConvTranspose2d(2, 3, padding_mode="reflect"),
        lambda: T.LazyConvTranspose2d(2, 3, padding_mode="reflect"),
    )


def test_uninitialized_buffer_registers_and_requires_grad():
    for nn in (ember.nn, torch.nn):
        b = nn.UninitializedBuffer(persistent=False)
        assert isinstance(b, nn.Buffer) and not isinstance(nn.UninitializedParameter(), nn.Buffer)
        m = nn.Module()
        m.x = b  # a Buffer: registered (non-persistent), as torch
        assert list(dict(m.named_buffers())) == ["x"] and m._non_persistent_buffers_set == {"x"}
        assert list(m.state_dict()) == []
        b.materialize((2,))
        assert type(b) is (ember.Tensor if nn is ember.nn else torch.Tensor) and b.shape == (2,)
        p = nn.UninitializedParameter()
        p.requires_grad = False  # the property works, requires_grad_ does not (torch)
        assert not p.requires_grad and type(p) is nn.UninitializedParameter
    assert_raises_same(
        lambda: ember.nn.LazyLinear(2).requires_grad_(False),
        lambda: torch.nn.LazyLinear(2).requires_grad_(False),
    )
    # a user's pre-hook runs after the lazy one: it already sees the materialized module
    seen = {}
    for lib in (ember, torch):
        m = lib.nn.LazyLinear(3)

        def hook(mod, args, name=lib.__name__):
            seen[name] = type(mod).__name__

        m.register_forward_pre_hook(hook)
        m(lib.ones(1, 2))
    assert seen == {"ember": "Linear", "torch": "Linear"}


def test_deepcopy_and_keep_vars():
    em, tm = _both(lambda nn: nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2)), seed=8)
    ec, tc = copy.deepcopy(em), copy.deepcopy(tm)
    assert repr(ec) == repr(tc) and ec[0].weight is not em[0].weight
    assert type(ec[0].weight).__name__ == "UninitializedParameter"
    kv = em.state_dict(keep_vars=True)
    assert kv["0.weight"] is em[0].weight
    ex, tx = _input((3, 5))
    ember.manual_seed(1)
    torch.manual_seed(1)
    assert_same(ec(ex), tc(tx), atol=1e-6)
    assert repr(ec) == repr(tc)
    _assert_params_same(ec, tc)
    assert type(em[0].weight).__name__ == "UninitializedParameter"  # the original is untouched


def test_exports_match_torch():
    names = [n for n in dir(torch.nn) if n.startswith("Lazy") or n.startswith("Uninitialized")]
    missing = [n for n in names if not hasattr(ember.nn, n)]
    assert set(missing) <= {"LazyConv3d", "LazyConvTranspose3d", "LazyBatchNorm3d"}  # no 3-d conv / BN
    assert not hasattr(ember.nn, "LazyModuleMixin") and not hasattr(torch.nn, "LazyModuleMixin")
    assert issubclass(ember.nn.LazyLinear, ember.nn.modules.lazy.LazyModuleMixin)
    assert ember.nn.LazyLinear.cls_to_become is ember.nn.Linear
