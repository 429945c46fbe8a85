"""torch.autograd.Variable (old example code) against torch, and the coverage script's lookups."""

import sys
import warnings
from pathlib import Path

import pytest
import torch

import ember

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import coverage_report  # noqa: E402


@pytest.mark.parametrize("lib", [torch, ember])
def test_variable(lib):
    from_lib = lib.autograd.Variable
    t = lib.ones(2)
    v = from_lib(t)
    assert v is not t and type(v) is type(t) and isinstance(t, from_lib) and type(t) is not from_lib
    v[0] = 5.0  # shares storage
    assert t[0].item() == 5.0
    w = from_lib(t, requires_grad=True)
    assert w.requires_grad and not t.requires_grad and w.is_leaf
    assert not from_lib(lib.ones(2, requires_grad=True) * 2).requires_grad  # detached
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        from_lib(t, volatile=True)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        from_lib([1, 2])


def test_coverage_lookups():
    inst = coverage_report._instances(ember)
    for name in ("torch.nn.Linear", "torch.Tensor.view", "torch.nn.Module.training",
                 "torch.optim.Optimizer.param_groups", "torch.backends.mps.is_available",
                 "torch.multiprocessing.Process", "torch.onnx.export", "torchvision.transforms.ToTensor"):  # fmt: skip
        assert coverage_report.resolve(name, "ember", inst), name
    for name in ("torch.nn.NoSuchLayer", "torch.Tensor.no_such_method", "torchvision.no_such_module.X"):
        assert not coverage_report.resolve(name, "ember", inst), name
    tinst = coverage_report._instances(torch)
    assert coverage_report.resolve("torch.nn.Module.training", "torch", tinst)
    assert not coverage_report.resolve("torch.nn.init.gain", "torch", tinst)  # removed from torch
    reasons = {"torch.nn.LSTM": "issue #9", "torch.nn": "generic"}
    assert coverage_report.reason_for("torch.nn.LSTM", reasons) == "issue #9"
    assert coverage_report.reason_for("torch.nn.LSTMCell", reasons) == "generic"  # prefix is per dotted part
    names = coverage_report.read_names(Path(coverage_report.HERE) / "data" / "coverage_names.txt")
    assert len(names) > 200 and all(srcs for srcs in names.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts, rows = coverage_report.build(names, {}, check_torch=False)
    assert sum(c[0] for c in counts.values()) == len(rows) == len(names)
