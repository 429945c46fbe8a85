"""The 1000 ImageNet-1k category names, in torchvision's order (``weights.meta["categories"]``)."""

from __future__ import annotations

from pathlib import Path

_IMAGENET_CATEGORIES: list[str] = (
    (Path(__file__).resolve().parent.parent / "data" / "imagenet_categories.txt")
    .read_text("utf-8")
    .splitlines()
)
