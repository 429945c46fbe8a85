"""torch.cuda: GPU availability through CuPy."""

from __future__ import annotations

from ember import _backend


def is_available() -> bool:
    """True only when CuPy imports and sees at least one CUDA GPU."""
    return _backend.cupy() is not None


def device_count() -> int:
    cp = _backend.cupy()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


def current_device() -> int:
    _require()
    return _backend.cupy().cuda.Device().id


def get_device_name(device=None) -> str:
    _require()
    cp = _backend.cupy()
    idx = device.index if hasattr(device, "index") and device.index is not None else (device or 0)
    return cp.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def synchronize(device=None) -> None:
    if is_available():
        _backend.cupy().cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    if is_available():
        _backend.cupy().random.seed(int(seed) % (2**32))


manual_seed_all = manual_seed


def empty_cache() -> None:
    if is_available():
        _backend.cupy().get_default_memory_pool().free_all_blocks()


def _require() -> None:
    if not is_available():
        raise RuntimeError("Torch not compiled with CUDA enabled: no CUDA GPU visible to CuPy")
