"""Run under mpirun -n N: every collective against the same reduction computed in one process
(each rank rebuilds every rank's inputs from their seeds). Prints 'ok <rank>' at the end."""

import datetime
import sys

import numpy as np

import ember as torch
import ember.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi" and dist.group.WORLD is not None


def inp(rank, shape=(3, 4), dtype=np.float32):
    return np.random.default_rng(100 + rank).standard_normal(shape).astype(dtype)


def ranks_inputs(shape=(3, 4), dtype=np.float32):
    return [inp(i, shape, dtype) for i in range(n)]


def close(t, expected, what):
    got = t.numpy() if isinstance(t, torch.Tensor) else t
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"rank {r}: {what}")


# all_reduce with every op, blocking and async, float and int
ops = {
    "SUM": lambda a: a.sum(0),
    "AVG": lambda a: a.mean(0),
    "PRODUCT": lambda a: a.prod(0),
    "MIN": lambda a: a.min(0),
    "MAX": lambda a: a.max(0),
}
for name, ref in ops.items():
    for async_op in (False, True):
        t = torch.from_numpy(inp(r))
        v = t._version
        w = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=async_op)
        if async_op:
            assert w.wait() and w.is_completed()
        close(t, ref(np.stack(ranks_inputs())), f"all_reduce {name} async={async_op}")
        assert t._version > v, "in-place collective must bump the version"
ti = torch.tensor([r + 1, 10 * (r + 1)], dtype=torch.int64)
dist.all_reduce(ti)
assert ti.dtype == torch.int64 and ti.tolist() == [n * (n + 1) // 2, 10 * n * (n + 1) // 2], ti
tb = torch.tensor([3, 5, 6], dtype=torch.int32) << r
dist.all_reduce(tb, op=dist.ReduceOp.BOR)
ref = np.bitwise_or.reduce(np.stack([np.array([3, 5, 6], np.int32) << i for i in range(n)]), 0)
assert tb.tolist() == ref.tolist()

# a non-contiguous view: reduced in place, the base sees it
base = torch.from_numpy(inp(r, (4, 6)))
view = base[:, ::2]
dist.all_reduce(view)
close(base[:, ::2], np.stack(ranks_inputs((4, 6))).sum(0)[:, ::2], "all_reduce on a strided view")
close(base[:, 1::2], inp(r, (4, 6))[:, 1::2], "untouched columns")

# broadcast from every src
for src in range(n):
    t = torch.from_numpy(inp(r))
    dist.broadcast(t, src=src)
    close(t, inp(src), f"broadcast src={src}")
w = dist.broadcast(t := torch.from_numpy(inp(r)), src=n - 1, async_op=True)
w.wait()
close(t, inp(n - 1), "broadcast async")

# reduce to dst
for dst in range(n):
    t = torch.from_numpy(inp(r))
    dist.reduce(t, dst=dst, op=dist.ReduceOp.MAX)
    close(t, np.stack(ranks_inputs()).max(0) if r == dst else inp(r), f"reduce dst={dst}")

# all_gather, all_gather_into_tensor (concatenated and stacked)
out = [torch.zeros(3, 4) for _ in range(n)]
dist.all_gather(out, torch.from_numpy(inp(r)))
for i in range(n):
    close(out[i], inp(i), f"all_gather [{i}]")
cat = torch.zeros(3 * n, 4)
dist.all_gather_into_tensor(cat, torch.from_numpy(inp(r)))
close(cat, np.concatenate(ranks_inputs()), "all_gather_into_tensor (concatenated)")
stk = torch.zeros(n, 3, 4)
dist.all_gather_into_tensor(stk, torch.from_numpy(inp(r)), async_op=True).wait()
close(stk, np.stack(ranks_inputs()), "all_gather_into_tensor (stacked, async)")

# gather / scatter
dst = n - 1
gl = [torch.zeros(3, 4) for _ in range(n)] if r == dst else None
dist.gather(torch.from_numpy(inp(r)), gl, dst=dst)
if r == dst:
    for i in range(n):
        close(gl[i], inp(i), f"gather [{i}]")
src = 0
sl = [torch.from_numpy(inp(50 + i)) for i in range(n)] if r == src else None
t = torch.zeros(3, 4)
dist.scatter(t, sl, src=src)
close(t, inp(50 + r), "scatter")

# reduce_scatter (list and tensor forms)
ins = [torch.from_numpy(inp(10 * r + i, (2, 3))) for i in range(n)]
o = torch.zeros(2, 3)
dist.reduce_scatter(o, ins)
close(o, sum(inp(10 * j + r, (2, 3)) for j in range(n)), "reduce_scatter")
big = torch.from_numpy(inp(r, (2 * n, 3)))
o = torch.zeros(2, 3)
dist.reduce_scatter_tensor(o, big, op=dist.ReduceOp.AVG)
close(o, np.stack(ranks_inputs((2 * n, 3))).mean(0)[2 * r : 2 * r + 2], "reduce_scatter_tensor AVG")

# all_to_all_single, even and with uneven splits; all_to_all with different sizes
x = torch.from_numpy(inp(r, (2 * n, 3)))
y = torch.zeros(2 * n, 3)
dist.all_to_all_single(y, x)
close(y, np.concatenate([inp(j, (2 * n, 3))[2 * r : 2 * r + 2] for j in range(n)]), "all_to_all_single")
# rank j sends (i + j + 1) rows to rank i
splits_in = [i + r + 1 for i in range(n)]
splits_out = [r + j + 1 for j in range(n)]
x = torch.from_numpy(inp(r, (sum(splits_in), 2)))
y = torch.zeros(sum(splits_out), 2)
dist.all_to_all_single(y, x, output_split_sizes=splits_out, input_split_sizes=splits_in)
parts = []
for j in range(n):
    sj = [i + j + 1 for i in range(n)]
    parts.append(inp(j, (sum(sj), 2))[sum(sj[:r]) : sum(sj[: r + 1])])
close(y, np.concatenate(parts), "all_to_all_single uneven")
outs = [torch.zeros(r + j + 1) for j in range(n)]
ins = [torch.full((i + r + 1,), float(10 * r + i)) for i in range(n)]
dist.all_to_all(outs, ins)
for j in range(n):
    close(outs[j], np.full(r + j + 1, 10 * j + r, np.float32), f"all_to_all from {j}")

# point to point: a ring, blocking and non-blocking, recv from any source
nxt, prv = (r + 1) % n, (r - 1) % n
t = torch.zeros(5)
if r % 2 == 0:
    dist.send(torch.full((5,), float(r)), nxt)
    got_from = dist.recv(t, prv)
else:
    got_from = dist.recv(t, prv)
    dist.send(torch.full((5,), float(r)), nxt)
assert got_from == prv and t.tolist() == [float(prv)] * 5
sw = dist.isend(torch.full((2,), r + 0.5), nxt, tag=3)
t = torch.zeros(2)
rw = dist.irecv(t, prv, tag=3)
sw.wait(), rw.wait()
assert t.tolist() == [prv + 0.5] * 2
if r == 0:
    srcs = set()
    for _ in range(n - 1):
        t = torch.zeros(1)
        srcs.add(dist.recv(t))
        assert t.item() == 7.0
    assert srcs == set(range(1, n))
else:
    dist.send(torch.tensor([7.0]), 0)
dist.barrier()  # the any-source receives above must not pick up the next section's message
# a message of the wrong size is a clear error on the receiver
if r == 0:
    try:
        dist.recv(torch.zeros(3), 1)
        raise AssertionError("recv of a wrong-sized message did not raise")
    except RuntimeError as e:
        assert "rank 1 sent 16 bytes" in str(e) and "[3]" in str(e), e
elif r == 1:
    dist.send(torch.zeros(4), 0)

# object collectives go through the safe unpickler
objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "t": torch.arange(3) * r, "s": f"r{r}"})
for i, o in enumerate(objs):
    assert o["rank"] == i and o["s"] == f"r{i}" and o["t"].tolist() == [0, i, 2 * i], objs
lst = [f"from {r}", r, torch.ones(2) * r] if r == 1 % n else [None, None, None]
dist.broadcast_object_list(lst, src=1 % n)
assert lst[0] == f"from {1 % n}" and lst[1] == 1 % n and lst[2].tolist() == [float(1 % n)] * 2, lst
gl = [None] * n if r == 0 else None
dist.gather_object((r, "x"), gl, dst=0)
if r == 0:
    assert gl == [(i, "x") for i in range(n)], gl


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


try:
    dist.all_gather_object([None] * n, Evil())
    raise AssertionError("an arbitrary object was unpickled")
except Exception as e:
    assert "Weights only load failed" in str(e) or "Unsupported global" in str(e), e

# mismatched shapes / calls: the same clear error on every rank, then the group still works
try:
    dist.all_reduce(torch.ones(2 + (r == 1)))
    raise AssertionError("mismatched shapes did not raise")
except RuntimeError as e:
    msg = str(e)
    assert "rank 0 called all_reduce(shape=[2]" in msg and "rank 1 called all_reduce(shape=[3]" in msg, msg
try:
    if r == 0:
        dist.broadcast(torch.ones(2), src=0)
    else:
        dist.all_reduce(torch.ones(2))
    raise AssertionError("different collectives did not raise")
except RuntimeError as e:
    assert "rank 0 called broadcast" in str(e) and "rank 1 called all_reduce" in str(e), str(e)
try:
    dist.all_reduce(torch.ones(2, dtype=torch.float64 if r == 0 else torch.float32))
    raise AssertionError("mismatched dtypes did not raise")
except RuntimeError as e:
    assert "torch.float64" in str(e) and "torch.float32" in str(e), str(e)
t = torch.ones(2)
dist.all_reduce(t)
assert t.tolist() == [float(n)] * 2

# new_group: a subgroup of ranks {0, n-1}; the others get NON_GROUP_MEMBER
g = dist.new_group([0, n - 1])
if r in (0, n - 1):
    assert dist.get_rank(g) == (0 if r == 0 else 1) and dist.get_world_size(g) == 2
    t = torch.tensor([float(r)])
    dist.all_reduce(t, group=g)
    assert t.item() == float(n - 1)
    t = torch.tensor([float(r)])
    dist.broadcast(t, src=n - 1, group=g)  # src is a global rank, as in torch
    assert t.item() == float(n - 1)
else:
    assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
    assert dist.all_reduce(torch.ones(1), group=g) is None
dist.barrier()
dist.barrier(async_op=True).wait()
dist.monitored_barrier()
if r in (0, n - 1):
    assert dist.get_process_group_ranks(g) == [0, n - 1]
    assert dist.get_global_rank(g, 1) == n - 1 and dist.get_group_rank(g, n - 1) == 1
# only the members call new_group with use_local_synchronization=True
if r >= 1:
    g2 = dist.new_group(list(range(1, n)), use_local_synchronization=True)
    t = torch.ones(1)
    dist.all_reduce(t, group=g2)
    assert t.item() == n - 1 and dist.get_rank(g2) == r - 1

# float16 (reduced in float32), bool (logical), integer AVG (truncated), as torch's dtypes stay
h = torch.tensor([0.5, 1.25], dtype=torch.float16) * (r + 1)
dist.all_reduce(h)
assert h.dtype == torch.float16 and h.tolist() == [0.5 * n * (n + 1) / 2, 1.25 * n * (n + 1) / 2], h
b = torch.tensor([r == 0, False, True])
dist.all_reduce(b)  # SUM of booleans is a logical or
assert b.dtype == torch.bool and b.tolist() == [True, False, True]
b = torch.tensor([r == 0, True])
dist.all_reduce(b, op=dist.ReduceOp.MIN)
assert b.tolist() == [n == 1, True]
ia = torch.tensor([r * 3 + 1])
dist.all_reduce(ia, op=dist.ReduceOp.AVG)
assert ia.dtype == torch.int64 and ia.item() == int(sum(i * 3 + 1 for i in range(n)) / n)
for bad, exc in (
    (lambda: dist.all_reduce(torch.ones(1), op=dist.ReduceOp.BAND), ValueError),
    (lambda: dist.all_reduce([1.0]), TypeError),
    (lambda: dist.broadcast(torch.ones(1), src=n), ValueError),
    (lambda: dist.all_gather([torch.ones(1)], torch.ones(1)), ValueError),
):
    try:
        bad()
        raise AssertionError("no error")
    except exc:
        pass

# scatter_object_list; batch_isend_irecv around the ring
out = [None]
dist.scatter_object_list(out, [{"to": i} for i in range(n)] if r == 0 else None, src=0)
assert out == [{"to": r}], out
recv_t = torch.zeros(2)
works = dist.batch_isend_irecv(
    [dist.P2POp(dist.isend, torch.full((2,), float(r)), nxt), dist.P2POp(dist.irecv, recv_t, prv)]
)
for w in works:
    w.wait()
assert recv_t.tolist() == [float(prv)] * 2

# PreparedAllReduce (DDP's buckets) against the plain all_reduce, its oracle: SUM and AVG, float and
# int, started again with the same Work; a non-contiguous tensor is refused
from ember.distributed.collectives import PreparedAllReduce  # noqa: E402

for op, dtype in (
    (dist.ReduceOp.SUM, np.float32),
    (dist.ReduceOp.AVG, np.float32),
    (dist.ReduceOp.AVG, np.int64),
):
    t = torch.from_numpy((inp(r) * 10).astype(dtype))
    oracle = t.clone()
    prepared = PreparedAllReduce(dist.group.WORLD, t, op)
    works = []
    for _ in range(2):
        dist.all_reduce(oracle, op=op)
        v = t._version
        w = prepared.start()
        works.append(w)
        assert isinstance(w, dist.Work) and w.wait() and w.is_completed() and t._version > v
        assert (t == oracle).all(), f"rank {r}: PreparedAllReduce {op} {dtype}"
    assert works[0] is works[1], "a finished Work is started again"
try:
    PreparedAllReduce(dist.group.WORLD, torch.ones(4, 4)[:, ::2], dist.ReduceOp.SUM)
    raise AssertionError("a non-contiguous tensor accepted")
except ValueError as e:
    assert "contiguous" in str(e)

# DistributedSampler's defaults come from the group (its indices are checked against torch's in
# test_sampler.py); the ranks' shares are disjoint and cover the dataset
from ember.utils.data import DistributedSampler  # noqa: E402

s = DistributedSampler(range(10), seed=3)
s.set_epoch(2)
assert (s.num_replicas, s.rank) == (n, r)
shares = [None] * n
dist.all_gather_object(shares, list(s))
assert set(sum(shares, [])) == set(range(10)), shares

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"ok {r}", flush=True)
sys.exit(0)
