"""Run under mpirun -n N: DistributedDataParallel training equals single-process training on the
concatenated batches (MLP and LeNet); no_sync accumulation equals a larger batch; unused
parameters; buffers; bucket all-reduces start during backward. Prints 'ok <rank>'."""

import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.cli.models import LeNet
from ember.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
import time  # noqa: E402

T0 = time.perf_counter()
r, n = dist.get_rank(), dist.get_world_size()
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
print(f"rank {r} network namespace {os.readlink('/proc/self/ns/net')}", flush=True)
B = 4  # per-rank batch


def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4))


def batch(step, shape, classes):
    g = np.random.default_rng(1000 + step)
    x = g.standard_normal((B * n, *shape)).astype(np.float32)
    y = g.integers(0, classes, B * n)
    return torch.from_numpy(x), torch.from_numpy(y)


def same_on_all_ranks(tensors, what):
    for t in tensors:
        mx, mn = t.detach().clone(), t.detach().clone()
        dist.all_reduce(mx, op=dist.ReduceOp.MAX)
        dist.all_reduce(mn, op=dist.ReduceOp.MIN)
        assert (mx == mn).all(), f"{what}: ranks differ"


def ddp_train(make, shape, steps, lr, bucket_cap_mb):
    """Train `make()` under DDP on this rank's quarter of each global batch."""
    torch.manual_seed(7 + r)  # different initial weights on every rank: DDP must broadcast rank 0's
    model = make()
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    same_on_all_ranks(list(model.parameters()), "parameters after construction")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(ddp.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        x, y = batch(step, shape, 4 if make is mlp else 10)
        opt.zero_grad()
        loss_fn(ddp(x[r * B : (r + 1) * B]), y[r * B : (r + 1) * B]).backward()
        opt.step()
    same_on_all_ranks(list(model.parameters()), "parameters after training")
    return ddp, start


def check_against_one_process(make, shape, steps, lr, ddp, start, tol):
    """The same steps in one process on the concatenated batches give the same parameters."""
    ref = make()
    ref.load_state_dict(start)
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        x, y = batch(step, shape, 4 if make is mlp else 10)
        opt.zero_grad()
        loss_fn(ref(x), y).backward()
        opt.step()
    for (name, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
        assert p.dtype == torch.float32
        np.testing.assert_allclose(
            p.detach().numpy(),
            q.detach().numpy(),
            rtol=tol,
            atol=tol,
            err_msg=f"{make.__name__} {name} after {steps} steps",
        )


LENET_STEPS = max(STEPS // 2, 1)
ddp, start = ddp_train(mlp, (8,), STEPS, 0.05, 1e-6)  # every parameter its own bucket
assert len(ddp.reducer.buckets) == 6
assert list(ddp.state_dict())[:2] == ["module.0.weight", "module.0.bias"]
assert isinstance(ddp.module, nn.Sequential)
ddp_l, start_l = ddp_train(LeNet, (1, 28, 28), LENET_STEPS, 0.05, 25)
print("ddp training", time.perf_counter() - T0, flush=True)
# the one-process references run in parallel: MLP on rank 0, LeNet on the last rank
if r == 0:
    check_against_one_process(mlp, (8,), STEPS, 0.05, ddp, start, 2e-5)
if r == n - 1:
    check_against_one_process(LeNet, (1, 28, 28), LENET_STEPS, 0.05, ddp_l, start_l, 5e-5)
print("references", time.perf_counter() - T0, flush=True)

# bucket all-reduces start while backward is still running: when the gradient of the first layer's
# output arrives (before that layer's backward), the buckets of the later layers were launched
torch.manual_seed(0)
net = mlp()
ddp = DDP(net, bucket_cap_mb=1e-6)
seen = []
x, y = batch(0, (8,), 4)
h = net[0](x[r * B : (r + 1) * B])
h.register_hook(lambda g: seen.append(list(ddp.reducer.launched)))
out = ddp.module[1:](h)
ddp.reducer.prepare(None)  # what DDP.forward does after the module ran
out.sum().backward()
assert len(seen) == 1 and len(seen[0]) >= 3, f"buckets launched before the first layer's backward: {seen}"
assert ddp.reducer.launched == list(range(6))

# no_sync: gradients accumulate locally; the next synced backward averages the sum: a larger batch
torch.manual_seed(1)
net = mlp()
ddp = DDP(net)
ref = mlp()
ref.load_state_dict(net.state_dict())
K = 3
batches = [batch(50 + k, (8,), 4) for k in range(K)]
loss_fn = nn.CrossEntropyLoss(reduction="sum")
with ddp.no_sync():
    for x, y in batches[:-1]:
        loss_fn(ddp(x[r * B : (r + 1) * B]), y[r * B : (r + 1) * B]).backward()
        assert ddp.reducer.launched == []
local = net[0].weight.grad.clone()
gathered = [None] * n
dist.all_gather_object(gathered, local)
assert n == 1 or not all((g == gathered[0]).all() for g in gathered[1:]), "no_sync gradients were synced"
x, y = batches[-1]
loss_fn(ddp(x[r * B : (r + 1) * B]), y[r * B : (r + 1) * B]).backward()
X = torch.cat([b[0] for b in batches])
Y = torch.cat([b[1] for b in batches])
(loss_fn(ref(X), Y) / n).backward()  # the sum over all ranks' samples, averaged over ranks as DDP does
for p, q in zip(net.parameters(), ref.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg="no_sync")


# find_unused_parameters: a head used on rank 0 only; another used nowhere
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.a, self.b, self.never = (
            nn.Linear(4, 4),
            nn.Linear(4, 2),
            nn.Linear(4, 2),
            nn.Linear(4, 2),
        )
        self.register_buffer("stamp", torch.zeros(2))

    def forward(self, x, use_b):
        h = self.body(x)
        return self.a(h) + (self.b(h) if use_b else 0)


torch.manual_seed(2)
m = TwoHeads()
m.stamp.fill_(float(r))
ddp = DDP(m, find_unused_parameters=True)
m.stamp.fill_(float(r + 10))
x = torch.from_numpy(np.random.default_rng(r).standard_normal((3, 4)).astype(np.float32))
out = ddp(x, use_b=(r == 0))
assert m.stamp.tolist() == [10.0, 10.0], "broadcast_buffers: rank 0's buffers before forward"
out.sum().backward()
local_b = torch.zeros(2, 4)
if r == 0:
    h = m.body(x).detach()
    local_b = h.sum(0).expand(2, 4).clone()  # d(sum(b(h)))/d b.weight for this rank's input
dist.all_reduce(local_b)
np.testing.assert_allclose(m.b.weight.grad.numpy(), local_b.numpy() / n, rtol=1e-5, atol=1e-6)
assert m.never.weight.grad is None, "a parameter unused on every rank keeps grad None"
out = ddp(x, use_b=False)  # the next iteration works
out.sum().backward()

# without find_unused_parameters an unused parameter is torch's clear error at the next forward
torch.manual_seed(3)
ddp = DDP(TwoHeads())
ddp(x, use_b=True).sum().backward()  # `never` gets no gradient: the reduction cannot finish
try:
    ddp(x, use_b=True)
    raise AssertionError("no error for an unfinished reduction")
except RuntimeError as e:
    assert "Expected to have finished reduction in the prior iteration" in str(e), e

# gradient_as_bucket_view gives the same gradients as copies
torch.manual_seed(4)
a_net, b_net = mlp(), mlp()
b_net.load_state_dict(a_net.state_dict())
a, b = DDP(a_net), DDP(b_net, gradient_as_bucket_view=True)
for step in range(2):
    x, y = batch(step, (8,), 4)
    for d in (a, b):
        d.zero_grad()
        nn.functional.cross_entropy(d(x[r * B : (r + 1) * B]), y[r * B : (r + 1) * B]).backward()
    for p, q in zip(a_net.parameters(), b_net.parameters()):
        assert (p.grad == q.grad).all()

try:
    DDP(nn.Linear(2, 2), device_ids=[0])
    raise AssertionError("device_ids on a CPU module accepted")
except ValueError as e:
    assert "device_ids" in str(e)
dist.destroy_process_group()
print(f"ok {r}", flush=True)
