"""torch.backends.mkldnn: oneDNN flags with torch's defaults (ember runs NumPy/BLAS kernels;
the flags are recorded, `is_available()` tells the truth)."""

from __future__ import annotations

import sys
import types

from ember.backends import _flags


def is_available() -> bool:
    """False: ember does not link oneDNN."""
    return False


class _MkldnnModule(types.ModuleType):
    enabled = _flags.bool_flag("enabled", "set_enabled_mkldnn")
    deterministic = _flags.bool_flag("deterministic", "set_deterministic_mkldnn")
    allow_tf32 = _flags.bool_flag("allow_tf32", "set_allow_tf32_mkldnn")


_state = {"enabled": True, "deterministic": False, "allow_tf32": True}


def flags(enabled: bool = False, deterministic: bool = False, allow_tf32: bool = True):
    """Context manager setting the oneDNN flags for a block."""
    return _flags.set_flags(
        sys.modules[__name__], enabled=enabled, deterministic=deterministic, allow_tf32=allow_tf32
    )


_flags.install(__name__, _MkldnnModule)
