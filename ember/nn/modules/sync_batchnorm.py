"""nn.SyncBatchNorm: batch norm whose training statistics are those of the whole global batch
(every rank's samples), through differentiable all-reduces of the per-channel sums."""

from __future__ import annotations

import numpy as np

import ember
import ember.distributed as dist
from ember._tensor import Tensor
from ember.distributed.buffers import group_zeros
from ember.distributed.nn.functional import all_reduce as _all_reduce
from ember.distributed.process_group import resolve
from ember.nn.modules.batchnorm import _BatchNorm
from ember.nn.modules.module import Module

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm. Unlike torch it also synchronises CPU tensors (on an mpi group; CUDA
    tensors on an nccl group); on one process, without a process group, or in eval mode it is
    BatchNorm."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        need_sync = bn_training and self.training and dist.is_available() and dist.is_initialized()
        if need_sync:
            pg = self.process_group if self.process_group is not None else None
            need_sync = dist.get_world_size(pg) > 1
        if not need_sync:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            nbt = self.num_batches_tracked
            nbt._data[...] = nbt._data + 1
            nbt._bump()
            factor = 1.0 / float(nbt._data) if self.momentum is None else self.momentum
        return self._sync_forward(input, factor)

    def _sync_forward(self, input: Tensor, factor: float) -> Tensor:
        group = self.process_group
        c = input.shape[1]
        dims = [0] + list(range(2, input.dim()))
        shape = [1, c] + [1] * (input.dim() - 2)
        # the element count per channel, in the memory the group's backend takes (CUDA for nccl)
        count = Tensor._wrap(group_zeros(resolve(group), input._data, 1, np.float64))
        count._data[...] = float(input.numel() // c)
        dist.all_reduce(count, group=group)
        n = float(count.item())
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {input.shape}"
            )
        mean = _all_reduce(input.sum(dims), group=group) / n  # two passes: var from centred values
        centred = input - mean.view(shape)
        var = _all_reduce((centred * centred).sum(dims), group=group) / n
        out = centred * (var.view(shape) + self.eps).rsqrt()
        if self.weight is not None:
            out = out * self.weight.view(shape)
        if self.bias is not None:
            out = out + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with ember.no_grad():
                rm, rv = self.running_mean, self.running_var
                rm.copy_((1 - factor) * rm + factor * mean.detach().to(rm.dtype))
                rv.copy_((1 - factor) * rv + factor * (var.detach() * (n / (n - 1))).to(rv.dtype))
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """A copy of `module`'s tree with every BatchNorm*d replaced by a SyncBatchNorm sharing its
        parameters and buffers (the module itself when it is one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = SyncBatchNorm(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            if module.affine:
                with ember.no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out
