"""Type and state queries of torch's top level (is_floating_point, result_type, can_cast, ...)
and the entry points ember accepts without doing anything: torch.compile returns the model
unchanged (ember has no compiler), the inter-op thread count is recorded but unused."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._tensor import Tensor
from ember.ops._promote import result_dtype

__all__ = [
    "is_floating_point",
    "is_complex",
    "is_nonzero",
    "is_same_size",
    "result_type",
    "can_cast",
    "typename",
    "scalar_tensor",
    "compile",
    "get_num_interop_threads",
    "set_num_interop_threads",
]

_INTEROP = [1]


def _tensor_arg(fn: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def is_floating_point(input) -> bool:
    return _tensor_arg("is_floating_point", input).dtype.is_floating_point


def is_complex(input) -> bool:
    return _tensor_arg("is_complex", input).dtype.is_complex


def is_nonzero(input) -> bool:
    """bool() of a one-element tensor, with torch's errors for none or several."""
    n = _tensor_arg("is_nonzero", input).numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


def is_same_size(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def result_type(tensor1, tensor2) -> _dtype.dtype:
    """The dtype torch's promotion gives an elementwise op on the two (tensors or scalars)."""
    return result_dtype(*[t._data if isinstance(t, Tensor) else t for t in (tensor1, tensor2)])


def can_cast(from_, to) -> bool:
    """Whether torch's casting rules allow from_ -> to without a lower category (float -> int,
    complex -> float, non-bool -> bool are not allowed)."""
    a, b = _dtype.to_dtype(from_), _dtype.to_dtype(to)
    return a._cat <= b._cat


def typename(obj) -> str:
    """The legacy type string: 'torch.FloatTensor' for tensors, else the class's qualified name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(type(obj), "__module__", "") or ""
    name = type(obj).__qualname__
    return name if module in ("builtins", "__builtin__", "") else f"{module}.{name}"


def scalar_tensor(
    s, *, dtype=None, layout=None, device=None, pin_memory=None, requires_grad: bool = False
) -> Tensor:
    """A 0-d tensor of the default float dtype (or `dtype`) holding s."""
    d = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    return Tensor._wrap(np.asarray(s, dtype=d.np)).requires_grad_(requires_grad)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None, mode=None, options=None,
            disable: bool = False, **kwargs):  # fmt: skip
    """torch.compile: ember runs eagerly, so the model or function comes back unchanged (also as a
    decorator, with or without arguments). Numbers and gradients are the eager ones."""
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError("torch.compile: expected a callable (nn.Module or function)")
    return model


def get_num_interop_threads() -> int:
    return _INTEROP[0]


def set_num_interop_threads(n: int) -> None:
    """Recorded for get_num_interop_threads; ember runs no inter-op thread pool."""
    if int(n) < 1:
        raise RuntimeError("Number of inter-op threads must be positive")
    _INTEROP[0] = int(n)
