"""Cholesky factorisation and triangular solves with their gradients (for MultivariateNormal)."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import unbroadcast
from ember.ops.linalg import LinAlgError, _square


def _mT(x):
    return x.swapaxes(-1, -2)


def _tri_solve(xp, a, b, upper: bool):
    """A X = B for triangular A (raw arrays, batched): LAPACK's general solver on tril/triu(A)."""
    t = xp.triu(a) if upper else xp.tril(a)
    return xp.linalg.solve(t, b)


def _not_pd(a: np.ndarray) -> LinAlgError:
    """torch's message: which batch element and which leading minor failed."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for b, m in enumerate(flat):
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                where = f"(Batch element {b}): " if a.ndim > 2 else ""
                return LinAlgError(
                    f"linalg.cholesky: {where}The factorization could not be completed because the input is not "
                    f"positive-definite (the leading minor of order {k} is not positive-definite)."
                )
    return LinAlgError("linalg.cholesky: The factorization could not be completed.")


class Cholesky(Function):
    # A = L L^T;  gA = L^-T [Phi(L^T gL)]_sym L^-1  (torch's cholesky_backward)
    @staticmethod
    def forward(ctx, a, upper):
        xp = of(a)
        try:
            lo = xp.linalg.cholesky(a)
        except Exception:
            raise _not_pd(np.asarray(a.get() if xp is not np else a)) from None
        if xp is not np and bool(xp.isnan(lo).any()):  # CuPy reports failure as NaNs
            raise _not_pd(a.get())
        ctx.save_for_backward(lo)
        ctx.upper = upper
        return _mT(lo).copy() if upper else lo

    @staticmethod
    def backward(ctx, g):
        lo = ctx.saved[0]
        xp = of(lo)
        if ctx.upper:
            g = _mT(g)
        ga = xp.tril(_mT(lo) @ g)
        ga = 0.5 * (ga + _mT(xp.tril(ga, -1)))
        ga = _tri_solve(xp, _mT(lo), ga, upper=True)
        ga = _mT(_tri_solve(xp, _mT(lo), _mT(ga), upper=True))  # right-solve X L = ga
        return ga, None


class SolveTriangular(Function):
    # X = A^-1 B (A triangular);  gB = A^-T G,  gA = -tri(gB X^T)
    @staticmethod
    def forward(ctx, a, b, upper, unitriangular):
        xp = of(a)
        if unitriangular:
            a = a.copy()
            idx = xp.arange(a.shape[-1])
            a[..., idx, idx] = 1
        x = _tri_solve(xp, a, b, upper)
        ctx.save_for_backward(a, x)
        ctx.flags = (upper, unitriangular, a.shape, b.shape)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved
        upper, unit, ashape, bshape = ctx.flags
        xp = of(g)
        gb = _tri_solve(xp, _mT(a), g, upper=not upper)
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -(gb @ _mT(x))
            ga = xp.triu(ga, 1 if unit else 0) if upper else xp.tril(ga, -1 if unit else 0)
            ga = unbroadcast(ga, tuple(ashape))
        return ga, unbroadcast(gb, tuple(bshape)) if ctx.needs_input_grad[1] else None, None, None


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """torch.linalg.cholesky: L with A = L L^H (U = L^H with upper=True)."""
    _square(A, "linalg.cholesky")
    return Cholesky.apply(A, upper)


def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False, out=None
) -> Tensor:
    """torch.linalg.solve_triangular: X with A X = B (X A = B with left=False), A triangular."""
    _square(A, "linalg.solve_triangular")
    if A.dtype != B.dtype:
        raise RuntimeError(
            "linalg.solve_triangular: Expected A and B to have the same dtype, but found A of type "
            f"{str(A.dtype).removeprefix('torch.')} and B of type {str(B.dtype).removeprefix('torch.')} instead"
        )
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    rows = B.shape[-2] if left else B.shape[-1]
    if rows != A.shape[-1]:
        b = f"{B.shape[-2]}x{B.shape[-1]}"
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"linalg.solve_triangular: Incompatible shapes of A and B for the equation {eq} "
            f"({A.shape[-2]}x{A.shape[-1]} and {b})"
        )
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return SolveTriangular.apply(A.mT, B.mT, not upper, unitriangular).mT
    shape = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    A = A.expand(*shape, *A.shape[-2:]) if tuple(A.shape[:-2]) != shape else A
    B = B.expand(*shape, *B.shape[-2:]) if tuple(B.shape[:-2]) != shape else B
    return SolveTriangular.apply(A, B, upper, unitriangular)
