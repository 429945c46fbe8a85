"""Run under mpirun -n N (batch sizes differ by rank): SyncBatchNorm equals BatchNorm on the whole
batch (outputs, running statistics, input and parameter gradients), and DDP training of a
converted model equals one-process BatchNorm training on the concatenated batches."""

import numpy as np

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
r, n = dist.get_rank(), dist.get_world_size()
sizes = [2 + i for i in range(n)]  # uneven per-rank batches
lo, hi = sum(sizes[:r]), sum(sizes[: r + 1])
g = np.random.default_rng(0)
X = (g.standard_normal((sum(sizes), 3, 4, 5)) * 2 + 1).astype(np.float32)
C = g.standard_normal(X.shape).astype(np.float32)  # loss = sum(out * C): its gradient is exact per sample
W, Bv = g.standard_normal(3).astype(np.float32), g.standard_normal(3).astype(np.float32)


def close(a, b, what, tol=1e-5):
    np.testing.assert_allclose(
        a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol, err_msg=f"rank {r}: {what}"
    )


for momentum in (0.1, None):
    ref = nn.BatchNorm2d(3, momentum=momentum)
    sbn = nn.SyncBatchNorm(3, momentum=momentum)
    for m in (ref, sbn):
        m.weight.data.copy_(torch.from_numpy(W))
        m.bias.data.copy_(torch.from_numpy(Bv))
    for step in range(2):
        x_all = torch.from_numpy(X + step).requires_grad_()
        x = torch.from_numpy((X + step)[lo:hi]).requires_grad_()
        out_ref = ref(x_all)
        out = sbn(x)
        close(out, out_ref[lo:hi], f"output momentum={momentum} step {step}")
        (out_ref * torch.from_numpy(C)).sum().backward()
        (out * torch.from_numpy(C[lo:hi])).sum().backward()
        close(x.grad, x_all.grad[lo:hi], "input gradient")
        for p, q in ((sbn.weight, ref.weight), (sbn.bias, ref.bias)):
            total = p.grad.clone()
            dist.all_reduce(total)  # each rank holds its share of the whole-batch loss's gradient
            close(total, q.grad, "parameter gradient")
            p.grad = q.grad = None
        close(sbn.running_mean, ref.running_mean, "running_mean")
        close(sbn.running_var, ref.running_var, "running_var")
        assert sbn.num_batches_tracked.item() == ref.num_batches_tracked.item() == step + 1
    sbn.eval(), ref.eval()
    close(sbn(torch.from_numpy(X[lo:hi])), ref(torch.from_numpy(X))[lo:hi], "eval mode")

# (N, C) input, no affine, no running stats
ref, sbn = (
    nn.BatchNorm1d(3, affine=False, track_running_stats=False),
    nn.SyncBatchNorm(3, affine=False, track_running_stats=False),
)
x2 = X[:, :, 0, 0]
close(sbn(torch.from_numpy(x2[lo:hi])), ref(torch.from_numpy(x2))[lo:hi], "2-d input without affine")


# convert_sync_batchnorm + DDP training == one-process BatchNorm training on the concatenated batches
def net():
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 2 * 3, 2),
        nn.BatchNorm1d(2),
    )


ref, model = net(), nn.SyncBatchNorm.convert_sync_batchnorm(net())
assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[5], nn.SyncBatchNorm)
assert not isinstance(ref[1], nn.SyncBatchNorm)
ddp = DDP(model)
opt, opt_ref = torch.optim.SGD(ddp.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
Y = g.standard_normal((sum(sizes), 2)).astype(np.float32)
for step in range(5):
    xs = torch.from_numpy(X * (1 + step / 10))
    opt.zero_grad()
    # the global loss is sum over samples / global batch: this rank's share of it
    (((ddp(xs[lo:hi]) - torch.from_numpy(Y[lo:hi])) ** 2).sum() * (n / sum(sizes))).backward()
    opt.step()
    opt_ref.zero_grad()
    (((ref(xs) - torch.from_numpy(Y)) ** 2).sum() / sum(sizes)).backward()
    opt_ref.step()
for (name, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
    close(a.float(), b.float(), f"DDP + SyncBatchNorm: {name}", 1e-4)
dist.destroy_process_group()
print(f"ok {r}", flush=True)
