"""torch.backends.cudnn: flags with torch's defaults. ember has no cuDNN binding; CuPy's
convolutions are ember's own im2col, so `enabled`/`benchmark` change nothing, `deterministic`
is always met (ember's kernels are deterministic) and `allow_tf32` is recorded only."""

from __future__ import annotations

import types

from ember.backends import _flags


def is_available() -> bool:
    """False: ember does not call cuDNN."""
    return False


def version() -> int | None:
    """None, as torch returns without cuDNN."""
    return None


def is_acceptable(tensor) -> bool:
    """Whether cuDNN could take this tensor: never in ember."""
    return False


class _CudnnModule(types.ModuleType):
    enabled = _flags.bool_flag("enabled", "set_enabled_cudnn")
    benchmark = _flags.bool_flag("benchmark", "set_benchmark_cudnn")
    deterministic = _flags.bool_flag("deterministic", "set_deterministic_cudnn")
    allow_tf32 = _flags.bool_flag("allow_tf32", "set_allow_tf32_cudnn")


_state = {"enabled": True, "benchmark": False, "deterministic": False, "allow_tf32": True}
benchmark_limit = None  # torch reports None without cuDNN


def flags(
    enabled: bool = False,
    benchmark: bool = False,
    benchmark_limit: int = 10,
    deterministic: bool = False,
    allow_tf32: bool = True,
):
    """torch.backends.cudnn.flags(...): a context manager setting all the flags for a block."""
    import sys

    return _flags.set_flags(
        sys.modules[__name__],
        enabled=enabled,
        benchmark=benchmark,
        benchmark_limit=benchmark_limit,
        deterministic=deterministic,
        allow_tf32=allow_tf32,
    )


_flags.install(__name__, _CudnnModule)
