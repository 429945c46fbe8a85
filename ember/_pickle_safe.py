"""Unpickling PyTorch checkpoints into ember objects, without importing torch.

`TorchUnpickler` maps the globals torch writes (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`,
`torch.float32`, ...) to ember equivalents. With `weights_only=True` every other global is refused,
the way torch's weights-only unpickler does: a checkpoint can then build tensors, dtypes, devices,
containers and plain values, and cannot call anything else.
"""

from __future__ import annotations

import _compat_pickle
import collections
import math
import pickle
import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ember import _backend, _dtype
from ember._size import Size
from ember._tensor import Tensor

# torch's legacy storage class names -> ember dtype name (None: no NumPy equivalent)
STORAGE_DTYPES: dict[str, str | None] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
    "BFloat16Storage": None,
    "QInt8Storage": None,
    "QUInt8Storage": None,
    "QInt32Storage": None,
    "QUInt4x2Storage": None,
    "QUInt2x4Storage": None,
    "ComplexHalfStorage": None,
}
# dtypes torch may name in a pickle that ember cannot represent
UNSUPPORTED_DTYPES = (
    "bfloat16",
    "complex32",
    "uint16",
    "uint32",
    "uint64",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "bits8",
    "bits16",
    "float4_e2m1fn_x2",
)


_brief = reprlib.Repr()
_brief.maxlevel, _brief.maxstring, _brief.maxother = 2, 60, 60


def brief(obj: Any) -> str:
    """A short repr of an untrusted object (bounded however the object nests)."""
    try:
        return _brief.repr(obj)
    except Exception:
        return f"<{type(obj).__name__}>"


class StorageType:
    """What a `torch.FloatStorage` global becomes: it only names the element type of a storage."""

    def __init__(self, name: str) -> None:
        self.name = name
        dt = STORAGE_DTYPES[name]
        self.dtype = None if dt is None else _dtype._NAMES[dt]

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class UnsupportedDtype:
    """A torch dtype with no NumPy equivalent (e.g. bfloat16): loads as a name, cannot build tensors."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Storage:
    """A loaded storage: a flat array of `dtype` elements on CPU (numpy) or CUDA (cupy).

    It is also what a callable `map_location(storage, location)` receives and may return."""

    def __init__(self, array, location: str = "cpu") -> None:
        self.array = array
        self.location = location

    @property
    def device(self) -> _backend.device:
        return _backend.device_of(self.array)

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_np(self.array.dtype)

    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def size(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        return int(self.array.size)

    def to(self, device) -> Storage:
        dev = _backend.to_device(device)
        if dev.type == "cpu":
            return Storage(_backend.to_numpy(self.array), "cpu")
        cp = _backend.cupy()
        with cp.cuda.Device(dev.index or 0):
            return Storage(cp.asarray(self.array), str(dev))

    def cpu(self) -> Storage:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> Storage:
        return self.to(_backend.device("cuda", device) if isinstance(device, int) else device or "cuda")


def _check_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise pickle.UnpicklingError(f"corrupt checkpoint: tensor {what} must be an int, got {brief(value)}")
    return value


def _check_ints(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise pickle.UnpicklingError(f"corrupt checkpoint: tensor {what} must be a tuple, got {brief(value)}")
    return tuple(_check_int(v, what) for v in value)


def rebuild_tensor(storage, storage_offset, size, stride) -> Tensor:
    """torch._utils._rebuild_tensor: a strided view into a loaded storage (checked to fit)."""
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError(f"corrupt checkpoint: expected a storage, got {type(storage).__name__}")
    offset = _check_int(storage_offset, "storage offset")
    size, stride = _check_ints(size, "size"), _check_ints(stride, "stride")
    arr = storage.array
    if len(size) != len(stride) or offset < 0 or min(size + stride, default=0) < 0:
        raise RuntimeError(
            f"corrupt checkpoint: invalid tensor geometry size={brief(list(size))} stride={brief(list(stride))} "
            f"storage_offset={offset}"
        )
    if any(n >= 1 << 62 or s >= 1 << 62 for n, s in zip(size, stride)) or offset >= 1 << 62:
        raise RuntimeError(
            f"corrupt checkpoint: tensor geometry out of range size={brief(list(size))} "
            f"stride={brief(list(stride))} storage_offset={offset}"
        )
    numel = math.prod(size)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if numel else offset - 1
    if last >= arr.size or offset > arr.size:
        raise RuntimeError(
            f"corrupt checkpoint: tensor of size {brief(list(size))}, stride {brief(list(stride))} and storage "
            f"offset {offset} needs {last + 1} elements but its storage holds only {arr.size}"
        )
    item = arr.itemsize
    strides = tuple(s * item for s in stride)
    if type(arr) is np.ndarray:
        view = np.ndarray(size, arr.dtype, buffer=arr, offset=offset * item, strides=strides)
    else:  # cupy
        view = _backend.cupy().lib.stride_tricks.as_strided(arr[offset:], size, strides)
    return Tensor._wrap(view)


def rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
) -> Tensor:
    """torch._utils._rebuild_tensor_v2 (hooks and metadata are not restored, as in torch)."""
    t = rebuild_tensor(storage, storage_offset, size, stride)
    if requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex):
        t._requires_grad = True
    return t


# nn.Parameter registers itself here when ember.nn is imported (nn sits above serialization)
parameter_class: list = [None]


def _parameter_class():
    return parameter_class[0]


def rebuild_parameter(data, requires_grad=True, backward_hooks=None) -> Tensor:
    """torch._utils._rebuild_parameter: an ember nn.Parameter (a tensor that requires grad
    while nn.Parameter does not exist yet)."""
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError(f"corrupt checkpoint: parameter data is {type(data).__name__}")
    cls = _parameter_class()
    if cls is not None:
        return cls(data, bool(requires_grad))
    data._requires_grad = bool(requires_grad) and data.dtype._cat >= 2
    return data


def rebuild_parameter_with_state(data, requires_grad, backward_hooks, state) -> Tensor:
    p = rebuild_parameter(data, requires_grad, backward_hooks)
    _set_state(p, state)
    return p


def rebuild_from_type_v2(func, new_type, args, state) -> Tensor:
    """torch._tensor._rebuild_from_type_v2: a tensor (or Parameter) with extra attributes."""
    if func not in (rebuild_tensor_v2, rebuild_tensor, rebuild_parameter, rebuild_parameter_with_state):
        raise pickle.UnpicklingError(f"corrupt checkpoint: cannot rebuild a tensor with {brief(func)}")
    t = func(*args)
    cls = _parameter_class()
    if new_type is not Tensor and not (cls is not None and new_type is cls):
        raise pickle.UnpicklingError(f"ember cannot rebuild tensor subclass {brief(new_type)}")
    if new_type is cls and not isinstance(t, cls):
        t = cls(t, t.requires_grad)
    _set_state(t, state)
    return t


def _state_dict(state) -> dict:
    if state is None:
        return {}
    if type(state) is not dict and not isinstance(state, collections.OrderedDict):
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: object state must be a dict, got {type(state).__name__}"
        )
    return state


def set_allowed_state(obj: Any, state) -> None:
    """Set pickled state (a dict, or a (dict, slots dict) pair) as entries of obj's own __dict__.

    The allow-list of names: identifiers that do not start with '__' and are not attributes of
    obj's class, so state can add data to the one object but never replace a method, a slot or a
    class attribute (`tolist`, `_data`, `__class__`), and never touches anything shared."""
    if isinstance(state, tuple) and len(state) == 2:  # (dict_state, slots_state)
        state = {**_state_dict(state[0]), **_state_dict(state[1])}
    state = _state_dict(state)
    cls = type(obj)
    for k in state:
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("__") or hasattr(cls, k):
            raise pickle.UnpicklingError(
                f"Weights only load failed: the checkpoint sets attribute {brief(k)} on a "
                f"{cls.__name__}, which is not an allowed state name"
            )
    obj.__dict__.update(state)


_set_state = set_allowed_state


def _parameter_new(data=None, requires_grad=True):
    cls = _parameter_class()
    if data is None:
        data = Tensor._wrap(np.empty(0, np.float32))
    return cls(data, requires_grad) if cls is not None else rebuild_parameter(data, requires_grad)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol 2 pickles bytes as _codecs.encode(str, 'latin1'): allow only text codecs
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(
            f"_codecs.encode({type(obj).__name__}, {brief(encoding)}) is not allowed"
        )
    if not isinstance(errors, str):
        raise pickle.UnpicklingError("_codecs.encode: errors must be a str")
    return obj.encode(encoding, errors)


def _get_layout(name):
    return name


def _torch_globals() -> dict[str, Any]:
    """torch's safe global names -> ember objects."""
    g: dict[str, Any] = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "builtins.bytearray": bytearray,
        "_codecs.encode": _codecs_encode,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": rebuild_from_type_v2,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": Size,
        "torch.device": _backend.device,
        "torch.Tensor": Tensor,
        "torch.nn.parameter.Parameter": _parameter_new,
        "torch.strided": "strided",
    }
    for name in STORAGE_DTYPES:
        g[f"torch.{name}"] = StorageType(name)
    g["torch.storage.UntypedStorage"] = g["torch.UntypedStorage"]
    for d in _dtype.ALL:
        g[f"torch.{d.name}"] = d
    for name in UNSUPPORTED_DTYPES:
        g[f"torch.{name}"] = UnsupportedDtype(name)
    return g


TORCH_GLOBALS = _torch_globals()


class TorchUnpickler(pickle.Unpickler):
    """Unpickler for checkpoint pickles; `weights_only` restricts globals to `TORCH_GLOBALS`."""

    def __init__(self, file, *, weights_only: bool, persistent_load: Callable, encoding: str = "utf-8"):
        super().__init__(file, encoding=encoding)
        self._weights_only = weights_only
        self._persistent_load = persistent_load

    def find_class(self, module: str, name: str):
        # Python 2 names (`__builtin__.set`, written by protocol <= 2), as pickle's fix_imports does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        if full in TORCH_GLOBALS:
            return TORCH_GLOBALS[full]
        if self._weights_only:
            raise pickle.UnpicklingError(
                "Weights only load failed. ember.load(weights_only=True) only rebuilds tensors, "
                "dtypes, devices, containers and plain Python values. Unsupported global: GLOBAL "
                f"{full} was not an allowed global by default. Re-running ember.load with "
                "weights_only=False will likely succeed, but it can result in arbitrary code "
                "execution: do it only if you got the file from a trusted source."
            )
        if module == "torch" or module.startswith("torch."):
            raise pickle.UnpicklingError(
                f"ember cannot load the torch object {full}: it has no ember equivalent"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return self._persistent_load(pid)


def storage_dtype(storage_type) -> _dtype.dtype:
    """The ember dtype of a `torch.XStorage` token from a persistent id (clear error if none)."""
    if not isinstance(storage_type, StorageType):
        raise pickle.UnpicklingError(f"corrupt checkpoint: invalid storage type {brief(storage_type)}")
    if storage_type.dtype is None:
        raise RuntimeError(
            f"ember cannot load a {brief(storage_type)}: its element type has no NumPy equivalent "
            "(convert the tensors with .float() in torch before saving)"
        )
    return storage_type.dtype


def as_str(value) -> str:
    """Keys and locations may be bytes in checkpoints written by Python 2 (encoding='bytes')."""
    return value.decode("ascii") if isinstance(value, bytes) else value
