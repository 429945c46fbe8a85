"""Array module per device (numpy on CPU, cupy on CUDA) and torch-style device objects."""

from __future__ import annotations

import numpy as np

_cupy = None
_cupy_checked = False


def cupy():
    """The cupy module if it imports and sees a GPU, else None (checked once)."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy as cp

            if cp.cuda.runtime.getDeviceCount() > 0:
                _cupy = cp
        except Exception:
            _cupy = None
    return _cupy


class device:
    """torch.device: `device('cpu')`, `device('cuda', 0)`, `device('cuda:1')`."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None) -> None:
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string or int, got {type!r}")
        if ":" in type:
            type, idx = type.split(":", 1)
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "meta", "mps"):
            raise RuntimeError(
                f"Expected one of cpu, cuda, mps, meta device type at start of device string: {type}"
            )
        self.type, self.index = type, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self) -> device:
        # `with torch.device("cuda"):` makes it the factories' default device for the block
        _device_stack.append(default_device[0])
        default_device[0] = self
        return self

    def __exit__(self, *exc) -> None:
        default_device[0] = _device_stack.pop()


CPU = device("cpu")
default_device = [None]  # torch.set_default_device's device; None = cpu (factories' fast path)
_device_stack: list = []  # defaults saved by `with device(...)` blocks


def to_device(d) -> device:
    if d is None:
        return CPU
    dev = d if isinstance(d, device) else device(d)
    if dev.type == "cuda":
        if cupy() is None:
            raise RuntimeError(
                "Torch not compiled with CUDA enabled: ember found no CUDA GPU with CuPy "
                "(install cupy and run on a machine with an NVIDIA GPU)"
            )
        return device("cuda", dev.index if dev.index is not None else 0)
    if dev.type != "cpu":
        raise RuntimeError(f"ember supports only 'cpu' and 'cuda' devices, got '{dev}'")
    return CPU


def of(x):
    """Array module for an array: numpy, cupy, or the differentiable Tensor namespace."""
    if type(x) is np.ndarray:
        return np
    return _slow_of(x)


def _slow_of(x):
    if isinstance(x, (np.ndarray, np.generic)):
        return np
    ns = getattr(type(x), "_array_namespace", None)  # a Tensor: ops.graph_math (create_graph)
    if ns is not None:
        return ns
    cp = cupy()
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np


def device_of(arr) -> device:
    if type(arr) is np.ndarray:
        return CPU
    cp = cupy()
    if cp is not None and isinstance(arr, cp.ndarray):
        return device("cuda", arr.device.id)
    return CPU


def module_for(dev: device):
    if dev.type == "cuda":
        return cupy()
    return np


def to_numpy(arr) -> np.ndarray:
    if type(arr) is np.ndarray:
        return arr
    if isinstance(arr, np.generic):
        return np.asarray(arr)
    cp = cupy()
    if cp is not None and isinstance(arr, cp.ndarray):
        return cp.asnumpy(arr)
    return np.asarray(arr)
