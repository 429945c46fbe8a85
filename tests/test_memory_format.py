"""torch.memory_format: channels_last / preserve / contiguous strides, against real torch."""

import pickle

import numpy as np
import pytest
import torch

import ember


def _both(fn):
    out = []
    for lib in (ember, torch):
        x = lib.tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
        out.append(fn(lib, x))
    return out


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: x.contiguous(memory_format=lib.channels_last),
        lambda lib, x: x.to(memory_format=lib.channels_last),
        lambda lib, x: x.contiguous(memory_format=lib.channels_last).clone(),
        lambda lib, x: x.contiguous(memory_format=lib.channels_last).contiguous(),
        lambda lib, x: x.contiguous(memory_format=lib.channels_last) * 2,
        lambda lib, x: x.contiguous(memory_format=lib.channels_last).to(lib.float64),
        lambda lib, x: x.clone(memory_format=lib.channels_last),
        lambda lib, x: x.permute(0, 1, 3, 2).clone(),
        lambda lib, x: x.permute(0, 1, 3, 2).clone(memory_format=lib.contiguous_format),
        lambda lib, x: lib.zeros_like(x.permute(0, 1, 3, 2)),
        lambda lib, x: lib.ones_like(x.contiguous(memory_format=lib.channels_last)),
        lambda lib, x: lib.full_like(x.contiguous(memory_format=lib.channels_last), 3.0),
        lambda lib, x: lib.empty_like(
            x.contiguous(memory_format=lib.channels_last), memory_format=lib.contiguous_format
        ),
        lambda lib, x: lib.zeros_like(x, memory_format=lib.channels_last),
        lambda lib, x: lib.zeros_like(x[:, :, ::2]),
        lambda lib, x: lib.zeros_like(x.permute(0, 1, 3, 2)[:, :, ::2]),
    ],
)
def test_strides_and_values_match_torch(fn):
    e, t = _both(fn)
    assert e.stride() == t.stride()
    assert e.is_contiguous() == t.is_contiguous()
    assert e.is_contiguous(memory_format=ember.channels_last) == t.is_contiguous(
        memory_format=torch.channels_last
    )
    if not (fn.__code__.co_names and "empty_like" in fn.__code__.co_names):
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_formats_print_and_pickle_like_torch():
    assert repr(ember.channels_last) == "torch.channels_last"
    assert repr(ember.preserve_format) == "torch.preserve_format"
    assert pickle.loads(pickle.dumps(ember.contiguous_format)) is ember.contiguous_format


def test_errors_match_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
            lib.ones(3).contiguous(memory_format=lib.channels_last)
        cl = lib.ones(1, 2, 3, 4).contiguous(memory_format=lib.channels_last)
        with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
            cl.contiguous(memory_format=lib.preserve_format)


def test_channels_last_gradients_flow():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(np.linspace(-1, 1, 48, dtype=np.float32).reshape(2, 2, 3, 4), requires_grad=True)
        y = x.contiguous(memory_format=lib.channels_last)
        w = lib.tensor(np.ones((3, 2, 2, 2), np.float32))
        (lib.nn.functional.conv2d(y, w) ** 2).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)
