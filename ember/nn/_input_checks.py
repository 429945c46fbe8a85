"""Input validation for nn.functional's losses and softmaxes: the errors torch raises (its
kernel names and dtype names) where NumPy would quietly compute an integer or float64 answer."""

from __future__ import annotations

from ember._tensor import Tensor

# torch's scalar-type names, as its error messages print them
_TORCH_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}


def tname(t: Tensor) -> str:
    """torch's name of t's dtype in error messages ('Float', 'Long', ...)."""
    name = str(t.dtype).removeprefix("torch.")
    return _TORCH_NAMES.get(name, name)


def is_float(t: Tensor) -> bool:
    return t.dtype.is_floating_point or t.dtype.is_complex


def require_float(t: Tensor, kernel: str) -> None:
    """torch's `"<kernel>" not implemented for 'Long'` for a kernel that has no integer version."""
    if not is_float(t):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{tname(t)}'")


def softmax_kernel(name: str, ndim: int, dim: int) -> str:
    """The name torch's (log_)softmax kernel has for a reduction over `dim`."""
    return f"{name}_lastdim_kernel_impl" if ndim <= 1 or dim == ndim - 1 else f"{name}_kernel_impl"


def require_unit_interval(t: Tensor, what: str) -> None:
    """binary_cross_entropy's check: every element in [0, 1] (NaN is not)."""
    a = t._data
    if a.size and not bool(((a >= 0) & (a <= 1)).all()):
        raise RuntimeError(f"all elements of {what} should be between 0 and 1")


def require_castable(result_dtype_of: Tensor, out: Tensor) -> None:
    """torch's in-kernel cast check: a float result cannot be written to an integer output."""
    if is_float(result_dtype_of) and not is_float(out):
        raise RuntimeError(
            f"result type {tname(result_dtype_of)} can't be cast to the desired output type {tname(out)}"
        )
