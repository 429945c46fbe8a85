"""Process-wide defaults: torch.set_default_device / get_default_device,
set_default_tensor_type and the deterministic-algorithms switches."""

from __future__ import annotations

import importlib
import warnings

from ember import _backend, _dtype

_LEGACY_FLOAT = {"FloatTensor": _dtype.float32, "DoubleTensor": _dtype.float64, "HalfTensor": _dtype.float16}
_LEGACY_OTHER = ("LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor")
_deterministic = {"mode": False, "warn_only": False}


def set_default_device(device) -> None:
    """torch.set_default_device: factories (`zeros`, `tensor`, `Tensor(...)`, layers' parameters)
    create tensors on `device` when not given one; None restores the CPU."""
    _backend.default_device[0] = None if device is None else _backend.device(device)


def get_default_device() -> _backend.device:
    """torch.get_default_device: device(type='cpu') unless set; an index is filled in (cuda:0)."""
    dev = _backend.default_device[0]
    if dev is None:
        return _backend.CPU
    if dev.index is not None or dev.type == "cpu":
        return dev
    return _backend.to_device(dev)


def set_default_tensor_type(t) -> None:
    """torch.set_default_tensor_type (deprecated in torch 2.1, as here): a floating legacy type
    (`torch.DoubleTensor`, 'torch.cuda.FloatTensor', ...) sets the default dtype, and for a
    CUDA type the default device."""
    warnings.warn(
        "torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
        "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
        UserWarning,
        stacklevel=2,
    )
    cuda = False
    if isinstance(t, str):
        module, _, name = t.rpartition(".")
        importlib.import_module(module.replace("torch", "ember", 1) if module.startswith("torch") else module)
        cuda = module.endswith(".cuda")
    elif isinstance(t, _dtype.dtype):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    else:
        name = getattr(t, "__name__", None)
        cuda = getattr(t, "__module__", "").endswith("cuda")
        if name not in _LEGACY_FLOAT and name not in _LEGACY_OTHER:
            raise TypeError(f"invalid type: '{t!r}'")
    if name in _LEGACY_OTHER:
        raise TypeError("only floating-point types are supported as the default type")
    if name not in _LEGACY_FLOAT:
        raise TypeError(f"invalid type: '{t}'")
    _dtype.set_default_dtype(_LEGACY_FLOAT[name])
    _backend.default_device[0] = _backend.device("cuda") if cuda else None


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """torch.use_deterministic_algorithms. ember's NumPy kernels are all deterministic, so the
    switch is recorded (and read back by `are_deterministic_algorithms_enabled`)."""
    if not isinstance(mode, bool):
        raise TypeError(
            "_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
            f"{type(mode).__name__}"
        )
    _deterministic["mode"], _deterministic["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn) or 2 (error), as torch."""
    if not _deterministic["mode"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


def set_deterministic_debug_mode(debug_mode) -> None:
    """torch.set_deterministic_debug_mode: 'default'/0, 'warn'/1, 'error'/2."""
    if isinstance(debug_mode, str):
        names = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in names:
            raise RuntimeError(
                f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got {debug_mode}"
            )
        debug_mode = names[debug_mode]
    if not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


__all__ = [
    "are_deterministic_algorithms_enabled",
    "get_default_device",
    "get_deterministic_debug_mode",
    "is_deterministic_algorithms_warn_only_enabled",
    "set_default_device",
    "set_default_tensor_type",
    "set_deterministic_debug_mode",
    "use_deterministic_algorithms",
]
