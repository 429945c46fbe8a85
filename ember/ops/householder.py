"""torch.geqrf (LAPACK's QR in Householder form, through numpy.linalg.qr(mode="raw")) and
torch.linalg.householder_product (orgqr) as a differentiable composite."""

from __future__ import annotations

import numpy as np

from ember._backend import to_numpy
from ember._tensor import Tensor


class geqrf_result(tuple):  # noqa: N801  (torch.return_types.geqrf)
    def __new__(cls, a, tau):
        return tuple.__new__(cls, (a, tau))

    @property
    def a(self):
        return self[0]

    @property
    def tau(self):
        return self[1]

    def __repr__(self) -> str:
        return f"torch.return_types.geqrf(\na={self[0]!r},\ntau={self[1]!r})"


def geqrf(input: Tensor, *, out=None) -> geqrf_result:
    """(a, tau): R on and above a's diagonal, the Householder vectors v_i (implicit leading 1)
    below it, and the scalars tau_i, with input = H_1 ... H_k R, H_i = I - tau_i v_i v_i^T
    (LAPACK geqrf; not differentiable, as in torch)."""
    if input.ndim < 2:
        raise RuntimeError(f"torch.geqrf: input must have at least 2 dimensions. but got {input.ndim}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"\"geqrf_cpu\" not implemented for '{str(input.dtype).split('.')[-1].capitalize()}'"
        )
    x = to_numpy(input.detach()._data)
    if x.size == 0:
        k = min(x.shape[-2], x.shape[-1])
        a, tau = x.copy(), np.zeros(x.shape[:-2] + (k,), x.dtype)
    else:
        h, tau = np.linalg.qr(x, mode="raw")  # h is LAPACK's column-major result, transposed
        a = np.ascontiguousarray(np.swapaxes(h, -1, -2))
    res = geqrf_result(
        Tensor._wrap(a.astype(x.dtype, copy=False)), Tensor._wrap(tau.astype(x.dtype, copy=False))
    )
    if out is not None:
        for o, r in zip(out, res):
            o.resize_(r.shape).copy_(r)
        return geqrf_result(*out)
    return res


def householder_product(A: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """The first n columns of H_1 ... H_k (A: (*, m, n), m >= n; tau: (*, k), k <= n), with
    H_i = I - tau_i v_i v_i^T and v_i = (0, .., 0, 1, A[i+1:, i]) (LAPACK orgqr). A composite of
    differentiable ops: gradients reach tau and A's strictly lower triangle."""
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.householder_product: input must have at least 2 dimensions.")
    if A.is_complex() or tau.is_complex():
        raise NotImplementedError(
            "ember: torch.linalg.householder_product of complex tensors is not supported"
        )
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-2] must be greater than or equal to input.shape[-1]"
        )
    if tau.shape[-1] > n:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-1] must be greater than or equal to tau.shape[-1]"
        )
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(
            f"torch.linalg.householder_product: Expected tau to have one dimension less than input, but got "
            f"tau.ndim equal to {tau.ndim} and input.ndim is equal to {A.ndim}"
        )
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(
            "torch.linalg.householder_product: Expected batch dimensions of tau to be equal to input.shape[:-2]"
        )
    if tau.dtype != A.dtype:
        raise RuntimeError(
            "torch.linalg.householder_product: tau dtype "
            f"{str(tau.dtype).split('.')[-1].capitalize()} does not match input dtype "
            f"{str(A.dtype).split('.')[-1].capitalize()}"
        )
    dt = A._data.dtype
    v = A.tril(-1) + Tensor._wrap(np.eye(m, n, dtype=dt))  # reflector i: column i, unit diagonal
    q = Tensor._wrap(np.eye(m, dtype=dt)).expand(*A.shape[:-2], m, m)
    for i in range(tau.shape[-1]):  # Q <- Q H_i = Q - tau_i (Q v_i) v_i^T
        vi = v[..., :, i : i + 1]
        q = q - tau[..., i : i + 1].unsqueeze(-1) * ((q @ vi) @ vi.transpose(-1, -2))
    res = q[..., :, :n]
    if out is not None:
        out.resize_(res.shape).copy_(res.detach())
        return out
    return res


__all__ = ["geqrf", "householder_product"]
