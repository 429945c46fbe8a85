"""torch.distributions.Multinomial."""

from __future__ import annotations

import numpy as np

import ember
from ember._size import Size
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.binomial import Binomial
from ember.distributions.categorical import Categorical, _draw_indices
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all
from ember.ops.special import lgamma

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """Counts of total_count draws from a Categorical(probs / logits)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def __init__(
        self,
        total_count: int = 1,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def param_shape(self) -> Size:
        return self._categorical.param_shape

    def sample(self, sample_shape=Size()):
        sample_shape = Size(sample_shape)
        k = self._categorical._num_events
        probs_2d = self._categorical.probs.reshape(-1, k)
        n = self.total_count * sample_shape.numel()
        idx = _draw_indices(probs_2d, n)  # (rows, total_count * samples)
        rows = probs_2d.shape[0]
        counts = np.zeros((rows, sample_shape.numel(), k))
        per = idx.reshape(rows, sample_shape.numel(), self.total_count)
        for j in range(k):
            counts[..., j] = (per == j).sum(-1)
        counts = np.moveaxis(counts, 1, 0)  # (samples, rows, k)
        out = ember.tensor(np.ascontiguousarray(counts), dtype=self.probs.dtype, device=self.probs.device)
        return out.reshape(tuple(self._extended_shape(sample_shape)))

    def entropy(self):
        n = ember.tensor(self.total_count)  # an int64 tensor: lgamma(n + 1) is float32, as torch's
        cat_entropy = self._categorical.entropy()
        term1 = n * cat_entropy - lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = ember.exp(self._binomial.log_prob(support))
        weights = lgamma(support + 1)
        term2 = (binomial_probs * weights).sum([0, -1])
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = lgamma(value.sum(-1) + 1)
        log_factorial_xs = lgamma(value + 1).sum(-1)
        logits = ember.where((value == 0) & (logits == float("-inf")), 0.0, logits)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers
