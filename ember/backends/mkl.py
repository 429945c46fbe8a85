"""torch.backends.mkl."""

from __future__ import annotations


def is_available() -> bool:
    """True when NumPy's BLAS is Intel MKL."""
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        return "mkl" in str(cfg.get("Build Dependencies", {}).get("blas", {})).lower()
    except Exception:
        return False
