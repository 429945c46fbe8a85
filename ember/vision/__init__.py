"""torchvision subset: datasets (MNIST, FashionMNIST), transforms, utils (make_grid, save_image)."""

from ember.vision import datasets, transforms, utils  # noqa: F401

from ember import __version__  # noqa: E402,F401  (torchvision.__version__: ember's release)
