"""The nccl backend. Two kinds of test:

- real NCCL through CuPy under mpirun (scripts/nccl_collectives.py cupy, scripts/ddp_nccl.py cupy),
  one GPU per rank; they skip, saying so, where CuPy with NCCL or enough GPUs are absent;
- ember's glue (nccl_ops, buffers, nccl_comms, the dispatch in collectives/p2p) driven by
  fake_nccl.py, a stand-in for CuPy's NCCL on host memory and MPI: the same script under mpirun
  (fake), and the mapping tables and errors in this process. These run on any machine with MPI
  and check what ember hands NCCL (pointers, counts, dtypes, ops, devices, streams, group calls,
  the unique-id rendezvous) and what it does with the results; they check nothing of NCCL itself.
"""

import numpy as np
import pytest
from fake_nccl import FakeNccl, cuda
from mpi_helpers import HAVE_MPI, assert_ok, mpirun, needs_mpi

import ember
import ember.distributed as dist
from ember.distributed import nccl
from ember.distributed.buffers import DeviceBuffer, TensorBuffer, nccl_dtype
from ember.distributed.nccl_ops import nccl_op
from ember.distributed.process_group import _device_index


def _gpus_with_nccl() -> int:
    try:
        import cupy
        from cupy.cuda import nccl as cupy_nccl

        return cupy.cuda.runtime.getDeviceCount() if cupy_nccl.available else 0
    except Exception:
        return 0


GPUS = _gpus_with_nccl()


@pytest.mark.parametrize("n", [1, 2])
def test_real_nccl_collectives_match_one_process(n):
    if GPUS < n or not HAVE_MPI:
        pytest.skip(f"needs CuPy with NCCL and {n} GPU(s) (found {GPUS}), and Open MPI with mpi4py")
    p, _ = mpirun(n, "nccl_collectives.py", "cupy", timeout=300)
    assert_ok(p, n)


@needs_mpi
@pytest.mark.parametrize("n, mode", [(1, "fake"), (2, "fake"), (3, "fake"), (2, "fake-noavg")])
def test_glue_on_fake_nccl_matches_one_process(n, mode):
    p, _ = mpirun(n, "nccl_collectives.py", mode)
    assert_ok(p, n)


def test_real_nccl_ddp_training_equals_one_process():
    if GPUS < 2 or not HAVE_MPI:
        pytest.skip(f"needs CuPy with NCCL and 2 GPUs (found {GPUS}), and Open MPI with mpi4py")
    p, _ = mpirun(2, "ddp_nccl.py", "cupy", timeout=300)
    assert_ok(p, 2)


@needs_mpi
def test_ddp_on_fake_nccl_equals_one_process_training_on_the_concatenated_batch():
    p, _ = mpirun(2, "ddp_nccl.py", "fake")
    assert_ok(p, 2)


@pytest.fixture
def fake():
    rt = FakeNccl()
    old = nccl.set_runtime(rt)
    yield rt
    nccl.set_runtime(old)


def test_is_nccl_available_says_whether_cupy_has_nccl_and_a_gpu():
    assert dist.is_nccl_available() == (GPUS > 0)
    if GPUS == 0:
        with pytest.raises(RuntimeError, match="nccl backend needs CuPy with NCCL and a CUDA GPU"):
            dist.init_process_group("nccl")  # before MPI starts
        assert not dist.is_initialized()


def test_is_nccl_available_with_a_runtime(fake):
    assert dist.is_nccl_available()


def _ops(rt, dtype, **avg):
    out = {}
    for op in dist.ReduceOp.RedOpType:
        try:
            out[op.name] = nccl_op(rt, op, np.dtype(dtype), "all_reduce")
        except (ValueError, TypeError, RuntimeError) as e:
            out[op.name] = type(e).__name__
    return out


def test_reduce_ops_map_as_torchs_process_group_nccl(fake):
    # torch's getNcclReduceOp: bool SUM is MAX; bool AVG a TypeError; BAND/BOR/BXOR ValueErrors;
    # complex only SUM and AVG; ncclAvg (NCCL 2.10+) on floating types
    rt = fake
    floats = _ops(rt, np.float32)
    assert floats == {
        "SUM": (rt.SUM, False),
        "AVG": (rt.AVG, False),
        "PRODUCT": (rt.PROD, False),
        "MIN": (rt.MIN, False),
        "MAX": (rt.MAX, False),
        "BAND": "ValueError",
        "BOR": "ValueError",
        "BXOR": "ValueError",
        "PREMUL_SUM": "ValueError",
    }
    ints = _ops(rt, np.int64)
    assert ints["AVG"] == (rt.SUM, True) and ints["SUM"] == (rt.SUM, False) and ints["BAND"] == "ValueError"
    bools = _ops(rt, np.bool_)
    assert bools["SUM"] == (rt.MAX, False) and bools["AVG"] == "TypeError" and bools["MIN"] == (rt.MIN, False)
    cplx = _ops(rt, np.complex64)
    assert cplx["SUM"] == (rt.SUM, False) and cplx["AVG"] == (rt.AVG, False)
    assert cplx["PRODUCT"] == cplx["MAX"] == "RuntimeError"
    rt.AVG = None  # an NCCL before 2.10: AVG is a sum, then a division
    assert nccl_op(rt, dist.ReduceOp.AVG, np.dtype(np.float32), "all_reduce") == (rt.SUM, True)
    with pytest.raises(ValueError, match=r"^Cannot use ReduceOp.BXOR with NCCL$"):
        nccl_op(rt, dist.ReduceOp.BXOR, np.dtype(np.int32), "all_reduce")


def test_dtypes_map_as_torchs_and_int16_is_refused(fake):
    rt = fake
    for dt in (np.int8, np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64):
        assert nccl_dtype(rt, dt) == (rt.dtypes[np.dtype(dt)], 1)
    assert nccl_dtype(rt, np.bool_) == (rt.dtypes[np.dtype(np.uint8)], 1)
    assert nccl_dtype(rt, np.complex64) == (rt.dtypes[np.dtype(np.float32)], 2)
    assert nccl_dtype(rt, np.complex128) == (rt.dtypes[np.dtype(np.float64)], 2)
    with pytest.raises(
        TypeError, match="Input tensor data type is not supported for NCCL process group: torch.int16"
    ):
        nccl_dtype(rt, np.int16)


def test_device_buffer_points_at_the_tensor_or_a_contiguous_copy(fake):
    rt = fake
    t = ember.Tensor._wrap(cuda(np.arange(12, dtype=np.float32).reshape(3, 4), device=2))
    b = DeviceBuffer(rt, t, "all_reduce")
    assert (b.device, b.count, b.copy, b.ptr) == (2, 12, False, t._data.ctypes.data)
    v = t[:, ::2]
    bv = DeviceBuffer(rt, v, "all_reduce")
    assert bv.copy and bv.count == 6 and bv.arr.device_index == 2 and bv.arr.flags.c_contiguous
    bv.arr[...] = -1
    version = v._version
    bv.done(avg_over=2)
    assert (np.asarray(t._data)[:, ::2] == -0.5).all() and (np.asarray(t._data)[:, 1::2] >= 0).all()
    assert v._version > version
    z = ember.Tensor._wrap(cuda(np.ones(3, np.complex128)))
    assert DeviceBuffer(rt, z, "x").count == 6


def test_cpu_tensor_on_nccl_and_cuda_tensor_on_mpi_name_device_and_backend(fake, monkeypatch):
    with pytest.raises(
        RuntimeError, match=r"all_gather: the tensor is on cpu, but the group's backend is nccl"
    ):
        DeviceBuffer(fake, ember.ones(2), "all_gather")
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        DeviceBuffer(fake, [1.0], "broadcast")
    # a CUDA tensor for the mpi backend (device_of stands in for CuPy's device of the array)
    from ember import _backend

    real = _backend.device_of
    monkeypatch.setattr(
        _backend,
        "device_of",
        lambda a: _backend.device("cuda", a.device_index) if hasattr(a, "device_index") else real(a),
    )
    t = ember.Tensor._wrap(cuda(np.ones(2, np.float32), device=3))
    assert t.is_cuda
    with pytest.raises(
        RuntimeError, match=r"all_reduce: the tensor is on cuda:3, but the group's backend is mpi"
    ):
        TensorBuffer(t, "all_reduce")


def test_device_id_is_a_cuda_device_for_nccl():
    assert _device_index(None, "nccl") is None
    assert _device_index(1, "nccl") == 1
    assert _device_index(ember.device("cuda", 2), "nccl") == 2
    assert _device_index("cuda", "nccl") == 0
    with pytest.raises(ValueError, match="must be a cuda device, got cpu"):
        _device_index("cpu", "nccl")
    assert _device_index(0, "mpi") is None  # the mpi backend has no use for it


def test_runtime_error_says_what_is_missing(monkeypatch):
    old = nccl.set_runtime(None)
    try:
        from ember import _backend

        monkeypatch.setattr(_backend, "cupy", lambda: None)
        assert not nccl.available()
        with pytest.raises(
            RuntimeError, match="CuPy is not installed or sees no CUDA GPU; use backend='mpi'"
        ):
            nccl.runtime()
    finally:
        nccl.set_runtime(old)


def test_ddp_memory_check_names_device_and_backend(fake, monkeypatch):
    from types import SimpleNamespace

    from ember import _backend
    from ember.distributed.buffers import check_group_memory, group_zeros

    nccl_pg, mpi_pg = SimpleNamespace(nccl=object()), SimpleNamespace(nccl=None)
    on2 = ember.Tensor._wrap(cuda(np.ones(2, np.float32), device=2))
    check_group_memory(nccl_pg, [on2], "DistributedDataParallel")
    with pytest.raises(
        RuntimeError, match=r"tensors on cpu, but the group's backend is nccl, which takes CUDA"
    ):
        check_group_memory(nccl_pg, [on2, ember.ones(2)], "DistributedDataParallel")
    with pytest.raises(RuntimeError, match=r"several devices \(cuda:1, cuda:2\)"):
        check_group_memory(nccl_pg, [on2, ember.Tensor._wrap(cuda(np.ones(2), device=1))], "DDP")
    z = group_zeros(nccl_pg, on2._data, 5, np.float32)
    assert fake.is_device_array(z) and z.device_index == 2 and z.shape == (5,) and (np.asarray(z) == 0).all()
    assert type(group_zeros(mpi_pg, None, 3, np.int64)) is np.ndarray
    real = _backend.device_of
    monkeypatch.setattr(
        _backend,
        "device_of",
        lambda a: _backend.device("cuda", a.device_index) if hasattr(a, "device_index") else real(a),
    )
    check_group_memory(mpi_pg, [ember.ones(2)], "DistributedDataParallel")
    with pytest.raises(RuntimeError, match=r"tensors on cuda:2, but the group's backend is mpi"):
        check_group_memory(mpi_pg, [ember.ones(2), on2], "DistributedDataParallel")
