"""torch.nn.utils.parametrizations: weight_norm, spectral_norm and orthogonal, as
parametrizations (after torch/nn/utils/parametrizations.py; same buffers, keys and maps)."""

from __future__ import annotations

import math
from enum import Enum, auto

import numpy as np

import ember
import ember.nn.functional as F
from ember import Tensor
from ember.nn.modules.module import Module
from ember.nn.utils import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


# -- weight_norm ------------------------------------------------------------------------------
def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """||v||_2 over every dim but `dim` (kept as size-1 dims); the whole norm for dim=-1."""
    if dim == -1:
        return v.norm(2)
    dims = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(dim=dims, keepdim=True).sqrt()


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        # w = g v / ||v||  (torch._weight_norm)
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize `name` as g * v / ||v|| (originals: original0 = g, original1 = v)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


# -- spectral_norm ----------------------------------------------------------------------------
class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        # u <- W v / ||W v||,  v <- W^T u / ||W^T u||, in place in the buffers
        with ember.no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(ember.mv(weight_mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(ember.mv(weight_mat.t(), self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = ember.vdot(u, ember.mv(weight_mat, v))  # sigma = u^T W v
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide `name` by its largest singular value, estimated by power iteration in training."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        # transposed convolutions keep output channels in dim 1 (ember may not have them yet)
        transposed = tuple(getattr(ember.nn, f"ConvTranspose{d}d", None) for d in (1, 2, 3))
        dim = 1 if isinstance(module, tuple(c for c in transposed if c is not None)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


# -- orthogonal -------------------------------------------------------------------------------
def _eye_like(n: int, k: int, like: Tensor) -> Tensor:
    return ember.eye(n, k, dtype=like.dtype)


def _matrix_exp(a: Tensor) -> Tensor:
    """exp(A) by scaling and squaring with a degree-18 Taylor polynomial (differentiable composite)."""
    norm = float(np.abs(a.detach().numpy()).sum(-2).max()) if a.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0.5 else 0
    b = a / (2.0**s)
    n = a.shape[-1]
    eye = _eye_like(n, n, a)
    out = eye
    for k in range(18, 0, -1):  # Horner: I + B/1 (I + B/2 (I + ...))
        out = eye + (b @ out) / k
    for _ in range(s):
        out = out @ out
    return out


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eye = _eye_like(k, k, q)
    eps = 10.0 * n * float(np.finfo(q.dtype.np).eps)
    return ember.allclose(q.transpose(-1, -2) @ q, eye, atol=eps)


def _make_orthogonal(a: Tensor) -> Tensor:
    """Q of A = QR (A tall) with diag(R) >= 0, as torch (LAPACK geqrf + orgqr)."""
    q, r = np.linalg.qr(a.detach().numpy())
    sign = np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    return ember.from_numpy(np.ascontiguousarray(q * sign).astype(a.dtype.np))


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    base: Tensor

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.transpose(-1, -2)
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            x = x.tril()
            if n != k:
                x = ember.cat([x, x.new_zeros(n, n - k).expand(*x.shape[:-2], -1, -1)], dim=-1)
            a = x - x.transpose(-1, -2)  # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                q = _matrix_exp(a)
            else:  # Cayley: (I - A/2)^-1 (I + A/2)
                eye = _eye_like(n, n, a)
                q = ember.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            q = ember.linalg.householder_product(a, tau)
            q = q * x.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if hasattr(self, "base"):
            q = self.base @ q
        if transposed:
            q = q.transpose(-1, -2)
        return q

    def right_inverse(self, q: Tensor) -> Tensor:
        with ember.no_grad():
            if q.shape != self.shape:
                raise ValueError(
                    f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {q.shape}."
                )
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            transpose = n < k
            if transpose:
                q = q.transpose(-1, -2)
                n, k = k, n
            if not hasattr(self, "base"):
                # without trivialization only householder inverts its map: X = geqrf(Q)'s reflectors,
                # its diagonal the signs of R's (flipped where LAPACK skipped the reflection, tau == 0)
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley parametrizations "
                        "when use_trivialization=False."
                    )
                a, tau = ember.geqrf(q)
                arr = a.numpy().copy()
                d = np.sign(np.diagonal(arr, axis1=-2, axis2=-1)).copy()
                d[tau.numpy() == 0.0] *= -1
                k_ = d.shape[-1]
                arr[..., np.arange(k_), np.arange(k_)] = d
                a = ember.from_numpy(arr)
                return a.transpose(-1, -2) if transpose else a
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:
                noise = ember.randn(*(tuple(q.shape[:-2]) + (n, n - k)), dtype=q.dtype)
                q = _make_orthogonal(ember.cat([q, noise], dim=-1))
            self.base = q
            neg_id = ember.zeros_like(q_init)
            neg_id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_id


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Keep `name` orthogonal (orthonormal columns, or rows when wide) through a map of an
    unconstrained matrix: "matrix_exp", "cayley" or "householder"."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError(
            f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
