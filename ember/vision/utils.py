"""torchvision.utils.make_grid / save_image (PNG written with zlib, no Pillow needed)."""

from __future__ import annotations

import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

import ember
from ember._tensor import Tensor

__all__ = ["make_grid", "save_image", "write_png"]


def make_grid(
    tensor: Tensor | list[Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a batch ``B x C x H x W`` (or a list of ``C x H x W``) into one ``C x H' x W'`` image, as torchvision."""
    if isinstance(tensor, list | tuple):
        tensor = ember.stack(list(tensor), dim=0)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    device = tensor.device
    arr = tensor.detach().cpu().numpy()
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        if arr.shape[0] == 1:
            arr = np.concatenate((arr, arr, arr), 0)
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = np.concatenate((arr, arr, arr), 1)
    if arr.ndim != 4:
        raise ValueError(f"make_grid expects 2-, 3- or 4-D input, got shape {tuple(tensor.shape)}")
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        arr = arr.copy()
        groups = list(arr) if scale_each else [arr]
        for t in groups:
            low, high = value_range if value_range is not None else (float(t.min()), float(t.max()))
            np.clip(t, low, high, out=t)
            t -= t.dtype.type(low)
            t /= t.dtype.type(max(high - low, 1e-5))
    if arr.shape[0] == 1:
        return ember.from_numpy(np.ascontiguousarray(arr[0])).to(device)
    nmaps = arr.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = arr.shape[2] + padding, arr.shape[3] + padding
    grid = np.full(
        (arr.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=arr.dtype
    )
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        top, left = y * height + padding, x * width + padding
        grid[:, top : top + height - padding, left : left + width - padding] = arr[k]
    return ember.from_numpy(grid).to(device)


def write_png(fp: str | os.PathLike | BinaryIO, image: np.ndarray) -> None:
    """Write a uint8 ``H x W`` (grey), ``H x W x 3`` (RGB) or ``H x W x 4`` (RGBA) array as a PNG file."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    color = {2: 0, 3: {3: 2, 4: 6}.get(image.shape[-1]) if image.ndim == 3 else None}[image.ndim]
    if color is None:
        raise ValueError(f"write_png expects H x W, H x W x 3 or H x W x 4, got {image.shape}")
    h, w = image.shape[:2]
    rows = image.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    if hasattr(fp, "write"):
        fp.write(png)
    else:
        with open(fp, "wb") as f:
            f.write(png)


def save_image(
    tensor: Tensor | list[Tensor], fp: str | os.PathLike | BinaryIO, format: str | None = None, **kwargs
) -> None:
    """``make_grid(tensor, **kwargs)`` scaled from [0, 1] to 0..255 and saved as a PNG."""
    if format is not None and format.lower() != "png":
        raise ValueError(f"save_image writes PNG only, got format={format!r}")
    grid = make_grid(tensor, **kwargs).detach().cpu().numpy().astype(np.float32)
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    write_png(fp, ndarr)
