"""ember.distributions against torch.distributions: log_prob, entropy, mean, variance, cdf, KL
values and their gradients; shapes, expand, support/arg_constraints, validation errors."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(0)


def _pos(*shape, lo=0.3, hi=3.0):
    return R.uniform(lo, hi, shape)


def _simplex(*shape):
    p = R.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _spd(n, batch=(), rng=R):
    m = rng.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _tril(n, batch=(), rng=R):
    return np.tril(rng.standard_normal(batch + (n, n)) * 0.5) + np.eye(n) * 1.5


# name, parameters (grad flows to all), value sampler, constructor
CASES = [
    ("Normal", dict(loc=R.standard_normal(4), scale=_pos(4)), lambda: R.standard_normal((3, 4)), None),
    ("Uniform", dict(low=-_pos(4), high=_pos(4)), lambda: R.uniform(-0.2, 0.2, (3, 4)), None),
    ("Bernoulli", dict(probs=R.uniform(0.1, 0.9, 4)), lambda: R.integers(0, 2, (3, 4)).astype(float), None),
    ("Bernoulli", dict(logits=R.standard_normal(4)), lambda: R.integers(0, 2, (3, 4)).astype(float), None),
    ("Categorical", dict(probs=_simplex(2, 5)), lambda: R.integers(0, 5, (3, 2)).astype(float), None),
    (
        "Categorical",
        dict(logits=R.standard_normal((2, 5))),
        lambda: R.integers(0, 5, (3, 2)).astype(float),
        None,
    ),
    ("OneHotCategorical", dict(probs=_simplex(2, 4)), lambda: np.eye(4)[R.integers(0, 4, (3, 2))], None),
    (
        "OneHotCategorical",
        dict(logits=R.standard_normal((2, 4))),
        lambda: np.eye(4)[R.integers(0, 4, (3, 2))],
        None,
    ),
    (
        "Binomial",
        dict(probs=R.uniform(0.1, 0.9, 4)),
        lambda: R.integers(0, 6, (3, 4)).astype(float),
        dict(total_count=5),
    ),
    (
        "Binomial",
        dict(logits=R.standard_normal(4)),
        lambda: R.integers(0, 4, (3, 4)).astype(float),
        dict(total_count=3.0),
    ),
    (
        "Beta",
        dict(concentration1=_pos(4), concentration0=_pos(4)),
        lambda: R.uniform(0.05, 0.95, (3, 4)),
        None,
    ),
    ("Gamma", dict(concentration=_pos(4), rate=_pos(4)), lambda: _pos(3, 4, lo=0.1, hi=4.0), None),
    ("Dirichlet", dict(concentration=_pos(2, 3)), lambda: _simplex(3, 2, 3), None),
    ("Exponential", dict(rate=_pos(4)), lambda: _pos(3, 4, lo=0.0, hi=3.0), None),
    ("Laplace", dict(loc=R.standard_normal(4), scale=_pos(4)), lambda: R.standard_normal((3, 4)), None),
    (
        "MultivariateNormal",
        dict(loc=R.standard_normal((2, 3)), covariance_matrix=_spd(3, (2,))),
        lambda: R.standard_normal((4, 2, 3)),
        None,
    ),
    (
        "MultivariateNormal",
        dict(loc=R.standard_normal(3), scale_tril=_tril(3)),
        lambda: R.standard_normal((4, 3)),
        None,
    ),
    (
        "MultivariateNormal",
        dict(loc=R.standard_normal(3), precision_matrix=_spd(3)),
        lambda: R.standard_normal((4, 3)),
        None,
    ),
]
CASES += [
    (
        "Multinomial",
        dict(probs=_simplex(2, 3)),
        lambda: np.array([[[2, 1, 3], [0, 6, 0]], [[1, 1, 4], [3, 3, 0]]], float),
        dict(total_count=6),
    ),
    (
        "Multinomial",
        dict(logits=R.standard_normal(4)),
        lambda: np.array([[1, 0, 2, 0], [0, 0, 0, 3]], float),
        dict(total_count=3),
    ),
    ("Poisson", dict(rate=_pos(4)), lambda: R.integers(0, 6, (3, 4)).astype(float), None),
    ("Geometric", dict(probs=R.uniform(0.1, 0.9, 4)), lambda: R.integers(0, 6, (3, 4)).astype(float), None),
    ("Geometric", dict(logits=R.standard_normal(4)), lambda: R.integers(0, 6, (3, 4)).astype(float), None),
    ("LogNormal", dict(loc=R.standard_normal(4), scale=_pos(4)), lambda: _pos(3, 4, lo=0.1, hi=4.0), None),
    ("HalfNormal", dict(scale=_pos(4)), lambda: _pos(3, 4, lo=0.0, hi=3.0), None),
    ("Chi2", dict(df=_pos(4, lo=1.0, hi=6.0)), lambda: _pos(3, 4, lo=0.1, hi=5.0), None),
    ("Cauchy", dict(loc=R.standard_normal(4), scale=_pos(4)), lambda: R.standard_normal((3, 4)) * 3, None),
    (
        "StudentT",
        dict(df=_pos(4, lo=2.5, hi=8.0), loc=R.standard_normal(4), scale=_pos(4)),
        lambda: R.standard_normal((3, 4)),
        None,
    ),
]
IDS = [f"{c[0]}-{'-'.join(c[1])}" for c in CASES]
HAS = {"Categorical": ("entropy",), "OneHotCategorical": ("entropy", "mean", "variance")}


def _build(lib, name, params, extra, dtype):
    ts = {k: lib.tensor(v.astype(dtype), requires_grad=True) for k, v in params.items()}
    return getattr(lib.distributions, name)(**ts, **(extra or {})), ts


def _np(t):
    return t.detach().numpy()


def _check(et, tt, rtol, atol, what):
    assert tuple(et.shape) == tuple(tt.shape), (what, et.shape, tt.shape)
    assert str(et.dtype) == str(tt.dtype), (what, et.dtype, tt.dtype)
    np.testing.assert_allclose(_np(et), _np(tt), rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,params,value,extra", CASES, ids=IDS)
def test_values_and_gradients_match_torch(name, params, value, extra, dtype):
    rtol, atol = (1e-9, 1e-10) if dtype == np.float64 else (2e-5, 2e-5)
    v = value().astype(dtype)
    (ed, ep), (td, tp) = _build(ember, name, params, extra, dtype), _build(torch, name, params, extra, dtype)
    assert ed.batch_shape == td.batch_shape and ed.event_shape == td.event_shape
    assert ed.has_rsample == td.has_rsample and ed.has_enumerate_support == td.has_enumerate_support
    assert repr(ed) == repr(td)
    el, tl = ed.log_prob(ember.tensor(v)), td.log_prob(torch.tensor(v))
    _check(el, tl, rtol, atol, "log_prob")
    try:
        te = td.entropy()
    except NotImplementedError:  # torch's Poisson has no entropy: ember's must not invent one
        with pytest.raises(NotImplementedError):
            ed.entropy()
        te = ee = None
    else:
        ee = ed.entropy()
        _check(ee, te, rtol, atol, "entropy")
    for attr in ("mean", "variance", "stddev", "mode"):
        if name in ("Categorical", "Cauchy") and attr != "mode" or (name == "Uniform" and attr == "mode"):
            continue  # torch gives NaN/inf-filled results there; checked in test_nan_moments
        if name == "Multinomial" and attr == "mode":
            continue  # torch has no Multinomial.mode
        _check(getattr(ed, attr), getattr(td, attr), rtol, atol, attr)
    (el.sum() + (ee.sum() if ee is not None else 0)).backward()
    (tl.sum() + (te.sum() if te is not None else 0)).backward()
    for k in tp:
        assert (ep[k].grad is None) == (tp[k].grad is None), k
        if tp[k].grad is not None:
            _check(ep[k].grad, tp[k].grad, rtol * 10, atol * 10, f"grad {k}")


def test_nan_moments():
    for lib in (ember, torch):
        c = lib.distributions.Categorical(probs=lib.tensor([0.2, 0.8]))
        assert lib.isnan(c.mean).all() and lib.isnan(c.variance).all() and tuple(c.mean.shape) == ()
        assert lib.isnan(lib.distributions.Uniform(0.0, 1.0).mode)
        ca = lib.distributions.Cauchy(lib.zeros(2), 1.0)
        assert lib.isnan(ca.mean).all() and lib.isinf(ca.variance).all()
        st = lib.distributions.StudentT(lib.tensor([0.5, 1.5, 3.0]))
        np.testing.assert_array_equal(st.variance.numpy(), [np.nan, np.inf, 3.0])
        np.testing.assert_array_equal(st.mean.numpy(), [np.nan, 0.0, 0.0])


@pytest.mark.parametrize(
    "name,params,value,extra",
    [c for c in CASES if c[0] in ("Normal", "Uniform", "Exponential", "Laplace", "Cauchy", "HalfNormal")],
)
def test_cdf_icdf_match_torch(name, params, value, extra):
    (ed, ep), (td, tp) = (
        _build(ember, name, params, extra, np.float64),
        _build(torch, name, params, extra, np.float64),
    )
    v = np.clip(value(), -0.19, None)
    ec, tc = ed.cdf(ember.tensor(v)), td.cdf(torch.tensor(v))
    _check(ec, tc, 1e-9, 1e-12, "cdf")
    q = R.uniform(0.05, 0.95, v.shape)
    ei, ti = ed.icdf(ember.tensor(q)), td.icdf(torch.tensor(q))
    _check(ei, ti, 1e-9, 1e-12, "icdf")
    (ec.sum() + ei.sum()).backward()
    (tc.sum() + ti.sum()).backward()
    for k in tp:
        _check(ep[k].grad, tp[k].grad, 1e-8, 1e-10, f"grad {k}")


def test_binomial_and_bernoulli_enumerate_support():
    for name, kw in [
        ("Bernoulli", dict(probs=[0.3, 0.6])),
        ("Binomial", dict(total_count=4, probs=[0.3, 0.6])),
        ("Categorical", dict(probs=[[0.2, 0.8], [0.5, 0.5]])),
        ("OneHotCategorical", dict(probs=[[0.2, 0.8]])),
    ]:
        e = getattr(ember.distributions, name)(
            **{k: ember.tensor(v) if isinstance(v, list) else v for k, v in kw.items()}
        )
        t = getattr(torch.distributions, name)(
            **{k: torch.tensor(v) if isinstance(v, list) else v for k, v in kw.items()}
        )
        for expand in (True, False):
            es, ts = e.enumerate_support(expand), t.enumerate_support(expand)
            _check(es, ts, 0, 0, f"{name} support")


def test_expand_matches_torch():
    for lib in (ember, torch):
        D = lib.distributions
        n = D.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 2.0])).expand((3, 2))
        assert n.batch_shape == (3, 2) and tuple(n.sample((4,)).shape) == (4, 3, 2)
        m = D.MultivariateNormal(lib.zeros(2), lib.eye(2)).expand((5,))
        assert (
            m.batch_shape == (5,) and m.event_shape == (2,) and tuple(m.covariance_matrix.shape) == (5, 2, 2)
        )
        d = D.Dirichlet(lib.ones(3)).expand((2,))
        assert d.batch_shape == (2,) and d.event_shape == (3,)
        c = D.Categorical(logits=lib.zeros(4)).expand((2, 3))
        assert tuple(c.sample().shape) == (2, 3) and tuple(c.logits.shape) == (2, 3, 4)
        b = D.Beta(lib.tensor([1.0, 2.0]), 3.0).expand((4, 2))
        assert b.batch_shape == (4, 2)
    e = ember.distributions.Gamma(ember.tensor([1.0, 2.0]), 1.0).expand((3, 2))
    t = torch.distributions.Gamma(torch.tensor([1.0, 2.0]), 1.0).expand((3, 2))
    _check(e.log_prob(ember.ones(3, 2)), t.log_prob(torch.ones(3, 2)), 1e-6, 1e-6, "expanded log_prob")


def test_mvn_lazy_matrices_match_torch():
    cov = _spd(3, (2,))
    e = ember.distributions.MultivariateNormal(
        ember.zeros(2, 3, dtype=ember.float64), covariance_matrix=ember.tensor(cov)
    )
    t = torch.distributions.MultivariateNormal(
        torch.zeros(2, 3, dtype=torch.float64), covariance_matrix=torch.tensor(cov)
    )
    for attr in ("scale_tril", "precision_matrix", "covariance_matrix"):
        _check(getattr(e, attr), getattr(t, attr), 1e-10, 1e-12, attr)
    s = ember.distributions.MultivariateNormal(
        ember.zeros(3, dtype=ember.float64), scale_tril=ember.tensor(_tril(3))
    )
    ts = torch.distributions.MultivariateNormal(
        torch.zeros(3, dtype=torch.float64), scale_tril=torch.tensor(s.scale_tril.numpy())
    )
    _check(s.covariance_matrix, ts.covariance_matrix, 1e-10, 1e-12, "cov from scale_tril")


# -- Independent / TransformedDistribution ---------------------------------------------------
def _transformed(lib, which, loc, scale):
    D, T = lib.distributions, lib.distributions.transforms
    base = D.Normal(loc, scale)
    return {
        "lognormal": lambda: D.TransformedDistribution(base, [T.ExpTransform()]),
        "affine-sigmoid": lambda: D.TransformedDistribution(
            base, [T.AffineTransform(0.5, 2.0), T.SigmoidTransform()]
        ),
        "tanh": lambda: D.TransformedDistribution(base, T.TanhTransform()),
        "affine-tensor-event": lambda: D.TransformedDistribution(
            base, [T.AffineTransform(loc * 0 + 1.0, scale, event_dim=1)]
        ),
        "softplus-power": lambda: D.TransformedDistribution(
            base, [T.SoftplusTransform(), T.PowerTransform(2.0)]
        ),
        "inverse-exp": lambda: D.TransformedDistribution(
            D.Gamma(scale, scale * 0 + 2.0), [T.ExpTransform().inv]
        ),
        "independent": lambda: D.Independent(base, 1),
        "indep-transform": lambda: D.TransformedDistribution(
            base, [T.IndependentTransform(T.AffineTransform(1.0, 3.0), 1)]
        ),
        "reshape": lambda: D.TransformedDistribution(
            D.Independent(base, 1), [T.ReshapeTransform((4,), (2, 2))]
        ),
    }[which]()


TRANSFORMED = [
    "lognormal",
    "affine-sigmoid",
    "tanh",
    "affine-tensor-event",
    "softplus-power",
    "inverse-exp",
    "independent",
    "indep-transform",
    "reshape",
]


@pytest.mark.parametrize("which", TRANSFORMED)
def test_transformed_and_independent_match_torch(which):
    loc0, scale0 = R.standard_normal(4) * 0.5, _pos(4)
    out = []
    for lib in (ember, torch):
        loc = lib.tensor(loc0, requires_grad=True)
        scale = lib.tensor(scale0, requires_grad=True)
        d = _transformed(lib, which, loc, scale)
        out.append((d, loc, scale))
    (ed, el, es), (td, tl, ts) = out
    assert ed.batch_shape == td.batch_shape and ed.event_shape == td.event_shape
    assert repr(ed.support) == repr(td.support)
    # values inside the support: push base points through torch's transforms
    with torch.no_grad():
        x = td.sample((3,))
    ev, tv = ember.tensor(x.numpy()), x
    elp, tlp = ed.log_prob(ev), td.log_prob(tv)
    _check(elp, tlp, 1e-9, 1e-10, "log_prob")
    elp.sum().backward()
    tlp.sum().backward()
    _check(el.grad, tl.grad, 1e-8, 1e-10, "grad loc") if tl.grad is not None else None
    _check(es.grad, ts.grad, 1e-8, 1e-10, "grad scale")
    if which == "independent":
        _check(ed.entropy(), td.entropy(), 1e-10, 1e-12, "entropy")
        _check(ed.mean, td.mean, 0, 0, "mean")


def test_tanh_rsample_log_prob_uses_the_cache():
    """log_prob of an rsample'd value inverts through the cached pre-image, as torch (no atanh of 1.0)."""
    T = ember.distributions.transforms
    d = ember.distributions.TransformedDistribution(
        ember.distributions.Normal(ember.tensor([30.0]), ember.tensor([0.1])), [T.TanhTransform(cache_size=1)]
    )
    y = d.rsample()
    assert float(y) == 1.0  # saturated in float32
    lp = d.log_prob(y)
    assert np.isfinite(lp.item())


def test_transform_api_matches_torch():
    for lib in (ember, torch):
        T = lib.distributions.transforms
        t = T.ComposeTransform([T.AffineTransform(1.0, -2.0), T.ExpTransform()])
        x = lib.tensor([0.1, -0.3], dtype=lib.float64)
        y = t(x)
        np.testing.assert_allclose(_np(t.inv(y)), _np(x), rtol=1e-12)
        assert t.sign == -1 and t.bijective and t.inv.inv is t
        assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
        assert repr(T.ExpTransform().inv) == "_InverseTransform(ExpTransform())"
        assert T.identity_transform(x) is x
        with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
            T.ExpTransform(cache_size=2)
    e = ember.distributions.transforms
    for cls in ("ExpTransform", "SigmoidTransform", "TanhTransform", "SoftplusTransform"):
        et, tt = getattr(e, cls)(), getattr(torch.distributions.transforms, cls)()
        x = R.standard_normal(5)
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ey, ty = et(ex), tt(tx)
        _check(ey, ty, 1e-12, 1e-14, cls)
        _check(et.log_abs_det_jacobian(ex, ey), tt.log_abs_det_jacobian(tx, ty), 1e-10, 1e-12, cls + " ladj")
        _check(et.inv(ey), tt.inv(ty), 1e-7, 1e-9, cls + " inv")
        assert repr(et.domain) == repr(tt.domain) and repr(et.codomain) == repr(tt.codomain)


# -- KL ---------------------------------------------------------------------------------------
def _kl_pair(lib, which, made=None, dtype=np.float64):
    D = lib.distributions
    made = [] if made is None else made

    def t(a):
        made.append(lib.tensor(np.asarray(a, dtype=dtype), requires_grad=True))
        return made[-1]

    r = np.random.default_rng(zlib.crc32(which.encode()))
    pos = lambda *s: r.uniform(0.5, 2.5, s)  # noqa: E731
    sim = lambda *s: (lambda p: p / p.sum(-1, keepdims=True))(r.uniform(0.1, 1, s))  # noqa: E731
    nrm = lambda *s: r.standard_normal(s)  # noqa: E731
    pairs = {
        "normal": lambda: (D.Normal(t(nrm(3)), t(pos(3))), D.Normal(t(nrm(3)), t(pos(3)))),
        "bernoulli": lambda: (D.Bernoulli(t(r.uniform(0.1, 0.9, 3))), D.Bernoulli(logits=t(nrm(3)))),
        "categorical": lambda: (D.Categorical(t(sim(2, 4))), D.Categorical(logits=t(nrm(2, 4)))),
        "onehot": lambda: (D.OneHotCategorical(t(sim(2, 4))), D.OneHotCategorical(t(sim(2, 4)))),
        "binomial": lambda: (
            D.Binomial(5, t(r.uniform(0.1, 0.9, 3))),
            D.Binomial(5, t(r.uniform(0.1, 0.9, 3))),
        ),
        "beta": lambda: (D.Beta(t(pos(3)), t(pos(3))), D.Beta(t(pos(3)), t(pos(3)))),
        "gamma": lambda: (D.Gamma(t(pos(3)), t(pos(3))), D.Gamma(t(pos(3)), t(pos(3)))),
        "dirichlet": lambda: (D.Dirichlet(t(pos(2, 3))), D.Dirichlet(t(pos(2, 3)))),
        "exponential": lambda: (D.Exponential(t(pos(3))), D.Exponential(t(pos(3)))),
        "laplace": lambda: (D.Laplace(t(nrm(3)), t(pos(3))), D.Laplace(t(nrm(3)), t(pos(3)))),
        "uniform": lambda: (
            D.Uniform(t([0.0, 0.2, -1.0]), t([1.0, 0.5, 1.0])),
            D.Uniform(t([-1.0, 0.0, -0.5]), t([2.0, 1.0, 2.0])),
        ),
        "mvn": lambda: (
            D.MultivariateNormal(t(nrm(2, 3)), t(_spd(3, (2,), r))),
            D.MultivariateNormal(t(nrm(3)), scale_tril=t(_tril(3, (), r))),
        ),
        "independent": lambda: (
            D.Independent(D.Normal(t(nrm(2, 3)), t(pos(2, 3))), 1),
            D.Independent(D.Normal(t(nrm(2, 3)), t(pos(2, 3))), 1),
        ),
        "exponential-gamma": lambda: (D.Exponential(t(pos(3))), D.Gamma(t(pos(3)), t(pos(3)))),
        "gamma-exponential": lambda: (D.Gamma(t(pos(3)), t(pos(3))), D.Exponential(t(pos(3)))),
        "uniform-normal": lambda: (D.Uniform(t([0.0, 0.2]), t([1.0, 0.5])), D.Normal(t(nrm(2)), t(pos(2)))),
        "uniform-gamma": lambda: (D.Uniform(t([0.1, 0.2]), t([1.0, 0.5])), D.Gamma(t(pos(2)), t(pos(2)))),
        "uniform-beta": lambda: (D.Uniform(t([0.1, 0.2]), t([0.9, 0.5])), D.Beta(t(pos(2)), t(pos(2)))),
        "beta-uniform": lambda: (D.Beta(t(pos(2)), t(pos(2))), D.Uniform(t([0.0, -1.0]), t([1.0, 2.0]))),
        "normal-laplace": lambda: (D.Normal(t(nrm(3)), t(pos(3))), D.Laplace(t(nrm(3)), t(pos(3)))),
        "laplace-normal": lambda: (D.Laplace(t(nrm(3)), t(pos(3))), D.Normal(t(nrm(3)), t(pos(3)))),
        "exponential-normal": lambda: (D.Exponential(t(pos(3))), D.Normal(t(nrm(3)), t(pos(3)))),
        "gamma-normal": lambda: (D.Gamma(t(pos(3)), t(pos(3))), D.Normal(t(nrm(3)), t(pos(3)))),
        "beta-normal": lambda: (D.Beta(t(pos(3)), t(pos(3))), D.Normal(t(nrm(3)), t(pos(3)))),
        "poisson": lambda: (D.Poisson(t(pos(3))), D.Poisson(t(pos(3)))),
        "geometric": lambda: (D.Geometric(t(r.uniform(0.1, 0.9, 3))), D.Geometric(logits=t(nrm(3)))),
        "bernoulli-poisson": lambda: (D.Bernoulli(t(r.uniform(0.1, 0.9, 3))), D.Poisson(t(pos(3)))),
        "lognormal": lambda: (D.LogNormal(t(nrm(3)), t(pos(3))), D.LogNormal(t(nrm(3)), t(pos(3)))),
        "transformed": lambda: (
            D.TransformedDistribution(D.Normal(t(nrm(3)), t(pos(3))), [D.transforms.ExpTransform()]),
            D.TransformedDistribution(D.Normal(t(nrm(3)), t(pos(3))), [D.transforms.ExpTransform()]),
        ),
    }
    return pairs[which]()


KL_PAIRS = [
    "normal",
    "bernoulli",
    "categorical",
    "onehot",
    "binomial",
    "beta",
    "gamma",
    "dirichlet",
    "exponential",
    "laplace",
    "uniform",
    "mvn",
    "independent",
    "exponential-gamma",
    "gamma-exponential",
    "uniform-normal",
    "uniform-gamma",
    "uniform-beta",
    "beta-uniform",
    "normal-laplace",
    "laplace-normal",
    "exponential-normal",
    "gamma-normal",
    "beta-normal",
]

KL_PAIRS += ["poisson", "geometric", "bernoulli-poisson", "lognormal", "transformed"]


@pytest.mark.parametrize("which", KL_PAIRS)
def test_kl_matches_torch(which):
    el, tl = [], []
    (ep, eq), (tp, tq) = _kl_pair(ember, which, el), _kl_pair(torch, which, tl)
    ek, tk = ember.distributions.kl_divergence(ep, eq), torch.distributions.kl_divergence(tp, tq)
    _check(ek, tk, 1e-9, 1e-10, "kl")
    finite = np.isfinite(tk.detach().numpy())
    ek[ember.tensor(finite)].sum().backward()
    tk[torch.tensor(finite)].sum().backward()
    assert len(el) == len(tl) > 0
    for a, b in zip(el, tl):
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any()
        else:
            _check(a.grad, b.grad, 1e-8, 1e-10, "kl grad")


def test_kl_infinite_where_torch_is():
    for which in ("uniform",):
        (ep, eq), (tp, tq) = _kl_pair(ember, which), _kl_pair(torch, which)
        ek = ember.distributions.kl_divergence(eq, ep)
        tk = torch.distributions.kl_divergence(tq, tp)
        _check(ek, tk, 1e-9, 0, "kl inf")
        assert np.isinf(tk.detach().numpy()).any()
    e = ember.distributions
    assert float(e.kl_divergence(e.Bernoulli(ember.tensor(0.5)), e.Bernoulli(ember.tensor(0.0)))) == float(
        "inf"
    )
    assert float(
        e.kl_divergence(e.Bernoulli(ember.tensor(0.0)), e.Bernoulli(ember.tensor(0.3)))
    ) == pytest.approx(
        float(
            torch.distributions.kl_divergence(
                torch.distributions.Bernoulli(torch.tensor(0.0)),
                torch.distributions.Bernoulli(torch.tensor(0.3)),
            )
        )
    )


def test_kl_dispatch_and_register():
    e = ember.distributions
    with pytest.raises(
        NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Laplace and q type Gamma"
    ):
        e.kl_divergence(e.Laplace(0.0, 1.0), e.Gamma(1.0, 1.0))

    class MyNormal(e.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), e.Normal(1.0, 2.0)
    assert float(e.kl_divergence(p, q)) == pytest.approx(float(e.kl_divergence(e.Normal(0.0, 1.0), q)))

    @e.register_kl(MyNormal, e.Normal)
    def _kl(p, q):
        return ember.tensor(42.0)

    assert float(e.kl_divergence(p, q)) == 42.0


# -- validation ---------------------------------------------------------------------------------
def _err(fn):
    with pytest.raises(Exception) as ei:
        fn()
    return type(ei.value), str(ei.value)


BAD = [
    ("Normal", lambda L: dict(loc=L.tensor([0.0, 1.0]), scale=L.tensor([1.0, -1.0]))),
    ("Normal", lambda L: dict(loc=0.0, scale=-1.0)),
    ("Normal", lambda L: dict(loc=L.tensor(float("nan")), scale=1.0)),
    ("Bernoulli", lambda L: dict(probs=L.tensor([0.5, 1.5]))),
    ("Bernoulli", lambda L: dict(probs=0.3, logits=0.1)),
    ("Bernoulli", lambda L: dict()),
    ("Categorical", lambda L: dict(probs=L.tensor([0.5, -0.1]))),
    ("Categorical", lambda L: dict(probs=L.tensor(0.5))),
    ("Binomial", lambda L: dict(total_count=2.5, probs=L.tensor([0.5]))),
    ("Binomial", lambda L: dict(total_count=-1, probs=L.tensor([0.5]))),
    ("Gamma", lambda L: dict(concentration=L.tensor([1.0, 0.0]), rate=1.0)),
    ("Beta", lambda L: dict(concentration1=L.tensor([1.0]), concentration0=L.tensor([-2.0]))),
    ("Dirichlet", lambda L: dict(concentration=L.tensor([1.0, -1.0]))),
    ("Dirichlet", lambda L: dict(concentration=L.tensor(1.0))),
    ("Exponential", lambda L: dict(rate=L.tensor([-1.0]))),
    ("Laplace", lambda L: dict(loc=0.0, scale=0.0)),
    (
        "MultivariateNormal",
        lambda L: dict(loc=L.zeros(2), covariance_matrix=L.tensor([[1.0, 2.0], [2.0, 1.0]])),
    ),
    ("MultivariateNormal", lambda L: dict(loc=L.zeros(2), scale_tril=L.tensor([[1.0, 1.0], [0.0, 1.0]]))),
    ("MultivariateNormal", lambda L: dict(loc=L.zeros(2))),
    ("MultivariateNormal", lambda L: dict(loc=L.tensor(0.0), covariance_matrix=L.eye(2))),
    ("MultivariateNormal", lambda L: dict(loc=L.zeros(2), covariance_matrix=L.ones(2))),
]

BAD += [
    ("Geometric", lambda L: dict(probs=L.tensor([0.5, 0.0]))),
    ("Multinomial", lambda L: dict(total_count=2.5, probs=L.tensor([0.5, 0.5]))),
    ("Poisson", lambda L: dict(rate=L.tensor([-1.0]))),
    ("StudentT", lambda L: dict(df=L.tensor([0.0]))),
]


@pytest.mark.parametrize("name,kw", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_invalid_arguments_raise_like_torch(name, kw):
    te = _err(lambda: getattr(torch.distributions, name)(**kw(torch)))
    ee = _err(lambda: getattr(ember.distributions, name)(**kw(ember)))
    assert ee[0] is te[0]
    assert ee[1] == te[1].replace("torch.", "ember.") or ee[1].split("\n")[0] == te[1].split("\n")[0]


BAD_VALUES = [
    ("Exponential", lambda L: dict(rate=1.0), lambda L: L.tensor(-1.0)),
    ("Bernoulli", lambda L: dict(probs=L.tensor([0.3, 0.4])), lambda L: L.tensor([0.5, 1.0])),
    ("Categorical", lambda L: dict(probs=L.tensor([0.3, 0.7])), lambda L: L.tensor(2)),
    ("Dirichlet", lambda L: dict(concentration=L.ones(3)), lambda L: L.tensor([0.5, 0.6, 0.1])),
    ("Normal", lambda L: dict(loc=L.zeros(3), scale=1.0), lambda L: L.zeros(2)),
    ("MultivariateNormal", lambda L: dict(loc=L.zeros(3), covariance_matrix=L.eye(3)), lambda L: L.zeros(2)),
    ("Normal", lambda L: dict(loc=0.0, scale=1.0), lambda L: 1.0),
    ("Uniform", lambda L: dict(low=0.0, high=1.0), lambda L: L.tensor(1.5)),
    ("Binomial", lambda L: dict(total_count=3, probs=L.tensor(0.5)), lambda L: L.tensor(4.0)),
]


@pytest.mark.parametrize(
    "name,kw,value", BAD_VALUES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_VALUES)]
)
def test_invalid_samples_raise_like_torch(name, kw, value):
    te = _err(lambda: getattr(torch.distributions, name)(**kw(torch)).log_prob(value(torch)))
    ee = _err(lambda: getattr(ember.distributions, name)(**kw(ember)).log_prob(value(ember)))
    assert ee[0] is te[0]
    assert ee[1].split("\n")[0] == te[1].split("\n")[0]


def test_validate_args_switches():
    D = ember.distributions
    D.Normal(0.0, -1.0, validate_args=False)  # no error
    assert float(D.Normal(0.0, 1.0, validate_args=False).log_prob(ember.tensor(5.0))) == pytest.approx(
        -13.4189385
    )
    try:
        D.Distribution.set_default_validate_args(False)
        D.Gamma(ember.tensor([-1.0]), 1.0)
        assert D.Normal(0.0, 1.0)._validate_args is False
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Gamma(ember.tensor([-1.0]), 1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


def test_constraints_match_torch():
    cases = [
        ("real", [0.0, float("nan"), float("inf")]),
        ("positive", [0.0, 1.0, -1.0]),
        ("nonnegative", [0.0, 1.0, -1.0]),
        ("unit_interval", [0.0, 1.0, 1.5]),
        ("boolean", [0.0, 1.0, 0.5]),
        ("nonnegative_integer", [0.0, 2.0, 2.5, -1.0]),
        ("positive_integer", [0.0, 2.0]),
        ("simplex", [[0.2, 0.8], [0.5, 0.6]]),
        ("one_hot", [[0.0, 1.0], [1.0, 1.0]]),
        ("real_vector", [[0.0, 1.0], [float("nan"), 1.0]]),
        ("lower_cholesky", [[[1.0, 0.0], [2.0, 1.0]], [[1.0, 1.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]]),
        ("lower_triangular", [[[1.0, 0.0], [2.0, 1.0]], [[1.0, 1.0], [0.0, 1.0]]]),
        ("positive_definite", [[[2.0, 1.0], [1.0, 2.0]], [[1.0, 2.0], [2.0, 1.0]]]),
    ]
    for name, vals in cases:
        ec, tc = (
            getattr(ember.distributions.constraints, name),
            getattr(torch.distributions.constraints, name),
        )
        assert repr(ec) == repr(tc) and ec.event_dim == tc.event_dim and ec.is_discrete == tc.is_discrete
        np.testing.assert_array_equal(
            ec.check(ember.tensor(vals)).numpy(), tc.check(torch.tensor(vals)).numpy()
        )
    for make in (
        lambda C: C.interval(0, 2),
        lambda C: C.greater_than(1.0),
        lambda C: C.half_open_interval(0.0, 1.0),
        lambda C: C.integer_interval(0, 3),
        lambda C: C.less_than(0.5),
        lambda C: C.independent(C.positive, 1),
    ):
        ec, tc = make(ember.distributions.constraints), make(torch.distributions.constraints)
        assert repr(ec) == repr(tc)
        v = [[0.0, 1.0, 2.0], [0.5, 3.0, -1.0]]
        np.testing.assert_array_equal(ec.check(ember.tensor(v)).numpy(), tc.check(torch.tensor(v)).numpy())
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        ember.distributions.constraints.dependent.check(ember.ones(1))


def test_support_and_arg_constraints_reprs():
    for name, kw in [
        ("Normal", dict(loc=0.0, scale=1.0)),
        ("Gamma", dict(concentration=1.0, rate=1.0)),
        ("Uniform", dict(low=0.0, high=2.0)),
        ("Binomial", dict(total_count=3, probs=0.5)),
        ("Categorical", dict(probs=[0.5, 0.5])),
        ("Dirichlet", dict(concentration=[1.0, 1.0])),
        ("MultivariateNormal", dict(loc=[0.0, 0.0], covariance_matrix=[[1.0, 0.0], [0.0, 1.0]])),
    ]:
        e = getattr(ember.distributions, name)(
            **{k: ember.tensor(v) if isinstance(v, list) else v for k, v in kw.items()}
        )
        t = getattr(torch.distributions, name)(
            **{k: torch.tensor(v) if isinstance(v, list) else v for k, v in kw.items()}
        )
        assert repr(e.support).replace("tensor", "") == repr(t.support).replace("tensor", ""), name
        assert {k: repr(v) for k, v in e.arg_constraints.items()} == {
            k: repr(v) for k, v in t.arg_constraints.items()
        }
