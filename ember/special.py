"""torch.special: the special functions under torch's names (most are ember's existing ops)."""

from __future__ import annotations

import math

from ember.ops import arith, mathfuncs, reduce
from ember.ops import special as _s
from ember.ops.special import digamma, entr, erfc, erfinv, polygamma, xlog1py, xlogy

__all__ = [
    "digamma",
    "psi",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "polygamma",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]

psi = digamma
erf = arith.erf
exp2 = arith.exp2
expit = arith.sigmoid
expm1 = arith.expm1
gammaln = _s.lgamma
log1p = arith.log1p
logit = mathfuncs.logit
sinc = mathfuncs.sinc
round = arith.round
logsumexp = reduce.logsumexp


def multigammaln(input, p: int, *, out=None):
    return _s.mvlgamma(input, p)


def ndtr(input, *, out=None):
    # Phi(x) = erfc(-x / sqrt 2) / 2
    return erfc(-input * (1 / math.sqrt(2.0))) * 0.5


def log_ndtr(input, *, out=None):
    # log Phi(x)
    return arith.log(ndtr(input))


def softmax(input, dim: int, *, dtype=None):
    return reduce.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim: int, *, dtype=None):
    return reduce.log_softmax(input, dim, dtype=dtype)
