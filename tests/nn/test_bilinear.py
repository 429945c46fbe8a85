"""nn.Bilinear / F.bilinear against torch: init stream, outputs, gradients, errors, gradcheck."""

import numpy as np
import pytest
import torch
from conftest import assert_raises_same, assert_same, pair

import ember

rng = np.random.default_rng(3)


@pytest.mark.parametrize("lead", [(), (6,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bilinear_matches_torch(lead, bias, dtype):
    torch.manual_seed(1)
    ember.manual_seed(1)
    tm, em = torch.nn.Bilinear(3, 4, 5, bias=bias), ember.nn.Bilinear(3, 4, 5, bias=bias)
    if dtype == "float64":
        tm, em = tm.double(), em.double()
    assert repr(em) == repr(tm)
    for (ne, pe), (nt, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert ne == nt
        assert_same(pe, pt, atol=0, rtol=0)  # the same U(-1/sqrt(3), 1/sqrt(3)) draws as torch
    e1, t1 = pair(rng.standard_normal((*lead, 3)).astype(dtype), requires_grad=True)
    e2, t2 = pair(rng.standard_normal((*lead, 4)).astype(dtype), requires_grad=True)
    ey, ty = em(e1, e2), tm(t1, t2)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_same(ey, ty, atol=tol, rtol=tol)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ey.backward(ember.from_numpy(g.copy()))
    ty.backward(torch.from_numpy(g.copy()))
    assert_same(e1.grad, t1.grad, atol=tol, rtol=tol)
    assert_same(e2.grad, t2.grad, atol=tol, rtol=tol)
    for (_, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert_same(pe.grad, pt.grad, atol=tol, rtol=tol)


def test_bilinear_state_dict_from_torch():
    tm = torch.nn.Bilinear(2, 3, 4)
    em = ember.nn.Bilinear(2, 3, 4)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    x1, x2 = rng.standard_normal((5, 2)).astype("float32"), rng.standard_normal((5, 3)).astype("float32")
    assert_same(
        em(ember.from_numpy(x1), ember.from_numpy(x2)),
        tm(torch.from_numpy(x1), torch.from_numpy(x2)),
        atol=1e-6,
    )


def test_bilinear_gradcheck():
    a = ember.randn(3, 2, dtype=ember.float64, requires_grad=True)
    b = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    w = ember.randn(5, 2, 4, dtype=ember.float64, requires_grad=True)
    bias = ember.randn(5, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(ember.nn.functional.bilinear, (a, b, w, bias))


@pytest.mark.parametrize(
    "s1, s2, sw, sb, d2",
    [
        ((2, 3), (3, 4), (5, 3, 4), None, "float32"),  # batch dims differ
        ((2, 3), (2, 5), (5, 3, 4), None, "float32"),  # input2 size
        ((2, 4), (2, 4), (5, 3, 4), None, "float32"),  # input1 size
        ((2, 3), (2, 4), (5, 3), None, "float32"),  # a 2-d weight
        ((2, 3), (2, 4), (5, 3, 4), (4,), "float32"),  # bias size
        ((2, 3), (2, 4), (5, 3, 4), None, "float64"),  # dtypes
        ((2, 3), (4,), (5, 3, 4), None, "float32"),  # dimensions
    ],
)
def test_bilinear_errors_match_torch(s1, s2, sw, sb, d2):
    def args(lib):
        mk = lambda s, d="float32": lib.from_numpy(np.ones(s, dtype=d))
        return mk(s1), mk(s2, d2), mk(sw), (mk(sb) if sb else None)

    err = assert_raises_same(
        lambda: ember.nn.functional.bilinear(*args(ember)), lambda: torch.nn.functional.bilinear(*args(torch))
    )
    with pytest.raises(type(err)) as ee:
        ember.nn.functional.bilinear(*args(ember))
    assert str(ee.value) == str(err)
