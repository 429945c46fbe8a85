"""LocalResponseNorm (torch.nn.LocalResponseNorm, AlexNet's cross-channel normalisation)."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.nn import functional_vision as F
from ember.nn.modules.module import Module

__all__ = ["LocalResponseNorm"]


class LocalResponseNorm(Module):
    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
