"""Run under mpirun -n N: every collective of an nccl group against the same computation in one
process (each rank rebuilds every rank's inputs from their seeds). Prints 'ok <rank>' at the end.

    nccl_collectives.py cupy        real NCCL through CuPy: rank r on GPU r (local rank)
    nccl_collectives.py fake        ember's glue on tests/distributed/fake_nccl.py (no GPU): checks
    nccl_collectives.py fake-noavg  what ember passes NCCL, not NCCL (see fake_nccl's docstring);
                                    fake-noavg is an NCCL before 2.10 (no ncclAvg)
"""

import datetime
import os
import sys
from pathlib import Path

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.distributed.nn.functional

mode = sys.argv[1]
FAKE = mode.startswith("fake")
world_rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
local_rank = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))

if FAKE:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fake_nccl

    from ember.distributed import nccl

    rt = fake_nccl.FakeNccl(has_avg=mode == "fake")
    nccl.set_runtime(rt)
    DEVICE = world_rank  # every rank its own fake device; the current device stays 0

    def dev(x):
        return torch.Tensor._wrap(fake_nccl.cuda(x, DEVICE))

    def host(t):
        return fake_nccl.host(t._data)

else:
    import cupy

    DEVICE = local_rank
    cupy.cuda.Device(DEVICE).use()

    def dev(x):
        return torch.Tensor._wrap(cupy.asarray(np.asarray(x)))

    def host(t):
        return cupy.asnumpy(t._data)


dist.init_process_group("nccl", timeout=datetime.timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
assert dist.get_backend() == "nccl" and dist.is_nccl_available() and dist.group.WORLD.name() == "nccl"


def inp(rank, shape=(3, 4), dtype=np.float32):
    return np.random.default_rng(100 + rank).standard_normal(shape).astype(dtype)


def ranks_inputs(shape=(3, 4), dtype=np.float32):
    return [inp(i, shape, dtype) for i in range(n)]


def close(t, expected, what, rtol=1e-5, atol=1e-6):
    got = host(t) if isinstance(t, torch.Tensor) else t
    assert got.dtype == np.asarray(expected).dtype or np.asarray(expected).dtype == np.float64, (
        what,
        got.dtype,
    )
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f"rank {r}: {what}")


def raises(exc, text, fn):
    try:
        fn()
    except exc as e:
        assert text in str(e), f"rank {r}: expected {text!r} in {e!r}"
        return
    raise AssertionError(f"rank {r}: {text!r} was not raised")


# all_reduce with every op NCCL has, blocking and async
ops = {
    "SUM": lambda a: a.sum(0),
    "AVG": lambda a: a.mean(0),
    "PRODUCT": lambda a: a.prod(0),
    "MIN": lambda a: a.min(0),
    "MAX": lambda a: a.max(0),
}
for name, ref in ops.items():
    for async_op in (False, True):
        t = dev(inp(r))
        v, data = t._version, t._data
        w = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=async_op)
        if async_op:
            assert isinstance(w, dist.Work) and w.wait() and w.is_completed() and w.result() == [t]
        else:
            assert w is None
        close(t, ref(np.stack(ranks_inputs())).astype(np.float32), f"all_reduce {name} async={async_op}")
        assert t._version > v and t._data is data, "in place, version bumped"

# integer, bool, float64, float16 and complex dtypes
ti = dev(np.array([r + 1, 10 * (r + 1), -7 * r - 1], np.int64))
dist.all_reduce(ti, op=dist.ReduceOp.AVG)
ref = np.stack([np.array([i + 1, 10 * (i + 1), -7 * i - 1]) for i in range(n)]).sum(0)
assert host(ti).dtype == np.int64 and host(ti).tolist() == np.trunc(ref / n).astype(np.int64).tolist(), host(
    ti
)
ti = dev(np.array([3, r], np.int32))
dist.all_reduce(ti, op=dist.ReduceOp.MAX)
assert host(ti).tolist() == [3, n - 1]
bools = [np.array([True, i == 0, False, i != 1]) for i in range(n)]
for name, ref in (("SUM", np.any), ("MAX", np.any), ("PRODUCT", np.all), ("MIN", np.all)):
    tb = dev(bools[r])
    dist.all_reduce(tb, op=getattr(dist.ReduceOp, name))
    assert host(tb).dtype == np.bool_ and host(tb).tolist() == ref(np.stack(bools), 0).tolist(), (
        name,
        host(tb),
    )
t64 = dev(inp(r, (5,), np.float64))
dist.all_reduce(t64)
close(t64, np.stack(ranks_inputs((5,), np.float64)).sum(0), "all_reduce float64", rtol=1e-12)
t16 = dev(inp(r, (6,), np.float16))
dist.all_reduce(t16, op=dist.ReduceOp.AVG)
close(
    t16,
    np.stack(ranks_inputs((6,), np.float16)).astype(np.float32).mean(0).astype(np.float16),
    "float16",
    1e-2,
    1e-2,
)
zs = [(inp(i, (4,)) + 1j * inp(i + 7, (4,))).astype(np.complex64) for i in range(n)]
for name, ref in (("SUM", np.sum), ("AVG", np.mean)):
    tc = dev(zs[r])
    dist.all_reduce(tc, op=getattr(dist.ReduceOp, name))
    close(tc, ref(np.stack(zs), 0).astype(np.complex64), f"all_reduce complex {name}")

# a strided view: reduced through a contiguous copy, written back, the rest untouched
base = dev(inp(r, (4, 6)))
view = base[:, ::2]
dist.all_reduce(view)
close(host(base)[:, ::2], np.stack(ranks_inputs((4, 6))).sum(0)[:, ::2], "all_reduce on a strided view")
close(host(base)[:, 1::2], inp(r, (4, 6))[:, 1::2], "untouched columns")

# broadcast and reduce from/to every rank
for root in range(n):
    t = dev(inp(r))
    dist.broadcast(t, src=root)
    close(t, inp(root), f"broadcast src={root}")
    t = dev(inp(r))
    dist.reduce(t, dst=root, op=dist.ReduceOp.MAX)
    close(t, np.stack(ranks_inputs()).max(0) if r == root else inp(r), f"reduce MAX dst={root}")
    t = dev(inp(r))
    dist.reduce(t, dst=root, op=dist.ReduceOp.AVG, async_op=True).wait()
    close(t, np.stack(ranks_inputs()).mean(0) if r == root else inp(r), f"reduce AVG dst={root}")
t = dev(inp(r))
dist.broadcast(t, src=n - 1, async_op=True).wait()
close(t, inp(n - 1), "broadcast async")

# all_gather (one output a strided view), all_gather_into_tensor (concatenated, stacked)
out = [dev(np.zeros((3, 4), np.float32)) for _ in range(n)]
holder = dev(np.zeros((4, 3), np.float32))
out[0] = holder.t()  # (3, 4), not contiguous
dist.all_gather(out, dev(inp(r)))
for i in range(n):
    close(out[i], inp(i), f"all_gather [{i}]")
cat = dev(np.zeros((3 * n, 4), np.float32))
dist.all_gather_into_tensor(cat, dev(inp(r)))
close(cat, np.concatenate(ranks_inputs()), "all_gather_into_tensor (concatenated)")
stk = dev(np.zeros((n, 3, 4), np.float32))
dist.all_gather_into_tensor(stk, dev(inp(r)), async_op=True).wait()
close(stk, np.stack(ranks_inputs()), "all_gather_into_tensor (stacked, async)")

# gather / scatter to and from every rank
for root in range(n):
    gl = [dev(np.zeros((3, 4), np.float32)) for _ in range(n)] if r == root else None
    dist.gather(dev(inp(r)), gl, dst=root)
    if r == root:
        for i in range(n):
            close(gl[i], inp(i), f"gather dst={root} [{i}]")
    sl = [dev(inp(50 + i)) for i in range(n)] if r == root else None
    t = dev(np.zeros((3, 4), np.float32))
    dist.scatter(t, sl, src=root)
    close(t, inp(50 + r), f"scatter src={root}")

# reduce_scatter (list and tensor forms)
for name in ("SUM", "AVG"):
    ins = [dev(inp(10 * r + i, (2, 3))) for i in range(n)]
    o = dev(np.zeros((2, 3), np.float32))
    dist.reduce_scatter(o, ins, op=getattr(dist.ReduceOp, name))
    s = sum(inp(10 * j + r, (2, 3)) for j in range(n))
    close(o, s / n if name == "AVG" else s, f"reduce_scatter {name}")
o = dev(np.zeros((2, 3), np.float32))
dist.reduce_scatter_tensor(o, dev(inp(r, (2 * n, 3))), op=dist.ReduceOp.AVG)
close(o, np.stack(ranks_inputs((2 * n, 3))).mean(0)[2 * r : 2 * r + 2], "reduce_scatter_tensor AVG")

# all_to_all_single, even and with uneven splits (complex: two reals per element); all_to_all
x = dev(inp(r, (2 * n, 3)))
y = dev(np.zeros((2 * n, 3), np.float32))
dist.all_to_all_single(y, x)
close(y, np.concatenate([inp(j, (2 * n, 3))[2 * r : 2 * r + 2] for j in range(n)]), "all_to_all_single")


def cinp(rank, rows):
    return (inp(rank, (rows, 2)) + 1j * inp(rank + 30, (rows, 2))).astype(np.complex64)


splits_in = [i + r + 1 for i in range(n)]  # rank j sends (i + j + 1) rows to rank i
splits_out = [r + j + 1 for j in range(n)]
x = dev(cinp(r, sum(splits_in)))
y = dev(np.zeros((sum(splits_out), 2), np.complex64))
dist.all_to_all_single(y, x, output_split_sizes=splits_out, input_split_sizes=splits_in, async_op=True).wait()
parts = []
for j in range(n):
    sj = [i + j + 1 for i in range(n)]
    parts.append(cinp(j, sum(sj))[sum(sj[:r]) : sum(sj[: r + 1])])
close(y, np.concatenate(parts), "all_to_all_single uneven complex")
outs = [dev(np.zeros(r + j + 1, np.float32)) for j in range(n)]
ins = [dev(np.full(i + r + 1, 10 * r + i, np.float32)) for i in range(n)]
dist.all_to_all(outs, ins)
for j in range(n):
    close(outs[j], np.full(r + j + 1, 10 * j + r, np.float32), f"all_to_all from {j}")

# barriers
assert dist.barrier() is None
dist.barrier(async_op=True).wait()

# point to point: a ring (blocking: even ranks send first), isend/irecv, batch_isend_irecv
nxt, prv = (r + 1) % n, (r - 1) % n
if n > 1:
    t = dev(np.zeros(5, np.float32))
    if r % 2 == 0:
        dist.send(dev(np.full(5, r, np.float32)), nxt)
        got_from = dist.recv(t, prv)
    else:
        got_from = dist.recv(t, prv)
        dist.send(dev(np.full(5, r, np.float32)), nxt)
    assert got_from == prv and host(t).tolist() == [float(prv)] * 5, (got_from, host(t))
    if r % 2 == 0:
        sw = dist.isend(dev(np.full(2, r + 0.5, np.float32)), nxt)
        t = dev(np.zeros(2, np.float32))
        rw = dist.irecv(t, prv)
    else:
        t = dev(np.zeros(2, np.float32))
        rw = dist.irecv(t, prv)
        sw = dist.isend(dev(np.full(2, r + 0.5, np.float32)), nxt)
    sw.wait(), rw.wait()
    assert rw.source_rank() == prv and host(t).tolist() == [prv + 0.5] * 2
t = dev(np.zeros((2, 3), np.float32)).t()  # a strided receive
ops = [
    dist.P2POp(dist.isend, dev(np.full((3, 2), r, np.float32)), nxt),
    dist.P2POp(dist.irecv, t, prv),
]
works = dist.batch_isend_irecv(ops)  # every rank sends first: only grouped calls get through
for w in works:
    w.wait()
assert host(t).tolist() == [[float(prv)] * 2] * 3 and works[1].source_rank() == prv

# errors: as torch's ProcessGroupNCCL's, and the ones ember adds
raises(RuntimeError, "is on cpu, but the group's backend is nccl", lambda: dist.all_reduce(torch.ones(2)))
raises(
    ValueError,
    "Cannot use ReduceOp.BAND with NCCL",
    lambda: dist.all_reduce(dev(np.ones(2, np.int32)), op=dist.ReduceOp.BAND),
)
raises(
    TypeError,
    "Cannot use ReduceOp.AVG with boolean inputs",
    lambda: dist.all_reduce(dev(np.ones(2, bool)), op=dist.ReduceOp.AVG),
)
raises(
    RuntimeError, "does not support MAX on complex", lambda: dist.all_reduce(dev(zs[r]), op=dist.ReduceOp.MAX)
)
raises(
    TypeError,
    "not supported for NCCL process group: torch.int16",
    lambda: dist.all_reduce(dev(np.ones(2, np.int16))),
)
raises(RuntimeError, "cannot receive from any rank", lambda: dist.recv(dev(np.ones(2, np.float32))))
raises(
    ValueError,
    "PREMUL_SUM",
    lambda: dist.all_reduce(dev(np.ones(2, np.float32)), op=dist.ReduceOp.PREMUL_SUM),
)
if FAKE:  # tensors on two devices of one process (a real run has one GPU per rank)
    other = torch.Tensor._wrap(fake_nccl.cuda(np.zeros((3, 4), np.float32), DEVICE + 1))
    raises(
        ValueError,
        f"several devices (cuda:{DEVICE}, cuda:{DEVICE + 1})",
        lambda: dist.all_gather([other] * n, dev(inp(r))),
    )
if n > 1:  # the ranks' calls are still checked (through MPI) before NCCL sees them
    raises(
        RuntimeError,
        "rank 1 called all_reduce(shape=[3]",
        lambda: dist.all_reduce(dev(np.ones(2 + (r == 1), np.float32))),
    )

# groups: one-rank nccl groups, an mpi group for CPU tensors, objects over the nccl world
mine = None
for i in range(n):
    g = dist.new_group([i])
    if i == r:
        mine = g
assert dist.get_backend(mine) == "nccl" and dist.get_world_size(mine) == 1
t = dev(inp(r))
dist.all_reduce(t, group=mine)
close(t, inp(r), "all_reduce on a one-rank group")
cpu_group = dist.new_group(backend="mpi")
tc = torch.from_numpy(inp(r))
dist.all_reduce(tc, group=cpu_group)
close(tc.numpy(), np.stack(ranks_inputs()).sum(0), "all_reduce on an mpi group of the nccl world")
if not FAKE:
    raises(
        RuntimeError,
        f"is on cuda:{DEVICE}, but the group's backend is mpi",
        lambda: dist.all_reduce(dev(inp(r)), group=cpu_group),
    )
objs = [None] * n
dist.all_gather_object(objs, {"rank": r})
assert objs == [{"rank": i} for i in range(n)]

# the differentiable all_reduce
x = dev(inp(r)).requires_grad_()
y = dist.nn.functional.all_reduce(x)
close(y.detach(), np.stack(ranks_inputs()).sum(0), "nn.functional.all_reduce")
(y * y).sum().backward()
close(x.grad, 2 * n * np.stack(ranks_inputs()).sum(0), "nn.functional.all_reduce backward", rtol=1e-4)

if FAKE:  # one communicator per group and device; the grouped calls were grouped
    assert rt.calls.count("ncclCommInitRank") == 2, rt.calls.count("ncclCommInitRank")  # world, own
    assert rt.group_depth == 0 and not rt.pending
    assert rt.synchronized > 0
    i = len(rt.calls) - 1 - rt.calls[::-1].index("ncclGroupEnd")
    assert "ncclGroupStart" in rt.calls and rt.calls.index("ncclGroupStart") < i

# PreparedAllReduce (DDP's buckets) against the plain all_reduce, its oracle
from ember.distributed.collectives import PreparedAllReduce  # noqa: E402

for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG):
    t, oracle = dev(inp(r)), dev(inp(r))
    prepared = PreparedAllReduce(dist.group.WORLD, t, op)
    for _ in range(2):
        dist.all_reduce(oracle, op=op)
        w = prepared.start()
        assert isinstance(w, dist.Work) and w.wait()
        close(t, host(oracle), f"PreparedAllReduce {op}")

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"ok {r}", flush=True)
