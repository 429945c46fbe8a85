"""Flatten parameters into one vector and back."""

from __future__ import annotations

from collections.abc import Iterable

import ember
from ember._tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the flattened parameters (differentiable, as torch)."""
    return ember.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters' data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = (
            vec[pointer : pointer + n].view_as(p).data
            if hasattr(vec, "view_as")
            else vec[pointer : pointer + n].reshape(tuple(p.shape)).data
        )
        pointer += n
