"""torch.accelerator: the one accelerator ember can use is a CUDA GPU through CuPy."""

from __future__ import annotations

from ember import _backend, cuda


def is_available() -> bool:
    """True when a CUDA GPU is visible to CuPy."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> _backend.device | None:
    """device(type='cuda') when ember has a GPU, else None (as torch on a CPU-only build)."""
    if cuda.is_available():
        return _backend.device("cuda")
    return None


def device_count() -> int:
    return cuda.device_count()


def _require() -> None:
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index() -> int:
    _require()
    return cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    """Make `device` (an int, 'cuda:1' or a device) CuPy's current GPU."""
    _require()
    idx = device if isinstance(device, int) else _backend.to_device(device).index
    _backend.cupy().cuda.Device(idx).use()


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    _require()
    cuda.synchronize(device)


def empty_cache() -> None:
    cuda.empty_cache()


__all__ = [
    "current_accelerator",
    "current_device_idx",
    "current_device_index",
    "device_count",
    "empty_cache",
    "is_available",
    "set_device_idx",
    "set_device_index",
    "synchronize",
]
