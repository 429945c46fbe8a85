"""nn.Parameter: a Tensor that a Module registers as a learnable parameter."""

from __future__ import annotations

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


class UninitializedParameter(Parameter):
    pass


_pickle_safe.parameter_class[0] = Parameter  # so ember.load rebuilds torch._utils._rebuild_parameter as one
