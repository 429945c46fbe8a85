"""torchvision.transforms subset: images are uint8 ``H x W (x C)`` arrays (or PIL images) or ``... x H x W`` tensors."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import ember
from ember._tensor import Tensor

__all__ = [
    "Compose", "ToTensor", "PILToTensor", "ConvertImageDtype", "Normalize", "Lambda", "Resize",
    "CenterCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "ToPILImage",
]  # fmt: skip


def _is_image_array(img: Any) -> bool:
    return isinstance(img, np.ndarray) or (hasattr(img, "mode") and hasattr(img, "size"))  # PIL duck type


def _to_hwc(img: Any) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise TypeError(f"img should be an H x W or H x W x C image, got an array of shape {arr.shape}")
    return arr


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """uint8 ``H x W (x C)`` image → float32 ``C x H x W`` tensor in [0, 1]; other dtypes keep their values."""

    def __call__(self, pic: Any) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError("pic should be PIL Image or ndarray. Got <class 'ember.Tensor'>")
        if not _is_image_array(pic):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        arr = _to_hwc(pic)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return ember.from_numpy(chw.astype(np.float32) / np.float32(255))
        return ember.from_numpy(chw.copy())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PILToTensor:
    """Image → uint8 ``C x H x W`` tensor, values unchanged."""

    def __call__(self, pic: Any) -> Tensor:
        return ember.from_numpy(np.ascontiguousarray(_to_hwc(pic).transpose(2, 0, 1)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ConvertImageDtype:
    """Convert a tensor image to ``dtype``, rescaling between integer and float ranges as torchvision does."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def __call__(self, image: Tensor) -> Tensor:
        if image.dtype == self.dtype:
            return image
        if image.is_floating_point():
            if self.dtype.is_floating_point:
                return image.to(self.dtype)
            bound = float(np.iinfo(np.dtype(str(self.dtype).replace("torch.", ""))).max)
            return image.mul(bound + 1.0 - 1e-3).to(self.dtype)
        bound = float(np.iinfo(image.numpy().dtype).max)
        if self.dtype.is_floating_point:
            return image.to(self.dtype).div(bound)
        raise NotImplementedError("integer to integer ConvertImageDtype is not supported")


class Normalize:
    """``(x - mean) / std`` per channel on a float tensor ``(..., C, H, W)``."""

    def __init__(
        self, mean: Sequence[float] | float, std: Sequence[float] | float, inplace: bool = False
    ) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Input tensor should be a torch tensor. Got {type(tensor)}.")
        if not tensor.is_floating_point():
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.dim() < 3:
            raise ValueError(
                f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tuple(tensor.shape)}"
            )
        mean = ember.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device)
        std = ember.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device)
        if bool((std == 0).any()):
            raise ValueError(
                f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero."
            )
        mean = mean.view(-1, 1, 1) if mean.dim() == 1 else mean
        std = std.view(-1, 1, 1) if std.dim() == 1 else std
        if self.inplace:
            return tensor.sub_(mean).div_(std)
        return tensor.sub(mean).div(std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _resize_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) bilinear (triangle) filter matrix, as torch's ``interpolate(mode='bilinear')``.

    With ``antialias`` and downscaling the triangle is widened by the scale (PIL / torch's
    anti-aliased resampling); otherwise it is plain bilinear with half-pixel centres.
    """
    scale = n_in / n_out
    support = scale if (antialias and scale > 1.0) else 1.0
    centers = (np.arange(n_out) + 0.5) * scale
    if support == 1.0 and not antialias:
        src = np.clip(centers - 0.5, 0, None)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = src - lo
        w = np.zeros((n_out, n_in))
        w[np.arange(n_out), lo] += 1.0 - frac
        w[np.arange(n_out), hi] += frac
        return w
    j = np.arange(n_in) + 0.5
    w = np.clip(1.0 - np.abs(j[None, :] - centers[:, None]) / support, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def _output_size(h: int, w: int, size: int | Sequence[int], max_size: int | None) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) or (isinstance(size, Sequence) and len(size) == 1):
        s = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = s, int(s * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return int(size[0]), int(size[1])


def resize(img: Any, size: int | Sequence[int], max_size: int | None = None, antialias: bool = True) -> Any:
    """Bilinear resize of a tensor ``(..., H, W)`` or an image array ``H x W (x C)``; uint8 stays uint8 (rounded)."""
    if isinstance(img, Tensor):
        arr, chw = img.detach().cpu().numpy(), True
    elif _is_image_array(img):
        arr, chw = np.asarray(img), False
    else:
        raise TypeError(f"img should be a Tensor or an image array, got {type(img)}")
    h, w = (arr.shape[-2], arr.shape[-1]) if chw else (arr.shape[0], arr.shape[1])
    oh, ow = _output_size(h, w, size, max_size)
    wh = _resize_weights(h, oh, antialias).astype(np.float32)
    ww = _resize_weights(w, ow, antialias).astype(np.float32)
    x = arr.astype(np.float32)
    if chw:
        out = np.matmul(np.matmul(wh, x), ww.T)
    else:
        out = np.einsum("ih,hwc->iwc", wh, x.reshape(h, w, -1))
        out = np.einsum("iwc,jw->ijc", out, ww).reshape((oh, ow) + arr.shape[2:])
    if arr.dtype == np.uint8:
        out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        out = out.astype(arr.dtype)
    if chw:
        return ember.from_numpy(np.ascontiguousarray(out)).to(img.device)
    return out


class Resize:
    """Resize to ``size`` (an int matches the smaller edge, keeping the aspect ratio), bilinear."""

    def __init__(
        self, size, interpolation: str = "bilinear", max_size: int | None = None, antialias: bool = True
    ):
        if str(interpolation).lower().split(".")[-1] != "bilinear":
            raise NotImplementedError(f"Resize supports bilinear interpolation only, got {interpolation}")
        self.size, self.max_size, self.antialias = size, max_size, antialias

    def __call__(self, img: Any) -> Any:
        return resize(img, self.size, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, interpolation=bilinear, max_size={self.max_size}, antialias={self.antialias})"


def _size_pair(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    return int(size[0]), int(size[1])


def _hw(img: Any) -> tuple[int, int]:
    if isinstance(img, Tensor):
        return int(img.shape[-2]), int(img.shape[-1])
    arr = np.asarray(img)
    return arr.shape[0], arr.shape[1]


def _crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    if isinstance(img, Tensor):
        return img[..., top : top + height, left : left + width]
    return np.asarray(img)[top : top + height, left : left + width]


def _pad(img: Any, padding, fill: float = 0, padding_mode: str = "constant") -> Any:
    if isinstance(padding, numbers.Integral):
        left = top = right = bottom = int(padding)
    elif len(padding) == 2:
        left, top = padding
        right, bottom = padding
    else:
        left, top, right, bottom = padding
    mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric", "constant": "constant"}[
        padding_mode
    ]
    kw = {"constant_values": fill} if mode == "constant" else {}
    if isinstance(img, Tensor):
        arr = img.detach().cpu().numpy()
        widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
        return ember.from_numpy(np.pad(arr, widths, mode=mode, **kw)).to(img.device)
    arr = np.asarray(img)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths, mode=mode, **kw)


class CenterCrop:
    """Crop the centre ``size`` (int or (h, w)); pads with zeros when the image is smaller."""

    def __init__(self, size) -> None:
        self.size = _size_pair(size)

    def __call__(self, img: Any) -> Any:
        th, tw = self.size
        h, w = _hw(img)
        if th > h or tw > w:
            pl, pt = (tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0
            img = _pad(img, [pl, pt, (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0])
            h, w = _hw(img)
        return _crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """Pad by ``padding`` (optional), then crop a random ``size`` window (positions from ember's generator)."""

    def __init__(
        self, size, padding=None, pad_if_needed: bool = False, fill: float = 0, padding_mode: str = "constant"
    ):
        self.size = _size_pair(size)
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = (
            padding,
            pad_if_needed,
            fill,
            padding_mode,
        )

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = _hw(img)
        if self.pad_if_needed and w < tw:
            img = _pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = _pad(img, [0, th - h], self.fill, self.padding_mode)
        h, w = _hw(img)
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        top = int(ember.randint(0, h - th + 1, size=(1,)).item())
        left = int(ember.randint(0, w - tw + 1, size=(1,)).item())
        return _crop(img, top, left, th, tw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


def _flip(img: Any, axis_tensor: int, axis_array: int) -> Any:
    if isinstance(img, Tensor):
        return img.flip(axis_tensor)
    return np.ascontiguousarray(np.flip(np.asarray(img), axis_array))


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return _flip(img, -1, 1) if float(ember.rand(1).item()) < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    def __call__(self, img: Any) -> Any:
        return _flip(img, -2, 0) if float(ember.rand(1).item()) < self.p else img


class ToPILImage:
    """Tensor ``C x H x W`` (float in [0, 1] or uint8) or array → PIL image (needs Pillow)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        try:
            from PIL import Image
        except ImportError as e:  # pragma: no cover - Pillow comes with matplotlib
            raise RuntimeError("ToPILImage needs Pillow (pip install pillow)") from e
        if isinstance(pic, Tensor):
            arr = pic.detach().cpu().numpy()
            arr = arr.transpose(1, 2, 0) if arr.ndim == 3 else arr
            if np.issubdtype(arr.dtype, np.floating):
                arr = (arr * 255).astype(np.uint8)  # torchvision truncates, it does not round
        else:
            arr = np.asarray(pic)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        return Image.fromarray(arr, mode=self.mode) if self.mode else Image.fromarray(arr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode})"
