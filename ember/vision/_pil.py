"""Pillow, the ``vision`` extra: imported on first use, with an error naming the extra when missing."""

from __future__ import annotations

from types import ModuleType
from typing import Any

try:  # optional: ember's core needs only NumPy
    from PIL import Image as _Image
except ImportError:  # pragma: no cover - exercised by test_vision_io's missing-Pillow test
    _Image = None

_MISSING = 'this needs Pillow, the image library of ember.vision: pip install "ember[vision]"'


def pil_image() -> ModuleType:
    """The ``PIL.Image`` module, or ImportError telling which extra to install."""
    if _Image is None:
        raise ImportError(_MISSING)
    return _Image


def is_pil_image(img: Any) -> bool:
    return _Image is not None and isinstance(img, _Image.Image)
