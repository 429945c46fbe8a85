"""Special-function primitives: lgamma, digamma, polygamma, erfinv, xlogy.

Values come from SciPy (cupyx.scipy on a GPU) when it is installed; otherwise from the NumPy
series below (recurrence + asymptotic expansion, float64 inside), which agree with SciPy to
about 1e-14 relative for positive arguments.
"""

from __future__ import annotations

import math

import numpy as np

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._promote import float_binary, to_float
from ember.ops._util import unbroadcast

_scipy_special: list = []  # [module or None], filled on first use: scipy costs ~0.2 s to import

# Bernoulli numbers B_2k, k = 1..7, for the asymptotic series of psi and its derivatives
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def _lib(a):
    """scipy.special for NumPy arrays, cupyx.scipy.special for CuPy arrays, None without SciPy."""
    if of(a) is not np:
        import cupyx.scipy.special as csp

        return csp
    if not _scipy_special:
        try:
            import scipy.special as sp  # optional, and lazy: `import ember` stays fast
        except ImportError:  # the NumPy series below take over
            sp = None
        _scipy_special.append(sp)
    return _scipy_special[0]


def _polygamma_series(n: int, x: np.ndarray) -> np.ndarray:
    """psi^(n)(x) for x > 0: shift x past 10 by recurrence, then the asymptotic series."""
    x = np.array(x, dtype=np.float64)
    acc = np.zeros_like(x)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n+1)
    fact = math.factorial(n)
    small = x < 10
    while small.any():
        xs = np.where(small, x, 1.0)
        if n == 0:
            acc -= np.where(small, 1.0 / xs, 0.0)
        else:
            acc += np.where(small, sign * fact / xs ** (n + 1), 0.0)
        x = np.where(small, x + 1, x)
        small = x < 10
    if n == 0:
        s = np.log(x) - 0.5 / x
        for k, b in enumerate(_B2K, 1):
            s -= b / (2 * k * x ** (2 * k))
    else:
        s = math.factorial(n - 1) / x**n + fact / (2 * x ** (n + 1))
        for k, b in enumerate(_B2K, 1):
            s += b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * x ** (2 * k + n))
        s *= sign
    return acc + s


def _digamma_raw(a):
    lib = _lib(a)
    if lib is not None:
        return lib.digamma(a).astype(a.dtype, copy=False)
    x = np.asarray(a, dtype=np.float64)
    neg = x <= 0
    # reflection psi(1 - x) - psi(x) = pi cot(pi x); poles at non-positive integers
    xr = np.where(neg, 1 - x, x)
    out = _polygamma_series(0, xr)
    with np.errstate(all="ignore"):
        out = np.where(neg, out - np.pi / np.tan(np.pi * x), out)
        out = np.where(neg & (x == np.floor(x)), np.nan, out)
    return np.asarray(out, dtype=a.dtype)


def _trigamma(a):
    """psi1 by torch's own formula (reflection below 0.5, six recurrence steps, a short
    asymptotic series): about 1e-8 relative, and exactly torch's float64 values."""
    xp = of(a)
    x = a.astype(np.float64)
    with np.errstate(all="ignore"):
        s = xp.sin(np.pi * x)
        neg = x < 0.5
        result = xp.where(neg, -(np.pi * np.pi) / (s * s), 0.0)
        sign = xp.where(neg, -1.0, 1.0)
        x = xp.where(neg, 1 - x, x)
        for _ in range(6):
            result = result + 1 / (x * x)
            x = x + 1
        ixx = 1 / (x * x)
        result = result + (1 + 1 / (2 * x) + ixx * (1.0 / 6 - ixx * (1.0 / 30 - ixx * (1.0 / 42)))) / x
    return (sign * result).astype(a.dtype)


def _polygamma_raw(n: int, a):
    if n == 0:
        return _digamma_raw(a)
    if n == 1:
        return _trigamma(a)
    lib = _lib(a)
    if lib is not None:
        return lib.polygamma(n, a).astype(a.dtype, copy=False)
    x = np.asarray(a, dtype=np.float64)
    out = np.where(x > 0, _polygamma_series(n, np.where(x > 0, x, 1.0)), np.nan)
    return np.asarray(out, dtype=a.dtype)


def _lgamma_raw(a):
    lib = _lib(a)
    if lib is not None:
        return lib.gammaln(a).astype(a.dtype, copy=False)
    return np.vectorize(math.lgamma, otypes=[a.dtype])(a) if a.size else a.copy()


def _erfinv_raw(a):
    lib = _lib(a)
    if lib is not None:
        return lib.erfinv(a).astype(a.dtype, copy=False)
    # Giles' single-precision approximation, then Newton steps on erf(y) = x in float64
    x0 = np.asarray(a, dtype=np.float64)
    x = np.clip(x0, -0.999999999999, 0.999999999999)
    w = -np.log((1.0 - x) * (1.0 + x))
    y = np.where(w < 5, x * (1.5774 + 0.2 * (w - 2.5)), x * (3.0 + 0.3 * (np.sqrt(np.maximum(w, 0)) - 3)))
    erf = np.vectorize(math.erf, otypes=[np.float64])
    with np.errstate(all="ignore"):
        for _ in range(12):
            y = y - (erf(y) - x) / (1.1283791670955126 * np.exp(-y * y))
        y = np.where(x0 == 1, np.inf, np.where(x0 == -1, -np.inf, y))
        y = np.where(np.abs(x0) > 1, np.nan, y)
    return np.asarray(y, dtype=a.dtype)


def _again(fn_cls, s, *extra):
    """Under create_graph the saved value is a Tensor: recurse through the primitive."""
    return fn_cls.apply(*extra, s) if extra else fn_cls.apply(s)


class Lgamma(Function):
    # d lgamma(a) = digamma(a) da
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        ctx.save_for_backward(a)
        return np.asarray(_lgamma_raw(a)) if isinstance(a, np.ndarray) else _lgamma_raw(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        return g * (Digamma.apply(a) if isinstance(a, Tensor) else _digamma_raw(a))


class Digamma(Function):
    # d digamma(a) = polygamma(1, a) da
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        ctx.save_for_backward(a)
        return _digamma_raw(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        return g * (Polygamma.apply(a, n=1) if isinstance(a, Tensor) else _polygamma_raw(1, a))


class Polygamma(Function):
    # d polygamma(n, a) = polygamma(n + 1, a) da
    @staticmethod
    def forward(ctx, a, n):
        a = to_float(a)
        ctx.save_for_backward(a)
        ctx.n = n
        return _polygamma_raw(n, a)

    @staticmethod
    def backward(ctx, g):
        a, n = ctx.saved[0], ctx.n
        return (g * (Polygamma.apply(a, n=n + 1) if isinstance(a, Tensor) else _polygamma_raw(n + 1, a)),)


class Erfinv(Function):
    # d erfinv(a) = sqrt(pi)/2 exp(erfinv(a)^2) da
    @staticmethod
    def forward(ctx, a):
        out = _erfinv_raw(to_float(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return g * 0.886226925452758 * of(y).exp(y * y)


def _x_log_forward(ctx, a, b, log: str):
    """a * log(b) (log = 'log' or 'log1p'), 0 where a == 0, NaN where b is NaN."""
    a, b = float_binary(a, b)  # torch's promotion (weak scalars, 0-d below dimensioned)
    xp = of(a) if hasattr(a, "dtype") else of(b)
    a, b = xp.asarray(a), xp.asarray(b)
    dt = a.dtype if a.dtype.kind == "f" else b.dtype
    a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    ctx.save_for_backward(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0), 0 * -inf are masked below
        out = xp.where(a == 0, xp.zeros((), dt), a * getattr(xp, log)(b))
    return xp.where(xp.isnan(b), b, out).astype(dt, copy=False)


def _x_log_backward(ctx, g, log: str, shift: int):
    """(g log(b), g a / (b + shift)), each reduced to its input's shape."""
    a, b = ctx.saved
    xp = of(g)
    ga = unbroadcast(g * getattr(xp, log)(b), a.shape) if ctx.needs_input_grad[0] else None
    gb = unbroadcast(g * a / (b + shift), b.shape) if ctx.needs_input_grad[1] else None
    return ga, gb


class Xlogy(Function):
    # xlogy(a, b) = a log b (0 where a == 0);  d/da = log b (everywhere, as torch), d/db = a / b
    @staticmethod
    def forward(ctx, a, b):
        return _x_log_forward(ctx, a, b, "log")

    @staticmethod
    def backward(ctx, g):
        return _x_log_backward(ctx, g, "log", 0)


def _erfc_raw(a):
    lib = _lib(a)
    if lib is not None:
        return lib.erfc(a).astype(a.dtype, copy=False)
    return np.vectorize(math.erfc, otypes=[a.dtype])(a) if a.size else a.copy()


class Erfc(Function):
    # erfc(a) = 1 - erf(a), computed directly (no cancellation);  d erfc(a) = -2/sqrt(pi) exp(-a^2) da
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        ctx.save_for_backward(a)
        return _erfc_raw(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        return g * -1.1283791670955126 * of(a).exp(-a * a)


class Entr(Function):
    # entr(a) = -a log a (a > 0), 0 (a == 0), -inf (a < 0);  d/da = -(log a + 1)
    @staticmethod
    def forward(ctx, a):
        a = to_float(a)
        xp = of(a)
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xp.where(a > 0, -a * xp.log(xp.where(a > 0, a, 1)), xp.where(a == 0, 0, -xp.inf))
        return xp.where(xp.isnan(a), a, out).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved[0]
        xp = of(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * -(xp.log(a) + 1)


class Xlog1py(Function):
    # xlog1py(a, b) = a log1p(b) (0 where a == 0);  d/da = log1p(b), d/db = a / (1 + b)
    @staticmethod
    def forward(ctx, a, b):
        return _x_log_forward(ctx, a, b, "log1p")

    @staticmethod
    def backward(ctx, g):
        return _x_log_backward(ctx, g, "log1p", 1)


def erfc(input: Tensor, *, out=None) -> Tensor:
    return Erfc.apply(input)


def entr(input: Tensor, *, out=None) -> Tensor:
    return Entr.apply(input)


def xlog1py(input, other, *, out=None) -> Tensor:
    return Xlog1py.apply(input, other)


def mvlgamma(input: Tensor, p: int, *, out=None) -> Tensor:
    """log of the multivariate gamma: p(p-1)/4 log(pi) + sum_j lgamma(a - j/2), j < p."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    total = Lgamma.apply(input)
    for j in range(1, p):
        total = total + Lgamma.apply(input - j / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


def lgamma(input: Tensor, *, out=None) -> Tensor:
    """torch.lgamma: log |Gamma(x)|."""
    return Lgamma.apply(input)


def digamma(input: Tensor, *, out=None) -> Tensor:
    """torch.digamma: d/dx log Gamma(x)."""
    return Digamma.apply(input)


def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    """torch.polygamma: the n-th derivative of digamma."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(input, n=n)


def erfinv(input: Tensor, *, out=None) -> Tensor:
    """torch.erfinv: the inverse of erf on (-1, 1)."""
    return Erfinv.apply(input)


def xlogy(input, other, *, out=None) -> Tensor:
    """torch.xlogy: input * log(other), 0 where input is 0 (NaN where other is NaN)."""
    return Xlogy.apply(input, other)


__all__ = ["digamma", "entr", "erfc", "erfinv", "lgamma", "mvlgamma", "polygamma", "xlog1py", "xlogy"]
