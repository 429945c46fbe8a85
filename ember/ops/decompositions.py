"""Decompositions of torch.linalg beyond SVD: slogdet, eigh / eigvalsh and qr (real inputs), each
one Function with its backward formula; multiple outputs travel packed in one array per batch
and are sliced into tensors (as ops/linalg.py's Svd)."""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops.linalg import _mT, _square

__all__ = ["slogdet", "eigh", "eigvalsh", "qr"]


class LogAbsDet(Function):
    # y = log |det A|;  gA = g inv(A)^T
    _name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = of(a)
        _, y = xp.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return xp.asarray(y).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through linalg.slogdet is not supported in ember")
        (a,) = ctx.saved
        xp = of(a)
        return xp.expand_dims(xp.expand_dims(g, -1), -1) * _mT(xp.linalg.inv(a))


def slogdet(A, *, out=None):
    """(sign, log|det A|) with a gradient through log|det A|."""
    _square(A, "linalg.slogdet")
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError(
            f"linalg.slogdet: Expected a floating point or complex tensor as input. Got {A.dtype.scalar_name}"
        )
    sign = Tensor._wrap(np.asarray(of(A._data).linalg.slogdet(A._data)[0]).astype(A.dtype.np))
    return _SlogdetResult(sign, LogAbsDet.apply(A))


class _SlogdetResult(tuple):
    def __new__(cls, sign, logabsdet):
        return tuple.__new__(cls, (sign, logabsdet))

    sign = property(lambda self: self[0])
    logabsdet = property(lambda self: self[1])


class Eigh(Function):
    # A = V diag(w) V^T (ascending w);  gA = V (diag(gw) + (V^T gV) / E) V^T with
    # E_ij = w_j - w_i off the diagonal (the diagonal of V^T gV / E is dropped)
    _name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, a, uplo):
        xp = of(a)
        w, v = xp.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        b = a.shape[:-2]
        return xp.concatenate([w, v.reshape(b + (-1,))], -1)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through linalg.eigh is not supported in ember")
        w, v = ctx.saved
        xp = of(w)
        n = w.shape[-1]
        gw, gv = g[..., :n], g[..., n:].reshape(v.shape)
        e = xp.expand_dims(w, -2) - xp.expand_dims(w, -1)
        eye = np.eye(n, dtype=bool)
        e = xp.where(eye, 1, e)
        inner = (_mT(v) @ gv) / e
        inner = xp.where(eye, 0, inner) + xp.expand_dims(gw, -1) * eye
        return v @ inner @ _mT(v), None


def _check_uplo(uplo: str, name: str):
    if uplo not in ("L", "U"):
        raise RuntimeError(f"{name}: Expected UPLO argument to be 'L' or 'U', but got {uplo}")


def eigh(A, UPLO: str = "L", *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix, from its UPLO triangle."""
    _square(A, "linalg.eigh")
    _check_uplo(UPLO, "linalg.eigh")
    if A.dtype.is_complex:
        raise NotImplementedError("linalg.eigh of complex matrices is not supported in ember")
    n = A.shape[-1]
    p = Eigh.apply(A, UPLO)
    return _EighResult(p[..., :n], p[..., n:].reshape(*A.shape))


class _EighResult(tuple):
    def __new__(cls, values, vectors):
        return tuple.__new__(cls, (values, vectors))

    eigenvalues = property(lambda self: self[0])
    eigenvectors = property(lambda self: self[1])


def eigvalsh(A, UPLO: str = "L", *, out=None):
    """Eigenvalues (ascending) of a symmetric matrix; the gradient is V diag(g) V^T."""
    return eigh(A, UPLO)[0]


class Qr(Function):
    # A = QR;  with qdq = Q^T gQ, rdr = R gR^T and L = tril(qdq - qdq^T + rdr - rdr^T):
    # gA = Q (gR + L R^-T) + (gQ - Q qdq) R^-T   (reduced, m >= n; or square R when m < n)
    _name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, a, mode):
        xp = of(a)
        q, r = xp.linalg.qr(a, mode=mode)
        ctx.save_for_backward(q, r)
        ctx.mode = mode
        b = a.shape[:-2]
        return xp.concatenate([q.reshape(b + (-1,)), r.reshape(b + (-1,))], -1)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through linalg.qr is not supported in ember")
        q, r = ctx.saved
        m, k = q.shape[-2:]
        n = r.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        if m < n:
            raise NotImplementedError("ember's linalg.qr backward supports m >= n only")
        gq = g[..., : q.size // max(int(np.prod(q.shape[:-2])), 1)].reshape(q.shape)
        gr = g[..., gq.shape[-1] * gq.shape[-2] :].reshape(r.shape)
        xp = of(q)
        qdq = _mT(q) @ gq
        rdr = r @ _mT(gr)
        low = xp.tril(qdq - _mT(qdq) + rdr - _mT(rdr))
        rinv_t = _mT(xp.linalg.inv(r))
        return q @ (gr + low @ rinv_t) + (gq - q @ qdq) @ rinv_t, None


def qr(A, mode: str = "reduced", *, out=None):
    """(Q, R) with A = QR: 'reduced' (k = min(m, n) columns), 'complete' (square Q), or 'r'
    (R only, Q empty)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        )
    m, n = A.shape[-2:]
    b = tuple(A.shape[:-2])
    if mode == "r":
        r = of(A._data).linalg.qr(A._data, mode="r")
        return _QrResult(Tensor._wrap(np.zeros((0,), A.dtype.np)), Tensor._wrap(np.asarray(r)))
    k = min(m, n) if mode == "reduced" else m
    p = Qr.apply(A, mode)
    q = p[..., : m * k].reshape(*b, m, k)
    r = p[..., m * k :].reshape(*b, k, n)
    return _QrResult(q, r)


class _QrResult(tuple):
    def __new__(cls, q, r):
        return tuple.__new__(cls, (q, r))

    Q = property(lambda self: self[0])
    R = property(lambda self: self[1])
