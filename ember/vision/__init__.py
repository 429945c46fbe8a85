"""torchvision subset: datasets (MNIST, FashionMNIST), transforms, utils (make_grid, save_image)."""

from ember import __version__  # noqa: F401  (torchvision.__version__: ember's release)
from ember.vision import datasets, transforms, utils  # noqa: F401
