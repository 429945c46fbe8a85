"""torch.linalg: solve, inv, det, svd, norms, cross, ..."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.creation import eye, from_numpy, zeros_like
from ember.graph.node import Function
from ember.ops import linalg as _L
from ember.ops._util import norm_dim
from ember.ops.arith import abs as abs_
from ember.ops.arith import where
from ember.ops.cholesky import cholesky, solve_triangular  # noqa: F401
from ember.ops.decompositions import eigh, eigvalsh, qr, slogdet  # noqa: F401
from ember.ops.householder import householder_product  # noqa: F401
from ember.ops.linalg import LinAlgError, matmul, solve  # noqa: F401
from ember.ops.shape import movedim


def inv(A, *, out=None):
    return _L.inverse(A, out=out)


def det(A, *, out=None):
    return _L._out(_L.det(A), out, "linalg_det")


def svd(A, full_matrices: bool = True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh."""
    return _L.svd_packed(A, full_matrices)


def svdvals(A, *, driver=None, out=None):
    return _L.svd_packed(A, False)[1]


def cross(input, other, *, dim: int = -1, out=None):
    return _L._out(_L.linalg_cross(input, other, dim=dim), out, "linalg_cross")


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1):
    return _L.diagonal(A, offset, dim1, dim2)


class Norm2(Function):
    # ||x||_2 = sqrt(sum x^2);  d||x|| = x / ||x|| (0 where ||x|| = 0, as torch)
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        xp = of(x)
        out = xp.sqrt(xp.sum(x * x, axis=dims, keepdims=True))
        ctx.save_for_backward(x, out)
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(out.shape) if i not in dims))

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved
        xp = of(g)
        g = g.reshape(tuple(n.shape))
        safe = xp.where(n == 0, 1, n)
        return xp.where(n == 0, 0, g * x / safe), None, None


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None):
    if dtype is not None:
        x = x.to(dtype)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_L._short(x.dtype)}"
        )
    dims = tuple(range(x.ndim)) if dim is None else norm_dim(dim, x.ndim)
    if x.ndim == 0:
        dims = ()
    if ord == 2:
        res = Norm2.apply(x, dims, keepdim)
    elif ord == float("inf"):
        res = abs_(x).amax(dim=dims, keepdim=keepdim) if dims else abs_(x)
    elif ord == -float("inf"):
        res = abs_(x).amin(dim=dims, keepdim=keepdim) if dims else abs_(x)
    elif ord == 0:
        res = (x != 0).to(x.dtype).sum(dim=dims, keepdim=keepdim)
    elif ord == 1:
        res = abs_(x).sum(dim=dims, keepdim=keepdim)
    else:
        res = (abs_(x) ** ord).sum(dim=dims, keepdim=keepdim) ** (1.0 / ord)
    return _L._out(res, out, "linalg_vector_norm")


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None):
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    d = norm_dim(dim, A.ndim)
    if ord == "fro":
        return vector_norm(A, 2, d, keepdim, dtype=dtype, out=out)
    if ord == "nuc":
        s = svdvals(movedim(A, tuple(d), (-2, -1)))
        res = s.sum(-1)
    elif ord in (1, -1, float("inf"), -float("inf")):
        red, keep = (d[0], d[1]) if ord in (1, -1) else (d[1], d[0])
        sums = abs_(A).sum(dim=red, keepdim=True)
        res = sums.amax(dim=keep, keepdim=True) if ord > 0 else sums.amin(dim=keep, keepdim=True)
        res = res.squeeze(d) if not keepdim else res
        return _L._out(res, out, "linalg_matrix_norm")
    elif ord in (2, -2):
        s = svdvals(movedim(A, tuple(d), (-2, -1)))
        res = s.amax(-1) if ord == 2 else s.amin(-1)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        res = res.unsqueeze(d[0]).unsqueeze(d[1])
    return _L._out(res, out, "linalg_matrix_norm")


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None, out=None):
    """linalg.norm: vector 2-norm of the flattened input by default, matrix norms when ord is
    a matrix order or dim has two entries."""
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype, out=out)
    if dim is None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
        raise RuntimeError(
            f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D."
        )
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype, out=out)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype, out=out)


def multi_dot(tensors, *, out=None):
    res = tensors[0]
    for t in tensors[1:]:
        res = matmul(res, t)
    return _L._out(res, out, "linalg_multi_dot")


def matrix_power(A, n: int):
    if n < 0:
        return matrix_power(inv(A), -n)
    res = eye(A.shape[-1], dtype=A.dtype).expand(*A.shape) * 1 if n == 0 else A
    for _ in range(max(n - 1, 0)):
        res = matmul(res, A)
    return res


def pinv(A, *, rtol=None, hermitian: bool = False):
    u, s, vh = svd(A, full_matrices=False)
    xp = of(s._data)
    cutoff = (rtol if rtol is not None else max(A.shape[-2:]) * np.finfo(s._data.dtype).eps) * s._data.max(
        -1, keepdims=True
    )
    sinv = where(from_numpy(xp.asarray(s._data > cutoff)), 1 / s, zeros_like(s))
    return matmul(vh.mT * sinv.unsqueeze(-2), u.mT)


def vecdot(x, y, *, dim: int = -1, out=None):
    """sum(conj(x) * y) along dim (broadcasting)."""
    return ((x.conj() if x.dtype.is_complex else x) * y).sum(dim)


def vander(x, *, N=None):
    """Columns x^0, x^1, ..., x^(N-1) (increasing powers) along a new last dim."""
    n = x.shape[-1] if N is None else N
    if n <= 1 and N is not None and N < 1:
        raise RuntimeError("N must be greater than 1.")
    powers = from_numpy(np.arange(n, dtype=x.dtype.np if x.dtype.is_floating_point else np.int64))
    return x.unsqueeze(-1) ** powers


def matrix_rank(A, *, atol=None, rtol=None, hermitian: bool = False, tol=None, out=None):
    """Number of singular values above max(atol, rtol * s_max) (rtol defaults to eps * max(m, n))."""
    s = svdvals(A)._data
    smax = s.max(-1) if s.shape[-1] else np.zeros(s.shape[:-1], s.dtype)
    if tol is not None:
        atol = tol
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(s.dtype).eps * max(A.shape[-2:])
    thresh = np.maximum(0.0 if atol is None else atol, rtol * smax)
    return from_numpy(np.asarray((s > np.expand_dims(thresh, -1)).sum(-1), dtype=np.int64))


def cond(A, p=None, *, out=None):
    """Condition number: s_max / s_min for p in (None, 2), s_min / s_max for -2, else
    norm(A, p) * norm(inv(A), p)."""
    if p in (None, 2, -2):
        s = svdvals(A)
        hi, lo = s.amax(-1), s.amin(-1)
        return hi / lo if p != -2 else lo / hi
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) of min ||A X - B||: the solution through the
    pseudo-inverse (differentiable); residuals for full-rank tall A with drivers other than
    'gelsy', rank and singular values as torch's CPU drivers report them."""
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(
            f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), but got {driver}"
        )
    vec = B.ndim == A.ndim - 1
    b2 = B.unsqueeze(-1) if vec else B
    if A.shape[-2] != b2.shape[-2]:
        raise RuntimeError(
            f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), but got {A.shape[-2]} and {b2.shape[-2]}"
        )
    x = matmul(pinv(A, rtol=rcond), b2)
    d = driver or "gelsy"
    m, n = A.shape[-2:]
    rank = matrix_rank(A) if d != "gels" else from_numpy(np.zeros((0,), np.int64))
    sv = svdvals(A).detach() if d in ("gelsd", "gelss") else from_numpy(np.zeros((0,), A.dtype.np))
    if m > n and d != "gelsy" and bool((rank._data == n).all()):
        res = ((matmul(A, x) - b2) ** 2).sum(-2)
    else:
        res = from_numpy(np.zeros((0,), A.dtype.np))
    return _LstsqResult(x.squeeze(-1) if vec else x, res, rank, sv)


# -- torch's top-level spellings (torch.qr, torch.pinverse, ...), exported by ember/__init__.py --
def torch_qr(input, some: bool = True, *, out=None):
    """torch.qr: reduced (some=True) or complete (Q, R)."""
    return qr(input, "reduced" if some else "complete")


def pinverse(input, rcond: float = 1e-15):
    """torch.pinverse: pinv with singular values below rcond * s_max dropped."""
    return pinv(input, rtol=rcond)


def chain_matmul(*matrices, out=None):
    """torch.chain_matmul (deprecated in torch for linalg.multi_dot): the product of 2-d tensors."""
    return multi_dot(list(matrices))


def torch_vander(x, N=None, increasing: bool = False):
    """torch.vander: powers x^(N-1) ... x^0 (or increasing) of a 1-d tensor, as columns."""
    v = vander(x, N=N)
    return v if increasing else v.flip(-1)


class _LstsqResult(tuple):
    def __new__(cls, solution, residuals, rank, singular_values):
        return tuple.__new__(cls, (solution, residuals, rank, singular_values))

    solution = property(lambda self: self[0])
    residuals = property(lambda self: self[1])
    rank = property(lambda self: self[2])
    singular_values = property(lambda self: self[3])


__all__ = [
    "LinAlgError",
    "slogdet",
    "eigh",
    "eigvalsh",
    "qr",
    "vecdot",
    "vander",
    "matrix_rank",
    "cond",
    "lstsq",
    "inv",
    "det",
    "svd",
    "svdvals",
    "solve",
    "norm",
    "vector_norm",
    "matrix_norm",
    "cross",
    "matmul",
    "diagonal",
    "multi_dot",
    "matrix_power",
    "pinv",
    "householder_product",
]
