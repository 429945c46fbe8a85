"""torchvision.utils: make_grid, save_image (Pillow), draw_bounding_boxes."""

from __future__ import annotations

import math
import os
from typing import Any, BinaryIO

import numpy as np

import ember
from ember._tensor import Tensor
from ember.vision._pil import pil_image

__all__ = ["make_grid", "save_image", "draw_bounding_boxes"]


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


def save_image(
    tensor: Tensor | list[Tensor], fp: str | os.PathLike | BinaryIO, format: str | None = None, **kwargs
) -> None:
    """``make_grid(tensor, **kwargs)`` scaled from [0, 1] to 0..255 (rounded) and saved by Pillow;
    ``format`` is needed for a file object and otherwise comes from the file name."""
    Image = pil_image()
    grid = make_grid(tensor, **kwargs).detach().cpu().numpy().astype(np.float32)
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(ndarr).save(fp, format=format)


def draw_bounding_boxes(
    image: Tensor,
    boxes: Tensor,
    labels: list[str] | None = None,
    colors: list | str | tuple | None = None,
    fill: bool = False,
    width: int = 1,
    font: str | None = None,
    font_size: int | None = None,
    label_colors: list | str | tuple | None = None,
) -> Tensor:
    """Draw ``(N, 4)`` xyxy ``boxes`` (and ``labels``) on a uint8 ``C x H x W`` image (C = 1 or 3);
    returns a new uint8 ``3 x H x W`` image."""
    Image = pil_image()
    from PIL import ImageColor, ImageDraw, ImageFont  # Pillow's submodules; Pillow is present here

    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    if image.dtype != ember.uint8:
        raise ValueError(f"Tensor uint8 expected, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.size(0) not in {1, 3}:
        raise ValueError("Only grayscale and RGB images are supported")
    box_arr = boxes.detach().cpu().numpy()
    if box_arr.ndim != 2 or (box_arr.shape[0] and box_arr.shape[1] != 4):
        raise ValueError(f"boxes should be of shape (N, 4), got {tuple(boxes.shape)}")
    if ((box_arr[:, 0] > box_arr[:, 2]) | (box_arr[:, 1] > box_arr[:, 3])).any():
        raise ValueError(
            "Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to convert them"
        )
    num_boxes = box_arr.shape[0]
    if num_boxes == 0:
        return image
    if labels is not None and len(labels) != num_boxes:
        raise ValueError(
            f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. Please specify labels for each box."
        )

    def parse(c: Any) -> tuple[int, int, int]:
        return ImageColor.getrgb(c) if isinstance(c, str) else tuple(int(v) for v in c)

    if colors is None:
        palette = [(2**25 - 1), (2**15 - 1), (2**21 - 1)]  # torchvision's _generate_color_palette
        color_list = [tuple((i * p) % 255 for p in palette) for i in range(num_boxes)]
    elif isinstance(colors, list):
        if len(colors) < num_boxes:
            raise ValueError(f"Number of colors ({len(colors)}) is less than number of boxes ({num_boxes}). ")
        color_list = [parse(c) for c in colors[:num_boxes]]
    else:
        color_list = [parse(colors)] * num_boxes
    text_colors = (
        color_list
        if label_colors is None
        else (
            [parse(c) for c in label_colors]
            if isinstance(label_colors, list)
            else [parse(label_colors)] * num_boxes
        )
    )
    arr = image.detach().cpu().numpy()
    gray = arr.shape[0] == 1
    pil = Image.fromarray(
        np.ascontiguousarray(np.repeat(arr, 3, 0).transpose(1, 2, 0) if gray else arr.transpose(1, 2, 0))
    )
    draw = ImageDraw.Draw(pil, "RGBA" if fill else None)
    txt_font = (
        ImageFont.load_default() if font is None else ImageFont.truetype(font=font, size=font_size or 10)
    )
    for k, (bbox, color) in enumerate(zip(box_arr.tolist(), color_list)):
        if fill:
            draw.rectangle(bbox, width=width, outline=color, fill=color + (100,))
        else:
            draw.rectangle(bbox, width=width, outline=color)
        if labels is not None:
            margin = width + 1
            draw.text((bbox[0] + margin, bbox[1] + margin), labels[k], fill=text_colors[k], font=txt_font)
    out = np.asarray(pil).transpose(2, 0, 1)  # torchvision returns grey images as 3-channel RGB too
    return ember.from_numpy(np.ascontiguousarray(out)).to(image.device)
