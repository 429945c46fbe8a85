"""Tensor: a data array plus autograd state (grad, grad_fn, version counter, view base). The
bottom layer: it holds no math and imports no ops or autograd. Methods that need a higher
layer (operators, `backward`, `sum`, `to`, in-place writes) are bound by `ember._methods`,
the one binding table."""

from __future__ import annotations

import weakref

import numpy as np

from ember import _backend, _dtype
from ember._dtype import dtype as _dt
from ember._hooks import add_hook
from ember._layout import make_nchw
from ember._memory_format import contiguous_format, is_format, preserve_format
from ember._repr import tensor_repr
from ember._size import Size


class Tensor:
    """An n-dimensional array with torch's semantics (views share memory, versions, autograd)."""

    __slots__ = (
        "_data",
        "_requires_grad",
        "grad",
        "grad_fn",
        "_version_counter",
        "_hooks",
        "_base",
        "_view_key",
        "__weakref__",
        "__dict__",
    )
    __array_ufunc__ = None  # make ndarray <op> Tensor defer to Tensor's reflected operators
    _batch_last = False  # memory is batch-last (C, H, W, N); made NCHW before it can show (_layout.py)
    _array_namespace = None  # ops.graph_math, set by the binding table: `_backend.of(tensor)`
    __hash__ = object.__hash__

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(2, 3) -> uninitialised float tensor; torch.Tensor([1, 2]) -> float tensor
        self = object.__new__(cls)
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"Tensor() got unexpected keyword arguments {list(kwargs)}")
        xp = _backend.module_for(_backend.to_device(device))
        dt = _dtype.get_default_dtype().np
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            a = args[0]
            data = a._data.astype(dt) if isinstance(a, Tensor) else xp.asarray(_to_nested(a), dtype=dt)
        elif all(isinstance(a, (int, np.integer)) for a in args):
            data = xp.empty(tuple(int(a) for a in args), dtype=dt)
        elif len(args) == 1 and isinstance(args[0], (tuple, list)):
            data = xp.asarray(args[0], dtype=dt)
        else:
            raise TypeError(f"Tensor(): invalid arguments {args!r}")
        _set_fields(self, data, False, None)
        return self

    def __init__(self, *args, **kwargs) -> None:
        pass

    @staticmethod
    def _wrap(arr, requires_grad: bool = False, grad_fn=None) -> Tensor:
        """A Tensor around an existing array (no copy)."""
        return _set_fields(
            _new(Tensor), arr if type(arr) is np.ndarray else _as_array(arr), requires_grad, grad_fn
        )

    # -- basic properties ---------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        if self._batch_last:
            make_nchw(self)
        t = Tensor._wrap(self._data)
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        if value._batch_last:
            make_nchw(value)
        self._batch_last = False
        self._data = value._data

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._version_counter[0]

    @property
    def dtype(self) -> _dt:
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        if self._batch_last:
            make_nchw(self)
        if self._data.size:
            st = tuple(s // self._data.itemsize for s in self._data.strides)
        else:  # NumPy gives empty arrays zero strides; torch gives them contiguous ones
            st = _contiguous_strides(self._data.shape)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def storage_offset(self) -> int:
        if self._batch_last:
            make_nchw(self)
        base = self._data
        while isinstance(base.base, type(self._data)):
            base = base.base
        return (
            (self._data.__array_interface__["data"][0] - base.__array_interface__["data"][0])
            // self._data.itemsize
            if type(self._data) is np.ndarray
            else 0
        )

    def data_ptr(self) -> int:
        if self._batch_last:
            make_nchw(self)
        if type(self._data) is np.ndarray:
            return self._data.__array_interface__["data"][0]
        return int(self._data.data.ptr)

    def untyped_storage(self):
        if self._batch_last:
            make_nchw(self)
        return _Storage(self)

    def is_contiguous(self, memory_format=None) -> bool:
        if self._batch_last:
            make_nchw(self)
        if memory_format is None:
            return bool(self._data.flags.c_contiguous)
        return is_format(self._data, memory_format)

    @property
    def device(self) -> _backend.device:
        return _backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    @property
    def T(self) -> Tensor:
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype._cat > 1 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __repr__(self) -> str:
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __array__(self, dtype=None, copy=None):
        if self._batch_last:
            make_nchw(self)
        a = _backend.to_numpy(self._data)
        return a if dtype is None else a.astype(dtype)

    def __reduce_ex__(self, proto):
        return (_rebuild, (_backend.to_numpy(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment."
            )
        new = type(self).__new__(type(self)) if type(self) is not Tensor else _new(Tensor)
        _set_fields(new, self._data.copy(), self._requires_grad, None)
        if type(self) is not Tensor:
            for k, v in getattr(self, "__dict__", {}).items():
                new.__dict__[k] = v
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    # -- conversion ---------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._batch_last:
            make_nchw(self)
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(
                    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                    "tensor to host memory first."
                )
            return _backend.to_numpy(self._data)
        return self._data

    def tolist(self):
        return _backend.to_numpy(self._data).tolist()

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return _backend.to_numpy(self._data).reshape(()).item()

    def detach(self) -> Tensor:
        if self._batch_last:
            make_nchw(self)
        t = Tensor._wrap(self._data)
        t._version_counter = (
            self._version_counter
        )  # detach shares the version counter (torch), .data does not
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def contiguous(self, memory_format=None) -> Tensor:
        if self._batch_last:
            make_nchw(self)
        if self._data.flags.c_contiguous and memory_format in (None, contiguous_format, preserve_format):
            return self
        if memory_format is preserve_format:
            raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
        if is_format(self._data, memory_format):
            return self
        return self.clone(memory_format=memory_format or contiguous_format)

    def type(self, dtype=None, **kwargs):
        if dtype is None:
            return (
                self.dtype.tensor_type.replace("torch.", "torch.cuda.")
                if self.is_cuda
                else self.dtype.tensor_type
            )
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            dtype = _dtype.from_tensor_type(dtype)
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        return self.to(_backend.device("cuda", device) if isinstance(device, int) else (device or "cuda"))

    def float(self) -> Tensor:
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        return self.to(_dtype.float16)

    def long(self) -> Tensor:
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        return self.to(_dtype.int32)

    def short(self) -> Tensor:
        return self.to(_dtype.int16)

    def char(self) -> Tensor:
        return self.to(_dtype.int8)

    def byte(self) -> Tensor:
        return self.to(_dtype.uint8)

    def bool(self) -> Tensor:
        return self.to(_dtype.bool_)

    # -- autograd -----------------------------------------------------------------------------
    def register_hook(self, hook):
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        owner = self.grad_fn if self.grad_fn is not None else self
        if owner._hooks is None:
            owner._hooks = {}
        return add_hook(owner._hooks, hook)

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or getattr(self, "_retains", False):
            return
        ref = weakref.ref(self)

        def _retain(g):
            t = ref()
            if t is not None:
                g = g.detach() if isinstance(g, Tensor) else g
                t.grad = g.clone() if t.grad is None else t.grad + g
            return None

        self.grad_fn._retain = _retain  # runs after all other hooks of this tensor, as in torch
        self.__dict__["_retains"] = True

    @property
    def retains_grad(self) -> bool:
        return self.__dict__.get("_retains", False) if self.grad_fn is not None else False

    # -- in-place machinery -------------------------------------------------------------------
    def _bump(self) -> None:
        """Record an in-place write: the one place a version counter changes."""
        self._version_counter[0] += 1


class _Storage:
    def __init__(self, t: Tensor) -> None:
        self._t = t

    def data_ptr(self) -> int:
        base = self._t._data
        while getattr(base, "base", None) is not None and hasattr(base.base, "__array_interface__"):
            base = base.base
        return base.__array_interface__["data"][0] if type(base) is np.ndarray else 0

    def nbytes(self) -> int:
        base = self._t._data  # the whole storage, not the view's extent (as torch)
        while isinstance(base.base, type(self._t._data)):
            base = base.base
        return int(base.nbytes)


def _contiguous_strides(shape) -> tuple[int, ...]:
    st, out = 1, []
    for n in reversed(shape):
        out.append(st)
        st *= max(n, 1)
    return tuple(reversed(out))


_new = object.__new__


def _set_fields(t: Tensor, data, requires_grad: bool, grad_fn) -> Tensor:
    """The one place a Tensor's fields are initialised."""
    t._data = data
    t._requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._version_counter = [0]
    t._hooks = None
    t._base = None
    return t


def _as_array(arr):
    if isinstance(arr, np.generic):
        return np.asarray(arr)
    if isinstance(arr, np.ndarray):
        return arr
    cp = _backend.cupy()
    if cp is not None and isinstance(arr, cp.ndarray):
        return arr
    return np.asarray(arr)


def _to_nested(a):
    if isinstance(a, Tensor):
        return _backend.to_numpy(a._data)
    if isinstance(a, (list, tuple)):
        return [_to_nested(x) for x in a]
    return a


def _rebuild(arr, requires_grad):
    t = Tensor._wrap(np.array(arr))
    t._requires_grad = requires_grad
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n if ndim else 0
