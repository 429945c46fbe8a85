"""In-place writes into a tensor's storage (bound as Tensor methods by ember._methods): the
leaf check, writing an out-of-place result back (`Tensor._inplace`), and the fills."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._tensor import Tensor
from ember.graph.grad_mode import _state as _grad_enabled
from ember.ops.index import rebase_view


def check_inplace(self: Tensor) -> None:
    if self._requires_grad and self.grad_fn is None and _grad_enabled[0]:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def write_inplace(self: Tensor, result: Tensor) -> Tensor:
    """Write an out-of-place `result` into this tensor's storage, as torch's in-place ops do:
    same memory (views see it), version bumped, history rebased onto result's node."""
    check_inplace(self)
    r = result._data
    if r.dtype != self._data.dtype and _dtype.from_np(r.dtype)._cat > self.dtype._cat:
        raise RuntimeError(
            f"result type {result.dtype.scalar_name} can't be cast to the desired output type "
            f"{self.dtype.scalar_name}"
        )
    if r.shape != self._data.shape and broadcast_shape(r.shape, self._data.shape) != self._data.shape:
        shown = broadcast_shape(r.shape, self._data.shape) or r.shape
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape {list(shown)}"
        )
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
        rebase_view(self, result)
        return self
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
    self._bump()
    if node is not None:
        self.grad_fn = node
        self._requires_grad = True
    return self


def broadcast_shape(a: tuple, b: tuple) -> tuple | None:
    """np.broadcast_shapes, or None when the shapes do not broadcast."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


# -- fills (no graph: torch records these as leaf-breaking writes) -----------------------------
def fill_values(self: Tensor, values) -> Tensor:
    check_inplace(self)
    self._data[...] = values
    self._bump()
    if self.grad_fn is not None:
        self.grad_fn = None
        self._requires_grad = False
    return self


def zero_(self: Tensor) -> Tensor:
    return fill_values(self, 0)


def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions."
            )
        value = value.item()
    return fill_values(self, value)


def zero_grads(tensors, set_to_none: bool = True) -> None:
    """Module.zero_grad / Optimizer.zero_grad: drop each tensor's .grad, or zero it in place
    (detached from any graph, version bumped)."""
    for p in tensors:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
            continue
        if g.grad_fn is not None:
            g.detach_()
        else:
            g._requires_grad = False
        g._data[...] = 0
        g._bump()
