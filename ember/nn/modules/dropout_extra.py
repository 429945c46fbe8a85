"""FeatureAlphaDropout (torch.nn.FeatureAlphaDropout)."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.nn import functional_vision as F
from ember.nn.modules.dropout import _DropoutNd

__all__ = ["FeatureAlphaDropout"]


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (for SELU networks)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
