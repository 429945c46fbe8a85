"""torchvision.transforms (v1) on PIL images, tensors and NumPy image arrays; ``functional`` holds the ops."""

from ember.vision.transforms import functional  # noqa: F401
from ember.vision.transforms.autoaugment import *  # noqa: F403
from ember.vision.transforms.functional import InterpolationMode  # noqa: F401
from ember.vision.transforms.transforms import *  # noqa: F403
