"""torchvision for ember: datasets, io, models, ops, transforms, utils (Pillow, the ``vision`` extra, for images)."""

import ember.hub  # noqa: F401  (torchvision's weights load through torch.hub's cache)
from ember.vision import datasets, io, models, ops, transforms, utils  # noqa: F401

__version__ = "0.1.0"
