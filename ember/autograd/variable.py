"""torch.autograd.Variable: the pre-0.4 wrapper, now a tensor constructor kept for old code.
`Variable(t, requires_grad=False)` is a new tensor sharing t's storage, detached from its graph;
`isinstance(t, Variable)` is True for every tensor, as in torch."""

from __future__ import annotations

import warnings

from ember.autograd import function  # function.Tensor is bound by ember._tensor at import
from ember.creation import empty


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, function.Tensor)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False):
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        if data is None:
            return empty(0).requires_grad_(requires_grad)
        if not isinstance(data, function.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
