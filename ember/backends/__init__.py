"""torch.backends: which compute backends exist and the flags that steer them, with torch's
defaults. ember's kernels are NumPy/BLAS (CPU) and CuPy (CUDA); see docs/backends.md for which
flags change ember's behaviour."""

from __future__ import annotations

from ember.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp, opt_einsum

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
