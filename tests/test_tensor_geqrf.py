"""Tensor.geqrf (the method of torch.geqrf) against torch."""

import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 4, 4)])
def test_geqrf_method(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    a, tau = ember.tensor(x).geqrf()
    ta, ttau = torch.tensor(x).geqrf()
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tau.numpy(), ttau.numpy(), rtol=1e-10, atol=1e-12)
    assert a.dtype == ember.float64 and type(ember.tensor(x).geqrf()).__name__ == "geqrf_result"
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.tensor(x[..., 0, 0]).reshape(-1)[0].geqrf()
