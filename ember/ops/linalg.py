"""Matrix products and linear algebra."""

from __future__ import annotations

from ember._backend import of
from ember.autograd.function import Function


def _same_dtype(a, b, what="m1 and m2"):
    if a.dtype != b.dtype:
        from ember._tensor import _short

        raise RuntimeError(
            f"expected {what} to have the same dtype, but got: {_short(a.dtype).lower()} != {_short(b.dtype).lower()}"
        )


class MatMul(Function):
    # d(A @ B) = dA @ B + A @ dB  ->  gA = G @ B^T, gB = A^T @ G (summed over broadcast batches)
    @staticmethod
    def forward(ctx, a, b):
        _same_dtype(a, b)
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        ctx.save_for_backward(a, b)
        try:
            return a @ b
        except ValueError:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({_mshape(a)} and {_mshape(b, True)})"
            ) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        xp = of(g)
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if n[0]:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = _sum_to(ga, a2.shape)
            ga = ga.reshape(a.shape)
        if n[1]:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            gb = _sum_to(gb, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def _sum_to(g, shape):
    from ember.ops._util import unbroadcast

    return unbroadcast(g, shape)


def _mshape(a, second=False):
    if a.ndim == 1:
        return f"1x{a.shape[0]}" if not second else f"{a.shape[0]}x1"
    return f"{a.shape[-2]}x{a.shape[-1]}"


def matmul(input, other, *, out=None):
    """torch.matmul"""
    res = MatMul.apply(input, other)
    if out is not None:
        from ember.ops.out import write_out

        return write_out(out, res)
    return res


__all__ = ["matmul"]
