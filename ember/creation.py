"""The torch.* creation functions: tensor, zeros, arange, rand, ... (math lives in ember.ops)."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from ember import _backend, _dtype, _sampling
from ember._memory_format import axis_order, copy_as, preserve_format
from ember._tensor import Tensor


def _dt(dtype, default=None):
    if dtype is None:
        return default or _dtype.get_default_dtype()
    return _dtype.to_dtype(dtype)


def _finish(arr, dtype, device, requires_grad):
    if device is None:
        device = _backend.default_device[0]
    if device is not None:
        dev = _backend.to_device(device)
        if dev.type == "cuda":
            arr = _backend.cupy().asarray(arr)
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _elem_dtype(x) -> _dtype.dtype:
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, np.generic):
        return _dtype.from_np(x.dtype)
    if isinstance(x, bool):
        return _dtype.bool_
    if isinstance(x, int):
        return _dtype.int64
    if isinstance(x, float):
        return _dtype.get_default_dtype()
    if isinstance(x, complex):
        return _dtype.complex64
    raise TypeError(f"Could not infer dtype of {type(x).__name__}")


def _infer_np(data):
    """NumPy array for nested Python data with torch's dtype inference."""
    if isinstance(data, Tensor):
        return _backend.to_numpy(data._data).copy()
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    if isinstance(data, (list, tuple)):
        shape = _nested_shape(data)
        flat = _flatten(data)
        if not flat:
            return np.zeros(shape, dtype=_dtype.get_default_dtype().np)
        dt = None
        for x in flat:
            d = _elem_dtype(x)
            dt = d if dt is None else _dtype.promote_types(dt, d)
        vals = [x.item() if isinstance(x, Tensor) else x for x in flat]
        return np.asarray(vals, dtype=dt.np).reshape(shape)
    if isinstance(data, (bool, int, float, complex)):
        return np.asarray(data, dtype=_elem_dtype(data).np)
    cp = _backend.cupy()
    if cp is not None and isinstance(data, cp.ndarray):
        return data.copy()
    if hasattr(data, "__array__"):
        return np.array(data)
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _scalar(x):
    if isinstance(x, Tensor):
        return x.item()
    return x


def _flatten(data):
    out = []
    stack = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, (list, tuple)):
            stack.extend(reversed(d))
        elif isinstance(d, Tensor) and d.ndim > 0:
            stack.extend(reversed(d.tolist()))
        elif isinstance(d, np.ndarray) and d.ndim > 0:
            stack.extend(reversed(list(d)))
        else:
            out.append(d)
    return out


def _nested_shape(data):
    shape = []
    d = data
    while isinstance(d, (list, tuple, np.ndarray, Tensor)) and not (
        isinstance(d, (np.ndarray, Tensor)) and d.ndim == 0
    ):
        shape.append(len(d))
        if len(d) == 0:
            break
        d = d[0]
    # validate ragged input
    _check_ragged(data, shape, 0)
    return tuple(shape)


def _check_ragged(d, shape, depth):
    if depth == len(shape):
        return
    if not isinstance(d, (list, tuple, np.ndarray, Tensor)) or len(d) != shape[depth]:
        raise ValueError(
            f"expected sequence of length {shape[depth]} at dim {depth} (got {len(d) if hasattr(d, '__len__') else 0})"
        )
    for x in d:
        _check_ragged(x, shape, depth + 1)


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """torch.tensor: always copies; infers int64 / float32 / bool like torch."""
    if isinstance(data, Tensor):
        import warnings

        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
            "or sourceTensor.clone().detach().requires_grad_(True), rather than torch.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
    arr = _infer_np(data)
    if dtype is not None:
        arr = arr.astype(_dtype.to_dtype(dtype).np)
    elif arr.dtype not in _dtype._FROM_NP:
        arr = arr.astype(_dtype.from_np(arr.dtype).np)
    return _finish(
        np.array(arr, order="C", copy=False) if arr.flags.c_contiguous else arr.copy(order="C"),
        dtype,
        device,
        requires_grad,
    )


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """torch.as_tensor: shares memory with a NumPy array or tensor when dtype/device allow."""
    if isinstance(data, Tensor):
        if (dtype is None or _dtype.to_dtype(dtype) is data.dtype) and (
            device is None or _backend.to_device(device) == data.device
        ):
            return data
        return data.to(dtype=dtype, device=device)
    if (
        isinstance(data, np.ndarray)
        and (dtype is None or _dtype.to_dtype(dtype).np == data.dtype)
        and device is None
        and _backend.default_device[0] is None
    ):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """torch.from_numpy: the tensor shares the array's memory."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _dtype.from_np(arr.dtype)
    if not arr.flags.writeable:
        import warnings

        warnings.warn(
            "The given NumPy array is not writable, and PyTorch does not support non-writable tensors.",
            UserWarning,
            stacklevel=2,
        )
    return Tensor._wrap(arr)


def _size(size):
    if (
        len(size) == 1
        and isinstance(size[0], (tuple, list))
        or (len(size) == 1 and hasattr(size[0], "__iter__"))
    ):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"empty(): argument 'size' must be tuple of ints, but found element of type {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _xp(device):
    return _backend.module_for(_backend.to_device(device)) if device is not None else np


def _sized_factory(make, name: str, doc: str):
    """torch.<name>(*size, dtype=None, device=None, requires_grad=False, ...): `make(shape,
    np_dtype, generator)` builds the array."""

    def factory(
        *size,
        generator=None,
        dtype=None,
        device=None,
        requires_grad: bool = False,
        out=None,
        layout=None,
        pin_memory: bool = False,
        memory_format=None,
    ) -> Tensor:
        if generator is not None and name not in ("rand", "randn"):
            raise TypeError(f"{name}() got an unexpected keyword argument 'generator'")
        np_dtype = _dt(dtype).np
        return _finish(make(_size(size), np_dtype, generator), dtype, device, requires_grad)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory


empty = _sized_factory(lambda shape, dt, gen: np.empty(shape, dtype=dt), "empty", "Uninitialised tensor.")
zeros = _sized_factory(lambda shape, dt, gen: np.zeros(shape, dtype=dt), "zeros", "Tensor of zeros.")
ones = _sized_factory(lambda shape, dt, gen: np.ones(shape, dtype=dt), "ones", "Tensor of ones.")


def full(
    size,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    out=None,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        dtype = _dtype.scalar_dtype(fill_value)
    return _finish(np.full(_size((size,)), fill_value, dtype=_dt(dtype).np), dtype, device, requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    return _finish(np.eye(n, m, dtype=_dt(dtype).np), dtype, device, requires_grad)


def arange(
    start=0,
    end=None,
    step=1,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    out=None,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    """torch.arange: int64 unless an argument is a float (then the default float dtype)."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = _dtype.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtype.int64
    dt = _dtype.to_dtype(dtype)
    n = builtins.max(0, math.ceil((end - start) / step))
    arr = (
        (start + np.arange(n, dtype=np.float64) * step)
        if dt.is_floating_point
        else np.arange(start, end, step)
    )
    return _finish(arr.astype(dt.np), dtype, device, requires_grad)


def linspace(
    start,
    end,
    steps: int,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    out=None,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    """torch.linspace: computed in the output dtype from both ends, as torch does."""
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = _dt(dtype)
    ct = dt.np if dt.is_floating_point else np.dtype(np.float64)
    if steps == 1:
        arr = np.asarray([start], dtype=np.float64)
    else:
        # step rounded to the output dtype, then each value as one fused multiply-add from the
        # nearer end (torch's kernel), emulated in float64
        step = np.float64(ct.type((float(end) - float(start)) / (steps - 1)))
        i = np.arange(steps, dtype=np.float64)
        arr = np.where(i < steps // 2, float(start) + step * i, float(end) - step * (steps - 1 - i))
    return _finish(arr.astype(dt.np), dtype, device, requires_grad)


def logspace(
    start,
    end,
    steps: int,
    base: float = 10.0,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    arr = np.logspace(float(start), float(end), int(steps), base=base, dtype=np.float64)
    return _finish(arr.astype(_dt(dtype).np), dtype, device, requires_grad)


rand = _sized_factory(
    lambda shape, dt, gen: _sampling.uniform(shape, dt, 0.0, 1.0, gen), "rand", "Uniform [0, 1) samples."
)
randn = _sized_factory(
    lambda shape, dt, gen: _sampling.normal(shape, dt, 0.0, 1.0, gen), "randn", "Standard normal samples."
)


def randint(
    low=0,
    high=None,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    arr = _sampling.randint(_size((size,)), _dt(dtype, _dtype.int64).np, low, high, generator)
    return _finish(arr, dtype, device, requires_grad)


def randperm(
    n: int,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    return _finish(
        _sampling.randperm(n, _dt(dtype, _dtype.int64).np, generator), dtype, device, requires_grad
    )


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """torch.normal(mean, std[, size]): mean and std may be tensors (broadcast). As torch: a
    standard normal (or N(0, std) for a float std) of the result's shape, then * std, + mean."""
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got (float, float)")
        arr = _sampling.normal(_size((size,)), _dt(dtype).np, float(mean), float(std), generator)
        return _finish(arr, dtype, device, requires_grad)
    m = _backend.to_numpy(mean._data) if mt else mean
    s = _backend.to_numpy(std._data) if st else float(std)
    if st and (s < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    dt = (mean if mt else std)._data.dtype
    if mt and not st:  # normal_(0, std) then add_(mean)
        arr = _sampling.normal(m.shape, dt, 0.0, s, generator) + m
    else:  # normal_(0, 1), mul_(std), add_(mean)
        arr = _sampling.normal(np.broadcast_shapes(np.shape(m), s.shape), dt, 0.0, 1.0, generator) * s
        arr = arr + (m if mt else dt.type(m))
    return _finish(arr.astype(dt, copy=False), dtype, device, requires_grad)


def _layout_like(out: Tensor, input: Tensor, memory_format) -> Tensor:
    """torch's memory_format for *_like: preserve (default) keeps a dense input's stride order
    (NumPy's empty_like does the same); an explicit format lays the result out in it."""
    src = input._data
    if memory_format is None or memory_format is preserve_format:
        if src.flags.c_contiguous or input._batch_last or type(src) is not type(out._data):
            return out
        arr = _backend.of(src).empty_like(src, dtype=out._data.dtype)
        arr[...] = out._data
        out._data = arr
        return out
    if axis_order(memory_format, src.ndim) is not None:
        out._data = copy_as(out._data, memory_format)
    return out


def _like(t: Tensor, dtype):
    return dtype if dtype is not None else t.dtype


def _like_factory(factory, name: str):
    """torch.<name>: `factory` with the input's shape, and its dtype/device unless given."""

    def like(
        input,
        *,
        generator=None,
        dtype=None,
        device=None,
        requires_grad: bool = False,
        layout=None,
        pin_memory: bool = False,
        memory_format=None,
    ) -> Tensor:
        extra = {} if generator is None else {"generator": generator}
        out = factory(
            input.shape,
            dtype=_like(input, dtype),
            device=device or _dev(input),
            requires_grad=requires_grad,
            **extra,
        )
        return _layout_like(out, input, memory_format)

    like.__name__ = like.__qualname__ = name
    like.__doc__ = f"torch.{name}: {factory.__name__} shaped like the input."
    return like


empty_like = _like_factory(empty, "empty_like")
zeros_like = _like_factory(zeros, "zeros_like")
ones_like = _like_factory(ones, "ones_like")


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    out = full(
        input.shape,
        fill_value,
        dtype=_like(input, dtype),
        device=device or _dev(input),
        requires_grad=requires_grad,
    )
    return _layout_like(out, input, memory_format)


rand_like = _like_factory(rand, "rand_like")


randn_like = _like_factory(randn, "randn_like")


def randint_like(
    input,
    low=0,
    high=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    return randint(
        low, high, input.shape, generator=generator, dtype=_like(input, dtype), device=device or _dev(input)
    )


def _dev(t):
    d = t.device
    return None if d.type == "cpu" and _backend.default_device[0] is None else d


def _new_factory(fn):

    def method(
        self,
        *size,
        dtype=None,
        device=None,
        requires_grad: bool = False,
        layout=None,
        pin_memory: bool = False,
        memory_format=None,
    ):
        return fn(
            *size,
            dtype=dtype if dtype is not None else self.dtype,
            device=device or _dev(self),
            requires_grad=requires_grad,
        )

    method.__name__ = "new_" + fn.__name__
    return method


def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False):
    return tensor(
        data,
        dtype=dtype if dtype is not None else self.dtype,
        device=device or _dev(self),
        requires_grad=requires_grad,
    )


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False):
    return full(
        size,
        fill_value,
        dtype=dtype if dtype is not None else self.dtype,
        device=device or _dev(self),
        requires_grad=requires_grad,
    )


new_zeros = _new_factory(zeros)
new_ones = _new_factory(ones)
new_empty = _new_factory(empty)


def _legacy(name, dt):
    def make(*args, **kwargs):
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            return tensor(args[0], dtype=dt)
        return zeros(*args, dtype=dt) if args else tensor([], dtype=dt)

    make.__name__ = name
    return make


FloatTensor = _legacy("FloatTensor", _dtype.float32)
DoubleTensor = _legacy("DoubleTensor", _dtype.float64)
LongTensor = _legacy("LongTensor", _dtype.int64)
IntTensor = _legacy("IntTensor", _dtype.int32)
ByteTensor = _legacy("ByteTensor", _dtype.uint8)
BoolTensor = _legacy("BoolTensor", _dtype.bool_)
HalfTensor = _legacy("HalfTensor", _dtype.float16)


def torch_range(start, end, step=1, *, dtype=None, device=None, requires_grad: bool = False, out=None,
                layout=None) -> Tensor:  # fmt: skip
    """torch.range (deprecated in torch): like arange but including `end`; default float dtype."""
    warnings.warn(
        "torch.range is deprecated and will be removed in a future release because its behavior is inconsistent "
        "with Python's range builtin. Instead, use torch.arange, which produces values in [start, end).",
        UserWarning,
        stacklevel=2,
    )
    n = int(np.floor((end - start) / step)) + 1
    d = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    vals = (start + np.arange(max(n, 0), dtype=np.float64) * step).astype(d.np)
    return _finish(vals, d, device, requires_grad)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "empty",
    "zeros",
    "ones",
    "full",
    "eye",
    "arange",
    "linspace",
    "logspace",
    "rand",
    "randn",
    "randint",
    "randperm",
    "normal",
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "FloatTensor",
    "DoubleTensor",
    "LongTensor",
    "IntTensor",
    "ByteTensor",
    "BoolTensor",
    "HalfTensor",
    "is_tensor",
    "numel",
]
