"""torch.nn.DataParallel on a single device: a transparent wrapper (ember has one device per process;
for several processes use DistributedDataParallel)."""

from __future__ import annotations

from typing import Any

from ember.nn.modules.module import Module


class DataParallel(Module):
    """Runs `module` as it is; `module` attribute and `module.`-prefixed state_dict keys as torch's."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        if device_ids is not None and len(list(device_ids)) > 1:
            raise NotImplementedError(
                "DataParallel over several devices is not supported by ember: use DistributedDataParallel "
                "with one process per device"
            )
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
