"""torch.backends.cpu."""

from __future__ import annotations


def get_cpu_capability() -> str:
    """The SIMD level NumPy's kernels were dispatched to ('AVX512', 'AVX2', 'DEFAULT')."""
    try:
        import numpy as np

        found = np._core._multiarray_umath.__cpu_features__  # type: ignore[attr-defined]
    except Exception:
        return "DEFAULT"
    for name, label in (("AVX512F", "AVX512"), ("AVX2", "AVX2")):
        if found.get(name):
            return label
    return "DEFAULT"
