"""torch.nn.parallel: DistributedDataParallel (and DataParallel on one device)."""

from ember.nn.parallel.data_parallel import DataParallel
from ember.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
