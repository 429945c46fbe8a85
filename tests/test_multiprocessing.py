"""ember.multiprocessing against torch.multiprocessing: tensors through shared memory, sharing
strategies, spawn's error reporting, Hogwild training on shared parameters, DataLoader batches."""

import numpy as np
import pytest
import torch
import torch.multiprocessing as tmp

import ember
import ember.multiprocessing as mp
from ember.utils.data import DataLoader, TensorDataset


def _child_add_one(q, r):
    t = q.get()
    t += 1
    p = q.get()
    r.put((t, p, p.requires_grad, type(p).__name__, p.stride(), p.dtype))
    q.get()  # a sender stays alive until its tensors are received (as with torch)


@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize("strategy", ["file_descriptor", "file_system"])
def test_queue_shares_memory(method, strategy):
    old = mp.get_sharing_strategy()
    mp.set_sharing_strategy(strategy)
    try:
        ctx = mp.get_context(method)
        q, r = ctx.Queue(), ctx.Queue()
        proc = ctx.Process(target=_child_add_one, args=(q, r))
        proc.start()
        t = ember.zeros(4, dtype=ember.float64)
        q.put(t)
        p = ember.nn.Parameter(ember.arange(6.0).reshape(2, 3).t())
        q.put(p)
        back, p2, rg, name, stride, dtype = r.get(timeout=60)
        q.put("done")
        proc.join(60)
        assert proc.exitcode == 0
    finally:
        mp.set_sharing_strategy(old)
    # the child's in-place add is visible to the sender: the tensor was moved to shared memory
    assert t.tolist() == [1.0, 1.0, 1.0, 1.0] and t.is_shared()
    assert back.dtype == ember.float64 and back.tolist() == t.tolist()
    back[0] = 7.0  # the returned tensor maps the same block as t
    assert t[0].item() == 7.0
    assert (rg, name, stride, dtype) == (True, "Parameter", (1, 3), ember.float32)
    assert p2.tolist() == p.tolist()


def test_share_memory_like_torch():
    for lib in (torch, ember):
        a = lib.arange(6.0).reshape(2, 3)
        assert a.is_shared() is False
        assert a.share_memory_() is a and a.is_shared() is True
        assert a.share_memory_() is a  # a second call is a no-op
        assert a.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    m = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    assert m.share_memory() is m and tm.share_memory() is tm
    assert [p.is_shared() for p in m.parameters()] == [p.is_shared() for p in tm.parameters()]
    assert [b.is_shared() for b in m.buffers()] == [b.is_shared() for b in tm.buffers()]
    # shared parameters keep their identity (an optimizer built before still updates them)
    w = m[0].weight
    v = w.detach().clone()
    w.data.add_(1.0)
    assert np.allclose(w.detach().numpy(), v.numpy() + 1)


def test_sharing_strategies_and_errors():
    assert mp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy() == "file_descriptor"
    with pytest.raises(AssertionError, match="invalid sharing strategy"):
        tmp.set_sharing_strategy("nope")
    with pytest.raises(AssertionError, match="invalid sharing strategy"):
        mp.set_sharing_strategy("nope")
    from multiprocessing.reduction import ForkingPickler

    x = torch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as te:
        ForkingPickler.dumps(x)
    y = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as ee:
        ForkingPickler.dumps(y)
    assert str(ee.value) == str(te.value)
    for name in ("Process", "Queue", "Pipe", "get_context", "set_start_method", "get_start_method",
                 "cpu_count", "Event", "Lock", "Manager", "Pool", "spawn", "start_processes"):  # fmt: skip
        assert hasattr(mp, name) and hasattr(tmp, name), name


def _fail_on_one(i, msg):
    if i == 1:
        raise ValueError(msg)


def _exit_three(i):
    raise SystemExit(3)


def test_spawn_reports_errors():
    with pytest.raises(mp.ProcessRaisedException) as e:
        mp.start_processes(_fail_on_one, args=("boom",), nprocs=2, start_method="fork")
    assert "-- Process 1 terminated with the following error:" in str(e.value)
    assert "ValueError: boom" in str(e.value) and e.value.error_index == 1
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3"):
        mp.start_processes(_exit_three, nprocs=1, start_method="fork")
    assert mp.start_processes(_fail_on_one, args=("x",), nprocs=1, start_method="fork") is None
    ctx = mp.spawn(_fail_on_one, args=("x",), nprocs=1, join=False)
    assert isinstance(ctx, mp.ProcessContext)
    while not ctx.join():
        pass


# -- Hogwild: two processes train one MLP whose parameters live in shared memory ------------
def _data():
    g = np.random.default_rng(0)
    centers = g.normal(0, 3, (4, 8))
    y = g.integers(0, 4, 1200)
    x = centers[y] + g.normal(0, 1.5, (1200, 8))
    return ember.tensor(x, dtype=ember.float32), ember.tensor(y)


def _train(rank, model, epochs, counter):
    ember.manual_seed(rank)
    x, y = _data()
    opt = ember.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(epochs):
        for idx in ember.randperm(1000).split(50):
            opt.zero_grad()
            ember.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            counter[rank] += 1


def _accuracy(model):
    x, y = _data()
    with ember.no_grad():
        return (model(x[1000:]).argmax(1) == y[1000:]).float().mean().item()


def _mlp():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(8, 32), ember.nn.ReLU(), ember.nn.Linear(32, 4))


def test_hogwild_reaches_single_process_accuracy():
    single = _mlp()
    _train(0, single, 4, ember.zeros(1, dtype=ember.int64))
    shared = _mlp().share_memory()
    before = shared[0].weight.detach().clone()
    counter = ember.zeros(2, dtype=ember.int64).share_memory_()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_train, args=(r, shared, 2, counter)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    # both workers' steps reached the parent's copy of the parameters
    assert counter.tolist() == [40, 40]
    assert not np.allclose(shared[0].weight.detach().numpy(), before.numpy())
    acc_single, acc_shared = _accuracy(single), _accuracy(shared)
    assert acc_single > 0.8
    assert acc_shared >= acc_single - 0.03, (acc_shared, acc_single)


def test_dataloader_batches_through_shared_memory():
    data = ember.randn(40, 3, 64, 64)  # 48 KiB a sample
    ds = TensorDataset(data, ember.arange(40))
    for bs, shared in ((8, False), (24, True)):  # 384 KiB by value; 1.1 MiB through shared memory
        batches = list(DataLoader(ds, batch_size=bs, num_workers=2))
        assert [b[1].tolist() for b in batches] == [list(range(i, min(i + bs, 40))) for i in range(0, 40, bs)]
        assert np.array_equal(np.concatenate([b[0].numpy() for b in batches]), data.numpy())
        assert batches[0][0].is_shared() is shared and batches[0][0].dtype == ember.float32


def _echo(q, r):
    r.put(q.get())  # receive a tensor and send it straight back
    q.get()


def test_many_received_blocks_do_not_hold_descriptors(monkeypatch):
    from ember import _shared

    monkeypatch.setattr(_shared, "MAX_HELD_RECEIVED", 0)  # every received block closes its fd
    ctx = mp.get_context("fork")
    q, r = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_echo, args=(q, r))
    proc.start()
    t = ember.arange(6.0).reshape(2, 3)
    q.put(t)
    back = r.get(timeout=60)  # the child re-sent a block whose descriptor it had closed: a copy
    q.put("done")
    proc.join(60)
    assert proc.exitcode == 0
    assert back.tolist() == t.tolist() and back.is_shared()
    x = ember.ones(3).share_memory_()
    from multiprocessing.reduction import ForkingPickler

    blk = _shared.block_of(x._data)[0]
    blk.fd, fd = None, blk.fd  # as a received block past the limit
    try:
        y = ForkingPickler.loads(ForkingPickler.dumps(x))
        assert y.tolist() == [1.0, 1.0, 1.0] and y.is_shared()
    finally:
        blk.fd = fd
