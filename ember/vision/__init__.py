"""torchvision subset: datasets (MNIST, FashionMNIST), transforms, utils (make_grid, save_image)."""

from ember.vision import datasets, transforms, utils  # noqa: F401
