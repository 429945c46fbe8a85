"""Creation functions, dtypes, devices and conversions against real torch."""

import numpy as np
import pytest
import torch

import ember


def same(e, t):
    assert str(e.dtype) == str(t.dtype), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(
        np.asarray(e.tolist(), dtype=float), np.asarray(t.tolist(), dtype=float), rtol=1e-6
    )


@pytest.mark.parametrize(
    "data",
    [
        [1, 2],
        [1.0, 2],
        [True, False],
        3,
        2.5,
        [[1, 2], [3, 4]],
        [],
        [[1.5]],
        np.float64(2.0),
        np.array([1, 2], dtype=np.int32),
        np.array([1.0], dtype=np.float64),
        [np.int8(1)],
    ],
)
def test_tensor_dtype_inference(data):
    same(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize(
    "fn,args,kw",
    [
        ("zeros", (2, 3), {}),
        ("ones", ((2, 3),), {}),
        ("eye", (3,), {}),
        ("eye", (2, 4), {}),
        ("arange", (1, 5, 1), {}),
        ("arange", (5,), {}),
        ("arange", (0, 1, 0.25), {}),
        ("arange", (1.0, 4.0), {}),
        ("linspace", (1, 5, 5), {}),
        ("linspace", (-1, 1, 7), {}),
        ("full", ((2, 2), 7), {}),
        ("full", ((2,), 1.5), {}),
        ("full", ((2,), True), {}),
        ("zeros", (2,), {"dtype": "int32"}),
        ("ones", (3,), {"dtype": "float64"}),
        ("logspace", (0, 2, 3), {}),
    ],
)
def test_factories(fn, args, kw):
    ke = {k: getattr(ember, v) for k, v in kw.items()}
    kt = {k: getattr(torch, v) for k, v in kw.items()}
    same(getattr(ember, fn)(*args, **ke), getattr(torch, fn)(*args, **kt))


def test_seed_creation_examples():
    x = ember.empty(5, 3)
    assert x.shape == (5, 3) and x.dtype == ember.float32
    x = ember.rand(5, 3)
    assert float(x.min()) >= 0 and float(x.max()) < 1
    x = ember.tensor([5, 3])
    assert x.tolist() == [5, 3] and x.dtype == ember.int64
    assert ember.arange(1, 5, 1).tolist() == [1, 2, 3, 4]
    assert ember.linspace(1, 5, 5).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    x = x.new_ones(5, 3, dtype=ember.float64)
    assert x.dtype == ember.float64 and x.shape == (5, 3)
    y = ember.randn_like(x, dtype=ember.float)
    assert y.dtype == ember.float32 and y.shape == (5, 3)
    assert ember.LongTensor([0, 2]).dtype == ember.int64


def test_like_and_new():
    te, tt = ember.ones(2, 3, dtype=ember.float64), torch.ones(2, 3, dtype=torch.float64)
    for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        e, t = getattr(ember, name)(te), getattr(torch, name)(tt)
        assert str(e.dtype) == str(t.dtype) and e.shape == t.shape
    same(ember.full_like(te, 3), torch.full_like(tt, 3))
    same(te.new_zeros(4), tt.new_zeros(4))
    same(te.new_tensor([1, 2]), tt.new_tensor([1, 2]))
    same(te.new_full((2,), 5), tt.new_full((2,), 5))


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.arange(4, dtype=np.float32)
    t1, t2 = ember.from_numpy(a), ember.tensor(a)
    a[0] = 100
    assert float(t1[0]) == 100 and float(t2[0]) == 0
    t1[1] = -1
    assert a[1] == -1
    assert ember.as_tensor(a).data_ptr() == t1.data_ptr()
    assert np.shares_memory(t1.numpy(), a)
    with pytest.raises(TypeError):
        ember.from_numpy([1, 2])


def test_conversions_and_item():
    x = ember.tensor([1.7, -2.2])
    same(x.long(), torch.tensor([1.7, -2.2]).long())
    same(x.int(), torch.tensor([1.7, -2.2]).int())
    same(x.double(), torch.tensor([1.7, -2.2]).double())
    same(x.bool(), torch.tensor([1.7, -2.2]).bool())
    same(x.to(ember.float16), torch.tensor([1.7, -2.2]).to(torch.float16))
    assert ember.tensor([[3.5]]).item() == 3.5
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    assert x.tolist() == pytest.approx([1.7, -2.2])
    assert x.size() == (2,) and x.size(0) == 2 and x.dim() == 1 and x.numel() == 2
    assert repr(x.shape) == repr(torch.tensor([1.7, -2.2]).shape)
    assert x.type() == "torch.FloatTensor"


def test_random_reproducible_with_manual_seed():
    ember.manual_seed(0)
    a = ember.randn(3, 3)
    ember.manual_seed(0)
    b = ember.randn(3, 3)
    assert ember.equal(a, b) if hasattr(ember, "equal") else (a.numpy() == b.numpy()).all()
    g = ember.Generator().manual_seed(1)
    r = ember.randint(0, 10, (100,), generator=g)
    assert r.dtype == ember.int64 and int(r.min()) >= 0 and int(r.max()) < 10
    n = ember.normal(2.0, 0.5, size=(2000,))
    assert abs(float(n.mean()) - 2.0) < 0.05
    p = ember.randperm(10)
    assert sorted(p.tolist()) == list(range(10))


def test_device_objects_and_cuda_unavailable():
    assert repr(ember.device("cpu")) == repr(torch.device("cpu"))
    assert repr(ember.device("cuda:1")) == repr(torch.device("cuda:1"))
    assert str(ember.device("cuda", 0)) == "cuda:0"
    assert ember.device("cpu") == "cpu"
    assert ember.ones(2).device == ember.device("cpu")
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            ember.ones(2, device="cuda")
        with pytest.raises(RuntimeError, match="CUDA"):
            ember.ones(2).to("cuda")
        with pytest.raises(RuntimeError, match="CUDA"):
            ember.ones_like(ember.ones(2), device=ember.device("cuda"))


def test_default_dtype_and_promotion_of_dtypes():
    assert ember.get_default_dtype() == ember.float32
    for a, b in [("float16", "int64"), ("uint8", "int8"), ("int32", "float64"), ("bool", "int8")]:
        assert str(ember.promote_types(getattr(ember, a), getattr(ember, b))) == str(
            torch.promote_types(getattr(torch, a), getattr(torch, b))
        )
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1.5]).dtype == ember.float64
        assert ember.zeros(1).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int64)


def test_legacy_tensor_constructor():
    same(ember.Tensor([1, 2]), torch.Tensor([1, 2]))
    assert ember.Tensor(2, 3).shape == (2, 3)
    assert isinstance(ember.ones(1), ember.Tensor)
    assert ember.is_tensor(ember.ones(1)) and not ember.is_tensor([1])


def test_ragged_and_bad_input_errors():
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.zeros(-1)
    with pytest.raises(TypeError):
        ember.tensor(object())
