"""torchvision.transforms.functional: each op on a PIL image (Pillow), a ``(..., C, H, W)`` tensor, or an
``H x W (x C)`` NumPy image array (ember's extra: run through the tensor kernels, returned as an array)."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np

import ember
from ember._tensor import Tensor
from ember.vision._pil import is_pil_image, pil_image
from ember.vision.transforms import _functional_pil as F_pil
from ember.vision.transforms import _functional_tensor as F_t

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
    "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize",
    "resize", "pad", "crop", "center_crop", "resized_crop", "hflip", "vflip", "five_crop", "ten_crop",
    "rgb_to_grayscale", "to_grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation",
    "adjust_hue", "adjust_gamma", "adjust_sharpness", "posterize", "solarize", "autocontrast", "equalize",
    "invert", "rotate", "affine", "perspective", "gaussian_blur", "erase",
]  # fmt: skip


class InterpolationMode(Enum):
    """Interpolation modes, with torchvision's names and values."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_CODES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def _mode(interpolation: Any) -> str:
    """InterpolationMode (or a PIL resample int, as torchvision still accepts with a warning) -> its name."""
    if isinstance(interpolation, InterpolationMode):
        return interpolation.value
    if isinstance(interpolation, int) and interpolation in _PIL_CODES:
        warnings.warn(
            "Argument 'interpolation' of type int is deprecated since 0.13 and will be removed in 0.15. "
            "Please use InterpolationMode enum.",
            stacklevel=2,
        )
        return _PIL_CODES[interpolation]
    raise TypeError(
        "Argument interpolation should be a InterpolationMode or a corresponding Pillow integer constant"
    )


def _is_array(img: Any) -> bool:
    return isinstance(img, np.ndarray) and img.ndim in (2, 3)


def _array_to_tensor(arr: np.ndarray) -> Tensor:
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return ember.from_numpy(np.ascontiguousarray(chw))


def _tensor_to_array(t: Tensor, ndim: int) -> np.ndarray:
    arr = t.detach().cpu().numpy()
    return np.ascontiguousarray(arr[0] if ndim == 2 else arr.transpose(1, 2, 0))


def _apply(img: Any, tensor_fn: Callable[[Tensor], Tensor], pil_fn: Callable[[Any], Any]) -> Any:
    if isinstance(img, Tensor):
        return tensor_fn(img)
    if is_pil_image(img):
        return pil_fn(img)
    if _is_array(img):
        out = tensor_fn(_array_to_tensor(img))
        return _tensor_to_array(out, img.ndim) if isinstance(out, Tensor) else out
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def _check_tensor_image(img: Tensor) -> None:
    if img.ndim < 2:
        raise TypeError(
            f"Tensor is not a torch image: expected at least 2 dimensions, got shape {tuple(img.shape)}"
        )


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` of the image."""
    if isinstance(img, Tensor):
        _check_tensor_image(img)
        c = 1 if img.ndim == 2 else int(img.shape[-3])
        return [c, int(img.shape[-2]), int(img.shape[-1])]
    if is_pil_image(img):
        return F_pil.get_dimensions(img)
    if _is_array(img):
        return [1 if img.ndim == 2 else img.shape[2], img.shape[0], img.shape[1]]
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def get_image_size(img: Any) -> list[int]:
    """``[width, height]`` of the image."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img: Any) -> int:
    return get_dimensions(img)[0]


# ---------------------------------------------------------------- conversions


def to_tensor(pic: Any) -> Tensor:
    """PIL image or ``H x W (x C)`` array -> ``C x H x W`` tensor; uint8 becomes float32 in [0, 1]."""
    if not (is_pil_image(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if isinstance(pic, np.ndarray) and pic.ndim not in {2, 3}:
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if is_pil_image(pic):
        mode_dtypes = {"I": np.int32, "I;16": np.int16, "F": np.float32}
        arr = np.array(pic, mode_dtypes.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = 255 * arr
    else:
        arr = pic
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return ember.from_numpy(chw.astype(np.float32) / np.float32(255))
    return ember.from_numpy(chw.copy())


def pil_to_tensor(pic: Any) -> Tensor:
    """PIL image (or image array) -> ``C x H x W`` tensor with the values unchanged."""
    if not (is_pil_image(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    return ember.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """``C x H x W`` tensor or ``H x W x C`` array -> PIL image (float in [0, 1] is scaled by 255, truncated)."""
    Image = pil_image()
    if isinstance(pic, Tensor):
        if pic.ndim not in {2, 3}:
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic.detach().cpu().numpy()
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.shape[0] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[0]} channels.")
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)
        arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in {2, 3}:
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        if arr.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I"}
        expected[np.dtype(np.float32)] = "F"
        if mode is not None and mode != expected.get(arr.dtype, mode):
            raise ValueError(
                f"Incorrect mode ({mode}) supplied for input type {arr.dtype}. Should be {expected[arr.dtype]}"
            )
        if arr.dtype not in expected:
            raise TypeError(f"Input type {arr.dtype} is not supported")
        out = Image.fromarray(arr)
        return out if mode is None or out.mode == mode else out.convert(mode)
    if arr.dtype != np.uint8:
        raise TypeError(f"Input type {arr.dtype} is not supported")
    allowed = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[arr.shape[2]]
    if mode is not None and mode not in allowed:
        raise ValueError(f"Only modes {allowed} are supported for {arr.shape[2]}D inputs")
    out = Image.fromarray(arr)  # LA / RGB / RGBA from the channel count
    if mode is not None and out.mode != mode:
        out = Image.frombytes(mode, out.size, arr.tobytes())
    return out


_INT_MAX = {
    ember.uint8: 255,
    ember.int8: 127,
    ember.int16: 32767,
    ember.int32: 2**31 - 1,
    ember.int64: 2**63 - 1,
}


def convert_image_dtype(image: Tensor, dtype: Any = ember.float) -> Tensor:
    """Change a tensor image's dtype, rescaling values between integer ranges and [0, 1] as torchvision."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        if (image.dtype == ember.float32 and dtype in (ember.int32, ember.int64)) or (
            image.dtype == ember.float64 and dtype == ember.int64
        ):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        eps = 1e-3
        max_val = float(_INT_MAX[dtype])
        return image.mul(max_val + 1.0 - eps).to(dtype)
    input_max = float(_INT_MAX[image.dtype])
    if dtype.is_floating_point:
        return image.to(dtype) / input_max
    output_max = float(_INT_MAX[dtype])
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return ember.div(image, factor, rounding_mode="floor").to(dtype)
    factor = int((output_max + 1) // (input_max + 1))
    return image.to(dtype) * factor


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tuple(tensor.shape)}"
        )
    if not inplace:
        tensor = tensor.clone()
    mean_t = ember.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std_t = ember.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if bool((std_t == 0).any()):
        raise ValueError(
            f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero."
        )
    if mean_t.ndim == 1:
        mean_t = mean_t.view(-1, 1, 1)
    if std_t.ndim == 1:
        std_t = std_t.view(-1, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)


# ---------------------------------------------------------------- geometry: size and crops


def _compute_resized_output_size(
    image_size: tuple[int, int], size: Sequence[int] | None, max_size: int | None = None
) -> list[int]:
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if size is None or len(size) == 0:
        if max_size is None:
            raise ValueError("If size is None or empty, max_size must be given")
        new_short, new_long = int(max_size * short / long), max_size
    elif len(size) == 1:
        requested = size[0]
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested "
                    f"size for the smaller edge size = {size}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
    else:
        return [int(size[0]), int(size[1])]
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return [new_h, new_w]


def resize(
    img: Any,
    size: int | Sequence[int] | None,
    interpolation: InterpolationMode = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Any:
    """Resize to ``size`` (an int or one-element list matches the smaller edge, keeping the aspect ratio)."""
    mode = _mode(interpolation)
    if isinstance(size, numbers.Integral):
        size = [int(size)]
    elif isinstance(size, list | tuple):
        if len(size) not in (0, 1, 2):
            raise ValueError(f"If size is a sequence, it should have 1 or 2 values, got {len(size)} values")
        size = list(size)
    elif size is not None:
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    if max_size is not None and size is not None and len(size) != 1:
        raise ValueError(
            "max_size should only be passed if size specifies the length of the smaller edge, "
            "i.e. size should be an int or a sequence of length 1 in torchscript mode."
        )
    _, h, w = get_dimensions(img)
    out_size = _compute_resized_output_size((h, w), size, max_size)
    if [h, w] == out_size:
        return img
    if isinstance(img, Tensor) or _is_array(img):
        if mode not in ("nearest", "nearest-exact", "bilinear", "bicubic"):
            raise ValueError(f"Interpolation mode {mode!r} is unsupported with Tensor input")
    return _apply(
        img,
        lambda t: F_t.resize(t, out_size, mode, bool(antialias)),
        lambda p: F_pil.resize(p, out_size, mode),
    )


def _parse_padding(padding: int | Sequence[int]) -> list[int]:
    if isinstance(padding, numbers.Integral):
        return [int(padding)] * 4
    if not isinstance(padding, list | tuple):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) == 1:
        return [int(padding[0])] * 4
    if len(padding) == 2:
        return [int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])]
    if len(padding) == 4:
        return [int(p) for p in padding]
    raise ValueError(
        f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
    )


def pad(img: Any, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders: ``padding`` is all sides, (left/right, top/bottom) or (left, top, right, bottom)."""
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    p = _parse_padding(padding)
    if fill is None:
        fill = 0
    if isinstance(img, Tensor) or _is_array(img):
        if not isinstance(fill, int | float):
            raise TypeError(f"Got inappropriate fill arg {fill!r}: tensors take a single number")
    return _apply(
        img, lambda t: F_t.pad(t, p, fill, padding_mode), lambda q: F_pil.pad(q, p, fill, padding_mode)
    )


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height x width`` window at (``top``, ``left``); outside the image is zero-padded."""
    return _apply(
        img,
        lambda t: F_t.crop(t, top, left, height, width),
        lambda p: F_pil.crop(p, top, left, height, width),
    )


def _setup_size(size: Any, error_msg: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(error_msg)
    return int(size[0]), int(size[1])


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """The central ``output_size`` window, zero-padding first when the image is smaller."""
    crop_height, crop_width = _setup_size(output_size, "Please provide only two dimensions (h, w) for size.")
    _, image_height, image_width = get_dimensions(img)
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(
    img: Any,
    top: int,
    left: int,
    height: int,
    width: int,
    size: list[int],
    interpolation: InterpolationMode = InterpolationMode.BILINEAR,
    antialias: bool | None = True,
) -> Any:
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img: Any) -> Any:
    """Mirror left-right."""
    return _apply(img, lambda t: t.flip(-1), F_pil.hflip)


def vflip(img: Any) -> Any:
    """Mirror top-bottom."""
    return _apply(img, lambda t: t.flip(-2), F_pil.vflip)


def five_crop(img: Any, size: int | Sequence[int]) -> tuple[Any, Any, Any, Any, Any]:
    """(top-left, top-right, bottom-left, bottom-right, centre) crops of ``size``."""
    crop_height, crop_width = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
    _, image_height, image_width = get_dimensions(img)
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(
            f"Requested crop size {size} is bigger than input size {(image_height, image_width)}"
        )
    tl = crop(img, 0, 0, crop_height, crop_width)
    tr = crop(img, 0, image_width - crop_width, crop_height, crop_width)
    bl = crop(img, image_height - crop_height, 0, crop_height, crop_width)
    br = crop(img, image_height - crop_height, image_width - crop_width, crop_height, crop_width)
    center = center_crop(img, [crop_height, crop_width])
    return tl, tr, bl, br, center


def ten_crop(img: Any, size: int | Sequence[int], vertical_flip: bool = False) -> tuple[Any, ...]:
    """``five_crop`` of the image and of its (horizontally, or vertically) flipped copy."""
    size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
    first_five = five_crop(img, size)
    img = vflip(img) if vertical_flip else hflip(img)
    return first_five + five_crop(img, size)


# ---------------------------------------------------------------- colour


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """ITU-R 601-2 luma (0.2989 R + 0.587 G + 0.114 B), 1 or 3 output channels."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    return _apply(
        img,
        lambda t: F_t.rgb_to_grayscale(t, num_output_channels),
        lambda p: F_pil.to_grayscale(p, num_output_channels),
    )


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """PIL-image spelling of ``rgb_to_grayscale``."""
    if not is_pil_image(img):
        raise TypeError("Input should be PIL Image")
    return F_pil.to_grayscale(img, num_output_channels)


def _nonneg(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} ({value}) is not non-negative.")


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    _nonneg("brightness_factor", brightness_factor)
    return _apply(
        img,
        lambda t: F_t.adjust_brightness(t, brightness_factor),
        lambda p: F_pil.adjust_brightness(p, brightness_factor),
    )


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    _nonneg("contrast_factor", contrast_factor)
    return _apply(
        img,
        lambda t: F_t.adjust_contrast(t, contrast_factor),
        lambda p: F_pil.adjust_contrast(p, contrast_factor),
    )


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    _nonneg("saturation_factor", saturation_factor)
    return _apply(
        img,
        lambda t: F_t.adjust_saturation(t, saturation_factor),
        lambda p: F_pil.adjust_saturation(p, saturation_factor),
    )


def adjust_hue(img: Any, hue_factor: float) -> Any:
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    return _apply(img, lambda t: F_t.adjust_hue(t, hue_factor), lambda p: F_pil.adjust_hue(p, hue_factor))


def adjust_gamma(img: Any, gamma: float, gain: float = 1.0) -> Any:
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    return _apply(
        img, lambda t: F_t.adjust_gamma(t, gamma, gain), lambda p: F_pil.adjust_gamma(p, gamma, gain)
    )


def adjust_sharpness(img: Any, sharpness_factor: float) -> Any:
    _nonneg("sharpness_factor", sharpness_factor)
    return _apply(
        img,
        lambda t: F_t.adjust_sharpness(t, sharpness_factor),
        lambda p: F_pil.adjust_sharpness(p, sharpness_factor),
    )


def posterize(img: Any, bits: int) -> Any:
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    return _apply(img, lambda t: F_t.posterize(t, bits), lambda p: F_pil.posterize(p, bits))


def solarize(img: Any, threshold: float) -> Any:
    return _apply(img, lambda t: F_t.solarize(t, threshold), lambda p: F_pil.solarize(p, threshold))


def autocontrast(img: Any) -> Any:
    return _apply(img, F_t.autocontrast, F_pil.autocontrast)


def equalize(img: Any) -> Any:
    return _apply(img, F_t.equalize, F_pil.equalize)


def invert(img: Any) -> Any:
    return _apply(img, F_t.invert, F_pil.invert)


# ---------------------------------------------------------------- affine, rotation, perspective


def _tensor_fill(fill: Any, channels: int) -> list[float] | None:
    if fill is None:
        return None
    if isinstance(fill, int | float):
        return [float(fill)] * channels
    fill = [float(f) for f in fill]
    return fill * channels if len(fill) == 1 else fill


def rotate(
    img: Any,
    angle: float,
    interpolation: InterpolationMode = InterpolationMode.NEAREST,
    expand: bool = False,
    center: list[int] | None = None,
    fill: list[float] | None = None,
) -> Any:
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the image centre)."""
    mode = _mode(interpolation)
    if center is not None and not isinstance(center, list | tuple):
        raise TypeError("Argument center should be a sequence")
    if is_pil_image(img):
        return F_pil.rotate(img, angle, mode, expand, center, fill)
    c, h, w = get_dimensions(img)
    center_f = [0.0, 0.0] if center is None else [(ci - s * 0.5) for ci, s in zip(center, [w, h])]
    matrix = F_t.inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_size = F_t.affine_output_size(matrix, w, h) if expand else None
    return _apply(img, lambda t: F_t.affine(t, matrix, mode, _tensor_fill(fill, c), out_size), lambda p: p)


def affine(
    img: Any,
    angle: float,
    translate: list[int],
    scale: float,
    shear: float | list[float],
    interpolation: InterpolationMode = InterpolationMode.NEAREST,
    fill: list[float] | None = None,
    center: list[int] | None = None,
) -> Any:
    """Rotate by ``angle`` (clockwise, degrees), scale, shear (degrees) and translate (pixels), keeping the size."""
    mode = _mode(interpolation)
    if not isinstance(translate, list | tuple) or len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if isinstance(shear, numbers.Number):
        shear = [float(shear), 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    c, h, w = get_dimensions(img)
    if is_pil_image(img):
        center_p = [w * 0.5, h * 0.5] if center is None else list(center)
        matrix = F_t.inverse_affine_matrix(center_p, angle, list(translate), scale, shear)
        return F_pil.affine(img, matrix, mode, fill)
    center_f = [0.0, 0.0] if center is None else [(ci - s * 0.5) for ci, s in zip(center, [w, h])]
    matrix = F_t.inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    return _apply(img, lambda t: F_t.affine(t, matrix, mode, _tensor_fill(fill, c)), lambda p: p)


def _get_perspective_coeffs(startpoints: list[list[int]], endpoints: list[list[int]]) -> list[float]:
    """The 8 coefficients mapping each output (end) point back to its input (start) point."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(
            f"Please provide exactly four corners, got {len(startpoints)} startpoints and {len(endpoints)} endpoints."
        )
    a = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b = np.asarray(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a, b, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def perspective(
    img: Any,
    startpoints: list[list[int]],
    endpoints: list[list[int]],
    interpolation: InterpolationMode = InterpolationMode.BILINEAR,
    fill: list[float] | None = None,
) -> Any:
    """Warp so that the four ``startpoints`` corners land on ``endpoints``."""
    mode = _mode(interpolation)
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    c = get_dimensions(img)[0]
    return _apply(
        img,
        lambda t: F_t.perspective(t, coeffs, mode, _tensor_fill(fill, c)),
        lambda p: F_pil.perspective(p, coeffs, mode, fill),
    )


def gaussian_blur(img: Any, kernel_size: int | list[int], sigma: float | list[float] | None = None) -> Any:
    """Blur with a separable Gaussian (reflect padding); sigma defaults to ``0.3 * ((k - 1) * 0.5 - 1) + 0.8``."""
    if not isinstance(kernel_size, int | list | tuple):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got {type(kernel_size)}")
    ks = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    if len(ks) == 1:
        ks = [ks[0], ks[0]]
    if len(ks) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got {len(ks)}")
    for k in ks:
        if k % 2 == 0 or k < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got {ks}")
    if sigma is None:
        sg = [k * 0.15 + 0.35 for k in ks]
    elif isinstance(sigma, int | float):
        sg = [float(sigma), float(sigma)]
    else:
        sg = [float(s) for s in sigma]
        if len(sg) == 1:
            sg = [sg[0], sg[0]]
    if len(sg) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sg)}")
    for s in sg:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sg}")
    if is_pil_image(img):  # torchvision blurs PIL images through the tensor kernel too
        out = F_t.gaussian_blur(pil_to_tensor(img), ks, sg)
        return to_pil_image(out, mode=img.mode)
    return _apply(img, lambda t: F_t.gaussian_blur(t, ks, sg), lambda p: p)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v: Tensor, inplace: bool = False) -> Tensor:
    """Set the ``h x w`` window at (``i``, ``j``) of a tensor image to ``v``."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    return F_t.erase(img, i, j, h, w, v, inplace)
