"""torch.nn.parallel.DistributedDataParallel on ember.distributed."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import ember
from ember.distributed.buffers import check_group_memory, group_flat
from ember.distributed.checks import check_same
from ember.distributed.collectives import broadcast_on
from ember.distributed.process_group import resolve
from ember.nn.modules.module import Module
from ember.nn.parallel._reducer import Reducer


class DistributedDataParallel(Module):
    """Replicates `module` on every rank of the group: rank 0's parameters and buffers are
    broadcast at construction, and backward averages the gradients over the ranks (bucketed
    all-reduces started from gradient hooks while backward runs). On an mpi group the module is
    on the CPU; on an nccl group on one CUDA device, and the buckets live there."""

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool | None = None,
        init_sync: bool = True,
        process_group=None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        delay_all_reduce_named_params=None,
        param_to_hook_all_reduce=None,
        mixed_precision=None,
        device_mesh=None,
        skip_all_reduce_unused_params: bool = False,
        bucket_cap_mb_list: list[int] | None = None,
        batched_grad_copy: bool = False,
        forward_sync_buffers: bool | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
            ("param_to_hook_all_reduce", param_to_hook_all_reduce),
            ("mixed_precision", mixed_precision),
            ("device_mesh", device_mesh),
            ("bucket_cap_mb_list", bucket_cap_mb_list),
        ):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel({name}=...) is not supported by ember")
        pg = resolve(process_group)
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not part of process_group")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter that "
                "requires a gradient."
            )
        if device_ids is not None or output_device is not None:
            devices = sorted({str(p.device) for p in module.parameters()})
            if devices == ["cpu"]:
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work with "
                    "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                    f"{device_ids}, output_device {output_device}, and module parameters {devices}."
                )
        check_group_memory(pg, list(module.parameters()) + list(_buffers(module)), "DistributedDataParallel")
        self.module = module
        self.process_group = pg
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        if forward_sync_buffers is not None:
            self.broadcast_buffers = bool(forward_sync_buffers)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        _check_same_model(pg, module)
        if init_sync:
            _broadcast_coalesced(pg, [t for t in module.parameters()] + list(_buffers(module)))
        # the reducer's hooks live on the parameters; it is not a submodule
        object.__setattr__(
            self,
            "reducer",
            Reducer(params, pg, self.bucket_bytes_cap, find_unused_parameters, gradient_as_bucket_view),
        )

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.reducer.expect and ember.is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(None)  # raises: the previous backward did not reduce every gradient
        if self.broadcast_buffers and self.require_forward_param_sync:
            bufs = list(_buffers(self.module))
            if bufs:
                _broadcast_coalesced(self.process_group, bufs)
        out = self.module(*inputs, **kwargs)
        if ember.is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(out if self.find_unused_parameters else None)
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside accumulate gradients locally, without communication;
        the first synced backward after it all-reduces the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def register_comm_hook(self, state: object, hook) -> None:
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not supported by ember")

    def join(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not supported by ember")

    def _get_ddp_logging_data(self) -> dict:
        return {"world_size": self.process_group.size(), "bucket_cap_bytes": self.bucket_bytes_cap}


def _buffers(module: Module):
    return (b for b in module.buffers() if b is not None)


def _check_same_model(pg, module: Module) -> None:
    """Every rank must wrap the same architecture (names, shapes, dtypes), as torch verifies."""
    desc = [(n, tuple(p.shape), str(p.dtype), p.requires_grad) for n, p in module.named_parameters()]
    # the buffers too: they are broadcast without a per-call check (forward's broadcast_buffers)
    bufs = [(n, tuple(b.shape), str(b.dtype)) for n, b in module.named_buffers() if b is not None]
    digest = hashlib.sha1(repr((desc, bufs)).encode()).hexdigest()[:16]
    try:
        check_same(pg, "DistributedDataParallel", f"{len(desc)} parameters, layout {digest}")
    except RuntimeError as e:
        raise RuntimeError(
            "DistributedDataParallel expects the same model (parameter and buffer names, shapes and dtypes) on every "
            f"rank; this rank has {len(desc)} parameters: {desc[:8]}{' ...' if len(desc) > 8 else ''}. {e}"
        ) from None


def _broadcast_coalesced(pg, tensors: list) -> None:
    """Rank 0's values into `tensors`, one broadcast (the group's) per dtype."""
    by_dtype: dict = {}
    for t in tensors:
        if t._batch_last:
            t.detach()  # NCHW-contiguous first
        by_dtype.setdefault(t._data.dtype, []).append(t)
    for ts in by_dtype.values():
        flat = group_flat(pg, [t._data for t in ts])
        # no same-call check: the model's layout was checked at construction
        broadcast_on(pg, ember.Tensor._wrap(flat), 0, False, check=False)
        off = 0
        for t in ts:
            n = t._data.size
            t._data[...] = flat[off : off + n].reshape(t._data.shape)
            t._bump()
            off += n


__all__ = ["DistributedDataParallel"]
