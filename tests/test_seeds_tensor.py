"""Replays the tensor and autograd examples of the seed notes (../shared/seeds/001-003) with
`import ember as torch`, checking the printed results the notes show and torch's own output.
Typos in the notes that real torch rejects too (`dtypes=`, `require_grad=`) are corrected."""

import numpy as np
import pytest
import torch as real_torch

import ember as torch


def test_creation_block():
    x = torch.empty(5, 3)
    x = torch.rand(5, 3)
    x = torch.zeros(5, 3)
    x = torch.ones(5, 3)
    x = torch.eye(5)
    x = torch.tensor([5, 3])
    assert str(x) == "tensor([5, 3])"
    assert str(torch.arange(1, 5, 1)) == "tensor([1, 2, 3, 4])"
    assert str(torch.linspace(1, 5, 5)) == "tensor([1., 2., 3., 4., 5.])"
    x = x.new_ones(5, 3, dtype=torch.float64)
    x = torch.randn_like(x, dtype=torch.float)
    assert x.dtype == torch.float32 and x.shape == (5, 3)
    with pytest.raises(TypeError):
        x.new_ones(5, 3, dtypes=torch.float64)  # the notes' typo fails in torch too


def test_add_three_ways_and_inplace():
    x, y = torch.rand(5, 3), torch.rand(5, 3)
    expect = x.numpy() + y.numpy()
    np.testing.assert_allclose((x + y).numpy(), expect)
    np.testing.assert_allclose(torch.add(x, y).numpy(), expect)
    y.add_(x)
    np.testing.assert_allclose(y.numpy(), expect)


def test_slices_share_memory():
    x = torch.tensor([1, 2, 3, 4, 5])
    y = x[1:3]
    y += 10
    assert x.tolist() == [1, 12, 13, 4, 5]


def test_sum_keepdim():
    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert str(X.sum(dim=0, keepdim=True)) == "tensor([[5, 7, 9]])"
    assert str(X.sum(dim=1, keepdim=True)) == "tensor([[ 6],\n        [15]])"


def test_gather_prediction_probabilities():
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = torch.LongTensor([0, 2])
    assert str(y_hat.gather(1, y.view(-1, 1))) == "tensor([[0.1000],\n        [0.5000]])"


def test_cat():
    A = torch.ones(2, 3)
    B = 2 * torch.ones(2, 3)
    assert torch.cat((A, B), 0).tolist() == [[1] * 3, [1] * 3, [2] * 3, [2] * 3]
    assert torch.cat((A, B), 1).tolist() == [[1, 1, 1, 2, 2, 2]] * 2


def test_other_selection_functions():
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    xt = real_torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    i = torch.tensor([1, 0])
    assert x.index_select(0, i).tolist() == xt.index_select(0, real_torch.tensor([1, 0])).tolist()
    assert torch.masked_select(x, x > 0).tolist() == real_torch.masked_select(xt, xt > 0).tolist()
    assert torch.nonzero(x).tolist() == real_torch.nonzero(xt).tolist()


def test_clone_view_item():
    x = torch.ones(3, 5)
    y = x.clone()
    y += 1
    assert float(x.sum()) == 15.0
    view1 = x.view(5, 3)
    view2 = x.view(15)
    view2[0] = 7
    assert float(view1[0, 0]) == 7.0 and view1.shape == (5, 3)
    assert x[0].shape == (5,) and x[0, 0].item() == 7.0


def test_linear_algebra_list():
    a = np.array([[2.0, 1.0], [1.0, 3.0]], dtype=np.float32)
    e, t = torch.from_numpy(a.copy()), real_torch.from_numpy(a.copy())
    for name in ("trace", "diag", "triu", "tril", "t", "inverse"):
        np.testing.assert_allclose(
            getattr(torch, name)(e).numpy(), getattr(real_torch, name)(t).numpy(), rtol=1e-5
        )
    np.testing.assert_allclose(torch.mm(e, e).numpy(), real_torch.mm(t, t).numpy())
    np.testing.assert_allclose(torch.bmm(e[None], e[None]).numpy(), real_torch.bmm(t[None], t[None]).numpy())
    v = torch.tensor([1.0, 2.0, 3.0])
    vt = real_torch.tensor([1.0, 2.0, 3.0])
    assert torch.dot(v, v).item() == real_torch.dot(vt, vt).item()
    assert torch.cross(v, v * 2 + 1, dim=0).tolist() == real_torch.cross(vt, vt * 2 + 1, dim=0).tolist()
    u, s, vh = torch.svd(e)
    np.testing.assert_allclose((u @ torch.diag(s) @ vh.t()).numpy(), a, atol=1e-5)


def test_broadcasting_example():
    x = torch.tensor([1, 2, 3])
    y = torch.tensor([[1], [2], [3]])
    assert str(x + y) == "tensor([[2, 3, 4],\n        [3, 4, 5],\n        [4, 5, 6]])"


def test_memory_saving_forms_keep_identity():
    x, y = torch.ones(3), torch.ones(3)
    before = id(y)
    y[:] = x + y
    assert id(y) == before and y.tolist() == [2, 2, 2]
    torch.add(x, y, out=y)
    assert id(y) == before and y.tolist() == [3, 3, 3]
    y = y + x
    assert id(y) != before


def test_numpy_interop():
    a = np.ones(3, dtype=np.float32)
    shared, copied = torch.from_numpy(a), torch.tensor(a)
    a += 1
    assert shared.tolist() == [2, 2, 2] and copied.tolist() == [1, 1, 1]
    assert isinstance(shared.numpy(), np.ndarray)


def test_device_example_without_gpu():
    x = torch.ones(2)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.ones_like(x, device=torch.device("cuda"))


def test_linreg_from_scratch_gradients():
    """001's linear regression pieces: mm, view, squared loss, manual SGD on .data."""
    torch.manual_seed(0)
    np.random.seed(0)
    features = torch.randn(100, 2, dtype=torch.float32)
    labels = 2 * features[:, 0] - 3.4 * features[:, 1] + 4.2
    labels += torch.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=torch.float32)
    w = torch.tensor(np.random.normal(0, 0.01, (2, 1)), dtype=torch.float32)
    b = torch.zeros(1, dtype=torch.float32)
    w.requires_grad_(requires_grad=True)
    b.requires_grad_(requires_grad=True)
    for _ in range(60):
        for i in range(0, 100, 10):
            j = torch.LongTensor(list(range(i, i + 10)))
            X, y = features.index_select(0, j), labels.index_select(0, j)
            l_ = ((torch.mm(X, w) + b - y.view(-1, 1)) ** 2 / 2).sum()
            l_.backward()
            for param in (w, b):
                param.data -= 0.03 * param.grad / 10
            w.grad.data.zero_()
            b.grad.data.zero_()
    np.testing.assert_allclose(w.detach().numpy().ravel(), [2, -3.4], atol=0.02)
    assert abs(b.item() - 4.2) < 0.02


def test_mlp_relu_via_max_with_other():
    X = torch.tensor([[-1.0, 2.0]])
    assert torch.max(input=X, other=torch.tensor(0.0)).tolist() == [[0.0, 2.0]]


def test_chain_rule_verification_003():
    """003: dy/dx via autograd.grad equals dy/du * du/dx (the notes' chain-rule check)."""
    x = torch.tensor(1.0)
    w1 = torch.tensor(2.0, requires_grad=True)
    b1 = torch.tensor(1.0)
    w2 = torch.tensor(2.0, requires_grad=True)
    b2 = torch.tensor(1.0)
    y1 = x * w1 + b1
    y2 = y1 * w2 + b2
    dy2_dy1 = torch.autograd.grad(y2, [y1], retain_graph=True)[0]
    dy1_dw1 = torch.autograd.grad(y1, [w1], retain_graph=True)[0]
    dy2_dw1 = torch.autograd.grad(y2, [w1], retain_graph=True)[0]
    assert dy2_dw1.item() == dy2_dy1.item() * dy1_dw1.item() == 2.0


def test_mse_grad_003_autograd_grad_and_backward():
    """003: torch.autograd.grad needs requires_grad and a rebuilt graph; backward fills .grad."""
    x = torch.ones(1)
    w = torch.full([1], 2.0)
    mse = (torch.ones(1) - x * w) ** 2
    with pytest.raises(RuntimeError):
        torch.autograd.grad(mse.sum(), [w])
    w.requires_grad_()
    mse = ((torch.ones(1) - x * w) ** 2).sum()
    assert torch.autograd.grad(mse, [w])[0].tolist() == [2.0]
    mse = ((torch.ones(1) - x * w) ** 2).sum()
    mse.backward()
    assert w.grad.tolist() == [2.0]


def test_softmax_derivative_signs_003():
    """003: d p_i / d a_j is positive when i == j and negative otherwise."""
    a = torch.rand(3, requires_grad=True)
    p = torch.softmax(a, dim=0)
    for i in range(3):
        (g,) = torch.autograd.grad(p[i], [a], retain_graph=True)
        for j in range(3):
            assert (g[j].item() > 0) == (i == j)


def test_perceptron_gradients_003():
    x = torch.randn(1, 10)
    w = torch.randn(2, 10, requires_grad=True)
    o = torch.sigmoid(x @ w.t())
    loss = ((torch.ones(1, 1) - o) ** 2).sum()  # the notes' (1, 1) target broadcasts
    loss.backward()
    xt = real_torch.from_numpy(x.numpy())
    wt = real_torch.from_numpy(w.detach().numpy().copy()).requires_grad_()
    real_torch.sum((real_torch.ones(1, 1) - real_torch.sigmoid(xt @ wt.t())) ** 2).backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-5, atol=1e-6)
