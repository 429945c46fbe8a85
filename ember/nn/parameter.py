"""nn.Parameter: a Tensor that a Module registers as a learnable parameter."""

from __future__ import annotations

import sys

from ember import _backend, _pickle_safe
from ember._tensor import Tensor, _set_fields
from ember.creation import empty


class Parameter(Tensor):
    """torch.nn.Parameter(data=None, requires_grad=True): shares `data`'s storage."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        self = object.__new__(cls)
        if data is None:
            data = empty(0)
        if requires_grad and not (data.dtype.is_floating_point or data.dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        _set_fields(self, data._data, bool(requires_grad), None)
        return self

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (_backend.to_numpy(self._data), self._requires_grad))


def _rebuild_parameter(arr, requires_grad: bool) -> Parameter:
    import numpy as np

    return Parameter(Tensor._wrap(np.array(arr)), requires_grad)


class Buffer(Tensor):
    """torch.nn.Buffer(data, persistent=True): marks a tensor to be registered as a buffer."""

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        self = object.__new__(cls)
        _set_fields(self, data._data, data._requires_grad, None)
        self.__dict__["persistent"] = persistent
        return self

    def __init__(self, data: Tensor, *, persistent: bool = True) -> None:
        pass


# -- lazy tensors (torch.nn.parameter.UninitializedTensorMixin) ----------------------------------
_DATA_SLOT = Tensor.__dict__["_data"]  # the slot the mixin's `_data` property shadows


def _uninitialized_use(t, what: str) -> ValueError:
    return ValueError(
        f"Attempted to use an uninitialized parameter in {what}. "
        "This error happens when you are using a `LazyModule` or "
        f"explicitly manipulating `torch.nn.parameter.{type(t).__name__}` "
        "objects. When using LazyModules Call `forward` with a dummy batch "
        "to initialize the parameters before calling torch functions"
    )


def _raw_data(t):
    return _DATA_SLOT.__get__(t, type(t))


def _get_data(t):
    # torch refuses every function but a few (its __torch_function__); here every use of the
    # storage (`_data`, which all ops and methods read) raises, and the allowed methods below read
    # the slot directly. `what` names the ember function that touched it.
    code = sys._getframe(1).f_code
    raise _uninitialized_use(t, f"<function {code.co_qualname}>")


def _set_data(t, value) -> None:
    _DATA_SLOT.__set__(t, value)


def _plain(t) -> Tensor:
    """A plain tensor on the (empty) storage, for the methods torch allows on lazy tensors."""
    w = Tensor._wrap(_raw_data(t))
    w._requires_grad = t._requires_grad
    return w


def _allowed(name: str):
    def method(self, *args, **kwargs):
        out = getattr(_plain(self), name)(*args, **kwargs)
        return self if isinstance(out, Tensor) and _raw_data(out) is _raw_data(self) else out

    method.__name__ = name
    return method


def _allowed_property(name: str):
    return property(lambda self: getattr(_plain(self), name))


class UninitializedTensorMixin:
    """A parameter or buffer whose shape is not known yet (torch.nn.parameter.UninitializedTensorMixin).

    Only a few methods work on it (size, dtype and device moves, copy_, the properties other than
    `shape`); any other use raises torch's ValueError. `materialize(shape)` gives it storage of
    that shape in place and turns it into `cls_to_become` (Parameter / Tensor)."""

    __slots__ = ()
    cls_to_become: type

    _data = property(_get_data, _set_data)

    def materialize(self, shape, device=None, dtype=None) -> None:
        raw = _raw_data(self)
        if device is None:
            device = _backend.device_of(raw)
        if dtype is None:
            dtype = _plain(self).dtype
        _set_data(self, empty(shape, device=device, dtype=dtype)._data)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        # torch: a torch function given a lazy tensor raises the ValueError (its __torch_function__),
        # reading `.shape` in Python code (the user's, or nn.Module's) the RuntimeError
        caller = sys._getframe(1)
        name = caller.f_globals.get("__name__", "")
        if name.startswith("ember.") and not name.startswith("ember.nn.modules."):
            raise _uninitialized_use(self, f"<function {caller.f_code.co_qualname}>")
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. "
            "This error usually happens in `load_state_dict` when trying to load "
            "an uninitialized parameter into an initialized one. "
            "Call `forward` to initialize the parameters before accessing their attributes."
        )

    def share_memory_(self):
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. "
            "Call `forward` to initialize the parameters before calling "
            "`module.share_memory()`."
        )

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (self.__class__, (self.requires_grad,))

    @property
    def data(self) -> Tensor:
        return Tensor._wrap(_raw_data(self))

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        _set_data(self, value.data._data)

    def __len__(self) -> int:
        raise _uninitialized_use(self, "<function Tensor.__len__>")

    def requires_grad_(self, requires_grad: bool = True):
        raise _uninitialized_use(self, "<method 'requires_grad_'>")  # torch (the property setter works)

    for _name in (
        "size",
        "copy_",
        "is_complex",
        "is_floating_point",
        "half",
        "float",
        "double",
        "char",
        "short",
        "int",
        "long",
        "cuda",
        "cpu",
        "to",
        "get_device",
    ):
        locals()[_name] = _allowed(_name)
    for _name in ("dtype", "device", "ndim"):
        locals()[_name] = _allowed_property(_name)
    del _name


def is_lazy(param) -> bool:
    """Whether `param` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is unknown until its lazy module's first forward."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        self = object.__new__(cls)
        _set_fields(self, empty(0, device=device, dtype=dtype)._data, bool(requires_grad), None)
        return self

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.device, self.dtype)
        memo[id(self)] = result
        return result


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is unknown until its lazy module's first forward.

    A Buffer subclass, so that assigning one to a module attribute registers it (torch flags it
    `_is_buffer` for its Buffer instance check; a subclass costs plain isinstance checks nothing)."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None, persistent: bool = True):
        self = object.__new__(cls)
        _set_fields(self, empty(0, device=device, dtype=dtype)._data, bool(requires_grad), None)
        self.__dict__["persistent"] = persistent
        self.__dict__["_is_buffer"] = True
        return self

    def __init__(self, requires_grad: bool = False, device=None, dtype=None, persistent: bool = True) -> None:
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.device, self.dtype)
        memo[id(self)] = result
        return result


_pickle_safe.parameter_class[0] = Parameter  # so ember.load rebuilds torch._utils._rebuild_parameter as one
