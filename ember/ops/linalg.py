"""Matrix products and linear algebra (torch.* names; torch.linalg lives in ember/linalg.py)."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import norm_dim, unbroadcast
from ember.ops.arith import log
from ember.ops.out import write_out
from ember.ops.shape import broadcast_tensors, movedim, stack, transpose
from ember.ops.views import as_view


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a RuntimeError raised for singular / non-convergent inputs."""


def _short(dt) -> str:
    return (dt if isinstance(dt, _dtype.dtype) else _dtype.from_np(dt)).scalar_name


def _same_dtype(a, b, what="m1 and m2"):
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected {what} to have the same dtype, but got: {_short(a.dtype).lower()} != {_short(b.dtype).lower()}"
        )


def _mT(x):
    return of(x).swapaxes(x, -1, -2)


class MatMul(Function):
    # d(A @ B) = dA @ B + A @ dB  ->  gA = G @ B^T, gB = A^T @ G (summed over broadcast batches)
    @staticmethod
    def forward(ctx, a, b):
        if type(a) is np.ndarray and a.ndim == 2 and type(b) is np.ndarray and b.ndim == 2:
            if a.dtype == b.dtype and a.shape[1] == b.shape[0]:  # hot path: 2-d @ 2-d
                ctx.saved = (a, b)
                return a @ b
        _same_dtype(a, b)
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(
                f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
            )
        ctx.save_for_backward(a, b)
        if a.ndim == 1 and b.ndim == 1 and a.shape != b.shape:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have "
                f"the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively"
            )
        try:
            return of(a).asarray(a @ b)
        except ValueError:
            if a.ndim <= 2 and b.ndim <= 2:
                raise RuntimeError(
                    f"mat1 and mat2 shapes cannot be multiplied ({_mshape(a)} and {_mshape(b, True)})"
                ) from None
            raise RuntimeError(
                f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0] if a.ndim == 3 else 1}, "
                f"{a.shape[-1]}] but got: [{b.shape[0] if b.ndim == 3 else 1}, {b.shape[-2] if b.ndim > 1 else b.shape[0]}]."
            ) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common 2-d case: no batch dims to sum over
            return (g @ b.T if n[0] else None), (a.T @ g if n[1] else None)
        xp = of(g)
        a2 = a.reshape((1,) + tuple(a.shape)) if a.ndim == 1 else a
        b2 = b.reshape(tuple(b.shape) + (1,)) if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = gb = None
        if n[0]:
            ga = unbroadcast(g2 @ _mT(b2), tuple(a2.shape)).reshape(tuple(a.shape))
        if n[1]:
            gb = unbroadcast(_mT(a2) @ g2, tuple(b2.shape)).reshape(tuple(b.shape))
        return ga, gb


def _mshape(a, second=False):
    if a.ndim == 1:
        return f"1x{a.shape[0]}" if not second else f"{a.shape[0]}x1"
    return f"{a.shape[-2]}x{a.shape[-1]}"


class Addmm(Function):
    # out = beta*C + alpha*(A @ B);  gC = beta*G, gA = alpha*G @ B^T, gB = alpha*A^T @ G
    @staticmethod
    def forward(ctx, c, a, b, beta, alpha):
        ctx.save_for_backward(a, b)
        ctx.beta, ctx.alpha, ctx.cshape = beta, alpha, np.shape(c)
        p = a @ b
        if alpha != 1:
            p = p * alpha
        if beta == 0:
            return of(p).asarray(p)
        return of(p).asarray(p + (c if beta == 1 else beta * c)).astype(p.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        n = ctx.needs_input_grad
        ga = (g @ _mT(b)) * ctx.alpha if n[1] else None
        gb = (_mT(a) @ g) * ctx.alpha if n[2] else None
        gc = unbroadcast(g * ctx.beta, ctx.cshape) if n[0] else None
        return gc, ga, gb, None, None


def _out(res, out, name="matmul"):
    if out is None:
        return res
    return write_out(out, res, name)


def matmul(input, other, *, out=None):
    """torch.matmul: dot / matrix-vector / matrix-matrix / broadcast batched products."""
    return _out(MatMul.apply(input, other), out)


def mm(input, mat2, *, out=None):
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})"
        )
    _same_dtype(input, mat2, "mat1 and mat2")
    return _out(MatMul.apply(input, mat2), out, "mm")


def bmm(input, mat2, *, out=None):
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{input.shape[0]}, "
            f"{input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    return _out(MatMul.apply(input, mat2), out, "bmm")


def mv(input, vec, *, out=None):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})"
        )
    return _out(MatMul.apply(input, vec), out, "mv")


def dot(input, other, *, out=None):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {_short(input.dtype)} and {_short(other.dtype)}"
        )
    return _out(MatMul.apply(input, other), out, "dot")


inner_1d = dot


def vdot(input, other, *, out=None):
    return dot(input, other, out=out)


def outer(input, vec2, *, out=None):
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    return _out(input.reshape(-1, 1) * vec2.reshape(1, -1), out, "outer")


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(
            f"mat1 must be a matrix, got {mat1.ndim}-D tensor"
            if mat1.ndim != 2
            else f"mat2 must be a matrix, got {mat2.ndim}-D tensor"
        )
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})"
        )
    try:
        np.broadcast_shapes(input.shape, (mat1.shape[0], mat2.shape[1]))
    except ValueError:
        raise RuntimeError(
            f"The size of tensor a ({input.shape[-1]}) must match the size of tensor b "
            f"({mat2.shape[1]}) at non-singleton dimension 1"
        ) from None
    _same_dtype(mat1, mat2, "mat1 and mat2")
    return _out(Addmm.apply(input, mat1, mat2, beta, alpha), out, "addmm")


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    return _out(_axpby(input, mv(mat, vec), beta, alpha), out, "addmv")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_axpby(input, bmm(batch1, batch2), beta, alpha), out, "baddbmm")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_axpby(input, bmm(batch1, batch2).sum(0), beta, alpha), out, "addbmm")


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    return _out(_axpby(input, outer(vec1, vec2), beta, alpha), out, "addr")


def _axpby(c, p, beta, alpha):
    p = p if alpha == 1 else p * alpha
    if beta == 0:
        return p + c.detach() * 0
    return p + (c if beta == 1 else c * beta)


# -- einsum -----------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _expand_ellipsis(eq, shapes):
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(shapes):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(shapes) > len(specs)
            else "einsum(): fewer operands were provided than specified in the equation"
        )
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    nell = max(
        (len(s) - len(sp.replace("...", "")) for sp, s in zip(specs, shapes) if "..." in sp), default=0
    )
    ell = "".join(free[:nell])
    out = []
    for sp, s in zip(specs, shapes):
        if "..." in sp:
            k = len(s) - len(sp.replace("...", ""))
            sp = sp.replace("...", ell[nell - k :] if k else "")
        if len(sp) != len(s):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(sp)}) does not match the number "
                f"of dimensions ({len(s)}) for operand {len(out)} and no ellipsis was given"
            )
        out.append(sp)
    if arrow:
        rhs = rhs.replace("...", ell)
    else:
        letters = "".join(out)
        rhs = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return out, rhs


class Einsum(Function):
    # d einsum(..., A_i, ...) / d A_i = einsum of grad with the other operands into A_i's subscripts
    @staticmethod
    def forward(ctx, *arrays, specs, rhs):
        ctx.save_for_backward(*arrays)
        ctx.specs, ctx.rhs = specs, rhs
        eq = ",".join(specs) + "->" + rhs
        return of(arrays[0]).asarray(of(arrays[0]).einsum(eq, *arrays, optimize=len(arrays) > 2))

    @staticmethod
    def backward(ctx, g):
        arrs = ctx.saved
        grads = []
        for i, spec in enumerate(ctx.specs):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            if len(set(spec)) != len(spec):
                raise NotImplementedError("ember: einsum backward with a repeated subscript in one operand")
            others = [s for j, s in enumerate(ctx.specs) if j != i]
            avail = set(ctx.rhs).union(*others) if others else set(ctx.rhs)
            tgt = "".join(c for c in spec if c in avail)
            ops = [g] + [a for j, a in enumerate(arrs) if j != i]
            eq = ",".join([ctx.rhs] + others) + "->" + tgt
            xp = of(g)
            r = xp.einsum(eq, *ops) if not hasattr(g, "_data") else einsum(eq, *ops)
            if tgt != spec:
                shape = tuple(arrs[i].shape)
                r = r.reshape(tuple(shape[k] if c in avail else 1 for k, c in enumerate(spec)))
                r = xp.broadcast_to(r, shape)
                r = r.copy() if not hasattr(r, "_data") else r
            grads.append(r)
        return tuple(grads)


def einsum(equation: str, *operands):
    """torch.einsum (explicit and implicit output, '...' broadcasting)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    specs, rhs = _expand_ellipsis(equation, [tuple(o.shape) for o in operands])
    return Einsum.apply(*operands, specs=specs, rhs=rhs)


# -- decompositions ---------------------------------------------------------------------------
def _square(a, name):
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by {a.shape[-1]} matrices"
        )
    if not (a.dtype.is_floating_point or a.dtype.is_complex):
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {_short(a.dtype)}"
        )


class Inverse(Function):
    # d inv(A) = -inv(A) dA inv(A)  ->  gA = -inv(A)^T G inv(A)^T
    @staticmethod
    def forward(ctx, a):
        xp = of(a)
        try:
            out = xp.linalg.inv(a)
        except Exception:
            raise LinAlgError(
                "linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
                "because the input matrix is singular."
            ) from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        inv = ctx.saved[0]
        return -(_mT(inv) @ g @ _mT(inv))


class Det(Function):
    # d det(A) = det(A) tr(inv(A) dA)  ->  gA = G det(A) inv(A)^T
    @staticmethod
    def forward(ctx, a):
        xp = of(a)
        out = xp.asarray(xp.linalg.det(a)).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved
        xp = of(g)
        gd = xp.expand_dims(xp.expand_dims(g * d, -1), -1)
        if hasattr(a, "_data"):
            return gd * _mT(inverse(a))
        # adjugate via SVD-free path: solve when invertible, else pseudo-inverse times det
        return gd * _mT(xp.linalg.pinv(a) if not xp.all(d != 0) else xp.linalg.inv(a))


def inverse(input, *, out=None):
    _square(input, "linalg.inv")
    return _out(Inverse.apply(input), out, "inverse")


def det(input):
    _square(input, "linalg.det")
    return Det.apply(input)


def logdet(input):
    return log(det(input))


class Svd(Function):
    # packed [U | S | Vh] per batch; backward: torch's svd_backward (real case, reduced)
    @staticmethod
    def forward(ctx, a, full):
        xp = of(a)
        u, s, vh = xp.linalg.svd(a, full_matrices=full)
        ctx.save_for_backward(u, s, vh)
        ctx.shapes = (u.shape, s.shape, vh.shape)
        b = a.shape[:-2]
        return xp.concatenate([u.reshape(b + (-1,)), s.reshape(b + (-1,)), vh.reshape(b + (-1,))], -1)

    @staticmethod
    def backward(ctx, g):
        u, s, vh = ctx.saved
        (us, ss, vs) = ctx.shapes
        b = tuple(g.shape[:-1])
        nu, ns = int(np.prod(us[-2:])), ss[-1]
        gu = g[..., :nu].reshape(b + tuple(us[-2:]))
        gs = g[..., nu : nu + ns]
        gvh = g[..., nu + ns :].reshape(b + tuple(vs[-2:]))
        m, n, k = us[-2], vs[-1], ss[-1]
        u, gu = u[..., :, :k], gu[..., :, :k]
        vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        return _svd_backward(u, s, vh, gu, gs, gvh, m, n, k), None


def _svd_backward(u, s, vh, gu, gs, gvh, m, n, k):
    xp = of(gs)
    v, gv = _mT(vh), _mT(gvh)
    s_r = xp.expand_dims(s, -2)
    s_c = xp.expand_dims(s, -1)
    eye = np.eye(k, dtype=np.asarray(0, dtype=s.dtype).dtype) if not hasattr(s, "_data") else _eye_t(k, s)
    e = (s_r - s_c) * (s_r + s_c) + eye
    uhgu = _mT(u) @ gu
    uhgu = uhgu - _mT(uhgu)
    vhgv = _mT(v) @ gv
    vhgv = vhgv - _mT(vhgv)
    ga = (uhgu * s_r + s_c * vhgv) / e
    ga = ga + xp.expand_dims(gs, -1) * eye
    if m > k:
        ga = u @ ga
        gus = gu / s_r
        ga = ga + gus - u @ (_mT(u) @ gus)
        return ga @ vh
    if n > k:
        ga = ga @ vh
        gvs = gv / s_r
        ga = ga + _mT(gvs) - (_mT(gvs) @ v) @ vh
        return u @ ga
    return u @ ga @ vh


def _eye_t(k, like):
    return Tensor._wrap(np.eye(k, dtype=like._data.dtype))


def svd_packed(input, full_matrices: bool):
    """(U, S, Vh) of linalg.svd, as three differentiable tensors."""
    if input.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    m, n = input.shape[-2:]
    k = min(m, n)
    um, vn = (m, n) if full_matrices else (k, k)
    p = Svd.apply(input, full_matrices)
    b = tuple(input.shape[:-2])
    u = p[..., : m * um].reshape(b + (m, um))
    s = p[..., m * um : m * um + k]
    vh = p[..., m * um + k :].reshape(b + (vn, n))
    return u, s, vh


def svd(input, some: bool = True, compute_uv: bool = True):
    """torch.svd: (U, S, V) with V (not V^H); reduced unless some=False."""
    u, s, vh = svd_packed(input, not some)
    if not compute_uv:
        return u.new_zeros(u.shape), s, vh.new_zeros(transpose(vh, -2, -1).shape)
    return u, s, transpose(vh, -2, -1)


# -- diagonals and triangles ------------------------------------------------------------------
class Diagonal(Function):
    # d diagonal(A) = zeros with grad on the diagonal
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.args, ctx.shape = (offset, d1, d2), a.shape
        out = of(a).diagonal(a, offset, d1, d2)
        if hasattr(out, "flags"):
            out.flags.writeable = a.flags.writeable
        return out

    @staticmethod
    def backward(ctx, g):
        return (
            DiagScatter.apply(g, ctx.shape, *ctx.args)
            if hasattr(g, "_data")
            else DiagScatter.forward(None, g, ctx.shape, *ctx.args),
            None,
            None,
            None,
        )


class DiagScatter(Function):
    # zeros(shape) with g on the (offset, d1, d2) diagonal;  d/dg = diagonal(grad)
    @staticmethod
    def forward(ctx, g, shape, offset, d1, d2):
        if ctx is not None:
            ctx.args = (offset, d1, d2)
        out = of(g).zeros(shape, dtype=g.dtype)
        view = of(out).diagonal(out, offset, d1, d2)
        view.flags.writeable = True
        view[...] = g
        return out

    @staticmethod
    def backward(ctx, g):
        d = diagonal(g, *ctx.args) if hasattr(g, "_data") else _wdiag(g, *ctx.args).copy()
        return d, None, None, None, None


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    nd = input.ndim
    d1, d2 = norm_dim(dim1, nd)[0], norm_dim(dim2, nd)[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = Diagonal.apply(input, offset, d1, d2)
    return as_view(
        out, input, lambda r, a=(offset, d1, d2): diagonal(r, *a) if hasattr(r, "_data") else _wdiag(r, *a)
    )


def _wdiag(r, offset, d1, d2):
    v = np.diagonal(r, offset, d1, d2) if type(r) is np.ndarray else of(r).diagonal(r, offset, d1, d2)
    if hasattr(v, "flags"):
        v.flags.writeable = r.flags.writeable
    return v


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    n = input.shape[-1] + abs(offset)
    nd = input.ndim + 1
    d1, d2 = dim1 % nd, dim2 % nd
    rest = [s for s in input.shape[:-1]]
    shape = []
    for i in range(nd):
        shape.append(n if i in (d1, d2) else rest.pop(0))
    # DiagScatter writes along the diagonal's last axis; put the vector axis where numpy puts it
    return (
        DiagScatter.apply(input, tuple(shape), offset, d1, d2)
        if (d1, d2) == (nd - 2, nd - 1)
        else movedim(diag_embed(input, offset), (nd - 2, nd - 1), (d1, d2))
    )


def diag(input, diagonal: int = 0, *, out=None):
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        return _out(DiagScatter.apply(input, (n, n), diagonal, 0, 1), out, "diag")
    if input.ndim == 2:
        return _out(globals()["diagonal"](input, diagonal).clone(), out, "diag")
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")


def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


class Tri(Function):
    # d triu(A, k) = triu(grad, k)  (same mask)
    @staticmethod
    def forward(ctx, a, k, upper):
        ctx.k, ctx.upper = k, upper
        return of(a).triu(a, k) if upper else of(a).tril(a, k)

    @staticmethod
    def backward(ctx, g):
        return (
            Tri.apply(g, ctx.k, ctx.upper) if hasattr(g, "_data") else Tri.forward(ctx, g, ctx.k, ctx.upper),
            None,
            None,
        )


def _tri(input, k, upper, out):
    if input.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    return _out(Tri.apply(input, int(k), upper), out, "triu" if upper else "tril")


def triu(input, diagonal: int = 0, *, out=None):
    return _tri(input, diagonal, True, out)


def tril(input, diagonal: int = 0, *, out=None):
    return _tri(input, diagonal, False, out)


def cross(input, other, dim=None, *, out=None):
    """torch.cross: dim defaults to the first dim of size 3 (torch's legacy default)."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if dim is None:
        shape = np.broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return _out(linalg_cross(*broadcast_tensors(input, other), dim=dim), out, "cross")


def linalg_cross(input, other, *, dim: int = -1):
    nd = max(input.ndim, other.ndim)
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and {other.shape[dim]}"
        )
    a, b = broadcast_tensors(input, other)
    d = dim % nd
    a, b = movedim(a, d, -1), movedim(b, d, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)
    return movedim(c, -1, d)


def kron(input, other):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    ash = []
    bsh = []
    for x, y in zip(a.shape, b.shape):
        ash += [x, 1]
        bsh += [1, y]
    p = a.reshape(ash) * b.reshape(bsh)
    return p.reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


class Solve(Function):
    # X = A^-1 B;  gB = A^-T G,  gA = -gB X^T
    @staticmethod
    def forward(ctx, a, b):
        xp = of(a)
        try:
            x = xp.linalg.solve(a, b)
        except Exception:
            raise LinAlgError(
                "torch.linalg.solve: The solver failed because the input matrix is singular."
            ) from None
        ctx.save_for_backward(a, x)
        ctx.ashape, ctx.bshape = a.shape, b.shape
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved
        xp = of(g)
        gb = xp.linalg.solve(_mT(a), g) if not hasattr(g, "_data") else solve(_mT(a), g)
        ga = -(gb @ _mT(x)) if ctx.needs_input_grad[0] else None
        return (
            unbroadcast(ga, tuple(ctx.ashape)) if ga is not None else None,
            unbroadcast(gb, tuple(ctx.bshape)) if ctx.needs_input_grad[1] else None,
        )


def solve(A, B, *, left: bool = True, out=None):
    _square(A, "linalg.solve")
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type {_short(A.dtype)} "
            f"and B of type {_short(B.dtype)} instead"
        )
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vec = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vec:
        return _out(Solve.apply(A, B.unsqueeze(-1)).squeeze(-1), out, "linalg_solve")
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B ({A.shape[-2]}x{A.shape[-1]} "
            f"and {B.shape[-2]}x{B.shape[-1]})"
        )
    return _out(Solve.apply(A, B), out, "linalg_solve")


__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "outer",
    "ger",
    "addmm",
    "addmv",
    "baddbmm",
    "addbmm",
    "addr",
    "einsum",
    "inverse",
    "det",
    "logdet",
    "svd",
    "diagonal",
    "diag_embed",
    "diag",
    "trace",
    "triu",
    "tril",
    "cross",
    "kron",
]
