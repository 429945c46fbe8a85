"""torchvision for ember: datasets, io, models, ops, transforms, utils (Pillow, the ``vision`` extra, for images)."""

import ember.hub  # noqa: F401  (torchvision's weights load through torch.hub's cache)
from ember import __version__  # noqa: F401  (torchvision.__version__: ember's release)
from ember.vision import datasets, io, models, ops, transforms, utils  # noqa: F401
