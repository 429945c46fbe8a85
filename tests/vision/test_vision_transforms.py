"""ember.vision.transforms: deterministic ops against torch (interpolate, conv2d), Pillow and NumPy
derivations of torchvision's documented behaviour; random ones for parameter ranges and manual_seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F
from ember.vision.transforms._presets import ImageClassification

Image = pytest.importorskip("PIL.Image", reason="Pillow (the vision extra) is not installed")
IM = F.InterpolationMode


def _rgb(h=12, w=10, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _chw(arr: np.ndarray) -> ember.Tensor:
    return ember.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _np(x) -> np.ndarray:
    if isinstance(x, ember.Tensor):
        return x.numpy()
    return np.asarray(x)


# ---------------------------------------------------------------- resize


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest", "nearest-exact"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(7, 5), (20, 23), 6])
def test_resize_float_tensor_matches_torch_interpolate(mode, antialias, size):
    x = np.random.default_rng(0).random((2, 3, 12, 10)).astype(np.float32)
    out = F.resize(ember.from_numpy(x), size, IM(mode), antialias=antialias)
    osize = (7, 6) if size == 6 else size  # smaller edge 10 -> 6, long edge int(6 * 12 / 10) = 7
    kw = {"antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=osize, mode=mode, **kw)
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype == ember.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=3e-5)


def test_resize_uint8_tensor_rounds_like_torchvision():
    x = np.random.default_rng(1).integers(0, 256, (3, 12, 10), dtype=np.uint8)
    out = F.resize(ember.from_numpy(x), [20, 15], antialias=False)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None].float(), size=(20, 15), mode="bilinear")
    assert out.dtype == ember.uint8
    diff = np.abs(out.numpy().astype(int) - ref[0].round().clamp(0, 255).numpy().astype(int))
    assert diff.max() <= 1 and (diff != 0).mean() < 0.05  # float32 sums of exact halves may round apart


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest", "lanczos", "box", "hamming"])
def test_resize_pil_is_pillow_resize(mode):
    img = Image.fromarray(_rgb(13, 9))
    out = T.Resize(6, interpolation=IM(mode))(img)
    codes = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}
    ref = img.resize((6, 8), codes[mode])  # smaller edge 9 -> 6, long edge int(6 * 13 / 9) = 8
    assert out.size == (6, 8)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_resize_max_size_and_errors():
    x = ember.zeros(3, 10, 40)
    assert tuple(F.resize(x, 8, max_size=20).shape) == (3, 5, 20)
    with pytest.raises(ValueError, match="must be strictly greater"):
        F.resize(x, 8, max_size=8)
    with pytest.raises(ValueError, match="max_size should only be passed"):
        F.resize(x, [8, 8], max_size=20)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(ValueError, match="unsupported with Tensor input"):
        F.resize(x, 8, IM.LANCZOS)
    with pytest.raises(TypeError, match="img should be PIL Image or Tensor"):
        F.resize([1, 2], 8)
    assert F.resize(x, [10, 40]) is x
    assert repr(T.Resize(5)) == "Resize(size=5, interpolation=bilinear, max_size=None, antialias=True)"


# ---------------------------------------------------------------- crops, pads, flips


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_tensor_pil_array_match_numpy(mode):
    arr = _rgb(5, 6)
    pad = [1, 2, 3, 0]  # left, top, right, bottom
    widths = ((2, 0), (1, 3), (0, 0))
    kw = {"constant_values": 7} if mode == "constant" else {}
    ref = np.pad(arr, widths, mode=mode, **kw)
    np.testing.assert_array_equal(_np(F.pad(_chw(arr), pad, 7, mode)).transpose(1, 2, 0), ref)
    np.testing.assert_array_equal(np.asarray(F.pad(Image.fromarray(arr), pad, 7, mode)), ref)
    np.testing.assert_array_equal(F.pad(arr, pad, 7, mode), ref)
    np.testing.assert_array_equal(
        np.asarray(T.Pad((1, 2), fill=(1, 2, 3))(Image.fromarray(arr)))[0, 0], [1, 2, 3]
    )
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4"):
        T.Pad((1, 2, 3))


def test_center_five_ten_crop():
    arr = _rgb(9, 8)
    t, p = _chw(arr), Image.fromarray(arr)
    np.testing.assert_array_equal(_np(F.center_crop(t, 4)), arr[2:6, 2:6].transpose(2, 0, 1))
    np.testing.assert_array_equal(np.asarray(F.center_crop(p, [5, 3])), arr[2:7, 2:5])
    big = _np(F.center_crop(t, [11, 10]))  # pads with zeros around the image
    assert (
        big.shape == (3, 11, 10)
        and big[:, 0].sum() == 0
        and np.array_equal(big[:, 1:10, 1:9], arr.transpose(2, 0, 1))
    )
    crops = T.FiveCrop(4)(p)
    refs = [arr[:4, :4], arr[:4, 4:], arr[5:, :4], arr[5:, 4:], arr[2:6, 2:6]]
    for c, r in zip(crops, refs):
        np.testing.assert_array_equal(np.asarray(c), r)
    ten = T.TenCrop(4, vertical_flip=True)(t)
    assert len(ten) == 10
    np.testing.assert_array_equal(_np(ten[5]), arr[::-1][:4, :4].transpose(2, 0, 1))
    with pytest.raises(ValueError, match="bigger than input size"):
        F.five_crop(t, 10)


def test_flips_on_all_image_kinds():
    arr = _rgb()
    np.testing.assert_array_equal(np.asarray(F.hflip(Image.fromarray(arr))), arr[:, ::-1])
    np.testing.assert_array_equal(np.asarray(F.vflip(Image.fromarray(arr))), arr[::-1])
    np.testing.assert_array_equal(_np(F.hflip(_chw(arr))), arr[:, ::-1].transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(arr), arr[::-1])


# ---------------------------------------------------------------- colour


def test_grayscale_tensor_formula_and_pil():
    arr = _rgb()
    g = _np(F.rgb_to_grayscale(_chw(arr)))
    ref = (0.2989 * arr[..., 0] + 0.587 * arr[..., 1] + 0.114 * arr[..., 2]).astype(np.uint8)  # truncates
    np.testing.assert_array_equal(g[0], ref)
    g3 = _np(T.Grayscale(3)(_chw(arr)))
    assert g3.shape == (3, 12, 10) and (g3 == ref).all()
    pil = np.asarray(T.Grayscale()(Image.fromarray(arr)))
    assert np.abs(pil.astype(int) - ref).max() <= 1
    x = arr.transpose(2, 0, 1).astype(np.float32) / 255
    np.testing.assert_allclose(
        _np(F.rgb_to_grayscale(ember.from_numpy(x)))[0],
        0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "fn,factor",
    [(F.adjust_brightness, 1.4), (F.adjust_contrast, 0.6), (F.adjust_saturation, 1.7), (F.adjust_sharpness, 2.0),
     (F.adjust_gamma, 0.7)],
)  # fmt: skip
def test_color_ops_tensor_agree_with_pillow(fn, factor):
    arr = _rgb(16, 16, seed=3)
    t = _np(fn(_chw(arr), factor)).transpose(1, 2, 0).astype(int)
    p = np.asarray(fn(Image.fromarray(arr), factor)).astype(int)
    assert np.abs(t - p).max() <= 1


@pytest.mark.parametrize("hue", [0.2, -0.45, 0.5])
def test_adjust_hue_matches_colorsys(hue):
    import colorsys

    x = np.random.default_rng(3).random((3, 4, 5)).astype(np.float32)
    out = F.adjust_hue(ember.from_numpy(x), hue).numpy()
    ref = np.empty_like(x)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
            ref[:, i, j] = colorsys.hsv_to_rgb((h + hue) % 1.0, s, v)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    arr = _rgb(16, 16, seed=3)  # uint8 tensor and PIL (which quantises HSV to bytes) stay close
    t = _np(F.adjust_hue(_chw(arr), hue)).transpose(1, 2, 0).astype(int)
    p = np.asarray(F.adjust_hue(Image.fromarray(arr), hue)).astype(int)
    assert np.abs(t - p).mean() < 2.0


def test_brightness_contrast_saturation_formulas():
    x = np.random.default_rng(4).random((3, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(
        _np(F.adjust_brightness(ember.from_numpy(x), 1.5)), np.clip(1.5 * x, 0, 1), rtol=1e-6
    )
    gray = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(
        _np(F.adjust_contrast(ember.from_numpy(x), 0.5)),
        np.clip(0.5 * x + 0.5 * gray.mean(), 0, 1),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        _np(F.adjust_saturation(ember.from_numpy(x), 0.0)),
        np.broadcast_to(gray, x.shape),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(ember.from_numpy(x), 0.7)
    with pytest.raises(ValueError, match="brightness_factor .* is not non-negative"):
        F.adjust_brightness(ember.from_numpy(x), -1)


@pytest.mark.parametrize(
    "fn,args",
    [(F.posterize, (3,)), (F.solarize, (100,)), (F.invert, ()), (F.autocontrast, ()), (F.equalize, ())],
)
def test_uint8_ops_tensor_equal_pillow(fn, args):
    arr = (_rgb(16, 16, seed=5) // 2 + 20).astype(np.uint8)  # not the full range: autocontrast/equalize act
    t = _np(fn(_chw(arr), *args)).transpose(1, 2, 0).astype(int)
    p = np.asarray(fn(Image.fromarray(arr), *args)).astype(int)
    assert np.abs(t - p).max() <= (1 if fn is F.autocontrast else 0)  # float32 vs PIL's float64 LUT


# ---------------------------------------------------------------- geometry


def test_rotate_and_affine_exact_cases():
    arr = _rgb(8, 8, seed=6)
    t = _chw(arr)
    np.testing.assert_array_equal(_np(F.rotate(t, 90)), np.rot90(arr).transpose(2, 0, 1))  # counter-clockwise
    np.testing.assert_array_equal(np.asarray(F.rotate(Image.fromarray(arr), 90)), np.rot90(arr))
    tall = _rgb(6, 10, seed=7)  # even sizes: torchvision's expand adds a row/column for odd ones
    out = _np(F.rotate(_chw(tall), -90, expand=True))
    np.testing.assert_array_equal(out, np.rot90(tall, -1).transpose(2, 0, 1))
    shifted = np.zeros_like(arr)
    shifted[1:, 2:] = arr[:-1, :-2]
    np.testing.assert_array_equal(_np(F.affine(t, 0.0, [2, 1], 1.0, 0.0)), shifted.transpose(2, 0, 1))
    np.testing.assert_array_equal(np.asarray(F.affine(Image.fromarray(arr), 0.0, [2, 1], 1.0, 0.0)), shifted)
    filled = _np(F.affine(t, 0.0, [2, 1], 1.0, 0.0, fill=[9.0, 8.0, 7.0]))
    assert (filled[:, 0, :] == np.array([9, 8, 7])[:, None]).all()
    with pytest.raises(ValueError, match="scale should be positive"):
        F.affine(t, 0.0, [0, 0], 0.0, 0.0)


@pytest.mark.parametrize("angle,shear,scale", [(30.0, [0.0, 0.0], 1.0), (-17.0, [10.0, -5.0], 0.8)])
def test_affine_tensor_agrees_with_pillow(angle, shear, scale):
    arr = _rgb(20, 20, seed=8)
    t = _np(F.affine(_chw(arr), angle, [1, -2], scale, shear)).transpose(1, 2, 0)
    p = np.asarray(F.affine(Image.fromarray(arr), angle, [1, -2], scale, shear))
    assert (t == p).all(axis=-1).mean() > 0.97  # nearest: sub-pixel ties may round apart


def test_perspective_identity_and_pillow_agreement():
    arr = _rgb(16, 16, seed=9)
    corners = [[0, 0], [15, 0], [15, 15], [0, 15]]
    x = ember.from_numpy(arr.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_allclose(_np(F.perspective(x, corners, corners)), arr.transpose(2, 0, 1), atol=1e-3)
    end = [[2, 1], [14, 0], [13, 15], [1, 13]]
    t = _np(F.perspective(_chw(arr), corners, end, IM.NEAREST)).transpose(1, 2, 0)
    p = np.asarray(F.perspective(Image.fromarray(arr), corners, end, IM.NEAREST))
    assert (t == p).all(axis=-1).mean() > 0.95


def test_gaussian_blur_matches_torch_conv2d():
    x = np.random.default_rng(10).random((2, 3, 11, 9)).astype(np.float32)
    out = F.gaussian_blur(ember.from_numpy(x), [5, 3], [1.2, 0.7])
    k = lambda n, s: torch.softmax(-0.5 * (torch.linspace(-(n - 1) / 2, (n - 1) / 2, n) / s) ** 2, 0)  # noqa: E731
    kernel = torch.outer(k(3, 0.7), k(5, 1.2)).expand(3, 1, 3, 5)
    padded = torch.nn.functional.pad(torch.from_numpy(x), [2, 2, 1, 1], mode="reflect")
    ref = torch.nn.functional.conv2d(padded, kernel, groups=3)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-6)
    pil = F.gaussian_blur(Image.fromarray(_rgb()), 3)
    assert pil.size == (10, 12)
    with pytest.raises(ValueError, match="odd and positive"):
        F.gaussian_blur(ember.from_numpy(x), 4)
    with pytest.raises(ValueError, match="sigma values should be positive"):
        T.GaussianBlur(3, sigma=(2.0, 1.0))


# ---------------------------------------------------------------- conversions and the preset


def test_to_tensor_pil_to_tensor_to_pil_image():
    arr = _rgb()
    img = Image.fromarray(arr)
    np.testing.assert_allclose(F.to_tensor(img).numpy(), arr.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    assert F.pil_to_tensor(img).dtype == ember.uint8
    back = F.to_pil_image(F.to_tensor(img))
    assert back.mode == "RGB" and np.abs(np.asarray(back).astype(int) - arr).max() <= 1
    gray = F.to_pil_image(ember.from_numpy(arr[..., 0].copy()))
    assert gray.mode == "L"
    with pytest.raises(ValueError, match="pic should not have > 4 channels"):
        F.to_pil_image(ember.zeros(5, 2, 2))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        F.to_tensor([1, 2])
    x = ember.from_numpy(arr.transpose(2, 0, 1).copy())
    f = F.convert_image_dtype(x, ember.float32)
    np.testing.assert_allclose(f.numpy(), arr.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(F.convert_image_dtype(f, ember.uint8).numpy(), arr.transpose(2, 0, 1))


def test_image_classification_preset_matches_pillow_pipeline():
    arr = _rgb(300, 280, seed=11)
    img = Image.fromarray(arr)
    out = ImageClassification(crop_size=224)(img)
    resized = np.asarray(img.resize((256, int(256 * 300 / 280)), Image.BILINEAR)).astype(np.float32) / 255
    top, left = int(round((resized.shape[0] - 224) / 2)), int(round((256 - 224) / 2))
    crop = resized[top : top + 224, left : left + 224].transpose(2, 0, 1)
    mean, std = np.array([0.485, 0.456, 0.406])[:, None, None], np.array([0.229, 0.224, 0.225])[:, None, None]
    assert out.dtype == ember.float32 and tuple(out.shape) == (3, 224, 224)
    np.testing.assert_allclose(out.numpy(), (crop - mean) / std, atol=1e-5)
    tensor_out = ImageClassification(crop_size=224)(F.pil_to_tensor(img))
    assert np.abs(tensor_out.numpy() - out.numpy()).max() < 0.05  # antialiased bilinear on both sides
    assert "crop_size=[224]" in repr(ImageClassification(crop_size=224))


# ---------------------------------------------------------------- random transforms


def _repeat(fn, seed=0):
    ember.manual_seed(seed)
    return fn()


def test_random_resized_crop_params():
    img = ember.zeros(3, 40, 50)
    ember.manual_seed(0)
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= i <= 40 - h and 0 <= j <= 50 - w
        assert 0.2 * 2000 * 0.8 <= h * w <= 0.6 * 2000 * 1.25 and 0.4 <= w / h <= 2.5
    a = _repeat(lambda: [T.RandomResizedCrop.get_params(img, (0.08, 1.0), (0.75, 4 / 3)) for _ in range(5)])
    b = _repeat(lambda: [T.RandomResizedCrop.get_params(img, (0.08, 1.0), (0.75, 4 / 3)) for _ in range(5)])
    assert a == b
    assert T.RandomResizedCrop.get_params(ember.zeros(3, 10, 100), (0.9, 1.0), (1.0, 1.0)) == (0, 45, 10, 10)
    out = T.RandomResizedCrop(16)(Image.fromarray(_rgb(40, 50)))
    assert out.size == (16, 16)


def test_color_jitter_params_and_reproducibility():
    cj = T.ColorJitter(brightness=0.4, contrast=(0.5, 0.9), saturation=0.2, hue=0.1)
    assert cj.brightness == [0.6, 1.4] and cj.contrast == [0.5, 0.9] and cj.hue == [-0.1, 0.1]
    ember.manual_seed(1)
    for _ in range(30):
        idx, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
        assert sorted(idx.tolist()) == [0, 1, 2, 3]
        assert 0.6 <= b <= 1.4 and 0.5 <= c <= 0.9 and 0.8 <= s <= 1.2 and -0.1 <= h <= 0.1
    x = _chw(_rgb(seed=12))
    np.testing.assert_array_equal(_repeat(lambda: cj(x)).numpy(), _repeat(lambda: cj(x)).numpy())
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.6)


def test_random_rotation_affine_perspective_params():
    ember.manual_seed(2)
    for _ in range(30):
        assert -15 <= T.RandomRotation.get_params([-15.0, 15.0]) <= 15
        angle, (tx, ty), scale, (sx, sy) = T.RandomAffine.get_params(
            [-10, 10], [0.1, 0.2], [0.9, 1.1], [-5, 5, -3, 3], [50, 40]
        )
        assert -10 <= angle <= 10 and abs(tx) <= 5 and abs(ty) <= 8 and 0.9 <= scale <= 1.1
        assert -5 <= sx <= 5 and -3 <= sy <= 3
        start, end = T.RandomPerspective.get_params(20, 10, 0.5)
        assert start == [[0, 0], [19, 0], [19, 9], [0, 9]]
        assert 0 <= end[0][0] <= 5 and 14 <= end[1][0] <= 19 and 6 <= end[2][1] <= 9
    x = _chw(_rgb(seed=13))
    for t in (
        T.RandomRotation(30),
        T.RandomAffine(20, (0.1, 0.1), (0.8, 1.2), 10),
        T.RandomPerspective(p=1.0),
    ):
        a, b = _repeat(lambda: t(x)), _repeat(lambda: t(x))
        assert a.dtype == ember.uint8 and tuple(a.shape) == (3, 12, 10)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert t(Image.fromarray(_rgb())).size == (10, 12)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 2))
    with pytest.raises(ValueError, match="must be positive"):
        T.RandomRotation(-3)


def test_random_erasing():
    x = ember.ones(3, 20, 20)
    ember.manual_seed(3)
    for _ in range(20):
        i, j, h, w, v = T.RandomErasing.get_params(x, (0.02, 0.33), (0.3, 3.3), value=[0.0])
        assert 0 <= i <= 20 - h and 0 <= j <= 20 - w and h < 20 and w < 20
    out = _repeat(lambda: T.RandomErasing(p=1.0, value=0.5)(x))
    vals = set(np.unique(out.numpy()).tolist())
    assert vals == {0.5, 1.0} and float(x.sum()) == 1200.0  # not in place
    rnd = _repeat(lambda: T.RandomErasing(p=1.0, value="random")(x), seed=4)
    np.testing.assert_array_equal(
        rnd.numpy(), _repeat(lambda: T.RandomErasing(p=1.0, value="random")(x), seed=4).numpy()
    )
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="single value or 3"):
        T.RandomErasing(p=1.0, value=[1, 2])(x)


def test_random_apply_choice_order_grayscale_crop():
    x = _chw(_rgb(seed=14))
    assert T.RandomApply([T.Grayscale(3)], p=0.0)(x) is x
    np.testing.assert_array_equal(
        T.RandomApply([T.Grayscale(3)], p=1.0)(x).numpy(), F.rgb_to_grayscale(x, 3).numpy()
    )
    assert T.RandomGrayscale(p=1.0)(x).shape == x.shape
    out = T.RandomChoice([T.Lambda(lambda v: 1), T.Lambda(lambda v: 2)], p=[0.0, 1.0])(x)
    assert out == 2
    assert T.RandomOrder([T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 2)])(1) in (3, 4)
    crop = T.RandomCrop(14, pad_if_needed=True)(x)
    assert tuple(crop.shape) == (3, 14, 14)


@pytest.mark.parametrize(
    "t",
    [T.AutoAugment(), T.AutoAugment(T.AutoAugmentPolicy.CIFAR10), T.AutoAugment(T.AutoAugmentPolicy.SVHN),
     T.RandAugment(), T.TrivialAugmentWide()],
)  # fmt: skip
def test_auto_augment_family(t):
    arr = _rgb(20, 24, seed=15)
    x = _chw(arr)
    for seed in range(4):
        a, b = _repeat(lambda: t(x), seed), _repeat(lambda: t(x), seed)
        assert a.dtype == ember.uint8 and tuple(a.shape) == (3, 20, 24)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert _repeat(lambda: t(Image.fromarray(arr)), seed).size == (24, 20)
    if isinstance(t, T.AutoAugment):
        assert len(t.policies) == 25


def test_compose_repr():
    c = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.5], [0.5])])
    assert repr(c).splitlines()[0] == "Compose(" and "CenterCrop(size=(224, 224))" in repr(c)
