"""torch.backends flags, torch.accelerator, default device/tensor type and the deterministic
switches, against torch (CPU build)."""

import warnings

import numpy as np
import pytest
import torch

import ember


def test_backend_flags_have_torch_defaults():
    for lib in (torch, ember):
        b = lib.backends
        assert b.mps.is_available() is False and b.mps.is_built() is False
        assert (b.cudnn.enabled, b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32) == (
            True, False, False, True,
        )  # fmt: skip
        assert b.cudnn.is_available() is False and b.cudnn.version() is None
        assert b.cudnn.benchmark_limit is None
        assert b.mkldnn.enabled is True
        assert b.cuda.matmul.allow_tf32 is False
        assert b.cuda.matmul.allow_fp16_reduced_precision_reduction is True
        assert b.opt_einsum.is_available() is False and b.opt_einsum.enabled is False
        assert b.opt_einsum.strategy is None
        assert lib.get_float32_matmul_precision() == "highest"
        assert b.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()


@pytest.mark.parametrize("lib", [torch, ember])
def test_backend_flags_validate_and_restore(lib):
    b = lib.backends
    with pytest.raises(RuntimeError, match="set_benchmark_cudnn expects a bool, but got int"):
        b.cudnn.benchmark = 3
    b.cudnn.benchmark = True
    assert b.cudnn.benchmark is True
    b.cudnn.benchmark = False
    with b.cudnn.flags(enabled=False, deterministic=True):
        assert (b.cudnn.enabled, b.cudnn.deterministic, b.cudnn.allow_tf32) == (False, True, True)
    assert (b.cudnn.enabled, b.cudnn.deterministic) == (True, False)
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        b.cuda.matmul.foo  # noqa: B018
    b.cuda.matmul.allow_tf32 = True
    assert lib.get_float32_matmul_precision() == "high"
    lib.set_float32_matmul_precision("highest")
    assert b.cuda.matmul.allow_tf32 is False
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        lib.set_float32_matmul_precision("fast")
    assert lib.get_float32_matmul_precision() == "highest"


def test_accelerator():
    for lib in (torch, ember):
        assert lib.accelerator.is_available() is False
        assert lib.accelerator.current_accelerator() is None
        assert lib.accelerator.device_count() == 0
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            lib.accelerator.current_device_index()


@pytest.mark.parametrize("lib", [torch, ember])
def test_default_device(lib):
    assert lib.get_default_device() == lib.device("cpu")
    lib.set_default_device("cpu")
    try:
        assert lib.get_default_device() == lib.device("cpu") and lib.zeros(2).device.type == "cpu"
        lib.set_default_device("cuda")  # accepted; factories then fail on a machine without CUDA
        with pytest.raises((RuntimeError, AssertionError), match="not compiled with CUDA enabled"):
            lib.zeros(2)
        with pytest.raises((RuntimeError, AssertionError), match="not compiled with CUDA enabled"):
            lib.nn.Linear(2, 3)
        assert lib.Tensor(2, 3).device.type == "cpu"  # the legacy constructor ignores the default
        assert lib.from_numpy(np.ones(2)).device.type == "cpu"
        with pytest.raises((RuntimeError, AssertionError), match="not compiled with CUDA enabled"):
            lib.as_tensor(np.ones(2))
        with lib.device("cpu"):  # a with-block overrides the default and restores it after
            assert lib.zeros(2).device.type == "cpu" and lib.tensor([1]).device.type == "cpu"
            assert lib.Tensor(2, 3).device.type == "cpu" and lib.arange(3).device.type == "cpu"
            assert lib.nn.Linear(2, 3).weight.device.type == "cpu"
        with pytest.raises((RuntimeError, AssertionError)):
            lib.ones(1)
        # *_like keeps the input's device whatever the default
        lib.set_default_device(None)
        x = lib.zeros(2)
        lib.set_default_device("cuda")
        assert lib.zeros_like(x).device.type == "cpu" and x.new_zeros(3).device.type == "cpu"
    finally:
        lib.set_default_device(None)
    assert lib.get_default_device() == lib.device("cpu")


@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU with CuPy")
def test_default_device_cuda():
    ember.set_default_device("cuda")
    try:
        assert ember.get_default_device() == ember.device("cuda", 0)
        assert ember.zeros(2).is_cuda and ember.nn.Linear(2, 3).weight.is_cuda
        with ember.device("cpu"):
            assert not ember.randn(2).is_cuda
    finally:
        ember.set_default_device(None)


@pytest.mark.parametrize("lib", [torch, ember])
def test_set_default_tensor_type(lib):
    try:
        with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
            lib.set_default_tensor_type(lib.DoubleTensor)
        assert lib.get_default_dtype() == lib.float64
        assert lib.zeros(1).dtype == lib.float64 and lib.tensor([1.5]).dtype == lib.float64
        assert lib.nn.Linear(2, 2).weight.dtype == lib.float64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lib.set_default_tensor_type("torch.FloatTensor")
            assert lib.zeros(1).dtype == lib.float32
            with pytest.raises(
                TypeError, match="only floating-point types are supported as the default type"
            ):
                lib.set_default_tensor_type(lib.LongTensor)
            with pytest.raises(
                TypeError, match="only floating-point types are supported as the default type"
            ):
                lib.set_default_tensor_type(lib.float64)
            with pytest.raises(ModuleNotFoundError):
                lib.set_default_tensor_type("nomodule.FloatTensor")
    finally:
        lib.set_default_dtype(lib.float32)


@pytest.mark.parametrize("lib", [torch, ember])
def test_deterministic_switches(lib):
    try:
        assert lib.are_deterministic_algorithms_enabled() is False
        assert lib.get_deterministic_debug_mode() == 0
        lib.use_deterministic_algorithms(True, warn_only=True)
        assert lib.are_deterministic_algorithms_enabled() is True
        assert lib.is_deterministic_algorithms_warn_only_enabled() is True
        assert lib.get_deterministic_debug_mode() == 1
        lib.set_deterministic_debug_mode("error")
        assert lib.get_deterministic_debug_mode() == 2
        with pytest.raises(TypeError, match="argument 'mode' \\(position 1\\) must be bool, not int"):
            lib.use_deterministic_algorithms(1)
    finally:
        lib.use_deterministic_algorithms(False)
    assert lib.get_deterministic_debug_mode() == 0


def test_vision_version():
    import ember.vision

    assert isinstance(ember.vision.__version__, str) and ember.vision.__version__ == ember.__version__
