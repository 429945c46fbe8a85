"""torchvision.io: image decoding and encoding (Pillow)."""

from ember.vision.io.image import *  # noqa: F403
from ember.vision.io.image import __all__  # noqa: F401
