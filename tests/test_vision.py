"""ember.vision: IDX datasets (local, download, corrupt), transforms and make_grid vs torch-computed values."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import math
import os
import socket
import threading

import numpy as np
import pytest
import torch

import ember
from ember.vision import datasets, transforms, utils
from ember.vision.datasets import FashionMNIST, read_idx, write_idx


def _write_split(
    folder, n: int = 6, prefix: str = "train", gz: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    os.makedirs(folder, exist_ok=True)
    write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels)
    return images, labels


# ---------------------------------------------------------------- datasets


def test_bundled_subset_is_balanced_fashion_mnist():
    train = FashionMNIST(datasets.bundled_root(), train=True)
    test = FashionMNIST(datasets.bundled_root(), train=False)
    assert len(train) == 2000 and len(test) == 500
    assert train.data.shape == (2000, 28, 28) and train.data.dtype == ember.uint8
    assert train.targets.dtype == ember.int64
    assert np.bincount(train.targets.numpy()).tolist() == [200] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [50] * 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert train.data.numpy().max() == 255 and train.data.numpy().mean() > 50  # real images, not zeros
    size = sum(
        os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(datasets.bundled_root()) for f in fs
    )
    assert size < 1_200_000


def test_getitem_with_totensor_matches_torch(tmp_path):
    images, labels = _write_split(tmp_path / "FashionMNIST" / "raw")
    _write_split(tmp_path / "FashionMNIST" / "raw", prefix="t10k", n=3)
    ds = FashionMNIST(
        tmp_path, train=True, transform=transforms.ToTensor(), target_transform=lambda t: t + 100
    )
    x, y = ds[2]
    ref = torch.from_numpy(images[2]).unsqueeze(0).float().div(255)  # torchvision's ToTensor on a 'L' image
    assert x.shape == (1, 28, 28) and x.dtype == ember.float32
    np.testing.assert_allclose(x.numpy(), ref.numpy(), rtol=0, atol=0)
    assert y == int(labels[2]) + 100
    raw_img, raw_target = FashionMNIST(tmp_path, train=True)[2]
    assert raw_img.dtype == np.uint8 and raw_img.shape == (28, 28) and isinstance(raw_target, int)
    assert len(FashionMNIST(tmp_path, train=False)) == 3


@pytest.mark.parametrize("gz", [True, False])
def test_files_directly_in_root_raw_or_gz(tmp_path, gz):
    images, labels = _write_split(tmp_path, gz=gz)
    ds = datasets.MNIST(tmp_path, train=True)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))


def test_missing_dataset_message(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to download it"):
        FashionMNIST(tmp_path)


def test_corrupt_idx_files(tmp_path):
    _write_split(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) - 100])  # truncated
    with pytest.raises(RuntimeError, match="Corrupt IDX file.*expected 4704 data bytes"):
        FashionMNIST(tmp_path)
    path.write_bytes(b"\x12\x34" + good[2:])  # bad magic
    with pytest.raises(RuntimeError, match="bad magic"):
        FashionMNIST(tmp_path)
    path.write_bytes(good)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(good)  # images where labels belong
    with pytest.raises(RuntimeError, match="Corrupt"):
        FashionMNIST(tmp_path)
    gzpath = tmp_path / "x.gz"
    gzpath.write_bytes(gzip.compress(good)[:50])
    with pytest.raises(RuntimeError, match="Could not read IDX"):
        read_idx(gzpath)


@pytest.fixture
def http_root(tmp_path):
    """A local http.server serving tmp_path/'srv' on 127.0.0.1."""
    srv_dir = tmp_path / "srv"
    srv_dir.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(srv_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield srv_dir, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _served_class(srv_dir, url):
    _write_split(srv_dir, n=5, prefix="train")
    _write_split(srv_dir, n=4, prefix="t10k", seed=1)
    names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    md5 = {n: hashlib.md5((srv_dir / n).read_bytes()).hexdigest() for n in names}

    class Local(FashionMNIST):
        mirrors = [url]
        resources = [(n, md5[n]) for n in names]

    return Local


def test_download_from_local_mirror(tmp_path, http_root):
    srv_dir, url = http_root
    Local = _served_class(srv_dir, url)
    root = tmp_path / "data"
    ds = Local(root, train=False, download=True)
    assert len(ds) == 4
    assert sorted(os.listdir(root / "Local" / "raw")) == sorted(n for n, _ in Local.resources)
    np.testing.assert_array_equal(ds.data.numpy(), read_idx(srv_dir / "t10k-images-idx3-ubyte.gz"))
    assert len(Local(root, train=True, download=True)) == 5  # already there: no second fetch needed


def test_download_bad_checksum(tmp_path, http_root):
    srv_dir, url = http_root
    Local = _served_class(srv_dir, url)
    Local.resources = [(n, "0" * 32) for n, _ in Local.resources]
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        Local(tmp_path / "data", download=True)
    assert not any(f.endswith(".gz") for f in os.listdir(tmp_path / "data" / "Local" / "raw"))


def test_download_offline(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Offline(FashionMNIST):
        mirrors = [f"http://127.0.0.1:{port}/"]

    with pytest.raises(RuntimeError, match=r"(?s)Error downloading train-images-idx3-ubyte.gz.*127\.0\.0\.1"):
        Offline(tmp_path, download=True)


# ---------------------------------------------------------------- transforms


def test_totensor_hwc_and_float_arrays():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = transforms.ToTensor()(rgb)
    ref = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    f = rng.random((4, 4)).astype(np.float32)
    np.testing.assert_array_equal(transforms.ToTensor()(f).numpy(), f[None])  # no rescaling of floats
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        transforms.ToTensor()([1, 2, 3])


def test_normalize_compose_lambda_match_torch():
    rng = np.random.default_rng(1)
    x = rng.random((3, 6, 5)).astype(np.float32)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    t = transforms.Compose([transforms.Normalize(mean, std), transforms.Lambda(lambda v: v * 2)])
    ref = (torch.from_numpy(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1) * 2
    np.testing.assert_allclose(t(ember.from_numpy(x)).numpy(), ref.numpy(), rtol=1e-6)
    xe = ember.from_numpy(x.copy())
    out = transforms.Normalize(mean, std, inplace=True)(xe)
    np.testing.assert_allclose(xe.numpy(), ref.numpy() / 2, rtol=1e-6)
    assert out is xe
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize(0.0, 0.0)(ember.from_numpy(x))
    with pytest.raises(TypeError, match="float tensor"):
        transforms.Normalize(0.0, 1.0)(ember.zeros(1, 2, 2, dtype=ember.uint8))


@pytest.mark.parametrize("size", [(14, 14), (40, 33), (9, 50), 12])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_matches_torch_interpolate(size, antialias):
    rng = np.random.default_rng(2)
    x = rng.random((2, 3, 28, 21)).astype(np.float32)
    out = transforms.Resize(size, antialias=antialias)(ember.from_numpy(x))
    if isinstance(size, int):  # smaller edge (21) -> 12, long edge int(12 * 28 / 21) = 16
        size = (16, 12)
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False, antialias=antialias
    )
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=2e-5)


def test_resize_uint8_image_array():
    img = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    out = transforms.Resize(56)(img)
    assert out.dtype == np.uint8 and out.shape == (56, 56)
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(img)[None, None].float(), size=(56, 56), mode="bilinear"
    )
    assert np.abs(out.astype(int) - ref[0, 0].round().numpy().astype(int)).max() <= 1


def test_flips_and_crops():
    x = ember.from_numpy(np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6))
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    assert transforms.RandomHorizontalFlip(p=0.0)(x) is x
    np.testing.assert_array_equal(transforms.RandomVerticalFlip(p=1.0)(x).numpy(), x.numpy()[:, ::-1])
    np.testing.assert_array_equal(transforms.CenterCrop(3)(x).numpy(), x.numpy()[:, 1:4, 2:5])
    padded = np.pad(x.numpy(), ((0, 0), (2, 2), (2, 2)))
    ember.manual_seed(0)
    crops = [transforms.RandomCrop((5, 6), padding=2)(x).numpy() for _ in range(20)]
    windows = [padded[:, i : i + 5, j : j + 6] for i in range(5) for j in range(5)]
    for c in crops:
        assert c.shape == (2, 5, 6)
        assert any(np.array_equal(c, w) for w in windows)
    assert len({c.tobytes() for c in crops}) > 1  # positions really vary
    ember.manual_seed(0)
    again = [transforms.RandomCrop((5, 6), padding=2)(x).numpy() for _ in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(crops, again))  # reproducible under manual_seed
    img = np.arange(30, dtype=np.uint8).reshape(5, 6)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    with pytest.raises(ValueError, match="larger than input image size"):
        transforms.RandomCrop(9)(x)


# ---------------------------------------------------------------- make_grid / save_image


def _torchvision_make_grid(
    tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0
):
    """torchvision.utils.make_grid's algorithm, on real torch tensors (torchvision is not installed)."""
    if isinstance(tensor, list):
        tensor = torch.stack(tensor, dim=0)
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.size(0) == 1:
            tensor = torch.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = torch.cat((tensor, tensor, tensor), 1)
    if normalize is True:
        tensor = tensor.clone()

        def norm_ip(img, low, high):
            img.clamp_(min=low, max=high)
            img.sub_(low).div_(max(high - low, 1e-5))

        def norm_range(t, value_range):
            if value_range is not None:
                norm_ip(t, value_range[0], value_range[1])
            else:
                norm_ip(t, float(t.min()), float(t.max()))

        if scale_each is True:
            for t in tensor:
                norm_range(t, value_range)
        else:
            norm_range(tensor, value_range)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    grid = tensor.new_full((tensor.size(1), height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(
                2, x * width + padding, width - padding
            ).copy_(tensor[k])
            k = k + 1
    return grid


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((10, 1, 7, 5), {}),
        ((10, 3, 7, 5), {"nrow": 4, "padding": 1, "pad_value": 0.5}),
        ((5, 1, 4, 4), {"normalize": True}),
        ((5, 3, 4, 4), {"normalize": True, "scale_each": True, "nrow": 2}),
        ((6, 1, 4, 4), {"normalize": True, "value_range": (-0.5, 0.5), "padding": 0}),
        ((1, 3, 6, 6), {}),
        ((1, 6, 6), {"normalize": True}),
        ((6, 6), {}),
    ],
)
def test_make_grid_matches_torchvision_algorithm(shape, kwargs):
    x = np.random.default_rng(4).normal(size=shape).astype(np.float32)
    out = utils.make_grid(ember.from_numpy(x), **kwargs)
    ref = _torchvision_make_grid(torch.from_numpy(x), **kwargs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_make_grid_list_input():
    xs = [ember.from_numpy(np.full((1, 3, 3), i, np.float32)) for i in range(3)]
    ref = _torchvision_make_grid([torch.full((1, 3, 3), float(i)) for i in range(3)], nrow=2)
    np.testing.assert_array_equal(utils.make_grid(xs, nrow=2).numpy(), ref.numpy())


def test_save_image_writes_a_valid_png(tmp_path):
    import matplotlib.image as mpimg

    x = np.random.default_rng(5).random((4, 1, 8, 8)).astype(np.float32)
    path = tmp_path / "grid.png"
    utils.save_image(ember.from_numpy(x), path, nrow=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    grid = _torchvision_make_grid(torch.from_numpy(x), nrow=2)
    expected = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    assert img.shape == expected.shape
    np.testing.assert_array_equal(np.round(img * 255).astype(np.uint8), expected)
