"""Tensor: a data array plus autograd state. It holds no math: operators forward to `ember.ops`."""

from __future__ import annotations

import numpy as np

from ember import _backend, _dtype
from ember._dtype import dtype as _dt
from ember._memory_format import contiguous_format, is_format, preserve_format
from ember.autograd import grad_mode

_G = grad_mode._state


class Tensor:
    """An n-dimensional array with torch's semantics (views share memory, versions, autograd)."""

    __slots__ = (
        "_data",
        "_requires_grad",
        "grad",
        "grad_fn",
        "_vc",
        "_hooks",
        "_base",
        "_view_key",
        "_is_param_flag",
        "__weakref__",
        "__dict__",
    )
    __array_ufunc__ = None  # make ndarray <op> Tensor defer to Tensor's reflected operators
    _bl = False  # memory is batch-last (C, H, W, N); made NCHW before it can show (ops/batch_last.py)
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
        _init(self, data, False)
        return self

    def __init__(self, *args, **kwargs) -> None:
        pass

    @staticmethod
    def _wrap(arr, requires_grad: bool = False, grad_fn=None) -> Tensor:
        """Fast constructor around an existing array (no copy)."""
        t = object.__new__(Tensor)
        if type(arr) is not np.ndarray:
            arr = _as_array(arr)
        t._data = arr
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        t._vc = [0]
        t._hooks = None
        t._base = None
        return t

    # -- basic properties ---------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        if self._bl:
            _normalize(self)
        t = Tensor._wrap(self._data)
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        if value._bl:
            _normalize(value)
        self._bl = False
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
        return self._vc[0]

    @property
    def dtype(self) -> _dt:
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def shape(self):
        from ember._size import Size

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
        if self._bl:
            _normalize(self)
        if self._data.size:
            st = tuple(s // self._data.itemsize for s in self._data.strides)
        else:  # NumPy gives empty arrays zero strides; torch gives them contiguous ones
            st = _contiguous_strides(self._data.shape)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def storage_offset(self) -> int:
        if self._bl:
            _normalize(self)
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
        if self._bl:
            _normalize(self)
        if type(self._data) is np.ndarray:
            return self._data.__array_interface__["data"][0]
        return int(self._data.data.ptr)

    def untyped_storage(self):
        if self._bl:
            _normalize(self)
        return _Storage(self)

    def is_contiguous(self, memory_format=None) -> bool:
        if self._bl:
            _normalize(self)
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
        from ember._repr import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __array__(self, dtype=None, copy=None):
        if self._bl:
            _normalize(self)
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
        new = type(self).__new__(type(self)) if type(self) is not Tensor else object.__new__(Tensor)
        _init(new, self._data.copy(), self._requires_grad)
        if type(self) is not Tensor:
            for k, v in getattr(self, "__dict__", {}).items():
                new.__dict__[k] = v
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    # -- conversion ---------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._bl:
            _normalize(self)
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
        if self._bl:
            _normalize(self)
        t = Tensor._wrap(self._data)
        t._vc = self._vc  # detach shares the version counter (torch), .data does not
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self, *, memory_format=None) -> Tensor:
        from ember.ops.pointwise import Clone

        return Clone.apply(self, memory_format=memory_format)

    def contiguous(self, memory_format=None) -> Tensor:
        if self._bl:
            _normalize(self)
        if self._data.flags.c_contiguous and memory_format in (None, contiguous_format, preserve_format):
            return self
        if memory_format is preserve_format:
            raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
        if is_format(self._data, memory_format):
            return self
        return self.clone(memory_format=memory_format or contiguous_format)

    def to(self, *args, **kwargs) -> Tensor:
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        fmt = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {list(kwargs)}")
        if fmt is not None and fmt is not preserve_format and not is_format(self._data, fmt):
            return self.clone(memory_format=fmt).to(*args, dtype=dtype, device=device, copy=False)
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (_dt, type)) or (hasattr(a, "is_floating_point") and not isinstance(a, str)):
                dtype = a
            elif isinstance(a, (str, _backend.device, int)):
                device = a
            elif a is not None:
                dtype = a
        from ember.ops.pointwise import ToCopy

        dt = None if dtype is None else _dtype.to_dtype(dtype)
        dev = None if device is None else _backend.to_device(device)
        if (dt is None or dt is self.dtype) and (dev is None or dev == self.device) and not copy:
            return self
        return ToCopy.apply(self, dt, dev)

    def type(self, dtype=None, **kwargs):
        if dtype is None:
            return _type_name(self)
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            dtype = _LEGACY[dtype.split(".")[-1]]
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
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        if gradient is None and inputs is None and not create_graph and self._requires_grad:
            d = self._data
            if d.size == 1 and d.dtype.kind == "f" and self.grad_fn is not None:
                # the common `loss.backward()`: straight to the engine's single-root loop
                _run_simple(self.grad_fn, _one(d), bool(retain_graph), Tensor)
                return
        from ember.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            self.grad_fn.register_hook(hook)
            lst = self.grad_fn._hooks
        else:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            lst = self._hooks
        return _RemovableHandle(lst, hook)

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or getattr(self, "_retains", False):
            return
        import weakref

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
        self._vc[0] += 1

    def _check_inplace(self) -> None:
        if self._requires_grad and self.grad_fn is None and _G[0]:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")

    def _inplace(self, result: Tensor) -> Tensor:
        """Write an out-of-place `result` into this tensor's storage, as torch's in-place ops do:
        same memory (views see it), version bumped, history rebased onto result's node."""
        self._check_inplace()
        r = result._data
        if r.dtype != self._data.dtype:
            if _dtype.from_np(r.dtype)._cat > self.dtype._cat:
                raise RuntimeError(
                    f"result type {_short(r.dtype)} can't be cast to the desired output type "
                    f"{_short(self._data.dtype)}"
                )
        if r.shape != self._data.shape:
            try:
                np.broadcast_shapes(r.shape, self._data.shape) == self._data.shape or _raise()
            except ValueError:
                _raise_shape(r.shape, self._data.shape)
            if np.broadcast_shapes(r.shape, self._data.shape) != self._data.shape:
                _raise_shape(r.shape, self._data.shape)
        node = result.grad_fn
        if node is not None and node.saved:
            # the node may have saved our old storage: keep a copy of the original values
            saved = list(node.saved)
            for i, s in enumerate(saved):
                if s is self._data:
                    saved[i] = s.copy()
                    if node._versions is not None:
                        node._versions[i] = None
            node.saved = tuple(saved)
        if self._base is not None and node is not None:
            from ember.ops.index import rebase_view

            rebase_view(self, result)
        else:
            try:
                self._data[...] = r
            except ValueError:
                if not self._data.flags.writeable:
                    raise RuntimeError(
                        "unsupported operation: more than one element of the written-to tensor refers "
                        "to a single memory location. Please clone() the tensor before performing the "
                        "operation."
                    ) from None
                raise
            self._vc[0] += 1
            if node is not None:
                self.grad_fn = node
                self._requires_grad = True
        return self

    # -- in-place fills (no graph: torch records these as leaf-breaking writes) --------------
    def _fill(self, values) -> Tensor:
        self._check_inplace()
        self._data[...] = values
        self._vc[0] += 1
        if self.grad_fn is not None:
            self.grad_fn = None
            self._requires_grad = False
        return self

    def zero_(self) -> Tensor:
        return self._fill(0)

    def fill_(self, value) -> Tensor:
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise RuntimeError(
                    f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions."
                )
            value = value.item()
        return self._fill(value)

    def copy_(self, src, non_blocking: bool = False) -> Tensor:
        """Copy src into this tensor's storage (broadcast, dtype converted); differentiable."""
        if not isinstance(src, Tensor):
            src = Tensor._wrap(np.asarray(src))
        if (
            _bc_ok(src._data.shape, self._data.shape)
            and np.broadcast_shapes(src._data.shape, self._data.shape) == self._data.shape
        ):
            pass
        else:
            raise RuntimeError(
                f"The size of tensor a ({self._data.shape[-1] if self._data.ndim else 1}) must match the size of "
                f"tensor b ({src._data.shape[-1] if src._data.ndim else 1}) at non-singleton dimension {max(self._data.ndim - 1, 0)}"
            )
        if _G[0] and src._requires_grad:
            from ember.ops.pointwise import ToCopy

            moved = (
                ToCopy.apply(src, self.dtype, self.device)
                if (src.dtype is not self.dtype or src.device != self.device)
                else src
            )
            from ember.ops.arith import add

            res = add(moved * 1, self.detach() * 0) if moved._data.shape != self._data.shape else moved * 1
            return self._inplace(res)
        self._check_inplace()
        data = src._data
        if _backend.device_of(data) != self.device:
            data = _backend.to_numpy(data) if self.device.type == "cpu" else _backend.cupy().asarray(data)
        self._data[...] = data
        self._vc[0] += 1
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        from ember.random import rng

        return self._fill(rng(generator).uniform(a, b, self._data.shape).astype(self._data.dtype))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        from ember.random import rng

        return self._fill(rng(generator).normal(mean, std, self._data.shape).astype(self._data.dtype))

    def bernoulli_(self, p: float = 0.5, *, generator=None) -> Tensor:
        from ember.random import rng

        return self._fill((rng(generator).random(self._data.shape) < p).astype(self._data.dtype))

    def exponential_(self, lambd: float = 1.0, *, generator=None) -> Tensor:
        from ember.random import rng

        return self._fill(rng(generator).exponential(1.0 / lambd, self._data.shape).astype(self._data.dtype))

    def random_(self, low: int = 0, high: int | None = None, *, generator=None) -> Tensor:
        from ember.random import rng

        if high is None:
            low, high = 0, low if low else 2**24
        return self._fill(rng(generator).integers(low, high, self._data.shape).astype(self._data.dtype))


_ONES: dict = {}


def _one(d):
    """A shared read-only 1 of d's shape and dtype (backward never writes into its input grad)."""
    key = (d.dtype, d.shape, type(d))
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = _backend.of(d).ones(d.shape, dtype=d.dtype)  # not d*0+1: NaN*0 is NaN
        if type(one) is np.ndarray:
            one.flags.writeable = False
        else:
            one = _ONES[key] = _as_array(one)
    return one


def _short(npdt) -> str:
    return {
        "float32": "Float",
        "float64": "Double",
        "int64": "Long",
        "bool": "Bool",
        "int32": "Int",
        "float16": "Half",
        "uint8": "Byte",
    }.get(np.dtype(npdt).name, str(npdt))


def _raise():
    raise ValueError


def _raise_shape(a, b):
    raise RuntimeError(
        f"output with shape {list(b)} doesn't match the broadcast shape {list(np.broadcast_shapes(a, b)) if _bc_ok(a, b) else list(a)}"
    )


def _bc_ok(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


_LEGACY = {
    "FloatTensor": _dtype.float32,
    "DoubleTensor": _dtype.float64,
    "LongTensor": _dtype.int64,
    "IntTensor": _dtype.int32,
    "ByteTensor": _dtype.uint8,
    "BoolTensor": _dtype.bool_,
    "HalfTensor": _dtype.float16,
    "ShortTensor": _dtype.int16,
    "CharTensor": _dtype.int8,
}


def _type_name(t: Tensor) -> str:
    inv = {v.name: k for k, v in _LEGACY.items()}
    prefix = "torch.cuda." if t.is_cuda else "torch."
    return prefix + inv.get(t.dtype.name, "FloatTensor")


class _RemovableHandle:
    def __init__(self, lst, item) -> None:
        self._lst, self._item = lst, item

    def remove(self) -> None:
        if self._item in self._lst:
            self._lst.remove(self._item)


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


def _normalize(t: Tensor) -> None:
    from ember.autograd.function import normalize

    normalize(t)


def _init(t: Tensor, data, requires_grad: bool) -> None:
    t._data = data
    t._requires_grad = requires_grad
    t.grad = None
    t.grad_fn = None
    t._vc = [0]
    t._hooks = None
    t._base = None


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


def _link() -> None:
    global _run_simple
    from ember.autograd import engine, function

    function.Tensor = Tensor
    function._wrap = Tensor._wrap
    function._as_array = _as_array
    engine.Tensor = Tensor
    _run_simple = engine._run_simple


_link()
