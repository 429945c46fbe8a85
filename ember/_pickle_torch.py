"""Pickling ember objects exactly as torch pickles its own, without importing torch.

A Tensor becomes `torch._utils._rebuild_tensor_v2(<storage pid>, offset, size, stride, requires_grad,
OrderedDict())`, an nn.Parameter `torch._utils._rebuild_parameter(...)`, a dtype the global
`torch.float32`, a device `torch.device('cpu')`, a Size `torch.Size((2, 3))`. Views of one NumPy
buffer share one storage record, as views of one torch storage do.
"""

from __future__ import annotations

import collections
import pickle

import numpy as np

from ember import _backend, _dtype
from ember._layout import make_nchw
from ember._pickle_safe import STORAGE_DTYPES, parameter_class
from ember._size import Size
from ember._tensor import Tensor

_STORAGE_NAME = {dt: name for name, dt in STORAGE_DTYPES.items() if dt and name != "UntypedStorage"}


class TorchGlobal:
    """A global written by name (`module name` after GLOBAL) that is never imported here."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} is only a name written into checkpoints")


_GLOBALS: dict[tuple[str, str], TorchGlobal] = {}


def torch_global(module: str, name: str) -> TorchGlobal:
    key = (module, name)
    if key not in _GLOBALS:
        _GLOBALS[key] = TorchGlobal(module, name)
    return _GLOBALS[key]


class StorageEntry:
    """One storage record: a contiguous NumPy buffer (`root`) read as elements of `dtype`."""

    __slots__ = ("key", "root", "dtype", "location")

    def __init__(self, key: str, root: np.ndarray, dtype: np.dtype, location: str) -> None:
        self.key, self.root, self.dtype, self.location = key, root, dtype, location

    @property
    def numel(self) -> int:
        return self.root.nbytes // self.dtype.itemsize

    def little_endian_bytes(self) -> memoryview:
        flat = self.root.ravel(order="K").view(np.uint8)  # memory order, no copy (root is contiguous)
        if self.dtype.byteorder == ">" or (self.dtype.byteorder == "=" and not _LITTLE):
            flat = flat.view(self.dtype).byteswap().view(np.uint8)
        return memoryview(flat)


_LITTLE = np.little_endian


def _root(arr: np.ndarray) -> np.ndarray:
    """The ndarray that owns `arr`'s memory (through as_strided's helper objects too)."""
    root = arr
    while True:
        b = root.base
        if isinstance(b, np.ndarray):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):
            root = b.base
        else:
            return root


def _ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def contiguous_strides(shape) -> tuple[int, ...]:
    st, out = 1, []
    for n in reversed(shape):
        out.append(st)
        st *= max(n, 1)
    return tuple(reversed(out))


class StorageTable:
    """Storages met while pickling, keyed by the buffer that owns them ('0', '1', ...)."""

    def __init__(self) -> None:
        self._by_root: dict[int, StorageEntry] = {}
        self.entries: list[StorageEntry] = []

    def _new(self, root: np.ndarray, dtype: np.dtype, location: str) -> StorageEntry:
        entry = StorageEntry(str(len(self.entries)), root, dtype, location)
        self.entries.append(entry)
        self._by_root[id(root)] = entry
        return entry

    def locate(self, arr) -> tuple[StorageEntry, int, tuple[int, ...], tuple[int, ...]]:
        """(storage, storage_offset, size, stride) of an array, in elements."""
        if type(arr) is not np.ndarray:  # cupy: copied to host, one storage per tensor
            loc = str(_backend.device_of(arr))
            arr = _backend.to_numpy(arr)
            return self._own(arr, loc)
        root, item = _root(arr), arr.itemsize
        if arr.size and (root.flags.c_contiguous or root.flags.f_contiguous) and root.nbytes % item == 0:
            off = _ptr(arr) - _ptr(root)
            strides = arr.strides
            fits = off >= 0 and off % item == 0 and all(s >= 0 and s % item == 0 for s in strides)
            if fits and off + sum((n - 1) * s for n, s in zip(arr.shape, strides)) + item <= root.nbytes:
                entry = self._by_root.get(id(root)) or self._new(root, arr.dtype, "cpu")
                if entry.dtype == arr.dtype and entry.root is root:
                    return entry, off // item, arr.shape, tuple(s // item for s in strides)
        return self._own(arr, "cpu")

    def _own(self, arr: np.ndarray, location: str):
        own = np.array(arr, order="C", copy=True)
        return self._new(own, own.dtype, location), 0, own.shape, contiguous_strides(own.shape)


def _is_parameter(t: Tensor) -> bool:
    cls = parameter_class[0]
    return isinstance(t, cls) if cls is not None else type(t).__name__ == "Parameter"


class TorchPickler(pickle._Pickler):
    """Pure-Python pickler (so globals can be written by name) emitting torch's layout."""

    def __init__(self, file, protocol: int, table: StorageTable, legacy: bool = False) -> None:
        super().__init__(file, protocol=protocol)
        self.table = table
        self.legacy = legacy

    def persistent_id(self, obj):
        if type(obj) is not StorageEntry:
            return None
        stype = torch_global("torch", _STORAGE_NAME[_dtype.from_np(obj.dtype).name])
        pid = ("storage", stype, obj.key, obj.location, obj.numel)
        return pid + (None,) if self.legacy else pid

    def reducer_override(self, obj):
        if type(obj) is TorchGlobal:
            return obj.name  # -> save_global
        if isinstance(obj, Tensor):
            if obj._batch_last:
                make_nchw(obj)
            if _is_parameter(obj):
                data = Tensor._wrap(obj._data)
                return torch_global("torch._utils", "_rebuild_parameter"), (
                    data,
                    obj.requires_grad,
                    collections.OrderedDict(),
                )
            entry, offset, size, stride = self.table.locate(obj._data)
            return torch_global("torch._utils", "_rebuild_tensor_v2"), (
                entry,
                offset,
                tuple(size),
                stride,
                obj.requires_grad,
                collections.OrderedDict(),
            )
        if isinstance(obj, _dtype.dtype):
            return obj.name
        if type(obj) is _backend.device:
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return torch_global("torch", "device"), args
        if type(obj) is Size:
            return torch_global("torch", "Size"), (tuple(obj),)
        return NotImplemented

    def save_global(self, obj, name=None) -> None:
        if type(obj) is TorchGlobal:
            module, name = obj.module, obj.name
        elif isinstance(obj, _dtype.dtype):
            module, name = "torch", obj.name
        else:
            return super().save_global(obj, name)
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self.memoize(obj)
