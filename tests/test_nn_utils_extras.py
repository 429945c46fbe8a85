"""nn.utils.parametrize / parametrizations / fusion, func.functional_call, utils.checkpoint,
testing.assert_close and the data utilities the tutorials use, against torch."""

import warnings

import numpy as np
import pytest
import torch

import ember
from ember import nn


def _pair(tmod, emod):
    emod.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})
    return tmod, emod


def _close(e, t, tol=1e-5):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def _grads_match(tmod, emod, x, tol=1e-5):
    tmod(torch.tensor(x)).pow(2).sum().backward()
    emod(ember.tensor(x)).pow(2).sum().backward()
    tn, en = dict(tmod.named_parameters()), dict(emod.named_parameters())
    assert list(tn) == list(en)
    for k in tn:
        _close(en[k].grad, tn[k].grad, tol)


# -- parametrize ------------------------------------------------------------------------------
class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class TSymmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


def test_register_and_remove_parametrization():
    tm, em = _pair(torch.nn.Linear(3, 3), nn.Linear(3, 3))
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", TSymmetric())
    nn.utils.parametrize.register_parametrization(em, "weight", Symmetric())
    assert type(em).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert nn.utils.parametrize.is_parametrized(em) and nn.utils.parametrize.is_parametrized(em, "weight")
    assert not nn.utils.parametrize.is_parametrized(em, "bias")
    assert nn.utils.parametrize.type_before_parametrizations(em) is nn.Linear
    _close(em.weight, tm.weight)
    assert np.allclose(em.weight.detach().numpy(), em.weight.detach().numpy().T)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    _grads_match(tm, em, x)
    with nn.utils.parametrize.cached():
        assert em.weight is em.weight
    assert em.weight is not em.weight
    # assigning goes through right_inverse, which Symmetric lacks: the same error in both
    with pytest.raises(RuntimeError, match="parametrization TSymmetric does not implement right_inverse"):
        tm.weight = torch.eye(3)
    with pytest.raises(RuntimeError, match="parametrization Symmetric does not implement right_inverse"):
        em.weight = ember.eye(3)
    nn.utils.parametrize.remove_parametrizations(em, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert type(em) is nn.Linear and list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert isinstance(em.weight, nn.Parameter)
    _close(em.weight, tm.weight)


def test_parametrize_errors():
    class Bad(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        nn.utils.parametrize.register_parametrization(nn.Linear(2, 2), "weight", Bad())
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        nn.utils.parametrize.register_parametrization(nn.Linear(2, 2), "nope", Symmetric())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        nn.utils.parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_weight_norm_spectral_norm(shape):
    i, o = shape
    x = np.random.default_rng(1).standard_normal((2, i)).astype(np.float32)
    for dim in (0, 1, None):
        tm, em = _pair(torch.nn.Linear(i, o), nn.Linear(i, o))
        torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
        nn.utils.parametrizations.weight_norm(em, dim=dim)
        assert [(k, tuple(v.shape)) for k, v in em.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in tm.state_dict().items()
        ]
        _close(em.weight, tm.weight)
        _grads_match(tm, em, x)
    tm, em = _pair(torch.nn.Linear(i, o), nn.Linear(i, o))
    torch.nn.utils.parametrizations.spectral_norm(tm)
    nn.utils.parametrizations.spectral_norm(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    sn_t, sn_e = tm.parametrizations.weight[0], em.parametrizations.weight[0]
    sn_e._u.copy_(ember.tensor(sn_t._u.numpy()))  # torch draws u, v at random: start from its values
    sn_e._v.copy_(ember.tensor(sn_t._v.numpy()))
    for _ in range(3):  # training-mode power iterations update u and v identically
        _close(em.weight, tm.weight)
    _close(sn_e._u, sn_t._u)
    _grads_match(tm, em, x)
    sigma = np.linalg.svd(tm.parametrizations.weight.original.detach().numpy(), compute_uv=False)[0]
    assert abs(np.linalg.svd(em.weight.detach().numpy(), compute_uv=False)[0] - 1) < 0.05 or sigma > 0
    em.eval()
    w1 = em.weight.detach().numpy()
    assert np.array_equal(w1, em.weight.detach().numpy())  # eval: no power iteration


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
@pytest.mark.parametrize("omap", [None, "matrix_exp", "cayley", "householder"])
def test_orthogonal(shape, omap):
    i, o = shape
    tm, em = _pair(torch.nn.Linear(i, o), nn.Linear(i, o))
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=omap)
    nn.utils.parametrizations.orthogonal(em, orthogonal_map=omap)
    # the non-square base completes Q with random columns: start from torch's
    em.parametrizations.weight[0].base = ember.tensor(tm.parametrizations.weight[0].base.numpy())
    w = em.weight.detach().numpy()
    k = min(w.shape)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(k), atol=1e-5)
    _close(em.weight, tm.weight)
    x = np.random.default_rng(2).standard_normal((2, i)).astype(np.float32)
    _grads_match(tm, em, x, tol=1e-4)
    with pytest.raises(
        ValueError, match='orthogonal_map has to be one of "matrix_exp", "cayley", "householder"'
    ):
        nn.utils.parametrizations.orthogonal(nn.Linear(2, 2), orthogonal_map="qr")


def test_orthogonal_stays_orthogonal_while_training():
    em = nn.utils.parametrizations.orthogonal(nn.Linear(6, 6))
    opt = ember.optim.SGD(em.parameters(), lr=0.1)
    x, y = ember.randn(16, 6), ember.randn(16, 6)
    for _ in range(5):
        opt.zero_grad()
        ((em(x) - y) ** 2).mean().backward()
        opt.step()
    w = em.weight.detach().numpy()
    np.testing.assert_allclose(w.T @ w, np.eye(6), atol=1e-5)


# -- fusion -----------------------------------------------------------------------------------
def test_fuse_conv_bn_and_linear_bn():
    rng = np.random.default_rng(3)
    tc, ec = _pair(torch.nn.Conv2d(3, 4, 3, bias=False), nn.Conv2d(3, 4, 3, bias=False))
    tb, eb = _pair(torch.nn.BatchNorm2d(4), nn.BatchNorm2d(4))
    stats = {"running_mean": rng.uniform(-1, 1, 4), "running_var": rng.uniform(0.5, 2, 4),
             "weight": rng.uniform(0.5, 1.5, 4), "bias": rng.uniform(-1, 1, 4)}  # fmt: skip
    tb.load_state_dict(
        {**tb.state_dict(), **{k: torch.tensor(v, dtype=torch.float32) for k, v in stats.items()}}
    )
    _pair(tb, eb)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_conv_bn_eval(ec, eb)
    for m in (tc, tb, ec, eb):
        m.eval()
    tf, ef = torch.nn.utils.fuse_conv_bn_eval(tc, tb), nn.utils.fuse_conv_bn_eval(ec, eb)
    _close(ef.weight, tf.weight)
    _close(ef.bias, tf.bias)
    assert isinstance(ef.bias, nn.Parameter) and ef.bias.requires_grad is tf.bias.requires_grad
    assert ec.bias is None  # the original is untouched
    x = ember.randn(2, 3, 5, 5)
    _close(ef(x), eb(ec(x)))
    tl, el = _pair(torch.nn.Linear(3, 4), nn.Linear(3, 4))
    tb1, eb1 = _pair(torch.nn.BatchNorm1d(4), nn.BatchNorm1d(4))
    for m in (tl, el, tb1, eb1):
        m.eval()
    _close(nn.utils.fuse_linear_bn_eval(el, eb1).weight, torch.nn.utils.fuse_linear_bn_eval(tl, tb1).weight)


# -- functional_call --------------------------------------------------------------------------
def test_functional_call():
    tm, em = _pair(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)),
                   nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)))  # fmt: skip
    w = np.ones((2, 3), np.float32)
    x = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    tw, ew = torch.tensor(w, requires_grad=True), ember.tensor(w, requires_grad=True)
    ty = torch.func.functional_call(tm, {"0.weight": tw}, (torch.tensor(x),))
    ey = ember.func.functional_call(em, {"0.weight": ew}, ember.tensor(x))
    _close(ey, ty)
    ty.pow(2).sum().backward()
    ey.pow(2).sum().backward()
    _close(ew.grad, tw.grad)
    assert em[0].weight.grad is None and isinstance(em[0].weight, nn.Parameter)  # module untouched
    assert not np.array_equal(em[0].weight.detach().numpy(), w)
    for lib, m in ((torch, tm), (ember, em)):
        with pytest.raises(
            RuntimeError, match="Error\\(s\\) in reparametrizing for Sequential:\n\tMissing key"
        ):
            lib.func.functional_call(m, {"0.weight": lib.zeros(2, 3)}, (lib.zeros(4, 3),), strict=True)
        with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
            lib.func.functional_call(
                m, ({"0.bias": lib.zeros(2)}, {"0.bias": lib.zeros(2)}), (lib.zeros(4, 3),)
            )


def test_functional_call_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    out = ember.func.functional_call(m, {"a.weight": ember.eye(2) * 2}, (ember.ones(1, 2),))
    assert out.tolist() == [[4.0, 4.0]]  # both names use the new tensor
    out = ember.func.functional_call(
        m, {"a.weight": ember.eye(2) * 2}, (ember.ones(1, 2),), tie_weights=False
    )
    assert out.tolist() != [[4.0, 4.0]]


# -- checkpoint -------------------------------------------------------------------------------
def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3))


@pytest.mark.parametrize("reentrant", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_checkpoint_matches_torch(reentrant, input_grad):
    tm, em = _pair(_net(torch), _net(ember))
    x = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    tx, ex = torch.tensor(x, requires_grad=input_grad), ember.tensor(x, requires_grad=input_grad)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        ty = torch.utils.checkpoint.checkpoint(tm, tx, use_reentrant=reentrant)
    with warnings.catch_warnings(record=True) as ew:
        warnings.simplefilter("always")
        ey = ember.utils.checkpoint.checkpoint(em, ex, use_reentrant=reentrant)
    assert [str(w.message) for w in ew] == [str(w.message) for w in tw]
    _close(ey, ty)
    assert ey.requires_grad is ty.requires_grad
    if ty.requires_grad:
        ty.pow(2).sum().backward()
        ey.pow(2).sum().backward()
        for tp, ep in zip(tm.parameters(), em.parameters()):
            _close(ep.grad, tp.grad)
        if input_grad:
            _close(ex.grad, tx.grad)


def test_checkpoint_recomputes_in_backward_with_same_dropout():
    calls = []
    drop = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 2))

    def piece(x):
        calls.append(1)
        return drop(x)

    x = ember.randn(8, 4, requires_grad=True)
    ember.manual_seed(7)
    y = ember.utils.checkpoint.checkpoint(piece, x, use_reentrant=False)
    assert len(calls) == 1
    node = y.grad_fn  # one node stands for the whole piece: no intermediate activations kept
    assert all(e is None or not hasattr(e, "saved") or e.saved == () for e in node.next if e is not None)
    y.sum().backward()
    assert len(calls) == 2  # recomputed during backward
    g_ckpt = [p.grad.clone() for p in drop.parameters()] + [x.grad.clone()]
    drop.zero_grad()
    x2 = x.detach().requires_grad_()
    ember.manual_seed(7)
    drop(x2).sum().backward()
    for a, b in zip(g_ckpt, [p.grad for p in drop.parameters()] + [x2.grad]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_checkpoint_sequential():
    tm, em = _pair(_net(torch), _net(ember))
    x = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    ty = torch.utils.checkpoint.checkpoint_sequential(tm, 2, tx, use_reentrant=False)
    ey = ember.utils.checkpoint.checkpoint_sequential(em, 2, ex, use_reentrant=False)
    _close(ey, ty)
    ty.sum().backward()
    ey.sum().backward()
    _close(ex.grad, tx.grad)
    _close(em[0].weight.grad, tm[0].weight.grad)


# -- testing.assert_close ---------------------------------------------------------------------
_CASES = [
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0, 3.0]), L.tensor([1.0, 2.5, 3.0])),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0], dtype=L.float64)),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0, 3])),
    lambda L: L.testing.assert_close(1.0, 1.5),
    lambda L: L.testing.assert_close([L.tensor(1.0), L.tensor(2.0)], [L.tensor(1.0), L.tensor(3.0)]),
    lambda L: L.testing.assert_close(L.tensor([1, 2]), L.tensor([1, 3])),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.0]), rtol=1e-3),
    lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")])),
    lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")]), equal_nan=True),
    lambda L: L.testing.assert_close({"a": L.tensor(1.0)}, {"a": L.tensor(2.0)}),
    lambda L: L.testing.assert_close(L.tensor([[1.0, 2.0]]), L.tensor([[1.0, 3.0]]), msg="custom"),
    lambda L: L.testing.assert_close(L.tensor([1.0]), 1.0),
    lambda L: L.testing.assert_close(L.tensor([0.0, 1.0]), L.tensor([1e-9, 1.0])),
    lambda L: L.testing.assert_close(L.tensor([True]), L.tensor([False])),
    lambda L: L.testing.assert_close(L.tensor([[1.0, 2.0], [3.0, 4.0]]), L.tensor([[1.1, 2.0], [3.0, 4.4]])),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.001, 2.0]), rtol=1e-2, atol=0),
    lambda L: L.testing.assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.5])),
    lambda L: L.testing.assert_close(L.tensor([1.0], dtype=L.float64), L.tensor([1.0]), check_dtype=False),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.000001])),
    lambda L: L.testing.assert_close([1, 2], [1, 3]),
    lambda L: L.testing.assert_close([[L.tensor(1.0)]], [[L.tensor(2.0)]]),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
def test_assert_close_like_torch(case):
    out = []
    for lib in (torch, ember):
        try:
            _CASES[case](lib)
            out.append(None)
        except Exception as e:  # the same exception type and message
            out.append((type(e).__name__, str(e)))
    assert out[1] == out[0]


# -- data utilities ---------------------------------------------------------------------------
def test_weighted_random_sampler():
    from ember.utils.data import WeightedRandomSampler

    for lib_cls in (torch.utils.data.WeightedRandomSampler, WeightedRandomSampler):
        with pytest.raises(
            ValueError, match="num_samples should be a positive integer value, but got num_samples=0"
        ):
            lib_cls([1.0, 2.0], 0)
        with pytest.raises(ValueError, match="replacement should be a boolean value, but got replacement=1"):
            lib_cls([1.0, 2.0], 2, replacement=1)
        with pytest.raises(ValueError, match="weights should be a 1d sequence but given weights have shape"):
            lib_cls([[1.0, 2.0]], 2)
        assert list(lib_cls([0.0, 1.0, 0.0], 3)) == [1, 1, 1] and len(lib_cls([1.0, 2.0], 5)) == 5
        assert sorted(lib_cls([1.0, 2.0, 3.0], 3, replacement=False)) == [0, 1, 2]
    ember.manual_seed(0)
    draws = np.array(list(WeightedRandomSampler([1.0, 3.0], 20000)))
    assert abs((draws == 1).mean() - 0.75) < 0.02  # 0.75 +- 6.5 sigma


def test_worker_info_chain_stack_datasets():
    from ember.utils.data import (
        ChainDataset,
        DataLoader,
        IterableDataset,
        StackDataset,
        TensorDataset,
        get_worker_info,
    )

    assert get_worker_info() is None and torch.utils.data.get_worker_info() is None

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __iter__(self):
            info = get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, self.n, step))

    chain = ChainDataset([Count(3), Count(2)])
    assert list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5
    got = sorted(int(v) for b in DataLoader(Count(6), batch_size=None, num_workers=2) for v in [b])
    assert got == list(range(6))  # each worker took its own share through get_worker_info
    a, b = TensorDataset(ember.arange(3)), TensorDataset(ember.arange(3) * 10)
    s = StackDataset(a, b)
    assert len(s) == 3 and [int(t[0]) for t in s[2]] == [2, 20]
    d = StackDataset(x=a, y=b)
    assert {k: int(v[0]) for k, v in d[1].items()} == {"x": 1, "y": 10}
    assert [{k: int(v[0]) for k, v in it.items()} for it in d.__getitems__([0, 2])] == [
        {"x": 0, "y": 0}, {"x": 2, "y": 20},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(a, TensorDataset(ember.arange(4)))
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        StackDataset()
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(ChainDataset([a]))
