"""PIL-image kernels of torchvision.transforms.functional (Pillow does the work, as in torchvision)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember.vision._pil import pil_image

_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def resample(mode: str) -> int:
    if mode == "nearest-exact":
        raise ValueError("nearest-exact is not supported for PIL images: use a tensor or 'nearest'")
    return _RESAMPLE[mode]


def get_dimensions(img: Any) -> list[int]:
    width, height = img.size
    return [len(img.getbands()), height, width]


def resize(img: Any, size: Sequence[int], mode: str) -> Any:
    return img.resize((int(size[1]), int(size[0])), resample(mode))


def _fill(fill: Any, img: Any) -> Any:
    """torchvision's _parse_fill: a number or sequence for this image's bands (None stays None)."""
    if fill is None:
        return None
    bands = len(img.getbands())
    if isinstance(fill, int | float):
        fill = tuple([fill] * bands)
    if isinstance(fill, list | tuple):
        if len(fill) == 1:
            fill = fill * bands
        if len(fill) != bands:
            raise ValueError(
                f"The number of elements in 'fill' does not match the number of bands of the image "
                f"({len(fill)} != {bands})"
            )
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return fill[0] if isinstance(fill, tuple) and len(fill) == 1 else fill


def pad(img: Any, padding: list[int], fill: Any, padding_mode: str) -> Any:
    Image = pil_image()
    left, top, right, bottom = padding
    arr = np.asarray(img)
    if left < 0 or top < 0 or right < 0 or bottom < 0:  # negative padding crops first
        h, w = arr.shape[:2]
        arr = arr[max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
        left, top, right, bottom = max(left, 0), max(top, 0), max(right, 0), max(bottom, 0)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    if padding_mode == "constant":
        fill_v = _fill(fill, img)
        out = np.empty((arr.shape[0] + top + bottom, arr.shape[1] + left + right) + arr.shape[2:], arr.dtype)
        out[...] = np.asarray(fill_v, dtype=arr.dtype) if fill_v is not None else 0
        out[top : top + arr.shape[0], left : left + arr.shape[1]] = arr
    else:
        out = np.pad(arr, widths, mode=padding_mode)
    res = Image.fromarray(out)
    if img.mode == "P":  # putpalette turns the "L" image back into a palette image
        res.putpalette(img.getpalette())
    return res


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    return img.crop((left, top, left + width, top + height))


def hflip(img: Any) -> Any:
    return img.transpose(pil_image().FLIP_LEFT_RIGHT)


def vflip(img: Any) -> Any:
    return img.transpose(pil_image().FLIP_TOP_BOTTOM)


def to_grayscale(img: Any, num_output_channels: int) -> Any:
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        Image = pil_image()
        np_img = np.asarray(img.convert("L"), dtype=np.uint8)
        return Image.fromarray(np.dstack([np_img, np_img, np_img]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def _enhance(img: Any, kind: str, factor: float) -> Any:
    from PIL import ImageEnhance  # Pillow's submodule; pil_image() above already checked Pillow is there

    return getattr(ImageEnhance, kind)(img).enhance(factor)


def adjust_brightness(img: Any, factor: float) -> Any:
    return _enhance(img, "Brightness", factor)


def adjust_contrast(img: Any, factor: float) -> Any:
    return _enhance(img, "Contrast", factor)


def adjust_saturation(img: Any, factor: float) -> Any:
    return _enhance(img, "Color", factor)


def adjust_sharpness(img: Any, factor: float) -> Any:
    return _enhance(img, "Sharpness", factor)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    Image = pil_image()
    mode = img.mode
    if mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):  # uint8 arithmetic wraps around the hue circle
        np_h += np.array(hue_factor * 255).astype(np.uint8)
    h = Image.fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert(mode)


def adjust_gamma(img: Any, gamma: float, gain: float = 1.0) -> Any:
    input_mode = img.mode
    img = img.convert("RGB")
    gamma_map = [int((255 + 1 - 1e-3) * gain * pow(ele / 255.0, gamma)) for ele in range(256)] * 3
    return img.point(gamma_map).convert(input_mode)


def _ops() -> Any:
    from PIL import ImageOps  # Pillow's submodule, present whenever PIL.Image is

    return ImageOps


def invert(img: Any) -> Any:
    return _ops().invert(img)


def posterize(img: Any, bits: int) -> Any:
    return _ops().posterize(img, bits)


def solarize(img: Any, threshold: float) -> Any:
    return _ops().solarize(img, threshold)


def autocontrast(img: Any) -> Any:
    return _ops().autocontrast(img)


def equalize(img: Any) -> Any:
    return _ops().equalize(img)


def affine(img: Any, matrix: list[float], mode: str, fill: Any) -> Any:
    Image = pil_image()
    return img.transform(img.size, Image.AFFINE, matrix, resample(mode), fillcolor=_fill(fill, img))


def rotate(img: Any, angle: float, mode: str, expand: bool, center: Any, fill: Any) -> Any:
    return img.rotate(angle, resample(mode), expand, center, fillcolor=_fill(fill, img))


def perspective(img: Any, coeffs: list[float], mode: str, fill: Any) -> Any:
    Image = pil_image()
    return img.transform(img.size, Image.PERSPECTIVE, coeffs, resample(mode), fillcolor=_fill(fill, img))
