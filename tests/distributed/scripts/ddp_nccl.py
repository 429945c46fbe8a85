"""Run under mpirun -n N: DistributedDataParallel on an nccl group. Training (several buckets)
equals one-process CPU training on the concatenated batches; no_sync, find_unused_parameters,
and a SyncBatchNorm model with broadcast buffers likewise; the buckets and gradients stay in
device memory. Prints 'ok <rank>' at the end.

    ddp_nccl.py cupy   real NCCL through CuPy: rank r on GPU r (local rank)
    ddp_nccl.py fake   tests/distributed/fake_nccl.py (no GPU): checks what ember hands NCCL, not
                       NCCL (see fake_nccl's docstring)
"""

import datetime
import os
import sys
from pathlib import Path

import numpy as np

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP

mode = sys.argv[1]
FAKE = mode == "fake"
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
world_rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
local_rank = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))

if FAKE:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fake_nccl

    from ember.distributed import nccl

    rt = fake_nccl.FakeNccl()
    nccl.set_runtime(rt)
    DEVICE = world_rank  # every rank its own fake device

    def to_dev(x):
        return fake_nccl.cuda(np.asarray(x), DEVICE)

    def host(a):
        return fake_nccl.host(a)

    def on_device(a):
        return isinstance(a, fake_nccl.FakeCudaArray) and a.device_index == DEVICE

    DEVICE_IDS = None  # the fake's arrays report device cpu to the rest of ember
else:
    import cupy

    DEVICE = local_rank
    cupy.cuda.Device(DEVICE).use()

    def to_dev(x):
        return cupy.asarray(np.asarray(x))

    def host(a):
        return cupy.asnumpy(a)

    def on_device(a):
        return isinstance(a, cupy.ndarray) and a.device.id == DEVICE

    DEVICE_IDS = [DEVICE]

dist.init_process_group("nccl", timeout=datetime.timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
B = 4  # per-rank batch


def to_device(module):
    """`module`'s parameters and buffers moved to this rank's device, in place."""
    for t in [*module.parameters(), *module.buffers()]:
        t._data = to_dev(t._data)
    return module


def tensor(x):
    return torch.Tensor._wrap(to_dev(x))


def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4))


def bn_net():  # Linear, not Conv2d: the fake's im2col windows are host arrays (NumPy's as_strided)
    return nn.Sequential(nn.Linear(8, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 4))


def batch(step):
    g = np.random.default_rng(1000 + step)
    x = g.standard_normal((B * n, 8)).astype(np.float32)
    y = g.integers(0, 4, B * n)
    return x, y


def mine(a):
    return a[r * B : (r + 1) * B]


def host_state(module):
    return {k: torch.from_numpy(host(v._data).copy()) for k, v in module.state_dict().items()}


def same_on_all_ranks(module, what):
    for name, p in module.state_dict().items():
        got = host(p._data)
        ranks = [None] * n
        dist.all_gather_object(ranks, torch.from_numpy(got.copy()))
        for i, other in enumerate(ranks):
            assert np.array_equal(other.numpy(), got), f"rank {r}: {what}: {name} differs from rank {i}'s"


def train(make, steps, lr, **ddp_kw):
    """`make()` on the device under DDP, on this rank's part of each global batch."""
    torch.manual_seed(7 + r)  # different initial weights on every rank: DDP must broadcast rank 0's
    model = to_device(make())
    ddp = DDP(model, device_ids=DEVICE_IDS, **ddp_kw)
    same_on_all_ranks(model, "after construction")
    start = host_state(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=lr, momentum=0.9)
    for step in range(steps):
        x, y = batch(step)
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(tensor(mine(x))), tensor(mine(y))).backward()
        opt.step()
    for b in ddp.reducer.buckets:
        assert on_device(b.flat), "a bucket outside the device"
    for name, p in model.named_parameters():
        assert on_device(p._data), f"{name} left the device"
        # (on the fake, ember's gradients of some ops are host arrays: NumPy drops the subclass)
        assert FAKE or on_device(p.grad._data), f"the gradient of {name} is not on the device"
    same_on_all_ranks(model, "after training")
    return model, start


def one_process(make, start, steps, lr):
    ref = make()
    ref.load_state_dict(start)
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    for step in range(steps):
        x, y = batch(step)
        opt.zero_grad()
        nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    return ref


def assert_matches(model, ref, what, tol=2e-5):
    for (name, p), q in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(
            host(p._data), q.numpy(), rtol=tol, atol=tol, err_msg=f"rank {r}: {what} {name}"
        )


# MLP, every parameter its own bucket: parameters equal one-process training on the whole batches
if FAKE:
    calls = len(rt.calls)
model, start = train(mlp, STEPS, 0.05, bucket_cap_mb=1e-6)
if FAKE:  # the checks (all-gathers) are MPI; NCCL: the construction's broadcast, 6 buckets a step
    made = rt.calls[calls:]
    assert made.count("allReduce") == 6 * STEPS and made.count("broadcast") == 1, made[:20]
assert_matches(model, one_process(mlp, start, STEPS, 0.05), f"MLP after {STEPS} steps")

# the default bucket size (one bucket), with gradient_as_bucket_view
model, start = train(mlp, 3, 0.05, gradient_as_bucket_view=True)
assert_matches(model, one_process(mlp, start, 3, 0.05), "MLP, gradient_as_bucket_view")

# SyncBatchNorm (batch statistics over every rank) and broadcast buffers, against BatchNorm on the
# concatenated batches
torch.manual_seed(11)
model, start = train(lambda: nn.SyncBatchNorm.convert_sync_batchnorm(bn_net()), 5, 0.05)
ref = one_process(bn_net, start, 5, 0.05)
assert_matches(model, ref, "SyncBatchNorm net", tol=5e-5)

# no_sync: local accumulation, then the synced backward averages the sum: a larger batch
torch.manual_seed(1)
net = mlp()
ref = mlp()
ref.load_state_dict(net.state_dict())
ddp = DDP(to_device(net), device_ids=DEVICE_IDS)
batches = [batch(50 + k) for k in range(3)]
loss_fn = nn.CrossEntropyLoss(reduction="sum")
with ddp.no_sync():
    for x, y in batches[:-1]:
        loss_fn(ddp(tensor(mine(x))), tensor(mine(y))).backward()
        assert ddp.reducer.launched == []
x, y = batches[-1]
loss_fn(ddp(tensor(mine(x))), tensor(mine(y))).backward()
X = np.concatenate([b[0] for b in batches])
Y = np.concatenate([b[1] for b in batches])
(loss_fn(ref(torch.from_numpy(X)), torch.from_numpy(Y)) / n).backward()
for p, q in zip(net.parameters(), ref.parameters()):
    np.testing.assert_allclose(host(p.grad._data), q.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg="no_sync")


# find_unused_parameters: a head used on rank 0 only, another used nowhere
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.a, self.b, self.never = (
            nn.Linear(4, 4),
            nn.Linear(4, 2),
            nn.Linear(4, 2),
            nn.Linear(4, 2),
        )

    def forward(self, x, use_b):
        h = self.body(x)
        return self.a(h) + (self.b(h) if use_b else 0)


torch.manual_seed(2)
m = to_device(TwoHeads())
ddp = DDP(m, device_ids=DEVICE_IDS, find_unused_parameters=True)
xr = np.random.default_rng(r).standard_normal((3, 4)).astype(np.float32)
ddp(tensor(xr), use_b=(r == 0)).sum().backward()
expected = np.zeros((2, 4), np.float32)
if r == 0:
    expected[:] = host(m.body(tensor(xr)).detach()._data).sum(0)
total = [None] * n
dist.all_gather_object(total, torch.from_numpy(expected))
np.testing.assert_allclose(
    host(m.b.weight.grad._data), sum(t.numpy() for t in total) / n, rtol=1e-5, atol=1e-6
)
assert m.never.weight.grad is None, "a parameter unused on every rank keeps grad None"
ddp(tensor(xr), use_b=False).sum().backward()  # the next iteration works

# a CPU module on an nccl group: the clear error, at construction
try:
    DDP(mlp())
    raise AssertionError("a CPU module accepted on an nccl group")
except RuntimeError as e:
    assert "the group's backend is nccl, which takes CUDA tensors" in str(e), e

dist.destroy_process_group()
print(f"ok {r}", flush=True)
