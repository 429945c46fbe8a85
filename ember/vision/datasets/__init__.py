"""torchvision.datasets: MNIST family, CIFAR10/100, ImageFolder/DatasetFolder, FakeData."""

from ember.vision.datasets.cifar import CIFAR10, CIFAR100
from ember.vision.datasets.fakedata import FakeData
from ember.vision.datasets.folder import DatasetFolder, ImageFolder
from ember.vision.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST, bundled_root, read_idx, write_idx

__all__ = [
    "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "CIFAR10", "CIFAR100", "ImageFolder", "DatasetFolder",
    "FakeData", "read_idx", "write_idx", "bundled_root",
]  # fmt: skip
