"""torch-level counting/search functions (ops/counting.py), compositions (ops/combine.py) and
finfo/iinfo, against real torch: values, dtypes, gradients and error types."""

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same

import ember

rng = np.random.default_rng(7)


def both(a, grad=False):
    e = ember.from_numpy(np.array(a).copy())
    t = torch.from_numpy(np.array(a).copy())
    if grad:
        e.requires_grad_()
        t.requires_grad_()
    return e, t


def same(eo, to, **kw):
    if isinstance(to, (tuple, list)):
        assert isinstance(eo, (tuple, list)) and len(eo) == len(to)
        for a, b in zip(eo, to):
            same(a, b, **kw)
        return
    assert_same(eo, to, **kw)


# ---- finfo / iinfo ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["float16", "float32", "float64", "complex64", "complex128", None])
def test_finfo(name):
    e = ember.finfo(getattr(ember, name)) if name else ember.finfo()
    t = torch.finfo(getattr(torch, name)) if name else torch.finfo()
    assert repr(e) == repr(t)
    for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(e, k) == getattr(t, k), k


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo(name):
    e, t = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
    assert repr(e) == repr(t) and (e.bits, e.min, e.max) == (t.bits, t.min, t.max)


def test_finfo_iinfo_errors():
    for fe, ft in [
        (lambda: ember.finfo(ember.int64), lambda: torch.finfo(torch.int64)),
        (lambda: ember.iinfo(ember.float32), lambda: torch.iinfo(torch.float32)),
        (lambda: ember.iinfo(ember.bool), lambda: torch.iinfo(torch.bool)),
    ]:
        err = assert_raises_same(fe, ft)
        with pytest.raises(type(err)) as ee:
            fe()
        assert str(ee.value) == str(err)


# ---- counting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [{}, dict(return_inverse=True), dict(return_counts=True), dict(return_inverse=True, return_counts=True)],
)
def test_unique(kw):
    a = rng.integers(0, 5, (4, 6))
    e, t = both(a)
    same(ember.unique(e, **kw), torch.unique(t, **kw))
    same(e.unique(sorted=True, **kw), t.unique(sorted=True, **kw))
    same(ember.unique(e, dim=0, **kw), torch.unique(t, dim=0, **kw))
    rows = np.array([[1, 2], [1, 2], [0, 3]])
    e, t = both(rows)
    same(ember.unique(e, dim=0, **kw), torch.unique(t, dim=0, **kw))
    same(ember.unique(e, dim=1, **kw), torch.unique(t, dim=1, **kw))
    f = rng.standard_normal(7).astype(np.float32).round(0)
    e, t = both(f)
    same(ember.unique(e, **kw), torch.unique(t, **kw))


@pytest.mark.parametrize("kw", [{}, dict(return_inverse=True, return_counts=True)])
def test_unique_consecutive(kw):
    e, t = both(np.array([1, 1, 2, 2, 3, 1, 1, 2]))
    same(ember.unique_consecutive(e, **kw), torch.unique_consecutive(t, **kw))
    e, t = both(np.array([[1, 1, 2], [1, 1, 2], [0, 3, 3]]))
    same(e.unique_consecutive(dim=0, **kw), t.unique_consecutive(dim=0, **kw))
    same(ember.unique_consecutive(e, dim=1, **kw), torch.unique_consecutive(t, dim=1, **kw))


def test_bincount_and_histc():
    a = rng.integers(0, 6, 20)
    e, t = both(a)
    same(ember.bincount(e), torch.bincount(t))
    same(e.bincount(minlength=10), t.bincount(minlength=10))
    for dt in (np.float32, np.float64):
        we, wt = both(rng.random(20).astype(dt))
        same(ember.bincount(e, weights=we), torch.bincount(t, weights=wt), atol=1e-6)
    assert_raises_same(
        lambda: ember.bincount(ember.tensor([-1, 2])), lambda: torch.bincount(torch.tensor([-1, 2]))
    )
    assert_raises_same(
        lambda: ember.bincount(ember.ones(2, 2).long()), lambda: torch.bincount(torch.ones(2, 2).long())
    )
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(50).astype(dt)
        e, t = both(x)
        same(ember.histc(e, bins=7, min=-1, max=1), torch.histc(t, bins=7, min=-1, max=1))
        same(e.histc(bins=5), t.histc(bins=5))
    e, t = both(np.array([0.0, 1.0, 1.0, 3.0], dtype=np.float32))
    same(ember.histc(e, bins=3, min=0, max=3), torch.histc(t, bins=3, min=0, max=3))  # max in the last bin


@pytest.mark.parametrize("right", [False, True])
def test_bucketize_and_searchsorted(right):
    bnd = np.array([1.0, 3.0, 5.0, 7.0, 9.0], dtype=np.float32)
    vals = np.array([[3.0, 6.0, 9.0], [0.0, 1.0, 10.0]], dtype=np.float32)
    (eb, tb), (ev, tv) = both(bnd), both(vals)
    same(ember.bucketize(ev, eb, right=right), torch.bucketize(tv, tb, right=right))
    same(ember.bucketize(ev, eb, out_int32=True), torch.bucketize(tv, tb, out_int32=True))
    same(ember.searchsorted(eb, ev, right=right), torch.searchsorted(tb, tv, right=right))
    same(ember.searchsorted(eb, 5.0, right=right), torch.searchsorted(tb, 5.0, right=right))
    side = "right" if right else "left"
    same(ember.searchsorted(eb, ev, side=side), torch.searchsorted(tb, tv, side=side))
    seq = np.sort(rng.integers(0, 10, (2, 3, 6)), axis=-1)
    q = rng.integers(0, 10, (2, 3, 4))
    (es, ts), (eq, tq) = both(seq), both(q)
    same(ember.searchsorted(es, eq, right=right), torch.searchsorted(ts, tq, right=right))
    unsorted = rng.permutation(5).astype(np.float32)
    (eu, tu), (eo, to) = both(unsorted), both(np.argsort(unsorted))
    same(ember.searchsorted(eu, ev, sorter=eo), torch.searchsorted(tu, tv, sorter=to))
    assert_raises_same(lambda: ember.searchsorted(es, ev), lambda: torch.searchsorted(ts, tv))
    assert_raises_same(
        lambda: ember.searchsorted(eb, ev, right=True, side="left"),
        lambda: torch.searchsorted(tb, tv, right=True, side="left"),
    )


def test_isin_and_tri_indices():
    a, b = rng.integers(0, 8, (3, 4)), np.array([1, 5, 7])
    (ea, ta), (eb, tb) = both(a), both(b)
    same(ember.isin(ea, eb), torch.isin(ta, tb))
    same(ember.isin(ea, eb, invert=True), torch.isin(ta, tb, invert=True))
    same(ember.isin(ea, 5), torch.isin(ta, 5))
    for r, c, off in [(4, 4, 0), (3, 5, 1), (5, 3, -2), (0, 3, 0), (3, 3, 10)]:
        same(ember.tril_indices(r, c, off), torch.tril_indices(r, c, off))
        same(ember.triu_indices(r, c, off), torch.triu_indices(r, c, off))
    same(ember.tril_indices(3, 3, dtype=ember.int32), torch.tril_indices(3, 3, dtype=torch.int32))


# ---- combinations (with gradients) ---------------------------------------------------------------
def _grads(fe, ft, *arrays, atol=1e-6):
    es, ts = zip(*(both(a, grad=True) for a in arrays))
    eo, to = fe(*es), ft(*ts)
    same(eo, to, atol=atol)
    eo_t = eo if isinstance(eo, tuple) else (eo,)
    to_t = to if isinstance(to, tuple) else (to,)
    ge = [rng.standard_normal(tuple(t.shape)).astype(np.float64) for t in to_t]
    sum((o * ember.from_numpy(g.astype(o.dtype.np))).sum() for o, g in zip(eo_t, ge)).backward()
    sum((o * torch.from_numpy(g).to(o.dtype)).sum() for o, g in zip(to_t, ge)).backward()
    for e, t in zip(es, ts):
        same(e.grad, t.grad, atol=atol)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_and_cartesian_prod(indexing):
    a, b, c = (rng.standard_normal(n) for n in (2, 3, 4))
    _grads(
        lambda *x: ember.meshgrid(*x, indexing=indexing),
        lambda *x: torch.meshgrid(*x, indexing=indexing),
        a,
        b,
        c,
    )
    _grads(
        lambda *x: ember.meshgrid(list(x), indexing=indexing),
        lambda *x: torch.meshgrid(list(x), indexing=indexing),
        a,
        b,
    )
    _grads(ember.cartesian_prod, torch.cartesian_prod, a, b, c)
    with pytest.warns(UserWarning, match="indexing argument"):
        ember.meshgrid(ember.arange(2), ember.arange(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(
            ember.meshgrid(ember.arange(2), ember.arange(3)), torch.meshgrid(torch.arange(2), torch.arange(3))
        )


@pytest.mark.parametrize("r, rep", [(2, False), (3, False), (2, True), (1, False), (6, False)])
def test_combinations(r, rep):
    _grads(
        lambda x: ember.combinations(x, r, rep),
        lambda x: torch.combinations(x, r, rep),
        rng.standard_normal(4),
    )


def test_block_diag():
    arrays = [
        rng.standard_normal((2, 3)),
        rng.standard_normal(2),
        rng.standard_normal((1, 1)),
        rng.standard_normal(()),
    ]
    _grads(ember.block_diag, torch.block_diag, *arrays)
    (e1, t1), (e2, t2) = both(np.ones((2, 2), dtype=np.float32)), both(np.ones((1, 1), dtype=np.int64))
    same(ember.block_diag(e1, e2), torch.block_diag(t1, t2))


def test_repeat_interleave():
    x = rng.standard_normal((2, 3))
    _grads(lambda t: t.repeat_interleave(2), lambda t: t.repeat_interleave(2), x)
    _grads(lambda t: ember.repeat_interleave(t, 3, dim=1), lambda t: torch.repeat_interleave(t, 3, dim=1), x)
    _grads(
        lambda t: ember.repeat_interleave(t, ember.tensor([1, 2]), dim=0),
        lambda t: torch.repeat_interleave(t, torch.tensor([1, 2]), dim=0),
        x,
    )
    same(ember.repeat_interleave(ember.tensor([2, 0, 3])), torch.repeat_interleave(torch.tensor([2, 0, 3])))
    same(ember.tensor(5).repeat_interleave(3), torch.tensor(5).repeat_interleave(3))
    assert_raises_same(
        lambda: ember.repeat_interleave(ember.ones(2, 3), ember.tensor([1, 2, 3]), dim=0),
        lambda: torch.repeat_interleave(torch.ones(2, 3), torch.tensor([1, 2, 3]), dim=0),
    )


def test_diff():
    x = rng.standard_normal((3, 5))
    for kw in (dict(), dict(n=2), dict(dim=0), dict(n=3, dim=1)):
        _grads(lambda t: ember.diff(t, **kw), lambda t: torch.diff(t, **kw), x)
    _grads(
        lambda t, p, a: t.diff(prepend=p, append=a),
        lambda t, p, a: t.diff(prepend=p, append=a),
        x,
        rng.standard_normal((3, 2)),
        rng.standard_normal((3, 1)),
    )
    e, t = both(np.array([True, False, False, True]))
    same(ember.diff(e), torch.diff(t))
    e, t = both(np.array([1, 4, 9, 16]))
    same(ember.diff(e, n=2), torch.diff(t, n=2))


def test_tensordot_inner_diagflat():
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4, 5))
    _grads(lambda x, y: ember.tensordot(x, y, 2), lambda x, y: torch.tensordot(x, y, 2), a, b)
    _grads(
        lambda x, y: ember.tensordot(x, y, ([1, 0], [1, 0])),
        lambda x, y: torch.tensordot(x, y, ([1, 0], [1, 0])),
        rng.standard_normal((3, 2, 4)),
        rng.standard_normal((3, 2, 5)),
    )
    _grads(
        lambda x, y: ember.tensordot(x, y, 0),
        lambda x, y: torch.tensordot(x, y, 0),
        rng.standard_normal(2),
        rng.standard_normal(3),
    )
    _grads(ember.inner, torch.inner, rng.standard_normal((2, 4)), rng.standard_normal((3, 4)))
    _grads(
        lambda x, y: x.inner(y), lambda x, y: x.inner(y), rng.standard_normal(()), rng.standard_normal((3, 4))
    )
    _grads(lambda x: x.diagflat(1), lambda x: x.diagflat(1), rng.standard_normal((2, 2)))
    assert_raises_same(
        lambda: ember.tensordot(ember.ones(2, 3), ember.ones(4, 3), 1),
        lambda: torch.tensordot(torch.ones(2, 3), torch.ones(4, 3), 1),
    )
    assert_raises_same(
        lambda: ember.inner(ember.ones(2, 3), ember.ones(2, 4)),
        lambda: torch.inner(torch.ones(2, 3), torch.ones(2, 4)),
    )


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.0])
def test_cdist(p):
    x1, x2 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3))
    x2[0, 0] = x1[0, 0]  # a zero distance: torch's gradient there is 0
    if p == 0.0:
        e1, t1 = both(x1)
        e2, t2 = both(x2)
        same(ember.cdist(e1, e2, p=p), torch.cdist(t1, t2, p=p))
        return
    _grads(lambda a, b: ember.cdist(a, b, p=p), lambda a, b: torch.cdist(a, b, p=p), x1, x2, atol=1e-6)
    _grads(
        lambda a, b: ember.cdist(a, b, p=p),
        lambda a, b: torch.cdist(a, b, p=p),
        x1[0].astype(np.float32),
        x2[0].astype(np.float32),
        atol=1e-5,
    )
    assert_raises_same(
        lambda: ember.cdist(ember.ones(2, 3), ember.ones(2, 4)),
        lambda: torch.cdist(torch.ones(2, 3), torch.ones(2, 4)),
    )


def test_hsplit_vsplit_dsplit():
    x = rng.standard_normal((4, 6, 2))
    e, t = both(x)
    for fn in ("hsplit", "vsplit", "dsplit"):
        same(getattr(ember, fn)(e, 2), getattr(torch, fn)(t, 2))
        same(getattr(e, fn)([1]), getattr(t, fn)([1]))
    e1, t1 = both(rng.standard_normal(6))
    same(ember.hsplit(e1, 3), torch.hsplit(t1, 3))
    assert_raises_same(lambda: ember.hsplit(e, 4), lambda: torch.hsplit(t, 4))
    assert_raises_same(lambda: ember.vsplit(e1, 2), lambda: torch.vsplit(t1, 2))


def test_scatter_embeddings():
    x = rng.standard_normal((3, 4, 5))
    _grads(
        lambda t, s: ember.select_scatter(t, s, 1, 2),
        lambda t, s: torch.select_scatter(t, s, 1, 2),
        x,
        rng.standard_normal((3, 5)),
    )
    _grads(
        lambda t, s: t.slice_scatter(s, 2, 1, 5, 2),
        lambda t, s: t.slice_scatter(s, 2, 1, 5, 2),
        x,
        rng.standard_normal((3, 4, 2)),
    )
    _grads(
        lambda t, s: ember.diagonal_scatter(t, s, 1, 1, 2),
        lambda t, s: torch.diagonal_scatter(t, s, 1, 1, 2),
        x,
        rng.standard_normal((3, 4)),
    )
    assert_raises_same(
        lambda: ember.select_scatter(ember.zeros(2, 3), ember.ones(2), 0, 1),
        lambda: torch.select_scatter(torch.zeros(2, 3), torch.ones(2), 0, 1),
    )


def test_unravel_index_dist_renorm_range_inference():
    for idx, shape in [([4, 7, 0], (2, 4)), (5, (2, 3)), ([[1, 2], [3, 11]], (3, 4)), ([-1], (6,))]:
        e, t = ember.tensor(idx), torch.tensor(idx)
        same(ember.unravel_index(e, shape), torch.unravel_index(t, shape))
    same(
        ember.unravel_index(ember.tensor([24, -7]), (2, 3)),
        torch.unravel_index(torch.tensor([24, -7]), (2, 3)),
    )
    assert_raises_same(
        lambda: ember.unravel_index(ember.tensor([1.0]), (2, 3)),
        lambda: torch.unravel_index(torch.tensor([1.0]), (2, 3)),
    )
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    for p in (2, 1, 3.5, float("inf")):
        _grads(lambda x, y, p=p: ember.dist(x, y, p), lambda x, y, p=p: torch.dist(x, y, p), a, b)
    w = rng.standard_normal((4, 3)) * 3
    for p, dim, mx in ((2, 0, 1.0), (1, 1, 2.0), (2, 1, 100.0)):
        _grads(lambda x: x.renorm(p, dim, mx), lambda x: x.renorm(p, dim, mx), w)
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        er = ember.range(0, 1, 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(er, torch.range(0, 1, 0.25))
        same(ember.range(1, 4, dtype=ember.int64), torch.range(1, 4, dtype=torch.int64))
        assert_raises_same(lambda: ember.range(5), lambda: torch.range(5))
    assert not ember.is_inference_mode_enabled()
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        with ember.inference_mode(False):
            assert not ember.is_inference_mode_enabled()
    assert not ember.is_inference_mode_enabled() and ember.is_grad_enabled()
