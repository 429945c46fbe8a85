"""DDP's gradient reducer: parameters in buckets; each parameter's post-accumulate-grad hook copies
its gradient (divided by the group size) into its bucket, and a bucket whose gradients are all
there is all-reduced at once (the group's all_reduce, async_op=True, prepared once per bucket:
PreparedAllReduce) while backward goes on. The hook that launches the last bucket waits for all
of them and writes the averages back into `.grad`. A bucket is one flat tensor in the group's
memory: host NumPy on mpi, the module's CUDA device on nccl (where the all-reduces and the copies
back are queued in order on the current stream, so, as in torch, the host does not wait)"""

from __future__ import annotations

import numpy as np

import ember
from ember import _backend
from ember.distributed.buffers import group_zeros
from ember.distributed.collectives import PreparedAllReduce
from ember.distributed.process_group import ProcessGroup
from ember.distributed.reduce_op import RedOpType
from ember.distributed.state import _state
from ember.distributed.watchdog import run_blocking
from ember.distributed.work import wait_all

FIRST_BUCKET_BYTES = 1024 * 1024  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error "
    "indicates that your module has parameters that were not used in producing loss. You can enable unused "
    "parameter detection by passing the keyword argument `find_unused_parameters=True` to "
    "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
    "participate in calculating loss. Parameter indices which did not receive grad for rank {rank}: {idx}"
)
_TWICE = (
    "Expected to mark a variable ready only once. This error is caused by one of the following reasons: "
    "1) Use of a module parameter outside the `forward` function. 2) Reused parameters in multiple reentrant "
    "backward passes. Parameter at index {idx} has been marked as ready twice."
)


class _Bucket:
    __slots__ = ("params", "offsets", "flat", "all_reduce", "xp", "pending", "work")

    def __init__(self, params: list, dtype) -> None:
        self.params = params  # indices into Reducer.params
        self.offsets: list[int] = []
        self.flat = np.empty(0, dtype=dtype)  # the bucket's memory
        self.all_reduce = None  # the group's all_reduce of `flat`, prepared once
        self.xp = np  # the array module of `flat`
        self.pending = 0
        self.work = None


class Reducer:
    def __init__(
        self, params: list, pg: ProcessGroup, bucket_bytes: int, find_unused: bool, as_view: bool
    ) -> None:
        self.params = params
        self.pg = pg
        self.find_unused = find_unused
        self.as_view = as_view
        self.buckets = _assign_buckets(params, bucket_bytes)
        self.where = {}  # param index -> (bucket, offset)
        for b in self.buckets:
            off = 0
            for i in b.params:
                b.offsets.append(off)
                self.where[i] = (b, off)
                off += params[i].numel()
            like = params[b.params[0]]._data
            b.flat = group_zeros(pg, like, off, like.dtype)
            b.all_reduce = PreparedAllReduce(pg, ember.Tensor._wrap(b.flat), RedOpType.SUM)
            b.xp = _backend.of(b.flat)
        self.ready = [False] * len(params)
        self.used = np.zeros(len(params), dtype=np.int32)
        self.expect = False  # a forward prepared a backward that has not been reduced yet
        self.next_bucket = 0
        self.next_done = 0  # buckets before it are known to have finished
        self.launched: list[int] = []  # bucket indices, in launch order (for tests of the overlap)
        self.handles = [
            p.register_post_accumulate_grad_hook(lambda p, i=i: self.mark_ready(i))
            for i, p in enumerate(params)
        ]

    def prepare(self, outputs) -> None:
        """Called at the end of a forward that will be followed by a synced backward."""
        if self.expect:
            missing = [i for i, r in enumerate(self.ready) if not r]
            raise RuntimeError(_UNFINISHED.format(rank=self.pg.rank(), idx=missing))
        self.expect = True
        self.ready = [False] * len(self.params)
        self.next_bucket = self.next_done = 0
        self.launched = []
        for b in self.buckets:
            b.pending, b.work = len(b.params), None
        self.used[:] = 1
        if self.find_unused:
            reached = _leaves_reached(outputs)
            for i, p in enumerate(self.params):
                if id(p) not in reached:
                    self.used[i] = 0
                    self.mark_ready(i)

    def mark_ready(self, i: int) -> None:
        if not self.expect:
            return  # a backward of a forward run under no_sync (or outside DDP): local accumulation only
        if self.ready[i]:
            raise RuntimeError(_TWICE.format(idx=i))
        self.ready[i] = True
        p = self.params[i]
        b, off = self.where[i]
        view = b.flat[off : off + p.numel()]
        if p.grad is None:
            view[...] = 0
        else:
            # pre-divided by the group size while copying, as torch's reducer does
            b.xp.multiply(p.grad._data.reshape(-1), view.dtype.type(1.0 / self.pg.size()), out=view)
        b.pending -= 1
        self._launch_ready()

    def _launch_ready(self) -> None:
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            b = self.buckets[self.next_bucket]
            # no same-call check per bucket: DDP checked that every rank has the same layout
            b.work = b.all_reduce.start()
            self.launched.append(self.next_bucket)
            self.next_bucket += 1
        # MPI progresses inside its calls: give it one, on the oldest bucket not known to be done
        while self.next_done < self.next_bucket and self.buckets[self.next_done].work.is_completed():
            self.next_done += 1
        if self.next_bucket == len(self.buckets):
            self._finalize()

    def _finalize(self) -> None:
        if self.pg.nccl is None:  # nccl: queued on the stream the copies below run on
            wait_all(self.pg, "DistributedDataParallel gradient all_reduce", [b.work for b in self.buckets])
        if self.find_unused:  # a host bitmap: on the group's MPI communicator (an nccl group has one too)
            MPI = _state.mpi
            run_blocking(
                self.pg,
                "DistributedDataParallel unused parameters",
                self.pg.comm.Allreduce,
                MPI.IN_PLACE,
                self.used,
                MPI.MAX,
            )
        for b in self.buckets:
            b.work = None
            for i, off in zip(b.params, b.offsets):
                if not self.used[i]:
                    continue  # unused on every rank: its .grad stays as it was, as in torch
                p = self.params[i]
                avg = b.flat[off : off + p.numel()].reshape(p._data.shape)
                if self.as_view:
                    p.grad = ember.Tensor._wrap(avg)
                elif p.grad is None:
                    p.grad = ember.Tensor._wrap(avg.copy())
                else:
                    p.grad._data[...] = avg
                    p.grad._bump()
        self.expect = False

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _assign_buckets(params: list, cap: int) -> list[_Bucket]:
    """torch's assignment: parameters in reverse order (gradients become ready roughly so), one
    dtype per bucket, the first bucket up to 1 MB (or `cap` if smaller) and the others up to `cap`."""
    buckets: list[_Bucket] = []
    open_: dict = {}  # dtype -> [indices, bytes]
    for i in reversed(range(len(params))):
        p = params[i]
        dt = p._data.dtype
        cur = open_.setdefault(dt, [[], 0])
        cur[0].append(i)
        cur[1] += p._data.nbytes
        limit = min(FIRST_BUCKET_BYTES, cap) if not buckets else cap
        if cur[1] >= limit:
            buckets.append(_Bucket(cur[0], dt))
            del open_[dt]
    for dt, (idx, _) in open_.items():
        buckets.append(_Bucket(idx, dt))
    return buckets


def _leaves_reached(outputs) -> set[int]:
    """ids of the leaf tensors the autograd graph of `outputs` reaches."""
    stack, seen, leaves = [], set(), set()
    for t in _tensors(outputs):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            leaves.add(id(t))
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            if hasattr(nxt, "variable"):  # AccumulateGrad: a leaf
                leaves.add(id(nxt.variable))
            elif id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return leaves


def _tensors(obj):
    if isinstance(obj, ember.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x)
