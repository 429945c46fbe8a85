"""torch.backends.cuda: `is_built()` and the cuBLAS matmul flags (`matmul.allow_tf32`,
`matmul.allow_fp16_reduced_precision_reduction`, ...), kept in step with
`torch.set_float32_matmul_precision` as torch does."""

from __future__ import annotations

from ember import _backend

_PRECISION = ["highest"]  # 'highest' <-> allow_tf32 False; 'high'/'medium' <-> True


def is_built() -> bool:
    """True when CuPy (ember's CUDA backend) is importable."""
    try:
        import cupy  # noqa: F401
    except Exception:
        return False
    return True


class cuBLASModule:
    """`torch.backends.cuda.matmul`: unknown attributes raise AttributeError as in torch."""

    _bools = {
        "allow_fp16_reduced_precision_reduction": True,
        "allow_bf16_reduced_precision_reduction": True,
        "allow_fp16_accumulation": False,
    }

    def __getattr__(self, name: str):
        if name == "allow_tf32":
            return _PRECISION[0] != "highest"
        if name in self._bools:
            return self._bools[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value) -> None:
        if name == "allow_tf32":
            if not isinstance(value, bool):
                raise RuntimeError(f"set_allow_tf32_cublas expects a bool, but got {type(value).__name__}")
            _PRECISION[0] = "high" if value else "highest"
            return
        if name in self._bools:
            self._bools[name] = bool(value)
            return
        raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()


def preferred_linalg_library(backend=None):
    """ember's linear algebra is NumPy's (CPU) or CuPy's (CUDA): 'default'."""
    return "default"


def get_float32_matmul_precision() -> str:
    return _PRECISION[0]


def set_float32_matmul_precision(precision: str) -> None:
    """torch.set_float32_matmul_precision: 'highest' | 'high' | 'medium' (others warn, no effect).
    ember's float32 matmuls are always full float32 on the CPU."""
    if precision not in ("highest", "high", "medium"):
        import warnings

        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=3,
        )
        return
    _PRECISION[0] = precision
    cp = _backend.cupy()
    if cp is not None:  # CuPy reads CUPY_TF32 when it plans a matmul
        import os

        os.environ["CUPY_TF32"] = "0" if precision == "highest" else "1"
