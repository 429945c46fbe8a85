"""torch.distributed.nn: collectives that autograd differentiates through."""

from ember.distributed.nn import functional  # noqa: F401
