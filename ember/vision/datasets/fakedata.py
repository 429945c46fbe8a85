"""torchvision.datasets.FakeData: random images, the same for an index every time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ember
from ember.vision.transforms import functional as F

__all__ = ["FakeData"]


class FakeData:
    """``size`` random ``image_size`` images (PIL, from ``randn`` seeded by ``index + random_offset``)
    with random targets in ``[0, num_classes)``; the global RNG state is left untouched."""

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_offset: int = 0,
    ) -> None:
        self.size, self.num_classes, self.image_size = size, num_classes, image_size
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng_state = ember.get_rng_state()
        ember.manual_seed(index + self.random_offset)
        img = ember.randn(*self.image_size)
        target = ember.randint(0, self.num_classes, size=(1,), dtype=ember.long)[0]
        ember.set_rng_state(rng_state)
        img = F.to_pil_image(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, int(target) if isinstance(target, ember.Tensor) else target

    def __len__(self) -> int:
        return self.size
