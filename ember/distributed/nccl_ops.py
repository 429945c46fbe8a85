"""The collectives and point-to-point operations of nccl groups, on CUDA tensors' memory through
`nccl.runtime()`. Each is queued on the current CuPy stream of the tensor's device and returns at
once (as torch's ProcessGroupNCCL: later work on that stream sees the result); async_op=True
gives an NcclWork whose wait() blocks until it is done. collectives.py and p2p.py check the
arguments and call these for groups whose backend is nccl. NCCL has no gather, scatter or
all-to-all: they are grouped sends and receives, as in torch."""

from __future__ import annotations

import numpy as np

import ember
from ember.distributed.buffers import DeviceBuffer, nccl_dtype
from ember.distributed.checks import check_same, describe
from ember.distributed.nccl import runtime
from ember.distributed.nccl_comms import nccl_call
from ember.distributed.reduce_op import RedOpType
from ember.distributed.work import NcclWork

_BITWISE = (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR)
_NCCL_NAMES = {RedOpType.SUM: "SUM", RedOpType.PRODUCT: "PROD", RedOpType.MIN: "MIN", RedOpType.MAX: "MAX"}


def nccl_op(rt, op, dtype, what: str) -> tuple[int, bool]:
    """(NCCL's op, whether to divide by the group size afterwards) for a ReduceOp on `dtype`, as
    torch's ProcessGroupNCCL maps them: bool SUM is MAX (a logical or on uint8), AVG is ncclAvg on
    floating and complex types (NCCL 2.10+; before, a sum then a division, as for integers, which
    truncates toward zero); the bitwise ops are refused."""
    op = RedOpType(op)
    if op in _BITWISE:
        raise ValueError(f"Cannot use ReduceOp.{op.name} with NCCL")
    if op == RedOpType.PREMUL_SUM:
        raise ValueError("ReduceOp.PREMUL_SUM is not supported by ember's nccl backend")
    kind = np.dtype(dtype).kind
    if kind == "c" and op not in (RedOpType.SUM, RedOpType.AVG):
        raise RuntimeError(f"{what} does not support {op.name} on complex tensors")
    if kind == "b":
        if op == RedOpType.AVG:
            raise TypeError("Cannot use ReduceOp.AVG with boolean inputs")
        if op == RedOpType.SUM:
            return rt.MAX, False
    if op == RedOpType.AVG:
        if kind in "fc" and rt.AVG is not None:
            return rt.AVG, False
        return rt.SUM, True
    return getattr(rt, _NCCL_NAMES[op]), False


def _device(what: str, bufs: list[DeviceBuffer]) -> int:
    devices = sorted({b.device for b in bufs})
    if len(devices) > 1:
        raise ValueError(
            f"ember.distributed.{what}: the tensors are on several devices "
            f"({', '.join(f'cuda:{d}' for d in devices)}); the nccl backend needs them on one"
        )
    return devices[0]


def _run(pg, what: str, device: int, async_op: bool, outputs: list, body, source: int | None = None):
    """Queue `body(comm, stream)` (the NCCL calls, then the write-backs) on `device`'s current stream."""
    rt = runtime()
    comm = pg.nccl.get(device)
    pg.seq += 1
    with rt.device(device):
        nccl_call(what, device, body, comm, rt.stream())
        if async_op:
            return NcclWork(pg, what, rt.record_event(), outputs, source)
    return None


def _grouped(rt, calls) -> None:
    """NCCL calls between ncclGroupStart and ncclGroupEnd (sends and receives that must not wait
    for each other); they are issued at ncclGroupEnd."""
    rt.group_start()
    try:
        for call in calls:
            call()
    finally:
        rt.group_end()


def all_reduce(pg, tensor, op, async_op: bool, check: bool = True):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, "all_reduce")
    nop, div = nccl_op(rt, op, tensor._data.dtype, "all_reduce")
    if check:
        check_same(pg, "all_reduce", describe(tensor, op=RedOpType(op)))
    n = pg.size() if div else 0

    def body(comm, s):
        comm.allReduce(b.ptr, b.ptr, b.count, b.dtype, nop, s)
        b.done(n)

    return _run(pg, "all_reduce", b.device, async_op, [tensor], body)


def broadcast(pg, tensor, root: int, async_op: bool, check: bool = True):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, "broadcast")
    if check:
        check_same(pg, "broadcast", describe(tensor, src=pg.ranks[root]))

    def body(comm, s):
        comm.broadcast(b.ptr, b.ptr, b.count, b.dtype, root, s)
        b.done()

    return _run(pg, "broadcast", b.device, async_op, [tensor], body)


def reduce(pg, tensor, root: int, op, async_op: bool):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, "reduce")
    nop, div = nccl_op(rt, op, tensor._data.dtype, "reduce")
    check_same(pg, "reduce", describe(tensor, op=RedOpType(op), dst=pg.ranks[root]))
    me = pg.rank() == root

    def body(comm, s):
        comm.reduce(b.ptr, b.ptr, b.count, b.dtype, nop, root, s)
        if me:
            b.done(pg.size() if div else 0)

    return _run(pg, "reduce", b.device, async_op, [tensor], body)


def all_gather(pg, tensor_list, tensor, async_op: bool):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, "all_gather")
    outs = [DeviceBuffer(rt, t, "all_gather") for t in tensor_list]
    dev = _device("all_gather", [b, *outs])
    check_same(pg, "all_gather", describe(tensor))

    def body(comm, s):
        recv = rt.empty((pg.size(), *b.arr.shape), b.arr.dtype)
        comm.allGather(b.ptr, rt.ptr(recv), b.count, b.dtype, s)
        for i, o in enumerate(outs):
            o.arr[...] = recv[i]
            o.done()

    return _run(pg, "all_gather", dev, async_op, list(tensor_list), body)


def all_gather_into_tensor(pg, output_tensor, input_tensor, async_op: bool):
    rt = runtime()
    b = DeviceBuffer(rt, input_tensor, "all_gather_into_tensor")
    out = DeviceBuffer(rt, output_tensor, "all_gather_into_tensor")
    dev = _device("all_gather_into_tensor", [b, out])
    check_same(pg, "all_gather_into_tensor", describe(input_tensor))

    def body(comm, s):
        comm.allGather(b.ptr, out.ptr, b.count, b.dtype, s)
        out.done()

    return _run(pg, "all_gather_into_tensor", dev, async_op, [output_tensor], body)


def gather(pg, tensor, gather_list, root: int, async_op: bool):
    rt = runtime()
    me = pg.rank() == root
    b = DeviceBuffer(rt, tensor, "gather")
    outs = [DeviceBuffer(rt, t, "gather") for t in gather_list] if me else []
    dev = _device("gather", [b, *outs])
    check_same(pg, "gather", describe(tensor, dst=pg.ranks[root]))

    def body(comm, s):
        if me:
            _grouped(
                rt,
                [
                    lambda o=o, i=i: comm.recv(o.ptr, o.count, o.dtype, i, s)
                    for i, o in enumerate(outs)
                    if i != root
                ],
            )
            outs[root].arr[...] = b.arr.reshape(outs[root].arr.shape)
            for o in outs:
                o.done()
        else:
            _grouped(rt, [lambda: comm.send(b.ptr, b.count, b.dtype, root, s)])

    return _run(pg, "gather", dev, async_op, list(gather_list or []), body)


def scatter(pg, tensor, scatter_list, root: int, async_op: bool):
    rt = runtime()
    me = pg.rank() == root
    b = DeviceBuffer(rt, tensor, "scatter")
    ins = [DeviceBuffer(rt, t, "scatter") for t in scatter_list] if me else []
    dev = _device("scatter", [b, *ins])
    check_same(pg, "scatter", describe(tensor, src=pg.ranks[root]))

    def body(comm, s):
        if me:
            _grouped(
                rt,
                [
                    lambda x=x, i=i: comm.send(x.ptr, x.count, x.dtype, i, s)
                    for i, x in enumerate(ins)
                    if i != root
                ],
            )
            b.arr[...] = ins[root].arr.reshape(b.arr.shape)
        else:
            _grouped(rt, [lambda: comm.recv(b.ptr, b.count, b.dtype, root, s)])
        b.done()

    return _run(pg, "scatter", dev, async_op, [tensor], body)


def reduce_scatter(pg, output, input_list, op, async_op: bool):
    """`input_list` is first stacked into one buffer (NCCL's reduce-scatter reads one)."""
    rt = runtime()
    ins = [DeviceBuffer(rt, t, "reduce_scatter") for t in input_list]
    return _reduce_scatter(pg, "reduce_scatter", output, ins, op, async_op)


def reduce_scatter_tensor(pg, output, input, op, async_op: bool):
    rt = runtime()
    return _reduce_scatter(
        pg, "reduce_scatter_tensor", output, DeviceBuffer(rt, input, "reduce_scatter_tensor"), op, async_op
    )


def _reduce_scatter(pg, what, output, ins, op, async_op):
    rt = runtime()
    b = DeviceBuffer(rt, output, what)
    nop, div = nccl_op(rt, op, output._data.dtype, what)
    dev = _device(what, [b, *(ins if isinstance(ins, list) else [ins])])
    check_same(pg, what, describe(output, op=RedOpType(op)))
    n = pg.size() if div else 0

    def body(comm, s):
        if isinstance(ins, list):
            send = rt.empty((pg.size(), *b.arr.shape), b.arr.dtype)
            for i, x in enumerate(ins):
                send[i] = x.arr.reshape(b.arr.shape)
            sptr = rt.ptr(send)
        else:
            sptr = ins.ptr
        comm.reduceScatter(sptr, b.ptr, b.count, b.dtype, nop, s)
        b.done(n)

    return _run(pg, what, dev, async_op, [output], body)


def all_to_all_single(pg, output, input, scounts: list[int], rcounts: list[int], async_op: bool):
    """`scounts`/`rcounts`: elements to send to / receive from each rank, in rank order."""
    rt = runtime()
    b_in = DeviceBuffer(rt, input, "all_to_all_single")
    b_out = DeviceBuffer(rt, output, "all_to_all_single")
    dev = _device("all_to_all_single", [b_in, b_out])
    check_same(pg, "all_to_all_single", describe(None, dtype=input.dtype))
    per = nccl_dtype(rt, b_in.arr.dtype)[1]
    size = b_in.arr.itemsize
    soff = np.concatenate([[0], np.cumsum(scounts)[:-1]]).astype(int).tolist()
    roff = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(int).tolist()

    def body(comm, s):
        calls = []
        for j in range(pg.size()):
            if scounts[j]:
                calls.append(
                    lambda j=j: comm.send(b_in.ptr + soff[j] * size, scounts[j] * per, b_in.dtype, j, s)
                )
            if rcounts[j]:
                calls.append(
                    lambda j=j: comm.recv(b_out.ptr + roff[j] * size, rcounts[j] * per, b_out.dtype, j, s)
                )
        _grouped(rt, calls)
        b_out.done()

    return _run(pg, "all_to_all_single", dev, async_op, [output], body)


def all_to_all(pg, output_tensor_list, input_tensor_list, async_op: bool):
    rt = runtime()
    outs = [DeviceBuffer(rt, t, "all_to_all") for t in output_tensor_list]
    ins = [DeviceBuffer(rt, t, "all_to_all") for t in input_tensor_list]
    dev = _device("all_to_all", [*outs, *ins])
    check_same(pg, "all_to_all", describe(None, dtype=input_tensor_list[0].dtype))

    def body(comm, s):
        calls = []
        for j, (o, x) in enumerate(zip(outs, ins)):
            if x.count:
                calls.append(lambda j=j, x=x: comm.send(x.ptr, x.count, x.dtype, j, s))
            if o.count:
                calls.append(lambda j=j, o=o: comm.recv(o.ptr, o.count, o.dtype, j, s))
        _grouped(rt, calls)
        for o in outs:
            o.done()

    return _run(pg, "all_to_all", dev, async_op, list(output_tensor_list), body)


def barrier(pg, async_op: bool, device_ids):
    """torch's NCCL barrier: an all-reduce of one number on the group's device, then (unless
    async) waiting for it. The device: `device_ids[0]`, else the one the group already uses, else
    the current one."""
    rt = runtime()
    if device_ids:
        dev = int(device_ids[0])
    else:
        dev = pg.nccl.any_device()
        dev = rt.current_device() if dev is None else dev
    f32 = nccl_dtype(rt, np.float32)[0]

    def body(comm, s):
        one = rt.empty((1,), np.float32)
        one[...] = 0
        comm.allReduce(rt.ptr(one), rt.ptr(one), 1, f32, rt.SUM, s)

    work = _run(pg, "barrier", dev, True, [], body)
    if async_op:
        return work
    work.wait()
    return None


def send(pg, tensor, peer: int, what: str, async_op: bool):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, what)

    def body(comm, s):
        comm.send(b.ptr, b.count, b.dtype, peer, s)

    return _run(pg, what, b.device, async_op, [tensor], body)


def recv(pg, tensor, peer: int, what: str, async_op: bool):
    rt = runtime()
    b = DeviceBuffer(rt, tensor, what)

    def body(comm, s):
        comm.recv(b.ptr, b.count, b.dtype, peer, s)
        b.done()

    return _run(pg, what, b.device, async_op, [tensor], body, source=pg.ranks[peer])


def batch_isend_irecv(pg, items) -> list[NcclWork]:
    """`items`: (is_send, tensor, group peer) triples, issued as one NCCL group; a Work each."""
    rt = runtime()
    bufs = [DeviceBuffer(rt, t, "batch_isend_irecv") for _, t, _ in items]
    dev = _device("batch_isend_irecv", bufs)
    works: list = []

    def body(comm, s):
        calls = [
            (lambda b=b, p=p: comm.send(b.ptr, b.count, b.dtype, p, s))
            if is_send
            else (lambda b=b, p=p: comm.recv(b.ptr, b.count, b.dtype, p, s))
            for (is_send, _, p), b in zip(items, bufs)
        ]
        _grouped(rt, calls)
        for (is_send, _, _), b in zip(items, bufs):
            if not is_send:
                b.done()
        event = rt.record_event()
        works.extend(
            NcclWork(pg, "batch_isend_irecv", event, [t], None if is_send else pg.ranks[p])
            for is_send, t, p in items
        )

    _run(pg, "batch_isend_irecv", dev, False, [], body)
    return works


def sum_array(pg, arr):
    """A new device array: `arr` summed over the group (for the differentiable all_reduce)."""
    rt = runtime()
    with rt.device(rt.device_index(arr)):
        t = ember.Tensor._wrap(arr.copy())
    all_reduce(pg, t, RedOpType.SUM, False)
    return t._data
