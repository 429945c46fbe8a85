"""Bad input, run through torch and ember: the same exception class, and ember's message names
every shape and dtype torch's names (issue #12). Add a row when a module arrives.

Each row is `name: call(lib)`, where lib is `torch` or `ember` (same API). A row where torch does
not raise must not raise in ember either, and both results must have the same shape and dtype.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch

import ember


def _p(lib, *shape):
    return lib.nn.Parameter(lib.ones(*shape))


def _lsd(lib, sd, strict=True):
    lin = lib.nn.Linear(2, 2)
    return lin.load_state_dict({k: v(lib) if callable(v) else v for k, v in sd.items()}, strict=strict)


_W = lambda lib: lib.zeros(2, 2)  # noqa: E731
_B = lambda lib: lib.zeros(2)  # noqa: E731

ROWS = {
    # -- losses ------------------------------------------------------------------------------
    "ce_int_logits": lambda L: L.nn.functional.cross_entropy(L.tensor([[1, 2], [3, 4]]), L.tensor([0, 1])),
    "ce_int_logits_4d": lambda L: L.nn.functional.cross_entropy(
        L.zeros(2, 3, 2, 2, dtype=L.long), L.zeros(2, 2, 2, dtype=L.long)
    ),
    "ce_bool_logits": lambda L: L.nn.functional.cross_entropy(L.tensor([[True, False]]), L.tensor([0])),
    "ce_float_class_target": lambda L: L.nn.functional.cross_entropy(L.randn(4, 3), L.tensor([0.0, 1, 2, 1])),
    "ce_float_target_bad_batch": lambda L: L.nn.functional.cross_entropy(
        L.randn(4, 3), L.tensor([0.0, 1, 2])
    ),
    "ce_spatial_mismatch": lambda L: L.nn.functional.cross_entropy(
        L.randn(2, 3, 4, 4), L.zeros(2, 4, 5, dtype=L.long)
    ),
    "ce_3d_mismatch": lambda L: L.nn.functional.cross_entropy(L.randn(2, 3, 4), L.zeros(2, 5, dtype=L.long)),
    "ce_batch_mismatch": lambda L: L.nn.functional.cross_entropy(L.randn(4, 3), L.tensor([0, 1])),
    "ce_target_out_of_range": lambda L: L.nn.functional.cross_entropy(L.randn(2, 3), L.tensor([0, 3])),
    "ce_weight_size": lambda L: L.nn.functional.cross_entropy(
        L.randn(2, 3), L.tensor([0, 1]), weight=L.ones(2)
    ),
    "ce_label_smoothing": lambda L: L.nn.functional.cross_entropy(
        L.randn(2, 3), L.tensor([0, 1]), label_smoothing=1.5
    ),
    "ce_probabilities_dtype": lambda L: L.nn.functional.cross_entropy(
        L.randn(2, 3), L.rand(2, 3, dtype=L.float64)
    ),
    "nll_int_input": lambda L: L.nn.functional.nll_loss(L.tensor([[1, 2]]), L.tensor([0])),
    "nll_int_input_3d": lambda L: L.nn.functional.nll_loss(
        L.zeros(2, 3, 4, dtype=L.long), L.zeros(2, 4, dtype=L.long)
    ),
    "nll_negative_target": lambda L: L.nn.functional.nll_loss(L.randn(2, 3), L.tensor([0, -2])),
    "nll_2d_mismatch": lambda L: L.nn.functional.nll_loss(
        L.randn(2, 3, 4, 4), L.zeros(2, 4, 5, dtype=L.long)
    ),
    "nll_float_target": lambda L: L.nn.functional.nll_loss(L.randn(4, 3), L.tensor([0.0, 1, 2, 1])),
    "mse_int": lambda L: L.nn.functional.mse_loss(L.tensor([1, 2]), L.tensor([1, 2])),
    "mse_int_sum": lambda L: L.nn.functional.mse_loss(L.tensor([1, 2]), L.tensor([1, 2]), reduction="sum"),
    "mse_bool": lambda L: L.nn.functional.mse_loss(L.tensor([True]), L.tensor([True])),
    "mse_module_int": lambda L: L.nn.MSELoss()(L.tensor([1, 2]), L.tensor([1, 2])),
    "mse_bad_reduction": lambda L: L.nn.functional.mse_loss(L.randn(2), L.randn(2), reduction="avg"),
    "mse_broadcast_mismatch": lambda L: L.nn.functional.mse_loss(L.randn(3), L.randn(2)),
    "mse_int_and_float": lambda L: L.nn.functional.mse_loss(L.tensor([1.0, 2.0]), L.tensor([1, 2])),
    "l1_int_mean": lambda L: L.nn.functional.l1_loss(L.tensor([1, 2]), L.tensor([1, 3])),
    "smooth_l1_int": lambda L: L.nn.functional.smooth_l1_loss(L.tensor([1, 2]), L.tensor([1, 3])),
    "smooth_l1_negative_beta": lambda L: L.nn.functional.smooth_l1_loss(L.randn(2), L.randn(2), beta=-1.0),
    "huber_int": lambda L: L.nn.functional.huber_loss(L.tensor([1, 2]), L.tensor([1, 3])),
    "huber_int_input_float_target": lambda L: L.nn.functional.huber_loss(
        L.tensor([1, 2]), L.tensor([1.0, 2])
    ),
    "huber_zero_delta": lambda L: L.nn.functional.huber_loss(L.randn(2), L.randn(2), delta=0.0),
    "bce_target_above_one": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([2.0, 0])
    ),
    "bce_target_nan": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([float("nan"), 0])
    ),
    "bce_input_above_one": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([1.5, 0.5]), L.tensor([1.0, 0])
    ),
    "bce_input_nan": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([float("nan"), 0.5]), L.tensor([1.0, 0])
    ),
    "bce_shape": lambda L: L.nn.functional.binary_cross_entropy(L.tensor([0.5, 0.5]), L.tensor([1.0, 0, 1])),
    "bce_int_input": lambda L: L.nn.functional.binary_cross_entropy(L.tensor([1, 0]), L.tensor([1, 0])),
    "bce_int_target": lambda L: L.nn.functional.binary_cross_entropy(L.tensor([1.0, 0]), L.tensor([1, 0])),
    "bce_module_target_out": lambda L: L.nn.BCELoss()(L.tensor([0.5]), L.tensor([-1.0])),
    "bce_logits_int_input": lambda L: L.nn.functional.binary_cross_entropy_with_logits(
        L.tensor([1, 2]), L.tensor([1.0, 0])
    ),
    "bce_logits_int_target": lambda L: L.nn.functional.binary_cross_entropy_with_logits(
        L.tensor([1.0, 2]), L.tensor([1, 0])
    ),
    "bce_logits_shape": lambda L: L.nn.functional.binary_cross_entropy_with_logits(L.randn(2), L.rand(3)),
    "kl_div_int": lambda L: L.nn.functional.kl_div(L.tensor([1, 2]), L.tensor([1, 2]), reduction="sum"),
    "kl_div_int_target": lambda L: L.nn.functional.kl_div(
        L.tensor([1.0, 2]), L.tensor([1, 2]), reduction="sum"
    ),
    # -- activations, reductions, parameters ---------------------------------------------------
    "softmax_int": lambda L: L.nn.functional.softmax(L.tensor([1, 2]), dim=0),
    "softmax_int_not_last_dim": lambda L: L.nn.functional.softmax(L.tensor([[1, 2], [3, 4]]), dim=0),
    "log_softmax_int": lambda L: L.nn.functional.log_softmax(L.tensor([1, 2]), dim=0),
    "softmax_dim_out_of_range": lambda L: L.nn.functional.softmax(L.randn(2, 3), dim=2),
    "softmax_int_with_dtype": lambda L: L.nn.functional.softmax(L.tensor([1, 2]), dim=0, dtype=L.float32),
    "parameter_int": lambda L: L.nn.Parameter(L.tensor([1, 2])),
    "parameter_bool": lambda L: L.nn.Parameter(L.tensor([True])),
    "parameter_int_no_grad": lambda L: L.nn.Parameter(L.tensor([1, 2]), requires_grad=False),
    "argmax_empty": lambda L: L.tensor([]).argmax(),
    "argmin_empty": lambda L: L.tensor([]).argmin(),
    "argmax_empty_dim": lambda L: L.zeros(0, 3).argmax(dim=0),
    "argmax_empty_other_dim": lambda L: L.zeros(0, 3).argmax(dim=1),
    "max_empty": lambda L: L.tensor([]).max(),
    # -- layers -------------------------------------------------------------------------------
    "linear_shape": lambda L: L.nn.Linear(3, 2)(L.randn(4, 5)),
    "linear_dtype": lambda L: L.nn.Linear(3, 2)(L.randn(4, 3, dtype=L.float64)),
    "conv_channels": lambda L: L.nn.Conv2d(3, 2, 3)(L.randn(1, 4, 5, 5)),
    "conv_kernel_too_big": lambda L: L.nn.Conv2d(1, 2, 3)(L.randn(1, 1, 2, 2)),
    "conv_2d_input": lambda L: L.nn.Conv2d(1, 2, 3)(L.randn(5, 5)),
    "embedding_out_of_range": lambda L: L.nn.Embedding(3, 2)(L.tensor([3])),
    "embedding_float_index": lambda L: L.nn.Embedding(3, 2)(L.tensor([1.0])),
    "batchnorm2d_channels": lambda L: L.nn.BatchNorm2d(3)(L.randn(2, 4, 2, 2)),
    "batchnorm1d_channels": lambda L: L.nn.BatchNorm1d(3)(L.randn(2, 4)),
    "batchnorm2d_channels_eval": lambda L: L.nn.BatchNorm2d(3).eval()(L.randn(2, 4, 2, 2)),
    "batchnorm2d_channels_no_stats": lambda L: L.nn.BatchNorm2d(3, track_running_stats=False)(
        L.randn(2, 4, 2, 2)
    ),
    "batchnorm2d_empty_batch": lambda L: L.nn.BatchNorm2d(3)(L.randn(0, 3, 2, 2)),
    "batchnorm1d_one_value": lambda L: L.nn.BatchNorm1d(3)(L.randn(1, 3)),
    "batchnorm2d_3d_input": lambda L: L.nn.BatchNorm2d(3)(L.randn(2, 3, 2)),
    "batch_norm_functional_channels": lambda L: L.nn.functional.batch_norm(
        L.randn(2, 4), L.zeros(3), L.ones(3)
    ),
    "layernorm_shape": lambda L: L.nn.LayerNorm(4)(L.randn(2, 3)),
    "layernorm_int": lambda L: L.nn.functional.layer_norm(L.ones(2, 3, dtype=L.long), (3,)),
    "batchnorm_int": lambda L: L.nn.BatchNorm1d(3)(L.ones(2, 3, dtype=L.long)),
    "batchnorm_one_value_wrong_channels": lambda L: L.nn.BatchNorm1d(3)(L.randn(1, 4)),
    "avg_pool_int_keeps_dtype": lambda L: L.nn.functional.avg_pool2d(L.ones(1, 1, 2, 2, dtype=L.long), 2),
    "linear_int_input": lambda L: L.nn.Linear(3, 2)(L.ones(2, 3, dtype=L.long)),
    "conv_int_input": lambda L: L.nn.Conv2d(1, 1, 2)(L.ones(1, 1, 3, 3, dtype=L.long)),
    "dropout_p": lambda L: L.nn.Dropout(1.5),
    "maxpool_kernel_too_big": lambda L: L.nn.MaxPool2d(5)(L.randn(1, 1, 3, 3)),
    # -- optimizers ---------------------------------------------------------------------------
    "sgd_negative_lr": lambda L: L.optim.SGD([_p(L, 2)], lr=-1),
    "sgd_negative_momentum": lambda L: L.optim.SGD([_p(L, 2)], lr=0.1, momentum=-1),
    "sgd_nesterov_without_momentum": lambda L: L.optim.SGD([_p(L, 2)], lr=0.1, nesterov=True),
    "sgd_negative_weight_decay": lambda L: L.optim.SGD([_p(L, 2)], lr=0.1, weight_decay=-1),
    "adam_beta": lambda L: L.optim.Adam([_p(L, 2)], betas=(1.5, 0.9)),
    "adam_beta2": lambda L: L.optim.Adam([_p(L, 2)], betas=(0.9, -0.1)),
    "adam_eps": lambda L: L.optim.Adam([_p(L, 2)], eps=-1),
    "rmsprop_alpha": lambda L: L.optim.RMSprop([_p(L, 2)], alpha=-1),
    "adagrad_lr_decay": lambda L: L.optim.Adagrad([_p(L, 2)], lr_decay=-1),
    "optimizer_empty_params": lambda L: L.optim.SGD([], lr=0.1),
    "optimizer_tensor_params": lambda L: L.optim.SGD(_p(L, 2), lr=0.1),
    "optimizer_load_state_groups": lambda L: L.optim.SGD([_p(L, 2)], lr=0.1).load_state_dict(
        {"state": {}, "param_groups": []}
    ),
    # -- DataLoader arguments ---------------------------------------------------------------------
    "dataloader_negative_batch": lambda L: L.utils.data.DataLoader([1, 2], batch_size=-1),
    "dataloader_zero_batch": lambda L: L.utils.data.DataLoader([1, 2], batch_size=0),
    "dataloader_negative_workers": lambda L: L.utils.data.DataLoader([1, 2], num_workers=-1),
    "dataloader_shuffle_and_sampler": lambda L: L.utils.data.DataLoader([1, 2], shuffle=True, sampler=[0, 1]),
    "dataloader_batch_sampler_and_batch_size": lambda L: L.utils.data.DataLoader(
        [1, 2], batch_size=2, batch_sampler=[[0, 1]]
    ),
    "dataloader_negative_timeout": lambda L: L.utils.data.DataLoader([1, 2], timeout=-1),
    "dataloader_drop_last_without_batch": lambda L: L.utils.data.DataLoader(
        [1, 2], batch_size=None, drop_last=True
    ),
    "dataloader_prefetch_without_workers": lambda L: L.utils.data.DataLoader([1, 2], prefetch_factor=2),
    "dataloader_persistent_without_workers": lambda L: L.utils.data.DataLoader(
        [1, 2], persistent_workers=True
    ),
    # -- load_state_dict ----------------------------------------------------------------------------
    "load_state_dict_missing": lambda L: _lsd(L, {"weight": _W}),
    "load_state_dict_unexpected": lambda L: _lsd(L, {"weight": _W, "bias": _B, "x": _B}),
    "load_state_dict_shape": lambda L: _lsd(L, {"weight": lambda m: m.zeros(3, 2), "bias": _B}),
    "load_state_dict_not_dict": lambda L: L.nn.Linear(2, 2).load_state_dict([1, 2]),
    "load_state_dict_non_strict": lambda L: tuple(map(tuple, _lsd(L, {"weight": _W, "x": _B}, strict=False))),
}

_DTYPE_NAMES = r"\b(Float|Double|Half|Long|Int|Short|Char|Byte|Bool|ComplexFloat|ComplexDouble)\b"
_SHAPES = r"\[[\d, ]*\]|\(\d+ x \d+\)|\d+x\d+"


def _named(message: str) -> list[str]:
    """The shapes and dtype names a message mentions (the parts users act on)."""
    return re.findall(_SHAPES, message) + re.findall(_DTYPE_NAMES, message)


def _call(lib, row):
    torch.manual_seed(0)
    ember.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return row(lib), None
        except Exception as e:  # noqa: BLE001 - the exception is the result under test
            return None, e


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input_matches_torch(name):
    want, want_err = _call(torch, ROWS[name])
    got, got_err = _call(ember, ROWS[name])
    if want_err is None:
        assert got_err is None, f"torch accepts this; ember raised {got_err!r}"
        if isinstance(want, torch.Tensor):
            assert tuple(got.shape) == tuple(want.shape)
            assert str(got.dtype).removeprefix("torch.") == str(want.dtype).removeprefix("torch.")
        elif isinstance(want, tuple):
            assert got == want
        return
    assert got_err is not None, f"torch raises {want_err!r}; ember answered {got!r}"
    assert type(got_err).__name__ == type(want_err).__name__, (repr(want_err), repr(got_err))
    missing = [t for t in _named(str(want_err)) if t not in str(got_err)]
    assert not missing, f"ember's message lacks {missing}: torch {want_err!s} | ember {got_err!s}"
