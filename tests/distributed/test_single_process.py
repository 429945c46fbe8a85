"""ember.distributed's API without a launcher (in this process, MPI never started): errors as
torch's, DistributedSampler's indices equal torch's, SyncBatchNorm on one process is BatchNorm,
DataParallel is a passthrough."""

import numpy as np
import pytest
import torch

import ember
import ember.distributed as dist
from ember.utils.data import DistributedSampler
from ember.utils.data.distributed import torch_randperm


def test_uninitialised_errors_match_torch():
    for fn in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(ember.ones(1))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        ember.nn.parallel.DistributedDataParallel(ember.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="gloo"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("foo")
    with pytest.raises(TypeError, match="datetime.timedelta"):
        dist.init_process_group("mpi", timeout=5)


def test_without_mpi4py_is_available_is_false_and_init_says_what_to_install(monkeypatch):
    import ember.distributed.process_group as pg

    monkeypatch.setattr(pg, "find_spec", lambda name: None)
    monkeypatch.setattr(pg._state, "mpi", None)
    assert not dist.is_available()
    with pytest.raises(RuntimeError, match=r"pip install 'ember\[distributed\]'.*openmpi-bin"):
        dist.init_process_group()


def test_reduce_op_and_backend_names_match_torch():
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR", "PREMUL_SUM"):
        ours, theirs = getattr(dist.ReduceOp, name), getattr(torch.distributed.ReduceOp, name)
        assert repr(ours) == repr(theirs) and str(ours) == str(theirs) and int(ours) == int(theirs)
    assert dist.Backend.MPI == torch.distributed.Backend.MPI == "mpi"
    assert dist.default_pg_timeout == torch.distributed.default_pg_timeout


@pytest.mark.parametrize("n, seed", [(1, 0), (2, 0), (10, 3), (257, 12345), (1000, 2**32 + 7)])
def test_torch_randperm_is_torchs(n, seed):
    assert (
        torch_randperm(n, seed) == torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    )


@pytest.mark.parametrize("size", [1, 7, 10, 12, 101])
@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (False, False), (True, True), (False, True)])
def test_distributed_sampler_indices_equal_torchs(size, replicas, shuffle, drop_last):
    for rank in range(replicas):
        for epoch in (0, 3):
            ours = DistributedSampler(range(size), replicas, rank, shuffle, seed=5, drop_last=drop_last)
            theirs = torch.utils.data.DistributedSampler(range(size), replicas, rank, shuffle, 5, drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_errors_and_dataloader():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(5))
    ds = ember.utils.data.TensorDataset(ember.arange(10))
    loader = ember.utils.data.DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, 1, seed=1))
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.arange(10)),
        batch_size=2,
        sampler=torch.utils.data.DistributedSampler(range(10), 2, 1, seed=1),
    )
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in ref]


def _bn_pair(cls_e, cls_t, **kw):
    e, t = cls_e(3, **kw), cls_t(3, **kw)
    g = np.random.default_rng(0)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(g.standard_normal(3).astype(np.float32)))
        t.bias.copy_(torch.from_numpy(g.standard_normal(3).astype(np.float32)))
    e.load_state_dict({k: ember.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()})
    return e, t


def test_sync_batchnorm_without_a_group_is_batchnorm_like_torchs():
    e, t = _bn_pair(ember.nn.SyncBatchNorm, torch.nn.SyncBatchNorm)
    x = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = e(xe), t(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e.running_var.numpy(), t.running_var.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        e(ember.ones(3))


def test_convert_sync_batchnorm_like_torchs():
    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(3)))

    e, t = build(ember.nn), build(torch.nn)
    e[1].eval()
    t[1].eval()
    ce, ct = (
        ember.nn.SyncBatchNorm.convert_sync_batchnorm(e),
        torch.nn.SyncBatchNorm.convert_sync_batchnorm(t),
    )
    assert [type(m).__name__ for m in ce.modules()] == [type(m).__name__ for m in ct.modules()]
    assert ce[1].weight is e[1].weight and ce[1].running_mean is e[1].running_mean
    assert ce[1].training == ct[1].training is False
    assert list(ce.state_dict()) == list(ct.state_dict())
    assert (
        ember.nn.SyncBatchNorm.convert_sync_batchnorm(ember.nn.BatchNorm1d(2)).__class__
        is ember.nn.SyncBatchNorm
    )


def test_data_parallel_is_a_passthrough_with_module_prefix():
    net = ember.nn.Linear(3, 2)
    dp = ember.nn.DataParallel(net)
    x = ember.randn(4, 3)
    assert (dp(x) == net(x)).all() and dp.module is net
    assert list(dp.state_dict()) == list(torch.nn.DataParallel(torch.nn.Linear(3, 2)).state_dict())
