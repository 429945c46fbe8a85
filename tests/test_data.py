"""ember.utils.data against torch.utils.data: collate dtypes, samplers, DataLoader, workers."""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch
import torch.utils.data as TD

import ember
import ember.utils.data as ED
from ember.utils.data.dataloader import _tensor_gather


def _np(x):
    if isinstance(x, ember.Tensor):
        return x._data
    return x.detach().numpy()


def _same(e, t):
    """Recursively compare collated structures (types, dtypes, shapes, values)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert str(e.dtype) == str(t.dtype), (e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape)
        np.testing.assert_array_equal(_np(e), _np(t))
    elif isinstance(t, dict):
        assert type(e) is type(t) and e.keys() == t.keys()
        for k in t:
            _same(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(e).__name__ == type(t).__name__ and len(e) == len(t), (type(e), type(t))
        for a, b in zip(e, t):
            _same(a, b)
    else:
        assert e == t


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "make",
    [
        lambda T: [1.0, 2.5],
        lambda T: [1, 2, 3],
        lambda T: [True, False],
        lambda T: ["a", "b"],
        lambda T: [np.float32(2), np.float32(4)],
        lambda T: [np.int32(1), np.int32(7)],
        lambda T: [np.array([1.5, 2.0]), np.array([3.0, 4.0])],
        lambda T: [np.array([1, 2], dtype=np.int16), np.array([3, 4], dtype=np.int16)],
        lambda T: [T.tensor([1.0, 2.0]), T.tensor([3.0, 4.0])],
        lambda T: [(T.ones(2), 1), (T.zeros(2), 0)],
        lambda T: [[1, 2.0], [3, 4.0]],
        lambda T: [{"a": 1.0, "b": T.tensor([1])}, {"a": 2.0, "b": T.tensor([2])}],
        lambda T: [Point(1, 2.0), Point(3, 4.0)],
        lambda T: [{"k": (1, [2.0, 3.0])}, {"k": (4, [5.0, 6.0])}],
    ],
)
def test_default_collate_matches_torch(make):
    _same(ED.default_collate(make(ember)), TD.default_collate(make(torch)))


def test_default_collate_errors():
    for batch in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError) as te:
            TD.default_collate(batch)
        with pytest.raises(TypeError) as ee:
            ED.default_collate(batch)
        assert str(ee.value) == str(te.value)
    with pytest.raises(RuntimeError, match="equal size"):
        ED.default_collate([[1, 2], [3]])


def test_default_convert_matches_torch():
    data = {"a": np.arange(3), "b": [np.float32(1.5), 2]}
    e, t = ED.default_convert(data), TD.default_convert(data)
    _same(e["a"], t["a"])
    assert isinstance(e["b"][0], ember.Tensor) and isinstance(t["b"][0], torch.Tensor)


def test_tensor_dataset():
    X, y = ember.arange(12.0).reshape(6, 2), ember.arange(6)
    ds = ED.TensorDataset(X, y)
    assert len(ds) == 6
    a, b = ds[2]
    assert a.tolist() == [4.0, 5.0] and b.item() == 2
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        ED.TensorDataset(X, ember.arange(5))


def test_subset_concat_random_split():
    ds = ED.TensorDataset(ember.arange(10))
    sub = ED.Subset(ds, [3, 1, 4])
    assert len(sub) == 3 and sub[0][0].item() == 3 and sub[-1][0].item() == 4
    cat = ds + sub
    assert isinstance(cat, ED.ConcatDataset) and len(cat) == 13
    assert cat[11][0].item() == 1 and cat[-1][0].item() == 4
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-14]
    with pytest.raises(AssertionError, match="empty iterable"):
        ED.ConcatDataset([])

    class It(ED.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ED.ConcatDataset([It()])
    assert list(It() + It()) == [0, 1, 2, 0, 1, 2]

    ember.manual_seed(0)
    parts = ED.random_split(range(10), [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    ember.manual_seed(0)
    again = ED.random_split(range(10), [3, 7])
    assert again[0].indices == parts[0].indices
    g = ember.Generator().manual_seed(5)
    fr = ED.random_split(range(10), [0.5, 0.3, 0.2], generator=g)
    assert [len(p) for p in fr] == [len(p) for p in TD.random_split(range(10), [0.5, 0.3, 0.2])]
    assert [len(p) for p in ED.random_split(range(7), [0.5, 0.5])] == [4, 3]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        ED.random_split(range(10), [3, 3])


def test_samplers():
    data = list(range(7))
    assert list(ED.SequentialSampler(data)) == data
    ember.manual_seed(3)
    r1 = list(ED.RandomSampler(data))
    ember.manual_seed(3)
    r2 = list(ED.RandomSampler(data))
    assert r1 == r2 and sorted(r1) == data
    g = ember.Generator().manual_seed(1)
    rs = ED.RandomSampler(data, num_samples=17, generator=g)
    out = list(rs)
    assert len(rs) == 17 and len(out) == 17
    assert all(out[i * 7 : i * 7 + 7] and sorted(out[i * 7 : i * 7 + 7]) == data for i in range(2))
    rr = list(ED.RandomSampler(data, replacement=True, num_samples=50))
    assert len(rr) == 50 and set(rr) <= set(data)
    for kw in (dict(replacement=1), dict(num_samples=0), dict(num_samples=2.5)):
        with pytest.raises(Exception) as te:
            TD.RandomSampler(data, **kw)
        with pytest.raises(type(te.value)) as ee:
            ED.RandomSampler(data, **kw)
        assert str(ee.value) == str(te.value)
    sr = list(ED.SubsetRandomSampler([10, 20, 30]))
    assert sorted(sr) == [10, 20, 30]
    ws = list(ED.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 100))
    assert set(ws) == {1, 3} and ws.count(3) > ws.count(1)
    assert sorted(ED.WeightedRandomSampler([1, 1, 1], 3, replacement=False)) == [0, 1, 2]
    with pytest.raises(ValueError, match="1d sequence"):
        ED.WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        ED.WeightedRandomSampler([1.0], 0)


def test_batch_sampler_matches_torch():
    for n, bs, dl in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]:
        e = list(ED.BatchSampler(ED.SequentialSampler(range(n)), bs, dl))
        t = list(TD.BatchSampler(TD.SequentialSampler(range(n)), bs, dl))
        assert e == t
        assert len(ED.BatchSampler(range(n), bs, dl)) == len(t)
        assert list(ED.BatchSampler(range(n), bs, dl)) == t  # plain-iterable path
    for bs, dl in ((0, False), (True, False), (2, 1)):
        with pytest.raises(ValueError) as te:
            TD.BatchSampler(range(3), bs, dl)
        with pytest.raises(ValueError) as ee:
            ED.BatchSampler(range(3), bs, dl)
        assert str(ee.value) == str(te.value)


def test_seed_example_linear_regression_loader():
    features = ember.randn(1000, 2)
    labels = features @ ember.tensor([2.0, -3.4]) + 4.2
    dataset = ED.TensorDataset(features, labels)
    data_iter = ED.DataLoader(dataset, 10, shuffle=True)
    assert len(data_iter) == 100
    seen = []
    for X, y in data_iter:
        assert tuple(X.shape) == (10, 2) and tuple(y.shape) == (10,)
        assert X.dtype == ember.float32
        seen.append(y)
    allv = np.sort(np.concatenate([s._data for s in seen]))
    np.testing.assert_array_equal(allv, np.sort(labels._data))


def _per_sample(batch):
    return ED.default_collate(batch)


@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_tensor_gather_equals_per_sample_path(drop_last):
    X = ember.randn(53, 3, 2)
    y = ember.randint(0, 5, (53,))
    w = ember.rand(53).double()
    ds = ED.TensorDataset(X, y, w)
    assert _tensor_gather(ds) is not None
    for dset in (ds, ED.Subset(ds, list(range(50, 3, -2)))):
        g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
        fast = list(ED.DataLoader(dset, 8, shuffle=True, generator=g1, drop_last=drop_last))
        slow = list(
            ED.DataLoader(dset, 8, shuffle=True, generator=g2, drop_last=drop_last, collate_fn=_per_sample)
        )
        assert len(fast) == len(slow) > 0
        for fb, sb in zip(fast, slow):
            assert isinstance(fb, list) and len(fb) == 3
            for a, b in zip(fb, sb):
                assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
                np.testing.assert_array_equal(a._data, b._data)


def test_fast_path_uses_one_index_per_tensor(monkeypatch):
    class Counting(ED.TensorDataset):
        def __getitem__(self, i):
            calls.append(i)
            return super().__getitem__(i)

    calls = []
    ds = Counting(ember.randn(20, 2), ember.arange(20))
    # an overridden __getitem__ disables the fast path: samples are fetched one by one
    assert len(list(ED.DataLoader(ds, 5))) == 4 and len(calls) == 20
    rows = []
    orig = ember.Tensor.__getitem__
    monkeypatch.setattr(ember.Tensor, "__getitem__", lambda t, i: rows.append(i) or orig(t, i))
    plain = ED.TensorDataset(ember.randn(20, 2), ember.arange(20))
    assert len(list(ED.DataLoader(plain, 5, shuffle=True))) == 4 and rows == []


def test_shuffle_is_deterministic_under_manual_seed():
    ds = ED.TensorDataset(ember.arange(30))
    ember.manual_seed(11)
    a = [b[0].tolist() for b in ED.DataLoader(ds, 4, shuffle=True)]
    ember.manual_seed(11)
    b = [b[0].tolist() for b in ED.DataLoader(ds, 4, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == list(range(30))
    assert a != [list(range(i, min(i + 4, 30))) for i in range(0, 30, 4)]


def test_dataloader_len_and_options():
    ds = ED.TensorDataset(ember.arange(10))
    assert len(ED.DataLoader(ds, 3)) == 4
    assert len(ED.DataLoader(ds, 3, drop_last=True)) == 3
    nb = list(ED.DataLoader(ds, batch_size=None))
    assert len(nb) == 10 and isinstance(nb[0], list) and nb[0][0].ndim == 0  # as torch
    bs = ED.DataLoader(ds, batch_sampler=[[0, 1], [5, 6, 7]])
    assert [b[0].tolist() for b in bs] == [[0, 1], [5, 6, 7]]
    custom = ED.DataLoader(ds, 4, sampler=[9, 8, 7, 6, 5])
    assert [b[0].tolist() for b in custom] == [[9, 8, 7, 6], [5]]
    cf = ED.DataLoader(list(range(5)), 2, collate_fn=lambda b: sum(b))
    assert list(cf) == [1, 5, 4]
    dl = ED.DataLoader(ds, 3)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        dl.batch_size = 4


class _Squares(ED.Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        return {"x": float(i), "sq": np.array([i * i], dtype=np.int64)}


@pytest.mark.parametrize(
    "kw",
    [
        dict(num_workers=-1),
        dict(timeout=-1),
        dict(prefetch_factor=2),
        dict(num_workers=1, prefetch_factor=-1),
        dict(persistent_workers=True),
        dict(shuffle=True, sampler=[0, 1]),
        dict(batch_sampler=[[0]], batch_size=2),
        dict(batch_sampler=[[0]], shuffle=True),
        dict(batch_sampler=[[0]], drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(batch_size=0),
    ],
)
def test_dataloader_argument_errors_match_torch(kw):
    with pytest.raises(Exception) as te:
        TD.DataLoader(list(range(4)), **kw)
    with pytest.raises(type(te.value)) as ee:
        ED.DataLoader(list(range(4)), **kw)
    assert str(ee.value) == str(te.value)


def test_iterable_dataset_errors_and_batches():
    class It(ED.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    class TIt(TD.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError) as te:
            TD.DataLoader(TIt(), **kw)
        with pytest.raises(ValueError) as ee:
            ED.DataLoader(It(), **kw)
        assert str(ee.value) == str(te.value)
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        e = [x.tolist() if hasattr(x, "tolist") else x for x in ED.DataLoader(It(), **kw)]
        t = [x.tolist() if hasattr(x, "tolist") else x for x in TD.DataLoader(TIt(), **kw)]
        assert e == t


def test_map_dataset_dicts_match_torch_collate():
    class TSquares(TD.Dataset):
        __len__ = _Squares.__len__
        __getitem__ = _Squares.__getitem__

    e = list(ED.DataLoader(_Squares(), 5))
    t = list(TD.DataLoader(TSquares(), 5))
    assert len(e) == len(t) == 5
    for a, b in zip(e, t):
        _same(a, b)


def test_pin_memory_warns_without_accelerator():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(UserWarning, match="pin_memory"):
        list(ED.DataLoader(list(range(3)), pin_memory=True))


# -- worker processes -----------------------------------------------------------------------


class _WorkerEcho(ED.Dataset):
    def __len__(self):
        return 17

    def __getitem__(self, i):
        info = ED.get_worker_info()
        return {"i": i, "pid": os.getpid(), "wid": -1 if info is None else info.id}


class _Boom(ED.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"bad sample {i}")
        return i


class _ShardedIt(ED.IterableDataset):
    def __iter__(self):
        info = ED.get_worker_info()
        wid, n = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(wid, 10, n))


def test_workers_run_in_other_processes_in_order():
    assert ED.get_worker_info() is None
    dl = ED.DataLoader(_WorkerEcho(), batch_size=3, num_workers=2)
    batches = list(dl)
    assert [b["i"].tolist() for b in batches] == [list(range(i, min(i + 3, 17))) for i in range(0, 17, 3)]
    pids = {p for b in batches for p in b["pid"].tolist()}
    assert os.getpid() not in pids and len(pids) == 2
    assert {w for b in batches for w in b["wid"].tolist()} == {0, 1}


def test_worker_tensor_dataset_and_shuffle_equal_single_process():
    ds = ED.TensorDataset(ember.randn(40, 3), ember.arange(40))
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    a = list(ED.DataLoader(ds, 6, shuffle=True, generator=g1))
    b = list(ED.DataLoader(ds, 6, shuffle=True, generator=g2, num_workers=2, prefetch_factor=3))
    assert len(a) == len(b) == 7
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u._data, v._data)


def test_worker_exception_is_reraised_with_traceback():
    dl = ED.DataLoader(_Boom(), batch_size=2, num_workers=2)
    it = iter(dl)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(KeyError) as ei:
        list(it)
    msg = str(ei.value)
    assert "Caught KeyError in DataLoader worker process" in msg
    assert "Traceback (most recent call last)" in msg and "bad sample 5" in msg
    assert "__getitem__" in msg


def test_iterable_dataset_with_workers_and_worker_init_fn():
    dl = ED.DataLoader(_ShardedIt(), batch_size=2, num_workers=2, worker_init_fn=_init_fn)
    got = sorted(v for b in dl for v in b.tolist())
    assert got == list(range(10))


def _init_fn(worker_id):
    info = ED.get_worker_info()
    assert info is not None and info.id == worker_id and info.num_workers == 2


def test_persistent_workers_reuse_processes():
    dl = ED.DataLoader(_WorkerEcho(), batch_size=4, num_workers=2, persistent_workers=True)
    e1 = list(dl)
    e2 = list(dl)
    assert [b["i"].tolist() for b in e1] == [b["i"].tolist() for b in e2]
    p1 = {p for b in e1 for p in b["pid"].tolist()}
    p2 = {p for b in e2 for p in b["pid"].tolist()}
    assert p1 == p2
    del dl


class _Slow(ED.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        import time

        time.sleep(0.6)
        return i


def test_worker_timeout_raises_like_torch():
    dl = ED.DataLoader(_Slow(), batch_size=2, num_workers=1, timeout=0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.1 seconds"):
        next(iter(dl))
