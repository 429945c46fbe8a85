"""Gamma and Dirichlet sampling with implicit reparameterisation gradients.

For x ~ Gamma(alpha, 1) with CDF P(alpha, x) (the regularised lower incomplete gamma
function), holding the uniform draw fixed gives dx/dalpha = -(dP/dalpha) / p(x; alpha)
(Figurnov et al. 2018, "Implicit Reparameterization Gradients"). dP/dalpha is a central
difference of scipy.special.gammainc in float64 (relative error about 1e-8); so the gradient,
not the sampling, needs SciPy. torch uses its own series approximation: the values agree to
that accuracy. A Dirichlet draw is normalised Gamma draws, differentiated through the
normalisation; torch instead differentiates each coordinate's Beta marginal, which gives
other per-sample gradients with the same expectation.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember.graph.node import Function


def _gammainc():
    try:
        from scipy.special import gammainc, gammaln
    except ImportError:
        raise NotImplementedError(
            "ember: gradients of Gamma/Beta/Dirichlet rsample (implicit reparameterisation) need "
            "SciPy (pip install scipy); sample() works without it"
        ) from None
    return gammainc, gammaln


def standard_gamma_grad(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """dx/dalpha of a Gamma(alpha, 1) draw x, holding its CDF value fixed (float64 inside)."""
    gammainc, gammaln = _gammainc()
    x64 = np.asarray(x, dtype=np.float64)
    a64 = np.asarray(alpha, dtype=np.float64)
    h = 1e-5 * np.maximum(a64, 1e-3)
    dP = (gammainc(a64 + h, x64) - gammainc(a64 - h, x64)) / (2 * h)
    log_pdf = (a64 - 1) * np.log(x64) - x64 - gammaln(a64)
    with np.errstate(all="ignore"):
        out = -dP * np.exp(-log_pdf)
    return np.where(np.isfinite(out), out, 0.0).astype(np.result_type(x), copy=False)


def _draw_gamma(alpha, gen):
    xp = of(alpha)
    a = np.asarray(alpha.get() if xp is not np else alpha, dtype=np.float64)
    draw = gen.standard_gamma(a) if a.size else np.zeros(a.shape)
    tiny = np.finfo(alpha.dtype).tiny
    draw = np.maximum(draw, np.finfo(np.float64).tiny)
    return draw, xp, tiny


class StandardGamma(Function):
    # x ~ Gamma(alpha, 1);  dx/dalpha = -(dP(alpha, x)/dalpha) / p(x; alpha)
    @staticmethod
    def forward(ctx, alpha, gen):
        draw, xp, tiny = _draw_gamma(alpha, gen)
        out = np.maximum(draw.astype(alpha.dtype), tiny)
        out = xp.asarray(out)
        ctx.save_for_backward(alpha)
        ctx.draw = draw
        return out

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.saved[0]
        xp = of(alpha)
        grad = standard_gamma_grad(ctx.draw, np.asarray(alpha.get() if xp is not np else alpha))
        return g * xp.asarray(grad.astype(alpha.dtype)), None


class SampleDirichlet(Function):
    # x = g / sum(g), g_i ~ Gamma(alpha_i, 1);  galpha_j = dg_j/dalpha_j / sum(g) (G_j - sum_i G_i x_i)
    @staticmethod
    def forward(ctx, alpha, gen):
        draw, xp, tiny = _draw_gamma(alpha, gen)
        total = draw.sum(-1, keepdims=True)
        x = draw / total
        ctx.save_for_backward(alpha)
        ctx.draw, ctx.total, ctx.x = draw, total, x
        return xp.asarray(np.maximum(x, tiny).astype(alpha.dtype))

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.saved[0]
        xp = of(alpha)
        g64 = np.asarray(g.get() if xp is not np else g, dtype=np.float64)
        a = np.asarray(alpha.get() if xp is not np else alpha)
        dg = standard_gamma_grad(ctx.draw, a.astype(np.float64)) / ctx.total
        grad = dg * (g64 - (ctx.x * g64).sum(-1, keepdims=True))
        return xp.asarray(grad.astype(alpha.dtype)), None
