"""Each named fast path against the general path it shortcuts (its oracle): same values, same
gradients, same version records and the same errors. Plus the bugs the split exposed, against
torch: the implicit backward seed of a NaN loss, and version records keeping activations alive."""

from __future__ import annotations

import gc
import itertools
import weakref

import numpy as np
import pytest
import torch

import ember
import ember._jit
from ember.graph import engine
from ember.ops import operators
from ember.ops.inplace import write_inplace
from ember.ops.linalg import MatMul
from ember.ops.pointwise import Add, Div, Mul, Pow, Sub


def _leaves(seed: int, shapes, requires=(True, True)):
    rng = np.random.default_rng(seed)
    return [
        ember.tensor(rng.standard_normal(s).astype(np.float32) + 2.0, requires_grad=r)
        for s, r in zip(shapes, requires)
    ]


def _outcome(fn):
    """(value, grads, grad_fn name) or the exception type and message."""
    try:
        a, b, out = fn()
    except Exception as e:  # the fast path must raise exactly what the general path raises
        return type(e), str(e)
    name = out.grad_fn.name() if out.grad_fn is not None else None
    if out.requires_grad:
        out.sum().backward()
    grads = [None if t.grad is None else t.grad.numpy().copy() for t in (a, b) if isinstance(t, ember.Tensor)]
    return out.detach().numpy().copy(), grads, name


@pytest.mark.parametrize("cls", [Add, Sub, Mul, Div, Pow])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((1, 4), (3, 1)), ((3,), (2, 3))])
@pytest.mark.parametrize("requires", list(itertools.product([True, False], repeat=2)))
def test_apply_binary_matches_apply(cls, shapes, requires):
    def run(path):
        def fn():
            a, b = _leaves(0, shapes, requires)
            return a, b, getattr(cls, path)(a, b)

        return fn

    fast, general = _outcome(run("apply_binary")), _outcome(run("apply"))
    assert type(fast) is type(general)
    if isinstance(general[0], type):
        assert fast == general
        return
    np.testing.assert_array_equal(fast[0], general[0])
    assert fast[2] == general[2]
    for f, g in zip(fast[1], general[1]):
        assert (f is None) == (g is None)
        if f is not None:
            np.testing.assert_array_equal(f, g)


@pytest.mark.parametrize("cls", [Add, Mul, Pow, Div])
@pytest.mark.parametrize("number", [2, 0.5, -1.5, 0])
def test_apply_binary_with_a_number_matches_apply(cls, number):
    def run(path):
        def fn():
            (a,) = _leaves(1, [(5,)], (True,))
            return a, number, getattr(cls, path)(a, number)

        return fn

    fast, general = _outcome(run("apply_binary")), _outcome(run("apply"))
    np.testing.assert_array_equal(fast[0], general[0])
    np.testing.assert_array_equal(fast[1][0], general[1][0])


def test_apply_binary_matmul_and_shape_errors_match_apply():
    def run(path, sa, sb):
        def fn():
            a, b = _leaves(2, [sa, sb])
            return a, b, getattr(MatMul, path)(a, b)

        return fn

    for sa, sb in [((3, 4), (4, 2)), ((3, 4), (3, 2)), ((2, 3, 4), (4, 5))]:
        fast, general = _outcome(run("apply_binary", sa, sb)), _outcome(run("apply", sa, sb))
        assert type(fast[0]) is type(general[0])
        if isinstance(general[0], type):
            assert fast == general
        else:
            np.testing.assert_array_equal(fast[0], general[0])


@pytest.mark.parametrize("path", ["apply_binary", "apply"])
def test_version_records_of_both_paths_catch_inplace_changes(path):
    a, b = _leaves(3, [(4,), (4,)])
    y = getattr(Mul, path)(a * 1, b)  # Mul saves both inputs
    src = y.grad_fn._versions
    assert src is not None and all(r is not None for r in src)
    with ember.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def _random_graph(lib, seed: int):
    """A random DAG of elementwise ops over three leaves, with fan-in and reuse."""
    rng = np.random.default_rng(seed)
    leaves = [lib.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True) for _ in range(3)]
    nodes = list(leaves)
    for _ in range(8):
        x, y = nodes[rng.integers(len(nodes))], nodes[rng.integers(len(nodes))]
        op = rng.integers(4)
        nodes.append(x * y if op == 0 else x + y if op == 1 else (x * 0.5).tanh() if op == 2 else x - y * 2)
    return leaves, sum(n.sum() for n in nodes[3:])


@pytest.mark.parametrize("seed", range(12))
def test_single_root_backward_matches_general_engine(seed):
    la, loss_a = _random_graph(ember, seed)
    engine.run_backward_single_root(loss_a.grad_fn, engine.seed_grad(loss_a._data), False)
    lb, loss_b = _random_graph(ember, seed)
    engine.run_backward_general([loss_b], [engine.seed_grad(loss_b._data)], False, False)
    assert any(x.grad is not None for x in la)
    for x, y in zip(la, lb):
        assert (x.grad is None) == (y.grad is None)  # a leaf the random graph did not use
        if x.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-5)  # summation order


def test_leaf_accumulation_fast_path_matches_general_accumulate():
    x = ember.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    v0 = first._version
    (x * 3).sum().backward()  # fast path: in place into the existing .grad, version bumped
    assert x.grad is first and first._version == v0 + 1
    np.testing.assert_array_equal(x.grad.numpy(), [5, 5, 5])
    y = ember.ones(3, requires_grad=True)
    engine._accumulate(y, np.full(3, 2.0, np.float32), False)
    engine._accumulate(y, np.full(3, 3.0, np.float32), False)
    np.testing.assert_array_equal(y.grad.numpy(), x.grad.numpy())


def test_leaf_accumulation_into_a_read_only_grad_takes_the_general_path():
    x = ember.ones(2, requires_grad=True)
    x.grad = ember.from_numpy(np.zeros(2, np.float32))
    x.grad._data.flags.writeable = False
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


@pytest.mark.parametrize("ufunc_name", ["add_", "sub_", "mul_", "div_"])
@pytest.mark.parametrize(
    "other",
    [2.0, 3, "tensor", "tensor64", "broadcast", "bad_shape"],
)
def test_direct_inplace_matches_the_general_inplace_path(ufunc_name, other):
    def make():
        a = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        if other == "tensor":
            o = ember.tensor([[0.5, 1.5, 2.5], [1.0, 2.0, 4.0]])
        elif other == "tensor64":
            o = ember.tensor([[0.5, 1.5, 2.5], [1.0, 2.0, 4.0]], dtype=ember.float64)
        elif other == "broadcast":
            o = ember.tensor([1.0, 2.0, 4.0])
        elif other == "bad_shape":
            o = ember.tensor([1.0, 2.0])
        else:
            o = other
        return a, o

    cls = {"add_": Add, "sub_": Sub, "mul_": Mul, "div_": Div}[ufunc_name]
    uf = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.true_divide}[ufunc_name]

    def fast():
        a, o = make()
        r = operators.direct_inplace(a, o, uf)
        if r is None:  # declined: the general path
            r = write_inplace(a, cls.apply(a, o))
        return r

    def general():
        a, o = make()
        return write_inplace(a, cls.apply(a, o))

    def outcome(fn):
        try:
            r = fn()
            return r.numpy().copy(), r._version, r.dtype
        except Exception as e:
            return type(e), str(e)

    f, g = outcome(fast), outcome(general)
    assert type(f[0]) is type(g[0])
    if isinstance(g[0], type):
        assert f == g
    else:
        np.testing.assert_array_equal(f[0], g[0])
        assert f[1:] == g[1:]


def test_tensor_backward_fast_path_matches_autograd_backward():
    a = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((a * a).sum() * 2).backward()  # fast path
    ember.autograd.backward([(b * b).sum() * 2])  # general path
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("mode", ["fast", "inputs", "create_graph", "autograd.grad"])
def test_nan_loss_seeds_backward_with_one_as_torch(mode):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        loss = (x + float("nan")).sum() + (x * 3).sum()  # NaN loss, finite gradient (4)
        if mode == "fast":
            loss.backward()
            return x.grad
        if mode == "inputs":
            loss.backward(inputs=[x])
            return x.grad
        if mode == "create_graph":
            loss.backward(create_graph=True)
            return x.grad.detach()
        return lib.autograd.grad(loss, [x])[0]

    e, t = run(ember), run(torch)
    np.testing.assert_array_equal(e.numpy(), t.numpy())  # NaN where torch has NaN, not everywhere


def test_version_records_keep_no_activation_alive():
    x = ember.randn(64, 64, requires_grad=True)
    a = x * 2
    y = a.sin()
    loss = (y * y).sum()
    ref = weakref.ref(a)
    del a
    gc.collect()
    loss.backward()
    gc.collect()
    assert ref() is None  # torch frees it too; `loss` (and history lists of losses) may live on
    assert loss.grad_fn is not None


def test_create_graph_rebuilds_saved_tensors_from_version_records():
    for lib in (ember, torch):
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = (x * 2).sin()  # Sin saves its (non-leaf) input
        (g,) = lib.autograd.grad(y.sum(), [x], create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), [x])
        if lib is ember:
            e = gg.numpy()
        else:
            np.testing.assert_allclose(e, gg.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("layout", ["contiguous", "batch_last", "strided"])
def test_activation_kernels_match_the_general_path(fn, layout, monkeypatch):
    from ember.ops import kernels

    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 3, 5, 6)).astype(np.float32)
    base[0, 0, 0, :3] = [0.0, np.nan, -0.0]
    g = rng.standard_normal(base.shape).astype(np.float32)
    g[0, 0, 1, :3] = [np.nan, np.inf, -np.inf]

    def run():
        arr = base.copy()
        if layout == "batch_last":
            arr = np.ascontiguousarray(base.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        elif layout == "strided":
            arr = np.concatenate([base, base], axis=3)[..., ::2]
        x = ember.from_numpy(arr).requires_grad_()
        y = getattr(ember, fn)(x)
        y.backward(ember.from_numpy(g))
        return y.detach().numpy().copy(), x.grad.numpy().copy()

    fast = run()
    monkeypatch.setattr(kernels, "takes_kernel", lambda *a: False)
    general = run()
    for f, ge in zip(fast, general):
        np.testing.assert_array_equal(f, ge)


def test_relu_gradient_is_exactly_zero_where_clamped_as_torch():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([[-1.0, 0.0, 2.0, float("nan")]], requires_grad=True)
        lib.relu(x).backward(lib.tensor([[float("nan"), float("inf"), 1.0, 2.0]]))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)


def _conv_pool_net(x, w, b):
    y = ember.nn.functional.conv2d(x, w, b, padding=1)
    y = ember.relu(y)
    return ember.nn.functional.max_pool2d(y, 2)


@pytest.mark.parametrize("tie", [False, True])
def test_conv_and_pool_fast_paths_match_their_general_paths(tie, monkeypatch):
    from ember.ops import conv

    rng = np.random.default_rng(7)
    xs = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    if tie:
        xs[:, :, :4, :4] = 0.5  # ties inside pooling windows: the first maximum wins
    ws = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    bs = rng.standard_normal(4).astype(np.float32)

    def run():
        x, w, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (xs, ws, bs))
        out = _conv_pool_net(x, w, b)
        out.backward(ember.from_numpy(np.arange(out.numel(), dtype=np.float32).reshape(out.shape) % 7))
        return [out.detach().numpy().copy()] + [t.grad.numpy().copy() for t in (x, w, b)]

    fast = run()
    monkeypatch.setattr(conv, "uses_batch_last", lambda *a: False)
    monkeypatch.setattr(conv, "uses_tap_pool", lambda *a: False)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-5, atol=1e-5)


def _lenet_features(act):
    nn = ember.nn
    ember.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), act(), nn.MaxPool2d(2, 2), nn.Conv2d(4, 6, 3), act(), nn.MaxPool2d(2)
    )


@pytest.mark.parametrize("act", ["ReLU", "Sigmoid"])
@pytest.mark.parametrize("case", ["random", "ties", "nan", "nchw"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_act_pool_fusion_matches_the_two_nodes(act, case, dtype, monkeypatch):
    """Sequential's act -> MaxPool2d node (ops/act_pool.py) against the two nodes it replaces."""
    from ember.nn.modules import container

    net = _lenet_features(getattr(ember.nn, act)).to(getattr(ember, dtype))
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((5, 1, 14, 14)).astype(dtype)
    if case == "ties":
        xs[:, :, :8, :8] = 0.25  # equal conv outputs inside windows: the first maximum wins
    if case == "nan":
        xs[1, 0, 3, 3] = np.nan

    def run():
        for p in net.parameters():
            p.grad = None
        x = ember.from_numpy(xs.copy()).requires_grad_()
        if case == "nchw":  # an input that is not batch-last: the pair after a plain op
            act_fn = getattr(ember, act.lower())
            y = (
                container.FC.act_max_pool2d(x * 1.0, act.lower(), 2)
                if fused
                else ember.nn.functional.max_pool2d(act_fn(x * 1.0), 2)
            )
        else:
            y = net(x)
        y.backward(ember.from_numpy(rng_g.standard_normal(tuple(y.shape)).astype(dtype)))
        grads = [] if case == "nchw" else [p.grad.numpy().copy() for p in net.parameters()]
        return [y.detach().numpy().copy(), x.grad.numpy().copy()] + grads

    fused = True
    rng_g = np.random.default_rng(5)
    fast = run()
    names = [type(n).__name__ for n in _graph_nodes(net, xs, dtype)] if case != "nchw" else []
    if case != "nchw":
        assert "ActMaxPool" in names and "Relu" not in names and "Sigmoid" not in names
    monkeypatch.setattr(container, "fuses_act_pool", lambda *a: False)
    fused = False
    rng_g = np.random.default_rng(5)
    general = run()
    for f, g in zip(fast, general):
        if dtype == "float64" or act == "ReLU":
            np.testing.assert_array_equal(f, g)  # exact: relu always, sigmoid without float32 plateaus
        else:
            np.testing.assert_allclose(f, g, rtol=1e-5, atol=1e-6)


def _graph_nodes(net, xs, dtype):
    y = net(ember.from_numpy(xs.copy()).requires_grad_())
    seen, stack = [], [y.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or any(n is s for s in seen):
            continue
        seen.append(n)
        stack.extend(f for f, _ in n.next_functions)
    return seen


def test_act_pool_fusion_is_skipped_with_hooks_inplace_or_other_windows():
    from ember.nn.modules import container

    nn = ember.nn
    assert container.fuses_act_pool(nn.ReLU(), nn.MaxPool2d(2))
    assert not container.fuses_act_pool(nn.ReLU(inplace=True), nn.MaxPool2d(2))
    assert not container.fuses_act_pool(nn.ReLU(), nn.MaxPool2d(3, 2))
    assert not container.fuses_act_pool(nn.ReLU(), nn.MaxPool2d(2, padding=1))
    assert not container.fuses_act_pool(nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True))
    assert not container.fuses_act_pool(nn.Sigmoid(), nn.MaxPool2d(2, return_indices=True))
    relu = nn.ReLU()
    seen = []
    relu.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    assert not container.fuses_act_pool(relu, nn.MaxPool2d(2))
    net = nn.Sequential(nn.Conv2d(1, 2, 3), relu, nn.MaxPool2d(2))
    net(ember.randn(2, 1, 8, 8))
    assert seen == [(2, 2, 6, 6)]  # the hook saw the activation's own output


def test_bias_in_gemm_matches_the_separate_bias_add():
    """BL.conv_forward's `bias_in_gemm` fast path against y = W @ cols + b (bias_folds=False)."""
    from ember.ops import batch_last as BL

    rng = np.random.default_rng(11)
    for n, c, h, o, pad in [(6, 1, 12, 3, 0), (4, 3, 9, 5, 1)]:
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        p = ((pad, pad), (pad, pad))
        y1, c1 = BL.conv_forward(x, w, b, (1, 1), p, (1, 1))
        y2, c2 = BL.conv_forward(x, w, b, (1, 1), p, (1, 1), bias_folds=False)
        assert c1.ndim == 2 and c2.ndim == 6  # the fast path was taken, and the general one
        np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
        g = rng.standard_normal(y1.shape).astype(np.float32).transpose(3, 0, 1, 2)
        for need in [(True, True, True), (False, True, True), (False, True, False), (True, False, True)]:
            r1 = BL.conv_backward(g, c1, w, w.shape, x.shape, (1, 1), p, (1, 1), need)
            r2 = BL.conv_backward(g, c2, w, w.shape, x.shape, (1, 1), p, (1, 1), need)
            for a, e in zip(r1, r2):
                assert (a is None) == (e is None)
                if a is not None:
                    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("op", ["avg_pool", "dropout", "add"])
def test_layout_aware_avgpool_dropout_add_match_their_nchw_paths(op, monkeypatch):
    """AvgPool (tiled), Dropout and Add on batch-last tensors against the same ops on NCHW
    copies (the general path: the op does not take batch-last input)."""
    from ember.ops import conv, layers, pointwise

    F = ember.nn.functional
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    ws = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)

    def run():
        x, w = (ember.from_numpy(a.copy()).requires_grad_() for a in (xs, ws))
        h = F.conv2d(x, w, padding=1)  # batch-last
        if op == "avg_pool":
            y = F.avg_pool2d(h, 2)
        elif op == "dropout":
            ember.manual_seed(4)
            y = F.dropout(h, 0.4)
        else:
            y = h + F.conv2d(h, ember.from_numpy(np.ones((4, 4, 1, 1), np.float32)))
        layout = bool(y._batch_last)
        z = F.conv2d(y, w[:, :1].expand(4, 4, 3, 3).contiguous() * 0.5)
        z.backward(ember.from_numpy(rng_g.standard_normal(tuple(z.shape)).astype(np.float32)))
        return layout, [z.detach().numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy()]

    rng_g = np.random.default_rng(9)
    fast_layout, fast = run()
    assert fast_layout  # the op kept the batch-last layout
    cls = {"avg_pool": conv.AvgPool, "dropout": layers.Dropout, "add": pointwise.Add}[op]
    monkeypatch.setattr(cls, "takes_batch_last", False)
    rng_g = np.random.default_rng(9)
    general_layout, general = run()
    assert not general_layout
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((4, 8, 1, 1), (6, 8, 3, 3), 1, 1),  # a ResNet's last stage at 28x28 input: 1 live tap of 9
        ((4, 8, 2, 2), (6, 8, 3, 3), 2, 1),  # its strided entry: 4 of 9
        ((3, 2, 2, 3), (5, 2, 5, 3), 1, 2),
        ((3, 2, 3, 3), (4, 2, 7, 7), 2, 3),
    ],
)
def test_dead_tap_crop_matches_the_whole_kernel(x_shape, w_shape, stride, pad, monkeypatch):
    """Convolution's `dead_tap_crop` fast path against the whole kernel (crop disabled)."""
    from ember.ops import conv

    crop = conv.dead_tap_crop(x_shape, w_shape, (stride, stride), ((pad, pad), (pad, pad)), (1, 1))
    assert crop is not None
    rng = np.random.default_rng(1)
    xs, ws, bs = (rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[:1]))

    def run():
        x, w, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (xs, ws, bs))
        y = ember.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)
        y.backward(ember.from_numpy(np.linspace(-1, 1, y.numel(), dtype=np.float32).reshape(y.shape)))
        return [y.detach().numpy().copy()] + [t.grad.numpy().copy() for t in (x, w, b)]

    fast = run()
    monkeypatch.setattr(conv, "dead_tap_crop", lambda *a: None)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-5, atol=1e-5)
    dead = np.ones(w_shape[2:], bool)  # the dead taps' weight gradient is exactly 0
    (i0, i1, j0, j1), _ = crop
    dead[i0:i1, j0:j1] = False
    assert np.all(fast[2][:, :, dead] == 0)


# ---- ConvTranspose row paths and BatchNorm (issue #14, DCGAN) -------------------------------------
def _bl(a):
    """A batch-last (C, H, W, N) buffer seen as NCHW, as ember's convolution layers pass it on."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize(
    "xs, ws, kw",
    [
        ((5, 6, 1, 1), (6, 4, 4, 4), dict()),  # DCGAN's first generator layer: noise -> 4x4
        ((3, 4, 5, 6), (4, 3, 4, 4), dict(stride=2, padding=1)),  # its upsampling layers
        (
            (2, 3, 4, 5),
            (3, 2, 3, 2),
            dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2)),
        ),
    ],
)
@pytest.mark.parametrize("layout", ["contiguous", "batch_last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("one_block", [False, True])
def test_conv_transpose_row_paths_match_the_general_path(xs, ws, kw, layout, dtype, one_block, monkeypatch):
    """Blocks of one input row (every block boundary, zero-filled output) and one block (the
    covering taps of col2im_cropped written first, no zero fill) against the padded col2im."""
    from ember.ops import conv_transpose as CT

    rng = np.random.default_rng(11)
    x0, w0, b0 = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[1],)))
    monkeypatch.setattr(CT, "ROWS_BYTES", 1 << 30 if one_block else 1)
    if one_block:  # the write-first taps exist for DCGAN's layers
        x_hw, k = xs[2:], ws[2:]
        a = dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), output_padding=(0, 0))
        a.update({n: (v, v) if isinstance(v, int) else v for n, v in kw.items()})
        out_hw = [
            CT.transposed_size(*t)
            for t in zip(x_hw, k, a["stride"], a["padding"], a["dilation"], a["output_padding"])
        ]
        taps = CT._write_taps(k, a["stride"], a["padding"], a["dilation"], out_hw, x_hw)
        assert (taps is not None) == (kw.get("dilation") is None)

    def run():
        x = ember.from_numpy(_bl(x0) if layout == "batch_last" else x0.copy()).requires_grad_()
        w, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (w0, b0))
        y = ember.nn.functional.conv_transpose2d(x, w, b, **kw)
        y.backward(ember.from_numpy(np.sin(np.arange(y.numel(), dtype=dtype)).reshape(y.shape)))
        return [y.detach().numpy().copy()] + [t.grad.numpy().copy() for t in (x, w, b)]

    fast = run()
    monkeypatch.setattr(CT, "uses_rows", lambda *a: False)
    monkeypatch.setattr(CT, "uses_rows_backward", lambda *a: False)
    general = run()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for f, g in zip(fast, general):
        assert f.dtype == g.dtype == dtype
        np.testing.assert_allclose(f, g, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "shape, layout, grad_layout",
    [
        ((6, 4, 5, 3), "batch_last", "batch_last"),  # a DCGAN layer: convolution output, ReLU gradient
        ((6, 4, 5, 3), "batch_last", "contiguous"),  # LeakyReLU hands back an NCHW gradient
        ((6, 4, 5, 3), "contiguous", "batch_last"),
        ((6, 4, 5, 3), "contiguous", "contiguous"),
        ((1, 4, 2, 3), "batch_last", "contiguous"),  # one sample: both layouts are the same memory
        ((7, 4), "contiguous", "contiguous"),  # BatchNorm1d
        ((5, 4, 6), "contiguous", "contiguous"),
    ],
)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_rows_path_matches_the_general_path(
    shape, layout, grad_layout, training, affine, dtype, monkeypatch
):
    from ember.ops import norm

    rng = np.random.default_rng(13)
    x0 = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    g0 = rng.standard_normal(shape).astype(dtype)
    w0, b0 = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    rm0, rv0 = rng.standard_normal(shape[1]).astype(dtype), (rng.random(shape[1]) + 0.5).astype(dtype)

    def run():
        x = ember.from_numpy(_bl(x0) if layout == "batch_last" else x0.copy()).requires_grad_()
        w, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (w0, b0)) if affine else (None, None)
        rm, rv = ember.from_numpy(rm0.copy()), ember.from_numpy(rv0.copy())
        y = ember.nn.functional.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3)
        y.backward(ember.from_numpy(_bl(g0) if grad_layout == "batch_last" else g0.copy()))
        grads = [t.grad.numpy().copy() for t in (x, w, b) if t is not None]
        return [y.detach().numpy().copy(), rm.numpy().copy(), rv.numpy().copy()] + grads

    taken = []
    fast_path = norm.uses_rows
    monkeypatch.setattr(norm, "uses_rows", lambda *a: taken.append(fast_path(*a)) or taken[-1])
    fast = run()
    assert taken == [True]
    monkeypatch.setattr(norm, "uses_rows", lambda *a: False)
    general = run()
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for f, g in zip(fast, general):
        assert f.dtype == g.dtype == dtype
        np.testing.assert_allclose(f, g, rtol=tol, atol=tol)


# ---------------------------------------------------------------- sequence models (issue #13)
# Linear's folded GEMM and the embedding gradient's flat scatter-add, each against its general
# path (NumPy's per-matrix matmul loop; the row-wise np.add.at) and against torch.


def _linear_run(xs, ws, bs, contiguous):
    if contiguous or xs.ndim < 3:
        x = ember.from_numpy(xs.copy())
    else:  # a transposed view, as MultiheadAttention's batch-first inputs
        x = ember.from_numpy(np.ascontiguousarray(xs.swapaxes(0, 1))).transpose(0, 1)
        assert not x.is_contiguous()
    x.requires_grad_()
    w, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (ws, bs))
    out = ember.nn.functional.linear(x, w, b)
    out.backward(ember.from_numpy((np.arange(out.numel(), dtype=np.float32) % 5).reshape(out.shape)))
    return [out.detach().numpy().copy()] + [t.grad.numpy().copy() for t in (x, w, b)]


@pytest.mark.parametrize("shape", [(4, 6, 8), (2, 3, 5, 8), (6, 8)])
@pytest.mark.parametrize("contiguous", [True, False])
def test_linear_folded_gemm_matches_per_matrix_matmul(shape, contiguous, monkeypatch):
    from ember.ops import layers

    rng = np.random.default_rng(3)
    xs = rng.standard_normal(shape).astype(np.float32)
    ws, bs = rng.standard_normal((7, 8)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    fast = _linear_run(xs, ws, bs, contiguous)
    monkeypatch.setattr(layers, "rows_matmul_folded", layers.rows_matmul)
    general = _linear_run(xs, ws, bs, contiguous)
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-6, atol=1e-6)
    tx = torch.from_numpy(xs.copy()).requires_grad_()
    tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (ws, bs))
    tout = torch.nn.functional.linear(tx, tw, tb)
    tout.backward((torch.arange(tout.numel(), dtype=torch.float32) % 5).reshape(tout.shape))
    for f, t in zip(fast, (tout, tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(f, t.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert fast[0].flags.c_contiguous  # torch's linear output is contiguous too


@pytest.mark.parametrize("block", [None, 7])
def test_embedding_flat_scatter_add_matches_row_add_at(block, monkeypatch):
    from ember.ops import layers

    rng = np.random.default_rng(5)
    idx = rng.integers(0, 9, (6, 11))
    idx[0, :4] = 3  # repeated rows accumulate in order
    ws = rng.standard_normal((9, 5)).astype(np.float32)
    gs = rng.standard_normal((6, 11, 5)).astype(np.float32)
    if block is not None:  # several np.add.at blocks
        monkeypatch.setattr(layers, "_EMB_BLOCK", block)

    def run(lib, pad):
        w = lib.from_numpy(ws.copy()).requires_grad_()
        lib.nn.functional.embedding(lib.from_numpy(idx.copy()), w, padding_idx=pad).backward(
            lib.from_numpy(gs.copy())
        )
        return w.grad.numpy().copy()

    for pad in (None, 3):
        fast = run(ember, pad)
        with monkeypatch.context() as m:
            m.setattr(layers, "embedding_grad_flat", layers.embedding_grad_rows)
            general = run(ember, pad)
        np.testing.assert_array_equal(fast, general)  # the same additions in the same order
        np.testing.assert_allclose(fast, run(torch, pad), rtol=1e-6, atol=1e-6)


def _rnn_run(cls, sizes, packed, seed=11):
    T, B, I, H = sizes
    ember.manual_seed(seed)
    m = getattr(ember.nn, cls)(I, H, bidirectional=True)
    rng = np.random.default_rng(seed)
    x = ember.from_numpy(rng.standard_normal((T, B, I)).astype(np.float32)).requires_grad_()
    inp = x
    if packed:
        lengths = np.linspace(T, 1, B).astype(np.int64)
        inp = ember.nn.utils.rnn.pack_padded_sequence(x, ember.from_numpy(lengths))
    out, _ = m(inp)
    if packed:
        out, _ = ember.nn.utils.rnn.pad_packed_sequence(out)
    (out * ember.from_numpy(rng.standard_normal(out.shape).astype(np.float32))).sum().backward()
    return [out.detach().numpy().copy(), x.grad.numpy().copy()] + [
        p.grad.numpy().copy() for p in m.parameters()
    ]


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("packed", [False, True])
def test_recurrent_transposed_hidden_product_matches_general(cls, packed, monkeypatch):
    from ember.ops import recurrent

    chosen = recurrent.uses_transposed_product
    for sizes in ((5, 4, 3, 6), (3, 16, 8, 256)):  # forced on small sizes; chosen on real ones
        monkeypatch.setattr(recurrent, "uses_transposed_product", lambda *a: True)
        fast = _rnn_run(cls, sizes, packed)
        monkeypatch.setattr(recurrent, "uses_transposed_product", lambda *a: False)
        general = _rnn_run(cls, sizes, packed)
        for f, g in zip(fast, general):
            np.testing.assert_allclose(f, g, rtol=1e-5, atol=1e-6)
    assert chosen(np, 16, 256)  # the real size above takes the fast path


_POOLS = [  # (shape, kernel, stride, padding, dilation, ceil_mode)
    ((2, 3, 9, 9), 3, 2, 1, 1, False),  # ResNet's stem pool, odd size
    ((2, 3, 10, 7), 3, 2, 1, 1, True),
    ((2, 2, 8, 8), 2, 2, 0, 1, False),  # windows that tile the input
    ((1, 2, 8, 8), 2, 1, 0, 1, False),
    ((2, 2, 11, 11), 3, 2, 1, 2, False),
    ((2, 2, 7, 9), (2, 3), (1, 2), (1, 0), 1, True),
    ((3, 4, 6, 6), 5, 3, 2, 1, True),
]


@pytest.mark.parametrize("case", _POOLS)
@pytest.mark.parametrize("data", ["random", "ties", "nan", "batch_last", "int", "float64"])
def test_tap_max_pool_matches_the_window_path(case, data, monkeypatch):
    """MaxPool.forward_taps (strided tap slices, first max found again in backward) against
    MaxPool.forward_windows (the window array and its argmax), values and gradients."""
    from ember.ops import conv

    shape, k, s, p, d, cm = case
    rng = np.random.default_rng(3)
    xs = rng.standard_normal(shape).astype(np.float64 if data == "float64" else np.float32)
    if data == "ties":
        xs = np.round(xs)  # many equal values per window: the first (row-major) maximum wins
    if data == "nan":
        xs.flat[[5, 17, xs.size - 9]] = np.nan
    if data == "int":
        xs = (xs * 3).astype(np.int64)
    calls = []
    real = conv.MaxPool.forward_taps

    def spy(*a):
        calls.append(1)
        return real(*a)

    def run(fast):
        monkeypatch.setattr(conv, "uses_tap_pool", conv.uses_tap_pool if fast else (lambda *a: False))
        x = ember.from_numpy(xs.copy())
        if data == "batch_last":
            x = ember.from_numpy(np.ascontiguousarray(xs.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)
        if data != "int":
            x.requires_grad_()
        y = ember.nn.functional.max_pool2d(x, k, s, p, d, ceil_mode=cm)
        if data == "int":
            return [y.numpy().copy()]
        gy = np.arange(y.numel(), dtype=xs.dtype).reshape(y.shape) % 5 + 1
        y.backward(ember.from_numpy(gy))
        return [y.detach().numpy().copy(), x.grad.numpy().copy()]

    monkeypatch.setattr(conv.MaxPool, "forward_taps", staticmethod(spy))
    fast = run(True)
    assert calls, "the fast path did not run"
    general = run(False)
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "spec",  # (n, c, h, w, o, k, stride, pad, dil, bias)
    [
        (4, 3, 20, 20, 8, 3, 1, 1, 1, True),
        (3, 5, 17, 15, 6, 3, 2, 1, 1, False),
        (2, 4, 12, 12, 5, 5, 1, 2, 2, True),
        (2, 3, 9, 9, 4, 7, 2, 3, 1, False),  # a ResNet stem's shape of kernel
        (3, 6, 1, 1, 5, 3, 1, 1, 1, True),  # dead_tap_crop as well
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 3])  # 3 rows: the input gradient's even/odd blocks on 2 threads
def test_conv_row_blocks_match_the_whole_column_path(spec, dtype, rows, monkeypatch):
    """The batch-last conv's `row_blocks` form (columns built a few output rows at a time,
    blocks sharing input rows at their edges) against the whole-column conv_forward/backward."""
    from ember.ops import batch_last, conv

    n, c, h, w, o, k, s, p, d, bias = spec
    rng = np.random.default_rng(11)
    xs, ws, bs = (rng.standard_normal(sh).astype(dtype) for sh in ((n, c, h, w), (o, c, k, k), (o,)))
    calls = []
    real = batch_last.conv_backward_rows

    def spy(*a):
        calls.append(1)
        return real(*a)

    def run():
        x, wt, b = (ember.from_numpy(a.copy()).requires_grad_() for a in (xs, ws, bs))
        y = ember.nn.functional.conv2d(x, wt, b if bias else None, s, p, d)
        y.backward(ember.from_numpy(np.arange(y.numel(), dtype=dtype).reshape(y.shape) % 7 - 3))
        return [y.detach().numpy().copy()] + [
            t.grad.numpy().copy() for t in ((x, wt, b) if bias else (x, wt))
        ]

    monkeypatch.setattr(batch_last, "conv_backward_rows", spy)
    monkeypatch.setattr(
        batch_last,
        "_row_blocks",
        lambda c, kh, kw, oh, *a: [(r, min(r + rows, oh)) for r in range(0, oh, rows)],
    )
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    from ember import _threads

    monkeypatch.setattr(_threads, "_MIN_ITEMS", 0)  # small test arrays still go across threads
    monkeypatch.setattr(conv, "uses_row_blocks", lambda *a: True)
    fast = run()
    assert calls, "the row-block path did not run"
    monkeypatch.setattr(conv, "uses_row_blocks", lambda *a: False)
    general = run()
    ember.set_num_threads(threads)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=tol, atol=tol)


def _lstm_run(dtype, packed, proj, seed=12):
    T, B, I, H = 6, 5, 4, 7
    ember.manual_seed(seed)
    m = ember.nn.LSTM(I, H, bidirectional=True, proj_size=proj).to(dtype)
    rng = np.random.default_rng(seed)
    x = ember.from_numpy((3 * rng.standard_normal((T, B, I))).astype(dtype)).requires_grad_()
    inp = x
    if packed:
        inp = ember.nn.utils.rnn.pack_padded_sequence(x, ember.from_numpy(np.array([6, 6, 4, 2, 1])))
    out, (h, c) = m(inp)
    if packed:
        out, _ = ember.nn.utils.rnn.pad_packed_sequence(out)
    (out * ember.from_numpy(rng.standard_normal(out.shape).astype(dtype))).sum().backward()
    return [out.detach().numpy().copy(), h.detach().numpy().copy(), c.detach().numpy().copy()] + [
        t.grad.numpy().copy() for t in [x, *m.parameters()]
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("proj", [0, 3])
def test_lstm_exp_gates_match_the_tanh_gates(dtype, packed, proj, monkeypatch):
    from ember.ops import recurrent

    assert recurrent.uses_exp_gates(np)
    monkeypatch.setattr(recurrent, "uses_jit_cell", lambda xp, dt: False)  # the NumPy cells only
    fast = _lstm_run(dtype, packed, proj)
    monkeypatch.setattr(recurrent, "uses_exp_gates", lambda xp: False)
    general = _lstm_run(dtype, packed, proj)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=tol, atol=tol)


_NEEDS_NUMBA = pytest.mark.skipif(
    ember._jit.numba_module() is None, reason="numba (the jit extra) is not installed or EMBER_JIT=0"
)


@_NEEDS_NUMBA
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("proj", [0, 3])
@pytest.mark.parametrize("seed", [12, 13])
def test_lstm_jit_cell_matches_the_numpy_cell(packed, proj, seed, monkeypatch):
    from ember.ops import recurrent

    assert recurrent.uses_jit_cell(np, np.float32) and not recurrent.uses_jit_cell(np, np.float64)
    calls = []
    fwd, bwd = recurrent.lstm_kernels()
    monkeypatch.setattr(recurrent, "lstm_kernels", lambda: (lambda *a: calls.append(1) or fwd(*a), bwd))
    fast = _lstm_run(np.float32, packed, proj, seed)
    assert calls, "the compiled cell ran"
    monkeypatch.setattr(recurrent, "uses_jit_cell", lambda xp, dt: False)
    general = _lstm_run(np.float32, packed, proj, seed)
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=2e-6, atol=2e-6)


@_NEEDS_NUMBA
def test_lstm_jit_tanh_saturates_and_propagates_nan_like_numpy():
    from ember.ops import recurrent_jit

    a = np.array(
        [np.nan, -np.inf, -1e30, -50.0, -7.9, -3.0, -1e-3, -1e-30, -0.0, 0.0, 1e-30, 0.5, 7.9, 9.0, np.inf]
    )
    a = np.concatenate([a, np.linspace(-10, 10, 4001)]).astype(np.float32)
    g = np.repeat(a[:, None], 4, axis=1)  # H = 1: columns i, f, g, o
    cp = np.ones((len(a), 1), np.float32)
    c, tc, h = (np.empty_like(cp) for _ in range(3))
    recurrent_jit.lstm_forward(g, cp, c, tc, h)
    with np.errstate(over="ignore", invalid="ignore"):
        sig = 1 / (1 + np.exp(-a.astype(np.float64)))
    np.testing.assert_allclose(g[:, 2], np.tanh(a.astype(np.float64)), rtol=0, atol=4e-7)
    np.testing.assert_allclose(g[:, 0], sig, rtol=0, atol=4e-7)
    assert np.isnan(g[0]).all() and np.isnan(h[0, 0])
    assert g[1, 2] == -1 and g[14, 2] == 1 and g[14, 0] == 1 and 0 <= g[1, 0] < 1e-6
    assert (np.abs(g[1:, 2]) <= 1).all() and (g[1:, 0] >= 0).all() and (g[1:, 0] <= 1).all()


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_last", [False, True])
def test_leaky_relu_kernel_matches_the_select(slope, dtype, batch_last, monkeypatch):
    """kernels.leaky_relu_* (max(x, s x), gradient from the output) against LeakyRelu's general
    where(x > 0, x, s x), zeros, -0.0, NaN and infinities included, in either layout."""
    from ember.ops import activation

    rng = np.random.default_rng(5)
    xs = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    xs.flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30]
    gs = rng.standard_normal(xs.shape).astype(dtype)

    def run():
        x = ember.from_numpy(xs.copy())
        if batch_last:
            x = ember.from_numpy(np.ascontiguousarray(xs.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)
        x.requires_grad_()
        y = ember.nn.functional.leaky_relu(x, slope)
        y.backward(ember.from_numpy(gs))
        return y.detach().numpy().copy(), x.grad.numpy().copy()

    calls = []
    real = activation.kernels.leaky_relu_forward
    monkeypatch.setattr(activation.kernels, "leaky_relu_forward", lambda *a: calls.append(1) or real(*a))
    fast = run()
    assert bool(calls) == (slope > 0), "the kernel runs exactly for slopes in (0, 1]"
    monkeypatch.setattr(activation, "uses_leaky_kernel", lambda *a: False)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_array_equal(f, g)


def test_lstm_exp_gates_saturate_without_warnings(monkeypatch):
    import warnings

    from ember.ops import recurrent
    from ember.ops.recurrent import LstmGatesExp, LstmGatesTanh

    a = np.array([-1e4, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0], np.float32)
    a = np.repeat(a[:, None], 4, axis=1)  # H = 1: columns i, f, g, o
    ge, gt = LstmGatesExp(np, 1, np.float32), LstmGatesTanh(np, 1, np.float32)
    e, t = a * ge.scale, a * gt.scale
    with np.errstate(over="ignore"):
        ge(np, e)
    gt(np, t)
    np.testing.assert_allclose(e, t, rtol=0, atol=2e-7)
    assert e[0, 0] == 0 and e[0, 2] == -1 and e[-1, 0] == 1 and e[-1, 2] == 1
    monkeypatch.setattr(recurrent, "uses_jit_cell", lambda xp, dt: False)
    x = ember.from_numpy(np.full((3, 2, 4), 1e4, np.float32) * np.array([1, -1], np.float32)[:, None])
    m = ember.nn.LSTM(4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the layer's exp overflow is silenced
        fast = m(x)[0].detach().numpy()
    monkeypatch.setattr(recurrent, "uses_exp_gates", lambda xp: False)
    np.testing.assert_allclose(fast, m(x)[0].detach().numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_dot_matches_the_general_norm(dtype, monkeypatch):
    from ember.nn.utils import clip_grad

    rng = np.random.default_rng(3)
    shapes = [(7, 5), (300,), (2, 3, 4), (0,), ()]
    base = [rng.standard_normal(s).astype(dtype) for s in shapes]
    noncontig = rng.standard_normal((6, 8)).astype(dtype)[:, ::2]

    def run(scale):
        ps = [ember.from_numpy(b.copy()).requires_grad_() for b in base] + [ember.zeros(6, 4, dtype=dtype)]
        for p, b in zip(ps, base + [noncontig]):
            p.grad = ember.from_numpy(np.asarray(b * scale, dtype=dtype))
        n = ember.nn.utils.clip_grad_norm_(ps, 1.0)
        return [float(n)] + [p.grad.numpy().copy() for p in ps]

    for scale in (1e-3, 10.0):  # below max_norm (no scaling) and above
        fast = run(scale)
        with monkeypatch.context() as m:
            m.setattr(clip_grad, "norm2_dot", lambda xp, a: clip_grad._norm(xp, a, 2.0))
            general = run(scale)
        tol = 1e-6 if dtype == np.float32 else 1e-14
        for f, g in zip(fast, general):
            np.testing.assert_allclose(f, g, rtol=tol, atol=0)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_self_attention_split_projection_matches_the_packed_one(batch_first, bias, monkeypatch):
    from ember.nn import functional_attention as fa

    rng = np.random.default_rng(4)
    xs = rng.standard_normal((3, 5, 8)).astype(np.float32)

    def run():
        ember.manual_seed(2)
        m = ember.nn.MultiheadAttention(8, 2, bias=bias, batch_first=batch_first)
        x = ember.from_numpy(xs.copy()).requires_grad_()
        out, _ = m(x, x, x, need_weights=False)
        (out * ember.from_numpy(xs[..., ::-1].copy())).sum().backward()
        return [out.detach().numpy().copy(), x.grad.numpy().copy()] + [
            p.grad.numpy().copy() for p in m.parameters()
        ]

    fast = run()
    monkeypatch.setattr(fa, "in_projection_self", fa._in_projection_packed)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_allclose(f, g, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("shape", [(4, 6, 8), (5, 3, 2, 4)])
def test_layer_norm_buffer_backward_matches_the_general_path(affine, shape, monkeypatch):
    from ember.ops.norm import LayerNorm

    rng = np.random.default_rng(6)
    xs = rng.standard_normal(shape).astype(np.float32)
    gs = rng.standard_normal(shape).astype(np.float32)

    def run():
        ember.manual_seed(1)
        m = ember.nn.LayerNorm(shape[-2:], elementwise_affine=affine)
        if affine:
            with ember.no_grad():
                m.weight.normal_()
                m.bias.normal_()
        x = ember.from_numpy(xs.copy()).requires_grad_()
        out = m(x)
        out.backward(ember.from_numpy(gs.copy()))
        return [out.detach().numpy().copy(), x.grad.numpy().copy()] + [
            p.grad.numpy().copy() for p in m.parameters()
        ]

    fast = run()
    monkeypatch.setattr(LayerNorm, "backward_buffers", LayerNorm.backward_general)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_array_equal(f, g)  # the same operations in the same order


@pytest.mark.parametrize("p", [0.0, 1e-300, 0.1, 0.5, 0.9, 1.0 - 2.0**-53, 1.0, 0.3])
def test_bernoulli_words_match_the_double_uniform_compare(p):
    from ember import _sampling

    rng = np.random.default_rng(7)
    r = rng.integers(0, 1 << 32, 20000, dtype=np.uint32)
    K = int(np.ceil(p * 2.0**53))
    # word pairs on and around the threshold k = K - 1, K, K + 1 (ties in the high word)
    for j, k in enumerate((K - 1, K, K + 1, K - (1 << 32), K + (1 << 32))):
        k = min(max(k, 0), (1 << 53) - 1)
        for junk in (0, 0xFFE00000):  # bits above the 53 used ones are ignored
            r[4 * j + (2 if junk else 0)] = ((k >> 32) | junk) & 0xFFFFFFFF
            r[4 * j + (2 if junk else 0) + 1] = k & 0xFFFFFFFF
    fast = _sampling.bernoulli_words(r, p)
    general = _sampling.bernoulli_uniform(r, p)
    assert fast.dtype == general.dtype == bool
    np.testing.assert_array_equal(fast, general)


@pytest.mark.parametrize(
    "spec",  # (n, c, h, w, o, k, pad, dil)
    [
        (3, 4, 9, 9, 5, 3, 1, 1),
        (2, 3, 8, 10, 4, 3, 0, 1),
        (2, 3, 11, 11, 6, 3, 2, 2),
        (2, 5, 7, 7, 40, 5, 2, 1),
    ],
)
@pytest.mark.parametrize("rows", [False, True])
def test_flipped_conv_input_grad_matches_col2im(spec, rows, monkeypatch):
    """batch_last.input_grad_flipped (the input gradient of a stride-1 conv as a conv of the
    output gradient with the flipped kernel) against col2im of w^T @ gy, in the whole-column
    and the row-block backward."""
    from ember.ops import batch_last, conv

    n, c, h, w, o, k, p, d = spec
    rng = np.random.default_rng(8)
    xs, ws = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
    monkeypatch.setattr(conv, "uses_row_blocks", lambda *a: rows)
    monkeypatch.setattr(batch_last, "_TOEPLITZ_MAX_OUT", 0)  # not the row-Toeplitz path
    calls = []
    real = batch_last.input_grad_flipped
    monkeypatch.setattr(batch_last, "input_grad_flipped", lambda *a: calls.append(1) or real(*a))

    def run():
        x, wt = ember.from_numpy(xs.copy()).requires_grad_(), ember.from_numpy(ws.copy()).requires_grad_()
        y = ember.nn.functional.conv2d(x, wt, None, 1, p, d)
        y.backward(ember.from_numpy(np.arange(y.numel(), dtype=np.float64).reshape(y.shape) % 5 - 2))
        return x.grad.numpy().copy()

    fast = run()
    assert calls, "the flipped-kernel path did not run"
    monkeypatch.setattr(batch_last, "uses_flipped_conv", lambda *a: False)
    np.testing.assert_allclose(fast, run(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cols", [100, 784, 5000, 9000])
def test_split_gemms_match_one_matmul(cols, monkeypatch):
    """batch_last._gemm / _gemm_nt on ember's threads (column blocks of _GEMM_COLS, or cols /
    threads when that gives fewer blocks than threads: `_block`) against one NumPy matmul."""
    from ember import _threads
    from ember.ops import batch_last as BL

    monkeypatch.setattr(_threads, "_MIN_ITEMS", 0)  # small test arrays still go across threads
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((8, 30)).astype(np.float32), rng.standard_normal((30, cols)).astype(np.float32)
    g = rng.standard_normal((12, cols)).astype(np.float32)
    before = ember.get_num_threads()
    try:
        for threads in (1, 2, 3):
            ember.set_num_threads(threads)
            step = BL._block(cols)
            assert step % 64 == 0 and (
                threads == 1 or cols >= threads * BL._GEMM_COLS or step * threads >= cols
            )
            np.testing.assert_allclose(BL._gemm(a, b), a @ b, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(BL._gemm_nt(g, b), g @ b.T, rtol=1e-4, atol=1e-4)
    finally:
        ember.set_num_threads(before)


@pytest.mark.parametrize("n", [2, 3, 5, 17, 65, 200, 4097])
def test_randperm_jumps_matches_the_sequential_swaps(n):
    from ember import _sampling

    rng = np.random.default_rng(n)
    for trial in range(30):
        steps = n - 1
        if trial % 3 == 0:  # many self-swaps and repeated targets: short chains everywhere
            targets = np.minimum(np.arange(steps) + rng.integers(0, 3, steps), n - 1)
        else:
            targets = np.arange(steps) + (
                rng.integers(0, 2**32, steps, dtype=np.uint64) % np.arange(n, 1, -1, dtype=np.uint64)
            ).astype(np.int64)
        fast, general = _sampling.randperm_jumps(n, targets), _sampling.randperm_swaps(n, targets)
        np.testing.assert_array_equal(fast, general)
        assert sorted(fast.tolist()) == list(range(n))


def test_random_sampler_skips_the_empty_last_permutation_with_torchs_draws():
    import torch

    for lib in (ember, torch):
        lib.manual_seed(0)
    ge, gt = ember.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    se = list(ember.utils.data.RandomSampler(range(300), generator=ge))
    st = list(torch.utils.data.RandomSampler(range(300), generator=gt))
    assert se == st
    # the generator moved past the extra permutation torch draws at the end of the pass
    assert (
        ember.randint(0, 1000, (5,), generator=ge).tolist()
        == torch.randint(0, 1000, (5,), generator=gt).tolist()
    )


@_NEEDS_NUMBA
def test_compiled_mersenne_twister_gives_numpys_words_and_state(monkeypatch):
    from ember import _mt19937

    sizes = [1, 4095, 4096, 623, 624, 625, 10_000, 3, 70_001, 1248, 5000]

    def run():
        eng = _mt19937.Engine(1234)
        words = [eng.random32(n) for n in sizes]
        words.append(np.array([eng.one32()], dtype=np.uint32))
        words.append(eng.random32(9000))
        return words, eng.to_bytes()

    calls = []
    real = _mt19937.mt_kernel()
    monkeypatch.setattr(_mt19937, "mt_kernel", lambda: lambda *a: calls.append(1) or real(*a))
    fast, fast_state = run()
    assert len(calls) == sum(n >= _mt19937.JIT_MIN_WORDS for n in sizes) + 1
    monkeypatch.setattr(_mt19937, "mt_kernel", lambda: None)
    general, general_state = run()
    for f, g in zip(fast, general):
        assert f.dtype == np.uint32
        np.testing.assert_array_equal(f, g)
    np.testing.assert_array_equal(fast_state, general_state)


@_NEEDS_NUMBA
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.99), (0.3, 0.9)])
@pytest.mark.parametrize(
    "wd,decoupled,maximize", [(0, False, False), (0.1, False, True), (0.01, True, False)]
)
def test_adam_kernel_matches_the_numpy_update_bitwise(betas, wd, decoupled, maximize, monkeypatch):
    from ember.optim import adam

    rng = np.random.default_rng(3)
    w0 = [rng.standard_normal(s).astype(np.float32) for s in [(40, 30), (300,), (7,), (2, 3, 50)]]
    gs = [
        [(rng.standard_normal(w.shape) * 10.0 ** rng.integers(-6, 3)).astype(np.float32) for w in w0]
        for _ in range(4)
    ]

    def run():
        ps = [ember.nn.Parameter(ember.from_numpy(w.copy())) for w in w0]
        opt = ember.optim.Adam(
            ps, lr=3e-3, betas=betas, weight_decay=wd, decoupled_weight_decay=decoupled, maximize=maximize
        )
        for step in gs:
            for p, g in zip(ps, step):
                p.grad = ember.from_numpy(g.copy())
            opt.step()
        return [p.detach().numpy().copy() for p in ps] + [
            opt.state[p][k]._data.copy() for p in ps for k in ("exp_avg", "exp_avg_sq")
        ]

    calls = []
    real = adam.adam_kernel()
    monkeypatch.setattr(adam, "adam_kernel", lambda: lambda *a: calls.append(1) or real(*a))
    fast = run()
    assert len(calls) == 4 * 3, "the kernel ran for the three tensors of 256+ elements"
    monkeypatch.setattr(adam, "uses_adam_kernel", lambda *a: False)
    general = run()
    for f, g in zip(fast, general):
        np.testing.assert_array_equal(f, g)
