"""torchvision.io image functions on Pillow: read/decode to uint8 ``C x H x W`` tensors, encode/write PNG and JPEG."""

from __future__ import annotations

import io as _io
import os
from enum import Enum

import numpy as np

import ember
from ember._tensor import Tensor
from ember.vision._pil import pil_image

__all__ = [
    "ImageReadMode", "read_file", "write_file", "decode_image", "decode_png", "decode_jpeg", "read_image",
    "encode_png", "encode_jpeg", "write_png", "write_jpeg",
]  # fmt: skip


class ImageReadMode(Enum):
    """Colour mode to decode to: UNCHANGED keeps the file's channels."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODE = {
    ImageReadMode.GRAY: "L",
    ImageReadMode.GRAY_ALPHA: "LA",
    ImageReadMode.RGB: "RGB",
    ImageReadMode.RGB_ALPHA: "RGBA",
}


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return ember.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Write a 1-D uint8 tensor's bytes to ``filename``."""
    _check_bytes(data, "data")
    with open(os.fspath(filename), "wb") as f:
        f.write(data.numpy().tobytes())


def _check_bytes(data: Tensor, name: str) -> None:
    if not isinstance(data, Tensor):
        raise TypeError(f"{name} should be a Tensor, got {type(data).__name__}")
    if data.dtype != ember.uint8:
        raise RuntimeError(f"Expected a torch.uint8 tensor, got {data.dtype}")
    if data.ndim != 1:
        raise RuntimeError(f"Expected a one dimensional tensor, got {data.ndim} dims")


def _parse_mode(mode: ImageReadMode | str) -> ImageReadMode:
    if isinstance(mode, str):
        try:
            return ImageReadMode[mode.upper()]
        except KeyError:
            raise ValueError(f"Unknown image read mode {mode!r}") from None
    if not isinstance(mode, ImageReadMode):
        raise TypeError(f"mode should be an ImageReadMode, got {type(mode).__name__}")
    return mode


def _decode(data: bytes, mode: ImageReadMode, formats: tuple[str, ...] | None, exif: bool) -> Tensor:
    Image = pil_image()
    try:
        img = Image.open(_io.BytesIO(data), formats=formats)
        img.load()  # decode now: a truncated or corrupt file fails here, not later
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds (OSError, SyntaxError, ValueError)
        kind = "/".join(formats) if formats else "image"
        raise RuntimeError(f"Could not decode {kind} data ({len(data)} bytes): {e}") from e
    if exif:
        from PIL import ImageOps  # Pillow's submodule; Pillow is present at this point

        img = ImageOps.exif_transpose(img)
    if mode == ImageReadMode.UNCHANGED:
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode == "1":
            img = img.convert("L")
        elif img.mode in ("I;16", "I;16B", "I", "F"):
            raise RuntimeError(
                f"{img.mode} images ({'16-bit' if img.mode.startswith('I;16') else '32-bit'}) are not supported: "
                "ember has no uint16 dtype; decode with mode=ImageReadMode.GRAY for 8 bits"
            )
        elif img.mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")
    else:
        img = img.convert(_PIL_MODE[mode])
    arr = np.asarray(img, dtype=np.uint8)
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return ember.from_numpy(np.ascontiguousarray(chw))


def decode_image(
    input: Tensor | str | os.PathLike,
    mode: ImageReadMode = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Decode an encoded image (1-D uint8 tensor of file bytes, or a path) into a uint8 ``C x H x W`` tensor."""
    if isinstance(input, str | os.PathLike):
        input = read_file(input)
    _check_bytes(input, "input")
    return _decode(input.numpy().tobytes(), _parse_mode(mode), None, apply_exif_orientation)


def read_image(
    path: str | os.PathLike,
    mode: ImageReadMode = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Read a JPEG, PNG, GIF, BMP, ... file into a uint8 ``C x H x W`` tensor."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


def decode_png(
    input: Tensor, mode: ImageReadMode = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
) -> Tensor:
    _check_bytes(input, "input")
    return _decode(input.numpy().tobytes(), _parse_mode(mode), ("PNG",), apply_exif_orientation)


def decode_jpeg(
    input: Tensor,
    mode: ImageReadMode = ImageReadMode.UNCHANGED,
    device: str = "cpu",
    apply_exif_orientation: bool = False,
) -> Tensor:
    _check_bytes(input, "input")
    out = _decode(input.numpy().tobytes(), _parse_mode(mode), ("JPEG",), apply_exif_orientation)
    return out.to(device)


def _image_array(input: Tensor, allowed: tuple[int, ...]) -> np.ndarray:
    if not isinstance(input, Tensor):
        raise TypeError(f"input should be a Tensor, got {type(input).__name__}")
    if input.dtype != ember.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8, got {input.dtype}")
    if input.ndim != 3:
        raise RuntimeError(f"Input data should be a 3-dimensional tensor, got {input.ndim} dims")
    c = int(input.shape[0])
    if c not in allowed:
        raise RuntimeError(f"The number of channels should be {' or '.join(map(str, allowed))}, got: {c}")
    arr = input.detach().cpu().numpy()
    return np.ascontiguousarray(arr[0] if c == 1 else arr.transpose(1, 2, 0))


def _encode(arr: np.ndarray, fmt: str, **kw) -> Tensor:
    Image = pil_image()
    buf = _io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return ember.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """PNG bytes (1-D uint8 tensor) of a uint8 ``C x H x W`` image, C in 1 (grey), 2, 3 (RGB), 4 (RGBA)."""
    if not 0 <= compression_level <= 9:
        raise ValueError("Compression level should be between 0 and 9")
    return _encode(_image_array(input, (1, 2, 3, 4)), "PNG", compress_level=compression_level)


def encode_jpeg(input: Tensor, quality: int = 75) -> Tensor:
    """JPEG bytes (1-D uint8 tensor) of a uint8 ``C x H x W`` image with 1 or 3 channels."""
    if not 1 <= quality <= 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    return _encode(_image_array(input, (1, 3)), "JPEG", quality=quality)


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Write a uint8 ``C x H x W`` tensor as a PNG file."""
    write_file(filename, encode_png(input, compression_level))


def write_jpeg(input: Tensor, filename: str | os.PathLike, quality: int = 75) -> None:
    """Write a uint8 ``C x H x W`` tensor as a JPEG file."""
    write_file(filename, encode_jpeg(input, quality))
